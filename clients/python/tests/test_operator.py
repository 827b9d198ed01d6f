"""health, stats, clients, pause and resume: both clients against the in-process fake pgstated.

The fake answers the operators' requests from its ``health``, ``stats`` and ``client_rows``
(paged ``clients_page_rows`` at a time), records PAUSE and RESUME, and wants ADMIN for all
but HEALTH (PROTOCOL.md sections 6.14 to 6.21).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import unittest
from typing import Any, List

import pgstate
import server_codec as sc
from fake_server import FakeServer
from pgstate import ClientRow, ClientState, Health, Identity, Permissions, StatsEntry, aio
from pgstate import _protocol as p

TIMEOUT = 10.0

ADMIN = Identity(uid=0, gid=0, pid=1, user="root", namespace="",
                 permissions=Permissions.READ | Permissions.WRITE | Permissions.ADMIN | Permissions.ANY_NAMESPACE,
                 rule="")
NOT_ADMIN = dataclasses.replace(ADMIN, uid=1001, user="billing",
                                permissions=Permissions.READ | Permissions.WRITE | Permissions.ANY_NAMESPACE)
WITHOUT_OPERATOR = p.CAP_CONDITIONAL_DELETE | p.CAP_IDENTITY


def row(connection_id: int, state: int = ClientState.READY, **changes: Any) -> ClientRow:
    r = ClientRow(connection_id=connection_id, uid=1001, pid=4000 + connection_id, user="billing",
                  namespace="billing", client_name="worker-%d" % connection_id, state=state,
                  connected_ms=1773480413589 + connection_id, requests=10 * connection_id, in_flight=0)
    return dataclasses.replace(r, **changes)


ROWS = [row(3), row(4, ClientState.HANDSHAKE, client_name=""), row(8), row(11, ClientState.DRAINING), row(12, 9)]


def operator_requests(server: FakeServer) -> List[Any]:
    return [r for r in server.data_requests if isinstance(r, (sc.Health, sc.Stats, sc.Clients, sc.Pause,
                                                                sc.Resume))]


class ServerCase(unittest.TestCase):
    def start(self, **kwargs: Any) -> FakeServer:
        kwargs.setdefault("identity", ADMIN)
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


class HealthTypesTest(unittest.TestCase):
    def test_ready_needs_the_pool_and_neither_pause_nor_drain(self) -> None:
        self.assertTrue(Health.from_state(0x1, 4, 4, 1, 0).ready)
        self.assertTrue(Health.from_state(0xF9, 4, 4, 1, 0).ready)  # reserved bits ignored
        for state, reasons in [(0x0, ["database pool down (2 of 4 connections up)"]), (0x3, ["paused"]),
                               (0x5, ["shutting down"]),
                               (0x6, ["database pool down (2 of 4 connections up)", "paused", "shutting down"])]:
            with self.subTest(state=state):
                health = Health.from_state(state, 2, 4, 1, 0)
                self.assertFalse(health.ready)
                self.assertEqual(health.not_ready_reasons, reasons)
        self.assertEqual(Health.from_state(0x1, 4, 4, 1, 0).not_ready_reasons, [])

    def test_stats_entry_as_exposition_line(self) -> None:
        self.assertEqual(str(StatsEntry("pgstate_up", "", 1.0)), "pgstate_up 1")
        self.assertEqual(str(StatsEntry("pgstate_requests_total", 'op="load"', 2.0**53)),
                         'pgstate_requests_total{op="load"} 9007199254740992.0')
        self.assertEqual(str(StatsEntry("x_seconds", 'quantile="0.99"', 0.000512)),
                         'x_seconds{quantile="0.99"} 0.000512')
        self.assertEqual(str(StatsEntry("x", "", float("inf"))), "x +Inf")
        self.assertEqual(str(StatsEntry("x", "", float("nan"))), "x NaN")

    def test_client_row_state_and_time(self) -> None:
        self.assertEqual(row(1).state_name, "READY")
        self.assertEqual(row(1, 9).state_name, "UNKNOWN(9)")
        self.assertEqual(row(1, connected_ms=1773480413589).connected_at,
                         datetime.datetime(2026, 3, 14, 9, 26, 53, 589000, tzinfo=datetime.timezone.utc))


class SyncOperatorTest(ServerCase):
    def test_health(self) -> None:
        server = self.start(identity=NOT_ADMIN)  # HEALTH needs no permission
        server.health.pool_up, server.health.clients, server.health.uptime_ms = 3, 2, 86_400_000
        c = self.client(server)
        health = c.health()
        self.assertEqual(health, Health(pool_up=True, paused=False, draining=False, pool_connections_up=3,
                                        pool_size=4, clients=2, uptime_ms=86_400_000))
        self.assertTrue(health.ready)
        server.health.state = 0x4  # DRAINING, the pool down: not ready, still an answer
        health = c.health()
        self.assertFalse(health.ready)
        self.assertEqual((health.pool_up, health.draining), (False, True))
        self.assertTrue(c.connected)
        self.assertEqual(operator_requests(server), [sc.Health(2), sc.Health(3)])

    def test_stats(self) -> None:
        server = self.start()
        server.stats = [StatsEntry("pgstate_build_info", 'version="0.3.0"', 1.0),
                        StatsEntry("pgstate_queue_wait_seconds", 'quantile="0.99"', 0.000512),
                        StatsEntry("pgstate_widgets_total", "", 7.0)]  # a name no version lists: kept
        c = self.client(server)
        self.assertEqual(c.stats(), server.stats)
        server.stats = []
        self.assertEqual(c.stats(), [])

    def test_clients_follows_the_pages(self) -> None:
        server = self.start()
        server.client_rows = list(ROWS)
        server.clients_page_rows = 2
        c = self.client(server)
        self.assertEqual(c.clients(), ROWS)
        self.assertEqual(operator_requests(server), [sc.Clients(2, 0), sc.Clients(3, 4), sc.Clients(4, 11)])
        self.assertEqual([r.state_name for r in ROWS], ["READY", "HANDSHAKE", "READY", "DRAINING", "UNKNOWN(9)"])

    def test_clients_in_one_page_and_none(self) -> None:
        server = self.start()
        server.client_rows = list(ROWS)
        c = self.client(server)
        self.assertEqual(c.clients(), ROWS)
        server.client_rows = []
        self.assertEqual(c.clients(), [])
        self.assertEqual(operator_requests(server), [sc.Clients(2, 0), sc.Clients(3, 0)])

    def test_pause_and_resume(self) -> None:
        server = self.start()
        c = self.client(server)
        c.pause()
        self.assertEqual((server.paused, server.pause_timeout_ms), (True, 30000))
        health = c.health()
        self.assertEqual((health.paused, health.ready), (True, False))
        c.pause(timeout_ms=0)
        self.assertEqual(server.pause_timeout_ms, 0)
        c.resume()
        self.assertFalse(server.paused)
        c.resume()  # when not paused: OK too
        self.assertTrue(c.health().ready)
        self.assertEqual(operator_requests(server), [sc.Pause(2, 30000), sc.Health(3), sc.Pause(4, 0), sc.Resume(5),
                                                     sc.Resume(6), sc.Health(7)])

    def test_without_admin_permission_denied_and_the_connection_stays(self) -> None:
        server = self.start(identity=NOT_ADMIN)
        c = self.client(server)
        for name, call in [("stats", c.stats), ("clients", c.clients), ("pause", c.pause), ("resume", c.resume)]:
            with self.subTest(call=name):
                with self.assertRaises(pgstate.PermissionDenied) as cm:
                    call()
                self.assertEqual(cm.exception.status, 106)
                self.assertIn("ADMIN", str(cm.exception))
                self.assertTrue(c.connected)
        self.assertFalse(server.paused)
        c.ping()
        self.assertEqual(server.connections, 1)

    def test_refused_before_sending_without_operator(self) -> None:
        server = self.start(capabilities=WITHOUT_OPERATOR)
        c = self.client(server)
        for name, call in [("health", c.health), ("stats", c.stats), ("clients", c.clients), ("pause", c.pause),
                           ("resume", c.resume)]:
            with self.subTest(call=name):
                with self.assertRaises(pgstate.InvalidArgument) as cm:
                    call()
                self.assertIn("OPERATOR", str(cm.exception))
                self.assertEqual(cm.exception.status, 102)
        self.assertEqual(server.data_requests, [])
        self.assertTrue(c.connected)
        self.assertFalse(c.server_info.operator)  # type: ignore[union-attr]

    def test_bad_pause_timeouts_are_refused_before_connecting(self) -> None:
        server = self.start()
        c = self.client(server)
        for bad in [-1, 2**32, 1.5, "30000", None, True]:
            with self.subTest(timeout_ms=bad):
                with self.assertRaises(pgstate.InvalidArgument):
                    c.pause(bad)  # type: ignore[arg-type]
        self.assertEqual(server.connections, 0)
        c.pause(2**32 - 1)
        self.assertEqual(server.pause_timeout_ms, 2**32 - 1)

    def test_a_page_that_does_not_follow_is_a_protocol_error(self) -> None:
        # A server repeating the same page would make the listing loop forever: the ids must ascend.
        server = self.start(responder=lambda s, r: sc.encode_clients_ok(r.request_id, 1, [row(3), row(4)])
                            if isinstance(r, sc.Clients) else None)
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError) as cm:
            c.clients()
        self.assertIn("does not follow", str(cm.exception))
        self.assertFalse(c.connected)
        self.assertEqual(operator_requests(server), [sc.Clients(2, 0), sc.Clients(3, 4)])

    def test_more_without_rows_is_a_protocol_error(self) -> None:
        server = self.start(responder=lambda s, r: sc.encode_clients_ok(r.request_id, 1, []))
        c = self.client(server)
        with self.assertRaises(pgstate.ProtocolError):
            c.clients()
        self.assertFalse(c.connected)

    def test_answers_of_the_wrong_type_are_protocol_errors(self) -> None:
        server = self.start(responder=lambda s, r: sc.encode_ok(r.request_id))
        c = self.client(server)
        for name, call in [("health", c.health), ("stats", c.stats), ("clients", c.clients)]:
            with self.subTest(call=name):
                with self.assertRaises(pgstate.ProtocolError):
                    call()
                self.assertFalse(c.connected)
        server.responder = lambda s, r: sc.encode_health_ok(r.request_id, 1, 4, 4, 1, 0)
        with self.assertRaises(pgstate.ProtocolError):
            c.pause()

    def test_health_ok_of_the_wrong_length_is_a_protocol_error(self) -> None:
        def short(server: FakeServer, request: sc.Request) -> bytes:  # 16 payload bytes, the length saying so
            return sc._frame(p.MessageType.HEALTH_OK, request.request_id,
                             sc.encode_health_ok(request.request_id, 1, 4, 4, 1, 0)[10:-1])

        def long(server: FakeServer, request: sc.Request) -> bytes:
            return sc._frame(p.MessageType.HEALTH_OK, request.request_id,
                             sc.encode_health_ok(request.request_id, 1, 4, 4, 1, 0)[10:] + b"\x00")

        for responder in (short, long):
            with self.subTest(responder=responder.__name__):
                server = self.start(responder=responder)
                c = self.client(server)
                with self.assertRaises(pgstate.ProtocolError) as cm:
                    c.health()
                self.assertEqual(cm.exception.status, 100)
                self.assertFalse(c.connected)

    def test_a_lost_pause_is_unavailable_not_unknown(self) -> None:
        # PAUSE and RESUME change no record and may be sent again: reads for the classifier.
        server = self.start(responder=lambda s, r: "close")
        c = self.client(server)
        with self.assertRaises(pgstate.Unavailable):
            c.pause()


class AsyncOperatorTest(ServerCase):
    def aclient(self, server: FakeServer) -> aio.AsyncClient:
        return aio.AsyncClient(server.path, timeout=TIMEOUT)

    def test_every_call(self) -> None:
        server = self.start()
        server.client_rows = list(ROWS)
        server.clients_page_rows = 3

        async def main() -> None:
            async with self.aclient(server) as c:
                health, stats, clients = await asyncio.gather(c.health(), c.stats(), c.clients())
                self.assertTrue(health.ready)
                self.assertEqual(stats, server.stats)
                self.assertEqual(clients, ROWS)
                await c.pause(5000)
                self.assertTrue((await c.health()).paused)
                await c.resume()
                self.assertFalse((await c.health()).paused)

        self.run_async(main())
        self.assertEqual(server.connections, 1)
        clients = [r for r in operator_requests(server) if isinstance(r, sc.Clients)]
        self.assertEqual([r.after_connection for r in clients], [0, 8])
        self.assertIn(sc.Pause(6, 5000), operator_requests(server))

    def test_permission_denied_and_refusals(self) -> None:
        server = self.start(identity=NOT_ADMIN)
        refusing = self.start(capabilities=WITHOUT_OPERATOR)

        async def main() -> None:
            async with self.aclient(server) as c:
                self.assertTrue((await c.health()).ready)
                for call in (c.stats, c.clients, c.pause, c.resume):
                    with self.assertRaises(pgstate.PermissionDenied):
                        await call()
                self.assertTrue(c.connected)
            async with self.aclient(refusing) as c:
                for call in (c.health, c.stats, c.clients, c.pause, c.resume):
                    with self.assertRaises(pgstate.InvalidArgument):
                        await call()
                with self.assertRaises(pgstate.InvalidArgument):
                    await c.pause(-1)
                self.assertTrue(c.connected)

        self.run_async(main())
        self.assertEqual(refusing.data_requests, [])

    def test_a_page_that_does_not_follow_is_a_protocol_error(self) -> None:
        server = self.start(responder=lambda s, r: sc.encode_clients_ok(r.request_id, 0, [row(9), row(7)]))

        async def main() -> None:
            async with self.aclient(server) as c:
                with self.assertRaises(pgstate.ProtocolError):
                    await c.clients()
                self.assertFalse(c.connected)

        self.run_async(main())


if __name__ == "__main__":
    unittest.main()
