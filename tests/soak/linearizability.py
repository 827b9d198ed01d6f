#!/usr/bin/env python3
"""Linearizability checker for pgstate histories: per-key registers with compare-and-set.

The model is the store of PROTOCOL.md section 11. Each key is a register that is either absent
(revision 0) or holds (revision, state). A history is a list of operations, each with the
monotonic times at which it was invoked and completed and an outcome:

- ``ok``: the answer arrived and the operation took effect (a load observed what it reports);
- ``fail``: the answer arrived and nothing changed; a CONFLICT still observed the current
  revision, so it must be placed too. A failure without a conflict (not executed, ERROR 2xx)
  observed nothing and is left out;
- ``info``: the outcome is unknown (OUTCOME_UNKNOWN, a lost connection): the write took
  effect at one moment after its invoke, or never. Its completion is +infinity.

The search is Wing & Gong's, as refined by Lowe and Porcupine (WGL): walk the history's calls
and returns in time order, linearize a call whenever the model accepts it, backtrack when a
return is reached whose call could not be placed, and remember every (linearized set, model
state) configuration already explored so that no configuration is searched twice. Keys are
independent registers, so the history is split into connected components of keys joined by
transactions and each component is searched on its own: the cost is exponential only in the
concurrency inside one component, not in the length of the history.

Run ``python3 linearizability.py history.jsonl``: one line out, exit 0 if linearizable, 1 if
not, 2 if the file is malformed, 3 if ``--time-limit`` ran out first. The history format is
in README.md beside this file.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

OUTCOMES = ("ok", "fail", "info")
KINDS = ("load", "upsert", "delete", "transact")
MAX_REVISION = 2**63 - 1


class HistoryError(ValueError):
    """The history itself is malformed: the harness that wrote it is at fault, not the store."""


# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One write of a request: an upsert (expected, state) or a delete (expected or None)."""

    kind: str  # "upsert" | "delete"
    key: str
    expected: Optional[int]  # None: an unconditional delete
    state: Optional[str] = None  # an upsert's state as canonical JSON text


@dataclass(frozen=True)
class Op:
    """One operation of a history, as recorded by a client.

    Loads carry ``observed``: (key, revision, state) with revision 0 for "no record" and state
    None when the harness did not record it (then only the revision is compared). Writes
    (upsert, delete, transact; a single upsert or delete is a one-item write) carry ``items``;
    an ``ok`` write may carry the revisions it reported (None for a delete item), a ``fail``
    write carries its conflicts as (item index, actual revision).
    """

    id: str
    process: str
    kind: str
    invoke: float
    complete: float  # math.inf when the outcome is info
    outcome: str
    items: tuple[Item, ...] = ()
    observed: tuple[tuple[str, int, Optional[str]], ...] = ()
    revisions: Optional[tuple[Optional[int], ...]] = None
    conflicts: tuple[tuple[int, int], ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        if self.kind == "load":
            return tuple(dict.fromkeys(key for key, _, _ in self.observed))
        return tuple(dict.fromkeys(item.key for item in self.items))

    @property
    def relevant(self) -> bool:
        """Whether the op constrains the search: it changed or observed something, or may have."""
        if self.kind == "load":
            return self.outcome == "ok"
        return self.outcome != "fail" or bool(self.conflicts)

    def describe(self) -> str:
        if self.kind == "load":
            seen = ", ".join(_record_text(rev, state) for _, rev, state in self.observed)
            body = f"load({self.keys[0]}) -> {seen}"
        else:
            body = f"{self.kind}({'; '.join(_item_text(item) for item in self.items)})"
            if self.outcome == "ok":
                body += " -> ok"
                if self.revisions is not None:
                    body += " " + ",".join("deleted" if r is None else f"rev {r}" for r in self.revisions)
            elif self.outcome == "fail":
                body += " -> conflict " + ", ".join(f"item {i} actual {a}" for i, a in self.conflicts)
            else:
                body += " -> info (outcome unknown)"
        end = "inf" if math.isinf(self.complete) else f"{self.complete:.6f}"
        return f"op {self.id} (process {self.process}, [{self.invoke:.6f}, {end}]) {body}"


def _item_text(item: Item) -> str:
    if item.kind == "upsert":
        return f"upsert {item.key} expected {item.expected} state {item.state}"
    if item.expected is None:
        return f"delete {item.key}"
    return f"delete {item.key} expected {item.expected}"


def _record_text(revision: int, state: Optional[str]) -> str:
    if revision == 0:
        return "absent"
    return f"rev {revision}" + ("" if state is None else f" state {state}")


# --------------------------------------------------------------------------------------------
# The model: one step of a register set
# --------------------------------------------------------------------------------------------
# A partition's state is a tuple with one entry per key of the partition: None (absent) or
# (revision, state text). Tuples hash, so states go straight into the search's cache.


def _revision(value: Optional[tuple[int, str]]) -> int:
    return 0 if value is None else value[0]


def _holds(item: Item, current: int) -> bool:
    return item.expected is None or item.expected == current


def step(op: Op, state: tuple, slot: dict[str, int]) -> Optional[tuple]:
    """The state after linearizing ``op`` in ``state``, or None if the model rejects it there.

    An info write is accepted only where it applies; where its expectation fails it would have
    changed nothing, which is the same as never linearizing it, and the search allows that.
    """
    if op.kind == "load":
        for key, revision, observed_state in op.observed:
            current = state[slot[key]]
            if revision == 0:
                if current is not None:
                    return None
            elif current is None or current[0] != revision or (
                observed_state is not None and current[1] != observed_state
            ):
                return None
        return state
    if op.outcome == "fail":
        actual_of = dict(op.conflicts)
        for index, item in enumerate(op.items):
            current = _revision(state[slot[item.key]])
            if index in actual_of:
                if _holds(item, current) or actual_of[index] != current:
                    return None
            elif not _holds(item, current):
                return None  # a transaction names every failing item (6.28)
        return state
    after = list(state)
    for index, item in enumerate(op.items):
        position = slot[item.key]
        if not _holds(item, _revision(after[position])):
            return None
        if item.kind == "upsert":
            revision = item.expected + 1
            if op.revisions is not None and op.revisions[index] != revision:
                return None
            after[position] = (revision, item.state)
        else:
            after[position] = None
    return tuple(after)


# --------------------------------------------------------------------------------------------
# The search (WGL with a cache of configurations, as in Porcupine)
# --------------------------------------------------------------------------------------------


@dataclass
class Failure:
    """Why one partition is not linearizable, from the deepest point the search reached."""

    keys: tuple[str, ...]
    linearized: tuple[Op, ...]  # the longest linearizable prefix found
    state: dict[str, Optional[tuple[int, str]]]  # the model after that prefix
    blocked: Op  # the op whose completion came before it could be placed
    pending: tuple[Op, ...]  # every op invoked but not placed at that point, blocked included

    def describe(self) -> str:
        state = ", ".join(
            f"{key} {_record_text(_revision(value), None if value is None else value[1])}"
            for key, value in self.state.items()
        )
        others = [op.id for op in self.pending if op is not self.blocked]
        text = (
            f"keys {','.join(self.keys)}: after {len(self.linearized)} linearized ops ({state}), "
            f"{self.blocked.describe()} cannot be placed"
        )
        if others:
            text += f"; also pending: {', '.join(others)}"
        return text


@dataclass
class Result:
    ok: Optional[bool]  # None: the time limit ran out before an answer
    ops: int  # ops searched (the ones that changed or observed something)
    partitions: int
    failures: list[Failure] = field(default_factory=list)
    configurations: int = 0  # configurations cached, a measure of the search's work
    orders: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)  # keys -> op ids placed

    def summary(self) -> str:
        if self.ok:
            return f"linearizable: {self.ops} ops in {self.partitions} partitions"
        if self.ok is None:
            return f"unknown: time limit reached ({self.ops} ops in {self.partitions} partitions)"
        head = f"NOT linearizable ({len(self.failures)} of {self.partitions} partitions): "
        return head + " | ".join(failure.describe() for failure in self.failures)


class _Node:
    __slots__ = ("op", "index", "guard", "match", "prev", "next")

    def __init__(self, op: Optional[Op], index: int, guard: Optional[tuple[int, int]] = None) -> None:
        self.op = op
        self.index = index
        self.guard = guard  # (slot, revision) the key must be at for the op to fit, checked before step()
        self.match: Optional[_Node] = None  # a call's return node; None on return nodes
        self.prev: Optional[_Node] = None
        self.next: Optional[_Node] = None


class _TimeUp(Exception):
    pass


_TAGS = random.Random(0x9E3779B97F4A7C15)  # fixed seed: a run is repeatable


def _check_partition(
    keys: tuple[str, ...], ops: list[Op], deadline: float
) -> tuple[Optional[Failure], int, tuple[str, ...]]:
    """Search one partition: (failure or None, configurations cached, the order found if any)."""
    slot = {key: position for position, key in enumerate(keys)}
    events = []
    for index, op in enumerate(ops):
        events.append((op.invoke, 0, index))
        events.append((op.complete, 1, index))
    events.sort()  # at equal times calls come first: touching windows count as concurrent
    head = _Node(None, -1)
    calls: dict[int, _Node] = {}
    last = head
    for _, is_return, index in events:
        node = _Node(ops[index], index, None if is_return else _guard(ops[index], slot))
        if is_return:
            calls[index].match = node
        else:
            calls[index] = node
        node.prev, last.next = last, node
        last = node

    def lift(call: _Node) -> None:
        for node in (call, call.match):
            node.prev.next = node.next
            if node.next is not None:
                node.next.prev = node.prev

    def unlift(call: _Node) -> None:
        for node in (call.match, call):
            node.prev.next = node
            if node.next is not None:
                node.next.prev = node

    # The set of linearized ops is kept as a Zobrist hash: the XOR of a random 128-bit tag per op,
    # updated in O(1) as ops are placed and taken back. A bitset would make every cache key as long
    # as the history (quadratic time and memory on long soaks); a false cache hit needs two sets
    # with equal 128-bit tags and equal states, which is negligible at any history length.
    tags = [_TAGS.getrandbits(128) for _ in ops]
    state: tuple = (None,) * len(keys)
    linearized = 0
    cache: set[tuple[int, tuple]] = set()
    stack: list[tuple[_Node, tuple, Any]] = []
    prefix: Any = None  # the ops placed so far, newest first, as (op, rest) pairs shared with the stack
    best: Optional[tuple[Any, tuple, _Node, list[Op]]] = None
    best_depth = -1
    entry = head.next
    steps = 0
    while entry is not None:
        steps += 1
        if steps & 0x3FFF == 0 and time.monotonic() > deadline:
            raise _TimeUp()
        if entry.match is not None:  # a call
            guard = entry.guard
            if guard is not None:
                value = state[guard[0]]
                if (0 if value is None else value[0]) != guard[1]:
                    entry = entry.next  # a cheap no: pending info writes are passed over many times
                    continue
            after = step(entry.op, state, slot)
            if after is not None:
                configuration = (linearized ^ tags[entry.index], after)
                if configuration not in cache:
                    cache.add(configuration)
                    stack.append((entry, state, prefix))
                    state, linearized = after, configuration[0]
                    prefix = (entry.op, prefix)
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
            continue
        if entry.op.outcome == "info":
            # Info returns sit at +infinity, after every definite return: all of those are placed.
            return None, len(cache), tuple(op.id for op in _unwind(prefix))
        if len(stack) > best_depth:
            best_depth = len(stack)
            pending = []
            node = head.next
            while node is not entry:
                if node.match is not None and node.op.outcome != "info":
                    pending.append(node.op)
                node = node.next
            pending.append(entry.op)
            best = (prefix, state, entry.op, pending)
        if not stack:
            placed, at, blocked, pending = best
            failure = Failure(keys, tuple(_unwind(placed)), dict(zip(keys, at)), blocked, tuple(pending))
            return failure, len(cache), ()
        call, state, prefix = stack.pop()
        linearized ^= tags[call.index]
        unlift(call)
        entry = call.next
    return None, len(cache), tuple(op.id for op in _unwind(prefix))


def _guard(op: Op, slot: dict[str, int]) -> Optional[tuple[int, int]]:
    """A revision one key must have for ``op`` to fit, if the op has such a precondition."""
    if op.kind == "load":
        key, revision, _ = op.observed[0]
        return slot[key], revision
    if op.outcome == "fail":
        index, actual = op.conflicts[0]
        return slot[op.items[index].key], actual
    for item in op.items:
        if item.expected is not None:
            return slot[item.key], item.expected
    return None


def _unwind(prefix: Any) -> list[Op]:
    ops = []
    while prefix is not None:
        op, prefix = prefix
        ops.append(op)
    ops.reverse()
    return ops


def partitions(history: Iterable[Op]) -> list[tuple[tuple[str, ...], list[Op]]]:
    """Split the history into connected components of keys joined by multi-key ops."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    ops = list(history)
    for op in ops:
        keys = op.keys
        for key in keys:
            find(key)
        for other in keys[1:]:
            parent[find(other)] = find(keys[0])
    groups: dict[str, tuple[list[str], list[Op]]] = {}
    for key in parent:
        groups.setdefault(find(key), ([], []))[0].append(key)
    for op in ops:
        groups[find(op.keys[0])][1].append(op)
    return [(tuple(sorted(keys)), members) for keys, members in groups.values()]


def check(history: list[Op], time_limit_s: Optional[float] = None) -> Result:
    """Whether ``history`` is linearizable against the register model, partition by partition.

    Every failing partition is reported. With ``time_limit_s`` the search gives up (ok None)
    once that much time has passed; a non-linearizable history can take exponential time.
    """
    _validate(history)
    relevant = [op for op in history if op.relevant]
    parts = partitions(relevant)
    deadline = math.inf if time_limit_s is None else time.monotonic() + time_limit_s
    result = Result(ok=True, ops=len(relevant), partitions=len(parts))
    for keys, ops in parts:
        try:
            failure, configurations, order = _check_partition(keys, ops, deadline)
        except _TimeUp:
            if result.ok:
                result.ok = None  # a failure already found stands
            return result
        result.configurations += configurations
        result.orders[keys] = order
        if failure is not None:
            result.ok = False
            result.failures.append(failure)
    return result


def _validate(history: list[Op]) -> None:
    """Reject histories that no harness should write: the fault is in the history, not the store."""
    seen: set[str] = set()
    for op in history:
        if op.id in seen:
            raise HistoryError(f"op {op.id}: duplicate id")
        seen.add(op.id)
        validate_op(op, f"op {op.id}")


def validate_op(op: Op, where: str) -> None:
    """Reject an op that is not well formed (an Op built by hand gets the checks parse_op makes)."""
    if op.kind not in KINDS:
        raise HistoryError(f"{where}: kind {op.kind!r} is not one of {', '.join(KINDS)}")
    if op.outcome not in OUTCOMES:
        raise HistoryError(f"{where}: outcome {op.outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not math.isfinite(op.invoke):
        raise HistoryError(f"{where}: invoke time must be finite")
    if op.outcome == "info":
        if not math.isinf(op.complete):
            raise HistoryError(f"{where}: an info op's completion must be +infinity")
    elif not (math.isfinite(op.complete) and op.complete >= op.invoke):
        raise HistoryError(f"{where}: completion must be finite and not before the invoke")
    if op.kind == "load":
        if op.items or len(op.observed) != 1:
            raise HistoryError(f"{where}: a load observes exactly one key and writes nothing")
        return
    if op.observed or not op.items:
        raise HistoryError(f"{where}: a write needs at least one item and observes no load")
    if op.kind != "transact" and len(op.items) != 1:
        raise HistoryError(f"{where}: a single {op.kind} has exactly one item")
    if op.kind in ("upsert", "delete") and op.items[0].kind != op.kind:
        raise HistoryError(f"{where}: a {op.kind} op's item is a {op.items[0].kind}")
    if len(op.keys) != len(op.items):
        raise HistoryError(f"{where}: a transaction names each key at most once")
    for item in op.items:
        if item.kind == "upsert" and (item.expected is None or item.state is None):
            raise HistoryError(f"{where}: an upsert needs an expected revision and a state")
    if op.revisions is not None and (op.outcome != "ok" or len(op.revisions) != len(op.items)):
        raise HistoryError(f"{where}: reported revisions belong to an ok write, one per item")
    if op.conflicts:
        indexes = [index for index, _ in op.conflicts]
        if op.outcome != "fail":
            raise HistoryError(f"{where}: conflicts belong to a fail outcome")
        if len(set(indexes)) != len(indexes) or not all(0 <= i < len(op.items) for i in indexes):
            raise HistoryError(f"{where}: conflict indexes must be distinct item positions")


# --------------------------------------------------------------------------------------------
# The JSON-lines history format
# --------------------------------------------------------------------------------------------


def _state_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field(obj: dict, name: str, where: str) -> Any:
    if name not in obj:
        raise HistoryError(f"{where}: missing field {name!r}")
    return obj[name]


def _revision_field(obj: dict, name: str, where: str, nullable: bool = False) -> Optional[int]:
    value = _field(obj, name, where) if not nullable else obj.get(name)
    if value is None and nullable:
        return None
    if type(value) is not int or not 0 <= value <= MAX_REVISION:
        raise HistoryError(f"{where}: {name} must be an integer revision 0..2^63-1, got {value!r}")
    return value


def _time_field(obj: dict, name: str, where: str, nullable: bool = False) -> Optional[float]:
    value = obj.get(name) if nullable else _field(obj, name, where)
    if value is None and nullable:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise HistoryError(f"{where}: {name} must be a finite number of seconds, got {value!r}")
    return float(value)


def _parse_item(obj: Any, where: str) -> Item:
    if not isinstance(obj, dict):
        raise HistoryError(f"{where}: an item must be an object")
    kind = _field(obj, "kind", where)
    key = _field(obj, "key", where)
    if not isinstance(key, str):
        raise HistoryError(f"{where}: key must be a string")
    if "ttl" in obj or "ttl_seconds" in obj:
        raise HistoryError(f"{where}: TTL writes are not modelled (expiry is a change nobody invokes)")
    if kind == "upsert":
        return Item("upsert", key, _revision_field(obj, "expected", where), _state_text(_field(obj, "state", where)))
    if kind == "delete":
        return Item("delete", key, _revision_field(obj, "expected", where, nullable=True))
    raise HistoryError(f"{where}: item kind {kind!r} is not upsert or delete")


def parse_op(obj: Any, where: str = "op") -> Op:
    """One op from its JSON object (the format of README.md)."""
    if not isinstance(obj, dict):
        raise HistoryError(f"{where}: an op must be a JSON object")
    op_id = _field(obj, "id", where)
    if not isinstance(op_id, (str, int)) or isinstance(op_id, bool):
        raise HistoryError(f"{where}: id must be a string or an integer")
    where = f"{where} (id {op_id})"
    kind = _field(obj, "kind", where)
    outcome = _field(obj, "outcome", where)
    if kind not in KINDS:
        raise HistoryError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if outcome not in OUTCOMES:
        raise HistoryError(f"{where}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    invoke = _time_field(obj, "invoke_s", where)
    complete = _time_field(obj, "complete_s", where, nullable=True)
    if outcome == "info":
        complete = math.inf  # it may take effect at any time after its invoke
    elif complete is None:
        raise HistoryError(f"{where}: an {outcome} op needs complete_s")
    args = obj.get("args") or {}
    result = obj.get("result")
    if not isinstance(args, dict) or not (result is None or isinstance(result, dict)):
        raise HistoryError(f"{where}: args and result must be objects (result may be null)")
    common = dict(id=str(op_id), process=str(obj.get("process")), kind=kind, invoke=invoke,
                  complete=complete, outcome=outcome)

    if kind == "transact":
        raw_items = _field(args, "items", where)
        if not isinstance(raw_items, list) or not raw_items:
            raise HistoryError(f"{where}: args.items must be a non-empty list")
        items = tuple(_parse_item(item, f"{where} item {i}") for i, item in enumerate(raw_items))
        keys = obj.get("keys")
        if keys is not None and (not isinstance(keys, list) or sorted(set(keys)) != sorted({i.key for i in items})):
            raise HistoryError(f"{where}: keys must list the keys of the items")
    else:
        key = _field(obj, "key", where)
        if not isinstance(key, str):
            raise HistoryError(f"{where}: key must be a string")
        if kind == "load":
            observed: tuple = ()
            if outcome == "ok":
                if result is None:
                    raise HistoryError(f"{where}: an ok load needs result {{revision, state}}")
                revision = _revision_field(result, "revision", where)
                state = None
                if revision and "state" in result:
                    state = _state_text(result["state"])
                observed = ((key, revision, state),)
            else:
                observed = ((key, 0, None),)  # observed nothing; left out of the search
            op = Op(observed=observed, **common)
            validate_op(op, where)
            return op
        items = (_parse_item(dict(args, kind=kind, key=key), where),)

    revisions = None
    conflicts: tuple = ()
    if outcome == "ok" and result is not None:
        if kind == "upsert" and "revision" in result:
            revisions = (_revision_field(result, "revision", where),)
        elif kind == "transact" and "revisions" in result:
            raw = result["revisions"]
            if not isinstance(raw, list):
                raise HistoryError(f"{where}: result.revisions must be a list")
            revisions = tuple(
                None if r is None else _revision_field({"revision": r}, "revision", where) for r in raw
            )
    elif outcome == "fail" and result is not None:
        if kind == "transact":
            raw = _field(result, "conflicts", where)
            if not isinstance(raw, list):
                raise HistoryError(f"{where}: result.conflicts must be a list of {{index, actual}}")
            pairs = []
            for entry in raw:
                if not isinstance(entry, dict) or type(entry.get("index")) is not int:
                    raise HistoryError(f"{where}: each conflict is {{index, actual}}")
                pairs.append((entry["index"], _revision_field(entry, "actual", where)))
            conflicts = tuple(sorted(pairs))
        elif "actual" in result:
            conflicts = ((0, _revision_field(result, "actual", where)),)
    op = Op(items=items, revisions=revisions, conflicts=conflicts, **common)
    validate_op(op, where)
    return op


def read_history(lines: Iterable[str], name: str = "history") -> list[Op]:
    """Ops from JSON lines, one object per line; blank lines are skipped."""
    history = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise HistoryError(f"{where}: not JSON: {error}") from None
        history.append(parse_op(obj, where))
    return history


def main(argv: list[str]) -> int:
    args = argv[1:]
    time_limit = None
    if len(args) == 3 and args[0] == "--time-limit":
        try:
            time_limit = float(args[1])
            args = args[2:]
        except ValueError:
            args = []
    if len(args) != 1:
        print("usage: linearizability.py [--time-limit SECONDS] history.jsonl", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as file:
            history = read_history(file, args[0])
        result = check(history, time_limit)
    except (OSError, UnicodeDecodeError, HistoryError) as error:
        print(f"malformed history: {error}")
        return 2
    print(result.summary())
    return {True: 0, False: 1, None: 3}[result.ok]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
