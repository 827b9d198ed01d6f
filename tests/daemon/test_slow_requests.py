"""The slow-request log (--slow-request-ms): a request held up in PostgreSQL is logged with where the time went;
fast ones are not. A row lock taken with psql holds an UPSERT in the database for a known time."""

from __future__ import annotations

import subprocess
import threading
import time

from harness import DATABASE_URL, DaemonTestCase, requires_daemon, run_prefix, say  # sets up the client's path

import pgstate  # noqa: E402


@requires_daemon
class SlowRequestTest(DaemonTestCase):
    daemon_args = ("--slow-request-ms", "300")

    def test_a_request_held_by_a_row_lock_is_logged_with_its_parts(self) -> None:
        key = run_prefix("slow") + "locked"
        fast = run_prefix("slow") + "fast"
        with pgstate.Client(self.daemon.socket_path, timeout=10) as c:
            c.upsert(key, 0, b"v1")
            c.upsert(fast, 0, b"quick")
            # Another session holds the row for 1 s; the UPSERT waits for it inside PostgreSQL.
            holder = threading.Thread(target=subprocess.run, args=([
                "psql", DATABASE_URL, "-qAtX", "-c",
                "BEGIN; SELECT 1 FROM durable_state WHERE namespace = '' AND persistence_id = '%s' FOR UPDATE; "
                "SELECT pg_sleep(1.0); COMMIT;" % key],), kwargs={"check": True, "capture_output": True})
            holder.start()
            time.sleep(0.2)  # the lock is taken
            started = time.monotonic()
            self.assertEqual(c.upsert(key, 1, b"v2").revision, 2)
            waited = time.monotonic() - started
            holder.join(10)
            for _ in range(20):
                self.assertIsNotNone(c.load(fast))
        deadline = time.monotonic() + 5
        lines: list = []
        while time.monotonic() < deadline and not lines:
            lines = [line for line in self.daemon.log_text().splitlines() if "slow request" in line]
            time.sleep(0.05)
        self.assertEqual(len(lines), 1, "\n".join(lines))
        line = lines[0]
        self.assertIn("slow request: UPSERT in namespace (shared) took", line)
        self.assertRegex(line, r"queued \d+\.\d ms, in PostgreSQL (\d+)\.\d ms \(batch of 1\)")
        in_database = float(line.split("in PostgreSQL ")[1].split(" ms")[0])
        self.assertGreater(in_database, 300.0)
        self.assertLessEqual(in_database, waited * 1000 + 1)
        say("slow-request log after waiting %.0f ms on a row lock: %s" % (waited * 1000, line.split("notice: ")[-1][:160]))
