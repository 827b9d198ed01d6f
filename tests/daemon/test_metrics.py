"""/metrics, /health/live and /health/ready (``--metrics-listen``): the figures are exact, the exposition is
valid (promtool), and readiness follows PAUSE.

A workload of known counts runs between two scrapes; every ``pgstate_requests_total`` series must move by
exactly what was sent, the duration histograms by the store requests of their operation, and nothing else may
move. See README.md in this folder.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import time
import unittest
from typing import Dict, List, Optional, Tuple

from harness import (DaemonTestCase, Exposition, RawConn, describe, fd_count, free_tcp_port, health_of, http_get,
                     parse_exposition, proto, requires_daemon, run_prefix, say, shutdown_errors)

import pgstate

# Bucket bounds of the design: durations 2^k microseconds (16 us .. 8.388608 s), batch sizes 1 .. 1024.
DURATION_BOUNDS = [2 ** k / 1e6 for k in range(4, 24)]
BATCH_BOUNDS = [float(2 ** k) for k in range(0, 11)]
PROCESS_METRICS = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                   "process_open_fds", "process_max_fds", "process_start_time_seconds", "process_threads")


def upsert_frame_unchecked(request_id: int, persistence_id: bytes, expected: int, state: bytes) -> bytes:
    """An UPSERT the codec would refuse to build (e.g. expected revision 2^63-1): bytes by hand."""
    payload = bytes([len(persistence_id)]) + persistence_id + struct.pack(">QI", expected, len(state)) + state
    return struct.pack(">IBBI", 6 + len(payload), 0x04, 0, request_id) + payload


def load_frame_unchecked(request_id: int, persistence_id: bytes) -> bytes:
    payload = bytes([len(persistence_id)]) + persistence_id
    return struct.pack(">IBBI", 6 + len(payload), 0x03, 0, request_id) + payload


def promtool_check(text: str) -> Optional[subprocess.CompletedProcess]:
    """``promtool check metrics`` on ``text``; None when promtool is missing and cannot be required (not root:
    make test installs it, as root, through scripts/lib.sh)."""
    tool = shutil.which("promtool")
    if tool is None:
        if os.geteuid() == 0:
            raise AssertionError("promtool is missing (scripts/lib.sh installs the Debian package prometheus)")
        return None
    return subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)


class MetricsTestCase(DaemonTestCase):
    """A daemon with ``--metrics-listen`` on a free port of 127.0.0.1 (or ``metrics_unix``: a socket)."""

    metrics_unix = False

    def setUp(self) -> None:
        if self.metrics_unix:
            folder = tempfile.mkdtemp(prefix="pgsd-metrics-", dir="/tmp")
            self.addCleanup(shutil.rmtree, folder, True)
            self.metrics_address = "unix:" + os.path.join(folder, "metrics.sock")
        else:
            self.metrics_address = "127.0.0.1:%d" % free_tcp_port()
        self.daemon_args = ("--metrics-listen", self.metrics_address)
        super().setUp()

    def _stop_daemon(self) -> None:
        self.daemon.stop()
        errors = shutdown_errors(self.daemon.log_text())  # read before the folder goes
        super()._stop_daemon()
        self.assertEqual(errors, [], "errors logged while stopping with --metrics-listen")

    def open(self, client_name: str) -> RawConn:
        c = RawConn(self.daemon.socket_path, 10.0)
        self.addCleanup(c.close)
        c.hello(client_name=client_name)
        return c

    def get(self, path: str) -> Tuple[int, Dict[str, str], bytes]:
        """GET, retried while the listener is not up yet (up to 5 s)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                return http_get(self.metrics_address, path)
            except OSError:  # refused, or the socket file not there yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def status_body(self, path: str) -> Tuple[int, bytes]:
        status, _, body = self.get(path)
        return status, body.strip()

    def scrape(self) -> Exposition:
        status, headers, body = self.get("/metrics")
        self.assertEqual(status, 200, body[:300])
        ctype = headers.get("content-type", "")
        self.assertTrue(ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype)
        return parse_exposition(body.decode("utf-8"))

    def scrape_with_clients(self, clients: int, within: float = 3.0) -> Exposition:
        """The first scrape whose pgstate_clients is ``clients`` (a connection closed just before may take a
        moment to be counted out); fails after ``within`` s with the last value."""
        deadline = time.monotonic() + within
        while True:
            e = self.scrape()
            if e.get("pgstate_clients") == clients or time.monotonic() > deadline:
                self.assertEqual(e.get("pgstate_clients"), clients,
                                 "pgstate_clients vs the connections the test holds open")
                return e
            time.sleep(0.05)

    def health(self, conn: RawConn) -> pgstate.Health:
        rid = conn.next_id()
        resp = conn.roundtrip(proto.encode_health(rid))
        self.assertEqual(getattr(resp, "request_id", None), rid, describe(resp))
        return health_of(resp)

    def expect_ok(self, conn: RawConn, frame_of_id, what: str, timeout: float = 10.0) -> None:
        rid = conn.next_id()
        resp = conn.roundtrip(frame_of_id(rid), timeout)
        self.assertEqual(resp, proto.Ok(rid), "%s: %s" % (what, describe(resp)))


def _requests(e: Exposition) -> Dict[Tuple[str, str, str], float]:
    out = {}
    for labels, value in e.series("pgstate_requests_total"):
        if set(labels) != {"namespace", "op", "outcome"}:
            raise AssertionError("pgstate_requests_total with labels %s (expected namespace, op, outcome)" % labels)
        out[(labels["namespace"], labels["op"], labels["outcome"])] = value
    return out


def _deltas(before: Dict, after: Dict) -> Dict:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(before) | set(after)
            if after.get(k, 0.0) != before.get(k, 0.0)}


def _labels_of(text: str) -> Dict[str, str]:
    """A STATS entry's label set (exposition syntax without braces) as a dict, through the same parser."""
    e = parse_exposition("x{%s} 0\n" % text if text else "x 0\n")
    ((_, labels),) = e.samples.keys()
    return dict(labels)


@requires_daemon
class MetricsExactnessTest(MetricsTestCase):
    N_FOUND, M_MISSING, K_CREATES, C_CONFLICTS, P_PINGS, L_NAMESPACED = 12, 7, 9, 4, 5, 3

    def test_every_series_moves_by_exactly_the_workload(self) -> None:
        pfx = run_prefix("metrics")
        ns = "metrics-%d" % os.getpid()
        main = self.open("metrics-main")
        held = self.open("metrics-held")
        self.assertEqual(main.hello_ok.capabilities & 0x7, 0x7,
                         "HELLO_OK capabilities 0x%x: CONDITIONAL_DELETE | IDENTITY | OPERATOR expected"
                         % main.hello_ok.capabilities)
        found = [pfx + "found-%d" % i for i in range(self.N_FOUND)]
        setup = [(k, None) for k in found + [pfx + "del-ok", pfx + "del-c"]]
        setup += [(pfx + "ns-%d" % i, ns) for i in range(self.L_NAMESPACED)]
        for key, namespace in setup:  # one at a time, before the first scrape
            rid = main.next_id()
            resp = main.roundtrip(proto.encode_upsert(rid, key, 0, b"v1", namespace=namespace))
            self.assertIsInstance(resp, proto.RecordResponse, describe(resp))

        before = self.scrape_with_clients(2)
        store = {"load": 0, "upsert": 0, "delete": 0}
        expected: Dict[Tuple[str, str, str], int] = {}
        wants: Dict[int, type] = {}  # request id -> the response type it must get
        frames: List[bytes] = []

        def add(key: Tuple[str, str, str], frame_of_id, want: type, op_store: Optional[str] = None) -> None:
            rid = main.next_id()
            frames.append(frame_of_id(rid))
            wants[rid] = want
            expected[key] = expected.get(key, 0) + 1
            if op_store:
                store[op_store] += 1

        for k in found:
            add(("", "load", "ok"), lambda r, k=k: proto.encode_load(r, k), proto.RecordResponse, "load")
        for i in range(self.M_MISSING):
            add(("", "load", "not_found"), lambda r, i=i: proto.encode_load(r, pfx + "missing-%d" % i),
                proto.NotFound, "load")
        for i in range(self.K_CREATES):
            add(("", "upsert", "ok"), lambda r, i=i: proto.encode_upsert(r, pfx + "new-%d" % i, 0, b"x" * i),
                proto.RecordResponse, "upsert")
        for k in found[:self.C_CONFLICTS]:
            add(("", "upsert", "conflict"), lambda r, k=k: proto.encode_upsert(r, k, 0, b"stale"), proto.Conflict,
                "upsert")
        add(("", "upsert", "invalid_argument"),
            lambda r: upsert_frame_unchecked(r, (pfx + "huge-rev").encode(), 2 ** 63 - 1, b"x"), proto.ErrorResponse)
        add(("", "load", "invalid_argument"), lambda r: load_frame_unchecked(r, (pfx + "ctl\x01").encode()),
            proto.ErrorResponse)
        for _ in range(self.P_PINGS):
            add(("", "ping", "ok"), proto.encode_ping, proto.Ok)
        for i in range(self.L_NAMESPACED):
            add((ns, "load", "ok"), lambda r, i=i: proto.encode_load(r, pfx + "ns-%d" % i, namespace=ns),
                proto.RecordResponse, "load")
        add((ns, "load", "not_found"), lambda r: proto.encode_load(r, pfx + "ns-missing", namespace=ns),
            proto.NotFound, "load")
        add((ns, "upsert", "ok"), lambda r: proto.encode_upsert(r, pfx + "ns-new", 0, b"n", namespace=ns),
            proto.RecordResponse, "upsert")
        add(("", "delete", "ok"), lambda r: proto.encode_delete(r, pfx + "del-ok"), proto.Ok, "delete")
        add(("", "delete", "conflict"), lambda r: proto.encode_delete(r, pfx + "del-c", 7), proto.Conflict, "delete")
        add(("", "whoami", "ok"), proto.encode_whoami, proto.WhoAmIOk)
        add(("", "health", "ok"), proto.encode_health, proto.HealthOk)
        add(("", "unknown", "unknown_message_type"), lambda r: struct.pack(">IBBI", 6, 0x70, 0, r),
            proto.ErrorResponse)
        main.send(b"".join(frames))
        answers = {}
        for _ in frames:
            resp = main.read_response(10.0)
            answers[resp.request_id] = resp
        for rid, want in wants.items():
            self.assertIsInstance(answers.get(rid), want, "request %d: %s" % (rid, describe(answers.get(rid))))
        statuses = sorted(a.status for a in answers.values() if isinstance(a, proto.ErrorResponse))
        self.assertEqual(statuses, [101, 102, 102], "the unknown type and the two invalid arguments")
        third = self.open("metrics-third")  # one more HELLO, and one more connection held
        expected[("", "hello", "ok")] = 1

        after = self.scrape_with_clients(3)
        moved = _deltas(_requests(before), _requests(after))
        self.assertEqual(moved, {k: float(v) for k, v in expected.items()},
                         "pgstate_requests_total deltas (namespace, op, outcome) vs the workload")

        # Durations: one observation per store request, cumulative buckets, +Inf == _count.
        for op in ("load", "upsert", "delete"):
            name = "pgstate_request_duration_seconds"
            moved_count = after.get(name + "_count", op=op) - before.value(name + "_count", op=op)
            self.assertEqual(moved_count, store[op], "%s_count{op=%s}" % (name, op))
            self.assertGreater(after.get(name + "_sum", op=op), before.value(name + "_sum", op=op) - 1e-9)
            self.check_histogram(after, name, {"op": op}, DURATION_BOUNDS)
        sent = sum(store.values())
        self.check_histogram(after, "pgstate_queue_wait_seconds", {}, DURATION_BOUNDS)
        self.assertEqual(after.get("pgstate_queue_wait_seconds_count") - before.get("pgstate_queue_wait_seconds_count"),
                         sent, "queue wait observations vs store requests sent to PostgreSQL")
        self.check_histogram(after, "pgstate_batch_requests", {}, BATCH_BOUNDS)
        batches = after.get("pgstate_batch_requests_count") - before.get("pgstate_batch_requests_count")
        batched = after.get("pgstate_batch_requests_sum") - before.get("pgstate_batch_requests_sum")
        self.assertGreaterEqual(batched, sent, "requests in batches vs store requests sent")
        self.assertTrue(1 <= batches <= batched, "%d batches of %d requests" % (batches, batched))
        commits = after.get("pgstate_commits_total") - before.get("pgstate_commits_total")
        self.assertTrue(1 <= commits <= batches, "%d commits for %d batches" % (commits, batches))

        # Gauges and the rest.
        for name, value in (("pgstate_up", 1), ("pgstate_ready", 1), ("pgstate_paused", 0),
                            ("pgstate_requests_in_flight", 0), ("pgstate_requests_queued", 0),
                            ("pgstate_pool_size", 2)):
            self.assertEqual(after.get(name), value, name)
        pool = {labels["state"]: v for labels, v in after.series("pgstate_pool_connections")}
        self.assertEqual(sum(pool.values()), 2, pool)
        self.assertEqual(pool.get("down", 0) + pool.get("connecting", 0), 0, pool)
        version = main.hello_ok.server_version.split()[-1]
        self.assertEqual(after.series("pgstate_build_info"), [({"version": version}, 1.0)])
        self.assertGreaterEqual(after.get("pgstate_uptime_seconds"), before.get("pgstate_uptime_seconds"))
        missing = [m for m in PROCESS_METRICS if m not in after.names()]
        self.assertEqual(missing, [], "process_* metrics missing")
        fds = fd_count(self.daemon.pid)
        self.assertLessEqual(abs(after.get("process_open_fds") - fds), 8, "process_open_fds vs /proc (%d)" % fds)
        self.assertGreaterEqual(after.get("process_max_fds"), after.get("process_open_fds"))
        self.assertGreater(after.get("process_resident_memory_bytes"), 1 << 20)
        self.assertGreaterEqual(after.get("process_threads"), 2)
        started = after.get("process_start_time_seconds")
        self.assertLess(abs(started - (time.time() - after.get("pgstate_uptime_seconds"))), 30,
                        "process_start_time_seconds vs now - uptime")
        for name, kind in (("pgstate_requests_total", "counter"), ("pgstate_request_duration_seconds", "histogram"),
                           ("pgstate_batch_requests", "histogram"), ("pgstate_clients", "gauge"),
                           ("pgstate_up", "gauge")):
            self.assertEqual(after.types.get(name), kind, "# TYPE %s" % name)

        # STATS is a snapshot of the same figures (store series do not move between the two).
        rid = main.next_id()
        stats = main.roundtrip(proto.encode_stats(rid))
        self.assertIsInstance(stats, proto.StatsOk, describe(stats))
        keys = [(e.name, e.labels) for e in stats.entries]
        self.assertEqual(keys, sorted(keys), "STATS entries sorted by (name, labels)")
        by_key = {(e.name, tuple(sorted(_labels_of(e.labels).items()))): e.value for e in stats.entries}
        for (name, labels), value in after.samples.items():
            if name == "pgstate_requests_total" and dict(labels)["op"] in ("load", "upsert", "delete"):
                self.assertEqual(by_key.get((name, labels)), value, "STATS %s%s vs /metrics" % (name, dict(labels)))
        self.assertEqual(by_key.get(("pgstate_request_duration_seconds_count", (("op", "load"),))),
                         after.get("pgstate_request_duration_seconds_count", op="load"))
        quantiles = [dict(lab)["quantile"] for (n, lab) in by_key if n == "pgstate_request_duration_seconds"
                     and dict(lab).get("op") == "load"]
        self.assertEqual(sorted(quantiles), ["0.5", "0.99"], "STATS quantile entries of the load durations")

        checked = promtool_check(after.text)
        if checked is None:
            say("promtool not installed and not root: the exposition was not checked by promtool")
        else:
            self.assertEqual(checked.returncode, 0, "promtool check metrics:\n%s%s"
                             % (checked.stdout.decode(), checked.stderr.decode()))
        third.close()
        say("metrics: %d series of pgstate_requests_total moved exactly (%d requests); %d batches of %d store "
            "requests, %d commits; load p50 bucket %s; %d samples, promtool %s"
            % (len(moved), sum(expected.values()), batches, batched, commits,
               by_key.get(("pgstate_request_duration_seconds", (("op", "load"), ("quantile", "0.5")))),
               len(after.samples), "ok" if checked is not None else "skipped"))

    def test_namespaces_beyond_64_share_one_label(self) -> None:
        conn = self.open("metrics-namespaces")
        before = _requests(self.scrape())
        count = 70
        frames = b"".join(proto.encode_load(rid, "absent", namespace="m%d-%d" % (os.getpid(), rid))
                          for rid in range(2, 2 + count))
        conn.send(frames)
        answers = conn.read_responses(count, 10.0)
        self.assertEqual({type(a) for a in answers}, {proto.NotFound})
        after = _requests(self.scrape())
        moved = _deltas(before, after)
        self.assertEqual(sum(moved.values()), count, moved)
        self.assertEqual({(op, outcome) for _, op, outcome in moved}, {("load", "not_found")})
        named = {ns for ns, _, _ in after if ns != "(other)"}  # the shared one "" included
        self.assertEqual(len(named), 64, "namespaces with a label value of their own (at most 64, and 71 were used)")
        other = after.get(("(other)", "load", "not_found"), 0)
        self.assertGreater(other, 0, "the namespaces beyond 64 are counted under (other)")
        self.assertTrue(all(v == 1 for k, v in moved.items() if k[0] != "(other)"), moved)
        say("namespaces: %d LOADs in %d namespaces -> %d label values of their own, %d under (other)"
            % (count, count, len([k for k in moved if k[0] != "(other)"]), other))

    def check_histogram(self, e: Exposition, name: str, labels: Dict[str, str], bounds: List[float]) -> None:
        buckets = []
        for lab, value in e.series(name + "_bucket"):
            rest = {k: v for k, v in lab.items() if k != "le"}
            if rest == labels:
                buckets.append((float(lab["le"]), value))
        buckets.sort()
        self.assertTrue(buckets, "no buckets of %s%s" % (name, labels))
        self.assertEqual(buckets[-1][0], float("inf"), "%s%s: the last bucket is +Inf" % (name, labels))
        finite = [b for b, _ in buckets[:-1]]
        self.assertEqual(len(finite), len(bounds), "%s%s bucket bounds %s" % (name, labels, finite))
        for got, want in zip(finite, bounds):
            self.assertAlmostEqual(got, want, delta=want * 1e-9, msg="%s%s le %s vs %s" % (name, labels, got, want))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "%s%s buckets are cumulative" % (name, labels))
        self.assertEqual(counts[-1], e.get(name + "_count", **labels), "%s%s: +Inf bucket == _count" % (name, labels))


@requires_daemon
class HealthEndpointsTest(MetricsTestCase):
    def test_ready_follows_pause_and_live_stays(self) -> None:
        self.assertEqual(self.status_body("/health/live"), (200, b"live"))
        self.assertEqual(self.status_body("/health/ready"), (200, b"ready"))
        admin = self.open("health-admin")
        other = self.open("health-other")
        self.assertTrue(self.health(other).ready)

        self.expect_ok(admin, lambda r: proto.encode_pause(r, 0), "PAUSE")
        status, body = self.status_body("/health/ready")
        self.assertEqual(status, 503, body)
        self.assertTrue(body.startswith(b"not ready") and b"paused" in body, body)
        self.assertEqual(self.status_body("/health/live"), (200, b"live"))
        e = self.scrape()
        self.assertEqual((e.get("pgstate_paused"), e.get("pgstate_ready"), e.get("pgstate_up")), (1, 0, 1))
        h = self.health(other)
        self.assertTrue(h.paused and h.pool_up and not h.ready, h)
        # Still answered while paused: PING, and a HELLO on a new connection.
        rid = other.next_id()
        self.assertEqual(other.roundtrip(proto.encode_ping(rid)), proto.Ok(rid))
        late = self.open("health-late")
        # Closing the connection that paused does not resume.
        admin.close()
        time.sleep(0.3)
        self.assertTrue(self.health(late).paused, "still paused after the pausing connection closed")
        self.assertEqual(self.get("/health/ready")[0], 503)

        self.expect_ok(other, proto.encode_resume, "RESUME")
        paused_body = body
        self.assertEqual(self.status_body("/health/ready"), (200, b"ready"))
        e = self.scrape()
        self.assertEqual((e.get("pgstate_paused"), e.get("pgstate_ready")), (0, 1))
        self.assertTrue(self.health(other).ready)
        say("health: ready 200 -> paused: ready 503 (%r), live 200, pgstate_paused 1 -> resumed: ready 200"
            % paused_body)


@requires_daemon
class MetricsOverUnixSocketTest(MetricsTestCase):
    metrics_unix = True

    def test_metrics_and_health_over_a_unix_socket(self) -> None:
        conn = self.open("metrics-unix")
        before = self.scrape_with_clients(1)
        for _ in range(3):
            rid = conn.next_id()
            self.assertEqual(conn.roundtrip(proto.encode_ping(rid)), proto.Ok(rid))
        after = self.scrape()
        self.assertEqual(_deltas(_requests(before), _requests(after)), {("", "ping", "ok"): 3.0})
        self.assertEqual(after.get("pgstate_up"), 1)
        self.assertEqual(self.status_body("/health/live"), (200, b"live"))
        self.assertEqual(self.status_body("/health/ready"), (200, b"ready"))
        checked = promtool_check(after.text)
        if checked is not None:
            self.assertEqual(checked.returncode, 0, checked.stdout.decode() + checked.stderr.decode())
        say("metrics over %s: %d samples, 3 PINGs counted" % (self.metrics_address, len(after.samples)))


if __name__ == "__main__":
    unittest.main()
