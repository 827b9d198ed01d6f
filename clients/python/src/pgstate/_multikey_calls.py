"""The multi-key calls: BULK_LOAD, BULK_WRITE, TRANSACT and LIST (PROTOCOL.md 6.22 to 6.30).

One class per kind, as in :mod:`pgstate._calls`: the arguments checked when the call is made,
the rest against the server's HELLO_OK when it is encoded (section 12.5: MULTI_KEY, TTL,
CONDITIONAL_DELETE for a conditional delete item, IDENTITY for a namespace, the batch limits),
and what fits as the answer (section 12.2 rules 4, 6 and 7). ERROR statuses, request ids,
endings and timeouts are the shared classifier's (:mod:`pgstate._outcomes`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Dict, List, Optional, Tuple

from . import _multikey as m
from . import _protocol as p
from ._arguments import _invalid
from ._calls import Call, checked_record, conflict_fits, needs_capability, needs_identity
from ._errors import ProtocolError, TransactionConflict
from ._items import Conflict, Deleted, Delete, Failed, Item, ItemOutcome, Upsert, Written
from ._outcomes import Connection, Outcome, OutcomeClass, protocol_error, result
from ._page import DEFAULT_LIST_LIMIT, ListEntry, Page
from ._record import Record, datetime_from_us

__all__ = ["BulkLoaded", "BulkLoadCall", "bulk_load_call", "ItemsCall", "BulkWriteCall", "TransactCall", "ListCall"]


def _where(namespace: Optional[str]) -> str:
    return "" if namespace is None else " in namespace %r" % namespace


def _check_server(hello: p.HelloOk, namespace: Optional[str], what: str) -> None:
    needs_capability(hello, hello.multi_key, "MULTI_KEY", what)
    if namespace is not None:
        needs_identity(hello, "%s naming a namespace" % what)


# --- BULK_LOAD ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkLoaded:
    """What one BULK_LOAD answered: ``records`` for the ids it answered (None: no record), and the ids it
    left OMITTED (the answer would not fit a frame), to be loaded again."""

    records: Dict[str, Optional[Record]]
    omitted: Tuple[str, ...]


@dataclass(frozen=True)
class BulkLoadCall(Call):
    """BULK_LOAD of ``ids`` in request order (an id may repeat), in the connection's namespace or the one named."""

    ids: Tuple[str, ...]
    namespace: Optional[str] = None

    kind: ClassVar[str] = "bulk_load"
    is_write: ClassVar[bool] = False

    def __post_init__(self) -> None:
        ids = m._sequence(self.ids, "ids")
        for i, pid in enumerate(ids):
            m._at("id %d" % i, p.check_persistence_id, pid, p.MAX_ID_BYTES)
        object.__setattr__(self, "ids", ids)
        if self.namespace is not None:
            p.check_namespace(self.namespace)

    @property
    def name(self) -> str:
        return "bulk load of %d id%s%s" % (len(self.ids), "" if len(self.ids) == 1 else "s", _where(self.namespace))

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _check_server(hello, self.namespace, "a bulk load")
        return m.encode_bulk_load(request_id, self.ids, hello.limits, namespace=self.namespace)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if not isinstance(response, m.RecordsResponse):
            return self.unexpected(response)
        rid = response.request_id
        entries = response.entries
        if len(entries) != len(self.ids):
            return protocol_error("RECORDS of %d entries answering the %s" % (len(entries), self.name), rid)
        if entries and entries[0].presence == m.OMITTED:  # the first always fits: omitting it makes no progress
            return protocol_error("RECORDS answering the %s omits its first entry" % self.name, rid)
        records: Dict[str, Optional[Record]] = {}
        for i, (pid, entry) in enumerate(zip(self.ids, entries)):
            if entry.presence == m.FOUND:
                try:
                    record = checked_record(pid, entry.revision, entry.updated_at_us, entry.state, limits,
                                            "RECORDS entry %d answering the %s:" % (i, self.name))
                except ProtocolError as exc:
                    return protocol_error(exc.message, rid)
                records.setdefault(pid, record)
            elif entry.presence == m.ABSENT:
                records.setdefault(pid, None)
        omitted = tuple(dict.fromkeys(pid for pid, e in zip(self.ids, entries)
                                      if e.presence == m.OMITTED and pid not in records))
        return result(OutcomeClass.RECORDS, BulkLoaded(records, omitted))

    def following(self, loaded: BulkLoaded) -> Optional["BulkLoadCall"]:
        """The call loading the ids ``loaded`` (this call's answer) omitted, or None when it omitted none."""
        return BulkLoadCall(loaded.omitted, self.namespace) if loaded.omitted else None


def bulk_load_call(ids: object, namespace: Optional[str]) -> BulkLoadCall:
    """The call for ``bulk_load(ids)``: each id once, in the order of its first appearance (the answer is
    a dict, so a repeat would only cost bytes)."""
    call = BulkLoadCall(ids, namespace)  # type: ignore[arg-type]  # checked there
    unique = tuple(dict.fromkeys(call.ids))
    return call if len(unique) == len(call.ids) else BulkLoadCall(unique, namespace)


# --- BULK_WRITE and TRANSACT ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemsCall(Call):
    items: Tuple[Item, ...]
    namespace: Optional[str] = None

    is_write: ClassVar[bool] = True
    verb: ClassVar[str]  # for messages: "bulk write", "transaction"

    def __post_init__(self) -> None:
        items = m._sequence(self.items, "items")
        for i, item in enumerate(items):
            if not isinstance(item, (Upsert, Delete)):
                raise _invalid("item %d is a %s, not a pgstate.Upsert or pgstate.Delete" % (i, type(item).__name__))
        object.__setattr__(self, "items", items)
        if self.namespace is not None:
            p.check_namespace(self.namespace)

    @property
    def name(self) -> str:
        n = len(self.items)
        return "%s of %d item%s%s" % (self.verb, n, "" if n == 1 else "s", _where(self.namespace))

    def check_server(self, hello: p.HelloOk) -> None:
        _check_server(hello, self.namespace, "a %s" % self.verb)
        for i, item in enumerate(self.items):
            if isinstance(item, Upsert) and item.ttl is not None:
                needs_capability(hello, hello.ttl, "TTL", "item %d of a %s (an upsert with a ttl)" % (i, self.verb))
            if isinstance(item, Delete) and item.expected_revision is not None:
                needs_capability(hello, hello.conditional_delete, "CONDITIONAL_DELETE",
                                 "item %d of a %s (a delete with an expected revision)" % (i, self.verb))

    def fitted(self, index: int, r: m.ItemResult) -> ItemOutcome:
        """Item ``index``'s outcome, or the ProtocolError of section 12.2 rule 6 when it does not fit the item."""
        item = self.items[index]
        pid = item.persistence_id
        what = "outcome %d answering the %s" % (index, self.name)
        if r.result == m.WRITTEN:
            if not isinstance(item, Upsert) or r.revision != item.expected_revision + 1:
                raise ProtocolError("%s: WRITTEN revision %d for the %s of %r" % (what, r.revision, item.kind, pid))
            return Written(index, pid, r.revision, datetime_from_us(r.updated_at_us))
        if r.result == m.DELETED:
            if not isinstance(item, Delete):
                raise ProtocolError("%s: DELETED for the upsert of %r" % (what, pid))
            return Deleted(index, pid)
        if r.result == m.CONFLICT:
            if not conflict_fits(item.expected_revision, r.expected_revision, r.actual_revision):
                raise ProtocolError("%s: CONFLICT(expected %d, actual %d) for the %s of %r expecting %s"
                                    % (what, r.expected_revision, r.actual_revision, item.kind, pid,
                                       item.expected_revision))
            return Conflict(index, pid, r.expected_revision, r.actual_revision)
        assert r.result == m.FAILED, r
        return Failed(index, pid, r.status, r.message)

    def outcomes(self, response: m.OutcomesResponse) -> List[ItemOutcome]:
        if len(response.outcomes) != len(self.items):
            raise ProtocolError("OUTCOMES of %d outcomes answering the %s" % (len(response.outcomes), self.name))
        return [self.fitted(i, r) for i, r in enumerate(response.outcomes)]


@dataclass(frozen=True)
class BulkWriteCall(ItemsCall):
    """BULK_WRITE: each item applied or not by its own rules; the answer is one outcome per item."""

    kind: ClassVar[str] = "bulk_write"
    verb: ClassVar[str] = "bulk write"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        self.check_server(hello)
        return m.encode_bulk_write(request_id, self.items, hello.limits, namespace=self.namespace)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if not isinstance(response, m.OutcomesResponse):
            return self.unexpected(response)
        try:
            outcomes = self.outcomes(response)
        except ProtocolError as exc:
            return protocol_error(exc.message, response.request_id)
        return result(OutcomeClass.OUTCOMES, outcomes)


@dataclass(frozen=True)
class TransactCall(ItemsCall):
    """TRANSACT: every item applied in one database transaction, or none (TRANSACT_CONFLICT names every
    item whose expectation failed). The result is one entry per item: the new Record of an upsert (its
    state the item's), None for a delete."""

    kind: ClassVar[str] = "transact"
    verb: ClassVar[str] = "transaction"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        self.check_server(hello)
        return m.encode_transact(request_id, self.items, hello.limits, namespace=self.namespace)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        rid = response.request_id
        try:
            if isinstance(response, m.OutcomesResponse):
                return result(OutcomeClass.COMMITTED, self.committed(response))
            if isinstance(response, m.TransactConflict):
                return Outcome(OutcomeClass.TRANSACTION_CONFLICT, Connection.KEEP,
                               error=TransactionConflict(self.conflicts(response)))
        except ProtocolError as exc:
            return protocol_error(exc.message, rid)
        return self.unexpected(response)

    def committed(self, response: m.OutcomesResponse) -> List[Optional[Record]]:
        for i, r in enumerate(response.outcomes):
            if r.result not in (m.WRITTEN, m.DELETED):  # applied entirely, or answered TRANSACT_CONFLICT
                raise ProtocolError("OUTCOMES answering the %s: outcome %d is neither WRITTEN nor DELETED"
                                    % (self.name, i))
        records: List[Optional[Record]] = []
        for item, outcome in zip(self.items, self.outcomes(response)):
            if isinstance(outcome, Written):
                assert isinstance(item, Upsert)
                records.append(Record(item.persistence_id, outcome.revision, item.state, outcome.updated_at))
            else:
                records.append(None)
        return records

    def conflicts(self, response: m.TransactConflict) -> List[Conflict]:
        if not response.conflicts:
            raise ProtocolError("TRANSACT_CONFLICT answering the %s names no item" % self.name)
        failed: List[Conflict] = []
        previous = -1
        for c in response.conflicts:
            if not previous < c.index < len(self.items):
                raise ProtocolError("TRANSACT_CONFLICT answering the %s: index %d after %d (of %d items)"
                                    % (self.name, c.index, previous, len(self.items)))
            item = self.items[c.index]
            if not conflict_fits(item.expected_revision, c.expected_revision, c.actual_revision):
                raise ProtocolError("TRANSACT_CONFLICT answering the %s: item %d (%s of %r expecting %s) with "
                                    "expected %d, actual %d" % (self.name, c.index, item.kind, item.persistence_id,
                                                                item.expected_revision, c.expected_revision,
                                                                c.actual_revision))
            failed.append(Conflict(c.index, item.persistence_id, c.expected_revision, c.actual_revision))
            previous = c.index
        return failed


# --- LIST -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCall(Call):
    """LIST: one page of the ids starting with ``prefix``, after the cursor ``after`` if given.

    ``limit`` None asks for :data:`~pgstate._page.DEFAULT_LIST_LIMIT` ids, or the server's
    ``max_batch_items`` if that is smaller; a limit named is checked against it, never lowered.
    """

    prefix: str = ""
    after: Optional[str] = None
    limit: Optional[int] = None
    namespace: Optional[str] = None

    kind: ClassVar[str] = "list"
    is_write: ClassVar[bool] = False

    def __post_init__(self) -> None:
        m.check_prefix(self.prefix)
        if self.after is not None:
            m._at("after", p.check_persistence_id, self.after, p.MAX_ID_BYTES)
        if self.limit is not None:
            m.check_list_limit(self.limit, p.Limits(max_batch_items=p.MAX_BATCH_ITEMS))
        if self.namespace is not None:
            p.check_namespace(self.namespace)

    @property
    def name(self) -> str:
        after = "" if self.after is None else " after %r" % self.after
        return "list of the ids starting with %r%s%s" % (self.prefix, after, _where(self.namespace))

    def limit_for(self, limits: p.Limits) -> int:
        return self.limit if self.limit is not None else min(DEFAULT_LIST_LIMIT, limits.max_batch_items)

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _check_server(hello, self.namespace, "a list")
        return m.encode_list(request_id, self.prefix, self.after, self.limit_for(hello.limits), hello.limits,
                             namespace=self.namespace)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if not isinstance(response, m.ListOk):
            return self.unexpected(response)
        try:
            return result(OutcomeClass.PAGE, self.page(response, self.limit_for(limits)))
        except ProtocolError as exc:
            return protocol_error(exc.message, response.request_id)

    def page(self, response: m.ListOk, limit: int) -> Page:
        what = "LIST_OK answering the %s" % self.name
        entries = response.entries
        if len(entries) > limit:
            raise ProtocolError("%s holds %d ids, more than the limit %d" % (what, len(entries), limit))
        if response.more and not entries:  # no last id to ask after: following the pages would never end
            raise ProtocolError("%s has more 1 and no id" % what)
        prefix = self.prefix.encode("utf-8")
        previous = None if self.after is None else self.after.encode("utf-8")
        items: List[ListEntry] = []
        for e in entries:
            raw = e.persistence_id.encode("utf-8")
            if not raw.startswith(prefix):
                raise ProtocolError("%s lists %r, which does not start with the prefix" % (what, e.persistence_id))
            if previous is not None and raw <= previous:  # byte order; the first past the cursor
                raise ProtocolError("%s lists %r after %r: not ascending past the cursor"
                                    % (what, e.persistence_id, previous.decode("utf-8")))
            if not 1 <= e.revision <= p.MAX_REVISION:
                raise ProtocolError("%s gives %r revision %d, outside 1..2^63-1" % (what, e.persistence_id,
                                                                                   e.revision))
            items.append(ListEntry(e.persistence_id, e.revision, datetime_from_us(e.updated_at_us)))
            previous = raw
        return Page(tuple(items), entries[-1].persistence_id if response.more else None)

    def following(self, page: Page) -> Optional["ListCall"]:
        """The call for the page after ``page`` (which this call returned), or None after the last."""
        return dataclasses.replace(self, after=page.next_after) if page.next_after is not None else None
