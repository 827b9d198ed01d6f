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
}
OPERATOR_KINDS = {"health", "stats", "clients", "pause", "resume"}
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
                  and m["max_in_flight"] >= 1 and m["max_frame_bytes"] >= 6)
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


def _utf8_len(text):
    return len(text.encode("utf-8"))


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
    raw = arguments["persistence_id"].encode("utf-8")
    if not 1 <= len(raw) <= min(server["max_id_bytes"], 255):
        return True
    if any(b < 0x20 or b == 0x7F for b in raw):
        return True
    if kind == "upsert":
        if not 0 <= arguments["expected_revision"] <= REVISION_MAX - 1:
            return True
        if len(arguments["state_hex"]) // 2 > server["max_state_bytes"]:
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
              "max_frame_bytes": server["max_frame_bytes"]}
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
    if "namespace" in m and "namespace" not in want:
        failures.append("%s: the frame sent names a namespace the call did not" % name)
    flags = request["flags"] | (0x02 if "namespace" in want else 0)
    if m["type"] != request["type"] or m["request_id"] != request["request_id"] or m["flags"] != flags:
        failures.append("%s: the frame sent is not a %s with the request's id and flags" % (name, kind))
    return failures
