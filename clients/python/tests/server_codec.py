"""The server half of the protocol v1 codec, for the fake server and the tests only.

The package ships the client half (encode requests, decode responses). This module has the
other half: decode requests (checks 3-6 and 8 of PROTOCOL.md section 3.4), WHOAMI, the
NAMESPACE flag, the operators' requests, the multi-key requests and TTL included, into small
request dataclasses, and encode responses. It reuses the
package's payload cursor and argument rules (pgstate._arguments), frame header and str8 packing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Dict, Optional, Sequence, Tuple, Union

from pgstate import ClientRow, InvalidArgument, ProtocolError, StatsEntry, Status
from pgstate import _arguments as a
from pgstate import _multikey as mk
from pgstate import _protocol as p


# --- Requests as the server sees them ---------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    request_id: int
    versions: Tuple[int, ...]
    client_name: str
    TYPE: ClassVar[p.MessageType] = p.MessageType.HELLO
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Ping:
    request_id: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.PING
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class WhoAmI:
    request_id: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.WHOAMI
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Health:
    request_id: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.HEALTH
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Stats:
    request_id: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.STATS
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Clients:
    request_id: int
    after_connection: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.CLIENTS
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Pause:
    request_id: int
    timeout_ms: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.PAUSE
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Resume:
    request_id: int
    TYPE: ClassVar[p.MessageType] = p.MessageType.RESUME
    flags: ClassVar[int] = 0


OperatorRequest = Union[Health, Stats, Clients, Pause, Resume]


def _namespace_flag(namespace: Optional[str]) -> int:
    """LOAD, UPSERT and DELETE address the namespace named (flag NAMESPACE) or, with ``namespace``
    None, the connection's own."""
    return 0 if namespace is None else p.FLAG_NAMESPACE


@dataclass(frozen=True)
class Load:
    request_id: int
    persistence_id: str
    namespace: Optional[str] = None
    TYPE: ClassVar[p.MessageType] = p.MessageType.LOAD

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace)


@dataclass(frozen=True)
class Upsert:
    request_id: int
    persistence_id: str
    expected_revision: int
    state: bytes = field(repr=False)
    namespace: Optional[str] = None
    ttl_seconds: Optional[int] = None  # flag TTL
    TYPE: ClassVar[p.MessageType] = p.MessageType.UPSERT

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace) | (0 if self.ttl_seconds is None else p.FLAG_TTL)


@dataclass(frozen=True)
class Delete:
    request_id: int
    persistence_id: str
    expected_revision: Optional[int] = None  # None: unconditional
    namespace: Optional[str] = None
    TYPE: ClassVar[p.MessageType] = p.MessageType.DELETE

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace) | (0 if self.expected_revision is None else p.FLAG_EXPECTED_REVISION)


@dataclass(frozen=True)
class Item:
    """One BULK_WRITE or TRANSACT item as sent. ``broken`` names the argument rule it breaks, if any
    (a BULK_WRITE answers such an item FAILED 102; a TRANSACT holding one is not decoded)."""

    kind: str  # "upsert" or "delete"
    persistence_id: str  # as sent; bytes that are not UTF-8 become lone surrogates (surrogateescape)
    expected_revision: Optional[int]  # None: an unconditional delete
    state: bytes = field(default=b"", repr=False)
    ttl_seconds: Optional[int] = None
    broken: Optional[str] = None

    @property
    def item_flags(self) -> int:
        if self.kind == "upsert":
            return 0 if self.ttl_seconds is None else mk.ITEM_FLAG_TTL
        return 0 if self.expected_revision is None else mk.ITEM_FLAG_EXPECTED_REVISION


@dataclass(frozen=True)
class BulkLoad:
    request_id: int
    ids: Tuple[str, ...]
    namespace: Optional[str] = None
    TYPE: ClassVar[p.MessageType] = p.MessageType.BULK_LOAD

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace)


@dataclass(frozen=True)
class BulkWrite:
    request_id: int
    items: Tuple[Item, ...]
    namespace: Optional[str] = None
    TYPE: ClassVar[p.MessageType] = p.MessageType.BULK_WRITE

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace)


@dataclass(frozen=True)
class Transact:
    request_id: int
    items: Tuple[Item, ...]
    namespace: Optional[str] = None
    TYPE: ClassVar[p.MessageType] = p.MessageType.TRANSACT

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace)


@dataclass(frozen=True)
class ListIds:
    request_id: int
    prefix: str
    after: Optional[str]
    limit: int
    namespace: Optional[str] = None
    TYPE: ClassVar[p.MessageType] = p.MessageType.LIST

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace) | (0 if self.after is None else mk.FLAG_AFTER)


MultiKeyRequest = Union[BulkLoad, BulkWrite, Transact, ListIds]
Request = Union[Hello, Ping, WhoAmI, Load, Upsert, Delete, Health, Stats, Clients, Pause, Resume, BulkLoad, BulkWrite,
                Transact, ListIds]

# The flag bits each request type may set (PROTOCOL.md section 3.2).
_FLAGS = {p.MessageType.LOAD: p.FLAG_NAMESPACE, p.MessageType.UPSERT: p.FLAG_NAMESPACE | p.FLAG_TTL,
          p.MessageType.DELETE: p.FLAG_NAMESPACE | p.FLAG_EXPECTED_REVISION,
          p.MessageType.BULK_LOAD: p.FLAG_NAMESPACE, p.MessageType.BULK_WRITE: p.FLAG_NAMESPACE,
          p.MessageType.TRANSACT: p.FLAG_NAMESPACE, p.MessageType.LIST: p.FLAG_NAMESPACE | mk.FLAG_AFTER}
_ITEM_KINDS = {mk.ITEM_UPSERT: "upsert", mk.ITEM_DELETE: "delete"}
_ITEM_FLAGS = {"upsert": mk.ITEM_FLAG_TTL, "delete": mk.ITEM_FLAG_EXPECTED_REVISION}


_OPERATOR_DECODERS = {
    p.MessageType.HEALTH: lambda rid, c: Health(rid),
    p.MessageType.STATS: lambda rid, c: Stats(rid),
    p.MessageType.CLIENTS: lambda rid, c: Clients(rid, c.u64("after_connection")),
    p.MessageType.PAUSE: lambda rid, c: Pause(rid, c.u32("timeout_ms")),
    p.MessageType.RESUME: lambda rid, c: Resume(rid),
}


def _decode_id(raw: bytes, max_id_bytes: int, request_id: int) -> str:
    a._check_id_bytes(raw, max_id_bytes, request_id)
    try:
        return raw.decode("utf-8")  # strict: rejects overlong forms, surrogates, truncation
    except UnicodeDecodeError:
        raise p._invalid("persistence_id is not valid UTF-8", request_id) from None


def _decode_namespace(raw: bytes, request_id: int) -> str:
    a._check_namespace_bytes(raw, request_id)
    return raw.decode("ascii")


def _id_rule_broken(raw: bytes, max_id_bytes: int) -> Optional[str]:
    """The argument rule a persistence id breaks (section 8), or None."""
    try:
        _decode_id(raw, max_id_bytes, 0)
    except InvalidArgument as exc:
        return exc.message
    return None


def broken_rule(item: Item, raw_id: bytes, limits: p.Limits) -> Optional[str]:
    """The argument rule an item breaks, as the single UPSERT or DELETE it mirrors would (section 8), or None."""
    why = _id_rule_broken(raw_id, limits.max_id_bytes)
    if why is not None:
        return why
    if item.kind == "upsert":
        assert item.expected_revision is not None
        if item.expected_revision > p.MAX_UPSERT_EXPECTED_REVISION:
            return "upsert expected_revision %d is outside 0..2^63-2" % item.expected_revision
        if item.ttl_seconds is not None and not 1 <= item.ttl_seconds <= p.MAX_TTL_SECONDS:
            return "ttl_seconds %d is outside 1..2^31-1" % item.ttl_seconds
        if len(item.state) > limits.max_state_bytes:
            return "state is %d bytes, more than max_state_bytes %d" % (len(item.state), limits.max_state_bytes)
        return None
    if item.expected_revision is not None and item.expected_revision > p.MAX_DELETE_EXPECTED_REVISION:
        return "delete expected_revision %d is outside 0..2^63-1" % item.expected_revision
    return None


def _item(c: p._Cursor, limits: p.Limits) -> Item:
    code, item_flags = c.u8("item kind"), c.u8("item_flags")
    if code not in _ITEM_KINDS:
        raise c.malformed("item kind %d; 1 UPSERT or 2 DELETE" % code)
    kind = _ITEM_KINDS[code]
    if item_flags & ~_ITEM_FLAGS[kind]:
        raise c.malformed("%s item with item_flags 0x%02x" % (kind, item_flags))
    raw_id = c.str8_raw("persistence_id")
    pid = raw_id.decode("utf-8", "surrogateescape")
    if kind == "upsert":
        expected: Optional[int] = c.u64("expected_revision")
        ttl = c.u32("ttl_seconds") if item_flags & mk.ITEM_FLAG_TTL else None
        item = Item(kind, pid, expected, c.take(c.u32("state length"), "state"), ttl)
    else:
        expected = c.u64("expected_revision") if item_flags & mk.ITEM_FLAG_EXPECTED_REVISION else None
        item = Item(kind, pid, expected)
    why = broken_rule(item, raw_id, limits)
    return item if why is None else Item(item.kind, pid, item.expected_revision, item.state, item.ttl_seconds, why)


def _decode_multi_key(type_: p.MessageType, flags: int, c: p._Cursor, rid: int, limits: p.Limits) -> MultiKeyRequest:
    """BULK_LOAD, BULK_WRITE, TRANSACT or LIST: structure first (check 6), then the argument rules (check 8)."""
    raw_namespace = c.str8_raw("namespace") if flags & p.FLAG_NAMESPACE else None
    if type_ is p.MessageType.BULK_LOAD:
        raw_ids = [c.str8_raw("persistence_id") for _ in range(c.u16("count"))]
        c.end()
        namespace = None if raw_namespace is None else _decode_namespace(raw_namespace, rid)
        _check_count(len(raw_ids), limits, rid)
        return BulkLoad(rid, tuple(_decode_id(raw, limits.max_id_bytes, rid) for raw in raw_ids), namespace)
    if type_ is p.MessageType.LIST:
        raw_prefix = c.str8_raw("prefix")
        raw_after = c.str8_raw("after") if flags & mk.FLAG_AFTER else None
        limit = c.u16("limit")
        c.end()
        namespace = None if raw_namespace is None else _decode_namespace(raw_namespace, rid)
        if raw_prefix:
            _decode_id(raw_prefix, limits.max_id_bytes, rid)  # the characters of an id, and it may be empty
        after = None if raw_after is None else _decode_id(raw_after, limits.max_id_bytes, rid)
        if not 1 <= limit <= limits.max_batch_items:
            raise p._invalid("list limit %d is outside 1..max_batch_items %d" % (limit, limits.max_batch_items), rid)
        return ListIds(rid, raw_prefix.decode("utf-8"), after, limit, namespace)
    items = tuple(_item(c, limits) for _ in range(c.u16("count")))
    c.end()
    namespace = None if raw_namespace is None else _decode_namespace(raw_namespace, rid)
    _check_count(len(items), limits, rid)
    total = sum(len(i.state) for i in items if i.kind == "upsert")
    if total > limits.max_batch_bytes:
        raise p._invalid("the states are %d bytes together, more than max_batch_bytes %d"
                         % (total, limits.max_batch_bytes), rid)
    if type_ is p.MessageType.BULK_WRITE:
        return BulkWrite(rid, items, namespace)  # a broken item is answered FAILED 102 in its place
    for index, item in enumerate(items):
        if item.broken is not None:
            raise p._invalid("item %d: %s" % (index, item.broken), rid)
    first: Dict[str, int] = {}
    for index, item in enumerate(items):
        if item.persistence_id in first:
            raise p._invalid("items %d and %d name the same id" % (first[item.persistence_id], index), rid)
        first[item.persistence_id] = index
    return Transact(rid, items, namespace)


def _check_count(count: int, limits: p.Limits, rid: int) -> None:
    if not 1 <= count <= limits.max_batch_items:
        raise p._invalid("count %d is outside 1..max_batch_items %d" % (count, limits.max_batch_items), rid)


def decode_request(frame: p.Frame, limits: p.Limits = p.DEFAULT_LIMITS) -> Request:
    """Decode a request frame: checks 3-6 and 8 of PROTOCOL.md section 3.4.

    (Checks 1 and 2, the frame length, are the FrameReader's; check 7, the handshake state,
    the server's.) ``limits`` supplies ``max_id_bytes`` and ``max_state_bytes``.
    """
    rid = frame.request_id
    if rid == 0:
        raise ProtocolError("request id 0 is reserved", status=Status.MALFORMED_FRAME, request_id=0)
    if frame.type not in p._REQUEST_TYPES:
        raise ProtocolError("unknown message type 0x%02x" % frame.type,
                            status=Status.UNKNOWN_MESSAGE_TYPE, request_id=rid)
    type_ = p.MessageType(frame.type)
    p._check_flags(frame, _FLAGS.get(type_, 0))
    c = p._Cursor(frame)
    if type_ is p.MessageType.HELLO:
        count = c.u8("versions_count")
        if count == 0:
            raise c.malformed("versions_count is 0")
        versions = tuple(c.u16("version") for _ in range(count))
        client_name = c.text(c.str8_raw("client_name"), "client_name")
        c.end()
        return Hello(rid, versions, client_name)
    if type_ is p.MessageType.PING:
        c.end()
        return Ping(rid)
    if type_ is p.MessageType.WHOAMI:
        c.end()
        return WhoAmI(rid)
    if type_ in _OPERATOR_DECODERS:
        request = _OPERATOR_DECODERS[type_](rid, c)
        c.end()
        return request
    if type_ in (p.MessageType.BULK_LOAD, p.MessageType.BULK_WRITE, p.MessageType.TRANSACT, p.MessageType.LIST):
        return _decode_multi_key(type_, frame.flags, c, rid, limits)
    raw_namespace = c.str8_raw("namespace") if frame.flags & p.FLAG_NAMESPACE else None
    raw_id = c.str8_raw("persistence_id")
    expected: Optional[int] = None
    ttl: Optional[int] = None
    state = b""
    if type_ is p.MessageType.UPSERT:
        expected = c.u64("expected_revision")
        ttl = c.u32("ttl_seconds") if frame.flags & p.FLAG_TTL else None
        state = c.take(c.u32("state length"), "state")
    elif type_ is p.MessageType.DELETE and frame.flags & p.FLAG_EXPECTED_REVISION:
        expected = c.u64("expected_revision")
    c.end()
    # The argument rules (check 8) once the payload's structure is known to be sound.
    namespace = None if raw_namespace is None else _decode_namespace(raw_namespace, rid)
    pid = _decode_id(raw_id, limits.max_id_bytes, rid)
    if type_ is p.MessageType.LOAD:
        return Load(rid, pid, namespace)
    if type_ is p.MessageType.UPSERT:
        assert expected is not None
        if expected > p.MAX_UPSERT_EXPECTED_REVISION:
            raise p._invalid("upsert expected_revision %d is outside 0..2^63-2" % expected, rid)
        if ttl is not None and not 1 <= ttl <= p.MAX_TTL_SECONDS:
            raise p._invalid("ttl_seconds %d is outside 1..2^31-1" % ttl, rid)
        if len(state) > limits.max_state_bytes:
            raise p._invalid("state is %d bytes, more than max_state_bytes %d"
                             % (len(state), limits.max_state_bytes), rid)
        return Upsert(rid, pid, expected, state, namespace, ttl)
    if type_ is not p.MessageType.DELETE:
        raise AssertionError("unhandled request type %s" % type_.name)
    if expected is not None and expected > p.MAX_DELETE_EXPECTED_REVISION:
        raise p._invalid("delete expected_revision %d is outside 0..2^63-1" % expected, rid)
    return Delete(rid, pid, expected, namespace)


# --- Responses --------------------------------------------------------------------------------


def _frame(type_: p.MessageType, request_id: int, payload: bytes = b"") -> bytes:
    return p._HEADER.pack(p.HEADER_BYTES + len(payload), type_, 0, request_id) + payload


def _str8(text: str) -> bytes:
    return p._str8(text.encode("utf-8"))


def encode_hello_ok(request_id: int, version: int, server_version: str, max_frame_bytes: int,
                    max_id_bytes: int, max_state_bytes: int, max_in_flight: int, capabilities: int,
                    max_batch_items: Optional[int] = None, max_batch_bytes: Optional[int] = None) -> bytes:
    """HELLO_OK; the batch limits are written when given (a server announcing MULTI_KEY gives both)."""
    batch = b"" if max_batch_items is None else struct.pack(">II", max_batch_items, max_batch_bytes)
    return _frame(p.MessageType.HELLO_OK, request_id,
                  struct.pack(">H", version) + _str8(server_version)
                  + struct.pack(">IHIII", max_frame_bytes, max_id_bytes, max_state_bytes, max_in_flight,
                                capabilities) + batch)


def encode_ok(request_id: int) -> bytes:
    return _frame(p.MessageType.OK, request_id)


def encode_record(request_id: int, revision: int, updated_at_us: int, state: bytes) -> bytes:
    return _frame(p.MessageType.RECORD, request_id,
                  struct.pack(">QqI", revision, updated_at_us, len(state)) + bytes(state))


def encode_not_found(request_id: int) -> bytes:
    return _frame(p.MessageType.NOT_FOUND, request_id)


def encode_conflict(request_id: int, expected_revision: int, actual_revision: int) -> bytes:
    return _frame(p.MessageType.CONFLICT, request_id, struct.pack(">QQ", expected_revision, actual_revision))


def encode_whoami_ok(request_id: int, uid: int, gid: int, pid: int, user: str, namespace: str, permissions: int,
                     rule: str) -> bytes:
    return _frame(p.MessageType.WHOAMI_OK, request_id,
                  struct.pack(">III", uid, gid, pid) + _str8(user) + _str8(namespace)
                  + struct.pack(">B", permissions) + _str8(rule))


def encode_error(request_id: int, status: int, message: str = "") -> bytes:
    """ERROR; request id 0 when it belongs to no request."""
    raw = message.encode("utf-8")
    return _frame(p.MessageType.ERROR, request_id, struct.pack(">HH", status, len(raw)) + raw)


def encode_health_ok(request_id: int, state: int, pool_up: int, pool_size: int, clients: int, uptime_ms: int) -> bytes:
    return _frame(p.MessageType.HEALTH_OK, request_id, struct.pack(">BHHIQ", state, pool_up, pool_size, clients,
                                                                   uptime_ms))


def encode_stats_ok(request_id: int, entries: Sequence[StatsEntry]) -> bytes:
    payload = struct.pack(">H", len(entries)) + b"".join(
        _str8(e.name) + _str8(e.labels) + struct.pack(">d", e.value) for e in entries)
    return _frame(p.MessageType.STATS_OK, request_id, payload)


def encode_clients_ok(request_id: int, more: int, rows: Sequence[ClientRow]) -> bytes:
    payload = struct.pack(">BH", more, len(rows)) + b"".join(
        struct.pack(">QII", r.connection_id, r.uid, r.pid) + _str8(r.user) + _str8(r.namespace)
        + _str8(r.client_name) + struct.pack(">BQQI", r.state, r.connected_ms, r.requests, r.in_flight)
        for r in rows)
    return _frame(p.MessageType.CLIENTS_OK, request_id, payload)


def encode_records(request_id: int, entries: Sequence[mk.RecordsEntry]) -> bytes:
    payload = struct.pack(">H", len(entries)) + b"".join(
        struct.pack(">BQqI", e.presence, e.revision, e.updated_at_us, len(e.state)) + e.state
        if e.presence == mk.FOUND else struct.pack(">B", e.presence) for e in entries)
    return _frame(p.MessageType.RECORDS, request_id, payload)


def _item_result(r: mk.ItemResult) -> bytes:
    if r.result == mk.WRITTEN:
        return struct.pack(">BQq", r.result, r.revision, r.updated_at_us)
    if r.result == mk.CONFLICT:
        return struct.pack(">BQQ", r.result, r.expected_revision, r.actual_revision)
    if r.result == mk.FAILED:
        raw = r.message.encode("utf-8")
        return struct.pack(">BHH", r.result, r.status, len(raw)) + raw
    return struct.pack(">B", r.result)


def encode_outcomes(request_id: int, outcomes: Sequence[mk.ItemResult]) -> bytes:
    return _frame(p.MessageType.OUTCOMES, request_id,
                  struct.pack(">H", len(outcomes)) + b"".join(_item_result(r) for r in outcomes))


def encode_transact_conflict(request_id: int, conflicts: Sequence[mk.ConflictEntry]) -> bytes:
    return _frame(p.MessageType.TRANSACT_CONFLICT, request_id, struct.pack(">H", len(conflicts)) + b"".join(
        struct.pack(">HQQ", c.index, c.expected_revision, c.actual_revision) for c in conflicts))


def encode_list_ok(request_id: int, more: int, entries: Sequence[mk.ListOkEntry]) -> bytes:
    return _frame(p.MessageType.LIST_OK, request_id, struct.pack(">BH", more, len(entries)) + b"".join(
        _str8(e.persistence_id) + struct.pack(">Qq", e.revision, e.updated_at_us) for e in entries))


def encode_items_unchecked(type_: p.MessageType, request_id: int, items: Sequence[Item],
                           namespace: Optional[str] = None) -> bytes:
    """A BULK_WRITE or TRANSACT frame with no argument rule checked: the frames the client refuses to send
    (section 12.5) but a server must still answer, such as a BULK_WRITE with a broken item (6.25)."""
    flags = _namespace_flag(namespace)
    payload = b"" if namespace is None else _str8(namespace)
    payload += struct.pack(">H", len(items))
    for item in items:
        code = mk.ITEM_UPSERT if item.kind == "upsert" else mk.ITEM_DELETE
        payload += struct.pack(">BB", code, item.item_flags) + p._str8(item.persistence_id.encode("utf-8",
                                                                                                 "surrogateescape"))
        if item.expected_revision is not None:
            payload += struct.pack(">Q", item.expected_revision)
        if item.ttl_seconds is not None:
            payload += struct.pack(">I", item.ttl_seconds)
        if item.kind == "upsert":
            payload += struct.pack(">I", len(item.state)) + item.state
    return p._HEADER.pack(p.HEADER_BYTES + len(payload), type_, flags, request_id) + payload
