"""The record type returned by load and upsert."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from ._errors import ProtocolError

__all__ = ["Record", "datetime_from_us"]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class Record:
    """One stored record: the current revision of a persistence id and its state.

    Attributes:
        persistence_id: the id the record is stored under.
        revision: 1 for a new record, +1 for every successful upsert. Name it as the
            ``expected_revision`` of the next upsert or conditional delete.
        state: the stored state, byte for byte as written.
        updated_at: when this revision was committed (UTC, timezone-aware). Informational
            only: never use it to order or compare revisions.
    """

    persistence_id: str
    revision: int
    state: bytes = field(repr=False)
    updated_at: datetime.datetime


def datetime_from_us(updated_at_us: int) -> datetime.datetime:
    """A UTC datetime from microseconds since 1970-01-01T00:00:00Z (exact, also before 1970)."""
    try:
        return _EPOCH + datetime.timedelta(microseconds=updated_at_us)
    except OverflowError:
        raise ProtocolError("updated_at %d us is outside the range of datetime" % updated_at_us) from None
