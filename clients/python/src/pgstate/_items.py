"""The items of ``bulk_write`` and ``transact`` and what each item ends in (PROTOCOL.md 6.22, 6.26).

An item is one upsert or one delete, with exactly the meaning of the single call it mirrors; it is
checked when it is made, like that call's arguments (the rest -- the announced limits, the
capabilities -- when the request is encoded). Plain data, no I/O.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Union

from . import _protocol as p
from ._errors import ConcurrencyError, Error
from ._outcomes import item_error

__all__ = ["Upsert", "Delete", "Item", "Outcome", "Written", "Deleted", "Conflict", "Failed", "ItemOutcome"]

MAX_STATE_FIELD_BYTES = 2**32 - 1  # a bytes32 field; the announced max_state_bytes is checked when sent


@dataclass(frozen=True)
class Upsert:
    """Create (``expected_revision`` 0) or update revision N to N+1, as :meth:`pgstate.Client.upsert`.

    ``ttl``: seconds (1..2^31-1) after its commit at which the revision written expires (the server
    must announce TTL); None: it never expires (and an expiry the record had is cleared).
    """

    persistence_id: str
    expected_revision: int
    state: bytes = field(repr=False)
    ttl: Optional[int] = None

    kind: ClassVar[str] = "upsert"

    def __post_init__(self) -> None:
        p.check_persistence_id(self.persistence_id, p.MAX_ID_BYTES)
        p.check_upsert_revision(self.expected_revision)
        object.__setattr__(self, "state", p.check_state(self.state, MAX_STATE_FIELD_BYTES))
        if self.ttl is not None:
            p.check_ttl(self.ttl)

    @property
    def has_expectation(self) -> bool:
        """Whether the item can conflict: an upsert always names a revision."""
        return True


@dataclass(frozen=True)
class Delete:
    """Delete the record, as :meth:`pgstate.Client.delete`: unconditional (idempotent) without
    ``expected_revision``, else only at that revision (0: only if there is no record; the server must
    announce CONDITIONAL_DELETE)."""

    persistence_id: str
    expected_revision: Optional[int] = None

    kind: ClassVar[str] = "delete"

    def __post_init__(self) -> None:
        p.check_persistence_id(self.persistence_id, p.MAX_ID_BYTES)
        if self.expected_revision is not None:
            p.check_delete_revision(self.expected_revision)

    @property
    def has_expectation(self) -> bool:
        """Whether the item can conflict: only a conditional delete."""
        return self.expected_revision is not None


Item = Union[Upsert, Delete]


class Outcome:
    """What one item of a ``bulk_write`` ended in: :class:`Written`, :class:`Deleted`,
    :class:`Conflict` or :class:`Failed`. Every one has ``index`` (the item's position in the call,
    from 0), ``persistence_id`` and ``ok`` (the item was applied)."""

    __slots__ = ()

    index: int
    persistence_id: str

    @property
    def ok(self) -> bool:
        return False


@dataclass(frozen=True)
class Written(Outcome):
    """An upsert item applied: its new revision (the item's expected revision + 1) and commit time."""

    index: int
    persistence_id: str
    revision: int
    updated_at: datetime.datetime

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class Deleted(Outcome):
    """A delete item answered as a DELETE answered OK (nothing to delete counts too when unconditional)."""

    index: int
    persistence_id: str

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class Conflict(Outcome):
    """The item's expected revision is not the current one (``actual_revision``; 0: no record, or it
    expired). Nothing was changed for this item; load (or use ``actual_revision``), merge, retry it."""

    index: int
    persistence_id: str
    expected_revision: int
    actual_revision: int

    @property
    def error(self) -> ConcurrencyError:
        """The exception an upsert or conditional delete of this item alone would have raised."""
        return ConcurrencyError(self.persistence_id, self.expected_revision, self.actual_revision)


@dataclass(frozen=True)
class Failed(Outcome):
    """The item failed alone, with the ``status`` an ERROR would have carried: 102 (its arguments), 2xx
    (not executed: retry it), 3xx or 5xx (it may or may not have been applied: load first).
    :attr:`error` is the exception of that class; ``message`` is for people only."""

    index: int
    persistence_id: str
    status: int
    message: str

    @property
    def error(self) -> Error:
        """The exception this status means for a write (InvalidArgument, Unavailable, OutcomeUnknown, ...)."""
        return item_error(self.status, "item %d (%r): %s" % (self.index, self.persistence_id, self.message))


ItemOutcome = Union[Written, Deleted, Conflict, Failed]
