"""The client's behaviour as one pure classifier: PROTOCOL.md section 12. No I/O.

For a request in flight and an event -- a frame received, the connection lost, the
deadline passed -- it decides the :class:`Outcome` the caller sees (a result or the
exception to raise, with its class of section 12.1) and what to do with the connection
(:class:`Connection`: keep, drain or drop). Both the blocking and the asyncio client
call these functions and only carry out what they return;
``tests/test_outcomes.py`` runs every vector of ``proto-spec/vectors/outcomes.json``
through them.

What fits a response to one kind of request (rules 4, 6 and 7 of section 12.2) is the
call's own :meth:`~pgstate._calls.Call.answer`; the rest -- connection-level frames,
request ids, ERROR statuses, endings and timeouts -- is here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, FrozenSet, Optional, Union

from . import _protocol as p
from ._errors import (
    ConcurrencyError,
    Error,
    InvalidArgument,
    OutcomeUnknown,
    PermissionDenied,
    ProtocolError,
    ServerError,
    Status,
    TransactionConflict,
    Unavailable,
    status_name,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._calls import Call

__all__ = [
    "OutcomeClass", "Connection", "EndReason", "Ending", "Outcome", "Received",
    "classify_received", "classify_response", "classify_error", "ending_for", "stray_ending",
    "after_ending", "classify_lost", "classify_timeout", "result", "protocol_error", "item_error",
]

# A frame as the reader delivers it: a decoded response, or the ProtocolError that decoding
# (or the frame size check) raised.
Received = Union[p.Response, ProtocolError]


class OutcomeClass(str, enum.Enum):
    """The outcome classes of PROTOCOL.md section 12.1 (values as in outcomes.json)."""

    OK = "ok"
    IDENTITY = "identity"
    HEALTH = "health"
    STATS = "stats"
    CLIENTS = "clients"
    RECORD = "record"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RECORDS = "records"
    OUTCOMES = "outcomes"
    COMMITTED = "committed"
    TRANSACTION_CONFLICT = "transaction_conflict"
    PAGE = "page"
    INVALID_ARGUMENT = "invalid_argument"
    PERMISSION_DENIED = "permission_denied"
    UNAVAILABLE = "unavailable"
    OUTCOME_UNKNOWN = "outcome_unknown"
    SERVER_ERROR = "server_error"
    PROTOCOL_ERROR = "protocol_error"


class Connection(str, enum.Enum):
    """What the client does with the connection (section 12.3)."""

    KEEP = "keep"    # stays usable
    DRAIN = "drain"  # no new request on it; answers still in flight are read
    DROP = "drop"    # closed now; every other request in flight fails by the Outcome's ending


class EndReason(enum.Enum):
    """Why a connection ended, which decides how the requests left in flight fail (12.3)."""

    PROTOCOL_ERROR = "protocol_error"  # the stream cannot be trusted: every request a protocol error
    NOT_EXECUTED = "not_executed"      # the final ERROR 202 with request id 0: nothing unanswered ran
    LOST = "lost"                      # ended otherwise: written writes unknown, the rest unavailable


@dataclass(frozen=True)
class Ending:
    reason: EndReason
    cause: BaseException          # for the message, and chained as __cause__
    status: Optional[int] = None  # the status of the ERROR frame that ended it, if one did


_EXCEPTION = {
    OutcomeClass.CONFLICT: ConcurrencyError,
    OutcomeClass.TRANSACTION_CONFLICT: TransactionConflict,
    OutcomeClass.INVALID_ARGUMENT: InvalidArgument,
    OutcomeClass.PERMISSION_DENIED: PermissionDenied,
    OutcomeClass.UNAVAILABLE: Unavailable,
    OutcomeClass.OUTCOME_UNKNOWN: OutcomeUnknown,
    OutcomeClass.SERVER_ERROR: ServerError,
    OutcomeClass.PROTOCOL_ERROR: ProtocolError,
}


@dataclass(frozen=True)
class Outcome:
    """What one call ends in, and what to do with its connection.

    ``result`` is the call's return value for ``ok``, ``identity``, ``health``, ``stats``,
    ``clients``, ``record``, ``not_found``, ``records``, ``outcomes``, ``committed`` and ``page``;
    ``error`` the exception to raise for every other class. ``status`` is the status of
    the ERROR frame that made the outcome, if one did. With ``Connection.DROP``,
    ``ending`` says how every other request in flight on the connection fails.
    """

    cls: OutcomeClass
    connection: Connection
    result: Any = None
    error: Optional[Error] = None
    status: Optional[int] = None
    ending: Optional[Ending] = None

    def __post_init__(self) -> None:
        want = _EXCEPTION.get(self.cls)
        if (want is None) != (self.error is None) or (want is not None and not isinstance(self.error, want)):
            raise AssertionError("outcome %s with error %r" % (self.cls.value, self.error))
        if (self.connection is Connection.DROP) != (self.ending is not None):
            raise AssertionError("a drop, and only a drop, says how the other requests fail")

    def value(self) -> Any:
        """The call's result, or raise its exception."""
        if self.error is not None:
            raise self.error
        return self.result


# --- Building outcomes ----------------------------------------------------------------------


def result(cls: OutcomeClass, value: Any = None) -> Outcome:
    """A result (ok, identity, health, stats, clients, record, not_found, records, outcomes, committed,
    page): the connection stays usable."""
    return Outcome(cls, Connection.KEEP, result=value)


def protocol_error(message: str, request_id: Optional[int] = None) -> Outcome:
    """A protocol error the client detected in a frame: drop, failing everything else too."""
    exc = ProtocolError(message, request_id=request_id)
    return Outcome(OutcomeClass.PROTOCOL_ERROR, Connection.DROP, error=exc,
                   ending=Ending(EndReason.PROTOCOL_ERROR, exc))


def _error_class(status: int, is_write: bool) -> OutcomeClass:
    """Section 12.2 rule 5: the outcome of an ERROR status, by class."""
    if status == Status.INVALID_ARGUMENT:
        return OutcomeClass.INVALID_ARGUMENT
    if status == Status.PERMISSION_DENIED:
        return OutcomeClass.PERMISSION_DENIED
    if 100 <= status <= 199:
        return OutcomeClass.PROTOCOL_ERROR
    if 200 <= status <= 299:
        return OutcomeClass.UNAVAILABLE
    if 300 <= status <= 399:
        return OutcomeClass.OUTCOME_UNKNOWN
    # 5xx and every status outside the classes: a server fault. A write's outcome is then
    # unknown (section 7: never assume whether it was applied).
    return OutcomeClass.OUTCOME_UNKNOWN if is_write else OutcomeClass.SERVER_ERROR


def item_error(status: int, message: str) -> Error:
    """The exception of a BULK_WRITE item answered FAILED ``status`` (PROTOCOL.md 6.26): the status means
    for that item what it would mean answering the single write it mirrors (rule 5; 300 or 500: unknown)."""
    error: Error = _EXCEPTION[_error_class(status, is_write=True)](message, status=status)
    return error


# The statuses with a request id after which the server closes (section 10 case 1). 106
# PERMISSION_DENIED closes only answering HELLO, and every ERROR answering HELLO drops.
_CLOSING: FrozenSet[int] = frozenset({Status.MALFORMED_FRAME, Status.FRAME_TOO_LARGE,
                                      Status.UNSUPPORTED_VERSION, Status.NOT_ALLOWED})


def classify_error(call: "Call", response: p.ErrorResponse) -> Outcome:
    """ERROR answering ``call`` (its own request id): section 12.2 rule 5."""
    status = response.status
    cls = _error_class(status, call.is_write)
    exc = _EXCEPTION[cls](response.message, status=status, request_id=response.request_id)
    if call.is_handshake or status in _CLOSING:
        reason = EndReason.PROTOCOL_ERROR if cls is OutcomeClass.PROTOCOL_ERROR else EndReason.LOST
        return Outcome(cls, Connection.DROP, error=exc, status=status, ending=Ending(reason, exc, status))
    connection = Connection.DRAIN if status == Status.SHUTTING_DOWN else Connection.KEEP
    return Outcome(cls, connection, error=exc, status=status)


# --- Frames --------------------------------------------------------------------------------


def ending_for(received: Received) -> Optional[Ending]:
    """The ending a frame means for the whole connection, or None if it answers one request.

    A frame that failed to decode is a protocol error (rule 1); an ERROR with request id 0
    belongs to no request and the server closes after it (rule 2).
    """
    if isinstance(received, ProtocolError):
        return Ending(EndReason.PROTOCOL_ERROR, received)
    if isinstance(received, p.ErrorResponse) and received.request_id == 0:
        status = received.status
        exc = _connection_error(received)
        if 100 <= status <= 199:
            return Ending(EndReason.PROTOCOL_ERROR, exc, status)
        if status == Status.SHUTTING_DOWN:
            return Ending(EndReason.NOT_EXECUTED, exc, status)
        return Ending(EndReason.LOST, exc, status)
    return None


def _connection_error(response: p.ErrorResponse) -> Error:
    cls = ProtocolError if 100 <= response.status <= 199 else Unavailable
    return cls("pgstated sent ERROR %d %s for the connection and closes it%s"
               % (response.status, status_name(response.status),
                  ": %s" % response.message if response.message else ""),
               status=response.status, request_id=0)


def stray_ending(response: p.Response) -> Ending:
    """A response whose request id is not in flight (rule 3)."""
    return Ending(EndReason.PROTOCOL_ERROR, ProtocolError(
        "%s for request id %d, which is not in flight" % (response.TYPE.name, response.request_id),
        request_id=response.request_id))


def classify_response(call: "Call", response: p.Response, limits: p.Limits) -> Outcome:
    """A response carrying ``call``'s request id: rules 4-7 of section 12.2."""
    if isinstance(response, p.ErrorResponse):
        return classify_error(call, response)
    return call.answer(response, limits)


def classify_received(call: "Call", request_id: int, received: Received, limits: p.Limits) -> Outcome:
    """Any frame received while ``call`` (sent as ``request_id``) is the request in flight."""
    ending = ending_for(received)
    if ending is not None:
        return after_ending(call, ending, written=True)
    assert not isinstance(received, ProtocolError)
    if received.request_id != request_id:
        return after_ending(call, stray_ending(received), written=True)
    return classify_response(call, received, limits)


# --- No answer ------------------------------------------------------------------------------


def after_ending(call: "Call", ending: Ending, written: bool) -> Outcome:
    """The outcome of ``call``, left in flight on a connection that ended (section 12.3, 12.4)."""
    cause = ending.cause
    text = str(cause) or type(cause).__name__
    if ending.reason is EndReason.PROTOCOL_ERROR:
        # A frame the client rejected keeps the status a server would have answered (Error.status).
        status = ending.status if ending.status is not None else getattr(cause, "status", None)
        exc: Error = ProtocolError("%s; connection closed%s" % (
            text, "; the %s may or may not have been applied" % call.name if call.is_write and written else ""),
            status=status)
        cls = OutcomeClass.PROTOCOL_ERROR
    elif ending.reason is EndReason.NOT_EXECUTED:
        exc = Unavailable("pgstated is shutting down; the %s was not executed (%s)" % (call.name, text),
                          status=ending.status)
        cls = OutcomeClass.UNAVAILABLE
    elif not written:
        exc = Unavailable("connection to pgstated ended before the %s was sent: %s" % (call.name, text),
                          status=ending.status)
        cls = OutcomeClass.UNAVAILABLE
    elif call.is_write:
        exc = OutcomeUnknown("connection to pgstated ended after the %s was sent (%s); it may or may not "
                             "have been applied (load to find out)" % (call.name, text), status=ending.status)
        cls = OutcomeClass.OUTCOME_UNKNOWN
    else:
        exc = Unavailable("connection to pgstated ended before the answer to the %s: %s" % (call.name, text),
                          status=ending.status)
        cls = OutcomeClass.UNAVAILABLE
    exc.__cause__ = cause
    return Outcome(cls, Connection.DROP, error=exc, status=ending.status, ending=ending)


def classify_lost(call: "Call", written: bool, cause: BaseException) -> Outcome:
    """The connection ended (EOF, reset, closed) before ``call`` was answered."""
    return after_ending(call, Ending(EndReason.LOST, cause), written)


def classify_timeout(call: "Call", written: bool, timeout: Optional[float]) -> Outcome:
    """``call``'s deadline passed (section 12.4). ``written``: its whole frame was sent.

    The connection is kept: a request not written is withdrawn, a written one's late answer
    is read and discarded. A handshake that times out drops its connection.
    """
    seconds = "%gs" % timeout if timeout is not None else "its deadline"
    if written and call.is_write:
        exc: Error = OutcomeUnknown("%s timed out after %s; it may or may not have been applied "
                                    "(load to find out)" % (call.name, seconds))
        cls = OutcomeClass.OUTCOME_UNKNOWN
    else:
        exc = Unavailable("%s timed out after %s%s" % (call.name, seconds, "" if written else "; it was not sent"))
        cls = OutcomeClass.UNAVAILABLE
    if call.is_handshake:
        return Outcome(cls, Connection.DROP, error=exc, ending=Ending(EndReason.LOST, exc))
    return Outcome(cls, Connection.KEEP, error=exc)
