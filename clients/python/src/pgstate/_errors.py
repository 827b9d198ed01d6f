"""Status codes and the exception hierarchy of the pgstate client.

Every exception raised by this package derives from :class:`Error`. The subclasses are
grouped by who is at fault, which is also what tells a caller whether to retry:

* An ordinary outcome, nobody's fault: :class:`ConcurrencyError` (the revision you named is
  not the current one; load, merge and retry), and its :class:`TransactionConflict` (a
  transaction applied nothing because some of its items' revisions are not the current ones).
* The caller's fault: :class:`InvalidArgument` (fix the call; retrying it unchanged fails
  again) and :class:`PermissionDenied` (the connection's identity may not do this; an
  operator changes the access rules, retrying does not help).
* A condition of the server or the environment, the request was NOT executed:
  :class:`Unavailable` (retry with backoff).
* Nobody can tell: :class:`OutcomeUnknown` (a write may or may not have been applied;
  LOAD before retrying).
* A bug on one side or the other: :class:`ProtocolError` (the peers disagree about the
  protocol) and :class:`ServerError` (the server reported an internal fault on a read).
* The stored state does not open with the codec (the envelope, proto-spec/ENVELOPE.md):
  :class:`EnvelopeError` and its subclasses, one per error class of ENVELOPE.md section 7.
  The call itself succeeded; the state it read (or, for too large and unavailable, the codec)
  is at fault, and retrying does not help.

Which one a call raises is decided by one classifier, :mod:`pgstate._outcomes`, after
PROTOCOL.md section 12; each class of its section 12.1 is one exception here. The envelope
errors come from :mod:`pgstate._envelope`, after ENVELOPE.md section 6.2.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, ClassVar, Dict, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ._items import Conflict

__all__ = [
    "Status",
    "Error",
    "ConcurrencyError",
    "TransactionConflict",
    "InvalidArgument",
    "PermissionDenied",
    "Unavailable",
    "OutcomeUnknown",
    "ProtocolError",
    "ServerError",
    "EnvelopeError",
    "UnknownEnvelopeVersion",
    "CorruptEnvelope",
    "RolledBack",
    "WrongKey",
    "Tampered",
    "EnvelopeTooLarge",
    "EnvelopeModeUnavailable",
    "status_name",
]


class Status(enum.IntEnum):
    """The status codes of protocol v1 (PROTOCOL.md section 7).

    The hundreds digit is the class: 1xx the client's fault, 2xx a server condition (not
    executed, retryable), 3xx outcome unknown, 5xx a server fault. Codes outside the table
    are handled by their class; codes outside every class like 500.
    """

    MALFORMED_FRAME = 100
    UNKNOWN_MESSAGE_TYPE = 101
    INVALID_ARGUMENT = 102
    FRAME_TOO_LARGE = 103
    UNSUPPORTED_VERSION = 104
    NOT_ALLOWED = 105
    PERMISSION_DENIED = 106
    UNAVAILABLE = 200
    OVERLOADED = 201
    SHUTTING_DOWN = 202
    OUTCOME_UNKNOWN = 300
    INTERNAL_ERROR = 500


def status_name(status: int) -> str:
    """``"INVALID_ARGUMENT"`` for 102; ``"STATUS_299"`` for a code outside the table."""
    try:
        return Status(status).name
    except ValueError:
        return "STATUS_%d" % status


class Error(Exception):
    """Base class of every exception raised by pgstate.

    Attributes:
        message: human-readable text. For an exception made from a server ERROR frame this
            is the server's message, verbatim (for logs only: decide on ``status``).
        status: the status code of the server ERROR (or, for an error the client detected
            in a frame, the status a server would have answered), else ``None``.
        request_id: the request id the status refers to, when there is one, else ``None``.
    """

    def __init__(self, message: str = "", *, status: Optional[int] = None,
                 request_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.status: Optional[int] = status
        self.request_id: Optional[int] = request_id

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        label = "%d %s" % (self.status, status_name(self.status))
        return "%s (%s)" % (self.message, label) if self.message else label


# --- An ordinary outcome ------------------------------------------------------------------


class ConcurrencyError(Error):
    """The revision named by an upsert or a conditional delete is not the current one.

    Not a fault: another writer got there first (or the record does not exist / already
    exists). Nothing was changed. Load the record (or use ``actual_revision``), merge, and
    retry. ``actual_revision`` is 0 when no record exists.
    """

    def __init__(self, persistence_id: str, expected_revision: int, actual_revision: int) -> None:
        super().__init__("revision conflict on %r: expected %d, actual %d"
                         % (persistence_id, expected_revision, actual_revision))
        self.persistence_id: str = persistence_id
        self.expected_revision: int = expected_revision
        self.actual_revision: int = actual_revision

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.persistence_id, self.expected_revision, self.actual_revision))


class TransactionConflict(ConcurrencyError):
    """A ``transact`` applied nothing: the expected revisions of some of its items are not the current ones.

    Attributes:
        conflicts: every failed item's id -> its current revision (0: no record, or it expired).
        failed: every failed item as a :class:`pgstate.Conflict` (its ``index`` in the call, id, expected
            and actual revision), by ascending index.
        persistence_id, expected_revision, actual_revision: those of the first failed item, so that code
            handling a ConcurrencyError handles this one too.

    Not a fault: other writers got there first. Load the failed items (or use their current
    revisions), merge, and send the transaction again.
    """

    def __init__(self, failed: Sequence["Conflict"]) -> None:
        items: Tuple["Conflict", ...] = tuple(failed)
        if not items:
            raise ValueError("a transaction conflict names at least one item")
        first = items[0]
        super().__init__(first.persistence_id, first.expected_revision, first.actual_revision)
        self.message = "transaction not applied, %d item%s conflicted: %s" % (
            len(items), "" if len(items) == 1 else "s",
            "; ".join("item %d %r expected %d, actual %d" % (c.index, c.persistence_id, c.expected_revision,
                                                             c.actual_revision) for c in items))
        self.args = (self.message,)
        self.failed: Tuple["Conflict", ...] = items
        self.conflicts: Dict[str, int] = {c.persistence_id: c.actual_revision for c in items}

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.failed,))


# --- The caller's fault -------------------------------------------------------------------


class InvalidArgument(Error, ValueError):
    """An argument breaks the rules of PROTOCOL.md section 8 (status 102).

    Raised before anything is sent for an id that is not a ``str``, is empty, longer than
    the server's ``max_id_bytes`` in UTF-8, not encodable as UTF-8 or holds a control
    character (U+0000-U+001F, U+007F); a revision that is not an ``int`` or out of range
    (upsert 0..2^63-2, delete 0..2^63-1); a state that is not bytes-like or larger than the
    server's ``max_state_bytes``; a client name over 255 UTF-8 bytes (never truncated); a
    conditional delete when the server did not announce CONDITIONAL_DELETE; a namespace
    that is not a ``str`` of 0 to 63 ASCII letters, digits, ``.``, ``_`` or ``-``; ``whoami``
    or a namespace when the server did not announce IDENTITY; ``health``, ``stats``,
    ``clients``, ``pause`` or ``resume`` when it did not announce OPERATOR; a pause timeout
    outside 0..2^32-1 ms; ``bulk_load``, ``bulk_write``, ``transact``, ``list`` or ``iter_ids`` when
    it did not announce MULTI_KEY, a ``ttl`` when it did not announce TTL or outside 1..2^31-1
    seconds, more ids or items than its ``max_batch_items``, states of one request over its
    ``max_batch_bytes``, an id twice in one transaction, a LIST limit outside 1..``max_batch_items``,
    or a bad item (the whole call: nothing is sent). Also raised when the server answers 102. Nothing was executed;
    retrying the same call fails again.
    """


class PermissionDenied(Error):
    """The connection's identity may not do this (status 106, PROTOCOL.md section 6.14).

    The server identifies a connection by the peer credentials the kernel reports (the
    client's user and group), and its access rules grant that identity a namespace and
    permissions: a load needs READ, an upsert or delete WRITE, naming a namespace other than
    the connection's own ANY_NAMESPACE, ``stats``, ``clients``, ``pause`` and ``resume``
    ADMIN (``whoami`` shows what was granted). Nothing was
    executed and the connection stays open. Raised by the handshake too when the rules
    grant the peer nothing; the server then closes. Not retryable: an operator changes the
    access rules (they apply to connections made afterwards).
    """


# --- A server condition: not executed, retry with backoff ---------------------------------


class Unavailable(Error):
    """The request was not executed; retry later (with backoff), usually on a new connection.

    Raised when the daemon cannot be reached (socket missing, connection refused: the
    message names the socket path), for the statuses 2xx (200 UNAVAILABLE, 201 OVERLOADED,
    202 SHUTTING_DOWN and unassigned 2xx codes; 200 also for a request that waited longer
    than an operator's pause allows), when the connection ends or the call times out
    before a request was sent, for every request -- writes included -- left unanswered by
    the server's shutdown notice (ERROR 202 with request id 0: they were not executed),
    and for a read (load, bulk_load, list, ping, whoami, the operators' calls) that timed out
    or whose connection ended before the answer (reads are safe to repeat).
    """


# --- Nobody can tell ----------------------------------------------------------------------


class OutcomeUnknown(Error):
    """A write may or may not have been applied.

    Raised for status 300 (and unassigned 3xx), for status 500 (and unassigned 5xx, and
    codes outside every class) answering a write, and when the connection ends or the call
    times out after a write was sent. Do not retry blindly: load the record first and
    compare revisions. The writes are upsert, delete, bulk_write (every item's outcome is
    then unknown) and transact (applied entirely or not at all, never in part).
    """


# --- A bug ----------------------------------------------------------------------------------


class ProtocolError(Error):
    """The client and the server disagree about the protocol: a bug on one side.

    Raised for a malformed frame, a response of an unexpected type or request id or with
    contents that do not fit the request, a frame over the size limit, a HELLO_OK with
    unusable limits (e.g. ``max_id_bytes`` outside 1..255), and for the statuses 1xx other
    than 102 (100 MALFORMED_FRAME, 101 UNKNOWN_MESSAGE_TYPE, 103 FRAME_TOO_LARGE, 104
    UNSUPPORTED_VERSION, 105 NOT_ALLOWED). The connection is closed (except after 101 and
    unassigned 1xx codes), and every other call in flight on it raises ProtocolError too.
    If the call was a write, its outcome is unknown: load before retrying.
    """


class ServerError(Error):
    """The server reported an internal fault (500 or a code outside every class) on a read.

    No automatic retry. (The same status answering a write raises :class:`OutcomeUnknown`.)
    """


# --- The envelope: the stored state does not open with the codec -----------------------------


class EnvelopeError(Error):
    """A state could not be wrapped or unwrapped by a codec (ENVELOPE.md section 7).

    Attributes:
        error_class: the class's name in ENVELOPE.md and vectors/envelope.json, e.g. ``"tampered"``.
        persistence_id: the record's id, when the error concerns one, else None.

    Every subclass is one error class; none derives from another, so an ``except`` names exactly
    the cases it handles. The load or upsert itself succeeded (or was not sent): nothing about the
    connection is wrong, and repeating the call gives the same answer.
    """

    error_class: ClassVar[str] = ""

    def __init__(self, message: str, *, persistence_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.persistence_id: Optional[str] = persistence_id


class UnknownEnvelopeVersion(EnvelopeError):
    """"PGSE" followed by a version other than 1, or flags this version does not define (reserved
    bits, compression 3, ENCRYPTED with INTEGRITY): written by a newer client. Upgrade this one.

    ``version`` and ``flags`` are the bytes found (``flags`` None when the version was wrong).
    """

    error_class: ClassVar[str] = "unknown_version"

    def __init__(self, message: str, *, persistence_id: Optional[str] = None, version: int = 1,
                 flags: Optional[int] = None) -> None:
        super().__init__(message, persistence_id=persistence_id)
        self.version: int = version
        self.flags: Optional[int] = flags


class CorruptEnvelope(EnvelopeError):
    """The envelope is damaged: cut short, a key id that does not fit its mode, or a body that
    does not yield exactly the length its header states (a decompression that fails, expands past
    it -- a compression bomb -- or falls short). The writer or the storage is at fault."""

    error_class: ClassVar[str] = "corrupt"


class RolledBack(EnvelopeError):
    """The envelope was written for another revision than the record's: an older envelope was
    written back (the record rolled back, or a ciphertext replayed). Someone with write access to
    the store did it; ``envelope_revision`` and ``record_revision`` say what was found."""

    error_class: ClassVar[str] = "rolled_back"

    def __init__(self, message: str, *, persistence_id: Optional[str] = None, envelope_revision: int = 0,
                 record_revision: int = 0) -> None:
        super().__init__(message, persistence_id=persistence_id)
        self.envelope_revision: int = envelope_revision
        self.record_revision: int = record_revision


class WrongKey(EnvelopeError):
    """The envelope was written under ``key_id``, which the codec's key ring does not hold (or the
    codec has no ring). The reader's configuration is at fault: add the key (retired) to the ring."""

    error_class: ClassVar[str] = "wrong_key"

    def __init__(self, message: str, *, persistence_id: Optional[str] = None, key_id: int = 0) -> None:
        super().__init__(message, persistence_id=persistence_id)
        self.key_id: int = key_id


class Tampered(EnvelopeError):
    """The tag does not verify: body, header or tag changed, or the envelope belongs to another
    persistence id, namespace or ``info``, or the ring holds another key under its key id. Also
    raised by a codec made with ``allow_unkeyed=False`` for a state that is not a keyed envelope.
    An attacker or a configuration mismatch; the state was not returned."""

    error_class: ClassVar[str] = "tampered"


class EnvelopeTooLarge(EnvelopeError):
    """The envelope's length exceeds the codec's ``max_decompressed`` (checked before anything is
    decompressed), or a state to write does. ``length`` and ``bound`` say by how much."""

    error_class: ClassVar[str] = "too_large"

    def __init__(self, message: str, *, persistence_id: Optional[str] = None, length: int = 0,
                 bound: int = 0) -> None:
        super().__init__(message, persistence_id=persistence_id)
        self.length: int = length
        self.bound: int = bound


class EnvelopeModeUnavailable(EnvelopeError):
    """A mode needs a package that is not installed: AES-256-GCM the ``cryptography`` package
    (``pip install 'pgstate[crypto]'``), zstd the ``zstandard`` package (``pip install
    'pgstate[zstd]'``). Raised when a codec is made whose own mode needs it, and when reading an
    envelope that needs it. ``mode`` names the mode, ``install`` what to install."""

    error_class: ClassVar[str] = "unavailable_mode"

    def __init__(self, message: str, *, persistence_id: Optional[str] = None, mode: str = "",
                 install: str = "") -> None:
        super().__init__(message, persistence_id=persistence_id)
        self.mode: str = mode
        self.install: str = install
