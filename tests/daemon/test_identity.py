"""Identity and isolation with real users and real kernel credentials (PROTOCOL.md 6.14, README "Access").

Each client runs in a child process as a real user (``users.as_user``); the daemon reads its uid, gid and
groups from the kernel. Needs root (to create the users and switch to them); skipped otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from typing import List, Optional

import harness
from harness import (DATABASE_URL, Daemon, DaemonTestCase, RawConn, proto, requires_daemon, run_prefix,
                     say)
from users import Raised, as_user, can_manage_users, ensure_users, uid_of

import pgstate

requires_users = unittest.skipUnless(can_manage_users(), "needs root with useradd/groupadd to create test users")

BASE_RULES = """\
# who               namespace   permissions
user:pgst-billing   billing     rw     connections=3 in-flight=4
group:pgst-rpt      billing     r
user:pgst-other     other       rw
uid:0               *           admin
user:pgst-alice     {user}      rw
"""


def harness_bin() -> str:
    return harness.BIN


def setUpModule() -> None:
    if can_manage_users() and DATABASE_URL:
        ensure_users()


def write_rules(folder: str, text: str, name: str = "access.conf") -> str:
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def psql(sql: str) -> str:
    out = subprocess.run(["psql", DATABASE_URL, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


# --- what the children run (module-level functions: they run after fork, as another user) ---------


def c_upsert(path: str, key: str, expected: int, state: bytes, namespace: Optional[str] = None) -> int:
    with pgstate.Client(path, timeout=10) as c:
        return c.upsert(key, expected, state, namespace=namespace).revision


def c_load(path: str, key: str, namespace: Optional[str] = None) -> Optional[bytes]:
    with pgstate.Client(path, timeout=10) as c:
        record = c.load(key, namespace=namespace)
        return None if record is None else bytes(record.state)


def c_delete(path: str, key: str) -> None:
    with pgstate.Client(path, timeout=10) as c:
        c.delete(key)


def c_whoami(path: str) -> tuple:
    with pgstate.Client(path, timeout=10) as c:
        me = c.whoami()
        return (me.uid, me.user, me.namespace, int(me.permissions), me.rule)


def c_reader_session(path: str, key: str) -> List[str]:
    """One connection: a load, a denied upsert and delete, then a load again on the same connection."""
    seen: List[str] = []
    with pgstate.Client(path, timeout=10) as c:
        seen.append(bytes(c.load(key).state).decode())
        for attempt in (lambda: c.upsert(key, 1, b"evil"), lambda: c.delete(key)):
            try:
                attempt()
                seen.append("allowed")
            except pgstate.PermissionDenied as e:
                seen.append("denied:%d" % int(e.status))
        seen.append(bytes(c.load(key).state).decode())
        seen.append("connected" if c.connected else "dropped")
    return seen


def c_hold_connections(path: str, count: int) -> List[str]:
    """Opens `count` connections at once; reports how each handshake ended."""
    clients, results = [], []
    for _ in range(count):
        c = pgstate.Client(path, timeout=10)
        try:
            c.ping()
            results.append("ok")
        except pgstate.Unavailable as e:
            results.append("unavailable:%s" % (int(e.status) if e.status is not None else "-"))
        clients.append(c)
    for c in clients:
        c.close()
    return results


def c_burst(path: str, prefix: str, count: int) -> dict:
    """Pipelines `count` creates on one raw connection; counts the answers by type and status."""
    conn = RawConn(path, timeout=10)
    try:
        conn.hello()
        frames = b"".join(proto.encode_upsert(rid + 1, prefix + str(rid), 0, b"x") for rid in range(1, count + 1))
        conn.send(frames)
        tally: dict = {}
        for _ in range(count):
            response = conn.read_response(timeout=10)
            key = type(response).__name__
            if isinstance(response, proto.ErrorResponse):
                key += ":%d" % int(response.status)
            tally[key] = tally.get(key, 0) + 1
        return tally
    finally:
        conn.close()


def c_silent_connections(path: str, count: int, hold: float) -> List[str]:
    """Opens `count` connections that never send HELLO; reports what each got within `hold` seconds."""
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    time.sleep(hold)
    results = []
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(4096)
            results.append(describe_frame(data))
        except BlockingIOError:
            results.append("nothing")
        s.close()
    return results


def describe_frame(data: bytes) -> str:
    if not data:
        return "eof"
    if len(data) >= 12 and data[4] == 0x86:
        return "error:%d:id%d" % (int.from_bytes(data[10:12], "big"), int.from_bytes(data[6:10], "big"))
    return "bytes:%s" % data[:16].hex()


def c_try_connect(path: str, attempts: int) -> int:
    """Spins connect() on `path`; returns how many connections succeeded."""
    connected = 0
    for _ in range(attempts):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            connected += 1
        except OSError:
            pass
        finally:
            s.close()
    return connected


# --- the tests ----------------------------------------------------------------------------


class IdentityTestCase(DaemonTestCase):
    """A daemon with the base rules, its socket reachable by every user (mode 0666 in a 0755 folder)."""

    rules = BASE_RULES
    table: Optional[str] = None

    def setUp(self) -> None:
        folder = os.path.join("/tmp", "pgsd-rules-%d-%s" % (os.getpid(), self._testMethodName[-20:]))
        os.makedirs(folder, exist_ok=True)
        self.rules_path = write_rules(folder, self.rules)
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", folder]))
        self.prefix = run_prefix(self._testMethodName[-24:])
        args = ["--access-file", self.rules_path, "--socket-mode", "0666"]
        if self.table:
            args += ["--table", self.table]
        self.daemon_args = args
        self.start_daemon()

    def start_daemon(self) -> None:
        self.daemon = Daemon(self.daemon_args, dir_mode=0o755)
        try:
            self.daemon.start()
        except BaseException:
            self.daemon.stop()
            raise
        self.addCleanup(self._stop_daemon)

    @property
    def path(self) -> str:
        return self.daemon.socket_path

    def key(self, name: str) -> str:
        return self.prefix + name

    def expect_denied(self, user: str, fn, *args, status: int = 106) -> Raised:
        with self.assertRaises(Raised) as caught:
            as_user(user, fn, *args)
        self.assertEqual(caught.exception.status, status, str(caught.exception))
        return caught.exception


@requires_daemon
@requires_users
class IsolationTest(IdentityTestCase):
    def test_services_with_identical_ids_never_see_each_other(self) -> None:
        key = self.key("order-1")
        self.assertEqual(as_user("pgst-billing", c_upsert, self.path, key, 0, b"billing's"), 1)
        # The same id in another namespace is another record: a create, not a conflict.
        self.assertEqual(as_user("pgst-other", c_upsert, self.path, key, 0, b"other's"), 1)
        self.assertEqual(as_user("pgst-billing", c_load, self.path, key), b"billing's")
        self.assertEqual(as_user("pgst-other", c_load, self.path, key), b"other's")
        as_user("pgst-other", c_delete, self.path, key)
        self.assertIsNone(as_user("pgst-other", c_load, self.path, key))
        self.assertEqual(as_user("pgst-billing", c_load, self.path, key), b"billing's")
        # A revision check holds per namespace: billing's record is at 1 whatever other did.
        self.assertEqual(as_user("pgst-billing", c_upsert, self.path, key, 1, b"v2"), 2)
        rows = psql("SELECT namespace || '=' || revision FROM durable_state WHERE persistence_id = '%s' "
                    "ORDER BY namespace" % key)
        self.assertEqual(rows, "billing=2")
        say("isolation: billing and other both created %s at revision 1; stored rows: %s" % (key, rows))

    def test_read_only_identity_reads_and_is_denied_writes_on_an_open_connection(self) -> None:
        key = self.key("ledger")
        as_user("pgst-billing", c_upsert, self.path, key, 0, b"balance=10")
        seen = as_user("pgst-reports", c_reader_session, self.path, key)
        self.assertEqual(seen, ["balance=10", "denied:106", "denied:106", "balance=10", "connected"])
        self.assertEqual(as_user("pgst-billing", c_load, self.path, key), b"balance=10")
        uid, user, namespace, permissions, rule = as_user("pgst-reports", c_whoami, self.path)
        self.assertEqual((uid, user, namespace, permissions), (uid_of("pgst-reports"), "pgst-reports", "billing", 1))
        self.assertEqual(rule, self.rules_path + ":3", "matched through the supplementary group pgst-rpt")
        self.assertRegex(self.daemon.log_text(), r"denied: UPSERT needs write permission.*uid=%d" % uid)

    def test_unmatched_user_is_refused_at_hello_and_audited(self) -> None:
        raised = self.expect_denied("pgst-stranger", c_load, self.path, self.key("x"))
        self.assertEqual(raised.kind, "PermissionDenied")
        uid = uid_of("pgst-stranger")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "uid=%d" % uid not in self.daemon.log_text():
            time.sleep(0.05)
        log = [line for line in self.daemon.log_text().splitlines() if "no access rule grants" in line]
        self.assertTrue(log and "uid=%d" % uid in log[0], "\n".join(log))

    def test_user_template_and_admin_namespaces(self) -> None:
        key = self.key("prefs")
        uid, user, namespace, permissions, _ = as_user("pgst-alice", c_whoami, self.path)
        self.assertEqual((user, namespace, permissions), ("pgst-alice", "pgst-alice", 3))
        as_user("pgst-alice", c_upsert, self.path, key, 0, b"dark mode")
        self.assertEqual(psql("SELECT namespace FROM durable_state WHERE persistence_id = '%s'" % key), "pgst-alice")
        as_user("pgst-billing", c_upsert, self.path, key, 0, b"billing prefs")
        # Root's rule grants every namespace: it names one per request; without a name it is the shared one.
        self.assertEqual(as_user("root", c_load, self.path, key, "pgst-alice"), b"dark mode")
        self.assertEqual(as_user("root", c_load, self.path, key, "billing"), b"billing prefs")
        self.assertIsNone(as_user("root", c_load, self.path, key))
        # Naming its own namespace is allowed; naming another is denied.
        self.assertEqual(as_user("pgst-billing", c_load, self.path, key, "billing"), b"billing prefs")
        self.expect_denied("pgst-billing", c_load, self.path, key, "pgst-alice")
        self.assertEqual(as_user("root", c_whoami, self.path)[2:4], ("", 0xF))

    def test_per_identity_limits(self) -> None:
        # connections=3: the fourth connection of pgst-billing is refused before HELLO, not another user's.
        self.assertEqual(as_user("pgst-billing", c_hold_connections, self.path, 4),
                         ["ok", "ok", "ok", "unavailable:201"])
        self.assertEqual(as_user("pgst-other", c_hold_connections, self.path, 4), ["ok"] * 4)
        # in-flight=4: a pipelined burst gets OVERLOADED for what exceeds it, and everything is answered.
        tally = as_user("pgst-billing", c_burst, self.path, self.key("burst-"), 200)
        self.assertEqual(sum(tally.values()), 200, tally)
        self.assertGreater(tally.get("ErrorResponse:201", 0), 0, tally)
        self.assertGreaterEqual(tally.get("RecordResponse", 0), 4, tally)
        other = as_user("pgst-other", c_burst, self.path, self.key("burst-"), 200)
        self.assertEqual(other, {"RecordResponse": 200}, "another identity is not limited by billing's rule")
        say("limits: billing's 4 connections -> %s; 200 pipelined creates -> %s; other's -> %s"
            % (["ok", "ok", "ok", "unavailable:201"], tally, other))


@requires_daemon
@requires_users
class ReloadTest(IdentityTestCase):
    def test_sighup_with_a_good_then_a_bad_file(self) -> None:
        self.expect_denied("pgst-stranger", c_whoami, self.path)
        # A connection opened under the old rules keeps its grant.
        write_rules(os.path.dirname(self.rules_path), BASE_RULES + "user:*  {user}  rw\n")
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_for_log("access rules reloaded")
        uid, user, namespace, _, rule = as_user("pgst-stranger", c_whoami, self.path)
        self.assertEqual((user, namespace, rule), ("pgst-stranger", "pgst-stranger", self.rules_path + ":7"))
        # A bad file: the line and reason are logged and the rules in force stay.
        write_rules(os.path.dirname(self.rules_path), "user:pgst-billing billing rw\nuser:pgst-other other rwx\n")
        self.daemon.proc.send_signal(signal.SIGHUP)
        line = self.wait_for_log("NOT reloaded")
        self.assertIn(self.rules_path + ":2:", line)
        self.assertIn("rwx", line)
        self.assertEqual(as_user("pgst-stranger", c_whoami, self.path)[2], "pgst-stranger")
        say("reload: good file applied (stranger -> %s); bad file refused: %s" % (namespace, line.strip()[-90:]))

    def test_open_connections_keep_their_grant_after_a_reload(self) -> None:
        key = self.key("kept")
        as_user("pgst-other", c_upsert, self.path, key, 0, b"v1")
        read_end, write_end = os.pipe()

        def session(path: str) -> List[str]:
            seen = []
            with pgstate.Client(path, timeout=10) as c:
                seen.append(bytes(c.load(key).state).decode())
                os.write(write_end, b"1")  # connected: the parent reloads now
                time.sleep(1.5)
                seen.append(bytes(c.load(key).state).decode())  # same connection, after the reload
            try:
                with pgstate.Client(path, timeout=10) as c:
                    c.load(key)
                seen.append("new connection allowed")
            except pgstate.PermissionDenied:
                seen.append("new connection denied")
            return seen

        import threading
        result: dict = {}

        def run() -> None:
            try:
                result["seen"] = as_user("pgst-other", session, self.path)
            except BaseException as e:  # noqa: BLE001
                result["error"] = e

        worker = threading.Thread(target=run)
        worker.start()
        os.read(read_end, 1)
        write_rules(os.path.dirname(self.rules_path), "user:pgst-billing billing rw\n")  # pgst-other removed
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_for_log("access rules reloaded")
        worker.join(30)
        self.assertNotIn("error", result, result)
        self.assertEqual(result["seen"], ["v1", "v1", "new connection denied"])

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = [line for line in self.daemon.log_text().splitlines() if text in line]
            if lines:
                return lines[-1]
            time.sleep(0.05)
        self.fail("no log line with %r within %.0f s" % (text, timeout))


@requires_daemon
@requires_users
class MigrationTest(IdentityTestCase):
    """A table of the first schema (no namespace) is migrated in place; its rows land in the shared one."""

    table = "pgst_migration_%d" % os.getpid()

    def setUp(self) -> None:
        psql("DROP TABLE IF EXISTS %s; CREATE TABLE %s (persistence_id text PRIMARY KEY, revision bigint NOT "
             "NULL, state bytea NOT NULL, updated_at timestamptz NOT NULL); INSERT INTO %s VALUES "
             "('legacy-a', 7, 'seven', now()), ('legacy-b', 1, 'one', now())" % ((self.table,) * 3))
        self.addCleanup(lambda: psql("DROP TABLE IF EXISTS %s" % self.table))
        super().setUp()

    def test_rows_of_the_old_schema_are_in_the_shared_namespace(self) -> None:
        key_columns = psql("SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM pg_index i "
                           "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                           "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                           "WHERE i.indrelid = '%s'::regclass AND i.indisprimary" % self.table)
        self.assertEqual(key_columns, "namespace,persistence_id")
        self.assertEqual(as_user("root", c_load, self.path, "legacy-a"), b"seven")
        self.assertEqual(as_user("root", c_upsert, self.path, "legacy-a", 7, b"eight"), 8)
        self.assertIsNone(as_user("pgst-billing", c_load, self.path, "legacy-a"))
        self.assertEqual(as_user("pgst-billing", c_upsert, self.path, "legacy-a", 0, b"mine"), 1)
        # A second start finds the table current and leaves it alone.
        self.daemon.stop()
        self.start_daemon()
        self.assertEqual(as_user("root", c_load, self.path, "legacy-b"), b"one")
        self.assertEqual(psql("SELECT count(*) FROM %s" % self.table), "3")
        say("migration: primary key now (%s); legacy rows readable in the shared namespace" % key_columns)


@requires_daemon
@requires_users
class TwoDaemonsTest(IdentityTestCase):
    def test_two_daemons_with_one_access_file_share_the_namespaces(self) -> None:
        second = Daemon(self.daemon_args, dir_mode=0o755)
        second.start()
        try:
            key = self.key("shared-table")
            self.assertEqual(as_user("pgst-billing", c_upsert, self.path, key, 0, b"one"), 1)
            self.assertEqual(as_user("pgst-reports", c_load, second.socket_path, key), b"one")
            self.assertIsNone(as_user("pgst-other", c_load, second.socket_path, key))
            with self.assertRaises(Raised) as caught:  # a stale revision through the other daemon
                as_user("pgst-billing", c_upsert, second.socket_path, key, 0, b"again")
            self.assertEqual(caught.exception.kind, "ConcurrencyError")
            self.assertEqual(as_user("pgst-billing", c_upsert, second.socket_path, key, 1, b"two"), 2)
            self.assertEqual(as_user("pgst-billing", c_load, self.path, key), b"two")
        finally:
            self.assertEqual(second.stop(), 0, second.log_tail())
            second.cleanup(keep=False)


@requires_daemon
@requires_users
class AttackerTest(unittest.TestCase):
    """The findings of trying the daemon as an attacker would, each fixed."""

    def test_socket_is_never_open_to_others_under_umask_0(self) -> None:
        # The attacker (nobody) spins connect() while the daemon starts with umask 0 and the default mode 0660.
        total = 0
        for _ in range(6):
            daemon = Daemon([], umask=0, dir_mode=0o755)
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                try:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                    connected = 0
                    deadline = time.monotonic() + 4
                    while time.monotonic() < deadline:
                        connected += c_try_connect(daemon.socket_path, 200)
                    os.write(write_end, str(connected).encode())
                finally:
                    os._exit(0)
            os.close(write_end)
            daemon.launch()
            try:
                daemon.wait_ready(30)
                self.assertEqual(os.stat(daemon.socket_path).st_mode & 0o777, 0o660)
                with os.fdopen(read_end, "rb") as pipe:
                    total += int(pipe.read() or b"0")
                os.waitpid(pid, 0)
            finally:
                self.assertEqual(daemon.stop(), 0, daemon.log_tail())
                daemon.cleanup(keep=False)
        self.assertEqual(total, 0, "nobody connected %d times to a socket of mode 0660" % total)
        say("umask 0: 6 starts with nobody spinning connect(): %d connections" % total)

    def expect_refused_start(self, daemon: Daemon, reason: str) -> None:
        """The daemon exits non-zero at start-up and its log says `reason`."""
        daemon.launch()
        try:
            daemon.proc.wait(30)
            self.assertNotEqual(daemon.proc.returncode, 0)
            self.assertIn(reason, daemon.log_text())
        finally:
            daemon.stop()
            daemon.cleanup(keep=False)

    def test_a_socket_folder_others_may_write_is_refused(self) -> None:
        self.expect_refused_start(Daemon([], dir_mode=0o777),
                                  "writable by its group or by others without the sticky bit")

    def test_an_access_file_others_may_write_is_refused(self) -> None:
        # Whoever can write the rules can grant themselves any namespace: pgstated does not start with them.
        folder = tempfile.mkdtemp(prefix="pgsd-rules-", dir="/tmp")
        try:
            path = write_rules(folder, BASE_RULES)
            os.chmod(path, 0o666)
            self.expect_refused_start(Daemon(["--access-file", path]), "writable by its group or by others")
            os.chmod(path, 0o644)
            os.chown(path, uid_of("pgst-other"), -1)
            out = subprocess.run([harness_bin(), "--check-access-file", path], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertIn("owned by uid %d" % uid_of("pgst-other"), out.stdout)
        finally:
            subprocess.run(["rm", "-rf", folder])

    def test_silent_connections_time_out_and_are_bounded_per_peer(self) -> None:
        daemon = Daemon(["--socket-mode", "0666", "--handshake-timeout", "1", "--max-handshakes-per-peer", "5"],
                        dir_mode=0o755)
        daemon.start()
        try:
            results = as_user("pgst-stranger", c_silent_connections, daemon.socket_path, 7, 2.0)
            self.assertEqual(sorted(results), ["error:105:id0"] * 5 + ["error:201:id0"] * 2, results)
            # Another peer is served while one holds its handshake budget.
            with RawConn(daemon.socket_path) as conn:
                conn.hello()
            say("handshake: 7 silent connections of one peer -> %s" % results)
        finally:
            self.assertEqual(daemon.stop(), 0, daemon.log_tail())
            daemon.cleanup(keep=False)

    def test_protocol_errors_are_logged_at_a_bounded_rate(self) -> None:
        daemon = Daemon(["--socket-mode", "0666"], dir_mode=0o755)
        daemon.start()
        try:
            def garbage(path: str, count: int) -> int:
                for _ in range(count):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(path)
                    s.sendall(b"\x00\x00\x00\x02xx")  # a length below the header: MALFORMED_FRAME
                    try:
                        s.recv(100)
                    except OSError:
                        pass
                    s.close()
                return count

            started = time.monotonic()
            as_user("pgst-stranger", garbage, daemon.socket_path, 2000)
            elapsed = time.monotonic() - started
            # Every line about it (not the debug lines of connections opening and closing, which an operator
            # enables on purpose) comes from the per-peer limit: a burst of 5, then one summary per window.
            time.sleep(0.2)
            lines = [line for line in daemon.log_text().splitlines()
                     if "protocol error from client" in line]
            self.assertEqual(len(lines), 5, "\n".join(lines[:20]))
        finally:
            self.assertEqual(daemon.stop(), 0, daemon.log_tail())
        # The rest is summarised (at the latest when the daemon stops).
        uid = uid_of("pgst-stranger")
        summaries = re.findall(r"suppressed (\d+) similar log lines about uid %d" % uid, daemon.log_text())
        daemon.cleanup(keep=False)
        self.assertEqual(sum(int(n) for n in summaries), 1995, summaries)
        say("2000 malformed connections in %.2f s -> %d protocol-error log lines + summaries %s"
            % (elapsed, len(lines), summaries))


if __name__ == "__main__":
    unittest.main()
