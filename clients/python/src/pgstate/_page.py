"""What ``list()`` returns: one page of ids in byte order (PROTOCOL.md 6.29, 6.30). Plain data, no I/O."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

__all__ = ["ListEntry", "Page", "DEFAULT_LIST_LIMIT"]

# The page size of list() and iter_ids() when the caller names none, lowered to the server's
# max_batch_items if that is smaller (a limit the caller names is never lowered: it is refused).
DEFAULT_LIST_LIMIT = 100


@dataclass(frozen=True)
class ListEntry:
    """One id of a page, with its current revision and when that revision was committed (UTC;
    informational, like :attr:`pgstate.Record.updated_at`)."""

    persistence_id: str
    revision: int
    updated_at: datetime.datetime


@dataclass(frozen=True)
class Page:
    """One page of ``list()``: ``items`` by ascending byte order of id, and ``next_after``, the cursor to
    pass as ``after`` for the next page (the last id here), or None after the last page.

    A page may hold fewer ids than the limit and still not be the last: follow ``next_after`` until it
    is None (``iter_ids()`` does). An empty page is always the last.
    """

    items: Tuple[ListEntry, ...]
    next_after: Optional[str]

    @property
    def more(self) -> bool:
        """Whether ids may follow this page."""
        return self.next_after is not None

    @property
    def ids(self) -> Tuple[str, ...]:
        return tuple(e.persistence_id for e in self.items)

    def __iter__(self) -> Iterator[ListEntry]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
