"""Independent reference decoder of the pgstate wire protocol v1 (gen_vectors.py --self-test).

Deliberately written without struct and without anything of encoder.py (it imports
nothing of the generator): every vector is encoded by one piece of code and checked by
another.  The defaults below are typed in from PROTOCOL.md section 9, not imported.
"""

import math

DEFAULTS = {
    "max_frame_bytes": 8392704,
    "max_id_bytes": 255,
    "max_state_bytes": 8388608,
    "max_batch_items": 1000,
    "max_batch_bytes": 4194304,
}
REVISION_MAX = 2**63 - 1
TTL_MAX = 2**31 - 1


class Incomplete(Exception):
    pass


class ProtoError(Exception):
    def __init__(self, status, request_id):
        super().__init__(status, request_id)
        self.status = status
        self.request_id = request_id


class Reader:
    def __init__(self, data, rid):
        self.d, self.p, self.rid = data, 0, rid

    def take(self, n):
        if self.p + n > len(self.d):
            raise ProtoError(100, self.rid)  # field runs past the end of the body
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def uint(self, n):
        return int.from_bytes(self.take(n), "big")

    def sint64(self):
        return int.from_bytes(self.take(8), "big", signed=True)

    def text(self, n_len):
        b = self.take(self.uint(n_len))
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtoError(100, self.rid)

    def float64(self):
        """IEEE 754 binary64, big-endian, taken apart by hand (no struct)."""
        bits = self.uint(8)
        sign = -1.0 if bits >> 63 else 1.0
        exponent = (bits >> 52) & 0x7FF
        fraction = bits & ((1 << 52) - 1)
        if exponent == 0x7FF:
            return sign * float("inf") if fraction == 0 else float("nan")
        if exponent == 0:  # zero and subnormals
            return sign * math.ldexp(fraction, -1074)
        return sign * math.ldexp(fraction | (1 << 52), exponent - 1075)

    def end(self):
        if self.p != len(self.d):
            raise ProtoError(100, self.rid)  # trailing bytes


REQ_NAMES = {1: "HELLO", 2: "PING", 3: "LOAD", 4: "UPSERT", 5: "DELETE", 6: "WHOAMI",
             7: "HEALTH", 8: "STATS", 9: "CLIENTS", 10: "PAUSE", 11: "RESUME",
             12: "BULK_LOAD", 13: "BULK_WRITE", 14: "TRANSACT", 15: "LIST"}
RESP_NAMES = {0x81: "HELLO_OK", 0x82: "OK", 0x83: "RECORD", 0x84: "NOT_FOUND",
              0x85: "CONFLICT", 0x86: "ERROR", 0x87: "WHOAMI_OK",
              0x88: "HEALTH_OK", 0x89: "STATS_OK", 0x8A: "CLIENTS_OK",
              0x8B: "RECORDS", 0x8C: "OUTCOMES", 0x8D: "TRANSACT_CONFLICT", 0x8E: "LIST_OK"}
# The flag bits each type may set (PROTOCOL.md 3.2): 0x01 EXPECTED_REVISION (DELETE) or AFTER (LIST),
# 0x02 NAMESPACE, 0x04 TTL (UPSERT).
FLAGS_ALLOWED = {"LOAD": 0x02, "UPSERT": 0x06, "DELETE": 0x03, "BULK_LOAD": 0x02, "BULK_WRITE": 0x02,
                 "TRANSACT": 0x02, "LIST": 0x03}
# The item flags each item kind may set (6.22): upsert 0x04 TTL, delete 0x01 EXPECTED_REVISION.
ITEM_KIND_NAMES = {1: "upsert", 2: "delete"}
ITEM_FLAGS_ALLOWED = {"upsert": 0x04, "delete": 0x01}
NAMESPACE_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# A STATS_OK metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, 1..255 bytes (its str8 length bounds it above).
METRIC_FIRST = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
METRIC_REST = METRIC_FIRST | frozenset(b"0123456789")


def _metric_name(r):
    raw = r.take(r.uint(1))
    if not raw or raw[0] not in METRIC_FIRST or any(b not in METRIC_REST for b in raw):
        raise ProtoError(100, r.rid)
    return raw.decode("ascii")


def _item(r):
    """One BULK_WRITE / TRANSACT item: (the item in the vectors' notation, its raw id)."""
    code, item_flags = r.uint(1), r.uint(1)
    if code not in ITEM_KIND_NAMES:
        raise ProtoError(100, r.rid)
    kind = ITEM_KIND_NAMES[code]
    if item_flags & ~ITEM_FLAGS_ALLOWED[kind]:
        raise ProtoError(100, r.rid)  # an undefined bit, or a bit of the other kind
    raw_id = r.take(r.uint(1))
    # The id's encoding is an argument rule, not structure: kept as text even when it is not UTF-8 (the
    # notation cannot write such an id; no vector holds one).
    i = {"kind": kind, "persistence_id": raw_id.decode("utf-8", "surrogateescape")}
    if kind == "upsert":
        i["expected_revision"] = r.uint(8)
        if item_flags & 0x04:
            i["ttl_seconds"] = r.uint(4)
        i["state_hex"] = r.take(r.uint(4)).hex()
    else:
        i["expected_revision"] = r.uint(8) if item_flags & 0x01 else None
    return i, raw_id


def _records_entry(r):
    presence = r.uint(1)
    if presence > 2:
        raise ProtoError(100, r.rid)
    e = {"presence": presence}
    if presence == 1:
        e["revision"] = r.uint(8)
        e["updated_at_us"] = r.sint64()
        e["state_hex"] = r.take(r.uint(4)).hex()
    return e


def _outcome(r):
    result = r.uint(1)
    o = {"result": result}
    if result == 1:
        o["revision"] = r.uint(8)
        o["updated_at_us"] = r.sint64()
    elif result == 3:
        o["expected_revision"] = r.uint(8)
        o["actual_revision"] = r.uint(8)
    elif result == 4:
        o["status"] = r.uint(2)
        o["message"] = r.text(2)
    elif result != 2:
        raise ProtoError(100, r.rid)
    return o


def _id_rules_broken(raw, max_id):
    """Whether a persistence id breaks the argument rules of section 8."""
    if not 1 <= len(raw) <= max_id:
        return True
    return _text_rules_broken(raw)


def _text_rules_broken(raw):
    """Whether bytes are not valid UTF-8 or hold a character U+0000-U+001F or U+007F (ids, LIST prefixes)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any(ord(c) <= 0x1F or ord(c) == 0x7F for c in text)


def _item_rules_broken(i, raw_id, max_id, max_state):
    """Whether one item breaks an argument rule (as the single UPSERT or DELETE it mirrors would)."""
    if _id_rules_broken(raw_id, max_id):
        return True
    if i["kind"] == "upsert":
        if i["expected_revision"] > REVISION_MAX - 1 or len(i["state_hex"]) // 2 > max_state:
            return True
        return "ttl_seconds" in i and not 1 <= i["ttl_seconds"] <= TTL_MAX
    return i["expected_revision"] is not None and i["expected_revision"] > REVISION_MAX


def ref_decode(data, direction, limits):
    """Decode one frame from the start of data.

    Returns the message dict; raises Incomplete or ProtoError(status, request_id).
    Check order: length limits, completeness, request id, type, flags, payload
    structure, argument rules (requests only).
    """
    max_frame = limits.get("max_frame_bytes", DEFAULTS["max_frame_bytes"])
    max_state = limits.get("max_state_bytes", DEFAULTS["max_state_bytes"])
    max_id = limits.get("max_id_bytes", DEFAULTS["max_id_bytes"])
    max_items = limits.get("max_batch_items", DEFAULTS["max_batch_items"])
    max_batch_bytes = limits.get("max_batch_bytes", DEFAULTS["max_batch_bytes"])
    if len(data) < 4:
        raise Incomplete()
    length = int.from_bytes(data[0:4], "big")
    if length > max_frame:
        raise ProtoError(103, 0)
    if length < 6:
        raise ProtoError(100, 0)
    if len(data) < 4 + length:
        raise Incomplete()
    body = data[4:4 + length]
    tcode, flags, rid = body[0], body[1], int.from_bytes(body[2:6], "big")
    names = REQ_NAMES if direction == "request" else RESP_NAMES
    if direction == "request" and rid == 0:
        raise ProtoError(100, 0)
    if tcode not in names:
        raise ProtoError(101, rid)
    t = names[tcode]
    if direction == "response" and rid == 0 and t != "ERROR":
        raise ProtoError(100, 0)
    if flags & ~FLAGS_ALLOWED.get(t, 0x00):
        raise ProtoError(100, rid)
    r = Reader(body[6:], rid)
    m = {"type": t, "request_id": rid, "flags": flags}
    raw_id = None
    raw_ids = []  # BULK_LOAD's ids, and the items' ids of TRANSACT (BULK_WRITE judges each item alone)
    raw_after = None
    items = None
    raw_namespace = r.take(r.uint(1)) if flags & 0x02 else None  # comes before the persistence id
    if t == "HELLO":
        n = r.uint(1)
        if n == 0:
            raise ProtoError(100, rid)
        m["versions"] = [r.uint(2) for _ in range(n)]
        m["client_name"] = r.text(1)
    elif t == "LOAD":
        raw_id = r.take(r.uint(1))
    elif t == "UPSERT":
        raw_id = r.take(r.uint(1))
        m["expected_revision"] = r.uint(8)
        if flags & 0x04:
            m["ttl_seconds"] = r.uint(4)
        m["state_hex"] = r.take(r.uint(4)).hex()
    elif t == "DELETE":
        raw_id = r.take(r.uint(1))
        m["expected_revision"] = r.uint(8) if flags & 0x01 else None
    elif t == "BULK_LOAD":
        raw_ids = [r.take(r.uint(1)) for _ in range(r.uint(2))]
    elif t in ("BULK_WRITE", "TRANSACT"):
        items = [_item(r) for _ in range(r.uint(2))]
        m["items"] = [i for i, _ in items]
    elif t == "LIST":
        raw_prefix = r.take(r.uint(1))
        raw_after = r.take(r.uint(1)) if flags & 0x01 else None
        m["limit"] = r.uint(2)
    elif t == "HELLO_OK":
        m["version"] = r.uint(2)
        m["server_version"] = r.text(1)
        m["max_frame_bytes"] = r.uint(4)
        m["max_id_bytes"] = r.uint(2)
        m["max_state_bytes"] = r.uint(4)
        m["max_in_flight"] = r.uint(4)
        m["capabilities"] = r.uint(4)
        if m["capabilities"] & 0x8:  # MULTI_KEY: two more limits follow
            m["max_batch_items"] = r.uint(4)
            m["max_batch_bytes"] = r.uint(4)
    elif t == "RECORD":
        m["revision"] = r.uint(8)
        m["updated_at_us"] = r.sint64()
        m["state_hex"] = r.take(r.uint(4)).hex()
    elif t == "CONFLICT":
        m["expected_revision"] = r.uint(8)
        m["actual_revision"] = r.uint(8)
    elif t == "ERROR":
        m["status"] = r.uint(2)
        m["message"] = r.text(2)
    elif t == "WHOAMI_OK":
        m["uid"] = r.uint(4)
        m["gid"] = r.uint(4)
        m["pid"] = r.uint(4)
        m["user"] = r.text(1)
        m["namespace"] = r.text(1)
        m["permissions"] = r.uint(1)
        m["rule"] = r.text(1)
    elif t == "CLIENTS":
        m["after_connection"] = r.uint(8)
    elif t == "PAUSE":
        m["timeout_ms"] = r.uint(4)
    elif t == "HEALTH_OK":
        m["state"] = r.uint(1)
        m["pool_up"] = r.uint(2)
        m["pool_size"] = r.uint(2)
        m["clients"] = r.uint(4)
        m["uptime_ms"] = r.uint(8)
    elif t == "STATS_OK":
        m["entries"] = [{"name": _metric_name(r), "labels": r.text(1), "value": r.float64()}
                        for _ in range(r.uint(2))]
    elif t == "CLIENTS_OK":
        more = r.uint(1)
        if more > 1:
            raise ProtoError(100, rid)
        m["more"] = more
        rows = []
        for _ in range(r.uint(2)):
            row = {"connection_id": r.uint(8), "uid": r.uint(4), "pid": r.uint(4), "user": r.text(1),
                   "namespace": r.text(1), "client_name": r.text(1), "state": r.uint(1),
                   "connected_ms": r.uint(8), "requests": r.uint(8), "in_flight": r.uint(4)}
            rows.append(row)
        m["rows"] = rows
    elif t == "RECORDS":
        m["entries"] = [_records_entry(r) for _ in range(r.uint(2))]
    elif t == "OUTCOMES":
        m["outcomes"] = [_outcome(r) for _ in range(r.uint(2))]
    elif t == "TRANSACT_CONFLICT":
        m["conflicts"] = [{"index": r.uint(2), "expected_revision": r.uint(8), "actual_revision": r.uint(8)}
                          for _ in range(r.uint(2))]
    elif t == "LIST_OK":
        more = r.uint(1)
        if more > 1:
            raise ProtoError(100, rid)
        m["more"] = more
        m["entries"] = [{"persistence_id": r.text(1), "revision": r.uint(8), "updated_at_us": r.sint64()}
                        for _ in range(r.uint(2))]
    r.end()
    # ---- argument rules (INVALID_ARGUMENT) ----
    if raw_namespace is not None:
        if len(raw_namespace) > 63 or any(b not in NAMESPACE_BYTES for b in raw_namespace):
            raise ProtoError(102, rid)
        m["namespace"] = raw_namespace.decode("ascii")
    if raw_id is not None:
        if _id_rules_broken(raw_id, max_id):
            raise ProtoError(102, rid)
        m["persistence_id"] = raw_id.decode("utf-8")
    if t == "UPSERT":
        if m["expected_revision"] > 2**63 - 2:
            raise ProtoError(102, rid)
        if "ttl_seconds" in m and not 1 <= m["ttl_seconds"] <= TTL_MAX:
            raise ProtoError(102, rid)
        if len(m["state_hex"]) // 2 > max_state:
            raise ProtoError(102, rid)
    if t == "BULK_LOAD":
        if not 1 <= len(raw_ids) <= max_items or any(_id_rules_broken(i, max_id) for i in raw_ids):
            raise ProtoError(102, rid)
        m["ids"] = [i.decode("utf-8") for i in raw_ids]
    if items is not None:
        # Request-wide rules (6.22), for both: ERROR 102 for the whole request.
        if not 1 <= len(items) <= max_items:
            raise ProtoError(102, rid)
        if sum(len(i["state_hex"]) // 2 for i, _ in items if i["kind"] == "upsert") > max_batch_bytes:
            raise ProtoError(102, rid)
        if t == "TRANSACT":
            # Each item's own rules break the whole TRANSACT; in a BULK_WRITE the server answers such an
            # item FAILED 102 in its place (6.25), so the frame decodes.
            if any(_item_rules_broken(i, raw, max_id, max_state) for i, raw in items):
                raise ProtoError(102, rid)
            seen = [raw for _, raw in items]
            if len(set(seen)) != len(seen):
                raise ProtoError(102, rid)  # an id twice in one transaction
    if t == "LIST":
        if len(raw_prefix) > max_id or _text_rules_broken(raw_prefix):
            raise ProtoError(102, rid)
        m["prefix"] = raw_prefix.decode("utf-8")
        if raw_after is not None:
            if _id_rules_broken(raw_after, max_id):
                raise ProtoError(102, rid)
            m["after"] = raw_after.decode("utf-8")
        if not 1 <= m["limit"] <= max_items:
            raise ProtoError(102, rid)
    if t == "DELETE" and m["expected_revision"] is not None and m["expected_revision"] > 2**63 - 1:
        raise ProtoError(102, rid)
    return m
