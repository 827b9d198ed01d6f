"""Pure codec of the multi-key requests, the client's half (PROTOCOL.md 6.22 to 6.30). No I/O.

Encoding: ``encode_bulk_load``, ``encode_bulk_write``, ``encode_transact`` and ``encode_list``
build whole request frames, like the encoders of :mod:`pgstate._protocol` (whose frame and
argument rules they share): every argument rule of section 8 and every request-wide rule of 6.22
(counts within ``max_batch_items``, states within ``max_batch_bytes``, an id once per
transaction) is checked against the limits first, raising :class:`~pgstate.InvalidArgument`
before anything exists to send. A BULK_WRITE item that breaks a rule refuses the whole call too
(12.5): the server would answer it FAILED 102, but the caller has a call to fix.

Which capabilities the server must announce (MULTI_KEY, TTL, CONDITIONAL_DELETE, IDENTITY) is the
calls' check (:mod:`pgstate._multikey_calls`), as for the single requests.

Decoding: :func:`decode_payload` reads the payload of RECORDS, OUTCOMES, TRANSACT_CONFLICT and
LIST_OK for :func:`pgstate._protocol.decode_response` (check 6 of section 3.4: unknown presence
or result values, ``more`` other than 0 or 1, text that is not UTF-8). Whether an answer fits
its request (rule 6 of 12.2) is the call's check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, Final, Iterable, List, Optional, Sequence, Tuple, TypeVar

from . import _protocol as p
from ._arguments import _invalid, _is_int
from ._errors import InvalidArgument
from ._items import Delete, Item, Upsert

__all__ = [
    "FLAG_AFTER", "ITEM_UPSERT", "ITEM_DELETE", "ITEM_FLAG_EXPECTED_REVISION", "ITEM_FLAG_TTL",
    "ABSENT", "FOUND", "OMITTED", "WRITTEN", "DELETED", "CONFLICT", "FAILED",
    "encode_bulk_load", "encode_bulk_write", "encode_transact", "encode_list",
    "check_prefix", "check_list_limit", "check_ids", "check_items",
    "RecordsEntry", "RecordsResponse", "ItemResult", "OutcomesResponse", "ConflictEntry", "TransactConflict",
    "ListOkEntry", "ListOk", "decode_payload",
]

FLAG_AFTER: Final = 0x01  # LIST: the cursor `after` follows the prefix

ITEM_UPSERT: Final = 0x01
ITEM_DELETE: Final = 0x02
ITEM_FLAG_EXPECTED_REVISION: Final = 0x01  # delete items: a conditional delete
ITEM_FLAG_TTL: Final = 0x04  # upsert items: ttl_seconds follows expected_revision

ABSENT: Final = 0  # RECORDS presence: no record
FOUND: Final = 1
OMITTED: Final = 2  # not sent: the answer would have exceeded max_frame_bytes; load it again

WRITTEN: Final = 1  # OUTCOMES results
DELETED: Final = 2
CONFLICT: Final = 3
FAILED: Final = 4

T = TypeVar("T")


# --- Argument rules (section 8, 6.22) ---------------------------------------------------------


def _at(where: str, check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``, its InvalidArgument naming ``where`` (which id or item of the request)."""
    try:
        return check(*args)
    except InvalidArgument as exc:
        raise _invalid("%s: %s" % (where, exc.message)) from None


def _sequence(values: object, what: str) -> Tuple[Any, ...]:
    # A str is a sequence of characters: bulk_load("order-1") would load "o", "r", ... -- refused.
    if isinstance(values, (str, bytes, bytearray, memoryview)) or not isinstance(values, Iterable):
        raise _invalid("%s must be a sequence, not %s" % (what, type(values).__name__))
    return tuple(values)


def _check_count(count: int, limits: p.Limits, what: str) -> None:
    most = min(limits.max_batch_items, p.MAX_BATCH_ITEMS)
    if not 1 <= count <= most:
        raise _invalid("%d %s; a request holds 1 to max_batch_items %d" % (count, what, most))


def check_ids(ids: object, limits: p.Limits = p.DEFAULT_LIMITS) -> List[bytes]:
    """Validate BULK_LOAD's ids (1..``max_batch_items`` of them, each a persistence id; repeats
    allowed); return their UTF-8 bytes."""
    values = _sequence(ids, "ids")
    _check_count(len(values), limits, "ids")
    return [_at("id %d" % i, p.check_persistence_id, pid, limits.max_id_bytes) for i, pid in enumerate(values)]


def _item_bytes(index: int, item: object, limits: p.Limits) -> Tuple[bytes, bytes]:
    """One item's encoding (6.22) and its id's bytes, checked against the limits."""
    if not isinstance(item, (Upsert, Delete)):
        raise _invalid("item %d is a %s, not a pgstate.Upsert or pgstate.Delete" % (index, type(item).__name__))
    where = "item %d (%s of %r)" % (index, item.kind, item.persistence_id)
    raw_id = _at(where, p.check_persistence_id, item.persistence_id, limits.max_id_bytes)
    key = p._str8(raw_id)
    if isinstance(item, Upsert):
        revision = _at(where, p.check_upsert_revision, item.expected_revision)
        state = _at(where, p.check_state, item.state, limits.max_state_bytes)
        if item.ttl is None:
            return p._U8.pack(ITEM_UPSERT) + b"\0" + key + p._U64.pack(revision) + p._bytes32(state), raw_id
        ttl = _at(where, p.check_ttl, item.ttl)
        return (p._U8.pack(ITEM_UPSERT) + p._U8.pack(ITEM_FLAG_TTL) + key + p._U64.pack(revision) + p._U32.pack(ttl)
                + p._bytes32(state)), raw_id
    if item.expected_revision is None:
        return p._U8.pack(ITEM_DELETE) + b"\0" + key, raw_id
    revision = _at(where, p.check_delete_revision, item.expected_revision)
    return p._U8.pack(ITEM_DELETE) + p._U8.pack(ITEM_FLAG_EXPECTED_REVISION) + key + p._U64.pack(revision), raw_id


def check_items(items: object, limits: p.Limits = p.DEFAULT_LIMITS, *, transact: bool = False) -> bytes:
    """Validate the items of a BULK_WRITE (or, ``transact``, a TRANSACT); return ``count`` and the items
    as encoded. Refused: no item or more than ``max_batch_items``; an item breaking a rule of section 8
    (against ``max_id_bytes`` and ``max_state_bytes``); states over ``max_batch_bytes`` together; in a
    transaction, an id named twice."""
    values = _sequence(items, "items")
    _check_count(len(values), limits, "items")
    encoded = [_item_bytes(i, item, limits) for i, item in enumerate(values)]
    total = sum(len(item.state) for item in values if isinstance(item, Upsert))
    if total > limits.max_batch_bytes:
        raise _invalid("the items' states are %d bytes together, more than max_batch_bytes %d"
                         % (total, limits.max_batch_bytes))
    if transact:
        first: Dict[bytes, int] = {}
        for i, (_, raw_id) in enumerate(encoded):
            if raw_id in first:
                raise _invalid("items %d and %d both name %r: a transaction names each id once"
                                 % (first[raw_id], i, values[i].persistence_id))
            first[raw_id] = i
    return p._U16.pack(len(values)) + b"".join(data for data, _ in encoded)


def check_prefix(prefix: object, limits: p.Limits = p.DEFAULT_LIMITS) -> bytes:
    """Validate a LIST prefix: a ``str`` of 0..``max_id_bytes`` UTF-8 bytes without the control
    characters an id may not hold (U+0000-U+001F, U+007F); return its bytes."""
    if not isinstance(prefix, str):
        raise _invalid("prefix must be a str, not %s" % type(prefix).__name__)
    try:
        raw = prefix.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("prefix %r is not encodable as UTF-8" % prefix) from None
    most = min(limits.max_id_bytes, p.MAX_ID_BYTES)  # the empty prefix lists every id
    if len(raw) > most:
        raise _invalid("prefix is %d bytes, more than max_id_bytes %d (no id could start with it)"
                         % (len(raw), most))
    for i, b in enumerate(raw):
        if b < 0x20 or b == 0x7F:  # single bytes in UTF-8, never inside a multi-byte sequence
            raise _invalid("prefix has a control character at byte %d" % i)
    return raw


def check_list_limit(limit: object, limits: p.Limits = p.DEFAULT_LIMITS) -> int:
    """Validate a LIST limit: an ``int`` in 1..``max_batch_items`` (never clamped)."""
    if not _is_int(limit):
        raise _invalid("limit must be an int, not %s" % type(limit).__name__)
    assert isinstance(limit, int)
    most = min(limits.max_batch_items, p.MAX_BATCH_ITEMS)
    if not 1 <= limit <= most:
        raise _invalid("list limit %d is outside 1..max_batch_items %d" % (limit, most))
    return limit


# --- Frame encoding ------------------------------------------------------------------------


def _namespace(namespace: Optional[str]) -> Tuple[int, bytes]:
    """The NAMESPACE flag and field that start every multi-key payload (None: the connection's own)."""
    if namespace is None:
        return 0, b""
    return p.FLAG_NAMESPACE, p._str8(p.check_namespace(namespace))


def encode_bulk_load(request_id: int, ids: Sequence[str], limits: p.Limits = p.DEFAULT_LIMITS, *,
                     namespace: Optional[str] = None) -> bytes:
    """BULK_LOAD of ``ids`` (in request order; an id may repeat), answered by RECORDS."""
    flags, payload = _namespace(namespace)
    raw_ids = check_ids(ids, limits)
    payload += p._U16.pack(len(raw_ids)) + b"".join(p._str8(raw) for raw in raw_ids)
    return p._request_frame(p.MessageType.BULK_LOAD, flags, request_id, payload, limits)


def encode_bulk_write(request_id: int, items: Sequence[Item], limits: p.Limits = p.DEFAULT_LIMITS, *,
                      namespace: Optional[str] = None) -> bytes:
    """BULK_WRITE: each item applied or not by its own rules, answered by OUTCOMES (one per item)."""
    flags, payload = _namespace(namespace)
    payload += check_items(items, limits)
    return p._request_frame(p.MessageType.BULK_WRITE, flags, request_id, payload, limits)


def encode_transact(request_id: int, items: Sequence[Item], limits: p.Limits = p.DEFAULT_LIMITS, *,
                    namespace: Optional[str] = None) -> bytes:
    """TRANSACT: every item or none, answered by OUTCOMES (all applied) or TRANSACT_CONFLICT."""
    flags, payload = _namespace(namespace)
    payload += check_items(items, limits, transact=True)
    return p._request_frame(p.MessageType.TRANSACT, flags, request_id, payload, limits)


def encode_list(request_id: int, prefix: str, after: Optional[str], limit: int,
                limits: p.Limits = p.DEFAULT_LIMITS, *, namespace: Optional[str] = None) -> bytes:
    """LIST: at most ``limit`` ids starting with ``prefix`` and, with ``after`` (flag AFTER), greater than
    it, in byte order; answered by LIST_OK."""
    flags, payload = _namespace(namespace)
    payload += p._str8(check_prefix(prefix, limits))
    if after is not None:
        flags |= FLAG_AFTER
        payload += p._str8(_at("after", p.check_persistence_id, after, limits.max_id_bytes))
    payload += p._U16.pack(check_list_limit(limit, limits))
    return p._request_frame(p.MessageType.LIST, flags, request_id, payload, limits)


# --- Response dataclasses --------------------------------------------------------------------


@dataclass(frozen=True)
class RecordsEntry:
    """One RECORDS entry: ``presence`` ABSENT, FOUND or OMITTED; the record's fields when FOUND."""

    presence: int
    revision: int = 0
    updated_at_us: int = 0
    state: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class RecordsResponse:
    request_id: int
    entries: Tuple[RecordsEntry, ...]
    TYPE: ClassVar[p.MessageType] = p.MessageType.RECORDS
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class ItemResult:
    """One OUTCOMES outcome; the fields of its ``result`` are set, the others 0 or empty."""

    result: int
    revision: int = 0         # WRITTEN
    updated_at_us: int = 0    # WRITTEN
    expected_revision: int = 0  # CONFLICT
    actual_revision: int = 0    # CONFLICT
    status: int = 0           # FAILED
    message: str = ""         # FAILED


@dataclass(frozen=True)
class OutcomesResponse:
    request_id: int
    outcomes: Tuple[ItemResult, ...]
    TYPE: ClassVar[p.MessageType] = p.MessageType.OUTCOMES
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class ConflictEntry:
    index: int
    expected_revision: int
    actual_revision: int


@dataclass(frozen=True)
class TransactConflict:
    request_id: int
    conflicts: Tuple[ConflictEntry, ...]
    TYPE: ClassVar[p.MessageType] = p.MessageType.TRANSACT_CONFLICT
    flags: ClassVar[int] = 0


@dataclass(frozen=True)
class ListOkEntry:
    persistence_id: str
    revision: int
    updated_at_us: int


@dataclass(frozen=True)
class ListOk:
    request_id: int
    more: int  # 0 or 1
    entries: Tuple[ListOkEntry, ...]
    TYPE: ClassVar[p.MessageType] = p.MessageType.LIST_OK
    flags: ClassVar[int] = 0


# --- Payload decoding ------------------------------------------------------------------------


def _records_entry(c: p._Cursor) -> RecordsEntry:
    presence = c.u8("presence")
    if presence == FOUND:
        revision, updated_at_us = c.u64("revision"), c.i64("updated_at")
        return RecordsEntry(presence, revision, updated_at_us, c.take(c.u32("state length"), "state"))
    if presence not in (ABSENT, OMITTED):
        raise c.malformed("entry presence %d; 0 ABSENT, 1 FOUND or 2 OMITTED" % presence)
    return RecordsEntry(presence)


def _item_result(c: p._Cursor) -> ItemResult:
    result = c.u8("result")
    if result == WRITTEN:
        return ItemResult(result, revision=c.u64("revision"), updated_at_us=c.i64("updated_at"))
    if result == DELETED:
        return ItemResult(result)
    if result == CONFLICT:
        return ItemResult(result, expected_revision=c.u64("expected_revision"),
                          actual_revision=c.u64("actual_revision"))
    if result == FAILED:
        status = c.u16("status")
        return ItemResult(result, status=status, message=c.text(c.take(c.u16("message length"), "message"),
                                                                "message"))
    raise c.malformed("outcome result %d; 1 WRITTEN, 2 DELETED, 3 CONFLICT or 4 FAILED" % result)


def decode_payload(type_: p.MessageType, c: p._Cursor, request_id: int) -> p.Response:
    """The payload of a multi-key response (the cursor past the header); the caller checks the end."""
    if type_ is p.MessageType.RECORDS:
        count = c.u16("count")
        return RecordsResponse(request_id, tuple(_records_entry(c) for _ in range(count)))
    if type_ is p.MessageType.OUTCOMES:
        count = c.u16("count")
        return OutcomesResponse(request_id, tuple(_item_result(c) for _ in range(count)))
    if type_ is p.MessageType.TRANSACT_CONFLICT:
        count = c.u16("count")
        return TransactConflict(request_id, tuple(
            ConflictEntry(c.u16("index"), c.u64("expected_revision"), c.u64("actual_revision")) for _ in range(count)))
    if type_ is not p.MessageType.LIST_OK:
        raise AssertionError("not a multi-key response: %s" % type_.name)
    more = c.u8("more")
    if more > 1:
        raise c.malformed("more is %d; 0 or 1" % more)
    count = c.u16("count")
    return ListOk(request_id, more, tuple(
        ListOkEntry(c.text8("persistence_id"), c.u64("revision"), c.i64("updated_at")) for _ in range(count)))
