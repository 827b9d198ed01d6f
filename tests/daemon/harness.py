"""Helpers for the socket-level abuse tests of pgstated (stdlib only).

* :class:`Daemon` starts one pgstated child on a private socket, waits until it answers a
  HELLO, and stops it with SIGTERM (its exit status is checked by :class:`DaemonTestCase`).
* :class:`RawConn` is a raw Unix-socket client: the test decides exactly what is written and
  when anything is read. Frames are encoded and decoded with the Python client's codec
  (``clients/python/src/pgstate/_protocol.py``), not a new one.
* ``rss_kib``, ``cpu_seconds``, ``fd_count`` read a process's figures from /proc.
* For the operators' requests and endpoints: ``health_of`` (HEALTH_OK as the client's Health),
  ``http_get`` (``host:port`` or ``unix:/path``),
  ``parse_exposition`` (Prometheus text format), ``run_ctl`` (``pgstatectl``, built next to
  pgstated), ``DatabaseProxy`` (a TCP proxy to the database that a test can cut), ``psql``.

Environment: ``PGSTATED_BIN`` (the daemon to test) and ``PGSTATE_TEST_DATABASE_URL`` (a libpq
conninfo); without both, every test is skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Dict, List, Optional, Sequence, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
_CLIENT_SRC = os.path.normpath(os.path.join(_HERE, "..", "..", "clients", "python", "src"))
if _CLIENT_SRC not in sys.path:
    sys.path.insert(0, _CLIENT_SRC)

from pgstate import _protocol as proto  # noqa: E402  (the codec; path set up above)
from pgstate._errors import Status  # noqa: E402
from pgstate._operator import Health  # noqa: E402

__all__ = [
    "proto", "Status", "BIN", "DATABASE_URL", "requires_daemon", "Daemon", "DaemonTestCase",
    "RawConn", "ConnectionEnded", "Greedy", "Steady", "Sampler", "expect_record", "describe",
    "rss_kib", "cpu_seconds", "thread_cpu", "sched_demand_seconds", "fd_count", "run_prefix", "say",
    "CTL_BIN", "health_of", "http_get", "shutdown_errors", "Exposition", "parse_exposition", "run_ctl", "free_tcp_port", "DatabaseProxy", "psql",
]

BIN = os.environ.get("PGSTATED_BIN", "")
DATABASE_URL = os.environ.get("PGSTATE_TEST_DATABASE_URL", "")

requires_daemon = unittest.skipUnless(
    BIN and DATABASE_URL, "set PGSTATED_BIN and PGSTATE_TEST_DATABASE_URL to run the daemon abuse tests")

_RUN = "abuse-%d-%d" % (os.getpid(), int(time.time()))


def run_prefix(name: str) -> str:
    """A persistence-id prefix unique to this run and test (the database is shared)."""
    return "%s-%s-" % (_RUN, name)


def say(line: str) -> None:
    """One summary line of figures, on stderr next to unittest's verbose output."""
    sys.stderr.write("\n    %s\n" % line)
    sys.stderr.flush()


# --- /proc figures ------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # fields from #3 (state) on
    utime, stime = int(fields[11]), int(fields[12])  # fields #14 and #15
    return (utime + stime) / _CLK_TCK


def thread_cpu(pid: int) -> Dict[int, Tuple[str, float]]:
    """Per thread: (name, utime + stime in seconds)."""
    out: Dict[int, Tuple[str, float]] = {}
    for task in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(task + "/stat") as f:
                stat = f.read()
            with open(task + "/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue  # the thread ended
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(task.rsplit("/", 1)[1])] = (comm, (int(fields[11]) + int(fields[12])) / _CLK_TCK)
    return out


def sched_demand_seconds(pid: int) -> Optional[float]:
    """Time the process's threads ran plus time they waited, runnable, for a CPU (schedstat).

    Unlike utime+stime it does not shrink when other processes compete for the CPUs: a thread
    that spins accrues one second per second whatever the load. None without schedstat.
    """
    total = 0
    found = False
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                run_ns, wait_ns = f.read().split()[:2]
        except (OSError, ValueError):
            continue
        total += int(run_ns) + int(wait_ns)
        found = True
    return total / 1e9 if found else None


def fd_count(pid: int) -> int:
    """Open descriptors of a process."""
    return len(os.listdir("/proc/%d/fd" % pid))


# --- Raw client connection ----------------------------------------------------------------


class ConnectionEnded(Exception):
    """The server closed (EOF) or reset the connection while a frame was expected."""


class RawConn:
    """A client connection whose reads and writes the test controls.

    ``responses()`` decodes frames with the codec; nothing is read unless a method is called.
    """

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.reader = proto.FrameReader()
        self.hello_ok: Optional[proto.HelloOk] = None
        self.eof = False
        self._next_id = 1

    def next_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    # Writing.
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def hello(self, timeout: float = 5.0, client_name: str = "abuse-test") -> proto.HelloOk:
        rid = self.next_id()
        self.send(proto.encode_hello(rid, client_name=client_name))
        resp = self.read_response(timeout)
        if not isinstance(resp, proto.HelloOk) or resp.request_id != rid:
            raise AssertionError("expected HELLO_OK for id %d, got %r" % (rid, resp))
        self.hello_ok = resp
        self.reader.max_frame_bytes = resp.max_frame_bytes
        return resp

    # Reading.
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError as e:
            raise ConnectionEnded("connection reset by the server") from e
        if not data:
            self.eof = True
            raise ConnectionEnded("EOF from the server")
        self.reader.feed(data)

    def read_response(self, timeout: float = 5.0) -> proto.Response:
        """The next response; socket.timeout after ``timeout`` s, ConnectionEnded at EOF/reset."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.reader.next_frame()
            if frame is not None:
                return proto.decode_response(frame)
            self._fill(deadline)

    def read_responses(self, n: int, timeout: float) -> List[proto.Response]:
        deadline = time.monotonic() + timeout
        out: List[proto.Response] = []
        while len(out) < n:
            frame = self.reader.next_frame()
            if frame is not None:
                out.append(proto.decode_response(frame))
                continue
            self._fill(deadline)
        return out

    def roundtrip(self, frame: bytes, timeout: float = 5.0) -> proto.Response:
        self.send(frame)
        return self.read_response(timeout)

    def wait_eof(self, timeout: float) -> bytes:
        """Read until EOF; returns the bytes that came before it (as undecoded leftovers)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except ConnectionEnded:
                break
        return bytes(self.reader._buf)  # noqa: SLF001 (leftovers, for a failure message)

    def reset(self) -> None:
        """Close with SO_LINGER {1, 0}: the kernel discards unsent data (an abortive close)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawConn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def expect_record(resp: proto.Response, rid: int, state: bytes, revision: Optional[int] = None) -> None:
    """Raise AssertionError unless ``resp`` is RECORD for ``rid`` holding ``state``."""
    if not isinstance(resp, proto.RecordResponse) or resp.request_id != rid:
        raise AssertionError("expected RECORD for request %d, got %r" % (rid, resp))
    if resp.state != state:
        raise AssertionError("RECORD for request %d holds %d bytes %r..., expected %d bytes %r..."
                             % (rid, len(resp.state), resp.state[:24], len(state), state[:24]))
    if revision is not None and resp.revision != revision:
        raise AssertionError("RECORD for request %d has revision %d, expected %d"
                             % (rid, resp.revision, revision))


# --- A writer that pipelines requests and stops when the daemon stops reading --------------


class Greedy:
    """Writes ``data`` to ``sock`` from a thread, in chunks, with a short send timeout.

    It stops when everything is written, when ``stop()`` is called, when no byte could be
    written for ``stall_limit`` seconds (the daemon stopped reading and the socket buffer is
    full), or after ``max_seconds``. ``sent`` is the number of bytes written so far.
    """

    def __init__(self, sock: socket.socket, data: bytes, stall_limit: float = 2.0,
                 max_seconds: float = 20.0, chunk: int = 16384) -> None:
        self.sock = sock
        self.data = memoryview(data)
        self.stall_limit = stall_limit
        self.max_seconds = max_seconds
        self.chunk = chunk
        self.sent = 0
        self.stalled = False
        self.error: Optional[BaseException] = None
        self.last_progress = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="greedy-writer", daemon=True)

    def start(self) -> "Greedy":
        self._thread.start()
        return self

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        started = time.monotonic()
        try:
            while self.sent < len(self.data) and not self._stop.is_set():
                now = time.monotonic()
                if now - started > self.max_seconds:
                    return
                try:
                    n = self.sock.send(self.data[self.sent:self.sent + self.chunk])
                except socket.timeout:
                    if time.monotonic() - self.last_progress > self.stall_limit:
                        self.stalled = True
                        return
                    continue
                self.sent += n
                self.last_progress = time.monotonic()
        except OSError as e:  # the daemon closed or reset the connection
            self.error = e

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


# --- A well-behaved client doing round trips on its own id -------------------------------


class Steady:
    """From a thread: UPSERT then LOAD on its own id, one request at a time, checking every answer.

    Each answer must carry the request's id and the expected revision and state (the state
    names the revision and the client, so a foreign answer is recognised). ``latencies`` are in
    seconds; ``problems`` lists every wrong, late (> ``timeout``) or missing answer.
    """

    def __init__(self, path: str, persistence_id: str, timeout: float = 5.0,
                 max_seconds: float = 60.0, pause: float = 0.0, state_bytes: int = 256) -> None:
        self.path = path
        self.persistence_id = persistence_id
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.pause = pause
        self.state_bytes = state_bytes
        self.latencies: List[float] = []
        self.problems: List[str] = []
        self.revision = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-client", daemon=True)
        self.conn = RawConn(path, timeout)
        self.conn.hello(timeout)
        # The first write, before the clock starts: a create.
        self._one(upsert=True, measure=False)

    def _state(self, revision: int) -> bytes:
        head = ("steady %s rev %d;" % (self.persistence_id, revision)).encode()
        return (head * (self.state_bytes // len(head) + 1))[:max(self.state_bytes, len(head))]

    def _one(self, upsert: bool, measure: bool = True) -> None:
        c = self.conn
        rid = c.next_id()
        if upsert:
            frame = proto.encode_upsert(rid, self.persistence_id, self.revision, self._state(self.revision + 1))
            want_rev, want_state = self.revision + 1, self._state(self.revision + 1)
        else:
            frame = proto.encode_load(rid, self.persistence_id)
            want_rev, want_state = self.revision, self._state(self.revision)
        t0 = time.monotonic()
        try:
            resp = c.roundtrip(frame, self.timeout)
        except (socket.timeout, ConnectionEnded, OSError) as e:
            self.problems.append("%s request %d: no answer within %.1f s (%r)"
                                 % ("UPSERT" if upsert else "LOAD", rid, self.timeout, e))
            raise
        dt = time.monotonic() - t0
        if measure:
            self.latencies.append(dt)
        try:
            expect_record(resp, rid, want_state, want_rev)
        except AssertionError as e:
            self.problems.append(describe(resp) + ": " + str(e))
            raise
        if upsert:
            self.revision = want_rev

    def start(self) -> "Steady":
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        upsert = False
        try:
            while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
                self._one(upsert)
                upsert = not upsert
                if self.pause:
                    self._stop.wait(self.pause)
        except BaseException as e:  # recorded in problems (or here)
            if not self.problems:
                self.problems.append("steady client failed: %r" % (e,))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 5.0)
        self.conn.close()

    @property
    def max_latency(self) -> float:
        return max(self.latencies) if self.latencies else float("nan")


# --- The daemon ---------------------------------------------------------------------------


class Daemon:
    """One pgstated child on a private socket in a fresh temporary folder."""

    def __init__(self, extra_args: Sequence[str] = (), nofile: Optional[int] = None, *,
                 umask: Optional[int] = None, dir_mode: Optional[int] = None,
                 socket_path: Optional[str] = None, database_url: Optional[str] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="pgsd-abuse-", dir="/tmp")  # short: sun_path is 108 bytes
        if dir_mode is not None:
            os.chmod(self.dir, dir_mode)  # e.g. 0o755 so that other users reach the socket
        self.socket_path = socket_path or os.path.join(self.dir, "pgstated.sock")
        self.log_path = os.path.join(self.dir, "pgstated.log")
        self.args = [BIN, "--socket", self.socket_path, "--pool-size", "2", "--log-level", "debug",
                     *extra_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PGSTATED_")}
        env["PGSTATED_DATABASE_URL"] = database_url or DATABASE_URL
        self.env = env
        self.nofile = nofile
        self.umask = umask
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, ready_timeout: float = 30.0) -> None:
        self.launch()
        self.wait_ready(ready_timeout)

    def launch(self) -> None:
        """Starts the child without waiting for it to be ready."""
        nofile, mask = self.nofile, self.umask
        preexec: Optional[Callable[[], None]] = None
        if nofile is not None or mask is not None:
            def preexec() -> None:  # in the child only, before exec
                if nofile is not None:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
                if mask is not None:
                    os.umask(mask)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=preexec, close_fds=True)

    def wait_ready(self, timeout: float) -> None:
        """Until the socket accepts and a HELLO gets HELLO_OK."""
        deadline = time.monotonic() + timeout
        last: Optional[BaseException] = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("pgstated exited with %s during start-up\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.socket_path):
                try:
                    with RawConn(self.socket_path, timeout=2.0) as c:
                        c.hello(timeout=2.0, client_name="abuse-ready-check")
                    return
                except (OSError, ConnectionEnded, AssertionError) as e:
                    last = e
            time.sleep(0.05)
        raise AssertionError("pgstated did not answer HELLO within %.0f s (last: %r)\n%s"
                             % (timeout, last, self.log_tail()))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> Optional[int]:
        """SIGTERM, wait; SIGKILL after ``timeout``. Returns the exit status (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.returncode = -999  # did not stop on SIGTERM
                return self.returncode
        self.returncode = self.proc.returncode
        return self.returncode

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 200) -> str:
        text = self.log_text().splitlines()
        head = "---- pgstated log (%s), last %d of %d lines ----" % (self.log_path, min(lines, len(text)),
                                                                    len(text))
        return "\n".join([head, *text[-lines:], "---- end of pgstated log ----"])

    def cleanup(self, keep: bool) -> None:
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class DaemonTestCase(unittest.TestCase):
    """Starts ``self.daemon`` per test; at the end SIGTERMs it and expects exit status 0.

    On a failed test (or a bad exit) the daemon's log is printed and its folder kept.
    """

    daemon_args: Sequence[str] = ()
    daemon_nofile: Optional[int] = None

    def setUp(self) -> None:
        self.daemon = Daemon(self.daemon_args, self.daemon_nofile)
        try:
            self.daemon.start()
        except BaseException:
            self.daemon.stop()
            sys.stderr.write("\n" + self.daemon.log_tail() + "\n")
            raise
        self.addCleanup(self._stop_daemon)

    def _test_failed(self) -> bool:
        # Called from a cleanup, where outcome.success has been reset for the cleanup itself.
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        errors = getattr(outcome, "errors", None)  # Python <= 3.10: reported after the cleanups
        if errors is not None:
            return any(exc_info is not None for _, exc_info in errors)
        result = getattr(outcome, "result", None)  # Python >= 3.11: reported at once
        if result is None:
            return False
        return any(test is self for test, _ in list(result.failures) + list(result.errors))

    def _stop_daemon(self) -> None:
        rc = self.daemon.stop()
        failed = self._test_failed() or rc != 0
        if failed:
            sys.stderr.write("\n%s\n" % self.daemon.log_tail())
        self.daemon.cleanup(keep=failed)
        self.assertEqual(rc, 0, "pgstated exited with %s on SIGTERM (-999: did not stop within 20 s)" % rc)

    # Conveniences.
    def connect(self, timeout: float = 5.0, hello: bool = True) -> RawConn:
        c = RawConn(self.daemon.socket_path, timeout)
        self.addCleanup(c.close)
        if hello:
            c.hello()
        return c

    def assert_alive(self) -> None:
        if not self.daemon.alive():
            self.fail("pgstated died (exit status %s)" % self.daemon.proc.returncode)  # type: ignore[union-attr]


def describe(resp: object) -> str:
    if isinstance(resp, proto.ErrorResponse):
        try:
            name = Status(resp.status).name
        except ValueError:
            name = str(resp.status)
        return "ERROR %s %r (id %d)" % (name, resp.message, resp.request_id)
    return repr(resp)


class Sampler:
    """Samples a figure (e.g. RSS) every ``interval`` s from a thread; keeps max and last."""

    def __init__(self, fn: Callable[[], float], interval: float = 0.05,
                 on_sample: Optional[Callable[[float], None]] = None) -> None:
        self.fn = fn
        self.interval = interval
        self.on_sample = on_sample
        self.max = fn()
        self.last = self.max
        self.samples: List[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                v = self.fn()
            except (OSError, RuntimeError):
                return  # the process is gone
            self.last = v
            self.samples.append(v)
            self.max = max(self.max, v)
            if self.on_sample is not None:
                self.on_sample(v)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)



# --- The operators' requests ----------------------------------------------------------------


def health_of(response: object) -> "Health":
    """HEALTH_OK as the client library's Health (pool_up, paused, draining, ready); AssertionError otherwise."""
    if not isinstance(response, proto.HealthOk):
        raise AssertionError("expected HEALTH_OK, got %s" % describe(response))
    return Health.from_state(response.state, response.pool_up, response.pool_size, response.clients,
                             response.uptime_ms)


# --- HTTP and the Prometheus text format ---------------------------------------------------


def http_get(address: str, path: str, timeout: float = 5.0) -> Tuple[int, Dict[str, str], bytes]:
    """GET ``path`` from ``host:port`` (urllib) or ``unix:/socket`` (HTTP/1.1 by hand over AF_UNIX).

    Returns (status, headers with lower-case names, body); a 4xx/5xx answer is returned, not raised.
    """
    if not address.startswith("unix:"):
        try:
            with urllib.request.urlopen("http://%s%s" % (address, path), timeout=timeout) as r:
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address[len("unix:"):])
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pgstate-tests\r\nAccept: */*\r\n"
                   "Connection: close\r\n\r\n" % path).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("HTTP over %s: EOF inside the header (%r)" % (address, data[:200]))
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        if not m:
            raise AssertionError("HTTP over %s: bad status line %r" % (address, lines[0]))
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()

        def more() -> bytes:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("HTTP over %s: EOF inside the body" % address)
            return chunk

        if "content-length" in headers:
            want = int(headers["content-length"])
            while len(body) < want:
                body += more()
            body = body[:want]
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            raw, body = body, b""
            while True:
                while b"\r\n" not in raw:
                    raw += more()
                size_line, raw = raw.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(raw) < size + 2:
                    raw += more()
                body, raw = body + raw[:size], raw[size + 2:]
                if size == 0:
                    break
        else:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        return int(m.group(1)), headers, body
    finally:
        s.close()


Labels = Tuple[Tuple[str, str], ...]


class Exposition:
    """A parsed scrape: ``samples[(name, labels)] = value`` (labels sorted), ``types[family] = type``."""

    def __init__(self) -> None:
        self.samples: Dict[Tuple[str, Labels], float] = {}
        self.types: Dict[str, str] = {}
        self.helps: Dict[str, str] = {}
        self.text = ""

    def get(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        if key not in self.samples:
            raise AssertionError("no sample %s%s in the scrape; samples of %s: %s"
                                 % (name, dict(labels), name, self.series(name)))
        return self.samples[key]

    def value(self, name: str, default: float = 0.0, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), default)

    def series(self, name: str) -> List[Tuple[Dict[str, str], float]]:
        return [(dict(labels), v) for (n, labels), v in self.samples.items() if n == name]

    def names(self) -> set:
        return {n for n, _ in self.samples}


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def parse_exposition(text: str) -> Exposition:
    """Parses the Prometheus text format 0.0.4; raises AssertionError (with the line) on anything malformed
    or on a series that appears twice."""
    out = Exposition()
    out.text = text
    for number, line in enumerate(text.split("\n"), 1):
        def bad(why: str) -> AssertionError:
            return AssertionError("exposition line %d: %s: %r" % (number, why, line))

        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("TYPE", "HELP"):
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        raise bad("bad TYPE")
                    if parts[2] in out.types:
                        raise bad("second TYPE for %s" % parts[2])
                    out.types[parts[2]] = parts[3]
                else:
                    out.helps[parts[2]] = parts[3] if len(parts) == 4 else ""
            continue
        m = _METRIC_NAME.match(line)
        if not m:
            raise bad("no metric name")
        name, pos = m.group(0), m.end()
        labels: Dict[str, str] = {}
        if pos < len(line) and line[pos] == "{":
            pos += 1
            while True:
                if pos < len(line) and line[pos] == "}":
                    pos += 1
                    break
                lm = _LABEL_NAME.match(line, pos)
                if not lm or line[lm.end():lm.end() + 2] != '="':
                    raise bad("bad label at column %d" % pos)
                label, pos = lm.group(0), lm.end() + 2
                value_chars: List[str] = []
                while True:
                    if pos >= len(line):
                        raise bad("unterminated label value")
                    ch = line[pos]
                    if ch == "\\":
                        nxt = line[pos + 1:pos + 2]
                        if nxt not in ("\\", '"', "n"):
                            raise bad("bad escape \\%s" % nxt)
                        value_chars.append("\n" if nxt == "n" else nxt)
                        pos += 2
                    elif ch == '"':
                        pos += 1
                        break
                    else:
                        value_chars.append(ch)
                        pos += 1
                if label in labels:
                    raise bad("label %s twice" % label)
                labels[label] = "".join(value_chars)
                if line[pos:pos + 1] == ",":
                    pos += 1
                elif line[pos:pos + 1] != "}":
                    raise bad("expected , or } at column %d" % pos)
        rest = line[pos:].split()
        if not line[pos:pos + 1].isspace() or len(rest) not in (1, 2):
            raise bad("expected ' value [timestamp]'")
        try:
            value = float(rest[0])
        except ValueError:
            raise bad("value %r is not a number" % rest[0]) from None
        key = (name, tuple(sorted(labels.items())))
        if key in out.samples:
            raise bad("series appears twice")
        out.samples[key] = value
    return out


def shutdown_errors(log: str) -> List[str]:
    """Error lines a daemon logged from "shutting down" on (its own error/critical lines, or a library's
    "ERROR: ..." on stderr): a clean SIGTERM logs none."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if "shutting down" in line), len(lines))
    return [line for line in lines[start:] if re.search(r"^ERROR|^(\S+ )?(error|critical):", line)]


# --- pgstatectl, PostgreSQL, ports ---------------------------------------------------------

CTL_BIN = os.path.join(os.path.dirname(BIN), "pgstatectl") if BIN else ""


def _drop_to(user: str) -> Callable[[], None]:
    entry = pwd.getpwnam(user)

    def drop() -> None:  # in the child, before exec
        os.setgroups(os.getgrouplist(user, entry.pw_gid))
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    return drop


def run_ctl(socket_path: Optional[str], *args: str, user: Optional[str] = None, stdin: Optional[bytes] = None,
            timeout: float = 60.0, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs ``pgstatectl COMMAND --socket PATH ARGS...`` (``--socket`` left out when ``socket_path`` is None)
    as ``user`` if given; stdout and stderr as bytes."""
    argv = [CTL_BIN]
    if args:
        argv.append(args[0])
        if socket_path is not None:
            argv += ["--socket", socket_path]
        argv += list(args[1:])
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PGSTATE")}
    child_env.update(env or {})
    return subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout,
                          env=child_env, preexec_fn=_drop_to(user) if user else None, cwd="/")


def free_tcp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def psql(sql: str, url: str = "") -> str:
    out = subprocess.run(["psql", url or DATABASE_URL, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _conninfo(url: str) -> Dict[str, str]:
    """The keywords of a libpq conninfo (``k=v k='v w'``) or URI (``postgresql://u:p@h:port/db?k=v``)."""
    if re.match(r"postgres(ql)?://", url):
        u = urllib.parse.urlsplit(url)
        out = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query).items()}
        if u.hostname:
            out["host"] = urllib.parse.unquote(u.hostname)
        if u.port:
            out["port"] = str(u.port)
        if u.username:
            out["user"] = urllib.parse.unquote(u.username)
        if u.password:
            out["password"] = urllib.parse.unquote(u.password)
        if u.path.strip("/"):
            out["dbname"] = urllib.parse.unquote(u.path.strip("/"))
        return out
    out, pos = {}, 0
    pattern = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
    while pos < len(url.rstrip()):
        m = pattern.match(url, pos)
        if not m:
            raise ValueError("cannot parse the conninfo %r at %d" % (url, pos))
        value = m.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m.group(1)] = value
        pos = m.end()
    return out


class DatabaseProxy:
    """A TCP proxy on 127.0.0.1 to the database of ``database_url`` (a Unix socket folder or a TCP host).

    ``url`` is a conninfo for the daemon that goes through it (same user, database and password). ``cut()``
    closes every forwarded connection and stops listening (new connections are refused); ``restore()``
    listens again on the same port.
    """

    def __init__(self, database_url: str = "") -> None:
        info = _conninfo(database_url or DATABASE_URL)
        host = info.get("host", "/var/run/postgresql").split(",")[0]
        port = int(info.get("port", "5432").split(",")[0])
        self.target: object = os.path.join(host, ".s.PGSQL.%d" % port) if host.startswith("/") else (host, port)
        self.port = free_tcp_port()
        parts = {"host": "127.0.0.1", "port": str(self.port), "sslmode": "disable", "gssencmode": "disable"}
        for key in ("user", "dbname", "password"):
            if key in info:
                parts[key] = info[key]
        self.url = " ".join("%s='%s'" % (k, v.replace("\\", "\\\\").replace("'", "\\'")) for k, v in parts.items())
        self.accepted = 0
        self._lock = threading.Lock()
        self._socks: List[socket.socket] = []
        self._listener: Optional[socket.socket] = None

    def start(self) -> "DatabaseProxy":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="db-proxy-accept", daemon=True).start()
        return self

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                if isinstance(self.target, str):
                    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                else:
                    upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                self._socks += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), name="db-proxy-pump", daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() up
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    stop = cut
