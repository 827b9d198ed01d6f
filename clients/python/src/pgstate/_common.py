"""Transport-independent client logic shared by the sync and the async client.

A :class:`Call` is one operation (ping, load, upsert, delete): it checks its arguments,
encodes its request frame against the limits the server announced, and turns the
response into a result or an exception. The status-to-exception mapping of PROTOCOL.md
section 7 and the rules for a lost connection live here too, so both clients agree.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any, Final, FrozenSet, Optional, Sequence, Union

from . import _protocol as p
from ._errors import (
    ConcurrencyError,
    Error,
    InvalidArgument,
    OutcomeUnknown,
    ProtocolError,
    ServerError,
    Status,
    Unavailable,
)
from ._record import Record, datetime_from_us
from ._version import __version__

SOCKET_ENV: Final = "PGSTATE_SOCKET"
DEFAULT_SOCKET_PATH: Final = "/run/pgstated/pgstated.sock"
CLIENT_NAME: Final = "pgstate-py/" + __version__
SUPPORTED_VERSIONS: Final = (p.PROTOCOL_VERSION,)
HELLO_REQUEST_ID: Final = 1

PathLike = Union[str, "os.PathLike[str]"]

# Statuses after which the server closes the connection (PROTOCOL.md section 10). 202
# closes once in-flight work is answered: no new request may be sent on the connection.
_CLOSING_STATUSES: Final = frozenset({
    Status.MALFORMED_FRAME, Status.FRAME_TOO_LARGE, Status.UNSUPPORTED_VERSION,
    Status.NOT_ALLOWED, Status.SHUTTING_DOWN,
})


def resolve_socket_path(socket_path: Optional[PathLike]) -> str:
    """The explicit path, else ``$PGSTATE_SOCKET``, else ``/run/pgstated/pgstated.sock``."""
    if socket_path is None:
        return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET_PATH
    return os.fspath(socket_path)


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError("timeout must be a positive number of seconds or None, not %r" % (timeout,))
    return float(timeout)


def connect_error(path: str, exc: BaseException) -> Unavailable:
    """The Unavailable raised when the socket at ``path`` cannot be connected to."""
    if isinstance(exc, FileNotFoundError):
        text = "pgstated socket %s does not exist (is pgstated running? is %s set?)" % (path, SOCKET_ENV)
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection to pgstated at %s refused (is pgstated running?)" % path
    elif isinstance(exc, (TimeoutError, socket.timeout)) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        text = "connecting to pgstated at %s timed out" % path
    else:
        text = "cannot connect to pgstated at %s: %s" % (path, exc)
    return Unavailable(text)


def error_for_status(status: int, message: str, request_id: Optional[int], is_write: bool) -> Error:
    """Map an ERROR response to an exception by status class (PROTOCOL.md section 7)."""
    if status == Status.INVALID_ARGUMENT:
        return InvalidArgument(message, status=status, request_id=request_id)
    if 100 <= status < 200:
        return ProtocolError(message, status=status, request_id=request_id)
    if 200 <= status < 300:
        return Unavailable(message, status=status, request_id=request_id)
    if 300 <= status < 400:
        return OutcomeUnknown(message, status=status, request_id=request_id)
    # 5xx and every code outside the classes: a server fault; a write's outcome is unknown.
    if is_write:
        return OutcomeUnknown(message, status=status, request_id=request_id)
    return ServerError(message, status=status, request_id=request_id)


def closes_connection(response: p.ErrorResponse) -> bool:
    """Whether the server closes (or drains) the connection after this ERROR."""
    return response.request_id == 0 or response.status in _CLOSING_STATUSES


def check_hello_ok(response: p.Response, offered: Sequence[int] = SUPPORTED_VERSIONS) -> p.HelloOk:
    """Validate the answer to HELLO; raise the mapped error for an ERROR answer."""
    if isinstance(response, p.ErrorResponse):
        raise error_for_status(response.status, response.message, response.request_id, False)
    if not isinstance(response, p.HelloOk):
        raise ProtocolError("expected HELLO_OK, got %s" % response.TYPE.name)
    if response.request_id != HELLO_REQUEST_ID:
        raise ProtocolError("HELLO_OK echoes request id %d, not %d" % (response.request_id, HELLO_REQUEST_ID))
    if response.version not in offered:
        raise ProtocolError("server chose protocol version %d, which was not offered" % response.version)
    if response.max_in_flight < 1 or response.max_frame_bytes < p.HEADER_BYTES:
        raise ProtocolError("server announced unusable limits: %r" % (response.limits,))
    return response


class Call:
    """One operation: its arguments, its request frame, and the meaning of its answer."""

    def __init__(self, type_: p.MessageType, persistence_id: Optional[str] = None,
                 expected_revision: Optional[int] = None, state: bytes = b"") -> None:
        self.type = type_
        self.persistence_id = persistence_id
        self.expected_revision = expected_revision
        self.state = state
        self.is_write = type_ in (p.MessageType.UPSERT, p.MessageType.DELETE)
        self.conditional = type_ is p.MessageType.DELETE and expected_revision is not None
        self._allowed: FrozenSet[p.MessageType] = p.allowed_responses(self._request(1))

    @property
    def name(self) -> str:
        return self.type.name.lower()

    # -- construction with the argument checks that need no server ---------------------------

    @classmethod
    def ping(cls) -> "Call":
        return cls(p.MessageType.PING)

    @classmethod
    def load(cls, persistence_id: str) -> "Call":
        p.check_persistence_id(persistence_id, p.MAX_ID_BYTES)
        return cls(p.MessageType.LOAD, persistence_id)

    @classmethod
    def upsert(cls, persistence_id: str, expected_revision: int, state: p.BytesLike) -> "Call":
        p.check_persistence_id(persistence_id, p.MAX_ID_BYTES)
        p.check_upsert_revision(expected_revision)
        data = p.check_state(state, 2**32 - 1)
        return cls(p.MessageType.UPSERT, persistence_id, expected_revision, data)

    @classmethod
    def delete(cls, persistence_id: str, expected_revision: Optional[int] = None) -> "Call":
        p.check_persistence_id(persistence_id, p.MAX_ID_BYTES)
        if expected_revision is not None:
            p.check_delete_revision(expected_revision)
        return cls(p.MessageType.DELETE, persistence_id, expected_revision)

    def _request(self, request_id: int) -> Union[p.Ping, p.Load, p.Upsert, p.Delete]:
        t = self.type
        if t is p.MessageType.PING:
            return p.Ping(request_id)
        assert self.persistence_id is not None
        if t is p.MessageType.LOAD:
            return p.Load(request_id, self.persistence_id)
        if t is p.MessageType.UPSERT:
            assert self.expected_revision is not None
            return p.Upsert(request_id, self.persistence_id, self.expected_revision, self.state)
        assert t is p.MessageType.DELETE, t
        return p.Delete(request_id, self.persistence_id, self.expected_revision)

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        """The request frame, checked against the limits the server announced."""
        if self.conditional and not hello.conditional_delete:
            raise Error("pgstated %s does not support conditional delete (no CONDITIONAL_DELETE capability)"
                        % hello.server_version)
        request = self._request(request_id)
        if isinstance(request, p.Ping):
            return request.encode()
        return request.encode(hello.limits)

    # -- the answer ----------------------------------------------------------------------------

    def result(self, response: p.Response) -> Any:
        """The call's result for ``response``, or raise the exception it stands for."""
        if isinstance(response, p.ErrorResponse):
            raise error_for_status(response.status, response.message, response.request_id, self.is_write)
        if response.TYPE not in self._allowed:
            raise ProtocolError("unexpected %s answering %s (request id %d)"
                                % (response.TYPE.name, self.type.name, response.request_id),
                                request_id=response.request_id)
        if isinstance(response, (p.Ok, p.NotFound)):
            return None
        pid = self.persistence_id
        assert pid is not None
        if isinstance(response, p.Conflict):
            if response.expected_revision != self.expected_revision \
                    or response.actual_revision == response.expected_revision:
                raise ProtocolError("CONFLICT(expected %d, actual %d) does not fit %s expecting %s"
                                    % (response.expected_revision, response.actual_revision,
                                       self.type.name, self.expected_revision),
                                    request_id=response.request_id)
            raise ConcurrencyError(pid, response.expected_revision, response.actual_revision)
        assert isinstance(response, p.RecordResponse), response
        if self.type is p.MessageType.UPSERT:
            assert self.expected_revision is not None
            if response.revision != self.expected_revision + 1:
                raise ProtocolError("RECORD revision %d answering UPSERT expecting %d"
                                    % (response.revision, self.expected_revision),
                                    request_id=response.request_id)
        elif not 1 <= response.revision <= p.MAX_DELETE_EXPECTED_REVISION:
            raise ProtocolError("RECORD revision %d is outside 1..2^63-1" % response.revision,
                                request_id=response.request_id)
        return Record(pid, response.revision, response.state, datetime_from_us(response.updated_at_us))

    # -- failures without an answer ------------------------------------------------------------

    def connection_lost(self, written: bool, cause: Optional[BaseException] = None) -> Error:
        """The error for this call when its connection ended before the answer.

        After ERROR 202 SHUTTING_DOWN with request id 0 (the server's last frame) every
        request still unanswered was not executed (PROTOCOL.md section 10): Unavailable.
        Otherwise a write that was sent has an unknown outcome.
        """
        reason = "" if cause is None else ": %s" % (cause,)
        if isinstance(cause, Error) and cause.status == Status.SHUTTING_DOWN and cause.request_id == 0:
            exc: Error = Unavailable("pgstated is shutting down; the %s was not executed (%s)"
                                     % (self.name, cause.message), status=cause.status)
        elif not written:
            exc = Unavailable("connection to pgstated closed before the %s was sent%s" % (self.name, reason))
        elif self.is_write:
            exc = OutcomeUnknown("connection to pgstated lost after the %s was sent%s; it may or may not "
                                 "have been applied (load to find out)" % (self.name, reason))
        else:
            exc = Unavailable("connection to pgstated lost before the answer to the %s%s" % (self.name, reason))
        exc.__cause__ = cause
        return exc

    def timed_out(self, written: bool, timeout: Optional[float]) -> Error:
        """The error for this call when its timeout expired."""
        if written and self.is_write:
            return OutcomeUnknown("%s timed out after %gs; it may or may not have been applied "
                                  "(load to find out)" % (self.name, timeout or 0))
        return Unavailable("%s timed out after %gs" % (self.name, timeout or 0))
