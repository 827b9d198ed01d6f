"""whoami, namespaces and PERMISSION_DENIED: both clients against the in-process fake pgstated.

The fake gives every connection the identity it was started with, keeps records per
namespace and enforces that identity's permissions (PROTOCOL.md section 6.14).
"""

from __future__ import annotations

import asyncio
import dataclasses
import unittest
from typing import Any, Dict, List, Tuple

import pgstate
import server_codec as sc
from fake_server import FakeServer
from pgstate import Identity, Permissions, aio
from pgstate import _protocol as p

TIMEOUT = 10.0

BILLING = Identity(uid=1001, gid=1001, pid=4242, user="billing", namespace="billing",
                   permissions=Permissions.READ | Permissions.WRITE, rule="/etc/pgstated/access.conf:2")
OPERATOR = Identity(uid=0, gid=0, pid=1, user="root", namespace="",
                    permissions=Permissions.READ | Permissions.WRITE | Permissions.ADMIN | Permissions.ANY_NAMESPACE,
                    rule="")
READER = dataclasses.replace(BILLING, permissions=Permissions.READ)

# (method, positional arguments, namespace): each refused before anything is sent.
BAD_NAMESPACES: List[Tuple[str, Tuple[Any, ...], Any]] = [
    ("load", ("a",), "n" * 64),
    ("load", ("a",), "bill/ing"),
    ("load", ("a",), "bill ing"),
    ("load", ("a",), "büro"),        # a letter, but not ASCII
    ("load", ("a",), "\u0661"),      # a digit, but not ASCII
    ("load", ("a",), "\udcff"),
    ("load", ("a",), b"billing"),
    ("upsert", ("a", 0, b""), "tenant:7"),
    ("delete", ("a",), "x\n"),
    ("delete", ("a", 3), "n" * 64),
]


def key_requests(server: FakeServer) -> List[Tuple[str, Any, str]]:
    """(type, namespace, persistence id) of every LOAD, UPSERT and DELETE the fake received."""
    return [(r.TYPE.name, r.namespace, r.persistence_id) for r in server.data_requests
            if isinstance(r, (sc.Load, sc.Upsert, sc.Delete))]


class ServerCase(unittest.TestCase):
    def start(self, **kwargs: Any) -> FakeServer:
        server = FakeServer(**kwargs)
        server.start()
        self.addCleanup(server.stop)
        return server

    def client(self, server: FakeServer) -> pgstate.Client:
        c = pgstate.Client(server.path, timeout=TIMEOUT)
        self.addCleanup(c.close)
        return c

    def run_async(self, coro: Any) -> Any:
        return asyncio.run(asyncio.wait_for(coro, 30))


class SyncWhoAmITest(ServerCase):
    def test_whoami(self) -> None:
        server = self.start(identity=BILLING)
        c = self.client(server)
        me = c.whoami()
        self.assertEqual(me, BILLING)
        self.assertIsInstance(me.permissions, Permissions)
        self.assertEqual(me.permissions, Permissions.READ | Permissions.WRITE)
        self.assertFalse(me.permissions & Permissions.ANY_NAMESPACE)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            me.uid = 0  # type: ignore[misc]
        self.assertEqual(server.data_requests, [sc.WhoAmI(2)])
        self.assertTrue(c.server_info.identity)  # type: ignore[union-attr]

    def test_unknown_permission_bits_are_ignored(self) -> None:
        server = self.start(responder=lambda s, r: sc.encode_whoami_ok(r.request_id, 7, 8, 0, "", "t", 0xF1, ""))
        me = self.client(server).whoami()
        self.assertEqual((me.uid, me.gid, me.pid, me.namespace), (7, 8, 0, "t"))
        self.assertIs(me.permissions, Permissions.READ)

    def test_whoami_needs_the_capability(self) -> None:
        # PROTOCOL.md 12.5: refused as an invalid argument before sending; the connection stays.
        server = self.start(capabilities=p.CAP_CONDITIONAL_DELETE)
        c = self.client(server)
        with self.assertRaises(pgstate.InvalidArgument) as cm:
            c.whoami()
        self.assertIn("IDENTITY", str(cm.exception))
        self.assertEqual(cm.exception.status, 102)
        self.assertEqual(server.data_requests, [])
        self.assertTrue(c.connected)
        c.ping()
        self.assertEqual(server.connections, 1)

    def test_whoami_answered_by_another_type_is_a_protocol_error(self) -> None:
        server = self.start(responder=lambda s, r: sc.encode_ok(r.request_id))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError):
            c.whoami()
        self.assertFalse(c.connected)

    def test_whoami_ok_answering_a_load_is_a_protocol_error(self) -> None:
        server = self.start(responder=lambda s, r: s.answer(sc.WhoAmI(r.request_id)))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError):
            c.load("order-1")
        self.assertFalse(c.connected)


class SyncNamespaceTest(ServerCase):
    def test_records_live_per_namespace(self) -> None:
        server = self.start(identity=OPERATOR)
        c = self.client(server)
        own = c.upsert("order-1", 0, b"shared")
        billing = c.upsert("order-1", 0, b"billing", namespace="billing")
        self.assertEqual((own.revision, billing.revision), (1, 1))
        self.assertEqual(c.load("order-1").state, b"shared")  # type: ignore[union-attr]
        self.assertEqual(c.load("order-1", namespace="billing").state, b"billing")  # type: ignore[union-attr]
        self.assertEqual(c.load("order-1", namespace="").state, b"shared")  # type: ignore[union-attr]
        self.assertIsNone(c.load("order-1", namespace="other"))
        with self.assertRaises(pgstate.ConcurrencyError):
            c.delete("order-1", expected_revision=2, namespace="billing")
        c.delete("order-1", expected_revision=1, namespace="billing")
        c.delete("order-1", namespace="billing")
        self.assertIsNone(c.load("order-1", namespace="billing"))
        self.assertEqual(c.load("order-1"), own)
        self.assertEqual(key_requests(server), [
            ("UPSERT", None, "order-1"), ("UPSERT", "billing", "order-1"), ("LOAD", None, "order-1"),
            ("LOAD", "billing", "order-1"), ("LOAD", "", "order-1"), ("LOAD", "other", "order-1"),
            ("DELETE", "billing", "order-1"), ("DELETE", "billing", "order-1"), ("DELETE", "billing", "order-1"),
            ("LOAD", "billing", "order-1"), ("LOAD", None, "order-1")])
        flags = [r.flags for r in server.data_requests if isinstance(r, sc.Delete)]
        self.assertEqual(flags, [0x03, 0x03, 0x02])

    def test_the_own_namespace_named_or_not_is_the_same(self) -> None:
        server = self.start(identity=BILLING)
        c = self.client(server)
        rec = c.upsert("order-1", 0, b"x", namespace="billing")
        self.assertEqual(c.load("order-1"), rec)
        self.assertEqual(list(server.namespaces["billing"]), ["order-1"])

    def test_bad_namespaces_are_refused_before_sending(self) -> None:
        server = self.start(identity=OPERATOR)
        c = self.client(server)
        c.connect()
        for method, args, namespace in BAD_NAMESPACES:
            with self.subTest(method=method, namespace=repr(namespace)):
                with self.assertRaises(pgstate.InvalidArgument) as cm:
                    getattr(c, method)(*args, namespace=namespace)
                self.assertEqual(cm.exception.status, 102)
        self.assertEqual(server.data_requests, [])
        self.assertTrue(c.connected)
        with self.assertRaises(pgstate.InvalidArgument):  # checked when the call is made
            pgstate.Client("/nonexistent/pgstated.sock").load("a", namespace="bad/ns")
        c.load("a", namespace="n" * 63)
        self.assertEqual(key_requests(server), [("LOAD", "n" * 63, "a")])

    def test_a_namespace_needs_the_capability(self) -> None:
        server = self.start(capabilities=p.CAP_CONDITIONAL_DELETE)
        c = self.client(server)
        for call in (lambda: c.load("a", namespace="billing"), lambda: c.upsert("a", 0, b"", namespace=""),
                     lambda: c.delete("a", namespace="billing"), lambda: c.delete("a", 1, namespace="billing")):
            with self.assertRaises(pgstate.InvalidArgument) as cm:
                call()
            self.assertIn("IDENTITY", str(cm.exception))
        self.assertEqual(server.data_requests, [])
        c.load("a")  # without a namespace: no capability needed
        self.assertEqual(server.connections, 1)


class SyncPermissionDeniedTest(ServerCase):
    def test_a_write_without_write_permission(self) -> None:
        server = self.start(identity=READER)
        c = self.client(server)
        with self.assertRaises(pgstate.PermissionDenied) as cm:
            c.upsert("order-1", 0, b"x")
        self.assertEqual(cm.exception.status, 106)
        self.assertIn("WRITE", cm.exception.message)
        self.assertNotIsInstance(cm.exception, pgstate.InvalidArgument)
        with self.assertRaises(pgstate.PermissionDenied):
            c.delete("order-1")
        self.assertTrue(c.connected)  # 106 answering a request keeps the connection
        self.assertIsNone(c.load("order-1"))
        self.assertEqual(server.connections, 1)
        self.assertEqual(len(server.data_requests), 3)  # not retried
        self.assertEqual(server.store, {})

    def test_another_namespace_without_any_namespace(self) -> None:
        server = self.start(identity=BILLING)
        c = self.client(server)
        with self.assertRaises(pgstate.PermissionDenied):
            c.load("order-1", namespace="shipping")
        with self.assertRaises(pgstate.PermissionDenied):
            c.upsert("order-1", 0, b"x", namespace="")
        c.upsert("order-1", 0, b"x", namespace="billing")
        self.assertEqual(server.connections, 1)

    def test_handshake_denied(self) -> None:
        server = self.start(hello_response=sc.encode_error(1, 106, "uid 1002 is granted nothing"))
        c = pgstate.Client(server.path, timeout=TIMEOUT)
        with self.assertRaises(pgstate.PermissionDenied) as cm:
            c.ping()
        self.assertEqual(cm.exception.status, 106)
        self.assertIn("granted nothing", str(cm.exception))
        self.assertFalse(c.connected)
        self.assertEqual(server.data_requests, [])


class AsyncIdentityTest(ServerCase):
    def test_whoami_namespaces_and_permissions(self) -> None:
        server = self.start(identity=OPERATOR)

        async def main() -> Dict[str, Any]:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                me, shared, billing = await asyncio.gather(
                    c.whoami(), c.upsert("order-1", 0, b"shared"),
                    c.upsert("order-1", 0, b"billing", namespace="billing"))
                loaded = await asyncio.gather(c.load("order-1"), c.load("order-1", namespace="billing"),
                                              c.load("order-1", namespace=""))
                await c.delete("order-1", expected_revision=1, namespace="billing")
                await c.delete("order-1", namespace="billing")
                return {"me": me, "shared": shared, "billing": billing, "loaded": loaded,
                        "after": await c.load("order-1", namespace="billing")}

        got = self.run_async(main())
        self.assertEqual(got["me"], OPERATOR)
        self.assertIsInstance(got["me"].permissions, Permissions)
        self.assertEqual([r.state for r in got["loaded"]], [b"shared", b"billing", b"shared"])
        self.assertIsNone(got["after"])
        self.assertEqual(server.connections, 1)
        self.assertEqual(sorted(server.namespaces), ["", "billing"])

    def test_refusals_before_sending(self) -> None:
        server = self.start(capabilities=p.CAP_CONDITIONAL_DELETE)

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                with self.assertRaises(pgstate.InvalidArgument):
                    await c.whoami()
                with self.assertRaises(pgstate.InvalidArgument):
                    await c.load("a", namespace="billing")
                for method, args, namespace in BAD_NAMESPACES:
                    with self.subTest(method=method, namespace=repr(namespace)):
                        with self.assertRaises(pgstate.InvalidArgument):
                            await getattr(c, method)(*args, namespace=namespace)
                await c.ping()

        self.run_async(main())
        self.assertEqual([type(r) for r in server.data_requests], [sc.Ping])

    def test_permission_denied(self) -> None:
        server = self.start(identity=READER)
        denied = self.start(hello_response=sc.encode_error(1, 106, "granted nothing"))

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                results = await asyncio.gather(c.upsert("a", 0, b""), c.load("a"), c.delete("a", namespace="x"),
                                               return_exceptions=True)
                self.assertIsInstance(results[0], pgstate.PermissionDenied)
                self.assertIsNone(results[1])
                self.assertIsInstance(results[2], pgstate.PermissionDenied)
                self.assertTrue(c.connected)
                await c.ping()
            with self.assertRaises(pgstate.PermissionDenied) as cm:
                await aio.AsyncClient(denied.path, timeout=TIMEOUT).ping()
            self.assertEqual(cm.exception.status, 106)

        self.run_async(main())
        self.assertEqual(server.connections, 1)
        self.assertEqual(denied.data_requests, [])


if __name__ == "__main__":
    unittest.main()
