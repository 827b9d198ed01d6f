"""The slow-request log (--slow-request-ms): a request held up in PostgreSQL, or whose answer waits for a client
that does not read, is logged with where the time went; fast ones are not. A row lock taken with psql holds an
UPSERT in the database for a known time; a raw connection that stops reading holds answers in the output."""

from __future__ import annotations

import subprocess
import threading
import time

from harness import DATABASE_URL, DaemonTestCase, RawConn, proto, requires_daemon, run_prefix, say  # sets up the client's path

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
        self.assertRegex(line, r"queued \d+\.\d ms, in PostgreSQL (\d+)\.\d ms \(batch of 1\), "
                               r"writing the answer \d+\.\d ms \(behind 0 bytes of unwritten output\)")
        in_database = float(line.split("in PostgreSQL ")[1].split(" ms")[0])
        self.assertGreater(in_database, 300.0)
        self.assertLessEqual(in_database, waited * 1000 + 1)
        say("slow-request log after waiting %.0f ms on a row lock: %s" % (waited * 1000, line.split("notice: ")[-1][:160]))

    def test_an_answer_that_waits_for_its_reader_is_logged_as_writing(self) -> None:
        key = run_prefix("slow") + "big"
        state = b"x" * (256 * 1024)
        with pgstate.Client(self.daemon.socket_path, timeout=10) as c:
            c.upsert(key, 0, state)
        count = 40  # 10 MiB of answers: far more than the socket buffers take
        with RawConn(self.daemon.socket_path, timeout=10) as raw:
            raw.hello()
            raw.send(b"".join(proto.encode_load(raw.next_id(), key) for _ in range(count)))
            time.sleep(1.0)  # not reading: the answers wait in the daemon's output and the socket
            answers = raw.read_responses(count, timeout=20)
        self.assertEqual(len(answers), count)
        deadline = time.monotonic() + 5
        lines: list = []
        while time.monotonic() < deadline and not lines:
            lines = [line for line in self.daemon.log_text().splitlines() if "slow request: LOAD" in line]
            time.sleep(0.05)
        self.assertTrue(lines, "no slow LOAD was logged")
        writing = [float(line.split("writing the answer ")[1].split(" ms")[0]) for line in lines]
        in_database = [float(line.split("in PostgreSQL ")[1].split(" ms")[0]) for line in lines]
        # The time went into writing (the client did not read for 1 s), not into PostgreSQL.
        self.assertGreater(max(writing), 500.0, "\n".join(lines[:5]))
        self.assertLess(max(in_database), 300.0, "\n".join(lines[:5]))
        self.assertTrue(any("behind 0 bytes" not in line for line in lines), "later answers queue behind earlier ones")
        say("a reader that waits 1 s: %d of %d LOADs logged slow, writing the answer up to %.0f ms, in PostgreSQL "
            "at most %.1f ms" % (len(lines), count, max(writing), max(in_database)))
