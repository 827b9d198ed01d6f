"""The sync and async clients against the in-process fake pgstated (fake_server.py).

Transport behaviour: handshake, pipelining with out-of-order answers, max_in_flight,
status-to-exception mapping, argument checks that send nothing, connection loss, timeouts,
cancellation and reconnection.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import select
import shutil
import socket
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Dict, List, Optional
from unittest import mock

import pgstate
from pgstate import aio
import server_codec as sc
from pgstate import _protocol as p
from fake_server import CLOSE, SILENT, Delay, FakeServer

TIMEOUT = 10.0  # generous default for calls that are expected to succeed


def by_id(table: Dict[str, Any]) -> Callable[[FakeServer, sc.Request], Any]:
    """A responder that looks the request's persistence id up in ``table`` (callables get the request)."""
    def responder(server: FakeServer, request: sc.Request) -> Any:
        action = table.get(getattr(request, "persistence_id", None))  # type: ignore[arg-type]
        return action(request) if callable(action) else action
    return responder


def error(status: int, message: str = "") -> Callable[[sc.Request], bytes]:
    return lambda request: sc.encode_error(request.request_id, status, message)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting until " + what)
        time.sleep(0.005)


async def async_wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting until " + what)
        await asyncio.sleep(0.005)


def peer_closed(c: pgstate.Client) -> bool:
    """Whether the server has closed the client's idle connection (test helper)."""
    sock = c._sock  # noqa: SLF001 - white-box test
    return sock is not None and bool(select.select([sock], [], [], 0)[0])


class ServerCase(unittest.TestCase):
    server_kwargs: Dict[str, Any] = {}

    def start(self, **kwargs: Any) -> FakeServer:
        server = FakeServer(**kwargs)
        server.start()
        self.addCleanup(server.stop)
        return server

    def client(self, server: FakeServer, timeout: Optional[float] = TIMEOUT) -> pgstate.Client:
        c = pgstate.Client(server.path, timeout=timeout)
        self.addCleanup(c.close)
        return c


# Statuses and the exception each must raise, for a read (load) and a write (upsert).
STATUS_TABLE = [
    (100, pgstate.ProtocolError, pgstate.ProtocolError),
    (101, pgstate.ProtocolError, pgstate.ProtocolError),
    (102, pgstate.InvalidArgument, pgstate.InvalidArgument),
    (103, pgstate.ProtocolError, pgstate.ProtocolError),
    (104, pgstate.ProtocolError, pgstate.ProtocolError),
    (105, pgstate.ProtocolError, pgstate.ProtocolError),
    (106, pgstate.PermissionDenied, pgstate.PermissionDenied),
    (199, pgstate.ProtocolError, pgstate.ProtocolError),
    (200, pgstate.Unavailable, pgstate.Unavailable),
    (201, pgstate.Unavailable, pgstate.Unavailable),
    (202, pgstate.Unavailable, pgstate.Unavailable),
    (299, pgstate.Unavailable, pgstate.Unavailable),
    (300, pgstate.OutcomeUnknown, pgstate.OutcomeUnknown),
    (399, pgstate.OutcomeUnknown, pgstate.OutcomeUnknown),
    (500, pgstate.ServerError, pgstate.OutcomeUnknown),
    (599, pgstate.ServerError, pgstate.OutcomeUnknown),
    (0, pgstate.ServerError, pgstate.OutcomeUnknown),
    (404, pgstate.ServerError, pgstate.OutcomeUnknown),
    (600, pgstate.ServerError, pgstate.OutcomeUnknown),
    (65535, pgstate.ServerError, pgstate.OutcomeUnknown),
]

BAD_CALLS: List[Any] = [
    ("load", ("",)),
    ("load", ("a\x00b",)),
    ("load", ("a\x1fb",)),
    ("load", ("a\x7fb",)),
    ("load", ("x" * 256,)),
    ("load", ("\u8ba2" * 86,)),
    ("load", ("\udcff",)),
    ("load", (b"bytes-id",)),
    ("load", (None,)),
    ("upsert", ("ok", -1, b"")),
    ("upsert", ("ok", 2**63 - 1, b"")),
    ("upsert", ("ok", 2**63, b"")),
    ("upsert", ("ok", 2**64 - 1, b"")),
    ("upsert", ("ok", True, b"")),
    ("upsert", ("ok", 1.0, b"")),
    ("upsert", ("ok", 0, "text")),
    ("upsert", ("ok", 0, None)),
    ("upsert", ("", 0, b"")),
    ("delete", ("ok", -1)),
    ("delete", ("ok", 2**63)),
    ("delete", ("ok", 2**64 - 1)),
    ("delete", ("bad\nid",)),
]


# ==============================================================================================
# Sync client
# ==============================================================================================


class SyncHandshakeTest(ServerCase):
    def test_hello_then_hello_ok(self) -> None:
        server = self.start(max_in_flight=7)
        with pgstate.Client(server.path) as c:
            self.assertTrue(c.connected)
            info = c.server_info
            assert info is not None
            self.assertEqual(info.version, 1)
            self.assertEqual(info.max_in_flight, 7)
            self.assertTrue(info.conditional_delete)
        self.assertFalse(c.connected)
        (conn, hello), = server.requests
        self.assertIsInstance(hello, sc.Hello)
        self.assertEqual(hello.request_id, 1)
        self.assertEqual(hello.versions, (1,))
        self.assertEqual(hello.client_name, "pgstate-py/" + pgstate.__version__)

    def test_unsupported_version(self) -> None:
        server = self.start(hello_response=sc.encode_error(1, 104, "server speaks: 7"))
        with self.assertRaises(pgstate.ProtocolError) as cm:
            pgstate.Client(server.path).connect()
        self.assertEqual(cm.exception.status, 104)
        self.assertEqual(cm.exception.message, "server speaks: 7")

    def test_connection_limit(self) -> None:
        server = self.start(hello_response=sc.encode_error(0, 201, "too many connections"))
        with self.assertRaises(pgstate.Unavailable) as cm:
            pgstate.Client(server.path).ping()
        self.assertEqual(cm.exception.status, 201)
        self.assertIn("too many connections", str(cm.exception))

    def test_unusable_max_id_bytes_is_a_protocol_error(self) -> None:
        # PROTOCOL.md 12.2 rule 6: max_id_bytes outside 1..255 is refused, never clamped.
        for bad in (0, 256):
            server = self.start(max_id_bytes=bad)
            with self.assertRaises(pgstate.ProtocolError) as cm:
                self.client(server).ping()
            self.assertIn("max_id_bytes %d" % bad, str(cm.exception))
            self.assertEqual(server.data_requests, [])
        server = self.start(max_id_bytes=1)
        c = self.client(server)
        c.ping()
        with self.assertRaises(pgstate.InvalidArgument):
            c.load("ab")

    def test_server_choosing_an_unoffered_version(self) -> None:
        server = self.start(version=2)
        with self.assertRaises(pgstate.ProtocolError):
            pgstate.Client(server.path).connect()

    def test_missing_socket_names_the_path(self) -> None:
        path = os.path.join(tempfile.mkdtemp(), "nope.sock")
        for call in (lambda c: c.connect(), lambda c: c.load("x"), lambda c: c.upsert("x", 0, b"")):
            with self.assertRaises(pgstate.Unavailable) as cm:
                call(pgstate.Client(path))
            self.assertIn(path, str(cm.exception))
        os.rmdir(os.path.dirname(path))

    def test_refused_names_the_path(self) -> None:
        d = tempfile.mkdtemp()
        path = os.path.join(d, "dead.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)  # bound but not listening: connect is refused
        try:
            with self.assertRaises(pgstate.Unavailable) as cm:
                pgstate.Client(path).ping()
            self.assertIn(path, str(cm.exception))
            self.assertIn("refused", str(cm.exception))
        finally:
            s.close()
            os.unlink(path)
            os.rmdir(d)

    def test_default_socket_path(self) -> None:
        with mock.patch.dict(os.environ, {"PGSTATE_SOCKET": "/tmp/from-env.sock"}):
            self.assertEqual(pgstate.Client().socket_path, "/tmp/from-env.sock")
            self.assertEqual(aio.AsyncClient().socket_path, "/tmp/from-env.sock")
        with mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual(pgstate.Client().socket_path, "/run/pgstated/pgstated.sock")
            self.assertEqual(aio.AsyncClient().socket_path, "/run/pgstated/pgstated.sock")

    def test_bad_timeout(self) -> None:
        for bad in (0, -1, "1", True):
            with self.assertRaises(ValueError):
                pgstate.Client("/x", timeout=bad)  # type: ignore[arg-type]


class SyncOperationsTest(ServerCase):
    def test_crud(self) -> None:
        server = self.start()
        c = self.client(server)
        self.assertIsNone(c.load("order-42"))
        rec = c.upsert("order-42", 0, b"\x00open\xff")
        self.assertEqual((rec.persistence_id, rec.revision, rec.state), ("order-42", 1, b"\x00open\xff"))
        self.assertIs(rec.updated_at.tzinfo, datetime.timezone.utc)
        self.assertLess(abs(rec.updated_at - datetime.datetime.now(datetime.timezone.utc)),
                        datetime.timedelta(seconds=60))
        self.assertEqual(c.load("order-42"), rec)
        rec2 = c.upsert("order-42", 1, bytearray(b"paid"))
        self.assertEqual((rec2.revision, rec2.state), (2, b"paid"))
        self.assertIsInstance(rec2.state, bytes)
        with self.assertRaises(pgstate.ConcurrencyError) as cm:
            c.upsert("order-42", 1, b"stale")
        e = cm.exception
        self.assertEqual((e.persistence_id, e.expected_revision, e.actual_revision), ("order-42", 1, 2))
        self.assertIsNone(e.status)
        with self.assertRaises(pgstate.ConcurrencyError) as cm:
            c.delete("order-42", expected_revision=1)
        self.assertEqual(cm.exception.actual_revision, 2)
        c.delete("order-42", expected_revision=2)
        self.assertIsNone(c.load("order-42"))
        c.delete("order-42")
        c.delete("order-42")
        c.ping()
        self.assertEqual(server.connections, 1)

    def test_record_is_frozen(self) -> None:
        server = self.start()
        rec = self.client(server).upsert("r", 0, b"x")
        with self.assertRaises(Exception):
            rec.revision = 5  # type: ignore[misc]

    def test_request_ids_increase_and_are_unique(self) -> None:
        server = self.start()
        c = self.client(server)
        for _ in range(5):
            c.ping()
        ids = [r.request_id for _, r in server.requests]
        self.assertEqual(ids, [1, 2, 3, 4, 5, 6])

    def test_argument_checks_send_nothing(self) -> None:
        server = self.start()
        c = self.client(server)
        c.connect()
        for method, args in BAD_CALLS:
            with self.subTest(method=method, args=repr(args)[:50]):
                with self.assertRaises(pgstate.InvalidArgument) as cm:
                    getattr(c, method)(*args)
                self.assertIsInstance(cm.exception, ValueError)
                self.assertEqual(cm.exception.status, 102)
        self.assertEqual(server.data_requests, [])
        self.assertTrue(c.connected)
        c.ping()

    def test_argument_checks_come_before_connecting(self) -> None:
        path = "/nonexistent/pgstated.sock"
        with self.assertRaises(pgstate.InvalidArgument):
            pgstate.Client(path).upsert("", 0, b"")

    def test_announced_limits_are_enforced_before_sending(self) -> None:
        server = self.start(max_id_bytes=8, max_state_bytes=16, max_frame_bytes=16 + 4096)
        c = self.client(server)
        c.upsert("12345678", 0, b"x" * 16)
        with self.assertRaises(pgstate.InvalidArgument):
            c.load("123456789")
        with self.assertRaises(pgstate.InvalidArgument):
            c.upsert("a", 0, b"x" * 17)
        self.assertEqual(len(server.data_requests), 1)

    def test_conditional_delete_needs_the_capability(self) -> None:
        # PROTOCOL.md 12.5: refused as an invalid argument before sending; the connection stays.
        server = self.start(capabilities=0)
        c = self.client(server)
        with self.assertRaises(pgstate.InvalidArgument) as cm:
            c.delete("x", expected_revision=1)
        self.assertIn("CONDITIONAL_DELETE", str(cm.exception))
        self.assertEqual(server.data_requests, [])
        self.assertTrue(c.connected)
        c.delete("x")
        self.assertEqual(len(server.data_requests), 1)
        self.assertEqual(server.connections, 1)

    def test_client_name_over_255_bytes_is_refused(self) -> None:
        # PROTOCOL.md 12.5: a str8 field is never truncated.
        with self.assertRaises(pgstate.InvalidArgument):
            pgstate.Client("/nonexistent.sock", client_name="n" * 256)
        with self.assertRaises(pgstate.InvalidArgument):
            aio.AsyncClient("/nonexistent.sock", client_name="订" * 86)
        server = self.start()
        with pgstate.Client(server.path, client_name="n" * 255) as c:
            c.ping()
        hello = [r for _, r in server.requests if isinstance(r, sc.Hello)][0]
        self.assertEqual(hello.client_name, "n" * 255)


class SyncErrorMappingTest(ServerCase):
    def test_every_status_class(self) -> None:
        table = {"s%d" % status: error(status, "message %d" % status) for status, _, _ in STATUS_TABLE}
        server = self.start(responder=by_id(table))
        c = self.client(server)
        for status, read_exc, write_exc in STATUS_TABLE:
            with self.subTest(status=status):
                with self.assertRaises(read_exc) as cm:
                    c.load("s%d" % status)
                self.assertEqual(cm.exception.status, status)
                self.assertEqual(cm.exception.message, "message %d" % status)
                with self.assertRaises(write_exc) as cm:
                    c.upsert("s%d" % status, 0, b"")
                self.assertIs(type(cm.exception), write_exc)
                self.assertEqual(cm.exception.status, status)
        c.ping()

    def test_closing_statuses_drop_the_connection(self) -> None:
        server = self.start(responder=by_id({"s100": error(100), "s202": error(202), "s200": error(200)}))
        c = self.client(server)
        with self.assertRaises(pgstate.Unavailable):
            c.load("s200")
        self.assertTrue(c.connected)
        with self.assertRaises(pgstate.ProtocolError):
            c.load("s100")
        self.assertFalse(c.connected)
        with self.assertRaises(pgstate.Unavailable):
            c.load("s202")
        self.assertFalse(c.connected)
        c.ping()
        self.assertEqual(server.connections, 3)

    def test_unknown_message_type_keeps_the_connection(self) -> None:
        server = self.start(responder=by_id({"s101": error(101)}))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError) as cm:
            c.load("s101")
        self.assertEqual(cm.exception.status, 101)
        self.assertTrue(c.connected)
        c.ping()
        self.assertEqual(server.connections, 1)

    def test_shutdown_notice_means_not_executed(self) -> None:
        server = self.start(responder=by_id({"bye": lambda r: sc.encode_error(0, 202, "shutting down")}))
        c = self.client(server)
        for call in (lambda: c.upsert("bye", 0, b""), lambda: c.delete("bye"), lambda: c.load("bye")):
            with self.assertRaises(pgstate.Unavailable) as cm:
                call()
            self.assertEqual(cm.exception.status, 202)
            self.assertFalse(c.connected)
        c.ping()

    def test_unexpected_response_type(self) -> None:
        server = self.start(responder=by_id({"x": lambda r: sc.encode_not_found(r.request_id)}))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError):
            c.upsert("x", 0, b"")
        self.assertFalse(c.connected)

    def test_conflict_answering_unconditional_delete(self) -> None:
        server = self.start(responder=by_id({"x": lambda r: sc.encode_conflict(r.request_id, 0, 1)}))
        with self.assertRaises(pgstate.ProtocolError):
            self.client(server).delete("x")

    def test_record_with_wrong_revision(self) -> None:
        server = self.start(responder=by_id({"x": lambda r: sc.encode_record(r.request_id, 5, 0, b"")}))
        with self.assertRaises(pgstate.ProtocolError):
            self.client(server).upsert("x", 0, b"")

    def test_malformed_response(self) -> None:
        server = self.start(responder=by_id({"x": lambda r: sc.encode_ok(r.request_id)[:-6]
                                             + bytes.fromhex("820100000000")}))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError):
            c.load("x")
        trailing = lambda r: (sc.encode_not_found(r.request_id)[:3] + b"\x07"  # noqa: E731
                              + sc.encode_not_found(r.request_id)[4:] + b"\x00")
        server.responder = by_id({"y": trailing})
        with self.assertRaises(pgstate.ProtocolError) as cm:
            c.load("y")
        self.assertEqual(cm.exception.status, 100)

    def test_response_for_another_request_id(self) -> None:
        server = self.start(responder=by_id({"x": lambda r: sc.encode_not_found(r.request_id + 100)}))
        with self.assertRaises(pgstate.ProtocolError):
            self.client(server).load("x")

    def test_oversized_response_frame(self) -> None:
        server = self.start(max_frame_bytes=5000, max_state_bytes=100,
                            responder=by_id({"x": lambda r: sc.encode_record(r.request_id, 1, 0, b"z" * 6000)}))
        with self.assertRaises(pgstate.ProtocolError) as cm:
            self.client(server).load("x")
        self.assertEqual(cm.exception.status, 103)

    def test_connection_level_error(self) -> None:
        # 1xx with request id 0: the server found the client's stream malformed (12.2 rule 2).
        server = self.start(responder=by_id({"x": lambda r: sc.encode_error(0, 103, "too large"),
                                             "full": lambda r: sc.encode_error(0, 201, "too many")}))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError) as cm:
            c.load("x")
        self.assertEqual(cm.exception.status, 103)
        self.assertFalse(c.connected)
        with self.assertRaises(pgstate.ProtocolError):
            c.upsert("x", 0, b"")
        # Any other id-0 ERROR ends the connection like a loss after the request was written.
        with self.assertRaises(pgstate.Unavailable) as cm2:
            c.load("full")
        self.assertEqual(cm2.exception.status, 201)
        with self.assertRaises(pgstate.OutcomeUnknown):
            c.upsert("full", 0, b"")
        c.ping()
        self.assertEqual(server.connections, 5)


class SyncConnectionLossTest(ServerCase):
    def test_server_closes_mid_request(self) -> None:
        server = self.start(responder=by_id({"boom": CLOSE}))
        c = self.client(server)
        with self.assertRaises(pgstate.Unavailable):
            c.load("boom")
        with self.assertRaises(pgstate.OutcomeUnknown) as cm:
            c.upsert("boom", 0, b"")
        self.assertIn("may or may not", str(cm.exception))
        with self.assertRaises(pgstate.OutcomeUnknown):
            c.delete("boom")
        with self.assertRaises(pgstate.Unavailable):
            c.load("boom")
        c.ping()  # reconnects lazily
        self.assertEqual(server.connections, 5)

    def test_stale_connection_is_replaced_before_sending(self) -> None:
        server = self.start(close_after_hello=1)
        c = self.client(server)
        c.connect()
        wait_until(lambda: peer_closed(c), "the server has closed")
        c.upsert("x", 0, b"")  # not sent on the dead connection: reconnects first
        self.assertEqual(server.connections, 2)

    def test_server_dropping_idle_connection(self) -> None:
        server = self.start()
        c = self.client(server)
        c.ping()
        server.drop_connections()
        wait_until(lambda: peer_closed(c), "the server has closed")
        c.ping()
        self.assertEqual(server.connections, 2)

    def test_close_and_reconnect(self) -> None:
        server = self.start()
        c = self.client(server)
        with c:
            c.upsert("x", 0, b"1")
        self.assertFalse(c.connected)
        self.assertEqual(c.load("x").revision, 1)  # type: ignore[union-attr]
        c.close()
        c.close()
        self.assertEqual(server.connections, 2)


class SyncTimeoutTest(ServerCase):
    def test_timeouts(self) -> None:
        server = self.start(responder=by_id({"slow": SILENT}))
        c = self.client(server, timeout=0.2)
        t0 = time.monotonic()
        with self.assertRaises(pgstate.Unavailable) as cm:
            c.load("slow")
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        self.assertLess(time.monotonic() - t0, 2)
        self.assertIn("timed out", str(cm.exception))
        self.assertTrue(c.connected)  # PROTOCOL.md 12.4: kept; the late answer would be discarded
        with self.assertRaises(pgstate.OutcomeUnknown):
            c.upsert("slow", 0, b"")
        with self.assertRaises(pgstate.Unavailable):
            c.load("slow")
        c.ping()
        self.assertEqual(c.upsert("fast", 0, b"").revision, 1)
        self.assertEqual(server.connections, 1)

    def test_late_answers_after_timeout_are_discarded(self) -> None:
        server = self.start(responder=by_id({"late": Delay(0.3), "later": Delay(0.5)}))
        server.store["late"] = (4, b"late", 0)
        c = self.client(server, timeout=0.15)
        with self.assertRaises(pgstate.Unavailable):
            c.load("late")
        with self.assertRaises(pgstate.OutcomeUnknown):
            c.upsert("later", 0, b"")
        self.assertIsNone(c.load("other"))  # its own answer, not the late RECORD of "late"
        time.sleep(0.3)  # the late RECORD arrives while no call runs
        self.assertIsNone(c.load("other"))
        time.sleep(0.3)  # and the late answer of the upsert
        c.ping()
        self.assertEqual(server.connections, 1)
        self.assertEqual(c._abandoned, set())

    def test_timeout_before_sending_keeps_the_connection(self) -> None:
        server = self.start()
        c = self.client(server, timeout=0.2)
        c.connect()
        # The deadline passes before the first byte is written: withdrawn, not executed.
        with mock.patch.object(c, "_remaining", side_effect=socket.timeout("timed out")):
            with self.assertRaises(pgstate.Unavailable) as cm:
                c.upsert("x", 0, b"")
        self.assertIn("not sent", str(cm.exception))
        self.assertTrue(c.connected)
        self.assertEqual(server.data_requests, [])
        c.ping()

    def test_handshake_timeout(self) -> None:
        d = tempfile.mkdtemp()
        path = os.path.join(d, "mute.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)  # accepts (in the backlog) but never answers HELLO
        try:
            with self.assertRaises(pgstate.Unavailable) as cm:
                pgstate.Client(path, timeout=0.2).ping()
            self.assertIn(path, str(cm.exception))
        finally:
            s.close()
            os.unlink(path)
            os.rmdir(d)


# ==============================================================================================
# Async client
# ==============================================================================================


class AsyncCase(ServerCase):
    def run_async(self, coro: Any) -> Any:
        return asyncio.run(asyncio.wait_for(coro, 30))


class AsyncBasicsTest(AsyncCase):
    def test_crud_and_handshake(self) -> None:
        server = self.start()

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                self.assertTrue(c.connected)
                self.assertEqual(c.server_info.max_in_flight, 1024)  # type: ignore[union-attr]
                self.assertIsNone(await c.load("a"))
                rec = await c.upsert("a", 0, b"\x00\xff")
                self.assertEqual((rec.revision, rec.state), (1, b"\x00\xff"))
                self.assertEqual(await c.load("a"), rec)
                with self.assertRaises(pgstate.ConcurrencyError) as cm:
                    await c.upsert("a", 0, b"")
                self.assertEqual((cm.exception.expected_revision, cm.exception.actual_revision), (0, 1))
                await c.delete("a", expected_revision=1)
                await c.delete("a")
                await c.ping()
            self.assertFalse(c.connected)

        self.run_async(main())
        hello = server.requests[0][1]
        self.assertIsInstance(hello, sc.Hello)
        self.assertEqual((hello.request_id, hello.versions), (1, (1,)))
        self.assertEqual(server.connections, 1)

    def test_lazy_connect_without_context_manager(self) -> None:
        server = self.start()

        async def main() -> None:
            c = aio.AsyncClient(server.path)
            self.assertFalse(c.connected)
            await c.ping()
            self.assertTrue(c.connected)
            await c.close()
            await c.ping()  # reconnects
            await c.close()

        self.run_async(main())
        self.assertEqual(server.connections, 2)

    def test_missing_socket_names_the_path(self) -> None:
        path = "/nonexistent-dir/pgstated.sock"

        async def main() -> None:
            with self.assertRaises(pgstate.Unavailable) as cm:
                async with aio.AsyncClient(path):
                    pass
            self.assertIn(path, str(cm.exception))
            with self.assertRaises(pgstate.Unavailable) as cm:
                await aio.AsyncClient(path).load("x")
            self.assertIn(path, str(cm.exception))

        self.run_async(main())

    def test_handshake_failures(self) -> None:
        async def attempt(server: FakeServer) -> BaseException:
            try:
                await aio.AsyncClient(server.path).ping()
            except pgstate.Error as exc:
                return exc
            raise AssertionError("no error")

        s104 = self.start(hello_response=sc.encode_error(1, 104, "no common version"))
        s201 = self.start(hello_response=sc.encode_error(0, 201, "too many connections"))
        e104 = self.run_async(attempt(s104))
        e201 = self.run_async(attempt(s201))
        self.assertIsInstance(e104, pgstate.ProtocolError)
        self.assertEqual(e104.status, 104)
        self.assertIsInstance(e201, pgstate.Unavailable)
        self.assertEqual(e201.status, 201)

    def test_argument_checks_send_nothing(self) -> None:
        server = self.start()

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                for method, args in BAD_CALLS:
                    with self.subTest(method=method, args=repr(args)[:50]):
                        with self.assertRaises(pgstate.InvalidArgument):
                            await getattr(c, method)(*args)
                await c.ping()

        self.run_async(main())
        self.assertEqual(server.data_requests, [sc.Ping(2)])

    def test_error_mapping(self) -> None:
        table = {"s%d" % status: error(status, "m") for status, _, _ in STATUS_TABLE}
        server = self.start(responder=by_id(table))

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                for status, read_exc, write_exc in STATUS_TABLE:
                    with self.subTest(status=status):
                        with self.assertRaises(read_exc) as cm:
                            await c.load("s%d" % status)
                        self.assertEqual(cm.exception.status, status)
                        with self.assertRaises(write_exc) as cm:
                            await c.upsert("s%d" % status, 0, b"")
                        self.assertIs(type(cm.exception), write_exc)
                        self.assertEqual(cm.exception.message, "m")
                await c.ping()

        self.run_async(main())


class AsyncPipeliningTest(AsyncCase):
    def test_many_calls_one_connection_out_of_order(self) -> None:
        server = self.start(reverse_batch=10)
        for i in range(100):
            server.store["id-%d" % i] = (i + 1, b"state-%d" % i, 0)

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                ids = ["id-%d" % i for i in range(100)]
                recs = await asyncio.gather(*(c.load(i) for i in ids))
                for i, rec in enumerate(recs):
                    self.assertEqual((rec.persistence_id, rec.revision, rec.state),
                                     ("id-%d" % i, i + 1, b"state-%d" % i))

        self.run_async(main())
        self.assertEqual(server.connections, 1)
        self.assertEqual(len(server.data_requests), 100)
        self.assertGreaterEqual(server.max_outstanding, 10)  # really pipelined

    def test_writes_and_reads_mixed(self) -> None:
        server = self.start(reverse_batch=4)

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                results = await asyncio.gather(
                    c.upsert("a", 0, b"a"), c.upsert("b", 0, b"b"), c.load("c"), c.ping(),
                    return_exceptions=True)
                self.assertEqual([r.revision if r else r for r in results], [1, 1, None, None])

        self.run_async(main())

    def test_max_in_flight_is_respected(self) -> None:
        server = self.start(max_in_flight=4, responder=lambda s, r: Delay(0.005))

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT) as c:
                recs = await asyncio.gather(*(c.load("k%d" % i) for i in range(60)))
                self.assertEqual(recs, [None] * 60)

        self.run_async(main())
        self.assertEqual(server.max_outstanding, 4)
        self.assertEqual(server.connections, 1)

    def test_request_ids_unique_in_flight(self) -> None:
        server = self.start(reverse_batch=50)

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                await asyncio.gather(*(c.ping() for _ in range(50)))

        self.run_async(main())
        ids = [r.request_id for r in server.data_requests]
        self.assertEqual(len(set(ids)), 50)
        self.assertNotIn(0, ids)
        self.assertNotIn(1, ids)  # 1 was the HELLO


class AsyncFailureTest(AsyncCase):
    def test_connection_loss_fails_pending_calls_by_kind(self) -> None:
        server = self.start(responder=by_id({"hang-r": SILENT, "hang-w": SILENT, "boom": CLOSE}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                tasks = [asyncio.ensure_future(x) for x in (
                    c.load("hang-r"), c.load("hang-r"),
                    c.upsert("hang-w", 0, b""), c.delete("hang-w"), c.delete("hang-w", expected_revision=0))]
                await async_wait_until(lambda: len(server.data_requests) == 5, "all are received")
                with self.assertRaises(pgstate.Unavailable):
                    await c.load("boom")
                results = await asyncio.gather(*tasks, return_exceptions=True)
                self.assertEqual([type(r) for r in results],
                                 [pgstate.Unavailable, pgstate.Unavailable, pgstate.OutcomeUnknown,
                                  pgstate.OutcomeUnknown, pgstate.OutcomeUnknown])
                self.assertFalse(c.connected)
                await c.ping()  # reconnects
                self.assertTrue(c.connected)

        self.run_async(main())
        self.assertEqual(server.connections, 2)

    def test_calls_waiting_for_a_slot_are_not_sent_and_retried(self) -> None:
        server = self.start(max_in_flight=2, responder=by_id({"hang": SILENT, "hang2": SILENT}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                hung = asyncio.ensure_future(c.upsert("hang", 0, b""))
                boom = asyncio.ensure_future(c.upsert("hang2", 0, b""))
                # Both slots are taken; this one waits, then the connection dies under it.
                waiting = asyncio.ensure_future(c.upsert("later", 0, b"x"))
                await async_wait_until(lambda: len(server.data_requests) == 2, "both are received")
                await asyncio.sleep(0.05)
                self.assertFalse(waiting.done())
                server.drop_connections()
                results = await asyncio.gather(hung, boom, waiting, return_exceptions=True)
                self.assertIsInstance(results[0], pgstate.OutcomeUnknown)
                self.assertIsInstance(results[1], pgstate.OutcomeUnknown)
                self.assertEqual(results[2].revision, 1)  # never sent, so retried on a new connection

        self.run_async(main())
        self.assertEqual(server.connections, 2)
        self.assertEqual(server.store["later"][0], 1)

    def test_protocol_error_closes_and_fails_everyone(self) -> None:
        server = self.start(responder=by_id({
            "hang": SILENT, "bad": lambda r: sc.encode_not_found(r.request_id)}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                hung_r = asyncio.ensure_future(c.load("hang"))
                hung_w = asyncio.ensure_future(c.upsert("hang", 0, b""))
                await async_wait_until(lambda: len(server.data_requests) == 2, "both are received")
                with self.assertRaises(pgstate.ProtocolError):
                    await c.upsert("bad", 0, b"")  # NOT_FOUND cannot answer UPSERT
                r = await asyncio.gather(hung_r, hung_w, return_exceptions=True)
                # PROTOCOL.md 12.3: the stream cannot be trusted, every request is a protocol error.
                self.assertIsInstance(r[0], pgstate.ProtocolError)
                self.assertIsInstance(r[1], pgstate.ProtocolError)
                self.assertIn("may or may not have been applied", str(r[1]))
                await c.ping()

        self.run_async(main())
        self.assertEqual(server.connections, 2)

    def test_malformed_and_unknown_id_responses(self) -> None:
        server = self.start(responder=by_id({
            "trailing": lambda r: bytes.fromhex("0000000784000000") + r.request_id.to_bytes(2, "big") + b"\x00",
            "stranger": lambda r: sc.encode_not_found(r.request_id + 1000)}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                with self.assertRaises(pgstate.ProtocolError) as cm:
                    await c.load("trailing")
                self.assertEqual(cm.exception.status, 100)
                with self.assertRaises(pgstate.ProtocolError) as cm2:
                    await c.load("stranger")
                self.assertIn("not in flight", str(cm2.exception))
                await c.ping()

        self.run_async(main())
        self.assertEqual(server.connections, 3)

    def test_connection_level_error_fails_everyone(self) -> None:
        server = self.start(responder=by_id({"hang": SILENT, "x": lambda r: sc.encode_error(0, 100, "bad")}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                hung = asyncio.ensure_future(c.upsert("hang", 0, b""))
                await async_wait_until(lambda: len(server.data_requests) == 1, "it is received")
                with self.assertRaises(pgstate.ProtocolError) as cm:
                    await c.load("x")
                self.assertEqual(cm.exception.status, 100)
                with self.assertRaises(pgstate.ProtocolError):
                    await hung

        self.run_async(main())

    def test_error_status_fails_only_its_call(self) -> None:
        server = self.start(responder=by_id({"s101": error(101), "s200": error(200), "slow": Delay(0.1)}))
        server.store["slow"] = (1, b"s", 0)

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                slow = asyncio.ensure_future(c.load("slow"))
                await asyncio.sleep(0.02)
                with self.assertRaises(pgstate.ProtocolError):
                    await c.load("s101")
                with self.assertRaises(pgstate.Unavailable):
                    await c.upsert("s200", 0, b"")
                self.assertEqual((await slow).revision, 1)  # type: ignore[union-attr]

        self.run_async(main())
        self.assertEqual(server.connections, 1)

    def test_shutdown_notice_means_not_executed(self) -> None:
        # ERROR 202 with request id 0 is the server's last frame: what it left unanswered
        # was not executed, writes included (PROTOCOL.md section 10).
        server = self.start(responder=by_id({
            "hang": SILENT, "bye": lambda r: sc.encode_error(0, 202, "shutting down")}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                pending = [asyncio.ensure_future(x) for x in (
                    c.upsert("hang", 0, b""), c.delete("hang"), c.load("hang"))]
                await async_wait_until(lambda: len(server.data_requests) == 3, "all are received")
                with self.assertRaises(pgstate.Unavailable) as cm:
                    await c.upsert("bye", 0, b"")
                self.assertEqual(cm.exception.status, 202)
                for r in await asyncio.gather(*pending, return_exceptions=True):
                    self.assertIs(type(r), pgstate.Unavailable)
                    self.assertEqual(r.status, 202)  # type: ignore[union-attr]
                    self.assertIn("not executed", str(r))
                await c.ping()

        self.run_async(main())
        self.assertEqual(server.connections, 2)

    def test_shutting_down_moves_new_calls_to_a_new_connection(self) -> None:
        server = self.start(responder=by_id({"drain": error(202, "shutting down")}))

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                with self.assertRaises(pgstate.Unavailable) as cm:
                    await c.load("drain")
                self.assertEqual(cm.exception.status, 202)
                await c.ping()

        self.run_async(main())
        self.assertEqual(server.connections, 2)

    def test_server_drops_idle_connection(self) -> None:
        server = self.start()

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                await c.ping()
                server.drop_connections()
                await async_wait_until(lambda: not c.connected, "the client has seen the close")
                await c.ping()

        self.run_async(main())
        self.assertEqual(server.connections, 2)


class AsyncTimeoutAndCancellationTest(AsyncCase):
    def test_timeouts_keep_the_connection(self) -> None:
        server = self.start(responder=by_id({"slow": SILENT}))

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=0.2) as c:
                t0 = time.monotonic()
                with self.assertRaises(pgstate.Unavailable) as cm:
                    await c.load("slow")
                self.assertGreaterEqual(time.monotonic() - t0, 0.19)
                self.assertIn("timed out", str(cm.exception))
                with self.assertRaises(pgstate.OutcomeUnknown):
                    await c.upsert("slow", 0, b"")
                with self.assertRaises(pgstate.Unavailable):
                    await c.load("slow")
                await c.ping()
                self.assertEqual((await c.upsert("fast", 0, b"1")).revision, 1)

        self.run_async(main())
        self.assertEqual(server.connections, 1)

    def test_late_answers_after_timeout_are_discarded(self) -> None:
        server = self.start(responder=by_id({"late": Delay(0.3)}))
        server.store["late"] = (1, b"old", 0)

        async def main() -> None:
            async with aio.AsyncClient(server.path, timeout=0.1) as c:
                with self.assertRaises(pgstate.Unavailable):
                    await c.load("late")
                await asyncio.sleep(0.4)  # the late RECORD arrives and is dropped
                await c.ping()
                self.assertIsNone(await c.load("other"))

        self.run_async(main())
        self.assertEqual(server.connections, 1)

    def test_cancellation_does_not_desynchronize(self) -> None:
        server = self.start(responder=by_id({"slow": Delay(0.2)}))
        server.store["fast"] = (3, b"fast", 0)

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                slow = [asyncio.ensure_future(c.load("slow")) for _ in range(5)]
                await asyncio.sleep(0.05)
                for t in slow:
                    t.cancel()
                rec = await c.load("fast")
                self.assertEqual(rec.revision, 3)  # type: ignore[union-attr]
                await asyncio.sleep(0.3)
                rec = await c.load("fast")
                self.assertEqual(rec.state, b"fast")  # type: ignore[union-attr]
                self.assertTrue(all(t.cancelled() for t in slow))

        self.run_async(main())
        self.assertEqual(server.connections, 1)

    def test_cancel_before_write(self) -> None:
        server = self.start()

        async def main() -> None:
            async with aio.AsyncClient(server.path) as c:
                for _ in range(20):
                    t = asyncio.ensure_future(c.upsert("x%d" % _, 0, b"z" * 100000))
                    await asyncio.sleep(0)
                    t.cancel()
                    try:
                        await t
                    except asyncio.CancelledError:
                        pass
                await asyncio.gather(*(c.ping() for _ in range(10)))

        self.run_async(main())
        self.assertEqual(server.connections, 1)

    def test_connect_timeout(self) -> None:
        d = tempfile.mkdtemp()
        path = os.path.join(d, "mute.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)

        async def main() -> None:
            with self.assertRaises(pgstate.Unavailable):
                async with aio.AsyncClient(path, timeout=0.2):
                    pass
            with self.assertRaises(pgstate.Unavailable):
                await aio.AsyncClient(path, timeout=0.2).upsert("x", 0, b"")  # never sent

        try:
            self.run_async(main())
        finally:
            s.close()
            os.unlink(path)
            os.rmdir(d)


class CounterExampleTest(unittest.TestCase):
    """examples/counter.py against the fake server, in both modes."""

    def test_counter_example(self) -> None:
        import subprocess
        import sys

        example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "counter.py")
        with FakeServer() as server:
            env = dict(os.environ, PGSTATE_SOCKET=server.path,
                       PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(pgstate.__path__[0]),
                                                                 os.environ.get("PYTHONPATH")])))
            for extra in ([], ["--asyncio"]):
                with self.subTest(mode=extra or "threads"):
                    out = subprocess.run([sys.executable, example, "--workers", "6", "--increments", "15"] + extra,
                                         env=env, capture_output=True, text=True, timeout=60)
                    self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                    self.assertIn("final value 90, expected 90: OK", out.stdout)


if __name__ == "__main__":
    unittest.main()


class RefusedBeforeHelloTest(unittest.TestCase):
    """A server that refuses at accept (its connection limits) sends ERROR 201 with request id 0 and closes at
    once. A client whose HELLO goes out after that close gets EPIPE, yet must still report the server's reason."""

    def refusing_server(self) -> str:
        folder = tempfile.mkdtemp(prefix="pgs-refuse-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "s.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(4)
        self.addCleanup(listener.close)

        def refuse() -> None:
            conn, _ = listener.accept()
            conn.sendall(sc.encode_error(0, 201, "connection limit of 3 reached; try again later"))
            conn.close()

        threading.Thread(target=refuse, daemon=True).start()
        return path

    def test_sync_client_reads_the_reason_after_a_broken_pipe(self) -> None:
        path = self.refusing_server()

        class LateHello(pgstate.Client):
            def _exchange(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                time.sleep(0.3)  # the server has refused and closed by now
                return super()._exchange(*args, **kwargs)

        with self.assertRaises(pgstate.Unavailable) as cm:
            LateHello(path, timeout=5).ping()
        self.assertEqual(cm.exception.status, 201)
        self.assertIn("connection limit", str(cm.exception))

    def test_async_client_reads_the_reason_after_a_broken_pipe(self) -> None:
        path = self.refusing_server()
        real_open = asyncio.open_unix_connection

        async def late_open(*args: Any, **kwargs: Any) -> Any:
            opened = await real_open(*args, **kwargs)
            await asyncio.sleep(0.3)  # the server has refused and closed by now
            return opened

        async def run() -> None:
            with mock.patch("asyncio.open_unix_connection", late_open):
                client = aio.AsyncClient(path, timeout=5)
                try:
                    with self.assertRaises(pgstate.Unavailable) as cm:
                        await client.ping()
                finally:
                    await client.close()
            self.assertEqual(cm.exception.status, 201)

        asyncio.run(run())
