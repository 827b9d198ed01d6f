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
}


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
             7: "HEALTH", 8: "STATS", 9: "CLIENTS", 10: "PAUSE", 11: "RESUME"}
RESP_NAMES = {0x81: "HELLO_OK", 0x82: "OK", 0x83: "RECORD", 0x84: "NOT_FOUND",
              0x85: "CONFLICT", 0x86: "ERROR", 0x87: "WHOAMI_OK",
              0x88: "HEALTH_OK", 0x89: "STATS_OK", 0x8A: "CLIENTS_OK"}
# The flag bits each type may set (PROTOCOL.md 3.2): 0x01 EXPECTED_REVISION, 0x02 NAMESPACE.
FLAGS_ALLOWED = {"LOAD": 0x02, "UPSERT": 0x02, "DELETE": 0x03}
NAMESPACE_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# A STATS_OK metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, 1..255 bytes (its str8 length bounds it above).
METRIC_FIRST = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
METRIC_REST = METRIC_FIRST | frozenset(b"0123456789")


def _metric_name(r):
    raw = r.take(r.uint(1))
    if not raw or raw[0] not in METRIC_FIRST or any(b not in METRIC_REST for b in raw):
        raise ProtoError(100, r.rid)
    return raw.decode("ascii")


def ref_decode(data, direction, limits):
    """Decode one frame from the start of data.

    Returns the message dict; raises Incomplete or ProtoError(status, request_id).
    Check order: length limits, completeness, request id, type, flags, payload
    structure, argument rules (requests only).
    """
    max_frame = limits.get("max_frame_bytes", DEFAULTS["max_frame_bytes"])
    max_state = limits.get("max_state_bytes", DEFAULTS["max_state_bytes"])
    max_id = limits.get("max_id_bytes", DEFAULTS["max_id_bytes"])
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
        m["state_hex"] = r.take(r.uint(4)).hex()
    elif t == "DELETE":
        raw_id = r.take(r.uint(1))
        m["expected_revision"] = r.uint(8) if flags & 0x01 else None
    elif t == "HELLO_OK":
        m["version"] = r.uint(2)
        m["server_version"] = r.text(1)
        m["max_frame_bytes"] = r.uint(4)
        m["max_id_bytes"] = r.uint(2)
        m["max_state_bytes"] = r.uint(4)
        m["max_in_flight"] = r.uint(4)
        m["capabilities"] = r.uint(4)
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
    r.end()
    # ---- argument rules (INVALID_ARGUMENT) ----
    if raw_namespace is not None:
        if len(raw_namespace) > 63 or any(b not in NAMESPACE_BYTES for b in raw_namespace):
            raise ProtoError(102, rid)
        m["namespace"] = raw_namespace.decode("ascii")
    if raw_id is not None:
        if not 1 <= len(raw_id) <= max_id:
            raise ProtoError(102, rid)
        try:
            pid = raw_id.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtoError(102, rid)
        if any(ord(c) <= 0x1F or ord(c) == 0x7F for c in pid):
            raise ProtoError(102, rid)
        m["persistence_id"] = pid
    if t == "UPSERT":
        if m["expected_revision"] > 2**63 - 2:
            raise ProtoError(102, rid)
        if len(m["state_hex"]) // 2 > max_state:
            raise ProtoError(102, rid)
    if t == "DELETE" and m["expected_revision"] is not None and m["expected_revision"] > 2**63 - 1:
        raise ProtoError(102, rid)
    return m
