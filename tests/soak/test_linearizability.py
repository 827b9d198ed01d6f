"""Unit tests of the linearizability checker: histories it must accept, histories it must reject."""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from linearizability import HistoryError, check, parse_op, partitions, read_history  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
_ids = iter(range(1, 10**9))


def _op(kind, t0, t1, outcome, key=None, args=None, result=None, process=0, op_id=None):
    obj = {
        "id": op_id if op_id is not None else next(_ids),
        "process": process,
        "kind": kind,
        "args": args or {},
        "invoke_s": t0,
        "complete_s": None if outcome == "info" else t1,
        "outcome": outcome,
        "result": result,
    }
    if key is not None:
        obj["key"] = key
    return obj


def load(key, t0, t1, revision, state=None, **kw):
    result = {"revision": revision}
    if state is not None:
        result["state"] = state
    return _op("load", t0, t1, "ok", key, result=result, **kw)


def upsert(key, t0, t1, expected, state, outcome="ok", actual=None, **kw):
    result = {"revision": expected + 1} if outcome == "ok" else None
    if actual is not None:
        result = {"actual": actual}
    return _op("upsert", t0, t1, outcome, key, {"expected": expected, "state": state}, result, **kw)


def delete(key, t0, t1, expected=None, outcome="ok", actual=None, **kw):
    result = {"actual": actual} if actual is not None else None
    return _op("delete", t0, t1, outcome, key, {"expected": expected}, result, **kw)


def transact(items, t0, t1, outcome="ok", conflicts=None, **kw):
    result = None
    if outcome == "ok":
        result = {"revisions": [i["expected"] + 1 if i["kind"] == "upsert" else None for i in items]}
    if conflicts is not None:
        result = {"conflicts": [{"index": i, "actual": a} for i, a in conflicts]}
    return _op("transact", t0, t1, outcome, args={"items": items}, result=result, **kw)


def U(key, expected, state):
    return {"kind": "upsert", "key": key, "expected": expected, "state": state}


def D(key, expected=None):
    return {"kind": "delete", "key": key, "expected": expected}


def run(*objs):
    return check([parse_op(obj) for obj in objs])


class Sequential(unittest.TestCase):
    def test_create_update_delete_create_again(self):
        result = run(
            load("k", 0, 1, 0),
            upsert("k", 2, 3, 0, "a"),
            load("k", 4, 5, 1, "a"),
            upsert("k", 6, 7, 1, "b"),
            upsert("k", 8, 9, 1, "c", outcome="fail", actual=2),
            load("k", 10, 11, 2, "b"),
            delete("k", 12, 13, expected=2),
            load("k", 14, 15, 0),
            delete("k", 16, 17),  # unconditional, nothing to delete
            delete("k", 18, 19, expected=0),  # only if absent
            upsert("k", 20, 21, 0, "d"),  # a create after a delete starts again at 1
            load("k", 22, 23, 1, "d"),
        )
        self.assertTrue(result.ok, result.summary())
        self.assertEqual(result.ops, 12)

    def test_wrong_state_rejected(self):
        result = run(upsert("k", 0, 1, 0, "a"), load("k", 2, 3, 1, "b"))
        self.assertFalse(result.ok)

    def test_ok_upsert_reporting_a_wrong_revision_rejected(self):
        bad = upsert("k", 0, 1, 0, "a")
        bad["result"] = {"revision": 2}
        self.assertFalse(run(bad).ok)

    def test_failure_without_conflict_observed_nothing(self):
        result = run(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, 3, 7, "x", outcome="fail"),  # not executed (UNAVAILABLE)
            _op("load", 4, 5, "fail", "k"),
            load("k", 6, 7, 1, "a"),
        )
        self.assertTrue(result.ok, result.summary())
        self.assertEqual(result.ops, 2)


class Concurrent(unittest.TestCase):
    def test_overlapping_writes_only_one_order(self):
        # Listed in the opposite order and invoked out of order, they fit only as first, then second.
        second = upsert("k", 0.0, 10.0, 1, "b", op_id="second")
        first = upsert("k", 0.5, 9.0, 0, "a", op_id="first")
        result = run(second, first, load("k", 11, 12, 2, "b", op_id="read"))
        self.assertTrue(result.ok, result.summary())
        self.assertEqual(result.orders[("k",)], ("first", "second", "read"))

    def test_concurrent_creates_one_conflicts(self):
        result = run(
            upsert("k", 0, 5, 0, "a", op_id="a"),
            upsert("k", 1, 4, 0, "b", outcome="fail", actual=1),
            load("k", 1, 6, 1, "a"),
        )
        self.assertTrue(result.ok, result.summary())

    def test_read_concurrent_with_write_sees_either(self):
        for seen in ((0, None), (1, "a")):
            with self.subTest(seen=seen):
                result = run(upsert("k", 0, 5, 0, "a"), load("k", 1, 2, *seen))
                self.assertTrue(result.ok, result.summary())

    def test_touching_windows_count_as_concurrent(self):
        result = run(upsert("k", 0, 1, 0, "a"), load("k", 1, 2, 0))
        self.assertTrue(result.ok, result.summary())


class NotLinearizable(unittest.TestCase):
    def assertRejected(self, *objs, blocked=None, keys=("k",)):
        result = run(*objs)
        self.assertIs(result.ok, False, result.summary())
        self.assertEqual([f.keys for f in result.failures], [keys])
        if blocked is not None:
            self.assertIn(blocked, [op.id for op in result.failures[0].pending])
        self.assertIn("NOT linearizable", result.summary())
        return result.failures[0]

    def test_stale_read_after_completed_write(self):
        failure = self.assertRejected(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, 3, 1, "b"),
            load("k", 4, 5, 1, "a", op_id="stale"),
            blocked="stale",
        )
        self.assertEqual(len(failure.linearized), 2)
        self.assertEqual(failure.state["k"][0], 2)

    def test_two_successful_creates(self):
        self.assertRejected(upsert("k", 0, 1, 0, "a"), upsert("k", 0.5, 2, 0, "b"))

    def test_conflict_naming_a_revision_that_never_existed(self):
        self.assertRejected(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, 3, 5, "x", outcome="fail", actual=2, op_id="liar"),
            blocked="liar",
        )

    def test_conflict_naming_a_revision_from_before_its_window(self):
        self.assertRejected(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, 3, 1, "b"),
            upsert("k", 4, 5, 0, "x", outcome="fail", actual=1, op_id="late"),
            blocked="late",
        )

    def test_conflict_naming_the_expected_revision(self):
        self.assertRejected(upsert("k", 0, 1, 0, "a"), upsert("k", 2, 3, 1, "b", outcome="fail", actual=1))

    def test_revision_going_backwards(self):
        self.assertRejected(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 0, 10, 1, "b"),  # long window: either load alone would fit
            load("k", 2, 3, 2, "b"),
            load("k", 4, 5, 1, "a", op_id="back"),
            blocked="back",
        )

    def test_lost_acknowledged_write(self):
        # Both writers were told they made revision 2; a later load shows only one of them.
        self.assertRejected(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, 3, 1, "from-p1", process=1),
            upsert("k", 2.5, 3.5, 1, "from-p2", process=2),
            load("k", 5, 6, 2, "from-p2"),
        )

    def test_acknowledged_write_read_over(self):
        self.assertRejected(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, 3, 1, "b"),
            load("k", 4, 5, 0),  # as if the acknowledged write (and the record) were gone
        )

    def test_transaction_observed_half_applied(self):
        self.assertRejected(
            upsert("x", 0, 1, 0, "x1"),
            upsert("y", 0, 1, 0, "y1"),
            transact([U("x", 1, "x2"), U("y", 1, "y2")], 2, 3),
            load("x", 2.2, 2.4, 2, "x2"),
            load("y", 2.6, 2.8, 1, "y1"),
            keys=("x", "y"),
        )

    def test_failed_transaction_that_applied_one_item(self):
        self.assertRejected(
            upsert("x", 0, 1, 0, "x1"),
            transact([U("x", 1, "x2"), U("y", 3, "y?")], 2, 3, outcome="fail", conflicts=[(1, 0)]),
            load("x", 4, 5, 2, "x2"),
            keys=("x", "y"),
        )

    def test_transaction_conflict_must_name_every_failing_item(self):
        named_all = [(0, 1), (1, 0)]
        named_one = [(1, 0)]
        for conflicts, ok in ((named_all, True), (named_one, False)):
            with self.subTest(conflicts=conflicts):
                result = run(
                    upsert("x", 0, 1, 0, "x1"),
                    transact([U("x", 0, "x?"), U("y", 4, "y?")], 2, 3, outcome="fail", conflicts=conflicts),
                )
                self.assertIs(result.ok, ok, result.summary())

    def test_unconditional_delete_never_conflicts(self):
        self.assertRejected(delete("k", 0, 1, outcome="fail", actual=0))


class Info(unittest.TestCase):
    def test_info_resolves_either_way(self):
        for seen in ((1, "a"), (0, None)):
            with self.subTest(seen=seen):
                result = run(upsert("k", 0, None, 0, "a", outcome="info"), load("k", 5, 6, *seen))
                self.assertTrue(result.ok, result.summary())

    def test_info_may_apply_long_after_its_invoke(self):
        result = run(
            upsert("k", 0, None, 0, "a", outcome="info"),
            load("k", 5, 6, 0),
            load("k", 7, 8, 1, "a"),
        )
        self.assertTrue(result.ok, result.summary())

    def test_info_not_before_its_invoke(self):
        result = run(load("k", 0, 1, 1, "a"), upsert("k", 2, None, 0, "a", outcome="info"))
        self.assertFalse(result.ok)

    def test_info_that_must_have_applied(self):
        result = run(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, None, 1, "b", outcome="info", op_id="unknown"),
            load("k", 5, 6, 2, "b", op_id="read"),
        )
        self.assertTrue(result.ok, result.summary())
        order = result.orders[("k",)]
        self.assertLess(order.index("unknown"), order.index("read"))

    def test_info_that_must_not_have_applied(self):
        result = run(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, None, 1, "b", outcome="info", op_id="unknown"),
            upsert("k", 5, 6, 1, "c"),
            load("k", 7, 8, 2, "c"),
        )
        self.assertTrue(result.ok, result.summary())
        self.assertNotIn("unknown", result.orders[("k",)])

    def test_info_cannot_both_apply_and_not(self):
        # A read shows the unknown write applied, then a write that expected it not to succeeds.
        result = run(
            upsert("k", 0, 1, 0, "a"),
            upsert("k", 2, None, 1, "b", outcome="info"),
            load("k", 5, 6, 2, "b"),
            upsert("k", 7, 8, 1, "c"),
        )
        self.assertFalse(result.ok)

    def test_info_transaction_all_or_nothing(self):
        applied = (load("x", 5, 6, 1, "x1"), load("y", 7, 8, 1, "y1"))
        half = (load("x", 5, 6, 1, "x1"), load("y", 7, 8, 0))
        for loads, ok in ((applied, True), (half, False)):
            with self.subTest(ok=ok):
                result = run(transact([U("x", 0, "x1"), U("y", 0, "y1")], 0, None, outcome="info"), *loads)
                self.assertIs(result.ok, ok, result.summary())


class Partitions(unittest.TestCase):
    def test_transactions_join_keys(self):
        history = [
            parse_op(obj)
            for obj in (
                upsert("a", 0, 1, 0, "a"),
                upsert("b", 0, 1, 0, "b"),
                upsert("c", 0, 1, 0, "c"),
                upsert("d", 0, 1, 0, "d"),
                transact([U("a", 1, "a2"), U("b", 1, "b2")], 2, 3),
                transact([U("b", 2, "b3"), D("c", 1)], 4, 5),
            )
        ]
        parts = {keys: [op.id for op in ops] for keys, ops in partitions(history)}
        self.assertEqual(set(parts), {("a", "b", "c"), ("d",)})
        self.assertEqual(len(parts[("a", "b", "c")]), 5)
        result = check(history)
        self.assertTrue(result.ok, result.summary())
        self.assertEqual(result.partitions, 2)

    def test_every_failing_partition_is_reported_alone(self):
        result = run(
            upsert("a", 0, 1, 0, "a"),
            load("a", 2, 3, 0),  # stale
            upsert("b", 0, 1, 0, "b"),
            load("b", 2, 3, 1, "b"),  # fine
            upsert("c", 0, 1, 0, "c"),
            upsert("c", 2, 3, 0, "c2"),  # second create
        )
        self.assertIs(result.ok, False)
        self.assertEqual(sorted(f.keys for f in result.failures), [("a",), ("c",)])
        self.assertEqual(result.partitions, 3)


def random_history(seed, ops=2000, keys=5, processes=8, concurrency=0.3):
    """A linearizable history made by running real registers and drawing windows around each op.

    Op i takes effect at time i. A concurrent op (probability ``concurrency``) gets a window of up
    to 3 time units either side; the others +-0.3, so they overlap only with concurrent
    neighbours. Some writes are stale (their conflict is recorded), some are transactions over
    two keys, a few end as info (applied or not, by a coin).
    """
    rng = random.Random(seed)
    names = [f"key-{n}" for n in range(keys)]
    store = {name: None for name in names}  # name -> (revision, state)
    history = []

    def rev(name):
        return 0 if store[name] is None else store[name][0]

    for i in range(ops):
        t = float(i)
        if rng.random() < concurrency:
            t0, t1 = t - rng.uniform(0, 3), t + rng.uniform(0, 3)
        else:
            t0, t1 = t - 0.3, t + 0.3
        common = {"process": rng.randrange(processes), "op_id": i}
        name = rng.choice(names)
        roll = rng.random()
        if roll < 0.4:
            value = store[name]
            history.append(load(name, t0, t1, rev(name), None if value is None else value[1], **common))
        elif roll < 0.8:
            expected = rev(name) if rng.random() < 0.8 else rng.randrange(0, rev(name) + 2)
            state = f"s{i}"
            if rng.random() < 0.03:
                if expected == rev(name) and rng.random() < 0.5:
                    store[name] = (expected + 1, state)
                history.append(upsert(name, t0, None, expected, state, outcome="info", **common))
            elif expected == rev(name):
                store[name] = (expected + 1, state)
                history.append(upsert(name, t0, t1, expected, state, **common))
            else:
                history.append(upsert(name, t0, t1, expected, state, outcome="fail", actual=rev(name), **common))
        elif roll < 0.88:
            expected = None if rng.random() < 0.3 else rev(name)
            if expected is None or expected == rev(name):
                store[name] = None
            history.append(delete(name, t0, t1, expected=expected, **common))
        else:
            a, b = rng.sample(names, 2)
            items = [U(a, rev(a), f"t{i}a"), U(b, rev(b) if rng.random() < 0.8 else rev(b) + 1, f"t{i}b")]
            failing = [(n, rev(item["key"])) for n, item in enumerate(items) if item["expected"] != rev(item["key"])]
            if failing:
                history.append(transact(items, t0, t1, outcome="fail", conflicts=failing, **common))
            else:
                for item in items:
                    store[item["key"]] = (item["expected"] + 1, item["state"])
                history.append(transact(items, t0, t1, **common))
    return history


class Performance(unittest.TestCase):
    def test_random_linearizable_history(self):
        for seed in (1, 2):
            with self.subTest(seed=seed):
                history = [parse_op(obj) for obj in random_history(seed)]
                started = time.monotonic()
                result = check(history)
                elapsed = time.monotonic() - started
                self.assertTrue(result.ok, result.summary())
                self.assertEqual(result.ops, 2000)
                self.assertLess(elapsed, 5.0, f"{elapsed:.2f} s")

    def test_random_history_with_one_corrupted_read_rejected(self):
        objs = random_history(3)
        reads = [o for o in objs if o["kind"] == "load" and o["result"]["revision"] > 0]
        victim = reads[len(reads) // 2]
        victim["result"]["revision"] += 7  # a revision the key never reaches near this read
        started = time.monotonic()
        result = check([parse_op(obj) for obj in objs], time_limit_s=30)
        self.assertIs(result.ok, False, result.summary())
        self.assertLess(time.monotonic() - started, 10.0)
        self.assertIn(str(victim["id"]), [op.id for f in result.failures for op in f.pending])


class HistoryFile(unittest.TestCase):
    def write(self, lines):
        handle = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8")
        with handle:
            handle.write("\n".join(lines) + "\n")
        self.addCleanup(os.unlink, handle.name)
        return handle.name

    def cli(self, path):
        script = os.path.join(HERE, "linearizability.py")
        done = subprocess.run([sys.executable, script, path], capture_output=True, text=True, timeout=60)
        self.assertEqual(len(done.stdout.splitlines()), 1, done.stdout)
        return done.returncode, done.stdout

    def test_exit_codes(self):
        good = [json.dumps(upsert("k", 0, 1, 0, "a")), "", json.dumps(load("k", 2, 3, 1, "a"))]
        bad = [json.dumps(upsert("k", 0, 1, 0, "a")), json.dumps(load("k", 2, 3, 0))]
        self.assertEqual(self.cli(self.write(good)), (0, "linearizable: 2 ops in 1 partitions\n"))
        code, out = self.cli(self.write(bad))
        self.assertEqual(code, 1)
        self.assertTrue(out.startswith("NOT linearizable"), out)
        code, out = self.cli(self.write(good + ["{not json"]))
        self.assertEqual(code, 2)
        self.assertIn(":4: not JSON", out)

    def test_malformed_ops_are_named(self):
        cases = {
            "missing field 'invoke_s'": {k: v for k, v in load("k", 0, 1, 0).items() if k != "invoke_s"},
            "kind 'cas'": dict(load("k", 0, 1, 0), kind="cas"),
            "needs complete_s": dict(load("k", 0, 1, 0), complete_s=None),
            "must be an integer revision": load("k", 0, 1, -1),
            "not before the invoke": load("k", 5, 1, 0),
            "at most once": transact([U("k", 0, "a"), D("k")], 0, 1),
            "TTL writes are not modelled": transact([dict(U("k", 0, "a"), ttl=5)], 0, 1),
            "distinct item positions": transact([U("k", 0, "a")], 0, 1, outcome="fail", conflicts=[(3, 1)]),
            "outcome 'maybe'": dict(load("k", 0, 1, 0), outcome="maybe"),
        }
        for message, obj in cases.items():
            with self.subTest(message=message):
                with self.assertRaises(HistoryError) as caught:
                    check(read_history([json.dumps(obj)]))
                self.assertIn(message, str(caught.exception))
                self.assertIn("history:1", str(caught.exception))

    def test_duplicate_ids(self):
        objs = [load("k", 0, 1, 0, op_id="same"), load("k", 2, 3, 0, op_id="same")]
        with self.assertRaisesRegex(HistoryError, "duplicate id"):
            check(read_history(json.dumps(o) for o in objs))


if __name__ == "__main__":
    unittest.main()
