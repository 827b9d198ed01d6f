"""Independent reference classifier of client behaviour (gen_vectors.py --self-test).

Derives, from the rules of PROTOCOL.md section 12, the outcome and the connection
decision of every vector in outcomes.json, and checks the "calls" vectors (argument
checks before sending).  It imports only reference_decoder.py: nothing of encoder.py
or outcome_vectors.py, which state the expected outcomes.
"""

from reference_decoder import Incomplete, ProtoError, ref_decode

REVISION_MAX = 2**63 - 1
CLOSING = {100, 103, 104, 105}  # with a request id; with id 0 every ERROR ends the connection
ALLOWED = {
    "hello": {"HELLO_OK", "ERROR"},
    "ping": {"OK", "ERROR"},
    "load": {"RECORD", "NOT_FOUND", "ERROR"},
    "upsert": {"RECORD", "CONFLICT", "ERROR"},
    "delete": {"OK", "ERROR"},
    "conditional_delete": {"OK", "CONFLICT", "ERROR"},
    "whoami": {"WHOAMI_OK", "ERROR"},
    "health": {"HEALTH_OK", "ERROR"},
    "stats": {"STATS_OK", "ERROR"},
    "clients": {"CLIENTS_OK", "ERROR"},
    "pause": {"OK", "ERROR"},
    "resume": {"OK", "ERROR"},
    "bulk_load": {"RECORDS", "ERROR"},
    "bulk_write": {"OUTCOMES", "ERROR"},
    "transact": {"OUTCOMES", "TRANSACT_CONFLICT", "ERROR"},
    "list": {"LIST_OK", "ERROR"},
}
OPERATOR_KINDS = {"health", "stats", "clients", "pause", "resume"}
MULTI_KEY_KINDS = {"bulk_load", "bulk_write", "transact", "list"}
TTL_MAX = 2**31 - 1
KNOWN_HEALTH = 0x07  # POOL_UP, PAUSED, DRAINING; other bits are ignored
KNOWN_PERMISSIONS = 0x0F  # READ, WRITE, ADMIN, ANY_NAMESPACE; other bits are ignored
NAMESPACE_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _o(cls, status=None, **fields):
    o = {"class": cls}
    o.update(fields)
    if status is not None:
        o["status"] = status
    return o


def _by_status(status, write):
    if status == 102:
        return _o("invalid_argument", status)
    if status == 106:
        return _o("permission_denied", status)
    hundreds = status // 100
    if hundreds == 1:
        return _o("protocol_error", status)
    if hundreds == 2:
        return _o("unavailable", status)
    if hundreds == 3:
        return _o("outcome_unknown", status)
    return _o("outcome_unknown" if write else "server_error", status)  # 5xx and outside every class


def classify(kind, request, write, hello_ok, event):
    """(outcome, connection) for one event happening to `request` (a message dict) in flight."""
    handshake = kind == "hello"
    if event["kind"] in ("connection_lost", "timeout"):
        if handshake:
            return _o("unavailable"), "drop"
        connection = "drop" if event["kind"] == "connection_lost" else "keep"
        if event["written"] and write:
            return _o("outcome_unknown"), connection
        return _o("unavailable"), connection
    assert event["kind"] == "response", event
    limits = {} if handshake else {"max_frame_bytes": hello_ok["max_frame_bytes"],
                                    "max_state_bytes": hello_ok["max_state_bytes"]}
    try:
        m = ref_decode(bytes.fromhex(event["hex"]), "response", limits)
    except ProtoError:
        return _o("protocol_error"), "drop"
    except Incomplete:
        raise AssertionError("a response event must be a whole frame (or an oversized length)")
    if m["type"] == "ERROR" and m["request_id"] == 0:
        status = m["status"]
        if status // 100 == 1:
            return _o("protocol_error", status), "drop"
        if status == 202 or handshake:
            return _o("unavailable", status), "drop"
        # The connection ends; the request was written and is left unanswered.
        return _o("outcome_unknown" if write else "unavailable", status), "drop"
    if m["request_id"] != request["request_id"] or m["type"] not in ALLOWED[kind]:
        return _o("protocol_error"), "drop"
    if m["type"] == "ERROR":
        status = m["status"]
        if handshake:
            return _by_status(status, False), "drop"
        connection = "drop" if status in CLOSING else "drain" if status == 202 else "keep"
        return _by_status(status, write), connection
    if m["type"] == "HELLO_OK":
        usable = (m["version"] in request["versions"] and 1 <= m["max_id_bytes"] <= 255
                  and m["max_in_flight"] >= 1 and m["max_frame_bytes"] >= 6
                  and (not m["capabilities"] & 0x8 or 1 <= m["max_batch_items"] <= 65535))
        return (_o("ok"), "keep") if usable else (_o("protocol_error"), "drop")
    if m["type"] == "OK":
        return _o("ok"), "keep"
    if m["type"] == "NOT_FOUND":
        return _o("not_found"), "keep"
    if m["type"] == "WHOAMI_OK":
        return _o("identity", uid=m["uid"], namespace=m["namespace"],
                  permissions=m["permissions"] & KNOWN_PERMISSIONS), "keep"
    if m["type"] == "HEALTH_OK":
        state = m["state"] & KNOWN_HEALTH
        return _o("health", state=state, ready=state == 0x1), "keep"
    if m["type"] == "STATS_OK":
        return _o("stats", entries=len(m["entries"])), "keep"
    if m["type"] == "CLIENTS_OK":
        ids = [request["after_connection"]] + [row["connection_id"] for row in m["rows"]]
        ascending = all(a < b for a, b in zip(ids, ids[1:]))
        if not ascending or (m["more"] and not m["rows"]):
            return _o("protocol_error"), "drop"
        return _o("clients", rows=len(m["rows"]), more=m["more"] == 1), "keep"
    if m["type"] == "RECORDS":
        return _records(request, hello_ok, m)
    if m["type"] == "OUTCOMES":
        return _outcomes(kind, request, m)
    if m["type"] == "TRANSACT_CONFLICT":
        return _transact_conflict(request, m)
    if m["type"] == "LIST_OK":
        return _list_ok(request, m)
    if m["type"] == "RECORD":
        fits = (1 <= m["revision"] <= REVISION_MAX
                and len(m["state_hex"]) // 2 <= hello_ok["max_state_bytes"]
                and (kind != "upsert" or m["revision"] == request["expected_revision"] + 1))
        return (_o("record", revision=m["revision"]), "keep") if fits else (_o("protocol_error"), "drop")
    assert m["type"] == "CONFLICT", m
    fits = (m["expected_revision"] == request["expected_revision"]
            and m["actual_revision"] != m["expected_revision"] and m["actual_revision"] <= REVISION_MAX)
    if not fits:
        return _o("protocol_error"), "drop"
    return _o("conflict", expected_revision=m["expected_revision"],
              actual_revision=m["actual_revision"]), "keep"


_BROKEN = (_o("protocol_error"), "drop")


def _conflict_fits(expected, conflict):
    """A conflict reported against an item (or request) that expected `expected` (None: no expectation)."""
    return (expected is not None and conflict["expected_revision"] == expected
            and conflict["actual_revision"] != expected and conflict["actual_revision"] <= REVISION_MAX)


def _records(request, hello_ok, m):
    entries = m["entries"]
    if len(entries) != len(request["ids"]) or (entries and entries[0]["presence"] == 2):
        return _BROKEN
    for e in entries:
        if e["presence"] == 1 and not (1 <= e["revision"] <= REVISION_MAX
                                       and len(e["state_hex"]) // 2 <= hello_ok["max_state_bytes"]):
            return _BROKEN
    return _o("records", entries=len(entries), omitted=sum(e["presence"] == 2 for e in entries)), "keep"


def _outcomes(kind, request, m):
    items, outcomes = request["items"], m["outcomes"]
    if len(outcomes) != len(items):
        return _BROKEN
    for it, out in zip(items, outcomes):
        result = out["result"]
        if kind == "transact" and result not in (1, 2):
            return _BROKEN  # a transaction applies entirely or answers TRANSACT_CONFLICT
        if result == 1 and not (it["kind"] == "upsert" and out["revision"] == it["expected_revision"] + 1):
            return _BROKEN
        if result == 2 and it["kind"] != "delete":
            return _BROKEN
        if result == 3 and not _conflict_fits(it["expected_revision"], out):
            return _BROKEN
    return _o("committed" if kind == "transact" else "outcomes", items=len(outcomes)), "keep"


def _transact_conflict(request, m):
    items, conflicts = request["items"], m["conflicts"]
    if not conflicts:
        return _BROKEN
    indexes = [c["index"] for c in conflicts]
    if any(a >= b for a, b in zip(indexes, indexes[1:])) or indexes[-1] >= len(items):
        return _BROKEN
    if not all(_conflict_fits(items[c["index"]]["expected_revision"], c) for c in conflicts):
        return _BROKEN
    return _o("transaction_conflict", conflicts=len(conflicts)), "keep"


def _list_ok(request, m):
    entries = m["entries"]
    ids = [e["persistence_id"].encode("utf-8") for e in entries]
    prefix = request["prefix"].encode("utf-8")
    floor = [request["after"].encode("utf-8")] if "after" in request else []
    ascending = all(a < b for a, b in zip(floor + ids, (floor + ids)[1:]))  # bytes compare byte by byte
    if (len(entries) > request["limit"] or not ascending or not all(i.startswith(prefix) for i in ids)
            or not all(1 <= e["revision"] <= REVISION_MAX for e in entries) or (m["more"] and not entries)):
        return _BROKEN
    return _o("page", entries=len(entries), more=m["more"] == 1), "keep"


def _utf8_len(text):
    return len(text.encode("utf-8"))


def _id_refused(persistence_id, server):
    raw = persistence_id.encode("utf-8")
    return not 1 <= len(raw) <= min(server["max_id_bytes"], 255) or _text_refused(raw)


def _text_refused(raw):
    return any(b < 0x20 or b == 0x7F for b in raw)


def _ttl_refused(arguments, server):
    if "ttl_seconds" not in arguments:
        return False
    return not server["capabilities"] & 0x10 or not 1 <= arguments["ttl_seconds"] <= TTL_MAX


def _item_refused(item, server):
    if _id_refused(item["persistence_id"], server):
        return True
    if item["kind"] == "upsert":
        return (not 0 <= item["expected_revision"] <= REVISION_MAX - 1
                or len(item["state_hex"]) // 2 > server["max_state_bytes"] or _ttl_refused(item, server))
    expected = item["expected_revision"]
    return expected is not None and not 0 <= expected <= REVISION_MAX


def _multi_key_refused(kind, arguments, server):
    """The rules of 6.22 and section 8 for a BULK_LOAD, BULK_WRITE, TRANSACT or LIST call (MULTI_KEY announced)."""
    most = server["max_batch_items"]
    if kind == "bulk_load":
        ids = arguments["ids"]
        return not 1 <= len(ids) <= most or any(_id_refused(i, server) for i in ids)
    if kind == "list":
        prefix = arguments["prefix"].encode("utf-8")
        if len(prefix) > min(server["max_id_bytes"], 255) or _text_refused(prefix):
            return True
        if "after" in arguments and _id_refused(arguments["after"], server):
            return True
        return not 1 <= arguments["limit"] <= most
    items = arguments["items"]
    if not 1 <= len(items) <= most or any(_item_refused(i, server) for i in items):
        return True
    if sum(len(i["state_hex"]) // 2 for i in items if i["kind"] == "upsert") > server["max_batch_bytes"]:
        return True
    ids = [i["persistence_id"].encode("utf-8") for i in items]
    return kind == "transact" and len(set(ids)) != len(ids)


def call_refused(kind, arguments, server):
    """Whether a client must refuse this call before sending (section 12.5)."""
    if kind == "hello":
        return _utf8_len(arguments["client_name"]) > 255 or not 1 <= len(arguments["versions"]) <= 255
    if kind in OPERATOR_KINDS:
        if not server["capabilities"] & 0x4:
            return True
        if kind == "clients":
            return not 0 <= arguments["after_connection"] <= 2**64 - 1
        if kind == "pause":
            return not 0 <= arguments["timeout_ms"] <= 2**32 - 1
        return False
    identity = bool(server["capabilities"] & 0x2)
    if kind == "whoami":
        return not identity
    if "namespace" in arguments:
        namespace = arguments["namespace"]
        if not identity or len(namespace) > 63 or not set(namespace) <= NAMESPACE_CHARACTERS:
            return True
    if kind in MULTI_KEY_KINDS:
        # max_batch_items and max_batch_bytes exist only with MULTI_KEY.
        return not server["capabilities"] & 0x8 or _multi_key_refused(kind, arguments, server)
    if _id_refused(arguments["persistence_id"], server):
        return True
    if kind == "upsert":
        if not 0 <= arguments["expected_revision"] <= REVISION_MAX - 1:
            return True
        if len(arguments["state_hex"]) // 2 > server["max_state_bytes"]:
            return True
        if _ttl_refused(arguments, server):
            return True
    if kind == "conditional_delete":
        if not server["capabilities"] & 0x1:
            return True
        if not 0 <= arguments["expected_revision"] <= REVISION_MAX:
            return True
    return False


def check_call(vector, request, hello_ok):
    """A list of failures (empty when the "calls" vector agrees with the rules)."""
    name = vector["name"]
    kind = vector["request"]
    server = dict(hello_ok)
    server.update(vector.get("server", {}))
    refused = call_refused(kind, vector["arguments"], server)
    if refused != ("outcome" in vector):
        return ["%s: the rules say refused=%s" % (name, refused)]
    if refused:
        return [] if vector["outcome"] == {"class": "invalid_argument"} else [name + ": outcome not invalid_argument"]
    limits = {"max_id_bytes": min(server["max_id_bytes"], 255), "max_state_bytes": server["max_state_bytes"],
              "max_frame_bytes": server["max_frame_bytes"], "max_batch_items": server["max_batch_items"],
              "max_batch_bytes": server["max_batch_bytes"]}
    try:
        m = ref_decode(bytes.fromhex(vector["sends"]), "request", limits)
    except (ProtoError, Incomplete) as e:
        return ["%s: the frame sent does not decode: %r" % (name, e)]
    want = dict(vector["arguments"])
    if kind == "delete":
        want["expected_revision"] = None
    got = {k: m.get(k) for k in want}
    failures = []
    if got != want:
        failures.append("%s: the frame sent holds %r, not the arguments %r" % (name, got, want))
    for key in ("namespace", "after", "ttl_seconds"):
        if key in m and key not in want:
            failures.append("%s: the frame sent holds a %s the call did not name" % (name, key))
    flags = request["flags"] | (0x02 if "namespace" in want else 0)
    if kind == "list":  # AFTER iff the call names a cursor
        flags = (flags & ~0x01) | (0x01 if "after" in want else 0)
    if kind == "upsert" and "ttl_seconds" in want:
        flags |= 0x04
    if m["type"] != request["type"] or m["request_id"] != request["request_id"] or m["flags"] != flags:
        failures.append("%s: the frame sent is not a %s with the request's id and flags" % (name, kind))
    return failures
