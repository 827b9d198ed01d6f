"""The server half of the protocol v1 codec, for the fake server and the tests only.

The package ships the client half (encode requests, decode responses). This module has the
other half: decode requests (checks 3-6 and 8 of PROTOCOL.md section 3.4), WHOAMI, the
NAMESPACE flag and the operators' requests included, into small request dataclasses, and
encode responses. It reuses the
package's payload cursor and argument rules, frame header and str8 packing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Sequence, Tuple, Union

from pgstate import ClientRow, ProtocolError, StatsEntry, Status
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
    TYPE: ClassVar[p.MessageType] = p.MessageType.UPSERT

    @property
    def flags(self) -> int:
        return _namespace_flag(self.namespace)


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


Request = Union[Hello, Ping, WhoAmI, Load, Upsert, Delete, Health, Stats, Clients, Pause, Resume]

# The flag bits each request type may set (PROTOCOL.md section 3.2).
_FLAGS = {p.MessageType.LOAD: p.FLAG_NAMESPACE, p.MessageType.UPSERT: p.FLAG_NAMESPACE,
          p.MessageType.DELETE: p.FLAG_NAMESPACE | p.FLAG_EXPECTED_REVISION}


_OPERATOR_DECODERS = {
    p.MessageType.HEALTH: lambda rid, c: Health(rid),
    p.MessageType.STATS: lambda rid, c: Stats(rid),
    p.MessageType.CLIENTS: lambda rid, c: Clients(rid, c.u64("after_connection")),
    p.MessageType.PAUSE: lambda rid, c: Pause(rid, c.u32("timeout_ms")),
    p.MessageType.RESUME: lambda rid, c: Resume(rid),
}


def _decode_id(raw: bytes, max_id_bytes: int, request_id: int) -> str:
    p._check_id_bytes(raw, max_id_bytes, request_id)
    try:
        return raw.decode("utf-8")  # strict: rejects overlong forms, surrogates, truncation
    except UnicodeDecodeError:
        raise p._invalid("persistence_id is not valid UTF-8", request_id) from None


def _decode_namespace(raw: bytes, request_id: int) -> str:
    p._check_namespace_bytes(raw, request_id)
    return raw.decode("ascii")


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
    raw_namespace = c.str8_raw("namespace") if frame.flags & p.FLAG_NAMESPACE else None
    raw_id = c.str8_raw("persistence_id")
    expected: Optional[int] = None
    state = b""
    if type_ is p.MessageType.UPSERT:
        expected = c.u64("expected_revision")
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
        if len(state) > limits.max_state_bytes:
            raise p._invalid("state is %d bytes, more than max_state_bytes %d"
                             % (len(state), limits.max_state_bytes), rid)
        return Upsert(rid, pid, expected, state, namespace)
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
                    max_id_bytes: int, max_state_bytes: int, max_in_flight: int, capabilities: int) -> bytes:
    return _frame(p.MessageType.HELLO_OK, request_id,
                  struct.pack(">H", version) + _str8(server_version)
                  + struct.pack(">IHIII", max_frame_bytes, max_id_bytes, max_state_bytes, max_in_flight,
                                capabilities))


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
