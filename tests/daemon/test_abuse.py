"""Socket-level abuse tests of pgstated: clients that misbehave at the transport level.

Each test starts its own pgstated (see harness.Daemon), abuses it through raw Unix sockets,
checks measured figures against bounds, prints them on one line, and SIGTERMs the daemon
(exit status 0 expected). See README.md in this folder.

    PGSTATED_BIN=/path/to/pgstated PGSTATE_TEST_DATABASE_URL='host=... dbname=pgstate' \\
        python3 -m unittest discover -s tests/daemon -v
"""

from __future__ import annotations

import fcntl
import os
import re
import resource
import socket
import struct
import termios
import time
import unittest
from typing import List

from harness import (
    ConnectionEnded, DaemonTestCase, Greedy, RawConn, Sampler, Steady, cpu_seconds, describe,
    expect_record, fd_count, proto, requires_daemon, rss_kib, run_prefix, say, sched_demand_seconds, thread_cpu,
)

KIB = 1024
MIB = 1024 * 1024
BIG_STATE = 64 * KIB


def _outq(sock: socket.socket) -> int:
    """Bytes written to ``sock`` that the peer has not read yet (SIOCOUTQ; truesize-based)."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def _create(conn: RawConn, persistence_id: str, state: bytes) -> None:
    rid = conn.next_id()
    resp = conn.roundtrip(proto.encode_upsert(rid, persistence_id, 0, state), 10.0)
    expect_record(resp, rid, state, 1)


def _load_frames(first_id: int, count: int, persistence_id: str) -> bytes:
    return b"".join(proto.encode_load(first_id + i, persistence_id) for i in range(count))


@requires_daemon
class NeverReadsTest(DaemonTestCase):
    """1. A client that pipelines and never reads cannot grow the daemon without bound, nor
    slow down other clients; its memory is given back when it goes."""

    REQUESTS = 20000
    RSS_PEAK_BOUND = 96 * MIB      # over the RSS before the flood
    RSS_AFTER_BOUND = 32 * MIB     # over the RSS before, once the greedy client has gone
    LATENCY_BOUND = 0.5            # s, for every round trip of the well-behaved client
    SAFETY_CAP = 1024 * MIB        # stop the flood early rather than exhaust the machine
    FLOOD_SECONDS = 8.0

    def test_client_that_pipelines_and_never_reads_is_bounded(self) -> None:
        pid = self.daemon.pid
        pfx = run_prefix("never-reads")
        big_id, big = pfx + "big", os.urandom(BIG_STATE)
        setup = self.connect()
        _create(setup, big_id, big)
        for _ in range(5):  # warm the daemon's buffers up with answers of this size
            rid = setup.next_id()
            expect_record(setup.roundtrip(proto.encode_load(rid, big_id)), rid, big, 1)
        setup.close()

        steady = Steady(self.daemon.socket_path, pfx + "steady", timeout=5.0, max_seconds=45.0)
        greedy = self.connect()
        frames = _load_frames(2, self.REQUESTS, big_id)
        frame_len = len(frames) // self.REQUESTS
        time.sleep(0.3)
        rss_before = rss_kib(pid) * KIB

        sampler = Sampler(lambda: rss_kib(pid) * KIB, 0.05).start()
        steady.start()
        # The writer keeps pushing for FLOOD_SECONDS (whenever the daemon reads, it gets more).
        writer = Greedy(greedy.sock, frames, stall_limit=self.FLOOD_SECONDS,
                        max_seconds=self.FLOOD_SECONDS).start()
        started = time.monotonic()
        capped = False
        while time.monotonic() - started < self.FLOOD_SECONDS + 0.5 and not writer.done:
            if sampler.last > rss_before + self.SAFETY_CAP:
                capped = True
                break
            time.sleep(0.05)
        # If everything was written early, give the daemon 2 s more with it.
        hold_until = time.monotonic() + (2.0 if not capped and time.monotonic() - started < self.FLOOD_SECONDS else 0)
        while time.monotonic() < hold_until and not capped:
            capped = sampler.last > rss_before + self.SAFETY_CAP
            time.sleep(0.05)
        written = writer.sent // frame_len
        try:
            queued = _outq(greedy.sock)
        except OSError:
            queued = 0
        read_by_daemon = max(0, (writer.sent - queued)) // frame_len
        writer.stop()
        flood_seconds = time.monotonic() - started
        peak = sampler.max
        alive_during = self.daemon.alive()

        greedy.close()
        closed_at = time.monotonic()
        rss_after = rss_kib(pid) * KIB if self.daemon.alive() else float("nan")
        back_in = float("nan")
        while time.monotonic() - closed_at < 6.0 and self.daemon.alive():
            rss_after = rss_kib(pid) * KIB
            if rss_after <= rss_before + self.RSS_AFTER_BOUND:
                back_in = time.monotonic() - closed_at
                break
            time.sleep(0.1)
        sampler.stop()
        steady.stop()

        say("never-reads: RSS %.0f -> %.0f MiB peak (bound %.0f), after close %.0f MiB (bound %.0f, %s); "
            "greedy wrote %d of %d LOADs (~%d read by the daemon, writer %s, %.1f s%s); "
            "other client %d round trips, max %.0f ms (bound %.0f), problems %d"
            % (rss_before / MIB, peak / MIB, (rss_before + self.RSS_PEAK_BOUND) / MIB, rss_after / MIB,
               (rss_before + self.RSS_AFTER_BOUND) / MIB,
               "in %.1f s" % back_in if back_in == back_in else "not within 6 s",
               written, self.REQUESTS, read_by_daemon,
               "blocked at the end" if writer.sent < len(frames) and not writer.error
               else ("error %r" % writer.error if writer.error else "wrote all"),
               flood_seconds, ", STOPPED AT SAFETY CAP" if capped else "",
               len(steady.latencies), steady.max_latency * 1000, self.LATENCY_BOUND * 1000,
               len(steady.problems)))

        self.assertTrue(alive_during, "pgstated died during the flood")
        self.assertLessEqual(peak, rss_before + self.RSS_PEAK_BOUND,
                             "(a) RSS peaked at %.0f MiB, more than %.0f MiB before + %.0f MiB"
                             % (peak / MIB, rss_before / MIB, self.RSS_PEAK_BOUND / MIB))
        self.assertEqual(steady.problems, [], "(b) the well-behaved client got a wrong or no answer")
        self.assertGreaterEqual(len(steady.latencies), 10, "(b) the well-behaved client made too few round trips")
        self.assertLess(steady.max_latency, self.LATENCY_BOUND,
                        "(b) a round trip of the well-behaved client took %.0f ms" % (steady.max_latency * 1000))
        self.assertLessEqual(rss_after, rss_before + self.RSS_AFTER_BOUND,
                             "(c) RSS still %.0f MiB 6 s after the greedy client closed (before: %.0f MiB)"
                             % (rss_after / MIB, rss_before / MIB))
        # The daemon still serves.
        with RawConn(self.daemon.socket_path) as c:
            c.hello()
            rid = c.next_id()
            expect_record(c.roundtrip(proto.encode_load(rid, big_id)), rid, big, 1)


@requires_daemon
class HalfCloseTest(DaemonTestCase):
    """2. A client that half-closes (shutdown SHUT_WR) after pipelining requests still gets
    every answer, then EOF."""

    REQUESTS = 50

    def test_half_closed_client_gets_all_answers_then_eof(self) -> None:
        pfx = run_prefix("half-close")
        c = self.connect()
        states = {}
        frames = []
        for i in range(self.REQUESTS):
            rid = c.next_id()
            states[rid] = ("half-close state %d" % i).encode() * 8
            frames.append(proto.encode_upsert(rid, "%sid-%d" % (pfx, i), 0, states[rid]))
        t0 = time.monotonic()
        c.send(b"".join(frames))
        c.sock.shutdown(socket.SHUT_WR)

        answers: List[proto.Response] = []
        ending = ""
        deadline = t0 + 15.0
        while len(answers) < self.REQUESTS:
            try:
                answers.append(c.read_response(max(0.01, deadline - time.monotonic())))
            except ConnectionEnded as e:
                ending = str(e)
                break
            except socket.timeout:
                ending = "timeout"
                break
        answered_in = time.monotonic() - t0
        eof_after = float("nan")
        leftovers = b""
        if len(answers) == self.REQUESTS:
            t1 = time.monotonic()
            try:
                leftovers = c.wait_eof(5.0)
                ending = "EOF" if c.eof else "no EOF within 5 s"
            except ConnectionEnded as e:  # reset
                ending = str(e)
            eof_after = time.monotonic() - t1
        wrong = []
        for a in answers:
            try:
                expect_record(a, a.request_id, states.get(a.request_id, b"?"), 1)
            except AssertionError as e:
                wrong.append(describe(a) + ": " + str(e))
        ids = sorted(a.request_id for a in answers)

        # Which writes were applied (informative: a lost answer may hide an applied write).
        with RawConn(self.daemon.socket_path) as check:
            check.hello()
            base = check.next_id()
            for i in range(self.REQUESTS):
                check.send(proto.encode_load(base + i, "%sid-%d" % (pfx, i)))
                check.next_id()
            loads = check.read_responses(self.REQUESTS, 10.0)
        stored = sum(1 for r in loads if isinstance(r, proto.RecordResponse))

        say("half-close: %d/%d answers in %.0f ms after SHUT_WR, then %s (%.0f ms later); %d wrong; "
            "%d/%d writes stored" % (len(answers), self.REQUESTS, answered_in * 1000, ending or "-",
                                     eof_after * 1000, len(wrong), stored, self.REQUESTS))
        self.assertEqual(len(answers), self.REQUESTS,
                         "answers lost after the client's half-close (connection ended by: %s)" % ending)
        self.assertEqual(wrong, [])
        self.assertEqual(ids, sorted(states), "answers carry the wrong request ids")
        self.assertEqual(ending, "EOF", "the server did not close after answering a half-closed client")
        self.assertEqual(leftovers, b"", "extra bytes after the last answer")
        self.assertEqual(stored, self.REQUESTS)


@requires_daemon
class ResetMidFrameTest(DaemonTestCase):
    """3. Clients that reset the connection in the middle of a frame leak nothing and do not
    disturb the daemon."""

    ROUNDS = 200
    WARMUP = 20
    FD_BOUND = 4          # descriptors over the count before
    RSS_BOUND = 16 * MIB  # over the RSS before

    def _abort_mid_frame(self, persistence_id: str) -> None:
        c = RawConn(self.daemon.socket_path, 5.0)
        try:
            c.hello()
            frame = proto.encode_upsert(c.next_id(), persistence_id, 0, b"r" * (8 * KIB))
            c.send(frame[:len(frame) // 2])
        finally:
            c.reset()

    def test_reset_in_the_middle_of_a_frame(self) -> None:
        pid = self.daemon.pid
        pfx = run_prefix("reset")
        normal = self.connect()
        normal_id = pfx + "normal"
        _create(normal, normal_id, b"normal")
        ids = []
        for i in range(self.WARMUP):
            ids.append("%spartial-%d" % (pfx, i))
            self._abort_mid_frame(ids[-1])
        time.sleep(0.5)
        fd_before, rss_before = fd_count(pid), rss_kib(pid) * KIB

        t0 = time.monotonic()
        checks = 0
        for i in range(self.WARMUP, self.WARMUP + self.ROUNDS):
            if time.monotonic() - t0 > 30.0:
                break
            ids.append("%spartial-%d" % (pfx, i))
            self._abort_mid_frame(ids[-1])
            if i % 20 == 0:
                rid = normal.next_id()
                resp = normal.roundtrip(proto.encode_ping(rid), 5.0)
                self.assertIsInstance(resp, proto.Ok, describe(resp))
                self.assertEqual(resp.request_id, rid)
                checks += 1
        rounds = len(ids) - self.WARMUP
        loop_s = time.monotonic() - t0
        self.assert_alive()

        # Descriptors come back as the daemon notices the resets.
        settle_deadline = time.monotonic() + 5.0
        fd_after = fd_count(pid)
        while fd_after > fd_before + self.FD_BOUND and time.monotonic() < settle_deadline:
            time.sleep(0.1)
            fd_after = fd_count(pid)
        rss_after = rss_kib(pid) * KIB

        # A normal client works, on the old connection and on a new one; no partial frame was executed.
        rid = normal.next_id()
        expect_record(normal.roundtrip(proto.encode_upsert(rid, normal_id, 1, b"normal 2")), rid, b"normal 2", 2)
        fresh = self.connect()
        base = fresh.next_id()
        for k, pid_ in enumerate(ids):
            fresh.send(proto.encode_load(base + k, pid_))
            fresh.next_id()
        loads = fresh.read_responses(len(ids), 15.0)
        executed = [r for r in loads if not isinstance(r, proto.NotFound)]

        say("reset-mid-frame: %d resets in %.1f s; fds %d -> %d (bound +%d), RSS %.1f -> %.1f MiB (bound +%.0f); "
            "%d pings during, partial frames executed: %d"
            % (rounds, loop_s, fd_before, fd_after, self.FD_BOUND, rss_before / MIB, rss_after / MIB,
               self.RSS_BOUND / MIB, checks, len(executed)))
        self.assertEqual(rounds, self.ROUNDS, "the resets took more than 30 s")
        self.assertLessEqual(fd_after, fd_before + self.FD_BOUND, "descriptors leaked")
        self.assertLessEqual(rss_after, rss_before + self.RSS_BOUND, "memory grew")
        self.assertEqual(executed, [], "a half-sent UPSERT was executed (or a LOAD failed)")


@requires_daemon
class ConnectionFloodTest(DaemonTestCase):
    """4. A flood of connections beyond the daemon's descriptor limit: no busy loop, one log
    line, existing clients keep being served, and new ones are accepted once it is over."""

    NOFILE = 256
    FLOOD = 400
    CPU_BOUND = 0.3       # CPU seconds per second while the flood sits there
    DEMAND_BOUND = 0.5    # seconds run + waited runnable per second (schedstat), robust to a busy machine
    LOG_BOUND = 10        # lines mentioning the descriptor limit
    RECOVER_BOUND = 5.0   # s until a new client is served after the flood
    daemon_nofile = NOFILE
    # "descriptor" but not a Swift argument label: NIO's errors name syscalls "read(descriptor:pointer:size:)".
    LIMIT_RE = re.compile(r"descriptor(?!:)|emfile|open files", re.IGNORECASE)

    def _limit_lines(self) -> int:
        return sum(1 for line in self.daemon.log_text().splitlines() if self.LIMIT_RE.search(line))

    def test_flood_of_connections_at_a_low_descriptor_limit(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else hard  # this process needs > FLOOD
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        else:
            want = soft
        if want != resource.RLIM_INFINITY and want < self.FLOOD + 64:
            self.skipTest("this process may open only %d descriptors" % want)
        pid = self.daemon.pid
        pfx = run_prefix("flood")
        early = self.connect()  # connected and handshaken before the flood
        early_id = pfx + "early"
        _create(early, early_id, b"early")
        fd_before = fd_count(pid)
        log_lines_before = self._limit_lines()

        flood: List[socket.socket] = []
        refused = 0
        hello = proto.encode_hello(1, client_name="flood")
        t0 = time.monotonic()
        try:
            for _ in range(self.FLOOD):
                if time.monotonic() - t0 > 15.0:
                    break
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(1.0)
                try:
                    s.connect(self.daemon.socket_path)
                    s.setblocking(False)
                    try:
                        s.send(hello)
                    except OSError:
                        pass
                except OSError:
                    refused += 1
                    s.close()
                    continue
                flood.append(s)
            opened_in = time.monotonic() - t0

            time.sleep(0.5)
            cpu0, demand0, threads0, w0 = cpu_seconds(pid), sched_demand_seconds(pid), thread_cpu(pid), time.monotonic()
            time.sleep(1.5)
            rid = early.next_id()
            rt0 = time.monotonic()
            rt_error = ""
            try:
                resp = early.roundtrip(proto.encode_upsert(rid, early_id, 1, b"early 2"), 2.0)
                expect_record(resp, rid, b"early 2", 2)
            except (AssertionError, socket.timeout, ConnectionEnded, OSError) as e:
                rt_error = repr(e)
            rt_ms = (time.monotonic() - rt0) * 1000
            time.sleep(max(0.0, 3.0 - (time.monotonic() - w0)))
            cpu1, demand1, threads1, w1 = cpu_seconds(pid), sched_demand_seconds(pid), thread_cpu(pid), time.monotonic()
            cpu_rate = (cpu1 - cpu0) / (w1 - w0)
            demand = (demand1 - demand0) / (w1 - w0) if demand0 is not None and demand1 is not None else None
            busiest = max(((name, t - threads0[tid][1]) for tid, (name, t) in threads1.items() if tid in threads0),
                          key=lambda nt: nt[1], default=("-", 0.0))
            fd_during = fd_count(pid)
            handshaken = 0
            for s in flood:
                try:
                    if s.recv(1, socket.MSG_PEEK):
                        handshaken += 1
                except OSError:
                    pass
        finally:
            for s in flood:
                s.close()
        closed_at = time.monotonic()

        recovered_in = float("nan")
        attempts = 0
        last_error = ""
        while time.monotonic() - closed_at < 10.0:
            attempts += 1
            try:
                with RawConn(self.daemon.socket_path, 1.0) as c:
                    c.hello(timeout=1.0)
                    rid = c.next_id()
                    resp = c.roundtrip(proto.encode_load(rid, early_id), 1.0)
                    expect_record(resp, rid, b"early 2" if not rt_error else getattr(resp, "state", b"early"))
                recovered_in = time.monotonic() - closed_at
                break
            except (OSError, ConnectionEnded, AssertionError) as e:
                last_error = repr(e)
                time.sleep(0.1)
        time.sleep(0.2)
        log_lines = self._limit_lines() - log_lines_before  # from the flood to the recovery

        say("flood: %d connections opened in %.2f s (%d refused), %d got HELLO_OK; daemon fds %d -> %d "
            "(limit %d); CPU %.2f s/s (bound %.2f; busiest thread %s %.2f s/s), run+runnable %s s/s "
            "(bound %.2f); early client round trip %s in %.0f ms; descriptor-limit log lines %d "
            "(bound 1..%d); new client served %s after the flood closed"
            % (len(flood), opened_in, refused, handshaken, fd_before, fd_during, self.NOFILE, cpu_rate,
               self.CPU_BOUND, busiest[0], busiest[1] / (w1 - w0), "%.2f" % demand if demand is not None else "n/a",
               self.DEMAND_BOUND, "FAILED " + rt_error if rt_error else "ok", rt_ms, log_lines, self.LOG_BOUND,
               "in %.2f s" % recovered_in if recovered_in == recovered_in
               else "NOT within 10 s (%d attempts, last %s)" % (attempts, last_error)))
        self.assertLess(cpu_rate, self.CPU_BOUND, "pgstated spins at the descriptor limit")
        if demand is not None:  # catches a spinning thread that a busy machine keeps off the CPU
            self.assertLess(demand, self.DEMAND_BOUND, "pgstated has a thread always runnable at the descriptor limit")
        self.assertEqual(rt_error, "", "the client connected before the flood was not served during it")
        self.assertGreaterEqual(log_lines, 1, "the log does not say that the descriptor limit was hit")
        self.assertLessEqual(log_lines, self.LOG_BOUND, "the descriptor limit is logged over and over")
        self.assertLess(recovered_in, self.RECOVER_BOUND, "no new client was served soon after the flood")


@requires_daemon
class DescriptorReuseTest(DaemonTestCase):
    """5. Answers to a connection that closed without reading never reach the connection that
    gets its descriptor number next (or any other)."""

    SHORT = 2000
    TIME_LIMIT = 60.0

    def test_descriptor_closed_and_reused_quickly(self) -> None:
        pfx = run_prefix("fd-reuse")
        bait_id, bait_state = pfx + "bait", b"BAIT" * (8 * KIB)   # 32 KiB: not the checker's
        own_id, own_state = pfx + "own", b"checker's own record"
        setup = self.connect()
        _create(setup, bait_id, bait_state)
        _create(setup, own_id, own_state)
        setup.close()
        steady = Steady(self.daemon.socket_path, pfx + "steady", timeout=5.0, max_seconds=self.TIME_LIMIT + 10)
        steady.start()

        path = self.daemon.socket_path
        foreign: List[str] = []
        done = 0
        t0 = time.monotonic()
        try:
            while done < self.SHORT and time.monotonic() - t0 < self.TIME_LIMIT and len(foreign) < 10:
                # The short connection: HELLO, one LOAD (request id 2), close (or reset) without reading.
                bait = RawConn(path, 5.0)
                try:
                    bait.hello()  # AssertionError if something else comes first
                    bait.send(proto.encode_load(bait.next_id(), bait_id))
                except AssertionError as e:
                    foreign.append("short connection %d, its handshake: %s" % (done, e))
                finally:
                    bait.reset() if done % 2 else bait.close()
                # Right after it, a checker on a new connection (likely the descriptor just freed),
                # using the same request ids 1 and 2, then 3.
                chk = RawConn(path, 5.0)
                try:
                    chk.hello()
                    rid = chk.next_id()
                    resp = chk.roundtrip(proto.encode_load(rid, own_id), 5.0)
                    expect_record(resp, rid, own_state, 1)
                    rid = chk.next_id()
                    resp = chk.roundtrip(proto.encode_ping(rid), 5.0)
                    if not isinstance(resp, proto.Ok) or resp.request_id != rid:
                        raise AssertionError("PING %d answered by %s" % (rid, describe(resp)))
                except AssertionError as e:
                    foreign.append("checker after short connection %d: %s" % (done, e))
                finally:
                    chk.close()
                done += 1
        finally:
            steady.stop()
        took = time.monotonic() - t0

        say("fd-reuse: %d short connections + %d checker connections in %.1f s; foreign answers %d; "
            "steady client %d round trips, max %.0f ms, problems %d"
            % (done, done, took, len(foreign), len(steady.latencies), steady.max_latency * 1000,
               len(steady.problems)))
        self.assertEqual(foreign[:3], [], "a connection received an answer that is not its own")
        self.assertEqual(steady.problems, [], "the long-lived client received a wrong answer")
        self.assertEqual(done, self.SHORT, "fewer short connections than planned within %.0f s" % self.TIME_LIMIT)


@requires_daemon
class SlowReaderTest(DaemonTestCase):
    """6. A client that reads large answers very slowly gets all of them, correct and in
    order, while the daemon's memory stays bounded (back-pressure, not buffering)."""

    REQUESTS = 3000
    SLOW_SECONDS = 4.0
    SLOW_CHUNK = 64 * KIB
    SLOW_PERIOD = 0.05
    RSS_PEAK_BOUND = 96 * MIB
    SAFETY_CAP = 1024 * MIB

    def test_slow_reader_with_large_answers(self) -> None:
        pid = self.daemon.pid
        pfx = run_prefix("slow-reader")
        big_id, big = pfx + "big", os.urandom(BIG_STATE)
        setup = self.connect()
        _create(setup, big_id, big)
        for _ in range(5):
            rid = setup.next_id()
            expect_record(setup.roundtrip(proto.encode_load(rid, big_id)), rid, big, 1)
        setup.close()

        c = self.connect()
        first = c._next_id  # noqa: SLF001
        frames = _load_frames(first, self.REQUESTS, big_id)
        time.sleep(0.3)
        rss_before = rss_kib(pid) * KIB
        sampler = Sampler(lambda: rss_kib(pid) * KIB, 0.05).start()
        writer = Greedy(c.sock, frames, stall_limit=30.0, max_seconds=40.0).start()

        expected = first
        problems: List[str] = []
        got_slow = 0
        buf = bytearray(self.SLOW_CHUNK)
        ended = ""

        def take_frames() -> int:
            nonlocal expected
            n = 0
            for frame in c.reader:
                n += 1
                try:
                    resp = proto.decode_response(frame)
                    expect_record(resp, expected, big, 1)
                except (AssertionError, proto.ProtocolError) as e:  # type: ignore[attr-defined]
                    if len(problems) < 5:
                        problems.append("answer #%d: %s" % (expected - first, e))
                    else:
                        problems.append("...")
                expected += 1
            return n

        t0 = time.monotonic()
        while (time.monotonic() - t0 < self.SLOW_SECONDS and not problems
               and sampler.last < rss_before + self.SAFETY_CAP):
            tick = time.monotonic()
            c.sock.settimeout(self.SLOW_PERIOD)
            try:
                n = c.sock.recv_into(buf, self.SLOW_CHUNK)
            except socket.timeout:
                n = -1
            except OSError as e:
                ended = repr(e)
                break
            if n == 0:
                ended = "EOF"
                break
            if n > 0:
                c.reader.feed(memoryview(buf)[:n])
                got_slow += take_frames()
            time.sleep(max(0.0, self.SLOW_PERIOD - (time.monotonic() - tick)))
        slow_peak = sampler.max

        # Then read the rest at full speed.
        deadline = time.monotonic() + 30.0
        while expected < first + self.REQUESTS and not ended and len(problems) < 6 and time.monotonic() < deadline:
            c.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = c.sock.recv(1 << 20)
            except socket.timeout:
                ended = "timeout"
                break
            except OSError as e:
                ended = repr(e)
                break
            if not data:
                ended = "EOF"
                break
            c.reader.feed(data)
            take_frames()
        total = time.monotonic() - t0
        writer.stop()
        sampler.stop()
        received = expected - first

        say("slow-reader: %d answers in the %.0f s slow phase (64 KiB / 50 ms), %d/%d in all in %.1f s, "
            "in order and correct: %s; RSS %.0f -> %.0f MiB peak (slow phase %.0f; bound %.0f); writer %s%s"
            % (got_slow, self.SLOW_SECONDS, received, self.REQUESTS, total, "yes" if not problems else "NO",
               rss_before / MIB, sampler.max / MIB, slow_peak / MIB, (rss_before + self.RSS_PEAK_BOUND) / MIB,
               "wrote all" if writer.sent == len(frames) else "wrote %d bytes of %d" % (writer.sent, len(frames)),
               "; connection ended: " + ended if ended else ""))
        self.assertEqual(problems, [], "wrong, erroneous or out-of-order answers")
        self.assertGreater(got_slow, 0, "nothing arrived during the slow phase")
        self.assertEqual(received, self.REQUESTS, "not every answer arrived (%s)" % (ended or "time out"))
        self.assertLessEqual(sampler.max, rss_before + self.RSS_PEAK_BOUND,
                             "RSS peaked at %.0f MiB with a slow reader (before: %.0f MiB)"
                             % (sampler.max / MIB, rss_before / MIB))


if __name__ == "__main__":
    unittest.main()
