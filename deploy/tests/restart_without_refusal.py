#!/usr/bin/env python3
"""Restart without refusal: pgstated restarts under load and no client notices more than a retry.

The harness holds the listening socket the way systemd does: it binds the socket once and passes it as fd 3
(LISTEN_FDS=1, LISTEN_PID=<the daemon's pid>) to each new pgstated. Client threads create records continuously
while the daemon gets SIGTERM, drains and exits, and a new one starts on the same socket.

It checks, and prints the counts of:
- refused connections (connect() failing): must be 0, since the socket never closes;
- acknowledged writes missing from the database afterwards: must be 0;
- errors other than retryable ones (pgstate.Unavailable: SHUTTING_DOWN or "not executed"): must be 0;
- a retried create that finds its record already there would mean a "not executed" answer was false: must be 0.

Usage: restart_without_refusal.py --daemon PATH --database-url CONNINFO [--restarts 3] [--clients 8]
Exits 0 when every check holds.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from typing import List

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python", "src"))
import pgstate  # noqa: E402


class Daemon:
    """One pgstated process given the harness's listening socket as fd 3."""

    def __init__(self, binary: str, database_url: str, log_path: str, notify_path: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PGSTATED_", "LISTEN_", "NOTIFY_"))}
        env.update(PGSTATED_DATABASE_URL=database_url, PGSTATED_POOL_SIZE="2", LISTEN_FDS="1",
                   NOTIFY_SOCKET=notify_path, PGSTATED_SHUTDOWN_TIMEOUT="10")
        # LISTEN_PID must be the daemon's own pid: the shell's $$ survives the exec.
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', binary],
            env=env, pass_fds=(3,), stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)

    def stop(self) -> int:
        self.process.terminate()
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


class Notifications:
    """The NOTIFY_SOCKET the daemons report READY=1 to."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if b"READY=1" in self.sock.recv(4096).split(b"\n"):
                    return
            except socket.timeout:
                pass
        raise SystemExit("pgstated did not report READY=1 in %ss" % timeout)


def status_label(status: int) -> str:
    try:
        return pgstate.Status(status).name
    except ValueError:
        return str(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between restarts")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="pgstate-restart-")
    path = os.path.join(work, "pgstated.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4096)
    # The daemon finds the socket at fd 3, as systemd passes it.
    if listener.fileno() != 3:
        os.dup2(listener.fileno(), 3)
    os.set_inheritable(3, True)
    notify = Notifications(os.path.join(work, "notify.sock"))
    log_path = os.path.join(work, "pgstated.log")

    prefix = "restart-%s-" % uuid.uuid4().hex[:8]
    acknowledged: List[str] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def client(index: int) -> None:
        n = 0
        c = pgstate.Client(path, timeout=30)
        while not stop.is_set():
            n += 1
            pid = "%s%d-%d" % (prefix, index, n)
            while not stop.is_set():
                try:
                    c.upsert(pid, 0, b"x")
                    with lock:
                        acknowledged.append(pid)
                    break
                except pgstate.ConcurrencyError:
                    with lock:
                        errors["retried create found its record: a false 'not executed'"] += 1
                    break
                except pgstate.Unavailable as e:
                    refused = isinstance(e.__cause__, (ConnectionRefusedError, FileNotFoundError))
                    with lock:
                        errors["refused connection" if refused else
                               "retryable: %s" % (status_label(e.status) if e.status else "not executed")] += 1
                    time.sleep(0.01)
                except pgstate.Error as e:
                    with lock:
                        errors["NOT retryable: %s: %s" % (type(e).__name__, e)] += 1
                    time.sleep(0.01)
                    break
        c.close()

    daemon = Daemon(args.daemon, args.database_url, log_path, notify.path)
    notify.wait_ready()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    exit_codes = []
    gaps = []
    for _ in range(args.restarts):
        time.sleep(args.interval)
        began = time.monotonic()
        exit_codes.append(daemon.stop())
        daemon = Daemon(args.daemon, args.database_url, log_path, notify.path)
        notify.wait_ready()
        gaps.append(time.monotonic() - began)
    time.sleep(args.interval)
    stop.set()
    for t in threads:
        t.join()
    exit_codes.append(daemon.stop())

    out = subprocess.run(
        ["psql", args.database_url, "-qAtc",
         "SELECT persistence_id FROM durable_state WHERE persistence_id LIKE '%s%%'" % prefix],
        check=True, capture_output=True, text=True).stdout
    lost = len(set(acknowledged) - set(out.split()))
    refused = errors.get("refused connection", 0)
    bad = sum(v for k, v in errors.items() if not k.startswith("retryable"))

    print("restart without refusal: %d restarts (SIGTERM → drained exit → new pgstated READY in %s s)"
          % (args.restarts, ", ".join("%.2f" % g for g in gaps)))
    print("  daemon exit codes: %s" % exit_codes)
    print("  acknowledged writes: %d, lost: %d" % (len(acknowledged), lost))
    print("  refused connections: %d" % refused)
    for kind, count in sorted(errors.items()):
        print("  %s: %d" % (kind, count))
    ok = lost == 0 and bad == 0 and all(code == 0 for code in exit_codes) and len(acknowledged) > 0
    if not ok:
        print("FAILED; daemon log: %s" % log_path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
