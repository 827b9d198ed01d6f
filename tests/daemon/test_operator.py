"""The operators' requests end to end: every pgstatectl command against a live daemon, PAUSE while writes are in
flight (nothing executes while paused, nothing is lost after RESUME), PAUSE's timeout, ping's exit codes while
the database is cut off, and the ADMIN permission (real users, root only). See README.md in this folder.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Dict, List, Optional, Tuple

import harness
from harness import (CTL_BIN, Daemon, DaemonTestCase, DatabaseProxy, RawConn, describe, free_tcp_port, health_of,
                     http_get, proto, psql, requires_daemon, run_ctl, run_prefix, say)
from users import as_user, can_manage_users, ensure_users, uid_of

import pgstate

requires_users = unittest.skipUnless(can_manage_users(), "needs root with useradd/groupadd to create test users")

# Exit codes of pgstatectl (design: operators' requests).
EXIT_OK, EXIT_NOT, EXIT_NO_ANSWER, EXIT_PERMISSION, EXIT_CLIENT_ERROR, EXIT_USAGE = 0, 1, 2, 3, 4, 64


def setUpModule() -> None:
    if harness.BIN and harness.DATABASE_URL and not os.access(CTL_BIN, os.X_OK):
        raise AssertionError("pgstatectl not found next to pgstated (%s)" % CTL_BIN)
    if can_manage_users() and harness.DATABASE_URL:
        ensure_users()


def text(out: subprocess.CompletedProcess) -> str:
    return "exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        out.returncode, out.stdout.decode("utf-8", "replace"), out.stderr.decode("utf-8", "replace"))


def rows_by_prefix(prefix: str) -> Tuple[int, int]:
    """(rows, sum of revisions) committed in the shared namespace whose id starts with ``prefix``."""
    out = psql("SELECT count(*) || ' ' || coalesce(sum(revision), 0) FROM durable_state "
               "WHERE namespace = '' AND persistence_id LIKE '%s%%'" % prefix)
    rows, revisions = out.split()
    return int(rows), int(revisions)


class CtlTestCase(DaemonTestCase):
    """A daemon per test, and pgstatectl run against its socket."""

    def ctl(self, *args: str, expect: Optional[int] = EXIT_OK, stdin: Optional[bytes] = None,
            user: Optional[str] = None, socket_path: Optional[str] = "") -> subprocess.CompletedProcess:
        path = self.daemon.socket_path if socket_path == "" else socket_path
        out = run_ctl(path, *args, stdin=stdin, user=user)
        if expect is not None:
            self.assertEqual(out.returncode, expect, "pgstatectl %s\n%s" % (" ".join(args), text(out)))
        return out

    def ctl_json(self, *args: str, expect: int = EXIT_OK) -> object:
        out = self.ctl(*args, "--json", expect=expect)
        try:
            return json.loads(out.stdout)
        except ValueError:
            self.fail("pgstatectl %s --json printed no JSON\n%s" % (" ".join(args), text(out)))

    def open(self, client_name: str) -> RawConn:
        c = RawConn(self.daemon.socket_path, 10.0)
        self.addCleanup(c.close)
        c.hello(client_name=client_name)
        return c

    def health(self, conn: RawConn) -> pgstate.Health:
        rid = conn.next_id()
        resp = conn.roundtrip(proto.encode_health(rid))
        self.assertEqual(getattr(resp, "request_id", None), rid, describe(resp))
        return health_of(resp)


# --- 3. Every command ----------------------------------------------------------------------------------------


@requires_daemon
class CtlCommandsTest(CtlTestCase):
    def test_ping_status_stats(self) -> None:
        self.ctl("ping")
        env_out = run_ctl(None, "ping", env={"PGSTATE_SOCKET": self.daemon.socket_path})
        self.assertEqual(env_out.returncode, EXIT_OK, "PGSTATE_SOCKET\n" + text(env_out))

        status = self.ctl("status")
        self.assertRegex(status.stdout.decode(), r"\d+\.\d+\.\d+", "status names the server's version")
        doc = self.ctl_json("status")
        self.assertIsInstance(doc, dict)
        version = proto_version(self.daemon.socket_path)
        self.assertIn(version, json.dumps(doc), "status --json names the server's version")

        stats_text = self.ctl("stats").stdout.decode()
        lines = [line for line in stats_text.splitlines() if line.startswith("pgstate_requests_total{")]
        self.assertTrue(lines, stats_text[:2000])
        for line in lines:
            self.assertRegex(line, r'^pgstate_requests_total\{[^}]*op="[a-z_]+"[^}]*\} [0-9.e+-]+$')
        entries = self.ctl_json("stats")
        self.assertIsInstance(entries, list)
        for entry in entries:
            self.assertEqual(set(entry), {"name", "labels", "value"}, entry)
        names = {e["name"] for e in entries}
        self.assertIn("pgstate_requests_total", names)
        # What the commands above sent: HELLO for each of the 7 connections (6 pgstatectl, 1 raw) and the
        # harness's start-up check; HEALTH for ping (twice) and status (twice); STATS for status (an admin's
        # status shows the main figures, twice) and `stats` (the one being answered may count itself or not).
        counted = {}
        for e in entries:
            if e["name"] == "pgstate_requests_total":
                labels = dict(re.findall(r'(\w+)="([^"]*)"', e["labels"]))
                counted[(labels["op"], labels["outcome"])] = counted.get((labels["op"], labels["outcome"]), 0) + e["value"]
        self.assertEqual(counted.get(("hello", "ok")), 8, counted)
        self.assertEqual(counted.get(("health", "ok")), 4, counted)
        self.assertIn(counted.get(("stats", "ok")), (3, 4), counted)
        say("pgstatectl: status %d lines, stats %d entries (%d names); requests counted %s"
            % (len(status.stdout.splitlines()), len(entries), len(names), sorted(counted.items())))

    def test_clients_shows_the_tests_connections(self) -> None:
        names = ["ctl-clients-a-%d" % os.getpid(), "ctl-clients-b-%d" % os.getpid()]
        conns = [self.open(n) for n in names]
        for c in conns:  # a request answered each
            rid = c.next_id()
            self.assertEqual(c.roundtrip(proto.encode_ping(rid)), proto.Ok(rid))
        out = self.ctl("clients").stdout.decode()
        for n in names:
            line = [line for line in out.splitlines() if n in line]
            self.assertEqual(len(line), 1, "one row naming %s\n%s" % (n, out))
            fields = line[0].split()
            self.assertIn(str(os.getuid()), fields, "the row shows the uid: %r" % line[0])
            self.assertIn(str(os.getpid()), fields, "the row shows the pid: %r" % line[0])
        rows = self.ctl_json("clients")
        self.assertIsInstance(rows, list)
        mine = [r for r in rows if r.get("client_name") in names]
        self.assertEqual(sorted(r["client_name"] for r in mine), sorted(names), rows)
        for r in mine:
            self.assertEqual(r.get("uid"), os.getuid(), r)
            self.assertEqual(r.get("pid"), os.getpid(), r)
            self.assertGreaterEqual(r.get("requests", 0), 2, "HELLO and PING answered: %s" % r)
        ids = [r.get("connection_id") for r in rows]
        self.assertEqual(ids, sorted(ids), "rows by ascending connection id")
        # The raw request: the same rows, and paging from after_connection.
        c = conns[0]
        rid = c.next_id()
        page = c.roundtrip(proto.encode_clients(rid, 0))
        self.assertIsInstance(page, proto.ClientsOk, describe(page))
        raw = {r.client_name: r for r in page.rows}
        for n in names:
            self.assertEqual((raw[n].uid, raw[n].pid, raw[n].namespace, raw[n].state), (os.getuid(), os.getpid(), "", 1))
        first = min(raw[n].connection_id for n in names)
        rid = c.next_id()
        later = c.roundtrip(proto.encode_clients(rid, first))
        self.assertTrue(all(r.connection_id > first for r in later.rows), later.rows)
        say("pgstatectl clients: %d rows, the test's own %s" % (len(rows), [(r["client_name"], r["uid"]) for r in mine]))

    def test_get_put_delete(self) -> None:
        key = run_prefix("ctl") + "record"
        state = bytes(range(256)) * 3
        with tempfile.NamedTemporaryFile(prefix="pgsd-ctl-", dir="/tmp") as f:
            f.write(state)
            f.flush()
            out = self.ctl("put", key, "0", f.name)
            self.assertRegex(out.stdout.decode(), r"\b1\b", "put prints the new revision")
            conflict = self.ctl("put", key, "0", f.name, expect=EXIT_NOT)
            self.assertRegex((conflict.stdout + conflict.stderr).decode(), r"\b1\b",
                             "a conflict prints the current revision")
        second = b"from stdin\x00\xff"
        self.assertRegex(self.ctl("put", key, "1", "-", stdin=second).stdout.decode(), r"\b2\b")
        got = self.ctl("get", key)
        self.assertEqual(got.stdout, second, "get prints the state's raw bytes")
        self.assertRegex(got.stderr.decode(), r"\b2\b", "get prints the revision on stderr")
        doc = self.ctl_json("get", key)
        self.assertEqual(doc["revision"], 2)
        self.assertEqual(base64.b64decode(doc["state_base64"]), second)
        self.assertIsInstance(doc["updated_at_us"], int)
        self.assertLess(abs(doc["updated_at_us"] / 1e6 - time.time()), 300)
        with pgstate.Client(self.daemon.socket_path, timeout=10) as c:
            self.assertEqual(bytes(c.load(key).state), second)
        self.ctl("get", key + "-missing", expect=EXIT_NOT)
        self.ctl("delete", key, "--expected", "5", expect=EXIT_NOT)
        self.ctl("get", key)  # still there
        self.ctl("delete", key, "--expected", "2")
        self.ctl("get", key, expect=EXIT_NOT)
        self.ctl("delete", key)  # absent: exit 0
        # --namespace (root without an access file may name any).
        ns = "ctl-%d" % os.getpid()
        self.ctl("put", key, "0", "-", "--namespace", ns, stdin=b"namespaced")
        self.ctl("get", key, expect=EXIT_NOT)
        self.assertEqual(self.ctl("get", key, "--namespace", ns).stdout, b"namespaced")
        with pgstate.Client(self.daemon.socket_path, timeout=10) as c:
            self.assertEqual(bytes(c.load(key, namespace=ns).state), b"namespaced")
        self.ctl("delete", key, "--namespace", ns)
        self.assertEqual(psql("SELECT count(*) FROM durable_state WHERE persistence_id = '%s'" % key), "0")
        # An argument outside the protocol's rules is refused before anything is sent: a usage error.
        bad = self.ctl("put", key, str(2 ** 63 - 1), "-", stdin=b"x", expect=EXIT_USAGE)
        self.assertTrue(bad.stderr.strip(), text(bad))

    def test_list_follows_every_page(self) -> None:
        prefix = run_prefix("ctl") + "list-"
        for n in (3, 1, 2, 10):
            self.ctl("put", "%s%02d" % (prefix, n), "0", "-", stdin=b"x")
        self.ctl("put", prefix + "01", "1", "-", stdin=b"y")
        lines = self.ctl("list", prefix).stdout.decode().splitlines()
        self.assertEqual(lines, ["%s01\t2" % prefix, "%s02\t1" % prefix, "%s03\t1" % prefix, "%s10\t1" % prefix])
        page = self.ctl("list", prefix, "--limit", "2")
        self.assertEqual(page.stdout.decode().split(), [prefix + "01", "2", prefix + "02", "1"])
        self.assertIn("--after", page.stderr.decode(), "one page tells how to continue")
        rest = self.ctl("list", prefix, "--limit", "2", "--after", prefix + "02")
        self.assertEqual(rest.stdout.decode().split(), [prefix + "03", "1", prefix + "10", "1"])
        docs = [json.loads(line) for line in self.ctl("list", prefix, "--json").stdout.decode().splitlines()]
        self.assertEqual([d["id"] for d in docs], [prefix + "01", prefix + "02", prefix + "03", prefix + "10"])
        self.assertEqual(docs[0]["revision"], 2)
        self.assertEqual(self.ctl("list", prefix + "zz").stdout, b"", "nothing under the prefix: no line, exit 0")
        self.ctl("list", prefix, "--limit", "0", expect=EXIT_USAGE)

    def test_bench_pause_resume_help_usage(self) -> None:
        bench = self.ctl("bench-latency", "--count", "200", "--op", "ping")
        figures = bench.stdout.decode()
        for word in ("min", "p50", "p99", "max"):
            self.assertIn(word, figures.lower(), figures)
        self.assertRegex(figures.lower(), r"avg|mean", figures)
        self.assertGreaterEqual(len(re.findall(r"\d+(?:\.\d+)?", figures)), 5, figures)
        load_bench = self.ctl("bench-latency", "--count", "50", "--op", "load")
        self.assertIn("p99", load_bench.stdout.decode().lower())

        self.ctl("pause")
        paused = self.ctl("ping", expect=EXIT_NOT)
        self.assertIn("paused", text(paused).lower())
        self.ctl("status", expect=EXIT_NOT)
        self.ctl("resume")
        self.ctl("ping")
        self.ctl("resume")  # not paused: OK

        for args in (("--help",), ("ping", "--help"), ("pause", "--help")):
            out = run_ctl(None, *args)
            self.assertEqual(out.returncode, EXIT_OK, text(out))
            self.assertIn(b"pgstatectl", out.stdout + out.stderr)
        for args in (("ping", "--no-such-option"), ("no-such-command",), ("get",), ("put", "id", "notanumber", "-")):
            out = run_ctl(self.daemon.socket_path, *args)
            self.assertEqual(out.returncode, EXIT_USAGE, "pgstatectl %s\n%s" % (" ".join(args), text(out)))
        say("pgstatectl bench-latency --op ping: %s" % " ".join(figures.split())[:200])


def proto_version(path: str) -> str:
    with RawConn(path) as c:
        return c.hello(client_name="ctl-version").server_version.split()[-1]


# --- 4. PAUSE while writes are in flight ---------------------------------------------------------------------


class PipelinedWriter:
    """From a thread on its own connection: for n = 0, 1, ... creates ``prefix + n`` and at once updates it
    (two UPSERTs sent together: expected 0, then 1), keeping at most ``window`` requests unanswered. Records
    when each request was sent and when and how it was answered."""

    def __init__(self, path: str, prefix: str, window: int = 16, max_seconds: float = 40.0) -> None:
        self.prefix = prefix
        self.window = window
        self.max_seconds = max_seconds
        self.conn = RawConn(path, 10.0)
        self.conn.hello(client_name="pause-writer")
        self.sent: Dict[int, Tuple[float, str, int]] = {}  # rid -> (time, id, expected revision)
        self.answers: Dict[int, Tuple[float, object]] = {}  # rid -> (time, response)
        self.ids = 0
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pause-writer", daemon=True)

    def start(self) -> "PipelinedWriter":
        self._thread.start()
        return self

    @property
    def in_flight(self) -> int:
        return len(self.sent) - len(self.answers)

    def _run(self) -> None:
        started = time.monotonic()
        try:
            while time.monotonic() - started < self.max_seconds:
                if not self._stop.is_set() and self.in_flight + 2 <= self.window:
                    key = "%s%d" % (self.prefix, self.ids)
                    self.ids += 1
                    frames = b""
                    for expected in (0, 1):
                        rid = self.conn.next_id()
                        frames += proto.encode_upsert(rid, key, expected, ("%s rev %d" % (key, expected + 1)).encode())
                        self.sent[rid] = (time.monotonic(), key, expected)
                    self.conn.send(frames)
                    continue
                if self._stop.is_set() and self.in_flight == 0:
                    return
                try:
                    resp = self.conn.read_response(0.05)
                except socket.timeout:
                    continue
                self.answers[resp.request_id] = (time.monotonic(), resp)
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            self.error = e

    def widen(self, extra: int) -> None:
        self.window += extra

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self.conn.close()

    def problems(self) -> List[str]:
        out = []
        for rid, (_, key, expected) in sorted(self.sent.items()):
            if rid not in self.answers:
                out.append("request %d (%s, expected %d): no answer" % (rid, key, expected))
                continue
            resp = self.answers[rid][1]
            want = ("%s rev %d" % (key, expected + 1)).encode()
            if not (isinstance(resp, proto.RecordResponse) and resp.revision == expected + 1 and resp.state == want):
                out.append("request %d (%s, expected %d): %s" % (rid, key, expected, describe(resp)))
        return out


@requires_daemon
class PauseTest(CtlTestCase):
    def test_pause_waits_for_executing_requests_and_resume_loses_nothing(self) -> None:
        prefix = run_prefix("pause") + "w-"
        writer = PipelinedWriter(self.daemon.socket_path, prefix).start()
        self.addCleanup(writer.stop, 5)
        time.sleep(0.5)
        answered_before = len(writer.answers)
        self.assertGreater(answered_before, 10, "the writer got going (%r)" % writer.error)

        t0 = time.monotonic()
        self.ctl("pause", "--timeout", "30")
        paused_at = time.monotonic()
        pause_took = paused_at - t0
        rows_paused = rows_by_prefix(prefix)
        writer.widen(8)  # requests sent while paused
        time.sleep(0.2)
        answered_paused = len(writer.answers)
        time.sleep(1.0)
        rows_later = rows_by_prefix(prefix)
        answered_later = len(writer.answers)
        in_flight_paused = writer.in_flight
        self.assertIsNone(writer.error)
        self.assertEqual(rows_later, rows_paused, "rows (count, sum of revisions) changed while paused")
        self.assertEqual(answered_later, answered_paused, "answers arrived while paused")
        health = self.health(self.open("pause-watch"))
        self.assertTrue(health.paused and not health.ready, health)

        resumed_at = time.monotonic()
        self.ctl("resume")
        time.sleep(0.3)
        writer.stop(20)
        self.assertIsNone(writer.error, repr(writer.error))
        self.assertEqual(writer.problems(), [])
        sent_paused = [rid for rid, (t, _, _) in writer.sent.items() if t > paused_at and t < resumed_at]
        self.assertGreaterEqual(len(sent_paused), 8, "requests were sent while paused")
        early = [rid for rid in sent_paused if writer.answers[rid][0] < resumed_at]
        self.assertEqual(early, [], "requests sent while paused were answered before RESUME")
        waited = [writer.answers[rid][0] - writer.sent[rid][0] for rid in sent_paused]
        # Every id stored exactly once, at revision 2 (create then update).
        stored = psql("SELECT count(*) || ' ' || count(DISTINCT persistence_id) || ' ' || min(revision) || ' ' || "
                      "max(revision) FROM durable_state WHERE namespace = '' AND persistence_id LIKE '%s%%'" % prefix)
        self.assertEqual(stored, "%d %d 2 2" % (writer.ids, writer.ids), "rows, distinct ids, min and max revision")
        say("pause during writes: pause returned after %.0f ms with %d requests unanswered; rows %s constant "
            "for 1.2 s; %d sent while paused, answered %.2f-%.2f s later after RESUME; %d ids, %d requests, all stored"
            % (pause_took * 1000, in_flight_paused, rows_paused, len(sent_paused), min(waited), max(waited),
               writer.ids, len(writer.sent)))

    def test_a_request_waiting_past_the_pause_timeout_is_unavailable_and_not_executed(self) -> None:
        key = run_prefix("pause-timeout") + "waits"
        self.ctl("pause", "--timeout", "1")
        conn = self.open("pause-timeout")
        rid = conn.next_id()
        started = time.monotonic()
        conn.send(proto.encode_upsert(rid, key, 0, b"never"))
        resp = conn.read_response(10.0)
        waited = time.monotonic() - started
        self.assertIsInstance(resp, proto.ErrorResponse, describe(resp))
        self.assertEqual((resp.request_id, resp.status), (rid, 200), describe(resp))
        self.assertTrue(0.8 <= waited <= 5.0, "answered UNAVAILABLE after %.2f s" % waited)
        self.assertEqual(psql("SELECT count(*) FROM durable_state WHERE persistence_id = '%s'" % key), "0")
        self.assertTrue(self.health(conn).paused, "still paused after a request timed out")
        self.ctl("ping", expect=EXIT_NOT)
        self.ctl("resume")
        rid = conn.next_id()
        created = conn.roundtrip(proto.encode_upsert(rid, key, 0, b"now"))
        self.assertIsInstance(created, proto.RecordResponse, describe(created))
        self.assertEqual(created.revision, 1, "the timed-out create was not executed")
        say("pause --timeout 1: a create waited %.2f s and got %s; after RESUME it creates revision 1"
            % (waited, describe(resp)))


# --- 5. ping while the database is cut off -------------------------------------------------------------------


@requires_daemon
class DatabaseDownTest(CtlTestCase):
    def setUp(self) -> None:
        self.proxy = DatabaseProxy().start()
        self.addCleanup(self.proxy.stop)
        self.metrics_address = "127.0.0.1:%d" % free_tcp_port()
        self.daemon = Daemon(["--metrics-listen", self.metrics_address], database_url=self.proxy.url)
        try:
            self.daemon.start()
        except BaseException:
            self.daemon.stop()
            import sys
            sys.stderr.write("\n" + self.daemon.log_tail() + "\n")
            raise
        self.addCleanup(self._stop_daemon)

    def wait_exit(self, code: int, within: float) -> Tuple[float, subprocess.CompletedProcess]:
        started = time.monotonic()
        while True:
            out = self.ctl("ping", expect=None)
            if out.returncode == code or time.monotonic() - started > within:
                self.assertEqual(out.returncode, code, "pgstatectl ping after %.1f s\n%s"
                                 % (time.monotonic() - started, text(out)))
                return time.monotonic() - started, out
            time.sleep(0.2)

    def metrics(self) -> harness.Exposition:
        status, _, body = http_get(self.metrics_address, "/metrics")
        self.assertEqual(status, 200)
        return harness.parse_exposition(body.decode())

    def test_ping_follows_the_database(self) -> None:
        self.ctl("ping")
        self.assertEqual(http_get(self.metrics_address, "/health/ready")[0], 200)
        reconnects = self.metrics().get("pgstate_database_reconnects_total")
        self.proxy.cut()
        down_after, out = self.wait_exit(EXIT_NOT, 10.0)
        self.assertRegex(text(out).lower(), r"pool|database", "ping says why")
        status, _, body = http_get(self.metrics_address, "/health/ready")
        self.assertEqual(status, 503, body)
        self.assertEqual(http_get(self.metrics_address, "/health/live")[0], 200)
        with RawConn(self.daemon.socket_path) as c:
            c.hello()
            h = self.health(c)
            self.assertFalse(h.pool_up or h.ready, h)
        e = self.metrics()
        self.assertEqual(e.get("pgstate_ready"), 0)
        pool = {labels["state"]: v for labels, v in e.series("pgstate_pool_connections")}
        self.assertEqual(pool.get("down", 0) + pool.get("connecting", 0), 2, pool)
        self.proxy.restore()
        up_after, _ = self.wait_exit(EXIT_OK, 20.0)
        self.assertEqual(http_get(self.metrics_address, "/health/ready")[0], 200)
        self.assertEqual(self.metrics().get("pgstate_database_reconnects_total") - reconnects, 2,
                         "both pool connections re-established once")
        with pgstate.Client(self.daemon.socket_path, timeout=10) as c:
            self.assertIsNone(c.load(run_prefix("db-down") + "nothing"))
        say("database cut: ping exit 1 after %.1f s (%s); restored: exit 0 after %.1f s"
            % (down_after, " ".join(text(out).split("\n", 1)[1].split())[:120], up_after))


@requires_daemon
class NoAnswerTest(unittest.TestCase):
    def test_ping_exits_2_when_nobody_answers(self) -> None:
        folder = tempfile.mkdtemp(prefix="pgsd-noanswer-", dir="/tmp")
        self.addCleanup(shutil.rmtree, folder, True)
        dead = os.path.join(folder, "dead.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(dead)
        s.close()  # the file stays; nobody listens
        for path in (dead, os.path.join(folder, "absent.sock")):
            out = run_ctl(path, "ping")
            self.assertEqual(out.returncode, EXIT_NO_ANSWER, "%s\n%s" % (path, text(out)))
            self.assertTrue(out.stderr.strip(), "says why on stderr")
        # A listener that accepts and never answers: the connection timeout.
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.bind(os.path.join(folder, "silent.sock"))
        silent.listen(4)
        self.addCleanup(silent.close)
        started = time.monotonic()
        out = run_ctl(os.path.join(folder, "silent.sock"), "ping", "--deadline", "1")
        took = time.monotonic() - started
        self.assertEqual(out.returncode, EXIT_NO_ANSWER, text(out))
        self.assertLess(took, 5.0)
        say("ping: no listener -> 2, absent -> 2, silent listener with --deadline 1 -> 2 after %.2f s" % took)


# --- 6. ADMIN -------------------------------------------------------------------------------------------------


def c_operator_frames(path: str) -> List[str]:
    """As a user without ADMIN: STATS, CLIENTS, PAUSE and RESUME each get 106 with their id; PING works after."""
    seen = []
    with RawConn(path, 10.0) as c:
        c.hello(client_name="not-admin")
        for frame_of_id in (proto.encode_stats, lambda r: proto.encode_clients(r, 0), lambda r: proto.encode_pause(r, 0),
                            proto.encode_resume):
            rid = c.next_id()
            resp = c.roundtrip(frame_of_id(rid))
            ok = isinstance(resp, proto.ErrorResponse) and resp.request_id == rid
            seen.append("%d:own-id" % resp.status if ok else describe(resp))
        rid = c.next_id()
        seen.append("ping:" + ("ok" if c.roundtrip(proto.encode_ping(rid)) == proto.Ok(rid) else "bad"))
        rid = c.next_id()
        h = health_of(c.roundtrip(proto.encode_health(rid)))
        seen.append("health:%s" % ("ready" if h.ready else h.not_ready_reasons))
    return seen


@requires_daemon
@requires_users
class NonAdminTest(CtlTestCase):
    USER = "pgst-other"

    def setUp(self) -> None:
        self.daemon = Daemon(["--socket-mode", "0666"], dir_mode=0o755)
        self.daemon.start()
        self.addCleanup(self._stop_daemon)

    def test_operators_requests_need_admin(self) -> None:
        for command in (("stats",), ("clients",), ("pause",), ("pause", "--timeout", "1"), ("resume",)):
            out = self.ctl(*command, user=self.USER, expect=EXIT_PERMISSION)
            self.assertIn("PERMISSION_DENIED", out.stderr.decode(), text(out))
            self.assertIn("106", out.stderr.decode(), text(out))
        with RawConn(self.daemon.socket_path) as c:
            c.hello()
            h = self.health(c)
            self.assertTrue(h.ready and not h.paused, "not paused by the refused PAUSE: %s" % h)
        seen = as_user(self.USER, c_operator_frames, self.daemon.socket_path)
        self.assertEqual(seen, ["106:own-id"] * 4 + ["ping:ok", "health:ready"])
        # The refusals are counted: 5 by pgstatectl, 4 raw.
        with RawConn(self.daemon.socket_path) as c:
            c.hello()
            rid = c.next_id()
            stats = c.roundtrip(proto.encode_stats(rid))
        denied = {e.labels: e.value for e in stats.entries
                  if e.name == "pgstate_requests_total" and 'outcome="permission_denied"' in e.labels}
        self.assertEqual(sum(denied.values()), 5 + 4, denied)
        self.ctl("ping", user=self.USER)  # HEALTH needs nothing
        self.ctl("status", user=self.USER)  # without ADMIN: no STATS part, still exit 0
        say("non-admin %s (uid %d): stats/clients/pause/resume -> 3 PERMISSION_DENIED; frames -> %s; counted %s"
            % (self.USER, uid_of(self.USER), seen, denied))


if __name__ == "__main__":
    unittest.main()
