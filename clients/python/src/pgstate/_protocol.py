"""Pure codec of the client side of the pgstate wire protocol v1 (proto-spec/PROTOCOL.md). No I/O.

Encoding, the one API: ``encode_hello``, ``encode_ping``, ``encode_load``,
``encode_upsert`` (with a TTL: flag TTL), ``encode_delete``, ``encode_whoami`` and the operators' requests
``encode_health``, ``encode_stats``, ``encode_clients``, ``encode_pause`` and
``encode_resume`` build whole request frames (the multi-key requests are
:mod:`pgstate._multikey`'s)
(length prefix included; a ``namespace`` sets the NAMESPACE flag) and check the argument
rules of section 8 (:mod:`pgstate._arguments`) first, raising
:class:`~pgstate.InvalidArgument` before anything exists to send -- also for a ``str8``
field longer than 255 bytes, which is never truncated (section 12.5).

Decoding: feed received bytes to a :class:`FrameReader` and pull :class:`Frame` objects
from it; it enforces ``max_frame_bytes`` as soon as the 4 length bytes are in and consumes
nothing until a frame is complete. :func:`decode_response` turns a frame into a response
dataclass (the multi-key responses through :mod:`pgstate._multikey`), applying the checks of
section 3.4 in order; failures raise
:class:`~pgstate.ProtocolError` (status 100, 101 or 103) with ``status`` and
``request_id`` set to what a server would answer.

The server half of the codec (decoding requests, encoding responses) is not shipped: the
tests' fake server has it (``tests/server_codec.py``).
"""

from __future__ import annotations

import enum
import functools
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Final, Iterator, Optional, Sequence, Tuple, Union

from ._arguments import (DEFAULT_MAX_ID_BYTES, DEFAULT_MAX_STATE_BYTES, MAX_AFTER_CONNECTION,
                         MAX_DELETE_EXPECTED_REVISION, MAX_ID_BYTES, MAX_NAMESPACE_BYTES, MAX_STR8_BYTES,
                         MAX_TIMEOUT_MS, MAX_TTL_SECONDS, MAX_UPSERT_EXPECTED_REVISION, _invalid, _is_int,
                         check_after_connection, check_client_name,
                         check_delete_revision, check_namespace, check_persistence_id, check_state,
                         check_timeout_ms, check_ttl, check_upsert_revision)
from ._errors import ProtocolError, Status
from ._operator import ClientRow, StatsEntry, decode_client_row, decode_stats_entry, is_metric_name

if TYPE_CHECKING:  # pragma: no cover
    from ._multikey import ListOk, OutcomesResponse, RecordsResponse, TransactConflict

__all__ = [
    "PROTOCOL_VERSION", "LENGTH_BYTES", "HEADER_BYTES",
    "DEFAULT_MAX_FRAME_BYTES", "DEFAULT_MAX_ID_BYTES", "DEFAULT_MAX_STATE_BYTES",
    "DEFAULT_MAX_IN_FLIGHT", "DEFAULT_MAX_BATCH_ITEMS", "DEFAULT_MAX_BATCH_BYTES", "MAX_BATCH_ITEMS",
    "MAX_ID_BYTES", "CAP_CONDITIONAL_DELETE", "CAP_IDENTITY", "CAP_OPERATOR", "CAP_MULTI_KEY", "CAP_TTL",
    "FLAG_EXPECTED_REVISION", "FLAG_NAMESPACE", "FLAG_TTL", "MAX_NAMESPACE_BYTES", "MAX_TTL_SECONDS", "check_ttl",
    "MAX_REQUEST_ID", "MAX_UPSERT_EXPECTED_REVISION", "MAX_DELETE_EXPECTED_REVISION",
    "MAX_REVISION", "MessageType", "Limits", "DEFAULT_LIMITS", "BytesLike", "Frame", "FrameReader",
    "HelloOk", "Ok", "RecordResponse", "NotFound", "Conflict", "ErrorResponse", "WhoAmIOk", "HealthOk",
    "StatsOk", "ClientsOk", "Response",
    "encode_hello", "encode_ping", "encode_load", "encode_upsert", "encode_delete", "encode_whoami",
    "encode_health", "encode_stats", "encode_clients", "encode_pause", "encode_resume",
    "decode_response", "check_persistence_id", "check_namespace", "check_upsert_revision",
    "check_delete_revision", "check_state", "check_client_name", "check_after_connection",
    "check_timeout_ms", "is_metric_name", "MAX_AFTER_CONNECTION", "MAX_TIMEOUT_MS", "HEALTH_OK_BYTES",
]

# --- Constants ------------------------------------------------------------------------------

PROTOCOL_VERSION: Final = 1
LENGTH_BYTES: Final = 4
HEADER_BYTES: Final = 6  # type, flags, request_id

# The defaults of max_id_bytes and max_state_bytes, and the bounds of the arguments, are _arguments.py's.
DEFAULT_MAX_FRAME_BYTES: Final = 8 * 1024 * 1024 + 4096  # 8392704
DEFAULT_MAX_IN_FLIGHT: Final = 1024
DEFAULT_MAX_BATCH_ITEMS: Final = 1000  # MULTI_KEY: ids or items per request, the largest LIST limit
DEFAULT_MAX_BATCH_BYTES: Final = 4 * 1024 * 1024  # MULTI_KEY: the states of one BULK_WRITE or TRANSACT together
MAX_BATCH_ITEMS: Final = 65535  # a u16 count: a server announcing more is unusable (12.2 rule 6)

CAP_CONDITIONAL_DELETE: Final = 0x1
CAP_IDENTITY: Final = 0x2  # WHOAMI and the NAMESPACE flag are served
CAP_OPERATOR: Final = 0x4  # HEALTH, STATS, CLIENTS, PAUSE and RESUME are served
CAP_MULTI_KEY: Final = 0x8  # BULK_LOAD, BULK_WRITE, TRANSACT and LIST are served; HELLO_OK has the batch limits
CAP_TTL: Final = 0x10  # the TTL flag of UPSERT and of upsert items is served
FLAG_EXPECTED_REVISION: Final = 0x01  # DELETE
FLAG_NAMESPACE: Final = 0x02  # the store requests: a namespace comes before the persistence id(s)
FLAG_TTL: Final = 0x04  # UPSERT: ttl_seconds follows expected_revision

MAX_REQUEST_ID: Final = 2**32 - 1
MAX_REVISION: Final = 2**63 - 1  # revisions are positive i64
HEALTH_OK_BYTES: Final = 17  # HEALTH_OK's payload, exactly

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")
_HEADER = struct.Struct(">IBBI")  # length, type, flags, request_id


class MessageType(enum.IntEnum):
    """Frame types. ``0x01``-``0x7F`` are requests, ``0x81``-``0xFF`` responses."""

    HELLO = 0x01
    PING = 0x02
    LOAD = 0x03
    UPSERT = 0x04
    DELETE = 0x05
    WHOAMI = 0x06
    HEALTH = 0x07
    STATS = 0x08
    CLIENTS = 0x09
    PAUSE = 0x0A
    RESUME = 0x0B
    HELLO_OK = 0x81
    OK = 0x82
    RECORD = 0x83
    NOT_FOUND = 0x84
    CONFLICT = 0x85
    ERROR = 0x86
    WHOAMI_OK = 0x87
    HEALTH_OK = 0x88
    STATS_OK = 0x89
    CLIENTS_OK = 0x8A
    BULK_LOAD = 0x0C
    BULK_WRITE = 0x0D
    TRANSACT = 0x0E
    LIST = 0x0F
    RECORDS = 0x8B
    OUTCOMES = 0x8C
    TRANSACT_CONFLICT = 0x8D
    LIST_OK = 0x8E

    @property
    def is_request(self) -> bool:
        return self < 0x80


_REQUEST_TYPES: Final = frozenset(t for t in MessageType if t.is_request)
_RESPONSE_TYPES: Final = frozenset(t for t in MessageType if not t.is_request)


@dataclass(frozen=True)
class Limits:
    """Limits in effect on a connection (PROTOCOL.md section 9)."""

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_id_bytes: int = DEFAULT_MAX_ID_BYTES
    max_state_bytes: int = DEFAULT_MAX_STATE_BYTES
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    max_batch_items: int = DEFAULT_MAX_BATCH_ITEMS  # announced only with MULTI_KEY
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES


DEFAULT_LIMITS: Final = Limits()

BytesLike = Union[bytes, bytearray, memoryview]


# --- Frame encoding -------------------------------------------------------------------------


def _request_frame(type_: int, flags: int, request_id: int, payload: bytes, limits: Limits) -> bytes:
    if not 1 <= request_id <= MAX_REQUEST_ID:
        raise ValueError("request_id %d is outside 1..2^32-1" % request_id)
    length = HEADER_BYTES + len(payload)
    if length > limits.max_frame_bytes:
        raise _invalid("request frame of %d bytes exceeds max_frame_bytes %d"
                       % (length, limits.max_frame_bytes))
    return _HEADER.pack(length, type_, flags, request_id) + payload


def _str8(raw: bytes) -> bytes:
    if len(raw) > MAX_STR8_BYTES:  # the argument checks come first; this is the last guard
        raise _invalid("str8 field of %d bytes, more than %d" % (len(raw), MAX_STR8_BYTES))
    return _U8.pack(len(raw)) + raw


def _bytes32(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def encode_hello(request_id: int, versions: Sequence[int] = (PROTOCOL_VERSION,),
                 client_name: str = "") -> bytes:
    """HELLO: the protocol versions the client speaks (1..255 of them) and a name for logs."""
    if not 1 <= len(versions) <= 255 or not all(_is_int(v) and 0 <= v <= 0xFFFF for v in versions):
        raise _invalid("HELLO needs 1..255 versions, each 0..65535")
    raw_name = check_client_name(client_name)
    payload = _U8.pack(len(versions)) + b"".join(_U16.pack(v) for v in versions) + _str8(raw_name)
    return _request_frame(MessageType.HELLO, 0, request_id, payload, DEFAULT_LIMITS)


def encode_ping(request_id: int) -> bytes:
    """PING: empty payload, answered by OK."""
    return _request_frame(MessageType.PING, 0, request_id, b"", DEFAULT_LIMITS)


def _key(persistence_id: str, namespace: Optional[str], limits: Limits) -> Tuple[int, bytes]:
    """The NAMESPACE flag and the payload's start, ``[namespace] persistence_id``, of LOAD,
    UPSERT and DELETE: without a namespace the request addresses the connection's own."""
    raw_id = _str8(check_persistence_id(persistence_id, limits.max_id_bytes))
    if namespace is None:
        return 0, raw_id
    return FLAG_NAMESPACE, _str8(check_namespace(namespace)) + raw_id


def encode_load(request_id: int, persistence_id: str, limits: Limits = DEFAULT_LIMITS, *,
                namespace: Optional[str] = None) -> bytes:
    """LOAD of one persistence id, in ``namespace`` if given (flag NAMESPACE)."""
    flags, key = _key(persistence_id, namespace, limits)
    return _request_frame(MessageType.LOAD, flags, request_id, key, limits)


def encode_upsert(request_id: int, persistence_id: str, expected_revision: int, state: BytesLike,
                  limits: Limits = DEFAULT_LIMITS, *, namespace: Optional[str] = None,
                  ttl_seconds: Optional[int] = None) -> bytes:
    """UPSERT: create (expected_revision 0) or update revision N to N+1; with ``ttl_seconds`` (flag TTL,
    only to a server announcing TTL) the revision written expires that long after its commit."""
    flags, key = _key(persistence_id, namespace, limits)
    revision = check_upsert_revision(expected_revision)
    ttl = b"" if ttl_seconds is None else _U32.pack(check_ttl(ttl_seconds))
    data = check_state(state, limits.max_state_bytes)
    payload = key + _U64.pack(revision) + ttl + _bytes32(data)
    return _request_frame(MessageType.UPSERT, flags | (FLAG_TTL if ttl else 0), request_id, payload, limits)


def encode_delete(request_id: int, persistence_id: str, expected_revision: Optional[int] = None,
                  limits: Limits = DEFAULT_LIMITS, *, namespace: Optional[str] = None) -> bytes:
    """DELETE: unconditional when ``expected_revision`` is None, else conditional (flag 0x01)."""
    flags, key = _key(persistence_id, namespace, limits)
    if expected_revision is None:
        return _request_frame(MessageType.DELETE, flags, request_id, key, limits)
    revision = check_delete_revision(expected_revision)
    return _request_frame(MessageType.DELETE, flags | FLAG_EXPECTED_REVISION, request_id,
                          key + _U64.pack(revision), limits)


def encode_whoami(request_id: int) -> bytes:
    """WHOAMI: empty payload, answered by WHOAMI_OK (only to a server announcing IDENTITY)."""
    return _request_frame(MessageType.WHOAMI, 0, request_id, b"", DEFAULT_LIMITS)


def encode_health(request_id: int) -> bytes:
    """HEALTH: empty payload, answered by HEALTH_OK (only to a server announcing OPERATOR)."""
    return _request_frame(MessageType.HEALTH, 0, request_id, b"", DEFAULT_LIMITS)


def encode_stats(request_id: int) -> bytes:
    """STATS: empty payload, answered by STATS_OK (OPERATOR; the server wants ADMIN)."""
    return _request_frame(MessageType.STATS, 0, request_id, b"", DEFAULT_LIMITS)


def encode_clients(request_id: int, after_connection: int = 0) -> bytes:
    """CLIENTS: the page of connections whose id is greater than ``after_connection`` (0: the first)."""
    return _request_frame(MessageType.CLIENTS, 0, request_id, _U64.pack(check_after_connection(after_connection)),
                          DEFAULT_LIMITS)


def encode_pause(request_id: int, timeout_ms: int) -> bytes:
    """PAUSE: hold requests back from PostgreSQL; one waiting over ``timeout_ms`` (0: no limit) fails 200."""
    return _request_frame(MessageType.PAUSE, 0, request_id, _U32.pack(check_timeout_ms(timeout_ms)), DEFAULT_LIMITS)


def encode_resume(request_id: int) -> bytes:
    """RESUME: let the requests held back by PAUSE run; answered OK."""
    return _request_frame(MessageType.RESUME, 0, request_id, b"", DEFAULT_LIMITS)


# --- Response dataclasses -------------------------------------------------------------------


@dataclass(frozen=True)
class HelloOk:
    """HELLO_OK as decoded; whether its version and limits are usable is the handshake's check."""

    request_id: int
    version: int
    server_version: str
    max_frame_bytes: int
    max_id_bytes: int
    max_state_bytes: int
    max_in_flight: int
    capabilities: int
    max_batch_items: Optional[int] = None  # present iff MULTI_KEY is announced
    max_batch_bytes: Optional[int] = None
    TYPE: ClassVar[MessageType] = MessageType.HELLO_OK
    flags: ClassVar[int] = 0

    @functools.cached_property  # once per connection, not once per request
    def limits(self) -> Limits:
        """The limits in effect; the batch limits are the defaults' when MULTI_KEY is not announced (the
        multi-key calls are then refused before they look at them)."""
        return Limits(self.max_frame_bytes, self.max_id_bytes, self.max_state_bytes, self.max_in_flight,
                      DEFAULT_MAX_BATCH_ITEMS if self.max_batch_items is None else self.max_batch_items,
                      DEFAULT_MAX_BATCH_BYTES if self.max_batch_bytes is None else self.max_batch_bytes)

    @property
    def conditional_delete(self) -> bool:
        return bool(self.capabilities & CAP_CONDITIONAL_DELETE)

    @property
    def identity(self) -> bool:
        """IDENTITY: the server answers WHOAMI and accepts the NAMESPACE flag."""
        return bool(self.capabilities & CAP_IDENTITY)

    @property
    def operator(self) -> bool:
        """OPERATOR: the server answers HEALTH, STATS, CLIENTS, PAUSE and RESUME."""
        return bool(self.capabilities & CAP_OPERATOR)

    @property
    def multi_key(self) -> bool:
        """MULTI_KEY: the server answers BULK_LOAD, BULK_WRITE, TRANSACT and LIST, within the batch limits."""
        return bool(self.capabilities & CAP_MULTI_KEY)

    @property
    def ttl(self) -> bool:
        """TTL: the server accepts a TTL on UPSERT and on upsert items."""
        return bool(self.capabilities & CAP_TTL)


@dataclass(frozen=True)
class Ok:
    request_id: int
    TYPE: ClassVar[MessageType] = MessageType.OK
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class RecordResponse:
    request_id: int
    revision: int
    updated_at_us: int  # microseconds since the Unix epoch, may be negative
    state: bytes = field(repr=False)
    TYPE: ClassVar[MessageType] = MessageType.RECORD
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class NotFound:
    request_id: int
    TYPE: ClassVar[MessageType] = MessageType.NOT_FOUND
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class Conflict:
    request_id: int
    expected_revision: int
    actual_revision: int
    TYPE: ClassVar[MessageType] = MessageType.CONFLICT
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class ErrorResponse:
    request_id: int
    status: int
    message: str
    TYPE: ClassVar[MessageType] = MessageType.ERROR
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class WhoAmIOk:
    """WHOAMI_OK as decoded; ``permissions`` is the byte as sent, reserved bits included."""

    request_id: int
    uid: int
    gid: int
    pid: int
    user: str
    namespace: str
    permissions: int
    rule: str
    TYPE: ClassVar[MessageType] = MessageType.WHOAMI_OK
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class HealthOk:
    """HEALTH_OK as decoded; ``state`` is the byte as sent, reserved bits included."""

    request_id: int
    state: int
    pool_up: int  # database connections up
    pool_size: int
    clients: int
    uptime_ms: int
    TYPE: ClassVar[MessageType] = MessageType.HEALTH_OK
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class StatsOk:
    request_id: int
    entries: Tuple[StatsEntry, ...]
    TYPE: ClassVar[MessageType] = MessageType.STATS_OK
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class ClientsOk:
    """CLIENTS_OK as decoded; whether its ids fit the request is the call's check."""

    request_id: int
    more: int  # 0 or 1
    rows: Tuple[ClientRow, ...]
    TYPE: ClassVar[MessageType] = MessageType.CLIENTS_OK
    flags: ClassVar[int] = 0


Response = Union[HelloOk, Ok, RecordResponse, NotFound, Conflict, ErrorResponse, WhoAmIOk, HealthOk, StatsOk,
                 ClientsOk, "RecordsResponse", "OutcomesResponse", "TransactConflict", "ListOk"]


# --- Frame reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One complete frame: its header fields and its payload (the body after the header)."""

    type: int
    flags: int
    request_id: int
    payload: bytes = field(repr=False)

    @property
    def length(self) -> int:
        """The frame's ``length`` field: header plus payload."""
        return HEADER_BYTES + len(self.payload)


class FrameReader:
    """Incremental frame splitter: ``feed()`` bytes in, pull :class:`Frame` objects out.

    ``next_frame()`` returns None until a whole frame is buffered, and consumes nothing
    until then. It raises ProtocolError 103 FRAME_TOO_LARGE as soon as 4 length bytes
    announcing more than ``max_frame_bytes`` are buffered (without waiting for the body),
    and ProtocolError 100 MALFORMED_FRAME for a length below the 6-byte header; both with
    request id 0. After an error the reader stays failed (the connection must be closed).
    ``max_frame_bytes`` may be changed between frames (after the handshake).
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes: int = max_frame_bytes
        self._buf = bytearray()
        self._error: Optional[ProtocolError] = None

    @property
    def buffered(self) -> int:
        """Number of bytes fed but not yet consumed as frames."""
        return len(self._buf)

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> None:
        self._buf += data

    def next_frame(self) -> Optional[Frame]:
        if self._error is not None:
            raise self._error
        buf = self._buf
        if len(buf) < LENGTH_BYTES:
            return None
        (length,) = _U32.unpack_from(buf, 0)
        if length > self.max_frame_bytes:
            self._error = ProtocolError(
                "frame length %d exceeds max_frame_bytes %d" % (length, self.max_frame_bytes),
                status=Status.FRAME_TOO_LARGE, request_id=0)
            raise self._error
        if length < HEADER_BYTES:
            self._error = ProtocolError(
                "frame length %d is shorter than the %d-byte header" % (length, HEADER_BYTES),
                status=Status.MALFORMED_FRAME, request_id=0)
            raise self._error
        end = LENGTH_BYTES + length
        if len(buf) < end:
            return None
        _, type_, flags, request_id = _HEADER.unpack_from(buf, 0)
        payload = bytes(buf[LENGTH_BYTES + HEADER_BYTES:end])
        del buf[:end]
        return Frame(type_, flags, request_id, payload)

    def __iter__(self) -> Iterator[Frame]:
        """Every complete frame buffered so far."""
        while True:
            frame = self.next_frame()
            if frame is None:
                return
            yield frame


# --- Payload decoding -----------------------------------------------------------------------


class _Cursor:
    """Reads payload fields; a field running past the end is MALFORMED_FRAME."""

    def __init__(self, frame: Frame) -> None:
        self._data = frame.payload
        self._pos = 0
        self._request_id = frame.request_id
        self._type_name = MessageType(frame.type).name

    def malformed(self, what: str) -> ProtocolError:
        return ProtocolError("%s: %s" % (self._type_name, what),
                             status=Status.MALFORMED_FRAME, request_id=self._request_id)

    def take(self, n: int, what: str) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise self.malformed("%s runs past the end of the frame" % what)
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int(_U16.unpack(self.take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self.take(4, what))[0])

    def u64(self, what: str) -> int:
        return int(_U64.unpack(self.take(8, what))[0])

    def i64(self, what: str) -> int:
        return int(_I64.unpack(self.take(8, what))[0])

    def f64(self, what: str) -> float:
        return float(_F64.unpack(self.take(8, what))[0])

    def text8(self, what: str) -> str:
        return self.text(self.str8_raw(what), what)

    def str8_raw(self, what: str) -> bytes:
        return self.take(self.u8(what + " length"), what)

    def text(self, raw: bytes, what: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.malformed("%s is not valid UTF-8" % what) from None

    def end(self) -> None:
        if self._pos != len(self._data):
            raise self.malformed("%d trailing bytes" % (len(self._data) - self._pos))


def _check_flags(frame: Frame, allowed: int) -> None:
    if frame.flags & ~allowed:
        raise ProtocolError(
            "%s with undefined flag bits 0x%02x" % (MessageType(frame.type).name, frame.flags & ~allowed),
            status=Status.MALFORMED_FRAME, request_id=frame.request_id)


_MULTI_KEY_RESPONSES: Final = frozenset({MessageType.RECORDS, MessageType.OUTCOMES, MessageType.TRANSACT_CONFLICT,
                                          MessageType.LIST_OK})


def decode_response(frame: Frame) -> Response:
    """Decode a response frame (client side): checks 4, 5 and 6 of PROTOCOL.md section 3.4,
    plus "a non-ERROR response with request id 0 is malformed".

    Whether the response fits the request it answers is the classifier's check
    (:mod:`pgstate._outcomes`, PROTOCOL.md section 12.2).
    """
    rid = frame.request_id
    if frame.type not in _RESPONSE_TYPES:
        raise ProtocolError("unknown response type 0x%02x" % frame.type,
                            status=Status.UNKNOWN_MESSAGE_TYPE, request_id=rid)
    type_ = MessageType(frame.type)
    if rid == 0 and type_ is not MessageType.ERROR:
        raise ProtocolError("%s with request id 0" % type_.name,
                            status=Status.MALFORMED_FRAME, request_id=0)
    _check_flags(frame, 0)
    c = _Cursor(frame)
    response: Response
    if type_ is MessageType.HELLO_OK:
        version = c.u16("version")
        server_version = c.text(c.str8_raw("server_version"), "server_version")
        max_frame_bytes, max_id_bytes = c.u32("max_frame_bytes"), c.u16("max_id_bytes")
        max_state_bytes, max_in_flight, capabilities = c.u32("max_state_bytes"), c.u32("max_in_flight"), \
            c.u32("capabilities")
        if capabilities & CAP_MULTI_KEY:  # the two batch limits follow (a HELLO_OK without them is cut short)
            response = HelloOk(rid, version, server_version, max_frame_bytes, max_id_bytes, max_state_bytes,
                               max_in_flight, capabilities, c.u32("max_batch_items"), c.u32("max_batch_bytes"))
        else:
            response = HelloOk(rid, version, server_version, max_frame_bytes, max_id_bytes, max_state_bytes,
                               max_in_flight, capabilities)
    elif type_ is MessageType.OK:
        response = Ok(rid)
    elif type_ is MessageType.RECORD:
        revision = c.u64("revision")
        updated_at_us = c.i64("updated_at")
        state = c.take(c.u32("state length"), "state")
        response = RecordResponse(rid, revision, updated_at_us, state)
    elif type_ is MessageType.NOT_FOUND:
        response = NotFound(rid)
    elif type_ is MessageType.CONFLICT:
        response = Conflict(rid, c.u64("expected_revision"), c.u64("actual_revision"))
    elif type_ is MessageType.WHOAMI_OK:
        uid, gid, pid = c.u32("uid"), c.u32("gid"), c.u32("pid")
        user = c.text(c.str8_raw("user"), "user")
        namespace = c.text(c.str8_raw("namespace"), "namespace")
        response = WhoAmIOk(rid, uid, gid, pid, user, namespace, c.u8("permissions"),
                            c.text(c.str8_raw("rule"), "rule"))
    elif type_ is MessageType.HEALTH_OK:
        if len(frame.payload) != HEALTH_OK_BYTES:
            raise c.malformed("payload of %d bytes; it has exactly %d" % (len(frame.payload), HEALTH_OK_BYTES))
        response = HealthOk(rid, c.u8("state"), c.u16("pool_up"), c.u16("pool_size"), c.u32("clients"),
                            c.u64("uptime_ms"))
    elif type_ is MessageType.STATS_OK:
        count = c.u16("count")
        response = StatsOk(rid, tuple(decode_stats_entry(c) for _ in range(count)))
    elif type_ is MessageType.CLIENTS_OK:
        more = c.u8("more")
        if more > 1:
            raise c.malformed("more is %d; 0 or 1" % more)
        count = c.u16("count")
        response = ClientsOk(rid, more, tuple(decode_client_row(c) for _ in range(count)))
    elif type_ in _MULTI_KEY_RESPONSES:
        from ._multikey import decode_payload  # it builds on this module, which cannot import it first
        response = decode_payload(type_, c, rid)
    else:
        assert type_ is MessageType.ERROR, type_
        status = c.u16("status")
        message = c.text(c.take(c.u16("message length"), "message"), "message")
        response = ErrorResponse(rid, status, message)
    c.end()
    return response
