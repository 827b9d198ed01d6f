"""Every vector of proto-spec/vectors/outcomes.json through the client's one classifier.

"outcomes": the request in flight (a Call of its kind) and the event go through
pgstate._outcomes -- the functions both clients use -- and must give the vector's outcome
class, its fields, its status and its connection decision; the exception raised must be
the one of its class. "calls": the call is built and encoded against the vector's
HELLO_OK and must send exactly the vector's bytes, or be refused with InvalidArgument.
"""

from __future__ import annotations

import json
import pathlib
import unittest
from typing import Any, Dict, Optional

import pgstate
from pgstate import _calls, _multikey_calls, _outcomes
from pgstate import _protocol as p

OUTCOMES_PATH = pathlib.Path(__file__).resolve().parents[3] / "proto-spec" / "vectors" / "outcomes.json"

with OUTCOMES_PATH.open(encoding="utf-8") as _f:
    DOC: Dict[str, Any] = json.load(_f)

REQUESTS = {v["request"]: v for v in DOC["vectors"]}

EXCEPTIONS = {
    "conflict": pgstate.ConcurrencyError,
    "transaction_conflict": pgstate.TransactionConflict,
    "invalid_argument": pgstate.InvalidArgument,
    "permission_denied": pgstate.PermissionDenied,
    "unavailable": pgstate.Unavailable,
    "outcome_unknown": pgstate.OutcomeUnknown,
    "server_error": pgstate.ServerError,
    "protocol_error": pgstate.ProtocolError,
}


def hello_ok(overrides: Optional[Dict[str, Any]] = None) -> p.HelloOk:
    m = dict(DOC["hello_ok"])
    m.update(overrides or {})
    multi_key = m["capabilities"] & p.CAP_MULTI_KEY  # the batch limits exist only with MULTI_KEY
    return p.HelloOk(m["request_id"], m["version"], m["server_version"], m["max_frame_bytes"], m["max_id_bytes"],
                     m["max_state_bytes"], m["max_in_flight"], m["capabilities"],
                     m["max_batch_items"] if multi_key else None, m["max_batch_bytes"] if multi_key else None)


def make_item(d: Dict[str, Any]) -> Any:
    if d["kind"] == "delete":
        return pgstate.Delete(d["persistence_id"], d["expected_revision"])
    return pgstate.Upsert(d["persistence_id"], d["expected_revision"], bytes.fromhex(d["state_hex"]),
                          d.get("ttl_seconds"))


def make_call(kind: str, args: Dict[str, Any]) -> _calls.Call:
    """The Call of ``kind`` with arguments in the vectors' message notation."""
    namespace = args.get("namespace")  # absent: the connection's own
    if kind == "hello":
        return _calls.HelloCall(tuple(args["versions"]), args["client_name"])
    if kind == "ping":
        return _calls.PingCall()
    if kind == "whoami":
        return _calls.WhoAmICall()
    if kind == "health":
        return _calls.HealthCall()
    if kind == "stats":
        return _calls.StatsCall()
    if kind == "clients":
        return _calls.ClientsCall(args["after_connection"])
    if kind == "pause":
        return _calls.PauseCall(args["timeout_ms"])
    if kind == "resume":
        return _calls.ResumeCall()
    if kind == "load":
        return _calls.LoadCall(args["persistence_id"], namespace)
    if kind == "upsert":
        return _calls.UpsertCall(args["persistence_id"], namespace, args["expected_revision"],
                                 bytes.fromhex(args["state_hex"]), args.get("ttl_seconds"))
    if kind == "bulk_load":
        return _multikey_calls.BulkLoadCall(tuple(args["ids"]), namespace)
    if kind == "bulk_write":
        return _multikey_calls.BulkWriteCall(tuple(make_item(i) for i in args["items"]), namespace)
    if kind == "transact":
        return _multikey_calls.TransactCall(tuple(make_item(i) for i in args["items"]), namespace)
    if kind == "list":
        return _multikey_calls.ListCall(args["prefix"], args.get("after"), args["limit"], namespace)
    if kind == "delete":
        return _calls.DeleteCall(args["persistence_id"], namespace)
    if kind == "conditional_delete":
        return _calls.ConditionalDeleteCall(args["persistence_id"], namespace, args["expected_revision"])
    raise AssertionError("unknown request kind " + kind)


def received(data: bytes, limits: p.Limits) -> _outcomes.Received:
    """What a client's reader delivers for these bytes: a decoded response or a ProtocolError."""
    reader = p.FrameReader(limits.max_frame_bytes)
    reader.feed(data)
    try:
        frame = reader.next_frame()
        assert frame is not None, "a response event must hold a whole frame or an oversized length"
        return p.decode_response(frame)
    except pgstate.ProtocolError as exc:
        return exc


def classify(vector: Dict[str, Any]) -> _outcomes.Outcome:
    kind = vector["request"]
    request = REQUESTS[kind]["message"]
    call = make_call(kind, request)
    event = vector["event"]
    limits = p.DEFAULT_LIMITS if kind == "hello" else hello_ok().limits
    if event["kind"] == "response":
        return _outcomes.classify_received(call, request["request_id"],
                                           received(bytes.fromhex(event["hex"]), limits), limits)
    if event["kind"] == "connection_lost":
        return _outcomes.classify_lost(call, event["written"], ConnectionResetError("connection reset"))
    if event["kind"] == "timeout":
        return _outcomes.classify_timeout(call, event["written"], 1.5)
    raise AssertionError("unknown event kind %r" % event["kind"])


def as_vector_outcome(outcome: _outcomes.Outcome) -> Dict[str, Any]:
    """An Outcome in the notation of the vectors' "outcome"."""
    d: Dict[str, Any] = {"class": outcome.cls.value}
    if outcome.cls is _outcomes.OutcomeClass.RECORD:
        d["revision"] = outcome.result.revision
    if outcome.cls is _outcomes.OutcomeClass.IDENTITY:
        identity = outcome.result
        assert isinstance(identity, pgstate.Identity) and isinstance(identity.permissions, pgstate.Permissions)
        d.update(uid=identity.uid, namespace=identity.namespace, permissions=int(identity.permissions))
    if outcome.cls is _outcomes.OutcomeClass.HEALTH:
        health = outcome.result
        assert isinstance(health, pgstate.Health)
        state = (health.pool_up and 0x1) | (health.paused and 0x2) | (health.draining and 0x4)
        d.update(state=state, ready=health.ready)
    if outcome.cls is _outcomes.OutcomeClass.STATS:
        assert all(isinstance(e, pgstate.StatsEntry) for e in outcome.result)
        d["entries"] = len(outcome.result)
    if outcome.cls is _outcomes.OutcomeClass.CLIENTS:
        page = outcome.result
        assert all(isinstance(r, pgstate.ClientRow) for r in page.rows)
        d.update(rows=len(page.rows), more=page.more)
    if outcome.cls is _outcomes.OutcomeClass.RECORDS:
        loaded = outcome.result
        assert isinstance(loaded, _multikey_calls.BulkLoaded)
        assert all(r is None or isinstance(r, pgstate.Record) for r in loaded.records.values())
        d.update(entries=len(loaded.records) + len(loaded.omitted), omitted=len(loaded.omitted))
    if outcome.cls in (_outcomes.OutcomeClass.OUTCOMES, _outcomes.OutcomeClass.COMMITTED):
        want = pgstate.Outcome if outcome.cls is _outcomes.OutcomeClass.OUTCOMES else (pgstate.Record, type(None))
        assert all(isinstance(o, want) for o in outcome.result), outcome.result
        d["items"] = len(outcome.result)
    if outcome.cls is _outcomes.OutcomeClass.TRANSACTION_CONFLICT:
        assert isinstance(outcome.error, pgstate.TransactionConflict)
        d["conflicts"] = len(outcome.error.failed)
    if outcome.cls is _outcomes.OutcomeClass.PAGE:
        page = outcome.result
        assert isinstance(page, pgstate.Page) and all(isinstance(e, pgstate.ListEntry) for e in page.items)
        d.update(entries=len(page.items), more=page.more)
    if outcome.cls is _outcomes.OutcomeClass.CONFLICT:
        assert isinstance(outcome.error, pgstate.ConcurrencyError)
        d["expected_revision"] = outcome.error.expected_revision
        d["actual_revision"] = outcome.error.actual_revision
    if outcome.status is not None:
        d["status"] = outcome.status
    return d


class OutcomeFileTest(unittest.TestCase):
    def test_every_kind_has_its_request_and_vectors(self) -> None:
        kinds = {"hello", "ping", "load", "upsert", "delete", "conditional_delete", "whoami", "health", "stats",
                 "clients", "pause", "resume", "bulk_load", "bulk_write", "transact", "list"}
        self.assertEqual(set(REQUESTS), kinds)
        self.assertEqual({v["request"] for v in DOC["outcomes"]}, kinds)
        self.assertGreater(len(DOC["outcomes"]), 250)
        self.assertGreater(len(DOC["calls"]), 30)
        for kind, v in REQUESTS.items():
            self.assertEqual(make_call(kind, v["message"]).is_write, v["write"], kind)

    def test_classes_and_connection_decisions_are_the_classifiers(self) -> None:
        self.assertEqual(set(DOC["classes"]), {c.value for c in _outcomes.OutcomeClass})
        self.assertEqual(set(DOC["connection"]), {c.value for c in _outcomes.Connection})


    def test_identity_and_permission_vectors_are_there(self) -> None:
        classes = [(v["request"], v["outcome"]["class"], v["connection"]) for v in DOC["outcomes"]]
        self.assertGreaterEqual(classes.count(("whoami", "identity", "keep")), 3)
        for kind in ("load", "upsert", "delete", "conditional_delete", "whoami"):
            self.assertIn((kind, "permission_denied", "keep"), classes)
        self.assertIn(("hello", "permission_denied", "drop"), classes)
        named = [v for v in DOC["calls"] if "namespace" in v["arguments"]]
        self.assertGreaterEqual(sum("sends" in v for v in named), 5)
        self.assertGreaterEqual(sum("outcome" in v for v in named), 5)


class OutcomeVectorsTest(unittest.TestCase):
    def test_outcome_vectors(self) -> None:
        for v in DOC["outcomes"]:
            with self.subTest(vector=v["name"]):
                outcome = classify(v)
                self.assertEqual(as_vector_outcome(outcome), v["outcome"])
                self.assertEqual(outcome.connection.value, v["connection"])
                want = EXCEPTIONS.get(v["outcome"]["class"])
                if want is None:
                    self.assertIsNone(outcome.error)
                    outcome.value()
                else:
                    with self.assertRaises(want) as cm:
                        outcome.value()
                    self.assertIs(cm.exception, outcome.error)
                    if "status" in v["outcome"]:
                        self.assertEqual(cm.exception.status, v["outcome"]["status"])

    def test_a_drop_says_how_the_other_requests_fail(self) -> None:
        """On a drop the other requests in flight fail by the ending (PROTOCOL.md 12.3): a
        protocol error fails every one with ProtocolError, the final 202 fails every one as not
        executed, anything else as a connection lost after the request was written."""
        write = make_call("upsert", REQUESTS["upsert"]["message"])
        for v in DOC["outcomes"]:
            if v["connection"] != "drop" or v["request"] == "hello":
                continue
            with self.subTest(vector=v["name"]):
                outcome = classify(v)
                assert outcome.ending is not None
                other = _outcomes.after_ending(write, outcome.ending, written=True)
                if v["outcome"]["class"] == "protocol_error":
                    expected = "protocol_error"
                elif v["name"].endswith("final_shutting_down"):
                    expected = "unavailable"
                else:
                    expected = "outcome_unknown"
                self.assertEqual(other.cls.value, expected)


class CallVectorsTest(unittest.TestCase):
    def test_call_vectors(self) -> None:
        for v in DOC["calls"]:
            with self.subTest(vector=v["name"]):
                kind = v["request"]
                request = REQUESTS[kind]["message"]
                server = hello_ok(v.get("server"))
                if "outcome" in v:
                    self.assertEqual(v["outcome"], {"class": "invalid_argument"})
                    with self.assertRaises(pgstate.InvalidArgument):
                        make_call(kind, v["arguments"]).encode(request["request_id"], server)
                else:
                    frame = make_call(kind, v["arguments"]).encode(request["request_id"], server)
                    self.assertEqual(frame.hex(), v["sends"])

    def test_multi_key_call_vectors_are_there(self) -> None:
        kinds = [(v["request"], "sends" in v) for v in DOC["calls"]]
        for kind in ("bulk_load", "bulk_write", "transact", "list"):
            self.assertIn((kind, True), kinds)
            self.assertIn((kind, False), kinds)
        names = {v["name"] for v in DOC["calls"]}
        self.assertIn("call_upsert_ttl_without_ttl_capability", names)
        self.assertIn("call_list_without_multi_key", names)


if __name__ == "__main__":
    unittest.main()
