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

from encoder import (CAP_CONDITIONAL_DELETE, CAP_IDENTITY, CAP_MULTI_KEY, CAP_OPERATOR, CAP_TTL, CLIENT_HANDSHAKE,
                     CLIENT_READY, FLAG_AFTER, FLAG_EXPECTED_REVISION, FLAG_NAMESPACE, FLAG_TTL, HEALTH_DRAINING,
                     HEALTH_PAUSED, HEALTH_POOL_UP, I64_MAX, PERM_ADMIN, PERM_ANY_NAMESPACE, PERM_READ, PERM_WRITE,
                     PRESENCE_ABSENT, PRESENCE_FOUND, PRESENCE_OMITTED, RESULT_CONFLICT, RESULT_DELETED, RESULT_FAILED,
                     RESULT_WRITTEN, STATUS, U64_MAX, client_row, delete_item, encode_message, frame, msg, stats_entry,
                     str8, u8, u16be, u32be, u64be, upsert_item, us)

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
    "records": "BULK_LOAD answered RECORDS: one entry per id, in request order; \"entries\" is their number and "
               "\"omitted\" the number of OMITTED entries (ids the client loads again).",
    "outcomes": "BULK_WRITE answered OUTCOMES: one outcome per item (WRITTEN, DELETED, CONFLICT or FAILED: each "
                "item's own); \"items\" is their number.",
    "committed": "TRANSACT answered OUTCOMES: every item applied, in one transaction; \"items\" is their number.",
    "transaction_conflict": "TRANSACT answered TRANSACT_CONFLICT: nothing was applied; \"conflicts\" is the "
                            "number of items whose expectation failed, each named with its current revision.",
    "page": "LIST answered LIST_OK: one page of ids; \"entries\" is their number and \"more\" whether ids may "
            "follow (ask again with AFTER = the last id).",
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
# limits (the invariant of section 9 holds) so that over-limit frames need little hex, and
# small batch limits (4 items, 32 state bytes per request) so that over-limit batches need few items.
HELLO_OK = msg("HELLO_OK", 1, version=1, server_version="pgstated 0.4.0", max_frame_bytes=16 + 4096,
               max_id_bytes=255, max_state_bytes=16, max_in_flight=1024,
               capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY | CAP_OPERATOR | CAP_MULTI_KEY | CAP_TTL,
               max_batch_items=4, max_batch_bytes=32)
EVERY_CAPABILITY = HELLO_OK["capabilities"]
ALL_BUT_MULTI_KEY = EVERY_CAPABILITY & ~CAP_MULTI_KEY
ALL_BUT_TTL = EVERY_CAPABILITY & ~CAP_TTL

STATE = b'{"n":8}'
# The items of the BULK_WRITE and the TRANSACT in flight: as many as max_batch_items, one of each shape (an
# update, an unconditional delete, a conditional delete, a create with TTL), 14 of the 32 state bytes.
ITEMS = [upsert_item("order-1", 7, STATE.hex()), delete_item("order-2"), delete_item("order-3", 4),
         upsert_item("order-4", 0, STATE.hex(), ttl_seconds=60)]
BULK_IDS = ["order-1", "order-2", "order-3"]

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
    "bulk_load": (False, msg("BULK_LOAD", 13, ids=BULK_IDS)),
    "bulk_write": (True, msg("BULK_WRITE", 14, items=ITEMS)),
    "transact": (True, msg("TRANSACT", 15, items=ITEMS)),
    "list": (False, msg("LIST", 16, flags=FLAG_AFTER, prefix="order-", after="order-1", limit=3)),
}
DATA_KINDS = ["ping", "load", "upsert", "delete", "conditional_delete", "whoami", "health", "stats", "clients",
              "pause", "resume", "bulk_load", "bulk_write", "transact", "list"]
MULTI_KEY_KINDS = ["bulk_load", "bulk_write", "transact", "list"]

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
        ("answered_records", "RECORDS: order-1 FOUND (revision 3), order-2 ABSENT, order-3 FOUND (revision 1)",
         records_ok(rid, [found(3), ABSENT, found(1)]),
         outcome("records", entries=3, omitted=0) if kind == "bulk_load" else pe),
        ("answered_outcomes", "OUTCOMES WRITTEN 8, DELETED, DELETED, WRITTEN 1", outcomes_ok(rid, APPLIED),
         outcome("outcomes", items=4) if kind == "bulk_write"
         else outcome("committed", items=4) if kind == "transact" else pe),
        ("answered_transact_conflict", "TRANSACT_CONFLICT naming items 0 (expected 7, actual 9) and 2 (expected 4, "
         "actual 0)", transact_conflict(rid, [(0, 7, 9), (2, 4, 0)]),
         outcome("transaction_conflict", conflicts=2) if kind == "transact" else pe),
        ("answered_list_ok", "LIST_OK with order-2 and order-3 and more 1",
         list_ok(rid, 1, ["order-2", "order-3"]), outcome("page", entries=2, more=True) if kind == "list" else pe),
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
            "resume": "RESUME", "bulk_load": "BULK_LOAD (order-1, order-2, order-3)",
            "bulk_write": "BULK_WRITE (4 items)", "transact": "TRANSACT (4 items)",
            "list": "LIST (prefix \"order-\", after \"order-1\", limit 3)"}[kind]


# --------------------------------------------------------------------------
# Multi-key answers (PROTOCOL.md 6.24, 6.26, 6.28, 6.30)
# --------------------------------------------------------------------------

ABSENT = {"presence": PRESENCE_ABSENT}
OMITTED = {"presence": PRESENCE_OMITTED}


def found(revision, state=STATE):
    return {"presence": PRESENCE_FOUND, "revision": revision, "updated_at_us": T, "state_hex": state.hex()}


def records_ok(rid, entries):
    return msg("RECORDS", rid, entries=list(entries))


def written(revision):
    return {"result": RESULT_WRITTEN, "revision": revision, "updated_at_us": T}


DELETED = {"result": RESULT_DELETED}


def conflicted(expected, actual):
    return {"result": RESULT_CONFLICT, "expected_revision": expected, "actual_revision": actual}


def failed(status, message="x"):
    return {"result": RESULT_FAILED, "status": status, "message": message}


# The outcomes of ITEMS all applied: each upsert at expected + 1, each delete done.
APPLIED = [written(8), DELETED, DELETED, written(1)]


def outcomes_ok(rid, outcomes):
    return msg("OUTCOMES", rid, outcomes=list(outcomes))


def transact_conflict(rid, conflicts):
    return msg("TRANSACT_CONFLICT", rid, conflicts=[{"index": i, "expected_revision": e, "actual_revision": a}
                                                    for i, e, a in conflicts])


def list_ok(rid, more, ids, revision=1):
    return msg("LIST_OK", rid, more=more, entries=[{"persistence_id": i, "revision": revision, "updated_at_us": T}
                                                   for i in ids])


def replaced(outcomes, index, by):
    out = list(outcomes)
    out[index] = by
    return out


def bulk_load_contents(rid):
    """RECORDS that fit BULK_LOAD of order-1, order-2, order-3, and RECORDS that cannot."""
    pe = outcome("protocol_error")
    rows = [
        ("all_absent", "RECORDS with all three ids ABSENT.", response(records_ok(rid, [ABSENT] * 3)),
         outcome("records", entries=3, omitted=0), "keep"),
        ("omitted_after_first", "RECORDS with order-1 FOUND and the other two OMITTED (they did not fit the frame; "
         "the client loads them again).", response(records_ok(rid, [found(3), OMITTED, OMITTED])),
         outcome("records", entries=3, omitted=2), "keep"),
        ("state_at_limit", "RECORDS whose FOUND entry has a 16-byte state, the announced max_state_bytes.",
         response(records_ok(rid, [found(2, bytes(range(16))), ABSENT, ABSENT])),
         outcome("records", entries=3, omitted=0), "keep"),
        ("count_2", "RECORDS with two entries answering three ids: the count is not the request's.",
         response(records_ok(rid, [found(3), ABSENT])), pe, "drop"),
        ("count_4", "RECORDS with four entries answering three ids.", response(records_ok(rid, [ABSENT] * 4)),
         pe, "drop"),
        ("first_omitted", "RECORDS whose first entry is OMITTED: the first entry always fits.",
         response(records_ok(rid, [OMITTED, found(1), found(1)])), pe, "drop"),
        ("found_revision_0", "RECORDS with a FOUND entry of revision 0: revisions start at 1.",
         response(records_ok(rid, [found(3), found(0), ABSENT])), pe, "drop"),
        ("found_revision_2_63", "RECORDS with a FOUND entry of revision 2^63: revisions are at most 2^63-1.",
         response(records_ok(rid, [found(2**63), ABSENT, ABSENT])), pe, "drop"),
        ("found_state_over_limit", "RECORDS with a FOUND entry whose state has 17 bytes, over the announced "
         "max_state_bytes 16 (the frame is within max_frame_bytes).",
         response(records_ok(rid, [found(3), found(1, bytes(range(17))), ABSENT])), pe, "drop"),
        ("presence_3", "RECORDS with an entry of presence 3: a malformed frame.",
         received(frame(0x8B, 0, rid, u16be(3) + u8(PRESENCE_ABSENT) + u8(3) + u8(PRESENCE_ABSENT))), pe, "drop"),
    ]
    return [vector("bulk_load_records_" + n, d, "bulk_load", e, r, c) for n, d, e, r, c in rows]


def bulk_write_contents(rid):
    """OUTCOMES that fit the four items of the BULK_WRITE in flight, and OUTCOMES that cannot."""
    pe = outcome("protocol_error")
    rows = [
        ("all_four_results", "OUTCOMES WRITTEN 8, DELETED, CONFLICT(expected 4, actual 5), FAILED 102: each "
         "item's own outcome.", response(outcomes_ok(rid, [written(8), DELETED, conflicted(4, 5), failed(102)])),
         outcome("outcomes", items=4), "keep"),
        ("conflicts_and_failures", "OUTCOMES CONFLICT(7, 9), FAILED 300, CONFLICT(4, 0), FAILED 201: still one "
         "outcome per item (FAILED 300 leaves that item's outcome unknown); the request is answered.",
         response(outcomes_ok(rid, [conflicted(7, 9), failed(300), conflicted(4, 0), failed(201)])),
         outcome("outcomes", items=4), "keep"),
        ("create_conflict", "OUTCOMES whose create item (expected 0) is CONFLICT(0, 3): a record exists.",
         response(outcomes_ok(rid, replaced(APPLIED, 3, conflicted(0, 3)))), outcome("outcomes", items=4), "keep"),
        ("count_3", "OUTCOMES with three outcomes answering four items: the count is not the request's.",
         response(outcomes_ok(rid, APPLIED[:3])), pe, "drop"),
        ("count_5", "OUTCOMES with five outcomes answering four items.",
         response(outcomes_ok(rid, APPLIED + [DELETED])), pe, "drop"),
        ("written_wrong_revision", "OUTCOMES WRITTEN 9 for the item expecting 7: an applied upsert gives "
         "expected + 1.", response(outcomes_ok(rid, replaced(APPLIED, 0, written(9)))), pe, "drop"),
        ("written_create_revision_2", "OUTCOMES WRITTEN 2 for the create item (expected 0): a create gives "
         "revision 1.", response(outcomes_ok(rid, replaced(APPLIED, 3, written(2)))), pe, "drop"),
        ("written_for_delete_item", "OUTCOMES WRITTEN for a delete item.",
         response(outcomes_ok(rid, replaced(APPLIED, 1, written(1)))), pe, "drop"),
        ("deleted_for_upsert_item", "OUTCOMES DELETED for an upsert item.",
         response(outcomes_ok(rid, replaced(APPLIED, 0, DELETED))), pe, "drop"),
        ("conflict_unconditional_delete", "OUTCOMES CONFLICT(0, 9) for the unconditional delete item: it has no "
         "expectation to fail.", response(outcomes_ok(rid, replaced(APPLIED, 1, conflicted(0, 9)))), pe, "drop"),
        ("conflict_other_expected", "OUTCOMES CONFLICT(expected 3, actual 5) for the item expecting 4: CONFLICT "
         "copies the item's expected revision.", response(outcomes_ok(rid, replaced(APPLIED, 2, conflicted(3, 5)))),
         pe, "drop"),
        ("conflict_actual_equals_expected", "OUTCOMES CONFLICT(4, 4) for the item expecting 4: the actual revision "
         "is never the expected one.", response(outcomes_ok(rid, replaced(APPLIED, 2, conflicted(4, 4)))),
         pe, "drop"),
        ("conflict_actual_over_2_63", "OUTCOMES CONFLICT(7, 2^64-1): revisions are at most 2^63-1.",
         response(outcomes_ok(rid, replaced(APPLIED, 0, conflicted(7, U64_MAX)))), pe, "drop"),
        ("result_5", "OUTCOMES with an outcome of result 5: a malformed frame.",
         received(frame(0x8C, 0, rid, u16be(4) + u8(RESULT_DELETED) * 3 + u8(5))), pe, "drop"),
    ]
    return [vector("bulk_write_outcomes_" + n, d, "bulk_write", e, r, c) for n, d, e, r, c in rows]


def transact_contents(rid):
    """Answers that fit the four items of the TRANSACT in flight, and answers that cannot."""
    pe = outcome("protocol_error")
    rows = [
        ("outcomes_with_conflict", "OUTCOMES answering TRANSACT with a CONFLICT outcome: a transaction that "
         "applied has only WRITTEN and DELETED outcomes (a failed one answers TRANSACT_CONFLICT).",
         response(outcomes_ok(rid, replaced(APPLIED, 2, conflicted(4, 5)))), pe, "drop"),
        ("outcomes_with_failed", "OUTCOMES answering TRANSACT with a FAILED 500 outcome: never applied in part.",
         response(outcomes_ok(rid, replaced(APPLIED, 1, failed(500)))), pe, "drop"),
        ("outcomes_count_3", "OUTCOMES with three outcomes answering four items.",
         response(outcomes_ok(rid, APPLIED[:3])), pe, "drop"),
        ("outcomes_written_wrong_revision", "OUTCOMES WRITTEN 9 for the item expecting 7.",
         response(outcomes_ok(rid, replaced(APPLIED, 0, written(9)))), pe, "drop"),
        ("outcomes_deleted_for_upsert_item", "OUTCOMES DELETED for the create item.",
         response(outcomes_ok(rid, replaced(APPLIED, 3, DELETED))), pe, "drop"),
        ("transact_conflict_one_item", "TRANSACT_CONFLICT naming only the create item 3 (expected 0, actual 2).",
         response(transact_conflict(rid, [(3, 0, 2)])), outcome("transaction_conflict", conflicts=1), "keep"),
        ("transact_conflict_every_conditional_item", "TRANSACT_CONFLICT naming items 0, 2 and 3: every item with an "
         "expectation.", response(transact_conflict(rid, [(0, 7, 9), (2, 4, 0), (3, 0, 1)])),
         outcome("transaction_conflict", conflicts=3), "keep"),
        ("transact_conflict_count_0", "TRANSACT_CONFLICT with count 0: a transaction that failed names its failed items.",
         response(transact_conflict(rid, [])), pe, "drop"),
        ("transact_conflict_index_out_of_range", "TRANSACT_CONFLICT naming item 4 of a four-item request (indexes 0 to "
         "3).", response(transact_conflict(rid, [(0, 7, 9), (4, 7, 9)])), pe, "drop"),
        ("transact_conflict_not_ascending", "TRANSACT_CONFLICT naming item 2, then item 0: indexes ascend.",
         response(transact_conflict(rid, [(2, 4, 0), (0, 7, 9)])), pe, "drop"),
        ("transact_conflict_repeated_index", "TRANSACT_CONFLICT naming item 0 twice: indexes ascend strictly.",
         response(transact_conflict(rid, [(0, 7, 9), (0, 7, 9)])), pe, "drop"),
        ("transact_conflict_unconditional_delete", "TRANSACT_CONFLICT naming item 1, the unconditional delete: it never "
         "fails.", response(transact_conflict(rid, [(1, 0, 3)])), pe, "drop"),
        ("transact_conflict_other_expected", "TRANSACT_CONFLICT naming item 0 with expected 6: the item expects 7.",
         response(transact_conflict(rid, [(0, 6, 9)])), pe, "drop"),
        ("transact_conflict_actual_equals_expected", "TRANSACT_CONFLICT naming item 0 with actual 7, its expected "
         "revision.", response(transact_conflict(rid, [(0, 7, 7)])), pe, "drop"),
        ("transact_conflict_actual_over_2_63", "TRANSACT_CONFLICT naming item 2 with actual 2^63: revisions are at most "
         "2^63-1.", response(transact_conflict(rid, [(2, 4, 2**63)])), pe, "drop"),
        ("transact_conflict_truncated", "TRANSACT_CONFLICT with count 2 and one entry: a malformed frame.",
         received(frame(0x8D, 0, rid, u16be(2) + u16be(0) + u64be(7) + u64be(9))), pe, "drop"),
    ]
    return [vector("transact_" + n, d, "transact", e, r, c) for n, d, e, r, c in rows]


def list_contents(rid):
    """LIST_OK pages that fit LIST (prefix "order-", after "order-1", limit 3), and pages that cannot."""
    pe = outcome("protocol_error")
    rows = [
        ("last_page", "LIST_OK with order-2 and more 0: the last page.", response(list_ok(rid, 0, ["order-2"])),
         outcome("page", entries=1, more=False), "keep"),
        ("empty", "LIST_OK with no entry and more 0: no id after order-1 starts with \"order-\".",
         response(list_ok(rid, 0, [])), outcome("page", entries=0, more=False), "keep"),
        ("full_page_more", "LIST_OK with three ids (the limit) and more 1; order-10 sorts before order-2 (byte "
         "order, not numeric).", response(list_ok(rid, 1, ["order-10", "order-2", "order-3"])),
         outcome("page", entries=3, more=True), "keep"),
        ("byte_order", "LIST_OK with order-Z, order-a and order-é: ascending bytes of UTF-8 (0x5a, 0x61, "
         "0xc3 0xa9).", response(list_ok(rid, 0, ["order-Z", "order-a", "order-é"])),
         outcome("page", entries=3, more=False), "keep"),
        ("more_than_limit", "LIST_OK with four ids answering limit 3.",
         response(list_ok(rid, 0, ["order-2", "order-3", "order-4", "order-5"])), pe, "drop"),
        ("not_ascending", "LIST_OK with order-3 before order-2: ids ascend.",
         response(list_ok(rid, 0, ["order-3", "order-2"])), pe, "drop"),
        ("repeated", "LIST_OK with order-2 twice: ids ascend strictly.",
         response(list_ok(rid, 0, ["order-2", "order-2"])), pe, "drop"),
        ("not_matching_prefix", "LIST_OK with \"orders\", which does not start with the prefix \"order-\".",
         response(list_ok(rid, 0, ["order-2", "orders"])), pe, "drop"),
        ("cursor_itself", "LIST_OK starting with order-1, the cursor: every id is greater than AFTER.",
         response(list_ok(rid, 0, ["order-1", "order-2"])), pe, "drop"),
        ("before_cursor", "LIST_OK starting with order-0, before the cursor order-1.",
         response(list_ok(rid, 0, ["order-0", "order-2"])), pe, "drop"),
        ("more_without_entries", "LIST_OK with more 1 and no entry: there is no last id to ask after.",
         response(list_ok(rid, 1, [])), pe, "drop"),
        ("revision_0", "LIST_OK whose entry has revision 0: revisions start at 1.",
         response(list_ok(rid, 0, ["order-2"], revision=0)), pe, "drop"),
        ("more_2", "LIST_OK with more 2 (only 0 and 1 are defined): a malformed frame.",
         received(frame(0x8E, 0, rid, u8(2) + u16be(0))), pe, "drop"),
    ]
    return [vector("list_list_ok_" + n, d, "list", e, r, c) for n, d, e, r, c in rows]


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
    if kind == "bulk_load":
        out += bulk_load_contents(rid)
    if kind == "bulk_write":
        out += bulk_write_contents(rid)
    if kind == "transact":
        out += transact_contents(rid)
    if kind == "list":
        out += list_contents(rid)
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

    def hello_ok_without_multi_key(capabilities):
        """A HELLO_OK whose capabilities lack MULTI_KEY: the two batch limits are not part of it."""
        m = hello_ok(capabilities=capabilities)
        del m["max_batch_items"], m["max_batch_bytes"]
        return m

    without_multi_key = encode_message(hello_ok_without_multi_key(ALL_BUT_MULTI_KEY))

    pe = outcome("protocol_error")
    lost = outcome("unavailable")
    rows = [
        ("hello_answered_hello_ok", "HELLO_OK version 1 with the default limits: the connection is ready.",
         response(hello_ok()), outcome("ok"), "keep"),
        ("hello_answered_hello_ok_reserved_capabilities",
         "HELLO_OK with a reserved capability bit (bit 31) set: ignored.",
         response(hello_ok(capabilities=0x80000000 | EVERY_CAPABILITY)), outcome("ok"), "keep"),
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
        ("hello_answered_malformed", "HELLO_OK without MULTI_KEY missing its capabilities field.",
         received(frame(0x81, 0, 1, without_multi_key[10:-4])), pe, "drop"),
        ("hello_answered_hello_ok_without_multi_key",
         "HELLO_OK announcing CONDITIONAL_DELETE, IDENTITY, OPERATOR and TTL but not MULTI_KEY: it ends after the "
         "capabilities; the connection is ready (without multi-key requests).",
         received(without_multi_key), outcome("ok"), "keep"),
        ("hello_answered_hello_ok_multi_key_without_ttl",
         "HELLO_OK announcing MULTI_KEY without TTL, with its two batch limits: ready.",
         response(hello_ok(capabilities=ALL_BUT_TTL)), outcome("ok"), "keep"),
        ("hello_answered_hello_ok_multi_key_missing_batch_limits",
         "HELLO_OK announcing MULTI_KEY that ends after the capabilities (max_batch_items and max_batch_bytes "
         "missing): a malformed frame.",
         received(frame(0x81, 0, 1, encode_message(hello_ok())[10:-8])), pe, "drop"),
        ("hello_answered_hello_ok_batch_limits_without_multi_key",
         "HELLO_OK without MULTI_KEY followed by 8 bytes (batch limits it does not announce): trailing bytes.",
         received(frame(0x81, 0, 1, without_multi_key[10:] + u32be(4) + u32be(32))), pe, "drop"),
        ("hello_answered_hello_ok_max_batch_items_0",
         "HELLO_OK announcing MULTI_KEY with max_batch_items 0: no multi-key request could be sent; a protocol "
         "error (1..65535).", response(hello_ok(max_batch_items=0)), pe, "drop"),
        ("hello_answered_hello_ok_max_batch_items_65536",
         "HELLO_OK with max_batch_items 65536: more than a u16be count holds; a protocol error (never clamped).",
         response(hello_ok(max_batch_items=65536)), pe, "drop"),
        ("hello_answered_hello_ok_max_batch_items_65535",
         "HELLO_OK with max_batch_items 65535, the largest: ready.",
         response(hello_ok(max_batch_items=65535)), outcome("ok"), "keep"),
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
    ] + multi_key_call_vectors()


def sent(kind, namespace=None, **fields):
    """The request of `kind` in flight with `fields` changed (naming `namespace` when given): the frame a call
    sends."""
    m = namespaced(kind, namespace) if namespace is not None else dict(REQUESTS[kind][1])
    m.update(fields)
    return encode_message(m)


def sent_list(prefix, limit, after=None, namespace=None):
    """The LIST a call sends: flag AFTER iff it names a cursor."""
    m = msg("LIST", request_id("list"), flags=(FLAG_AFTER if after is not None else 0)
            | (FLAG_NAMESPACE if namespace is not None else 0))
    if namespace is not None:
        m["namespace"] = namespace
    m["prefix"] = prefix
    if after is not None:
        m["after"] = after
    m["limit"] = limit
    return encode_message(m)


def sent_upsert(persistence_id, expected_revision, state_hex, ttl_seconds, namespace=None):
    """The UPSERT a call with a TTL sends: flag TTL, ttl_seconds before the state."""
    m = msg("UPSERT", request_id("upsert"), flags=FLAG_TTL | (FLAG_NAMESPACE if namespace is not None else 0))
    if namespace is not None:
        m["namespace"] = namespace
    m.update(persistence_id=persistence_id, expected_revision=expected_revision, ttl_seconds=ttl_seconds,
             state_hex=state_hex)
    return encode_message(m)


def multi_key_call_vectors():
    """The multi-key requests and TTL before sending (12.5), against max_batch_items 4 and max_batch_bytes 32."""
    s11 = bytes(range(11)).hex()
    s16 = bytes(range(16)).hex()
    items = lambda *extra: {"items": list(extra)}  # noqa: E731 (the arguments of a call with items)
    up = upsert_item("order-1", 7, STATE.hex())
    vectors = [
        # ---- BULK_LOAD ----
        call("bulk_load", "BULK_LOAD of three ids: sent.", "bulk_load", {"ids": BULK_IDS}, sent("bulk_load")),
        call("bulk_load_repeated_id", "BULK_LOAD naming order-1 twice: allowed, sent.", "bulk_load",
             {"ids": ["order-1", "order-1"]}, sent("bulk_load", ids=["order-1", "order-1"])),
        call("bulk_load_at_max_batch_items", "BULK_LOAD of 4 ids, max_batch_items 4: sent.", "bulk_load",
             {"ids": ["a", "b", "c", "d"]}, sent("bulk_load", ids=["a", "b", "c", "d"])),
        call("bulk_load_over_max_batch_items", "BULK_LOAD of 5 ids, max_batch_items 4: refused.", "bulk_load",
             {"ids": ["a", "b", "c", "d", "e"]}, refused=True),
        call("bulk_load_no_ids", "BULK_LOAD of no id: refused (count 1..max_batch_items).", "bulk_load",
             {"ids": []}, refused=True),
        call("bulk_load_namespaced", "BULK_LOAD naming the namespace \"billing\": sent with flag 0x02.",
             "bulk_load", {"namespace": "billing", "ids": BULK_IDS}, sent("bulk_load", "billing")),
        call("bulk_load_namespace_bad_character", "BULK_LOAD naming the namespace \"bill/ing\": refused.",
             "bulk_load", {"namespace": "bill/ing", "ids": BULK_IDS}, refused=True),
        call("bulk_load_namespaced_without_identity", "BULK_LOAD naming a namespace when HELLO_OK announced "
             "MULTI_KEY but not IDENTITY: refused.", "bulk_load", {"namespace": "billing", "ids": BULK_IDS},
             refused=True, capabilities=CAP_MULTI_KEY),
        call("bulk_load_empty_id", "BULK_LOAD whose second id is empty: the whole call is refused.", "bulk_load",
             {"ids": ["order-1", ""]}, refused=True),
        call("bulk_load_id_control_character", "BULK_LOAD whose id holds U+001F: refused.", "bulk_load",
             {"ids": ["order-1", "a\x1fb"]}, refused=True),
        call("bulk_load_id_over_announced_max_id_bytes", "BULK_LOAD of a 9-byte id with max_id_bytes 8: refused.",
             "bulk_load", {"ids": ["order-12", "order-123"]}, refused=True, max_id_bytes=8),
        call("bulk_load_without_multi_key", "BULK_LOAD when HELLO_OK announced every capability but MULTI_KEY: "
             "refused before sending.", "bulk_load", {"ids": BULK_IDS}, refused=True, capabilities=ALL_BUT_MULTI_KEY),
        call("bulk_load_with_multi_key_alone", "BULK_LOAD when HELLO_OK announced MULTI_KEY alone: sent.",
             "bulk_load", {"ids": BULK_IDS}, sent("bulk_load"), capabilities=CAP_MULTI_KEY),
        # ---- BULK_WRITE ----
        call("bulk_write", "BULK_WRITE of four items (an update, an unconditional and a conditional delete, a "
             "create with TTL): sent.", "bulk_write", {"items": ITEMS}, sent("bulk_write")),
        call("bulk_write_namespaced", "BULK_WRITE naming the namespace \"billing\": sent with flag 0x02.",
             "bulk_write", {"namespace": "billing", "items": ITEMS}, sent("bulk_write", "billing")),
        call("bulk_write_same_id_twice", "BULK_WRITE with two items for order-1: allowed (they apply in item "
             "order), sent.", "bulk_write", items(up, delete_item("order-1", 8)),
             sent("bulk_write", items=[up, delete_item("order-1", 8)])),
        call("bulk_write_without_multi_key", "BULK_WRITE without MULTI_KEY: refused before sending.",
             "bulk_write", {"items": ITEMS}, refused=True, capabilities=ALL_BUT_MULTI_KEY),
        call("bulk_write_ttl_without_ttl_capability", "BULK_WRITE with a TTL item when HELLO_OK announced "
             "MULTI_KEY but not TTL: refused.", "bulk_write", {"items": ITEMS}, refused=True,
             capabilities=ALL_BUT_TTL),
        call("bulk_write_without_ttl_without_ttl_capability", "BULK_WRITE without a TTL item needs no TTL "
             "capability: sent.", "bulk_write", {"items": ITEMS[:3]}, sent("bulk_write", items=ITEMS[:3]),
             capabilities=ALL_BUT_TTL),
        call("bulk_write_no_items", "BULK_WRITE of no item: refused.", "bulk_write", {"items": []}, refused=True),
        call("bulk_write_over_max_batch_items", "BULK_WRITE of 5 items, max_batch_items 4: refused.", "bulk_write",
             {"items": ITEMS + [delete_item("order-5")]}, refused=True),
        call("bulk_write_states_over_max_batch_bytes", "BULK_WRITE of three 11-byte states: 33 bytes, "
             "max_batch_bytes 32 (each within max_state_bytes 16): refused.", "bulk_write",
             items(*[upsert_item("s%d" % i, 0, s11) for i in range(3)]), refused=True),
        call("bulk_write_states_at_max_batch_bytes", "BULK_WRITE of two 16-byte states: 32 bytes, max_batch_bytes "
             "32: sent.", "bulk_write", items(*[upsert_item("s%d" % i, 0, s16) for i in range(2)]),
             sent("bulk_write", items=[upsert_item("s%d" % i, 0, s16) for i in range(2)])),
        call("bulk_write_item_state_over_max_state_bytes", "BULK_WRITE whose item has a 17-byte state, "
             "max_state_bytes 16: the whole call is refused.", "bulk_write",
             items(upsert_item("s", 0, bytes(range(17)).hex())), refused=True),
        call("bulk_write_item_id_control_character", "BULK_WRITE whose item id holds U+007F: refused (the "
             "server would answer that item FAILED 102; the caller fixes the call).", "bulk_write",
             items(up, delete_item("a\x7fb")), refused=True),
        call("bulk_write_item_empty_id", "BULK_WRITE whose delete item has an empty id: refused.", "bulk_write",
             items(delete_item("")), refused=True),
        call("bulk_write_item_ttl_0", "BULK_WRITE whose item carries ttl_seconds 0: refused (1..2^31-1).",
             "bulk_write", items(upsert_item("order-1", 0, "", ttl_seconds=0)), refused=True),
        call("bulk_write_item_ttl_2_31", "BULK_WRITE whose item carries ttl_seconds 2^31: refused.", "bulk_write",
             items(upsert_item("order-1", 0, "", ttl_seconds=2**31)), refused=True),
        call("bulk_write_item_ttl_max", "BULK_WRITE whose item carries ttl_seconds 2^31-1, the largest: sent.",
             "bulk_write", items(upsert_item("order-1", 0, "", ttl_seconds=2**31 - 1)),
             sent("bulk_write", items=[upsert_item("order-1", 0, "", ttl_seconds=2**31 - 1)])),
        call("bulk_write_item_expected_revision_2_63_minus_1", "BULK_WRITE whose upsert item expects 2^63-1: "
             "refused.", "bulk_write", items(upsert_item("order-1", I64_MAX, "")), refused=True),
        call("bulk_write_delete_item_expected_revision_2_63", "BULK_WRITE whose conditional delete item expects "
             "2^63: refused.", "bulk_write", items(delete_item("order-1", 2**63)), refused=True),
        # ---- TRANSACT ----
        call("transact", "TRANSACT of four items: sent.", "transact", {"items": ITEMS}, sent("transact")),
        call("transact_namespaced", "TRANSACT naming the namespace \"billing\": sent with flag 0x02.", "transact",
             {"namespace": "billing", "items": ITEMS}, sent("transact", "billing")),
        call("transact_duplicate_id", "TRANSACT naming order-1 twice (an update and a delete): refused (an id at "
             "most once per transaction).", "transact", items(up, delete_item("order-1")), refused=True),
        call("transact_without_multi_key", "TRANSACT without MULTI_KEY: refused before sending.", "transact",
             {"items": ITEMS}, refused=True, capabilities=ALL_BUT_MULTI_KEY),
        call("transact_ttl_without_ttl_capability", "TRANSACT with a TTL item without the TTL capability: refused.",
             "transact", {"items": ITEMS}, refused=True, capabilities=ALL_BUT_TTL),
        call("transact_no_items", "TRANSACT of no item: refused.", "transact", {"items": []}, refused=True),
        call("transact_over_max_batch_items", "TRANSACT of 5 items, max_batch_items 4: refused.", "transact",
             {"items": ITEMS + [delete_item("order-5")]}, refused=True),
        call("transact_states_over_max_batch_bytes", "TRANSACT of three 11-byte states (33 bytes), "
             "max_batch_bytes 32: refused.", "transact", items(*[upsert_item("s%d" % i, 0, s11) for i in range(3)]),
             refused=True),
        call("transact_item_id_control_character", "TRANSACT whose item id holds a newline: refused.", "transact",
             items(up, delete_item("order\n2")), refused=True),
        call("transact_item_ttl_0", "TRANSACT whose item carries ttl_seconds 0: refused.", "transact",
             items(upsert_item("order-1", 0, "", ttl_seconds=0)), refused=True),
        call("transact_item_ttl_2_31", "TRANSACT whose item carries ttl_seconds 2^31: refused.", "transact",
             items(upsert_item("order-1", 0, "", ttl_seconds=2**31)), refused=True),
        # ---- LIST ----
        call("list_first_page", "LIST of the ids starting with \"order-\", no cursor: sent with flags 0.", "list",
             {"prefix": "order-", "limit": 3}, sent_list("order-", 3)),
        call("list_after", "LIST after \"order-1\": sent with flag 0x01 AFTER.", "list",
             {"prefix": "order-", "after": "order-1", "limit": 3}, sent("list")),
        call("list_empty_prefix", "LIST with an empty prefix (every id): sent.", "list", {"prefix": "", "limit": 3},
             sent_list("", 3)),
        call("list_namespaced", "LIST after \"order-1\" naming the namespace \"billing\": sent with flags "
             "0x03.", "list", {"namespace": "billing", "prefix": "order-", "after": "order-1", "limit": 3},
             sent("list", "billing")),
        call("list_limit_at_max_batch_items", "LIST with limit 4, max_batch_items 4: sent.", "list",
             {"prefix": "order-", "limit": 4}, sent_list("order-", 4)),
        call("list_limit_over_max_batch_items", "LIST with limit 5, max_batch_items 4: refused, never clamped.",
             "list", {"prefix": "order-", "limit": 5}, refused=True),
        call("list_limit_0", "LIST with limit 0: refused.", "list", {"prefix": "order-", "limit": 0}, refused=True),
        call("list_prefix_control_character", "LIST whose prefix holds U+0000: refused.", "list",
             {"prefix": "order\x00", "limit": 3}, refused=True),
        call("list_prefix_at_announced_max_id_bytes", "LIST with an 8-byte prefix, max_id_bytes 8: sent.", "list",
             {"prefix": "order-12", "limit": 3}, sent_list("order-12", 3), max_id_bytes=8),
        call("list_prefix_over_announced_max_id_bytes", "LIST with a 9-byte prefix, max_id_bytes 8: refused.",
             "list", {"prefix": "order-123", "limit": 3}, refused=True, max_id_bytes=8),
        call("list_after_empty", "LIST with an empty cursor (a cursor is a persistence id): refused.", "list",
             {"prefix": "order-", "after": "", "limit": 3}, refused=True),
        call("list_after_control_character", "LIST whose cursor holds U+001F: refused.", "list",
             {"prefix": "order-", "after": "order-\x1f", "limit": 3}, refused=True),
        call("list_after_over_announced_max_id_bytes", "LIST whose cursor has 9 bytes, max_id_bytes 8: refused.",
             "list", {"prefix": "", "after": "order-123", "limit": 3}, refused=True, max_id_bytes=8),
        call("list_namespace_64_bytes", "LIST naming a namespace of 64 bytes: refused.", "list",
             {"namespace": "n" * 64, "prefix": "", "limit": 3}, refused=True),
        call("list_without_multi_key", "LIST without MULTI_KEY: refused before sending.", "list",
             {"prefix": "order-", "limit": 3}, refused=True, capabilities=ALL_BUT_MULTI_KEY),
        # ---- UPSERT with TTL ----
        call("upsert_ttl", "UPSERT with ttl_seconds 60: sent with flag 0x04 TTL, ttl_seconds before the state.",
             "upsert", {"persistence_id": "order-1", "expected_revision": 7, "ttl_seconds": 60,
                        "state_hex": STATE.hex()}, sent_upsert("order-1", 7, STATE.hex(), 60)),
        call("upsert_ttl_namespaced", "UPSERT with a TTL naming the namespace \"billing\": sent with flags 0x06.",
             "upsert", {"namespace": "billing", "persistence_id": "order-1", "expected_revision": 7,
                        "ttl_seconds": 60, "state_hex": STATE.hex()},
             sent_upsert("order-1", 7, STATE.hex(), 60, namespace="billing")),
        call("upsert_ttl_max", "UPSERT with ttl_seconds 2^31-1, the largest: sent.", "upsert",
             {"persistence_id": "order-1", "expected_revision": 7, "ttl_seconds": 2**31 - 1, "state_hex": ""},
             sent_upsert("order-1", 7, "", 2**31 - 1)),
        call("upsert_ttl_0", "UPSERT with ttl_seconds 0: refused (1..2^31-1).", "upsert",
             {"persistence_id": "order-1", "expected_revision": 7, "ttl_seconds": 0, "state_hex": ""}, refused=True),
        call("upsert_ttl_2_31", "UPSERT with ttl_seconds 2^31: refused, never clamped.", "upsert",
             {"persistence_id": "order-1", "expected_revision": 7, "ttl_seconds": 2**31, "state_hex": ""},
             refused=True),
        call("upsert_ttl_negative", "UPSERT with ttl_seconds -1: refused.", "upsert",
             {"persistence_id": "order-1", "expected_revision": 7, "ttl_seconds": -1, "state_hex": ""},
             refused=True),
        call("upsert_ttl_without_ttl_capability", "UPSERT with a TTL when HELLO_OK announced every capability but "
             "TTL: refused before sending.", "upsert",
             {"persistence_id": "order-1", "expected_revision": 7, "ttl_seconds": 60, "state_hex": STATE.hex()},
             refused=True, capabilities=ALL_BUT_TTL),
        call("upsert_without_ttl_without_ttl_capability", "UPSERT without a TTL needs no capability: sent with "
             "flags 0.", "upsert", {"persistence_id": "order-1", "expected_revision": 7, "state_hex": STATE.hex()},
             sent("upsert"), capabilities=0),
    ]
    return vectors


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
