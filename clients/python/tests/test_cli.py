"""``python -m pgstate`` against the in-process fake pgstated."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import unittest
from typing import List, Tuple
from unittest import mock

from pgstate import ClientRow, Identity, Permissions, StatsEntry
from pgstate import __main__ as cli
from fake_server import FakeServer

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def run(args: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as exc:  # argparse: usage errors and --help
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


class CliTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = FakeServer()
        self.server.start()
        self.addCleanup(self.server.stop)

    def test_ping(self) -> None:
        code, out, _ = run(["--socket", self.server.path, "ping"])
        self.assertEqual(code, 0)
        self.assertIn("answers (fake-pgstated 0.0.1)", out)

    def test_load(self) -> None:
        self.server.store["order-1"] = (3, b'{"n":1}', 1773480413589793)
        self.server.store["blob"] = (1, b"\xff\x00", 0)
        code, out, _ = run(["--socket", self.server.path, "load", "order-1"])
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), {"persistence_id": "order-1", "revision": 3,
                                           "updated_at": "2026-03-14T09:26:53.589793Z", "state": '{"n":1}'})
        code, out, _ = run(["--socket", self.server.path, "load", "blob"])
        self.assertEqual(json.loads(out)["state_base64"], "/wA=")
        code, out, err = run(["--socket", self.server.path, "load", "absent"])
        self.assertEqual((code, out), (1, ""))
        self.assertIn("no record", err)

    def test_list_follows_every_page_and_upsert_takes_a_ttl(self) -> None:
        for n in range(250):  # more than one page of the default 100
            self.server.store["item-%03d" % n] = (1, b"x", 1773480413589793)
        self.server.store["other"] = (1, b"x", 0)
        code, out, _ = run(["--socket", self.server.path, "list", "item-"])
        self.assertEqual(code, 0)
        lines = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([d["persistence_id"] for d in lines], ["item-%03d" % n for n in range(250)])
        self.assertEqual(lines[0], {"persistence_id": "item-000", "revision": 1,
                                    "updated_at": "2026-03-14T09:26:53.589793Z"})
        code, out, _ = run(["--socket", self.server.path, "upsert", "short", "0", "s", "--ttl", "60"])
        self.assertEqual((code, json.loads(out)["revision"]), (0, 1))
        code, _, err = run(["--socket", self.server.path, "upsert", "short", "1", "s", "--ttl", "0"])
        self.assertEqual(code, 3, "a TTL of 0 is refused before sending")
        self.assertIn("InvalidArgument", err)

    def test_whoami(self) -> None:
        code, out, _ = run(["--socket", self.server.path, "whoami"])
        self.assertEqual(code, 0)
        me = self.server.identity
        self.assertEqual(json.loads(out), {"uid": me.uid, "gid": me.gid, "pid": me.pid, "user": me.user,
                                           "namespace": "", "permissions": ["READ", "WRITE"], "rule": ""})

    def test_upsert_load_delete_in_a_namespace(self) -> None:
        operator = Identity(0, 0, 1, "root", "", Permissions(0xF), "/etc/pgstated/access.conf:1")
        server = FakeServer(identity=operator)
        server.start()
        self.addCleanup(server.stop)
        sock = ["--socket", server.path]
        code, out, _ = run(sock + ["upsert", "--namespace", "billing", "order-1", "0", '{"n":1}'])
        self.assertEqual(code, 0)
        self.assertEqual({k: v for k, v in json.loads(out).items() if k != "updated_at"},
                         {"persistence_id": "order-1", "revision": 1, "state": '{"n":1}'})
        self.assertEqual(list(server.namespaces["billing"]), ["order-1"])
        self.assertEqual(run(sock + ["load", "order-1"])[0], 1)  # not in the connection's own namespace
        code, out, _ = run(sock + ["load", "--namespace", "billing", "order-1"])
        self.assertEqual((code, json.loads(out)["revision"]), (0, 1))
        code, _, err = run(sock + ["delete", "--namespace", "billing", "--expected-revision", "2", "order-1"])
        self.assertEqual(code, 3)
        self.assertIn("ConcurrencyError", err)
        self.assertEqual(run(sock + ["delete", "--namespace", "billing", "--expected-revision", "1", "order-1"]),
                         (0, "", ""))
        self.assertEqual(server.namespaces["billing"], {})
        code, out, _ = run(sock + ["whoami"])
        self.assertEqual(json.loads(out)["permissions"], ["READ", "WRITE", "ADMIN", "ANY_NAMESPACE"])
        code, _, err = run(sock + ["load", "--namespace", "bad/ns", "order-1"])
        self.assertEqual(code, 3)
        self.assertIn("InvalidArgument", err)

    def test_upsert_reads_the_state_from_stdin(self) -> None:
        with mock.patch("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xff\x00"))):
            code, out, _ = run(["--socket", self.server.path, "upsert", "blob", "0", "-"])
        self.assertEqual((code, json.loads(out)["state_base64"]), (0, "/wA="))
        self.assertEqual(self.server.store["blob"][:2], (1, b"\xff\x00"))

    def test_permission_denied(self) -> None:
        code, _, err = run(["--socket", self.server.path, "load", "--namespace", "billing", "order-1"])
        self.assertEqual(code, 3)
        self.assertIn("PermissionDenied: ", err)
        self.assertIn("106 PERMISSION_DENIED", err)

    def test_errors_and_usage(self) -> None:
        code, _, err = run(["--socket", self.server.path + ".missing", "ping"])
        self.assertEqual(code, 3)
        self.assertIn("Unavailable: pgstated socket", err)
        code, _, err = run(["--socket", self.server.path, "load", "a\x01b"])
        self.assertEqual(code, 3)
        self.assertIn("InvalidArgument", err)
        self.assertEqual(run(["load"])[0], 2)
        self.assertEqual(run(["--timeout", "0", "ping"])[0], 2)

    def test_health(self) -> None:
        code, out, err = run(["--socket", self.server.path, "health"])  # needs no permission
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(json.loads(out), {"ready": True, "pool_up": True, "paused": False, "draining": False,
                                           "pool_connections_up": 4, "pool_size": 4, "clients": 1,
                                           "uptime_ms": 5000})
        self.server.paused = True
        self.server.health.state, self.server.health.pool_up = 0, 1
        code, out, err = run(["--socket", self.server.path, "health"])
        self.assertEqual(code, 1)
        self.assertEqual(json.loads(out)["ready"], False)
        self.assertEqual(err, "not ready: database pool down (1 of 4 connections up), paused\n")

    def test_stats_and_clients(self) -> None:
        operator = Identity(0, 0, 1, "root", "", Permissions(0xF), "")
        server = FakeServer(identity=operator)
        server.start()
        self.addCleanup(server.stop)
        server.stats = [StatsEntry("pgstate_build_info", 'version="0.3.0"', 1.0),
                        StatsEntry("pgstate_queue_wait_seconds_sum", "", 0.25)]
        code, out, _ = run(["--socket", server.path, "stats"])
        self.assertEqual((code, out),
                         (0, 'pgstate_build_info{version="0.3.0"} 1\npgstate_queue_wait_seconds_sum 0.25\n'))
        server.client_rows = [
            ClientRow(7, 1001, 4242, "jürgen", "billing", "pgstate-py/0.3.0", 1, 1773480413589, 12, 1),
            ClientRow(9, 0, 0, "", "", "", 7, 2**63 - 1, 0, 0)]  # a state and a time this client cannot show
        server.clients_page_rows = 1
        code, out, _ = run(["--socket", server.path, "clients"])
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), [
            {"connection_id": 7, "uid": 1001, "pid": 4242, "user": "jürgen", "namespace": "billing",
             "client_name": "pgstate-py/0.3.0", "state": "READY", "connected_at": "2026-03-14T09:26:53.589Z",
             "requests": 12, "in_flight": 1},
            {"connection_id": 9, "uid": 0, "pid": 0, "user": "", "namespace": "", "client_name": "",
             "state": "UNKNOWN(7)", "connected_at": None, "requests": 0, "in_flight": 0}])

    def test_stats_and_clients_need_admin(self) -> None:
        for command in ("stats", "clients"):
            with self.subTest(command=command):
                code, out, err = run(["--socket", self.server.path, command])
                self.assertEqual((code, out), (3, ""))
                self.assertIn("PermissionDenied: ", err)

    def test_python_dash_m_help(self) -> None:
        env = dict(os.environ, PYTHONPATH=SRC)
        done = subprocess.run([sys.executable, "-m", "pgstate", "--help"], env=env, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        for word in ("ping", "whoami", "load", "upsert", "delete", "health", "stats", "clients", "--socket"):
            self.assertIn(word, done.stdout)


if __name__ == "__main__":
    unittest.main()
