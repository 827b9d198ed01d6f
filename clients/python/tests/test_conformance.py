"""proto-spec/conformance/scenarios.json through the sync and the async client.

* ``LiveConformance*``: against a live pgstated at ``$PGSTATE_SOCKET``; skipped when the
  variable is unset.
* ``ScenarioFileTest``: the scenarios file is well formed (always runs).
* ``InterpreterAgainstFakeTest``: every scenario against the in-memory fake server of
  fake_server.py, which exercises the interpreter (always runs; the fake implements the
  store semantics, so the real verdict is the live run). Its identity is this process's,
  with the permissions pgstated without an access file grants an operator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import unittest
from typing import Any, Callable, Dict, List

import conformance
from fake_server import FakeServer
from pgstate import Identity, Permissions

LIVE_SOCKET = os.environ.get("PGSTATE_SOCKET")
SKIP_REASON = ("PGSTATE_SOCKET is not set: the conformance scenarios need a live pgstated "
               "(run them with PGSTATE_SOCKET=/path/to/pgstated.sock)")
DOC = conformance.load_scenarios()
SCENARIOS = DOC["scenarios"]
SCENARIO = {s["name"]: s for s in SCENARIOS}
ALL_PERMISSIONS = Permissions.READ | Permissions.WRITE | Permissions.ADMIN | Permissions.ANY_NAMESPACE


def operator_identity(**changes: Any) -> Identity:
    """This process as pgstated without an access file sees it when it runs as this user (an operator):
    the shared namespace, every permission; ``changes`` replaces fields."""
    fields: Dict[str, Any] = dict(uid=os.getuid(), gid=os.getgid(), pid=os.getpid(), user="", namespace="",
                                  permissions=ALL_PERMISSIONS, rule="")
    fields.update(changes)
    return Identity(**fields)


def _sync_test(scenario: Dict[str, Any]) -> Callable[[Any], None]:
    def test(self: Any) -> None:
        conformance.run_scenario_sync(self.socket_path(), scenario)
    test.__doc__ = "[sync] %s" % scenario["description"]
    return test


def _async_test(scenario: Dict[str, Any]) -> Callable[[Any], None]:
    def test(self: Any) -> None:
        asyncio.run(conformance.run_scenario_async(self.socket_path(), scenario))
    test.__doc__ = "[async] %s" % scenario["description"]
    return test


def _add_scenario_tests(cls: type, mode: str) -> type:
    for scenario in SCENARIOS:
        maker = _sync_test if mode == "sync" else _async_test
        setattr(cls, "test_%s" % scenario["name"], maker(scenario))
    return cls


@unittest.skipUnless(LIVE_SOCKET, SKIP_REASON)
class LiveConformanceSyncTest(unittest.TestCase):
    def socket_path(self) -> str:
        assert LIVE_SOCKET is not None
        return LIVE_SOCKET


@unittest.skipUnless(LIVE_SOCKET, SKIP_REASON)
class LiveConformanceAsyncTest(unittest.TestCase):
    def socket_path(self) -> str:
        assert LIVE_SOCKET is not None
        return LIVE_SOCKET


_add_scenario_tests(LiveConformanceSyncTest, "sync")
_add_scenario_tests(LiveConformanceAsyncTest, "async")


class ScenarioFileTest(unittest.TestCase):
    def test_document_is_well_formed(self) -> None:
        self.assertEqual(conformance.validate_document(DOC), [])

    def test_covers_the_contract(self) -> None:
        names = {s["name"] for s in SCENARIOS}
        for required in ["create_then_update", "byte_exact_states", "stale_revision_conflicts",
                         "create_over_existing_conflicts", "update_of_missing_conflicts", "load_missing",
                         "delete_is_idempotent", "conditional_delete", "conditional_delete_expected_zero",
                         "bad_revisions", "bad_ids", "unicode_and_long_ids", "race_create", "race_update",
                         "whoami", "namespaces_isolate", "bad_namespaces"]:
            self.assertIn(required, names)

    def test_large_revisions_are_exact_integers(self) -> None:
        revisions = [step["expected_revision"] for s in SCENARIOS for step in s["steps"]
                     if isinstance(step.get("expected_revision"), int)]
        self.assertIn(2**64 - 1, revisions)
        self.assertIn(2**63, revisions)
        self.assertTrue(all(isinstance(r, int) for r in revisions))

    def test_ids_resolve(self) -> None:
        self.assertEqual(conformance.resolve_id({"id": "{p}a"}, "conf-1-ab-"), "conf-1-ab-a")
        padded = conformance.resolve_id({"id": "{p}\u8ba2", "id_pad_to": 255}, "conf-1-ab-")
        self.assertEqual(len(padded.encode("utf-8")), 255)
        self.assertEqual(conformance.resolve_id({"id_hex": ""}, "x"), "")
        bad = conformance.resolve_id({"id_hex": "61c328"}, "x")
        self.assertRaises(UnicodeEncodeError, bad.encode, "utf-8")

    def test_identity_steps_are_data(self) -> None:
        ops = {step["op"] for s in SCENARIOS for step in s["steps"]}
        self.assertIn("whoami", ops)
        namespaced = [step for s in SCENARIOS for step in s["steps"] if "namespace" in step]
        self.assertEqual({step["op"] for step in namespaced}, {"load", "upsert", "delete"})
        self.assertIn("", {step["namespace"] for step in namespaced})
        whoami = SCENARIO["whoami"]["steps"][0]["expect"]["identity"]
        self.assertEqual(whoami["operator_extra"], ["admin", "any_namespace"])

    def test_document_problems_are_found(self) -> None:
        def problems(*steps: Dict[str, Any]) -> List[str]:
            return conformance.validate_document(
                {"description": "", "scenarios": [{"name": "s", "description": "", "steps": list(steps)}]})
        who = {"namespace": "", "permissions_include": ["read"]}
        self.assertEqual(problems({"op": "whoami", "expect": {"identity": who}}), [])
        self.assertTrue(problems({"op": "whoareyou", "expect": {"ok": True}}))
        self.assertTrue(problems({"op": "whoami", "expect": {"ok": True}}))
        self.assertTrue(problems({"op": "whoami", "id": "{p}x", "expect": {"identity": who}}))
        self.assertTrue(problems({"op": "whoami", "expect": {"identity": dict(who, permissions_include=["root"])}}))
        self.assertTrue(problems({"op": "whoami", "expect": {"identity": dict(who, operator_extra=["root"])}}))
        self.assertTrue(problems({"op": "whoami", "expect": {"identity": dict(who, uid=0)}}))
        self.assertTrue(problems({"op": "load", "id": "{p}x", "expect": {"identity": who}}))
        self.assertTrue(problems({"op": "ping", "namespace": "a", "expect": {"ok": True}}))
        self.assertTrue(problems({"op": "load", "namespace": 1, "id": "{p}x", "expect": {"not_found": True}}))

    def test_interpreter_fails_on_an_unknown_step(self) -> None:
        unknown_op = {"name": "unknown_op", "description": "", "steps": [{"op": "whoareyou", "expect": {"ok": True}}]}
        unknown_expect = {"name": "unknown_expect", "description": "", "steps": [
            {"op": "ping", "expect": {"pong": True}}]}
        with FakeServer(identity=operator_identity()) as server:
            for scenario in (unknown_op, unknown_expect):
                with self.assertRaises(conformance.StepFailure):
                    conformance.run_scenario_sync(server.path, scenario)
                with self.assertRaises(conformance.StepFailure):
                    asyncio.run(conformance.run_scenario_async(server.path, scenario))

    def test_interpreter_detects_a_wrong_identity(self) -> None:
        cases = {
            "another uid": (operator_identity(uid=os.getuid() + 1), SCENARIO["whoami"]),
            "another namespace": (operator_identity(namespace="billing"), SCENARIO["whoami"]),
            "no write": (operator_identity(permissions=Permissions.READ | Permissions.ADMIN
                                           | Permissions.ANY_NAMESPACE), SCENARIO["whoami"]),
            # the fake's socket belongs to this process's user: an operator, who must get the extras
            "an operator without admin": (operator_identity(permissions=Permissions.READ | Permissions.WRITE),
                                          SCENARIO["whoami"]),
            "no any_namespace for namespaced steps": (
                operator_identity(permissions=Permissions.READ | Permissions.WRITE | Permissions.ADMIN),
                SCENARIO["namespaces_isolate"]),
        }
        for what, (identity, scenario) in cases.items():
            with self.subTest(what), FakeServer(identity=identity) as server:
                self.assertTrue(conformance.is_operator(server.path))
                with self.assertRaises(conformance.StepFailure):
                    conformance.run_scenario_sync(server.path, scenario)
                with self.assertRaises(conformance.StepFailure):
                    asyncio.run(conformance.run_scenario_async(server.path, scenario))

    def test_interpreter_detects_a_namespace_ignored(self) -> None:
        # A fake that drops the namespace of every request (all in one store) fails the isolation scenario.
        def ignore_namespace(server: FakeServer, request: Any) -> Any:
            if getattr(request, "namespace", None) is None:
                return None  # the store's own answer
            return server.answer(dataclasses.replace(request, namespace=None))
        with FakeServer(identity=operator_identity(), responder=ignore_namespace) as server:
            with self.assertRaises(conformance.StepFailure):
                conformance.run_scenario_sync(server.path, SCENARIO["namespaces_isolate"])

    def test_interpreter_detects_a_wrong_expectation(self) -> None:
        wrong = {"name": "wrong", "description": "", "steps": [
            {"op": "load", "id": "{p}x", "expect": {"record": {"revision": 1, "state_hex": ""}}}]}
        with FakeServer() as server:
            with self.assertRaises(conformance.StepFailure):
                conformance.run_scenario_sync(server.path, wrong)
            with self.assertRaises(conformance.StepFailure):
                asyncio.run(conformance.run_scenario_async(server.path, wrong))
        lost = {"name": "race", "description": "", "steps": [
            {"op": "race", "id": "{p}r", "writers": 4, "expected_revision": 0, "state_hex": "",
             "expect": {"winners": 2, "conflicts": 2}}]}
        with FakeServer() as server:
            with self.assertRaises(conformance.StepFailure):
                conformance.run_scenario_sync(server.path, lost)


class InterpreterAgainstFakeTest(unittest.TestCase):
    server: FakeServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = FakeServer(identity=operator_identity())
        cls.server.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def socket_path(self) -> str:
        return self.server.path


for _scenario in SCENARIOS:
    setattr(InterpreterAgainstFakeTest, "test_%s_sync" % _scenario["name"], _sync_test(_scenario))
    setattr(InterpreterAgainstFakeTest, "test_%s_async" % _scenario["name"], _async_test(_scenario))


if __name__ == "__main__":
    unittest.main()
