"""The generator's encoder: protocol constants and frames built with struct.pack.

Used by gen_vectors.py and outcome_vectors.py to build the vectors.  Nothing here is
shared with any client or server implementation, nor with reference_decoder.py, which
checks these bytes independently.
"""

import calendar
import struct

# --------------------------------------------------------------------------
# Protocol constants
# --------------------------------------------------------------------------

HEADER_BYTES = 6

DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024 + 4096  # 8392704
DEFAULT_MAX_ID_BYTES = 255
DEFAULT_MAX_STATE_BYTES = 8 * 1024 * 1024  # 8388608
DEFAULT_MAX_IN_FLIGHT = 1024
CAP_CONDITIONAL_DELETE = 0x1
CAP_IDENTITY = 0x2
CAP_OPERATOR = 0x4
CAP_MULTI_KEY = 0x8
CAP_TTL = 0x10
DEFAULT_MAX_BATCH_ITEMS = 1000
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024  # 4194304

# Limits used by the vectors that exercise the size limits without megabytes
# of hex.  They respect the invariant max_frame_bytes >= max_state_bytes + 4096.
SMALL_LIMITS = {"max_frame_bytes": 16 + 4096, "max_state_bytes": 16}
# The same, with few items and state bytes per multi-key request (the limits key of PROTOCOL.md
# section 13), so that over-limit batches need few items.
BATCH_LIMITS = dict(SMALL_LIMITS, max_batch_items=4, max_batch_bytes=32)

FLAG_EXPECTED_REVISION = 0x01  # DELETE
FLAG_AFTER = 0x01  # LIST
FLAG_NAMESPACE = 0x02
FLAG_TTL = 0x04  # UPSERT

# Items of BULK_WRITE and TRANSACT (PROTOCOL.md 6.22)
ITEM_KINDS = {"upsert": 0x01, "delete": 0x02}
ITEM_FLAG_EXPECTED_REVISION = 0x01  # delete items
ITEM_FLAG_TTL = 0x04  # upsert items

PRESENCE_ABSENT = 0
PRESENCE_FOUND = 1
PRESENCE_OMITTED = 2

RESULT_WRITTEN = 1
RESULT_DELETED = 2
RESULT_CONFLICT = 3
RESULT_FAILED = 4

PERM_READ = 0x1
PERM_WRITE = 0x2
PERM_ADMIN = 0x4
PERM_ANY_NAMESPACE = 0x8

HEALTH_POOL_UP = 0x1
HEALTH_PAUSED = 0x2
HEALTH_DRAINING = 0x4

CLIENT_HANDSHAKE = 0
CLIENT_READY = 1
CLIENT_DRAINING = 2

TYPES = {
    "HELLO": 0x01,
    "PING": 0x02,
    "LOAD": 0x03,
    "UPSERT": 0x04,
    "DELETE": 0x05,
    "WHOAMI": 0x06,
    "HEALTH": 0x07,
    "STATS": 0x08,
    "CLIENTS": 0x09,
    "PAUSE": 0x0A,
    "RESUME": 0x0B,
    "BULK_LOAD": 0x0C,
    "BULK_WRITE": 0x0D,
    "TRANSACT": 0x0E,
    "LIST": 0x0F,
    "HELLO_OK": 0x81,
    "OK": 0x82,
    "RECORD": 0x83,
    "NOT_FOUND": 0x84,
    "CONFLICT": 0x85,
    "ERROR": 0x86,
    "WHOAMI_OK": 0x87,
    "HEALTH_OK": 0x88,
    "STATS_OK": 0x89,
    "CLIENTS_OK": 0x8A,
    "RECORDS": 0x8B,
    "OUTCOMES": 0x8C,
    "TRANSACT_CONFLICT": 0x8D,
    "LIST_OK": 0x8E,
}

STATUS = {
    100: "MALFORMED_FRAME",
    101: "UNKNOWN_MESSAGE_TYPE",
    102: "INVALID_ARGUMENT",
    103: "FRAME_TOO_LARGE",
    104: "UNSUPPORTED_VERSION",
    105: "NOT_ALLOWED",
    106: "PERMISSION_DENIED",
    200: "UNAVAILABLE",
    201: "OVERLOADED",
    202: "SHUTTING_DOWN",
    300: "OUTCOME_UNKNOWN",
    500: "INTERNAL_ERROR",
}

U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1

# --------------------------------------------------------------------------
# Encoding helpers (struct.pack only)
# --------------------------------------------------------------------------


def u8(v):
    return struct.pack(">B", v)


def u16be(v):
    return struct.pack(">H", v)


def u32be(v):
    return struct.pack(">I", v)


def u64be(v):
    return struct.pack(">Q", v)


def i64be(v):
    return struct.pack(">q", v)


def f64be(v):
    return struct.pack(">d", v)


def _raw(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def str8(s):
    b = _raw(s)
    return u8(len(b)) + b


def str16(s):
    b = _raw(s)
    return u16be(len(b)) + b


def bytes32(b):
    return u32be(len(b)) + bytes(b)


def frame(type_code, flags, request_id, payload=b""):
    """A whole frame: u32be length, then the 6-byte header, then the payload."""
    body = u8(type_code) + u8(flags) + u32be(request_id) + payload
    return u32be(len(body)) + body


def _namespace(m):
    """The namespace field: present iff the NAMESPACE flag is set; it comes first in every request that has it."""
    if m["flags"] & FLAG_NAMESPACE:
        return str8(m["namespace"])
    assert "namespace" not in m, "a namespace without the NAMESPACE flag"
    return b""


def _namespace_and_id(m):
    """The namespace (iff the NAMESPACE flag is set) and the persistence id of LOAD, UPSERT, DELETE."""
    return _namespace(m) + str8(m["persistence_id"])


def item(kind, persistence_id, expected_revision=None, state_hex=None, ttl_seconds=None, item_flags=None):
    """One item of BULK_WRITE or TRANSACT in the vectors' notation.  item_flags is derived (EXPECTED_REVISION
    iff a delete item's expected_revision is not None, TTL iff ttl_seconds is given) unless given raw."""
    code = ITEM_KINDS[kind]
    if item_flags is None:
        item_flags = 0
        if kind == "delete" and expected_revision is not None:
            item_flags |= ITEM_FLAG_EXPECTED_REVISION
        if ttl_seconds is not None:
            item_flags |= ITEM_FLAG_TTL
    out = u8(code) + u8(item_flags) + str8(persistence_id)
    if kind == "upsert":
        out += u64be(expected_revision)
        if item_flags & ITEM_FLAG_TTL:
            out += u32be(ttl_seconds)
        return out + bytes32(bytes.fromhex(state_hex))
    if item_flags & ITEM_FLAG_EXPECTED_REVISION:
        out += u64be(expected_revision)
    return out


def encode_item(i):
    """An item dict of a message's "items" (the notation of PROTOCOL.md section 13)."""
    if i["kind"] == "upsert":
        assert set(i) <= {"kind", "persistence_id", "expected_revision", "ttl_seconds", "state_hex"}, i
        return item("upsert", i["persistence_id"], i["expected_revision"], i["state_hex"], i.get("ttl_seconds"))
    assert set(i) == {"kind", "persistence_id", "expected_revision"}, i
    return item("delete", i["persistence_id"], i["expected_revision"])


def records_entry(e):
    """One RECORDS entry: presence u8, and for FOUND revision, updated_at and state."""
    if e["presence"] == PRESENCE_FOUND:
        return (u8(PRESENCE_FOUND) + u64be(e["revision"]) + i64be(e["updated_at_us"])
                + bytes32(bytes.fromhex(e["state_hex"])))
    assert set(e) == {"presence"}, e
    return u8(e["presence"])


def outcome_entry(o):
    """One OUTCOMES outcome: result u8 and the fields of its result."""
    r = o["result"]
    if r == RESULT_WRITTEN:
        return u8(r) + u64be(o["revision"]) + i64be(o["updated_at_us"])
    if r == RESULT_DELETED:
        return u8(r)
    if r == RESULT_CONFLICT:
        return u8(r) + u64be(o["expected_revision"]) + u64be(o["actual_revision"])
    assert r == RESULT_FAILED, o
    return u8(r) + u16be(o["status"]) + str16(o["message"])


def conflict_entry(c):
    """One TRANSACT_CONFLICT entry: index u16be, expected and actual revision."""
    return u16be(c["index"]) + u64be(c["expected_revision"]) + u64be(c["actual_revision"])


def list_entry(e):
    """One LIST_OK entry: persistence_id str8, revision, updated_at."""
    return str8(e["persistence_id"]) + u64be(e["revision"]) + i64be(e["updated_at_us"])


def encode_payload(m):
    """Payload of a valid message described by a vector's "message" object."""
    t = m["type"]
    if t == "HELLO":
        return (u8(len(m["versions"]))
                + b"".join(u16be(v) for v in m["versions"])
                + str8(m["client_name"]))
    if t in ("PING", "OK", "NOT_FOUND", "WHOAMI", "HEALTH", "STATS", "RESUME"):
        return b""
    if t == "CLIENTS":
        return u64be(m["after_connection"])
    if t == "PAUSE":
        return u32be(m["timeout_ms"])
    if t == "LOAD":
        return _namespace_and_id(m)
    if t == "UPSERT":
        assert bool(m["flags"] & FLAG_TTL) == ("ttl_seconds" in m), "ttl_seconds iff the TTL flag"
        ttl = u32be(m["ttl_seconds"]) if m["flags"] & FLAG_TTL else b""
        return (_namespace_and_id(m) + u64be(m["expected_revision"]) + ttl
                + bytes32(bytes.fromhex(m["state_hex"])))
    if t == "DELETE":
        p = _namespace_and_id(m)
        if m["expected_revision"] is not None:
            p += u64be(m["expected_revision"])
        return p
    if t == "BULK_LOAD":
        return _namespace(m) + u16be(len(m["ids"])) + b"".join(str8(i) for i in m["ids"])
    if t in ("BULK_WRITE", "TRANSACT"):
        return _namespace(m) + u16be(len(m["items"])) + b"".join(encode_item(i) for i in m["items"])
    if t == "LIST":
        assert bool(m["flags"] & FLAG_AFTER) == ("after" in m), "after iff the AFTER flag"
        after = str8(m["after"]) if m["flags"] & FLAG_AFTER else b""
        return _namespace(m) + str8(m["prefix"]) + after + u16be(m["limit"])
    if t == "HELLO_OK":
        multi_key = bool(m["capabilities"] & CAP_MULTI_KEY)
        assert multi_key == ("max_batch_items" in m) == ("max_batch_bytes" in m), "batch limits iff MULTI_KEY"
        batch = u32be(m["max_batch_items"]) + u32be(m["max_batch_bytes"]) if multi_key else b""
        return (u16be(m["version"]) + str8(m["server_version"])
                + u32be(m["max_frame_bytes"]) + u16be(m["max_id_bytes"])
                + u32be(m["max_state_bytes"]) + u32be(m["max_in_flight"])
                + u32be(m["capabilities"]) + batch)
    if t == "RECORD":
        return (u64be(m["revision"]) + i64be(m["updated_at_us"])
                + bytes32(bytes.fromhex(m["state_hex"])))
    if t == "CONFLICT":
        return u64be(m["expected_revision"]) + u64be(m["actual_revision"])
    if t == "ERROR":
        return u16be(m["status"]) + str16(m["message"])
    if t == "WHOAMI_OK":
        return (u32be(m["uid"]) + u32be(m["gid"]) + u32be(m["pid"]) + str8(m["user"])
                + str8(m["namespace"]) + u8(m["permissions"]) + str8(m["rule"]))
    if t == "HEALTH_OK":
        return (u8(m["state"]) + u16be(m["pool_up"]) + u16be(m["pool_size"]) + u32be(m["clients"])
                + u64be(m["uptime_ms"]))
    if t == "STATS_OK":
        return u16be(len(m["entries"])) + b"".join(stats_entry(**e) for e in m["entries"])
    if t == "CLIENTS_OK":
        return u8(m["more"]) + u16be(len(m["rows"])) + b"".join(client_row(**r) for r in m["rows"])
    if t == "RECORDS":
        return u16be(len(m["entries"])) + b"".join(records_entry(e) for e in m["entries"])
    if t == "OUTCOMES":
        return u16be(len(m["outcomes"])) + b"".join(outcome_entry(o) for o in m["outcomes"])
    if t == "TRANSACT_CONFLICT":
        return u16be(len(m["conflicts"])) + b"".join(conflict_entry(c) for c in m["conflicts"])
    if t == "LIST_OK":
        return u8(m["more"]) + u16be(len(m["entries"])) + b"".join(list_entry(e) for e in m["entries"])
    raise ValueError("unknown message type " + t)


def stats_entry(name, labels, value):
    """One STATS_OK entry: name str8, labels str8, value f64be."""
    return str8(name) + str8(labels) + f64be(value)


def client_row(connection_id, uid, pid, user, namespace, client_name, state, connected_ms, requests, in_flight):
    """One CLIENTS_OK row."""
    return (u64be(connection_id) + u32be(uid) + u32be(pid) + str8(user) + str8(namespace) + str8(client_name)
            + u8(state) + u64be(connected_ms) + u64be(requests) + u32be(in_flight))


def encode_message(m):
    return frame(TYPES[m["type"]], m["flags"], m["request_id"], encode_payload(m))


def msg(type_name, request_id, flags=0, **fields):
    m = {"type": type_name, "request_id": request_id, "flags": flags}
    m.update(fields)
    return m


def us(y, mo, d, h, mi, s, micro=0):
    """Microseconds since 1970-01-01T00:00:00Z (may be negative)."""
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1_000_000 + micro




def upsert_item(persistence_id, expected_revision, state_hex, ttl_seconds=None):
    """An upsert item in the notation of a message's "items"."""
    i = {"kind": "upsert", "persistence_id": persistence_id, "expected_revision": expected_revision}
    if ttl_seconds is not None:
        i["ttl_seconds"] = ttl_seconds
    i["state_hex"] = state_hex
    return i


def delete_item(persistence_id, expected_revision=None):
    """A delete item in the notation of a message's "items" (expected_revision None: unconditional)."""
    return {"kind": "delete", "persistence_id": persistence_id, "expected_revision": expected_revision}
