"""The client-behaviour vectors (proto-spec/vectors/outcomes.json), PROTOCOL.md section 13.

For each request kind and each event that can happen to a request in flight -- a frame
received, the connection lost, the deadline passed -- the outcome the caller sees and
what the client does with the connection (PROTOCOL.md section 12).  The outcomes are
stated here, next to each event; gen_vectors.py --self-test checks every vector against
reference_classifier.py, a second derivation from the rules that shares no code with
this file.

The "calls" part holds the argument checks a client makes before sending anything
(section 12.5): which calls are refused as invalid_argument and what the others send.
"""

from encoder import (CAP_CONDITIONAL_DELETE, CAP_IDENTITY, CAP_OPERATOR, CLIENT_HANDSHAKE, CLIENT_READY,
                     FLAG_EXPECTED_REVISION, FLAG_NAMESPACE, HEALTH_DRAINING, HEALTH_PAUSED, HEALTH_POOL_UP, I64_MAX,
                     PERM_ADMIN, PERM_ANY_NAMESPACE, PERM_READ, PERM_WRITE, STATUS, U64_MAX, client_row,
                     encode_message, frame, msg, stats_entry, str8, u8, u16be, u32be, u64be, us)

FILE_NAME = "outcomes.json"
DESCRIPTION = ("pgstate wire protocol v1: client behaviour. For each request kind and event (a frame "
               "received while the request is in flight, the connection lost, the deadline passed) the "
               "outcome the caller sees and what the client does with the connection; and the argument "
               "checks made before sending. PROTOCOL.md sections 12 and 13.")

CLASSES = {
    "ok": "Done; nothing to return (PING, DELETE, PAUSE or RESUME answered OK, the handshake completed).",
    "identity": "WHOAMI answered WHOAMI_OK: who the server takes the peer to be; \"uid\", \"namespace\" "
                "and \"permissions\" (the known bits only: unknown bits are ignored) are among its fields.",
    "health": "HEALTH answered HEALTH_OK: \"state\" holds its known bits (POOL_UP 0x1, PAUSED 0x2, DRAINING "
              "0x4; reserved bits are ignored) and \"ready\" whether the server is READY (POOL_UP, not PAUSED, "
              "not DRAINING).",
    "stats": "STATS answered STATS_OK: \"entries\" is the number of entries (names a client does not know "
             "included).",
    "clients": "CLIENTS answered CLIENTS_OK: \"rows\" is the number of rows of the page and \"more\" whether "
               "connections with a greater id remain (ask again after the last row's id).",
    "record": "A record: RECORD answering LOAD or UPSERT; \"revision\" is its revision.",
    "not_found": "LOAD answered NOT_FOUND: there is no record.",
    "conflict": "CONFLICT answering UPSERT or a conditional DELETE, with \"expected_revision\" and "
                "\"actual_revision\"; nothing was changed.",
    "invalid_argument": "The caller's arguments break a rule of section 8 (refused before sending, or "
                        "ERROR 102); nothing was executed.",
    "permission_denied": "ERROR 106: the connection's identity may not do this; nothing was executed. Not "
                         "retried: an operator changes the access rules.",
    "unavailable": "Not executed (or a read that can simply be repeated): retry with backoff, on a new "
                   "connection when the connection was dropped.",
    "outcome_unknown": "A write may or may not have been applied: LOAD before deciding.",
    "server_error": "The server reported a fault (5xx, or a status outside every class) answering a "
                    "read; no automatic retry.",
    "protocol_error": "The peers disagree about the protocol (a bug on one side); if the request was a "
                      "write it may or may not have been applied.",
}

CONNECTION = {
    "keep": "The connection stays usable for new requests.",
    "drain": "The client sends no new request on the connection; it keeps reading the answers to the "
             "requests still in flight until the server closes.",
    "drop": "The client closes the connection now; every other request in flight on it fails as section "
            "12.3 says.",
}

# The HELLO_OK every data request of the vectors was sent after.  Small state and frame
# limits (the invariant of section 9 holds) so that over-limit frames need little hex.
HELLO_OK = msg("HELLO_OK", 1, version=1, server_version="pgstated 0.1.0", max_frame_bytes=16 + 4096,
               max_id_bytes=255, max_state_bytes=16, max_in_flight=1024,
               capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY | CAP_OPERATOR)

STATE = b'{"n":8}'

# kind -> (is a write, the request frame in flight)
REQUESTS = {
    "hello": (False, msg("HELLO", 1, versions=[1], client_name="pgstate-test")),
    "ping": (False, msg("PING", 2)),
    "load": (False, msg("LOAD", 3, persistence_id="order-1")),
    "upsert": (True, msg("UPSERT", 4, persistence_id="order-1", expected_revision=7, state_hex=STATE.hex())),
    "delete": (True, msg("DELETE", 5, persistence_id="order-1", expected_revision=None)),
    "conditional_delete": (True, msg("DELETE", 6, flags=FLAG_EXPECTED_REVISION, persistence_id="order-1",
                                     expected_revision=7)),
    "whoami": (False, msg("WHOAMI", 7)),
    # The operators' requests change no record and may simply be repeated: not writes.
    "health": (False, msg("HEALTH", 8)),
    "stats": (False, msg("STATS", 9)),
    "clients": (False, msg("CLIENTS", 10, after_connection=5)),
    "pause": (False, msg("PAUSE", 11, timeout_ms=30000)),
    "resume": (False, msg("RESUME", 12)),
}
DATA_KINDS = ["ping", "load", "upsert", "delete", "conditional_delete", "whoami", "health", "stats", "clients",
              "pause", "resume"]

T = us(2026, 3, 14, 9, 26, 53, 589793)
DEFINED_STATUSES = [100, 101, 102, 103, 104, 105, 106, 200, 201, 202, 300, 500]
# One unassigned code per class, and codes outside every class (handled like 500).
UNASSIGNED_STATUSES = [199, 299, 399, 599, 0, 450, 700, 65535]


# --------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------


def outcome(cls, status=None, **fields):
    o = {"class": cls}
    o.update(fields)
    if status is not None:
        o["status"] = status
    return o


def is_write(kind):
    return REQUESTS[kind][0]


def request_id(kind):
    return REQUESTS[kind][1]["request_id"]


def error_outcome(kind, status):
    """The outcome of ERROR `status` answering a request of `kind`: by class (section 7)."""
    if status == 102:
        return outcome("invalid_argument", status)
    if status == 106:
        return outcome("permission_denied", status)
    if 100 <= status <= 199:
        return outcome("protocol_error", status)
    if 200 <= status <= 299:
        return outcome("unavailable", status)
    if 300 <= status <= 399:
        return outcome("outcome_unknown", status)
    return outcome("outcome_unknown" if is_write(kind) else "server_error", status)


def error_connection(status):
    if status in (100, 103, 104, 105):
        return "drop"
    if status == 202:
        return "drain"
    return "keep"


def lost_after_written(kind, status=None):
    """A request written completely whose connection ended without its answer."""
    return outcome("outcome_unknown" if is_write(kind) else "unavailable", status)


# --------------------------------------------------------------------------
# The vectors
# --------------------------------------------------------------------------


def vector(name, description, kind, event, result, connection):
    return {"name": name, "description": description, "request": kind, "event": event,
            "outcome": result, "connection": connection}


def received(data):
    return {"kind": "response", "hex": bytes(data).hex()}


def response(m):
    return received(encode_message(m))


def responses_by_type(kind):
    """Every response type answering the request, with the fields that fit it."""
    rid = request_id(kind)
    _, req = REQUESTS[kind]
    ok_rec = kind in ("load", "upsert")
    record_rev = 8 if kind == "upsert" else 3
    expected = req.get("expected_revision")
    pe = outcome("protocol_error")
    rows = [
        ("answered_ok", "OK", msg("OK", rid),
         outcome("ok") if kind in ("ping", "delete", "conditional_delete", "pause", "resume") else pe),
        ("answered_record", "RECORD revision %d" % record_rev,
         msg("RECORD", rid, revision=record_rev, updated_at_us=T, state_hex=STATE.hex()),
         outcome("record", revision=record_rev) if ok_rec else pe),
        ("answered_not_found", "NOT_FOUND", msg("NOT_FOUND", rid),
         outcome("not_found") if kind == "load" else pe),
        ("answered_conflict", "CONFLICT(expected %s, actual 9)" % (7 if expected is None else expected),
         msg("CONFLICT", rid, expected_revision=7 if expected is None else expected, actual_revision=9),
         outcome("conflict", expected_revision=7, actual_revision=9)
         if kind in ("upsert", "conditional_delete") else pe),
        ("answered_hello_ok", "HELLO_OK after the handshake", dict(HELLO_OK, request_id=rid), pe),
        ("answered_whoami_ok", "WHOAMI_OK (uid 1001, namespace \"billing\", READ|WRITE)",
         whoami_ok(rid), outcome("identity", uid=1001, namespace="billing", permissions=PERM_READ | PERM_WRITE)
         if kind == "whoami" else pe),
        ("answered_health_ok", "HEALTH_OK (POOL_UP: ready)", health_ok(rid),
         outcome("health", state=HEALTH_POOL_UP, ready=True) if kind == "health" else pe),
        ("answered_stats_ok", "STATS_OK with 3 entries", stats_ok(rid),
         outcome("stats", entries=3) if kind == "stats" else pe),
        ("answered_clients_ok", "CLIENTS_OK with rows 7 and 9 and more 1", clients_ok(rid, 1, [7, 9]),
         outcome("clients", rows=2, more=True) if kind == "clients" else pe),
    ]
    out = []
    for suffix, what, m, result in rows:
        fits = result["class"] != "protocol_error"
        text = "%s answering %s: %s." % (what, kind_label(kind),
                                         "an ordinary outcome" if fits else "not a response type of the request")
        out.append(vector("%s_%s" % (kind, suffix), text, kind, response(m), result,
                          "keep" if fits else "drop"))
    return out


def whoami_ok(rid, **changes):
    m = msg("WHOAMI_OK", rid, uid=1001, gid=1001, pid=4242, user="billing", namespace="billing",
            permissions=PERM_READ | PERM_WRITE, rule="/etc/pgstated/access.conf:2")
    m.update(changes)
    return m


def health_ok(rid, state=HEALTH_POOL_UP, **changes):
    m = msg("HEALTH_OK", rid, state=state, pool_up=8, pool_size=8, clients=3, uptime_ms=93784567)
    m.update(changes)
    return m


STATS = [{"name": "pgstate_paused", "labels": "", "value": 0.0},
         {"name": "pgstate_requests_total", "labels": 'namespace="",op="load",outcome="ok"', "value": 42.0},
         {"name": "pgstate_up", "labels": "", "value": 1.0}]


def stats_ok(rid, entries=STATS):
    return msg("STATS_OK", rid, entries=list(entries))


def clients_row(connection_id, state=CLIENT_READY):
    return {"connection_id": connection_id, "uid": 1001, "pid": 4242, "user": "billing", "namespace": "billing",
            "client_name": "pgstate-test", "state": state, "connected_ms": 1773480413589, "requests": 12,
            "in_flight": 1}


def clients_ok(rid, more, ids, state=CLIENT_READY):
    return msg("CLIENTS_OK", rid, more=more, rows=[clients_row(i, state) for i in ids])


def kind_label(kind):
    return {"ping": "PING", "load": "LOAD", "upsert": "UPSERT (expected 7)", "delete": "an unconditional DELETE",
            "conditional_delete": "a conditional DELETE (expected 7)", "hello": "HELLO", "whoami": "WHOAMI",
            "health": "HEALTH", "stats": "STATS", "clients": "CLIENTS (after 5)", "pause": "PAUSE (30000 ms)",
            "resume": "RESUME"}[kind]


def responses_that_do_not_fit(kind):
    """Response types that may answer the request, with contents that cannot."""
    rid = request_id(kind)
    pe = outcome("protocol_error")
    out = []
    if kind in ("load", "upsert"):
        out.append(vector("%s_record_state_over_limit" % kind,
                          "RECORD answering %s with a 17-byte state, over the announced max_state_bytes 16 "
                          "(the frame is within max_frame_bytes)." % kind_label(kind),
                          kind, response(msg("RECORD", rid, revision=8, updated_at_us=T,
                                             state_hex=bytes(range(17)).hex())), pe, "drop"))
    if kind == "load":
        out.append(vector("load_record_revision_0", "RECORD revision 0 answering LOAD: revisions start at 1.",
                          kind, response(msg("RECORD", rid, revision=0, updated_at_us=T, state_hex="")),
                          pe, "drop"))
        out.append(vector("load_record_revision_2_63",
                          "RECORD revision 2^63 answering LOAD: revisions are at most 2^63-1.",
                          kind, response(msg("RECORD", rid, revision=2**63, updated_at_us=T, state_hex="")),
                          pe, "drop"))
    if kind == "upsert":
        out.append(vector("upsert_record_wrong_revision",
                          "RECORD revision 9 answering UPSERT expecting 7: a successful upsert gives expected + 1.",
                          kind, response(msg("RECORD", rid, revision=9, updated_at_us=T, state_hex=STATE.hex())),
                          pe, "drop"))
    if kind in ("upsert", "conditional_delete"):
        out.append(vector("%s_conflict_other_expected" % kind,
                          "CONFLICT(expected 6, actual 9) answering %s: CONFLICT copies the request's expected "
                          "revision." % kind_label(kind),
                          kind, response(msg("CONFLICT", rid, expected_revision=6, actual_revision=9)), pe, "drop"))
        out.append(vector("%s_conflict_actual_equals_expected" % kind,
                          "CONFLICT(expected 7, actual 7) answering %s: the actual revision is never the "
                          "expected one." % kind_label(kind),
                          kind, response(msg("CONFLICT", rid, expected_revision=7, actual_revision=7)), pe, "drop"))
        out.append(vector("%s_conflict_actual_over_2_63" % kind,
                          "CONFLICT(expected 7, actual 2^64-1) answering %s: revisions are at most 2^63-1."
                          % kind_label(kind),
                          kind, response(msg("CONFLICT", rid, expected_revision=7, actual_revision=U64_MAX)),
                          pe, "drop"))
    if kind == "whoami":
        every = PERM_READ | PERM_WRITE | PERM_ADMIN | PERM_ANY_NAMESPACE
        out.append(vector("whoami_whoami_ok_shared_namespace",
                          "WHOAMI_OK for root in the shared namespace (empty) with every permission: an identity.",
                          kind, response(whoami_ok(rid, uid=0, gid=0, user="root", namespace="", permissions=every,
                                                   rule="")),
                          outcome("identity", uid=0, namespace="", permissions=every), "keep"))
        out.append(vector("whoami_whoami_ok_reserved_permission_bits",
                          "WHOAMI_OK with reserved permission bits 0xf0 next to READ: the unknown bits are ignored.",
                          kind, response(whoami_ok(rid, permissions=0xF0 | PERM_READ)),
                          outcome("identity", uid=1001, namespace="billing", permissions=PERM_READ), "keep"))
        ids = u32be(1001) + u32be(1001) + u32be(4242)
        out.append(vector("whoami_whoami_ok_invalid_utf8_user",
                          "WHOAMI_OK whose user is not valid UTF-8 (ff fe): a malformed frame.",
                          kind, received(frame(0x87, 0, rid, ids + str8(b"\xff\xfe") + str8("billing") + u8(3)
                                               + str8(""))), pe, "drop"))
        out.append(vector("whoami_whoami_ok_truncated",
                          "WHOAMI_OK ending after its namespace (permissions and rule missing): a malformed frame.",
                          kind, received(frame(0x87, 0, rid, ids + str8("billing") + str8("billing"))), pe, "drop"))
    if kind == "health":
        out += health_contents(rid)
    if kind == "stats":
        out += stats_contents(rid)
    if kind == "clients":
        out += clients_contents(rid)
    return out


def health_contents(rid):
    """HEALTH_OK in every state, and of the wrong length."""
    pe = outcome("protocol_error")
    fields = u16be(8) + u16be(8) + u32be(3) + u64be(93784567)  # pool_up, pool_size, clients, uptime_ms
    rows = [
        ("paused_pool_down", "HEALTH_OK PAUSED with 0 of 8 connections up: alive, not ready.",
         response(health_ok(rid, HEALTH_PAUSED, pool_up=0)), outcome("health", state=HEALTH_PAUSED, ready=False),
         "keep"),
        ("pool_down", "HEALTH_OK with no state bit: the pool is down (3 of 8 connections up), not ready.",
         response(health_ok(rid, 0, pool_up=3)), outcome("health", state=0, ready=False), "keep"),
        ("draining", "HEALTH_OK POOL_UP and DRAINING: shutting down, not ready (the connection is kept: only ERROR "
         "202 drains it).", response(health_ok(rid, HEALTH_POOL_UP | HEALTH_DRAINING)),
         outcome("health", state=HEALTH_POOL_UP | HEALTH_DRAINING, ready=False), "keep"),
        ("paused", "HEALTH_OK POOL_UP and PAUSED: not ready.", response(health_ok(rid, HEALTH_POOL_UP | HEALTH_PAUSED)),
         outcome("health", state=HEALTH_POOL_UP | HEALTH_PAUSED, ready=False), "keep"),
        ("reserved_state_bits", "HEALTH_OK with reserved state bits 0xf8 next to POOL_UP: ignored; ready.",
         response(health_ok(rid, 0xF8 | HEALTH_POOL_UP)), outcome("health", state=HEALTH_POOL_UP, ready=True),
         "keep"),
        ("short", "HEALTH_OK of 16 payload bytes (it has exactly 17): a malformed frame.",
         received(frame(0x88, 0, rid, u8(1) + fields[:-1])), pe, "drop"),
        ("trailing_bytes", "HEALTH_OK of 18 payload bytes: a malformed frame.",
         received(frame(0x88, 0, rid, u8(1) + fields + b"\x00")), pe, "drop"),
    ]
    return [vector("health_health_ok_" + n, d, "health", e, r, c) for n, d, e, r, c in rows]


def stats_contents(rid):
    """STATS_OK with no entry, with a name the client does not know, and malformed."""
    pe = outcome("protocol_error")
    rows = [
        ("empty", "STATS_OK with zero entries.", response(stats_ok(rid, [])), outcome("stats", entries=0), "keep"),
        ("unknown_name", "STATS_OK with a metric name no version of this protocol lists: accepted (clients MUST "
         "accept names they do not know).",
         response(stats_ok(rid, [{"name": "pgstate_future_widgets_total", "labels": 'kind="a:b"', "value": 7.0}])),
         outcome("stats", entries=1), "keep"),
        ("truncated_entry", "STATS_OK with count 2 whose second entry has no value: a malformed frame.",
         received(frame(0x89, 0, rid, u16be(2) + stats_entry("pgstate_up", "", 1.0) + str8("pgstate_paused")
                        + str8(""))), pe, "drop"),
        ("bad_metric_name", "STATS_OK whose entry is named \"pgstate up\" (not a metric name): a malformed frame.",
         received(frame(0x89, 0, rid, u16be(1) + stats_entry("pgstate up", "", 1.0))), pe, "drop"),
    ]
    return [vector("stats_stats_ok_" + n, d, "stats", e, r, c) for n, d, e, r, c in rows]


def clients_contents(rid):
    """CLIENTS_OK pages that fit CLIENTS after 5, and pages that cannot."""
    pe = outcome("protocol_error")
    rows = [
        ("last_page", "CLIENTS_OK with row 6 and more 0: the last page.", response(clients_ok(rid, 0, [6])),
         outcome("clients", rows=1, more=False), "keep"),
        ("empty", "CLIENTS_OK with zero rows and more 0: no connection after 5.", response(clients_ok(rid, 0, [])),
         outcome("clients", rows=0, more=False), "keep"),
        ("unknown_state", "CLIENTS_OK whose row is in state 7, which this protocol version does not define: shown "
         "as unknown, not an error.", response(clients_ok(rid, 0, [8], state=7)),
         outcome("clients", rows=1, more=False), "keep"),
        ("handshake_row", "CLIENTS_OK with a row still in the handshake (state 0), more 1.",
         response(clients_ok(rid, 1, [2**63 - 1], state=CLIENT_HANDSHAKE)), outcome("clients", rows=1, more=True),
         "keep"),
        ("more_without_rows", "CLIENTS_OK with more 1 and no row: there is no last id to ask after; a protocol "
         "error.", response(clients_ok(rid, 1, [])), pe, "drop"),
        ("row_not_after", "CLIENTS_OK with row 5 answering CLIENTS after 5: every id must be greater than "
         "after_connection.", response(clients_ok(rid, 0, [5, 6])), pe, "drop"),
        ("rows_descending", "CLIENTS_OK with rows 9 then 7: ids ascend within a page.",
         response(clients_ok(rid, 1, [9, 7])), pe, "drop"),
        ("rows_repeated", "CLIENTS_OK with row 7 twice: ids ascend strictly.", response(clients_ok(rid, 0, [7, 7])),
         pe, "drop"),
        ("more_2", "CLIENTS_OK with more 2 (only 0 and 1 are defined): a malformed frame.",
         received(frame(0x8A, 0, rid, u8(2) + u16be(1) + client_row(**clients_row(7)))), pe, "drop"),
        ("truncated_row", "CLIENTS_OK with count 2 and one row: a malformed frame.",
         received(frame(0x8A, 0, rid, u8(0) + u16be(2) + client_row(**clients_row(7)))), pe, "drop"),
    ]
    return [vector("clients_clients_ok_" + n, d, "clients", e, r, c) for n, d, e, r, c in rows]


def error_responses(kind):
    rid = request_id(kind)
    out = []
    for status in DEFINED_STATUSES + UNASSIGNED_STATUSES:
        defined = status in STATUS
        name = STATUS[status].lower() if defined else "unassigned_%d" % status
        conn = error_connection(status)
        what = "ERROR %d %s" % (status, STATUS[status]) if defined else "ERROR %d (unassigned)" % status
        note = {"drop": "the server closes after it", "drain": "the server is draining: no new request on "
                "this connection", "keep": "the connection stays open"}[conn]
        out.append(vector("%s_error_%s" % (kind, name),
                          "%s answering %s; %s." % (what, kind_label(kind), note),
                          kind, response(msg("ERROR", rid, status=status, message="x")),
                          error_outcome(kind, status), conn))
    return out


def connection_errors(kind):
    """ERROR frames with request id 0 while the request is in flight: the connection ends."""
    label = kind_label(kind)
    cases = [  # name, description, status, message, outcome
        ("final_shutting_down",
         "The server's final ERROR 202 SHUTTING_DOWN with request id 0 while %s is unanswered: it was "
         "not executed (section 10 case 3), writes included." % label,
         202, "server is shutting down", outcome("unavailable", 202)),
        ("connection_limit",
         "ERROR 201 OVERLOADED with request id 0 while %s is unanswered: the server closes; the request "
         "is left unanswered by a connection that ended." % label,
         201, "too many connections", lost_after_written(kind, 201)),
        ("malformed_frame_no_request",
         "ERROR 100 MALFORMED_FRAME with request id 0 while %s is unanswered: the server found the "
         "client's stream malformed and closes." % label,
         100, "frame length 5 is shorter than the header", outcome("protocol_error", 100)),
        ("frame_too_large_no_request",
         "ERROR 103 FRAME_TOO_LARGE (request id 0) while %s is unanswered: the server closes." % label,
         103, "frame too large", outcome("protocol_error", 103)),
    ]
    return [vector("%s_%s" % (kind, name), description, kind,
                   response(msg("ERROR", 0, status=status, message=message)), result, "drop")
            for name, description, status, message, result in cases]


def bad_frames(kind):
    """Frames the client cannot accept as the answer: a protocol error it detects."""
    rid = request_id(kind)
    pe = outcome("protocol_error")
    return [
        vector("%s_answer_for_other_request_id" % kind,
               "NOT_FOUND for request id %d, which is not in flight, while %s is unanswered."
               % (rid + 100, kind_label(kind)),
               kind, response(msg("NOT_FOUND", rid + 100)), pe, "drop"),
        vector("%s_answer_malformed" % kind,
               "ERROR answering %s with one byte after its message: trailing bytes." % kind_label(kind),
               kind, received(frame(0x86, 0, rid, u16be(200) + u16be(1) + b"x" + b"\x00")), pe, "drop"),
        vector("%s_answer_unknown_type" % kind,
               "A frame of the unknown response type 0x90 for %s's request id." % kind_label(kind),
               kind, received(frame(0x90, 0, rid)), pe, "drop"),
        vector("%s_answer_with_flags" % kind,
               "ERROR answering %s with flags 0x01 (response flags are always 0)." % kind_label(kind),
               kind, received(frame(0x86, 0x01, rid, u16be(200) + u16be(0))), pe, "drop"),
        vector("%s_answer_request_id_zero" % kind,
               "OK with request id 0 (only ERROR may carry id 0) while %s is unanswered." % kind_label(kind),
               kind, received(frame(0x82, 0, 0)), pe, "drop"),
        vector("%s_answer_frame_too_large" % kind,
               "The 4 length bytes of a frame of length 4113, over the announced max_frame_bytes 4112, while "
               "%s is unanswered: rejected before the body arrives." % kind_label(kind),
               kind, received(u32be(16 + 4096 + 1)), pe, "drop"),
    ]


def without_answer(kind):
    w = is_write(kind)
    after = outcome("outcome_unknown" if w else "unavailable")
    return [
        vector("%s_connection_lost_before_written" % kind,
               "The connection ended before %s was written completely: not executed." % kind_label(kind),
               kind, {"kind": "connection_lost", "written": False}, outcome("unavailable"), "drop"),
        vector("%s_connection_lost_after_written" % kind,
               "The connection ended after %s was written, before its answer: %s." % (
                   kind_label(kind), "it may or may not have been applied" if w else "a read can be repeated"),
               kind, {"kind": "connection_lost", "written": True}, after, "drop"),
        vector("%s_timeout_before_written" % kind,
               "The deadline of %s passed before any byte of it was written (waiting for a connection or a "
               "slot): it is withdrawn, not executed." % kind_label(kind),
               kind, {"kind": "timeout", "written": False}, outcome("unavailable"), "keep"),
        vector("%s_timeout_after_written" % kind,
               "The deadline of %s passed after it was written: %s; its late answer is read and discarded." % (
                   kind_label(kind), "it may or may not be applied" if w else "a read can be repeated"),
               kind, {"kind": "timeout", "written": True}, after, "keep"),
    ]


def hello_vectors():
    def hello_ok(**changes):
        m = dict(HELLO_OK, max_frame_bytes=8392704, max_state_bytes=8388608)
        m.update(changes)
        return m

    pe = outcome("protocol_error")
    lost = outcome("unavailable")
    rows = [
        ("hello_answered_hello_ok", "HELLO_OK version 1 with the default limits: the connection is ready.",
         response(hello_ok()), outcome("ok"), "keep"),
        ("hello_answered_hello_ok_reserved_capabilities",
         "HELLO_OK with a reserved capability bit (bit 31) set: ignored.",
         response(hello_ok(capabilities=0x80000001)), outcome("ok"), "keep"),
        ("hello_answered_hello_ok_max_id_bytes_1", "HELLO_OK with max_id_bytes 1, the smallest usable.",
         response(hello_ok(max_id_bytes=1)), outcome("ok"), "keep"),
        ("hello_answered_hello_ok_max_id_bytes_0",
         "HELLO_OK with max_id_bytes 0: no id would fit; a protocol error.",
         response(hello_ok(max_id_bytes=0)), pe, "drop"),
        ("hello_answered_hello_ok_max_id_bytes_256",
         "HELLO_OK with max_id_bytes 256: more than a str8 holds; a protocol error (never clamped).",
         response(hello_ok(max_id_bytes=256)), pe, "drop"),
        ("hello_answered_hello_ok_max_in_flight_0", "HELLO_OK with max_in_flight 0: a protocol error.",
         response(hello_ok(max_in_flight=0)), pe, "drop"),
        ("hello_answered_hello_ok_max_frame_bytes_5",
         "HELLO_OK with max_frame_bytes 5, below the 6-byte header: a protocol error.",
         response(hello_ok(max_frame_bytes=5)), pe, "drop"),
        ("hello_answered_hello_ok_version_2", "HELLO_OK choosing version 2, which was not offered.",
         response(hello_ok(version=2)), pe, "drop"),
        ("hello_answered_hello_ok_other_request_id", "HELLO_OK for request id 2; the HELLO was request 1.",
         response(hello_ok(request_id=2)), pe, "drop"),
        ("hello_answered_ok", "OK answering HELLO.", response(msg("OK", 1)), pe, "drop"),
        ("hello_answered_whoami_ok", "WHOAMI_OK answering HELLO.", response(whoami_ok(1)), pe, "drop"),
        ("hello_answered_health_ok", "HEALTH_OK answering HELLO.", response(health_ok(1)), pe, "drop"),
        ("hello_answered_malformed", "HELLO_OK missing its capabilities field.",
         received(frame(0x81, 0, 1, encode_message(hello_ok())[10:-4])),
         pe, "drop"),
        ("hello_error_unsupported_version",
         "ERROR 104 UNSUPPORTED_VERSION: no common version; the server closes.",
         response(msg("ERROR", 1, status=104, message="server speaks: 1")), outcome("protocol_error", 104),
         "drop"),
        ("hello_error_not_allowed", "ERROR 105 NOT_ALLOWED answering HELLO; the server closes.",
         response(msg("ERROR", 1, status=105, message="HELLO already received")),
         outcome("protocol_error", 105), "drop"),
        ("hello_error_permission_denied",
         "ERROR 106 PERMISSION_DENIED answering HELLO: the access rules grant the peer nothing; the server closes.",
         response(msg("ERROR", 1, status=106, message="uid 1002 is granted nothing")),
         outcome("permission_denied", 106), "drop"),
        ("hello_error_malformed_frame", "ERROR 100 MALFORMED_FRAME answering HELLO; the server closes.",
         response(msg("ERROR", 1, status=100, message="bad HELLO")), outcome("protocol_error", 100), "drop"),
        ("hello_connection_limit",
         "ERROR 201 OVERLOADED with request id 0 instead of HELLO_OK: the connection limit is reached.",
         response(msg("ERROR", 0, status=201, message="too many connections")), outcome("unavailable", 201),
         "drop"),
        ("hello_final_shutting_down",
         "ERROR 202 SHUTTING_DOWN with request id 0 instead of HELLO_OK: the server is stopping.",
         response(msg("ERROR", 0, status=202, message="server is shutting down")),
         outcome("unavailable", 202), "drop"),
        ("hello_connection_lost_before_written", "The connection ended before the HELLO was written.",
         {"kind": "connection_lost", "written": False}, lost, "drop"),
        ("hello_connection_lost_after_written", "The connection ended before HELLO_OK arrived.",
         {"kind": "connection_lost", "written": True}, lost, "drop"),
        ("hello_timeout_before_written", "The deadline passed before the HELLO was written.",
         {"kind": "timeout", "written": False}, lost, "drop"),
        ("hello_timeout_after_written", "The deadline passed before HELLO_OK arrived.",
         {"kind": "timeout", "written": True}, lost, "drop"),
    ]
    return [vector(n, d, "hello", e, r, c) for n, d, e, r, c in rows]


def event_vectors():
    out = hello_vectors()
    for kind in DATA_KINDS:
        out += responses_by_type(kind)
        out += responses_that_do_not_fit(kind)
        out += error_responses(kind)
        out += connection_errors(kind)
        out += bad_frames(kind)
        out += without_answer(kind)
    return out


# --------------------------------------------------------------------------
# Argument checks before sending
# --------------------------------------------------------------------------


def call(name, description, kind, arguments, sends=None, refused=False, **server):
    v = {"name": "call_" + name, "description": description, "request": kind, "arguments": arguments}
    if server:
        v["server"] = server
    if refused:
        v["outcome"] = outcome("invalid_argument")
    else:
        v["sends"] = sends.hex()
    return v


def call_vectors():
    id_255 = "".join(chr(ord("a") + i % 26) for i in range(255))
    name_255 = "n" * 255
    return [
        call("hello_client_name_255_bytes", "A client name of 255 bytes: sent whole.", "hello",
             {"versions": [1], "client_name": name_255},
             encode_message(msg("HELLO", 1, versions=[1], client_name=name_255))),
        call("hello_client_name_256_bytes", "A client name of 256 bytes does not fit a str8: refused, never "
             "truncated.", "hello", {"versions": [1], "client_name": name_255 + "n"}, refused=True),
        call("hello_client_name_256_bytes_multibyte", "A client name of 86 three-byte characters (258 bytes): "
             "refused.", "hello", {"versions": [1], "client_name": "订" * 86}, refused=True),
        call("load_id_255_bytes", "An id of 255 bytes with max_id_bytes 255: sent.", "load",
             {"persistence_id": id_255}, encode_message(msg("LOAD", 3, persistence_id=id_255))),
        call("load_id_256_bytes", "An id of 256 bytes: refused, never truncated.", "load",
             {"persistence_id": id_255 + "z"}, refused=True),
        call("load_id_over_announced_max_id_bytes", "An id of 9 bytes when HELLO_OK announced max_id_bytes 8: "
             "refused.", "load", {"persistence_id": "order-123"}, refused=True, max_id_bytes=8),
        call("load_id_at_announced_max_id_bytes", "An id of 8 bytes when HELLO_OK announced max_id_bytes 8: "
             "sent.", "load", {"persistence_id": "order-12"},
             encode_message(msg("LOAD", 3, persistence_id="order-12")), max_id_bytes=8),
        call("load_empty_id", "An empty id: refused.", "load", {"persistence_id": ""}, refused=True),
        call("upsert_id_control_character", "An id holding U+001F: refused.", "upsert",
             {"persistence_id": "a\x1fb", "expected_revision": 0, "state_hex": ""}, refused=True),
        call("upsert_state_over_announced_limit", "A 17-byte state with max_state_bytes 16: refused.", "upsert",
             {"persistence_id": "s", "expected_revision": 0, "state_hex": bytes(range(17)).hex()}, refused=True),
        call("upsert_state_at_announced_limit", "A 16-byte state with max_state_bytes 16: sent.", "upsert",
             {"persistence_id": "s", "expected_revision": 0, "state_hex": bytes(range(16)).hex()},
             encode_message(msg("UPSERT", 4, persistence_id="s", expected_revision=0,
                                state_hex=bytes(range(16)).hex()))),
        call("upsert_expected_revision_2_63_minus_1", "UPSERT expecting 2^63-1: the new revision would not "
             "fit; refused.", "upsert", {"persistence_id": "s", "expected_revision": I64_MAX, "state_hex": ""},
             refused=True),
        call("conditional_delete_expected_revision_2_63", "A conditional DELETE expecting 2^63: refused.",
             "conditional_delete", {"persistence_id": "s", "expected_revision": 2**63}, refused=True),
        call("conditional_delete_with_capability", "A conditional DELETE when HELLO_OK announced "
             "CONDITIONAL_DELETE: sent with flag 0x01.", "conditional_delete",
             {"persistence_id": "order-1", "expected_revision": 7},
             encode_message(REQUESTS["conditional_delete"][1]), capabilities=CAP_CONDITIONAL_DELETE),
        call("conditional_delete_without_capability", "A conditional DELETE when HELLO_OK announced no "
             "CONDITIONAL_DELETE: refused before sending.", "conditional_delete",
             {"persistence_id": "order-1", "expected_revision": 7}, refused=True, capabilities=0),
        call("delete_without_capability", "An unconditional DELETE needs no capability: sent.", "delete",
             {"persistence_id": "order-1"}, encode_message(REQUESTS["delete"][1]), capabilities=0),
        call("whoami_with_identity", "WHOAMI when HELLO_OK announced IDENTITY: sent.", "whoami", {},
             encode_message(REQUESTS["whoami"][1]), capabilities=CAP_IDENTITY),
        call("whoami_without_identity", "WHOAMI when HELLO_OK announced no IDENTITY: refused before sending.",
             "whoami", {}, refused=True, capabilities=CAP_CONDITIONAL_DELETE),
        call("health_with_operator", "HEALTH when HELLO_OK announced OPERATOR alone: sent.", "health", {},
             encode_message(REQUESTS["health"][1]), capabilities=CAP_OPERATOR),
        call("health_without_operator", "HEALTH when HELLO_OK announced CONDITIONAL_DELETE and IDENTITY but not "
             "OPERATOR: refused before sending.", "health", {}, refused=True,
             capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY),
        call("stats_with_operator", "STATS when HELLO_OK announced OPERATOR: sent.", "stats", {},
             encode_message(REQUESTS["stats"][1])),
        call("stats_without_operator", "STATS when HELLO_OK announced no capability: refused before sending.",
             "stats", {}, refused=True, capabilities=0),
        call("clients_first_page", "CLIENTS after 0 (the first page): sent.", "clients", {"after_connection": 0},
             encode_message(dict(REQUESTS["clients"][1], after_connection=0))),
        call("clients_after", "CLIENTS after 5: sent.", "clients", {"after_connection": 5},
             encode_message(REQUESTS["clients"][1])),
        call("clients_after_max", "CLIENTS after 2^63-1: sent.", "clients", {"after_connection": I64_MAX},
             encode_message(dict(REQUESTS["clients"][1], after_connection=I64_MAX))),
        call("clients_after_negative", "CLIENTS after -1: not a u64; refused.", "clients", {"after_connection": -1},
             refused=True),
        call("clients_without_operator", "CLIENTS when HELLO_OK did not announce OPERATOR: refused before sending.",
             "clients", {"after_connection": 0}, refused=True, capabilities=CAP_IDENTITY),
        call("pause_timeout_30000", "PAUSE with a 30000 ms timeout: sent.", "pause", {"timeout_ms": 30000},
             encode_message(REQUESTS["pause"][1])),
        call("pause_no_limit", "PAUSE with timeout 0 (no limit): sent.", "pause", {"timeout_ms": 0},
             encode_message(dict(REQUESTS["pause"][1], timeout_ms=0))),
        call("pause_timeout_max", "PAUSE with timeout 2^32-1 ms, the largest a u32 holds: sent.", "pause",
             {"timeout_ms": 2**32 - 1}, encode_message(dict(REQUESTS["pause"][1], timeout_ms=2**32 - 1))),
        call("pause_timeout_2_32", "PAUSE with timeout 2^32 ms: more than a u32 holds; refused, never clamped.",
             "pause", {"timeout_ms": 2**32}, refused=True),
        call("pause_timeout_negative", "PAUSE with timeout -1: refused.", "pause", {"timeout_ms": -1}, refused=True),
        call("pause_without_operator", "PAUSE when HELLO_OK did not announce OPERATOR: refused before sending.",
             "pause", {"timeout_ms": 30000}, refused=True, capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY),
        call("resume_with_operator", "RESUME when HELLO_OK announced OPERATOR: sent.", "resume", {},
             encode_message(REQUESTS["resume"][1])),
        call("resume_without_operator", "RESUME when HELLO_OK did not announce OPERATOR: refused before sending.",
             "resume", {}, refused=True, capabilities=CAP_CONDITIONAL_DELETE),
        call("load_namespaced", "A LOAD naming the namespace \"billing\": sent with flag 0x02, the namespace "
             "before the id.", "load", {"namespace": "billing", "persistence_id": "order-1"},
             encode_message(namespaced("load", "billing"))),
        call("upsert_namespaced", "An UPSERT naming the namespace \"billing\": sent with flag 0x02.", "upsert",
             {"namespace": "billing", "persistence_id": "order-1", "expected_revision": 7, "state_hex": STATE.hex()},
             encode_message(namespaced("upsert", "billing"))),
        call("delete_namespaced", "An unconditional DELETE naming the namespace \"billing\": sent with flag 0x02.",
             "delete", {"namespace": "billing", "persistence_id": "order-1"},
             encode_message(namespaced("delete", "billing"))),
        call("conditional_delete_namespaced", "A conditional DELETE naming the namespace \"billing\": sent with "
             "flags 0x03.", "conditional_delete",
             {"namespace": "billing", "persistence_id": "order-1", "expected_revision": 7},
             encode_message(namespaced("conditional_delete", "billing"))),
        call("load_namespace_shared", "A LOAD naming the empty namespace (the shared one): sent with flag 0x02 and "
             "an empty namespace, not without the flag.", "load", {"namespace": "", "persistence_id": "order-1"},
             encode_message(namespaced("load", ""))),
        call("load_namespace_63_bytes", "A namespace of 63 bytes (the longest) of letters, digits, '.', '_', "
             "'-': sent.", "load", {"namespace": NAMESPACE_63, "persistence_id": "order-1"},
             encode_message(namespaced("load", NAMESPACE_63))),
        call("load_namespace_64_bytes", "A namespace of 64 bytes: refused.", "load",
             {"namespace": "n" * 64, "persistence_id": "order-1"}, refused=True),
        call("load_namespace_bad_character", "The namespace \"bill/ing\" ('/' is not allowed): refused.", "load",
             {"namespace": "bill/ing", "persistence_id": "order-1"}, refused=True),
        call("upsert_namespace_non_ascii_letter", "The namespace \"büro\" ('ü' is a letter, but not ASCII): "
             "refused.", "upsert",
             {"namespace": "büro", "persistence_id": "order-1", "expected_revision": 7, "state_hex": STATE.hex()},
             refused=True),
        call("delete_namespace_space", "The namespace \"bill ing\" (a space): refused.", "delete",
             {"namespace": "bill ing", "persistence_id": "order-1"}, refused=True),
        call("load_namespace_without_identity", "A LOAD naming a namespace when HELLO_OK announced no IDENTITY: "
             "refused before sending.", "load", {"namespace": "billing", "persistence_id": "order-1"},
             refused=True, capabilities=CAP_CONDITIONAL_DELETE),
        call("delete_namespace_shared_without_identity", "Even the empty namespace needs IDENTITY: refused.",
             "delete", {"namespace": "", "persistence_id": "order-1"}, refused=True, capabilities=0),
        call("conditional_delete_namespaced_without_conditional_delete", "A namespaced conditional DELETE when "
             "HELLO_OK announced IDENTITY but not CONDITIONAL_DELETE: refused.", "conditional_delete",
             {"namespace": "billing", "persistence_id": "order-1", "expected_revision": 7}, refused=True,
             capabilities=CAP_IDENTITY),
        call("load_id_over_announced_max_id_bytes_namespaced", "max_id_bytes bounds the id, not the namespace: "
             "a 9-byte id naming a namespace, max_id_bytes 8: refused.", "load",
             {"namespace": "billing", "persistence_id": "order-123"}, refused=True, max_id_bytes=8),
        call("load_id_at_announced_max_id_bytes_namespaced", "An 8-byte id naming a 7-byte namespace, "
             "max_id_bytes 8: sent (the namespace does not count).", "load",
             {"namespace": "billing", "persistence_id": "order-12"},
             encode_message(dict(namespaced("load", "billing"), persistence_id="order-12")), max_id_bytes=8),
    ]


NAMESPACE_63 = "Tenant_0.9-" + "abcdefghijklmnopqrstuvwxyz" * 2  # 11 + 52 = 63 bytes


def namespaced(kind, namespace):
    """The request of `kind` in flight, naming `namespace` (flag NAMESPACE; the field comes first)."""
    m = REQUESTS[kind][1]
    out = {"type": m["type"], "request_id": m["request_id"], "flags": m["flags"] | FLAG_NAMESPACE,
           "namespace": namespace}
    out.update((k, v) for k, v in m.items() if k not in out)
    return out


def request_vectors():
    """The requests in flight, as codec vectors like those of the other files (so every codec checks
    their bytes), each with its kind and whether it is a write."""
    return [{"name": "in_flight_" + kind,
             "description": "The %s in flight in the outcome vectors of kind \"%s\" (%s)."
                            % (kind_label(kind), kind, "a write" if w else "not a write"),
             "direction": "request", "hex": encode_message(m).hex(), "message": m,
             "request": kind, "write": w}
            for kind, (w, m) in REQUESTS.items()]


def document():
    return {
        "description": DESCRIPTION,
        "classes": CLASSES,
        "connection": CONNECTION,
        "hello_ok": HELLO_OK,
        "vectors": request_vectors(),
        "outcomes": event_vectors(),
        "calls": call_vectors(),
    }
