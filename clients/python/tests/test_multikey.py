"""bulk_load, bulk_write, transact, list, iter_ids and TTLs: both clients against the fake pgstated.

Every case of ``MultiKeyCases`` runs twice, through :class:`pgstate.Client` and through
:class:`pgstate.aio.AsyncClient` (behind an adapter that runs each call on one event loop).
The fake applies PROTOCOL.md 6.22-6.30 (fake_server.py); a ``responder`` stands in for answers
the fake does not give by itself. The last class runs against a live pgstated at
$PGSTATE_SOCKET, skipped without it or when the server does not announce MULTI_KEY.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import unittest
from typing import Any, Callable, List, Optional

import pgstate
import server_codec as sc
from fake_server import FakeServer
from pgstate import Delete, Upsert, aio
from pgstate import _multikey as mk
from pgstate import _protocol as p

TIMEOUT = 10.0
BASE_CAPABILITIES = p.CAP_CONDITIONAL_DELETE | p.CAP_IDENTITY | p.CAP_OPERATOR


class AsyncAdapter:
    """An AsyncClient with the blocking client's call shapes: each call runs to completion on ``loop``."""

    def __init__(self, client: aio.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(attr(*args, **kwargs))
        return call

    def iter_ids(self, *args: Any, **kwargs: Any) -> List[str]:
        ids = self._client.iter_ids(*args, **kwargs)  # checked here, before anything is awaited

        async def collect() -> List[str]:
            return [pid async for pid in ids]
        return self._loop.run_until_complete(collect())

    def close(self) -> None:
        self._loop.run_until_complete(self._client.close())


def multi_key_requests(server: FakeServer) -> List[sc.Request]:
    return [r for r in server.data_requests if isinstance(r, (sc.BulkLoad, sc.BulkWrite, sc.Transact, sc.ListIds))]


class MultiKeyCases:
    """The cases; a subclass says which client runs them (``make_client``)."""

    assertEqual: Callable[..., None]
    assertIs: Callable[..., None]
    assertIsNone: Callable[..., None]
    assertIsNotNone: Callable[..., None]
    assertIsInstance: Callable[..., None]
    assertIn: Callable[..., None]
    assertTrue: Callable[..., None]
    assertFalse: Callable[..., None]
    assertRaises: Callable[..., Any]
    assertGreater: Callable[..., None]
    addCleanup: Callable[..., None]
    subTest: Callable[..., Any]

    def make_client(self, server: FakeServer, **kwargs: Any) -> Any:
        raise NotImplementedError

    def start(self, **kwargs: Any) -> FakeServer:
        server = FakeServer(**kwargs)
        server.start()
        self.addCleanup(server.stop)
        return server

    def client(self, server: FakeServer, **kwargs: Any) -> Any:
        c = self.make_client(server, **kwargs)
        self.addCleanup(c.close)
        return c

    # -- bulk_load -------------------------------------------------------------------------------

    def test_bulk_load_in_request_order(self) -> None:
        server = self.start()
        c = self.client(server)
        a = c.upsert("a", 0, b"state-a")
        c.upsert("b", 0, b"state-b")
        c.upsert("b", 1, b"state-b2")
        got = c.bulk_load(["b", "missing", "a", "b"])
        self.assertEqual(list(got), ["b", "missing", "a"])  # request order, a repeat once
        self.assertIsNone(got["missing"])
        self.assertEqual((got["b"].revision, got["b"].state), (2, b"state-b2"))
        self.assertEqual(got["a"], a)
        (request,) = multi_key_requests(server)
        self.assertEqual(request.ids, ("b", "missing", "a"))  # each id sent once

    def test_bulk_load_reloads_omitted_ids(self) -> None:
        # 4112-byte frames hold about 110 entries of 16-byte states: 300 ids need three answers.
        server = self.start(max_frame_bytes=4112, max_state_bytes=16)
        ids = ["id-%03d" % i for i in range(300)]
        for i, pid in enumerate(ids):
            server.store[pid] = (i + 1, b"%016d" % i, 0)
        got = self.client(server).bulk_load(ids)
        self.assertEqual(list(got), ids)
        self.assertEqual([(r.revision, r.state) for r in got.values()], [(i + 1, b"%016d" % i) for i in range(300)])
        sent = [r.ids for r in multi_key_requests(server)]
        self.assertGreater(len(sent), 2)
        self.assertEqual(sent[0], tuple(ids))
        answered = 0
        for before, after in zip(sent, sent[1:]):  # each request asks again for the tail left out
            self.assertGreater(len(before), len(after))
            answered += len(before) - len(after)
            self.assertEqual(after, tuple(ids[answered:]))

    def test_omitted_ids_are_asked_again_by_name(self) -> None:
        # The server may omit any entry but the first: only those are asked again, absent ones are answers.
        def omit_some(server: FakeServer, request: sc.Request) -> Optional[bytes]:
            if isinstance(request, sc.BulkLoad) and len(request.ids) == 4:
                return sc.encode_records(request.request_id, [
                    mk.RecordsEntry(mk.FOUND, 3, 0, b"x"), mk.RecordsEntry(mk.OMITTED), mk.RecordsEntry(mk.ABSENT),
                    mk.RecordsEntry(mk.OMITTED)])
            return None
        server = self.start(responder=omit_some)
        server.store["b"] = (7, b"bee", 0)
        got = self.client(server).bulk_load(["a", "b", "c", "d"])
        self.assertEqual({k: None if v is None else v.revision for k, v in got.items()},
                         {"a": 3, "b": 7, "c": None, "d": None})
        self.assertEqual([r.ids for r in multi_key_requests(server)], [("a", "b", "c", "d"), ("b", "d")])

    def test_bulk_load_answer_omitting_its_first_entry_is_a_protocol_error(self) -> None:
        def omit_first(server: FakeServer, request: sc.Request) -> Optional[bytes]:
            if isinstance(request, sc.BulkLoad):
                return sc.encode_records(request.request_id, [mk.RecordsEntry(mk.OMITTED)] * len(request.ids))
            return None
        server = self.start(responder=omit_first)
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError):
            c.bulk_load(["a", "b"])  # never loops: the first entry always fits
        c.ping()  # on a new connection
        self.assertEqual(server.connections, 2)

    def test_bulk_load_refusals_send_nothing(self) -> None:
        server = self.start(max_batch_items=4, max_id_bytes=8)
        c = self.client(server)
        for bad in ([], "abc", ["a", ""], ["a", 7], ["a", "b", "c", "d", "e"], ["123456789"], None, b"ab"):
            with self.subTest(ids=bad), self.assertRaises(pgstate.InvalidArgument):
                c.bulk_load(bad)
        with self.assertRaises(pgstate.InvalidArgument):
            c.bulk_load(["a"], namespace="bill/ing")
        self.assertEqual(c.bulk_load(["a", "b", "c", "d", "a"]), dict.fromkeys("abcd"))  # 4 distinct ids fit
        self.assertEqual(len(multi_key_requests(server)), 1)

    # -- bulk_write ------------------------------------------------------------------------------

    def test_bulk_write_items_are_independent(self) -> None:
        server = self.start()
        c = self.client(server)
        c.upsert("x", 0, b"one")
        outcomes = c.bulk_write([Upsert("y", 0, b"new"), Upsert("x", 0, b"clash"), Delete("z"),
                                 Delete("x", 1), Upsert("y", 1, b"again")])
        self.assertEqual([type(o) for o in outcomes],
                         [pgstate.Written, pgstate.Conflict, pgstate.Deleted, pgstate.Deleted, pgstate.Written])
        self.assertEqual([o.index for o in outcomes], [0, 1, 2, 3, 4])
        self.assertEqual([o.ok for o in outcomes], [True, False, True, True, True])
        self.assertEqual((outcomes[0].persistence_id, outcomes[0].revision), ("y", 1))
        self.assertEqual(outcomes[4].revision, 2)  # two items for one id apply in item order
        self.assertEqual((outcomes[1].expected_revision, outcomes[1].actual_revision), (0, 1))
        self.assertIsInstance(outcomes[1].error, pgstate.ConcurrencyError)
        self.assertIsNotNone(outcomes[0].updated_at.tzinfo)
        self.assertEqual(sorted(server.store), ["y"])
        self.assertEqual(server.store["y"][:2], (2, b"again"))

    def test_failed_items_say_what_their_status_means(self) -> None:
        def answer(server: FakeServer, request: sc.Request) -> Optional[bytes]:
            if isinstance(request, sc.BulkWrite):
                return sc.encode_outcomes(request.request_id, [
                    mk.ItemResult(mk.WRITTEN, revision=1, updated_at_us=0),
                    mk.ItemResult(mk.FAILED, status=300, message="database connection lost"),
                    mk.ItemResult(mk.FAILED, status=201, message="queue full"),
                    mk.ItemResult(mk.FAILED, status=102, message="bad item"),
                    mk.ItemResult(mk.FAILED, status=500, message="bug")])
            return None
        server = self.start(responder=answer)
        c = self.client(server)
        outcomes = c.bulk_write([Upsert("a", 0, b""), Upsert("b", 0, b""), Delete("c"), Delete("d"), Delete("e")])
        failed = outcomes[1:]
        self.assertTrue(all(isinstance(o, pgstate.Failed) and not o.ok for o in failed))
        self.assertEqual([o.status for o in failed], [300, 201, 102, 500])
        self.assertEqual([type(o.error) for o in failed], [pgstate.OutcomeUnknown, pgstate.Unavailable,
                                                          pgstate.InvalidArgument, pgstate.OutcomeUnknown])
        self.assertIn("database connection lost", str(failed[0].error))
        c.ping()
        self.assertEqual(server.connections, 1)  # an item's failure is not the connection's

    def test_bulk_write_outcome_not_fitting_its_item_is_a_protocol_error(self) -> None:
        def wrong(server: FakeServer, request: sc.Request) -> Optional[bytes]:
            if isinstance(request, sc.BulkWrite):  # DELETED for an upsert item
                return sc.encode_outcomes(request.request_id, [mk.ItemResult(mk.DELETED)])
            return None
        server = self.start(responder=wrong)
        with self.assertRaises(pgstate.ProtocolError):
            self.client(server).bulk_write([Upsert("a", 0, b"")])

    def test_bulk_write_refusals_send_nothing(self) -> None:
        server = self.start(max_batch_items=3, max_batch_bytes=10, max_state_bytes=8, max_id_bytes=8)
        c = self.client(server)
        cases = {
            "no items": [],
            "a str": "items",
            "not an item": [("a", 0, b"")],
            "over max_batch_items": [Delete("a"), Delete("b"), Delete("c"), Delete("d")],
            "states over max_batch_bytes": [Upsert("a", 0, b"123456"), Upsert("b", 0, b"12345")],
            "a state over max_state_bytes": [Upsert("a", 0, b"123456789")],
            "an id over max_id_bytes": [Delete("a"), Delete("123456789")],
        }
        for what, items in cases.items():
            with self.subTest(what), self.assertRaises(pgstate.InvalidArgument):
                c.bulk_write(items)
        self.assertEqual(multi_key_requests(server), [])
        c.bulk_write([Upsert("a", 0, b"12345"), Upsert("b", 0, b"12345"), Delete("a")])  # at the limits
        self.assertEqual(len(multi_key_requests(server)), 1)

    def test_items_are_checked_when_made(self) -> None:
        for make in (lambda: Upsert("", 0, b""), lambda: Upsert("a", -1, b""), lambda: Upsert("a", 2**63 - 1, b""),
                     lambda: Upsert("a", 0, "text"), lambda: Upsert("a", 0, b"", ttl=0),
                     lambda: Upsert("a", 0, b"", ttl=2**31), lambda: Upsert("a", 0, b"", ttl=True),
                     lambda: Upsert("a", 0, b"", ttl=1.5), lambda: Delete("a\x00"), lambda: Delete("a", 2**63),
                     lambda: Delete(7)):
            with self.assertRaises(pgstate.InvalidArgument):
                make()
        self.assertEqual(Upsert("a", 0, bytearray(b"x"), ttl=2**31 - 1).state, b"x")
        self.assertFalse(Delete("a").has_expectation)

    # -- transact --------------------------------------------------------------------------------

    def test_transact_applies_every_item(self) -> None:
        server = self.start()
        c = self.client(server)
        c.upsert("gone", 0, b"")
        records = c.transact([Upsert("a", 0, b"one"), Delete("gone", 1), Upsert("b", 0, b"two"), Delete("never")])
        self.assertEqual([None if r is None else (r.persistence_id, r.revision, r.state) for r in records],
                         [("a", 1, b"one"), None, ("b", 1, b"two"), None])  # None for a delete item
        self.assertIsInstance(records[0], pgstate.Record)
        self.assertEqual(sorted(server.store), ["a", "b"])

    def test_transaction_conflict_names_every_failed_item_and_applies_nothing(self) -> None:
        server = self.start()
        c = self.client(server)
        c.upsert("a", 0, b"one")
        c.upsert("b", 0, b"one")
        c.upsert("b", 1, b"two")
        with self.assertRaises(pgstate.TransactionConflict) as cm:
            c.transact([Upsert("a", 1, b"new"), Upsert("b", 1, b"new"), Delete("c"), Delete("d", 4),
                        Upsert("e", 0, b"new")])
        exc = cm.exception
        self.assertIsInstance(exc, pgstate.ConcurrencyError)  # caught where a single conflict is
        self.assertEqual(exc.conflicts, {"b": 2, "d": 0})
        self.assertEqual([(f.index, f.persistence_id, f.expected_revision, f.actual_revision) for f in exc.failed],
                         [(1, "b", 1, 2), (3, "d", 4, 0)])
        self.assertEqual((exc.persistence_id, exc.expected_revision, exc.actual_revision), ("b", 1, 2))
        self.assertIn("item 3 'd' expected 4, actual 0", str(exc))
        copy = pickle.loads(pickle.dumps(exc))
        self.assertEqual((type(copy), copy.conflicts, copy.failed), (type(exc), exc.conflicts, exc.failed))
        self.assertEqual({pid: rec[:2] for pid, rec in server.store.items()}, {"a": (1, b"one"), "b": (2, b"two")})

    def test_transact_refusals_send_nothing(self) -> None:
        server = self.start(max_batch_items=3)
        c = self.client(server)
        for items in ([], [Upsert("a", 0, b""), Delete("a")], [Delete("a")] * 2,
                      [Delete("a"), Delete("b"), Delete("c"), Delete("d")]):
            with self.subTest(items=items), self.assertRaises(pgstate.InvalidArgument):
                c.transact(items)
        self.assertEqual(multi_key_requests(server), [])

    def test_transact_answer_not_fitting_is_a_protocol_error(self) -> None:
        answers = {
            "a conflict for an unconditional delete": lambda rid: sc.encode_transact_conflict(
                rid, [mk.ConflictEntry(1, 0, 3)]),
            "a conflict naming no item": lambda rid: sc.encode_transact_conflict(rid, []),
            "OUTCOMES with a CONFLICT": lambda rid: sc.encode_outcomes(rid, [
                mk.ItemResult(mk.CONFLICT, expected_revision=0, actual_revision=1), mk.ItemResult(mk.DELETED)]),
        }
        for what, make in answers.items():
            def answer(server: FakeServer, request: sc.Request, make: Any = make) -> Optional[bytes]:
                return make(request.request_id) if isinstance(request, sc.Transact) else None
            with self.subTest(what):
                server = self.start(responder=answer)
                with self.assertRaises(pgstate.ProtocolError):
                    self.client(server).transact([Upsert("a", 0, b""), Delete("b")])

    # -- list and iter_ids -----------------------------------------------------------------------

    def test_list_pages_in_byte_order(self) -> None:
        server = self.start()
        c = self.client(server)
        for pid in ["o/b", "o/\u00e9", "o/a", "o%", "o/c", "other"]:
            c.upsert(pid, 0, b"")
        c.upsert("o/a", 1, b"")
        first = c.list("o/", limit=2)
        self.assertEqual(first.ids, ("o/a", "o/b"))
        self.assertEqual([e.revision for e in first.items], [2, 1])
        self.assertIsNotNone(first.items[0].updated_at.tzinfo)
        self.assertEqual((first.more, first.next_after), (True, "o/b"))
        second = c.list("o/", after=first.next_after, limit=2)
        self.assertEqual((second.ids, second.next_after), (("o/c", "o/\u00e9"), None))  # é: bytes c3 a9
        self.assertEqual(c.list().ids, ("o%", "o/a", "o/b", "o/c", "o/\u00e9", "other"))
        self.assertEqual(c.list("zzz").ids, ())
        self.assertEqual(len(c.list("o/")), 4)

    def test_iter_ids_follows_every_page(self) -> None:
        server = self.start()
        c = self.client(server)
        ids = ["k%02d" % i for i in range(7)]
        for pid in reversed(ids):
            c.upsert(pid, 0, b"")
        c.upsert("other", 0, b"")
        self.assertEqual(list(c.iter_ids("k", page_size=3)), ids)
        lists = [r for r in multi_key_requests(server) if isinstance(r, sc.ListIds)]
        self.assertEqual([(r.after, r.limit) for r in lists], [(None, 3), ("k02", 3), ("k05", 3)])
        self.assertEqual(list(c.iter_ids("nothing")), [])

    def test_list_limit_defaults_to_the_server_maximum_when_smaller(self) -> None:
        server = self.start(max_batch_items=4)
        c = self.client(server)
        c.list()
        self.assertEqual([r.limit for r in multi_key_requests(server)], [4])
        for bad in (5, 0, -1, True, 2.0):
            with self.subTest(limit=bad), self.assertRaises(pgstate.InvalidArgument):
                c.list(limit=bad)  # named: checked, never lowered
        for prefix, after in (("a\x1f", None), (7, None), ("x" * 256, None), ("", ""), ("", "a\x7f")):
            with self.subTest(prefix=prefix, after=after), self.assertRaises(pgstate.InvalidArgument):
                c.list(prefix, after)
        with self.assertRaises(pgstate.InvalidArgument):
            c.iter_ids("a\x00")  # at the call, before any page
        self.assertEqual(len(multi_key_requests(server)), 1)

    def test_list_ok_breaking_the_page_rules_is_a_protocol_error(self) -> None:
        pages = {
            "an id outside the prefix": (0, ["o/a", "p"]),
            "ids not ascending": (0, ["o/b", "o/a"]),
            "more with no id": (1, []),
            "more ids than the limit": (0, ["o/a", "o/b", "o/c"]),
        }
        for what, (more, ids) in pages.items():
            def answer(server: FakeServer, request: sc.Request, more: int = more, ids: List[str] = ids) -> Any:
                if isinstance(request, sc.ListIds):
                    return sc.encode_list_ok(request.request_id, more, [mk.ListOkEntry(i, 1, 0) for i in ids])
                return None
            with self.subTest(what):
                server = self.start(responder=answer)
                with self.assertRaises(pgstate.ProtocolError):
                    self.client(server).list("o/", limit=2)

    # -- TTL -------------------------------------------------------------------------------------

    def test_ttl_expires_the_revision_written(self) -> None:
        server = self.start()
        c = self.client(server)
        c.upsert("t", 0, b"short", 60)
        c.bulk_write([Upsert("u", 0, b"short", ttl=60)])
        c.transact([Upsert("v", 0, b"short", ttl=60)])
        upserts = [r for r in server.data_requests if isinstance(r, sc.Upsert)]
        self.assertEqual([r.ttl_seconds for r in upserts], [60])
        self.assertEqual([i.ttl_seconds for r in multi_key_requests(server) for i in r.items], [60, 60])
        self.assertEqual(c.load("t").state, b"short")
        server.advance(61)
        self.assertEqual(c.bulk_load(["t", "u", "v"]), {"t": None, "u": None, "v": None})
        self.assertEqual(c.upsert("t", 0, b"again").revision, 1)  # a create over an expired record
        with self.assertRaises(pgstate.ConcurrencyError):
            c.upsert("u", 1, b"")  # actual 0
        c.upsert("t", 1, b"kept")  # without TTL: the expiry is cleared
        server.advance(3600)
        self.assertEqual(c.load("t").state, b"kept")

    def test_ttl_needs_the_capability(self) -> None:
        server = self.start(capabilities=BASE_CAPABILITIES | p.CAP_MULTI_KEY)  # MULTI_KEY without TTL
        c = self.client(server)
        for call in (lambda: c.upsert("a", 0, b"", 60), lambda: c.upsert("a", 0, b"", ttl=60),
                     lambda: c.bulk_write([Delete("b"), Upsert("a", 0, b"", ttl=60)]),
                     lambda: c.transact([Upsert("a", 0, b"", 1)])):
            with self.assertRaises(pgstate.InvalidArgument) as cm:
                call()
            self.assertIn("TTL", str(cm.exception))
        self.assertEqual(server.data_requests, [])
        self.assertEqual(c.upsert("a", 0, b"").revision, 1)  # without a TTL it is sent
        self.assertEqual(c.bulk_write([Upsert("b", 0, b"")])[0].revision, 1)
        for bad in (0, -1, 2**31, True, 1.5, "60"):
            with self.subTest(ttl=bad), self.assertRaises(pgstate.InvalidArgument):
                c.upsert("a", 1, b"", bad)

    # -- capabilities ----------------------------------------------------------------------------

    def test_multi_key_calls_need_the_capability(self) -> None:
        server = self.start(capabilities=BASE_CAPABILITIES | p.CAP_TTL)  # HELLO_OK without the batch limits
        c = self.client(server)
        c.ping()
        info = c.server_info
        self.assertFalse(info.multi_key)
        self.assertIsNone(info.max_batch_items)
        for call in (lambda: c.bulk_load(["a"]), lambda: c.bulk_write([Delete("a")]),
                     lambda: c.transact([Delete("a")]), lambda: c.list(), lambda: list(c.iter_ids())):
            with self.assertRaises(pgstate.InvalidArgument) as cm:
                call()
            self.assertIn("MULTI_KEY", str(cm.exception))
        self.assertEqual([type(r) for r in server.data_requests], [sc.Ping])
        self.assertEqual(c.upsert("a", 0, b"", ttl=5).revision, 1)  # TTL alone serves UPSERT's flag

    def test_hello_ok_with_the_batch_limits(self) -> None:
        server = self.start(max_batch_items=17, max_batch_bytes=99)
        c = self.client(server)
        c.ping()
        info = c.server_info
        self.assertTrue(info.multi_key and info.ttl)
        self.assertEqual((info.max_batch_items, info.max_batch_bytes), (17, 99))
        self.assertEqual((info.limits.max_batch_items, info.limits.max_batch_bytes), (17, 99))

    def test_conditional_delete_items_need_the_capability(self) -> None:
        server = self.start(capabilities=p.CAP_IDENTITY | p.CAP_MULTI_KEY)
        c = self.client(server)
        with self.assertRaises(pgstate.InvalidArgument) as cm:
            c.bulk_write([Delete("a", 3)])
        self.assertIn("CONDITIONAL_DELETE", str(cm.exception))
        self.assertEqual([type(o) for o in c.bulk_write([Delete("a")])], [pgstate.Deleted])

    # -- namespaces and the codec ----------------------------------------------------------------

    def test_namespaces(self) -> None:
        operator = pgstate.Identity(0, 0, 1, "root", "", pgstate.Permissions(0xF), "")
        server = self.start(identity=operator)
        c = self.client(server)
        c.bulk_write([Upsert("a", 0, b"billing's")], namespace="billing")
        self.assertEqual(c.bulk_load(["a"]), {"a": None})
        self.assertEqual(c.bulk_load(["a"], namespace="billing")["a"].state, b"billing's")
        self.assertEqual(c.list(namespace="billing").ids, ("a",))
        self.assertEqual(list(c.iter_ids(namespace="billing")), ["a"])
        c.transact([Delete("a", 1)], namespace="billing")
        self.assertEqual(server.namespaces["billing"], {})
        self.assertEqual({r.namespace for r in multi_key_requests(server)}, {"billing", None})

    def test_the_codec_wraps_items_and_opens_bulk_loads(self) -> None:
        server = self.start()
        c = self.client(server, codec=pgstate.Envelope("gzip"))
        written = c.transact([Upsert("a", 0, b"plain" * 20), Delete("b")])
        self.assertEqual(written[0].state, b"plain" * 20)  # the state given, not its envelope
        c.bulk_write([Upsert("c", 0, b"see" * 20)])
        stored = server.store["a"][1]
        self.assertTrue(stored.startswith(b"PGSE") and stored != b"plain" * 20)
        got = c.bulk_load(["a", "b", "c"])
        self.assertEqual({k: None if v is None else v.state for k, v in got.items()},
                         {"a": b"plain" * 20, "b": None, "c": b"see" * 20})
        self.assertEqual(c.bulk_load(["a"], codec=None)["a"].state, stored)


class SyncMultiKeyTest(MultiKeyCases, unittest.TestCase):
    def make_client(self, server: FakeServer, **kwargs: Any) -> Any:
        return pgstate.Client(server.path, timeout=TIMEOUT, **kwargs)

    def test_iter_ids_is_lazy(self) -> None:
        server = self.start()
        c = self.client(server)
        for i in range(5):
            c.upsert("k%d" % i, 0, b"")
        it = c.iter_ids(page_size=2)
        self.assertEqual(multi_key_requests(server), [])
        self.assertEqual([next(it), next(it)], ["k0", "k1"])
        self.assertEqual(len(multi_key_requests(server)), 1)
        self.assertEqual(list(it), ["k2", "k3", "k4"])
        self.assertEqual(len(multi_key_requests(server)), 3)


class AsyncMultiKeyTest(MultiKeyCases, unittest.TestCase):
    def make_client(self, server: FakeServer, **kwargs: Any) -> Any:
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)
        return AsyncAdapter(aio.AsyncClient(server.path, timeout=TIMEOUT, **kwargs), loop)

    def test_concurrent_multi_key_calls_share_one_connection(self) -> None:
        server = self.start()

        async def run() -> List[Any]:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                await c.bulk_write([Upsert("k%d" % i, 0, b"%d" % i) for i in range(20)])
                return list(await asyncio.gather(c.bulk_load(["k1", "k2"]), c.list("k1"),
                                                 c.transact([Upsert("k1", 1, b"x")]), c.bulk_load(["k3"])))
        loaded, page, committed, other = asyncio.run(run())
        self.assertEqual(server.connections, 1)
        self.assertEqual(set(loaded), {"k1", "k2"})
        self.assertIn("k1", page.ids)
        self.assertEqual(committed[0].revision, 2)
        self.assertEqual(other["k3"].state, b"3")

    def test_iter_ids_is_an_async_iterator(self) -> None:
        server = self.start()

        async def run() -> List[str]:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                await c.bulk_write([Upsert(pid, 0, b"") for pid in ("b", "a", "c")])
                it = c.iter_ids(page_size=1)
                self.assertTrue(hasattr(it, "__anext__"))
                return [pid async for pid in it]
        self.assertEqual(asyncio.run(run()), ["a", "b", "c"])


LIVE_SOCKET = os.environ.get("PGSTATE_SOCKET")


@unittest.skipUnless(LIVE_SOCKET, "PGSTATE_SOCKET is not set: the live multi-key test needs a running pgstated")
class LiveMultiKeyTest(unittest.TestCase):
    """A few rounds against the real daemon (the scenarios of test_conformance cover the rest)."""

    def test_bulk_paging_and_transactions(self) -> None:
        assert LIVE_SOCKET is not None
        prefix = "py-mk-%d-%s-" % (os.getpid(), os.urandom(4).hex())
        with pgstate.Client(LIVE_SOCKET, timeout=30) as c:
            c.ping()
            if not c.server_info.multi_key:
                self.skipTest("pgstated (%s) does not announce MULTI_KEY" % c.server_info.server_version)
            ids = [prefix + "%03d" % i for i in range(25)]
            outcomes = c.bulk_write([Upsert(pid, 0, pid.encode()) for pid in ids])
            self.assertEqual({type(o) for o in outcomes}, {pgstate.Written})
            got = c.bulk_load(ids + [prefix + "missing"])
            self.assertEqual([r.state if r else None for r in got.values()], [pid.encode() for pid in ids] + [None])
            self.assertEqual(list(c.iter_ids(prefix, page_size=7)), ids)
            with self.assertRaises(pgstate.TransactionConflict) as cm:
                c.transact([Upsert(ids[0], 1, b"x"), Upsert(ids[1], 5, b"x")])
            self.assertEqual(cm.exception.conflicts, {ids[1]: 1})
            self.assertEqual(c.load(ids[0]).revision, 1)  # nothing applied
            c.transact([Delete(pid, 1) for pid in ids])
            self.assertEqual(c.list(prefix).ids, ())


if __name__ == "__main__":
    unittest.main()
