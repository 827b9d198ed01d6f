"""Interpreter of proto-spec/conformance/scenarios.json (format: proto-spec/conformance/README.md).

Runs a scenario's steps through the sync :class:`pgstate.Client` or the async
:class:`pgstate.aio.AsyncClient` and checks each outcome; a mismatch, or a step this
interpreter does not know, raises :class:`StepFailure` naming the scenario, the step and
what differed. A scenario with a multi-key step (or a TTL) is skipped (:class:`ScenarioSkipped`)
against a server that does not announce MULTI_KEY (or TTL): an older server does not serve it.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import pathlib
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

import pgstate
from pgstate import aio

SCENARIOS_PATH = pathlib.Path(__file__).resolve().parents[3] / "proto-spec" / "conformance" / "scenarios.json"

MULTI_KEY_OPS = ("bulk_load", "bulk_write", "transact", "list")
OPS = ("load", "upsert", "delete", "ping", "race", "whoami", "sleep") + MULTI_KEY_OPS
NAMESPACED_OPS = ("load", "upsert", "delete") + MULTI_KEY_OPS  # the ops that may carry "namespace"
EXPECT_KINDS = ("record", "not_found", "ok", "conflict", "error", "identity", "records", "outcomes", "committed",
                "transaction_conflict", "page")
# What each multi-key op may expect besides {"error": ...}.
MULTI_KEY_EXPECT = {"bulk_load": ("records",), "bulk_write": ("outcomes",),
                    "transact": ("committed", "transaction_conflict"), "list": ("page",)}
IDENTITY_KEYS = ("namespace", "permissions_include", "operator_extra")
# Permission names of an identity expectation: PROTOCOL.md section 6.13, in lower case.
PERMISSIONS = {p.name.lower(): p for p in pgstate.Permissions if p.name is not None}
CLOCK_TOLERANCE = datetime.timedelta(minutes=5)

Outcome = Tuple[str, Any]


class StepFailure(AssertionError):
    pass


class ScenarioSkipped(unittest.SkipTest):
    """The server does not announce a capability the scenario needs (MULTI_KEY, TTL)."""


def needed_capabilities(scenario: Dict[str, Any]) -> List[str]:
    """The capabilities beyond the base protocol a scenario's steps use."""
    steps = scenario["steps"]
    needed = []
    if any(step["op"] in MULTI_KEY_OPS for step in steps):
        needed.append("MULTI_KEY")
    if any("ttl_seconds" in step or any("ttl_seconds" in i for i in step.get("items", [])) for step in steps):
        needed.append("TTL")
    return needed


def skip_unless_served(scenario: Dict[str, Any], hello: Optional[Any]) -> None:
    assert hello is not None
    announced = {"MULTI_KEY": hello.multi_key, "TTL": hello.ttl}
    missing = [c for c in needed_capabilities(scenario) if not announced[c]]
    if missing:
        raise ScenarioSkipped("%s: the server (%s) does not announce %s" % (scenario["name"], hello.server_version,
                                                                            " and ".join(missing)))


def load_scenarios(path: pathlib.Path = SCENARIOS_PATH) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        doc: Dict[str, Any] = json.load(f)  # integers stay exact: 2^64-1 is an int, not a float
    return doc


def make_prefix() -> str:
    return "conf-%d-%s-" % (os.getpid(), os.urandom(6).hex())


def resolve_id(step: Dict[str, Any], prefix: str) -> str:
    """The step's persistence id: "id" with "{p}" substituted (padded to "id_pad_to" bytes),
    or "id_hex" decoded. Bytes that are not UTF-8 become lone surrogates (surrogateescape),
    which the client must refuse as it cannot send them."""
    if "id" in step:
        pid: str = step["id"].replace("{p}", prefix)
        pad_to = step.get("id_pad_to")
        if pad_to is not None:
            missing = pad_to - len(pid.encode("utf-8"))
            if missing < 0:
                raise StepFailure("id %r is already longer than id_pad_to %d" % (pid, pad_to))
            pid += "x" * missing
        return pid
    return bytes.fromhex(step["id_hex"]).decode("utf-8", "surrogateescape")


def resolve_ids(step: Dict[str, Any], prefix: str) -> List[str]:
    return [pid.replace("{p}", prefix) for pid in step["ids"]]


def resolve_after(step: Dict[str, Any], prefix: str) -> Optional[str]:
    return step["after"].replace("{p}", prefix) if "after" in step else None


def resolve_items(step: Dict[str, Any], prefix: str) -> List[Any]:
    """The step's items as the package's items (which check them, as the call would)."""
    items: List[Any] = []
    for item in step["items"]:
        pid = item["id"].replace("{p}", prefix)
        if item["kind"] == "upsert":
            items.append(pgstate.Upsert(pid, item["expected_revision"], bytes.fromhex(item["state_hex"]),
                                        item.get("ttl_seconds")))
        else:
            items.append(pgstate.Delete(pid, item.get("expected_revision")))
    return items


def resolve_namespace(step: Dict[str, Any]) -> Optional[str]:
    """The step's "namespace", used as it is; None (the connection's own namespace) without the key."""
    namespace: Optional[str] = step.get("namespace")
    return namespace


def is_operator(socket_path: str) -> bool:
    """Whether this process is an operator of the daemon at ``socket_path``: root, or the daemon's
    user, taken to be the owner of the socket file (the daemon binds it as its own user)."""
    uid = os.getuid()
    return uid == 0 or uid == os.stat(socket_path).st_uid


def resolve_permissions(where: str, names: List[str]) -> pgstate.Permissions:
    perms = pgstate.Permissions(0)
    for name in names:
        if name not in PERMISSIONS:
            raise StepFailure("%s: unknown permission %r (known: %s)" % (where, name, ", ".join(PERMISSIONS)))
        perms |= PERMISSIONS[name]
    return perms


def resolve_state(obj: Dict[str, Any]) -> bytes:
    if "state_hex" in obj:
        return bytes.fromhex(obj["state_hex"])
    if "state_repeat" in obj:
        rep = obj["state_repeat"]
        return bytes.fromhex(rep["hex"]) * rep["count"]
    raise StepFailure("no state_hex or state_repeat in %r" % (obj,))


def validate_document(doc: Dict[str, Any]) -> List[str]:
    """Structural problems of a scenarios document (empty list if none)."""
    problems: List[str] = []
    names = set()
    if not isinstance(doc.get("description"), str):
        problems.append("document has no description")
    for sc in doc.get("scenarios", []):
        name = sc.get("name", "?")
        if name in names:
            problems.append("duplicate scenario name %s" % name)
        names.add(name)
        if not isinstance(sc.get("description"), str):
            problems.append("%s: no description" % name)
        if not sc.get("steps"):
            problems.append("%s: no steps" % name)
        for i, step in enumerate(sc.get("steps", [])):
            where = "%s step %d" % (name, i)
            op = step.get("op")
            if op not in OPS:
                problems.append("%s: unknown op %r" % (where, op))
                continue
            if op == "sleep":
                if set(step) != {"op", "ms"} or not isinstance(step["ms"], int) or step["ms"] < 0:
                    problems.append("%s: sleep takes ms (an integer >= 0) and nothing else" % where)
                continue
            if op in MULTI_KEY_OPS:
                problems.extend(_multi_key_problems(where, op, step))
                continue
            if op in ("ping", "whoami"):
                if "id" in step or "id_hex" in step:
                    problems.append("%s: %s takes no id" % (where, op))
            elif ("id" in step) == ("id_hex" in step):
                problems.append("%s: needs exactly one of id, id_hex" % where)
            if "namespace" in step and (op not in NAMESPACED_OPS or not isinstance(step["namespace"], str)):
                problems.append("%s: namespace must be a string, on %s only" % (where, ", ".join(NAMESPACED_OPS)))
            if "id" in step and "{p}" not in step["id"]:
                problems.append("%s: id without the {p} prefix" % where)
            if op in ("upsert", "race") and ("state_hex" in step) == ("state_repeat" in step):
                problems.append("%s: needs exactly one of state_hex, state_repeat" % where)
            if op in ("upsert", "race") and not isinstance(step.get("expected_revision"), int):
                problems.append("%s: needs an integer expected_revision" % where)
            expect = step.get("expect")
            if not isinstance(expect, dict):
                problems.append("%s: no expect" % where)
                continue
            if op == "race":
                if set(expect) != {"winners", "conflicts"} or \
                        expect["winners"] + expect["conflicts"] != step.get("writers"):
                    problems.append("%s: race expect must be winners + conflicts = writers" % where)
                continue
            if len(expect) != 1 or next(iter(expect)) not in EXPECT_KINDS:
                problems.append("%s: expect must be exactly one of %s" % (where, ", ".join(EXPECT_KINDS)))
                continue
            if (op == "whoami") != ("identity" in expect):
                problems.append("%s: whoami expects identity, and only whoami does" % where)
            if "identity" in expect:
                problems.extend(_identity_problems(where, expect["identity"]))
    return problems


def _template_problems(where: str, what: str, value: Any) -> List[str]:
    if not isinstance(value, str) or "{p}" not in value:
        return ["%s: %s must be a string with the {p} prefix" % (where, what)]
    return []


def _multi_key_problems(where: str, op: str, step: Dict[str, Any]) -> List[str]:
    problems: List[str] = []
    if "namespace" in step and not isinstance(step["namespace"], str):
        problems.append("%s: namespace must be a string" % where)
    if op == "bulk_load":
        ids = step.get("ids")
        if not isinstance(ids, list):
            problems.append("%s: bulk_load needs ids (a list)" % where)
        else:
            for i, pid in enumerate(ids):
                problems.extend(_template_problems(where, "ids[%d]" % i, pid))
    elif op in ("bulk_write", "transact"):
        items = step.get("items")
        if not isinstance(items, list):
            problems.append("%s: %s needs items (a list)" % (where, op))
        else:
            for i, item in enumerate(items):
                problems.extend(_item_problems("%s item %d" % (where, i), item))
    else:
        problems.extend(_template_problems(where, "prefix", step.get("prefix")))
        if "after" in step:
            problems.extend(_template_problems(where, "after", step["after"]))
        if not isinstance(step.get("limit"), int):
            problems.append("%s: list needs an integer limit" % where)
    expect = step.get("expect")
    if not isinstance(expect, dict) or len(expect) != 1 or \
            next(iter(expect)) not in MULTI_KEY_EXPECT[op] + ("error",):
        problems.append("%s: %s expects exactly one of %s" % (where, op, ", ".join(MULTI_KEY_EXPECT[op] + ("error",))))
    return problems


def _item_problems(where: str, item: Any) -> List[str]:
    if not isinstance(item, dict) or item.get("kind") not in ("upsert", "delete"):
        return ["%s: an item is an object with kind upsert or delete" % where]
    problems = _template_problems(where, "id", item.get("id"))
    if item["kind"] == "upsert":
        if not isinstance(item.get("expected_revision"), int) or not isinstance(item.get("state_hex"), str):
            problems.append("%s: an upsert item needs expected_revision and state_hex" % where)
        if not set(item) <= {"kind", "id", "expected_revision", "state_hex", "ttl_seconds"}:
            problems.append("%s: unknown keys in an upsert item" % where)
    elif not set(item) <= {"kind", "id", "expected_revision"}:
        problems.append("%s: unknown keys in a delete item" % where)
    return problems


def _identity_problems(where: str, identity: Any) -> List[str]:
    if not isinstance(identity, dict) or not set(identity) <= set(IDENTITY_KEYS) or \
            not isinstance(identity.get("namespace"), str) or "permissions_include" not in identity:
        return ["%s: identity needs namespace (a string) and permissions_include, optionally operator_extra"
                % where]
    problems = []
    for key in ("permissions_include", "operator_extra"):
        names = identity.get(key, [])
        if not isinstance(names, list) or not all(n in PERMISSIONS for n in names):
            problems.append("%s: %s must list permissions among %s" % (where, key, ", ".join(PERMISSIONS)))
    return problems


# --- outcomes -----------------------------------------------------------------------------------


def outcome_of_result(op: str, result: Any) -> Outcome:
    if op in ("bulk_load", "bulk_write", "transact", "list"):
        return ({"bulk_load": "records", "bulk_write": "outcomes", "transact": "committed", "list": "page"}[op],
                result)
    if isinstance(result, pgstate.Record):
        return ("record", result)
    if isinstance(result, pgstate.Identity):
        return ("identity", result)
    if op == "load":
        return ("not_found", None)
    return ("ok", None)


def outcome_of_error(exc: BaseException) -> Outcome:
    if isinstance(exc, pgstate.TransactionConflict):
        return ("transaction_conflict", exc)
    if isinstance(exc, pgstate.ConcurrencyError):
        return ("conflict", exc)
    if isinstance(exc, pgstate.InvalidArgument):
        return ("error", "INVALID_ARGUMENT")
    raise exc


def describe(outcome: Outcome) -> str:
    kind, value = outcome
    if kind == "record":
        return "record(revision %d, %d state bytes)" % (value.revision, len(value.state))
    if kind == "conflict":
        return "conflict(expected %d, actual %d)" % (value.expected_revision, value.actual_revision)
    if kind == "error":
        return "error(%s)" % value
    if kind == "identity":
        return "identity(uid %d, namespace %r, permissions %s)" % (value.uid, value.namespace, value.permissions)
    if kind in ("records", "outcomes", "committed"):
        return "%s(%r)" % (kind, value)
    if kind == "transaction_conflict":
        return "transaction_conflict(%s)" % value
    if kind == "page":
        return "page(%r, more %s)" % (list(value.ids), value.more)
    return kind


def check_outcome(where: str, expect: Dict[str, Any], outcome: Outcome, operator: bool, prefix: str = "") -> None:
    """``operator``: whether the runner is an operator of the daemon (see :func:`is_operator`); ``prefix``
    substitutes ``{p}`` in the ids a page expects."""
    kind = next(iter(expect))
    if kind not in EXPECT_KINDS:
        raise StepFailure("%s: unknown expectation %r" % (where, kind))
    got_kind, value = outcome
    if got_kind != kind:
        raise StepFailure("%s: expected %s, got %s" % (where, json.dumps(expect)[:200], describe(outcome)))
    if kind == "record":
        want = expect["record"]
        if value.revision != want["revision"]:
            raise StepFailure("%s: expected revision %d, got %d" % (where, want["revision"], value.revision))
        state = resolve_state(want)
        if value.state != state:
            raise StepFailure("%s: state differs (expected %d bytes, got %d bytes)"
                              % (where, len(state), len(value.state)))
        now = datetime.datetime.now(datetime.timezone.utc)
        if value.updated_at.tzinfo is None or abs(value.updated_at - now) > CLOCK_TOLERANCE:
            raise StepFailure("%s: updated_at %s is not within 5 minutes of %s" % (where, value.updated_at, now))
    elif kind == "conflict":
        want = expect["conflict"]
        if (value.expected_revision, value.actual_revision) != (want["expected"], want["actual"]):
            raise StepFailure("%s: expected conflict(%d, %d), got %s"
                              % (where, want["expected"], want["actual"], describe(outcome)))
    elif kind == "error":
        if value != expect["error"]:
            raise StepFailure("%s: expected error %s, got %s" % (where, expect["error"], value))
    elif kind == "identity":
        check_identity(where, expect["identity"], value, operator)
    else:
        check_multi_key(where, kind, expect[kind], value, prefix)


def _record_problem(want: Optional[Dict[str, Any]], got: Optional[pgstate.Record]) -> Optional[str]:
    if want is None or got is None:
        return None if want is got else "expected %s, got %s" % (
            "no record" if want is None else "revision %d" % want["revision"],
            "no record" if got is None else "revision %d" % got.revision)
    if got.revision != want["revision"]:
        return "expected revision %d, got %d" % (want["revision"], got.revision)
    if got.state != resolve_state(want):
        return "state differs (expected %d bytes, got %d bytes)" % (len(resolve_state(want)), len(got.state))
    return None


def _item_outcome(o: Any) -> Dict[str, Any]:
    """A bulk_write outcome in the scenarios' notation."""
    if isinstance(o, pgstate.Written):
        return {"written": o.revision}
    if isinstance(o, pgstate.Deleted):
        return {"deleted": True}
    if isinstance(o, pgstate.Conflict):
        return {"conflict": {"expected": o.expected_revision, "actual": o.actual_revision}}
    return {"failed": o.status}


def check_multi_key(where: str, kind: str, want: Any, value: Any, prefix: str) -> None:
    if kind == "records":  # value: (the ids asked, in request order; the dict bulk_load returned)
        ids, records = value
        if len(want) != len(ids):
            raise StepFailure("%s: %d records expected for %d ids" % (where, len(want), len(ids)))
        for i, (pid, w) in enumerate(zip(ids, want)):
            problem = _record_problem(w, records[pid]) if pid in records else "missing from the answer"
            if problem is not None:
                raise StepFailure("%s: records[%d] (%r): %s" % (where, i, pid, problem))
    elif kind == "outcomes":
        got = [_item_outcome(o) for o in value]
        if got != want:
            raise StepFailure("%s: expected outcomes %s, got %s" % (where, json.dumps(want), json.dumps(got)))
    elif kind == "committed":
        got = [None if r is None else r.revision for r in value]
        if got != want:
            raise StepFailure("%s: expected committed %s, got %s" % (where, json.dumps(want), json.dumps(got)))
    elif kind == "transaction_conflict":
        got = [{"index": c.index, "expected": c.expected_revision, "actual": c.actual_revision} for c in value.failed]
        if got != want:
            raise StepFailure("%s: expected transaction_conflict %s, got %s"
                              % (where, json.dumps(want), json.dumps(got)))
        if value.conflicts != {c.persistence_id: c.actual_revision for c in value.failed}:
            raise StepFailure("%s: conflicts %r do not map the failed items' ids" % (where, value.conflicts))
    elif kind == "page":
        want_ids = [i.replace("{p}", prefix) for i in want["ids"]]
        if list(value.ids) != want_ids or value.more != want["more"]:
            raise StepFailure("%s: expected page %s (more %s), got %s (more %s)"
                              % (where, want_ids, want["more"], list(value.ids), value.more))
        if value.more != (value.next_after is not None) or (value.more and value.next_after != want_ids[-1]):
            raise StepFailure("%s: next_after %r does not follow the page" % (where, value.next_after))


def check_identity(where: str, want: Dict[str, Any], got: pgstate.Identity, operator: bool) -> None:
    if got.uid != os.getuid():
        raise StepFailure("%s: WHOAMI says uid %d, but this process runs as uid %d" % (where, got.uid, os.getuid()))
    if got.namespace != want["namespace"]:
        raise StepFailure("%s: expected namespace %r, got %r" % (where, want["namespace"], got.namespace))
    need = resolve_permissions(where, want["permissions_include"])
    if operator:
        need |= resolve_permissions(where, want.get("operator_extra", []))
    missing = need & ~got.permissions
    if missing:
        raise StepFailure("%s: permissions %s lack %s%s" % (where, got.permissions, missing,
                                                            " (this process is an operator)" if operator else ""))


def check_race(where: str, step: Dict[str, Any], outcomes: List[Outcome]) -> None:
    n = step["expected_revision"]
    winners = [o for o in outcomes if o[0] == "record"]
    conflicts = [o for o in outcomes if o[0] == "conflict"]
    if len(winners) != step["expect"]["winners"] or len(conflicts) != step["expect"]["conflicts"]:
        raise StepFailure("%s: expected %d winners and %d conflicts, got %s"
                          % (where, step["expect"]["winners"], step["expect"]["conflicts"],
                             ", ".join(describe(o) for o in outcomes)))
    for _, rec in winners:
        if rec.revision != n + 1:
            raise StepFailure("%s: winner got revision %d, not %d" % (where, rec.revision, n + 1))
    for _, exc in conflicts:
        if (exc.expected_revision, exc.actual_revision) != (n, n + 1):
            raise StepFailure("%s: loser got %s, not conflict(%d, %d)" % (where, describe(("conflict", exc)), n, n + 1))


# --- sync runner --------------------------------------------------------------------------------


def _sync_call(where: str, client: pgstate.Client, step: Dict[str, Any], prefix: str) -> Outcome:
    op = step["op"]
    try:
        result: Any = None
        if op == "ping":
            client.ping()
        elif op == "whoami":
            result = client.whoami()
        elif op == "load":
            result = client.load(resolve_id(step, prefix), namespace=resolve_namespace(step))
        elif op == "upsert":
            result = client.upsert(resolve_id(step, prefix), step["expected_revision"], resolve_state(step),
                                   step.get("ttl_seconds"), namespace=resolve_namespace(step))
        elif op == "delete":
            client.delete(resolve_id(step, prefix), step.get("expected_revision"), namespace=resolve_namespace(step))
        elif op == "bulk_load":
            ids = resolve_ids(step, prefix)
            result = (ids, client.bulk_load(ids, namespace=resolve_namespace(step)))
        elif op == "bulk_write":
            result = client.bulk_write(resolve_items(step, prefix), namespace=resolve_namespace(step))
        elif op == "transact":
            result = client.transact(resolve_items(step, prefix), namespace=resolve_namespace(step))
        elif op == "list":
            result = client.list(step["prefix"].replace("{p}", prefix), resolve_after(step, prefix), step["limit"],
                                 namespace=resolve_namespace(step))
        else:
            raise StepFailure("%s: unknown op %r" % (where, op))
    except pgstate.Error as exc:
        return outcome_of_error(exc)
    return outcome_of_result(op, result)


def _sync_race(socket_path: str, step: Dict[str, Any], prefix: str, timeout: Optional[float]) -> List[Outcome]:
    writers = step["writers"]
    clients = [pgstate.Client(socket_path, timeout=timeout) for _ in range(writers)]
    barrier = threading.Barrier(writers)
    outcomes: List[Optional[Outcome]] = [None] * writers
    errors: List[BaseException] = []
    pid, state = resolve_id(step, prefix), resolve_state(step)

    def write(i: int) -> None:
        try:
            barrier.wait(30)
            outcomes[i] = outcome_of_result("upsert", clients[i].upsert(pid, step["expected_revision"], state))
        except pgstate.ConcurrencyError as exc:
            outcomes[i] = ("conflict", exc)
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        for c in clients:
            c.connect()  # all connections open before anyone writes
        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in clients:
            c.close()
    if errors:
        raise errors[0]
    return [o for o in outcomes if o is not None]


def run_scenario_sync(socket_path: str, scenario: Dict[str, Any], prefix: Optional[str] = None,
                      timeout: Optional[float] = 30.0) -> None:
    prefix = prefix or make_prefix()
    operator = is_operator(socket_path)
    with pgstate.Client(socket_path, timeout=timeout) as client:
        skip_unless_served(scenario, client.server_info)
        for i, step in enumerate(scenario["steps"]):
            where = "%s step %d (%s)" % (scenario["name"], i, step["op"])
            if step["op"] == "race":
                check_race(where, step, _sync_race(socket_path, step, prefix, timeout))
            elif step["op"] == "sleep":
                time.sleep(step["ms"] / 1000)
            else:
                check_outcome(where, step["expect"], _sync_call(where, client, step, prefix), operator, prefix)


# --- async runner -------------------------------------------------------------------------------


async def _async_call(where: str, client: aio.AsyncClient, step: Dict[str, Any], prefix: str) -> Outcome:
    op = step["op"]
    try:
        result: Any = None
        if op == "ping":
            await client.ping()
        elif op == "whoami":
            result = await client.whoami()
        elif op == "load":
            result = await client.load(resolve_id(step, prefix), namespace=resolve_namespace(step))
        elif op == "upsert":
            result = await client.upsert(resolve_id(step, prefix), step["expected_revision"], resolve_state(step),
                                         step.get("ttl_seconds"), namespace=resolve_namespace(step))
        elif op == "delete":
            await client.delete(resolve_id(step, prefix), step.get("expected_revision"),
                                namespace=resolve_namespace(step))
        elif op == "bulk_load":
            ids = resolve_ids(step, prefix)
            result = (ids, await client.bulk_load(ids, namespace=resolve_namespace(step)))
        elif op == "bulk_write":
            result = await client.bulk_write(resolve_items(step, prefix), namespace=resolve_namespace(step))
        elif op == "transact":
            result = await client.transact(resolve_items(step, prefix), namespace=resolve_namespace(step))
        elif op == "list":
            result = await client.list(step["prefix"].replace("{p}", prefix), resolve_after(step, prefix),
                                       step["limit"], namespace=resolve_namespace(step))
        else:
            raise StepFailure("%s: unknown op %r" % (where, op))
    except pgstate.Error as exc:
        return outcome_of_error(exc)
    return outcome_of_result(op, result)


async def _async_race(where: str, socket_path: str, step: Dict[str, Any], prefix: str,
                      timeout: Optional[float]) -> List[Outcome]:
    clients = [aio.AsyncClient(socket_path, timeout=timeout) for _ in range(step["writers"])]
    try:
        await asyncio.gather(*(c.connect() for c in clients))  # separate connections
        return list(await asyncio.gather(*(_async_call(where, c, dict(step, op="upsert"), prefix) for c in clients)))
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def run_scenario_async(socket_path: str, scenario: Dict[str, Any], prefix: Optional[str] = None,
                             timeout: Optional[float] = 30.0) -> None:
    prefix = prefix or make_prefix()
    operator = is_operator(socket_path)
    async with aio.AsyncClient(socket_path, timeout=timeout) as client:
        skip_unless_served(scenario, client.server_info)
        for i, step in enumerate(scenario["steps"]):
            where = "%s step %d (%s)" % (scenario["name"], i, step["op"])
            if step["op"] == "race":
                check_race(where, step, await _async_race(where, socket_path, step, prefix, timeout))
            elif step["op"] == "sleep":
                await asyncio.sleep(step["ms"] / 1000)
            else:
                check_outcome(where, step["expect"], await _async_call(where, client, step, prefix), operator,
                              prefix)
