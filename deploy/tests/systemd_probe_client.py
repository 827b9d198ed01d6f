#!/usr/bin/env python3
"""The Python side of the systemd probe (deploy/tests/systemd_probe.sh), run inside the test container.

It uses the pgstate package installed from the wheel (PYTHONPATH names the folder it was unpacked into) against
the packaged pgstated on /run/pgstated/pgstated.sock, as the user the probe chooses. Each command prints one line
of detail and exits 0 when its check holds, 1 when it does not:

  serve             create a record, load it back, and say who the server took us for
  refused           connect() to the socket must fail with EACCES (a user outside the group pgstate)
  load MARKER       short connections (connect, ping, close) from a few threads until MARKER exists and one more
                    second has passed: none may be refused, and some must be served after MARKER appeared
  restricted NS     after an access file gave this user namespace NS read-only: whoami says NS, a load is
                    served, an upsert is refused with PERMISSION_DENIED
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
import uuid

import pgstate

SOCKET = "/run/pgstated/pgstated.sock"


def serve() -> int:
    site = os.environ.get("PYTHONPATH", "")
    if not site or not pgstate.__file__.startswith(site):
        print("pgstate imported from %s, not from the unpacked wheel in %s" % (pgstate.__file__, site))
        return 1
    pid = "probe-py-%s" % uuid.uuid4().hex[:12]
    with pgstate.Client(SOCKET, timeout=20) as c:
        created = c.upsert(pid, 0, b"from python")
        loaded = c.load(pid)
        who = c.whoami()
        version = c.server_info.server_version if c.server_info else "?"
    if created.revision != 1 or loaded is None or loaded.state != b"from python" or loaded.revision != 1:
        print("upsert/load mismatch: created %r, loaded %r" % (created, loaded))
        return 1
    print("pgstate %s (wheel) -> %s: upsert rev 1, load back; served as uid %d (%s)"
          % (pgstate.__version__, version, who.uid, who.user))
    return 0


def refused() -> int:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCKET)
    except OSError as e:
        if e.errno == errno.EACCES:
            print("connect as uid %d: EACCES" % os.getuid())
            return 0
        print("connect as uid %d failed, but with %s, not EACCES" % (os.getuid(), errno.errorcode.get(e.errno, e.errno)))
        return 1
    finally:
        s.close()
    print("connect as uid %d (not in group pgstate) succeeded" % os.getuid())
    return 1


def load(marker: str, threads: int = 4, max_seconds: float = 60) -> int:
    counts = {"served": 0, "served after": 0, "refused": 0, "retryable": 0, "other": 0}
    errors: list = []
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    stop_at = [deadline]

    def run() -> None:
        while time.monotonic() < stop_at[0]:
            after = os.path.exists(marker)
            try:
                with pgstate.Client(SOCKET, timeout=20) as c:
                    c.ping()
                kind = "served"
            except pgstate.Unavailable as e:
                cause = e.__cause__
                kind = "refused" if isinstance(cause, (ConnectionRefusedError, FileNotFoundError)) else "retryable"
                if kind == "refused":
                    with lock:
                        errors.append(str(e))
                time.sleep(0.01)
            except pgstate.Error as e:
                kind = "other"
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))
                time.sleep(0.01)
            with lock:
                counts[kind] += 1
                if kind == "served" and after:
                    counts["served after"] += 1

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    while time.monotonic() < deadline and not os.path.exists(marker):
        time.sleep(0.05)
    stop_at[0] = min(deadline, time.monotonic() + 1.0)
    for w in workers:
        w.join()
    line = ("%d short connections: served %d (%d after the restart), refused %d, retryable %d, other errors %d"
            % (sum(v for k, v in counts.items() if k != "served after"), counts["served"], counts["served after"],
               counts["refused"], counts["retryable"], counts["other"]))
    if errors:
        line += "; first error: %s" % errors[0]
    print(line)
    ok = counts["refused"] == 0 and counts["other"] == 0 and counts["served after"] > 0 and os.path.exists(marker)
    return 0 if ok else 1


def restricted(namespace: str) -> int:
    pid = "probe-acl-%s" % uuid.uuid4().hex[:12]
    with pgstate.Client(SOCKET, timeout=20) as c:
        who = c.whoami()
        loaded = c.load(pid)
        try:
            c.upsert(pid, 0, b"must be refused")
            denied = False
        except pgstate.PermissionDenied:
            denied = True
    detail = "whoami: namespace %r, permissions %s, rule %s; load served (%s); upsert %s" % (
        who.namespace, who.permissions, who.rule or "-", "none" if loaded is None else "a record",
        "PERMISSION_DENIED" if denied else "ACCEPTED")
    print(detail)
    ok = who.namespace == namespace and denied and not (who.permissions & pgstate.Permissions.WRITE)
    return 0 if ok else 1


def main(argv: list) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    command, args = argv[1], argv[2:]
    try:
        if command == "serve":
            return serve()
        if command == "refused":
            return refused()
        if command == "load":
            return load(args[0])
        if command == "restricted":
            return restricted(args[0])
    except pgstate.Error as e:
        print("%s: %s" % (type(e).__name__, e))
        return 1
    print("unknown command %s" % command)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
