#!/usr/bin/env python3
"""Holds many idle client connections to pgstated, for `make bench`'s scale test.

Opens --count Unix-socket connections to pgstated, does the protocol handshake on each (HELLO -> HELLO_OK,
proto-spec/PROTOCOL.md section 5), then prints one line ``ready <connections> <seconds>`` on stdout and
keeps them open, idle, until its standard input closes. It then checks how many of them pgstated still
holds open, prints ``alive <n>`` and exits. Raises its own open-files limit to the hard limit.

Standard library only: raw frames, no client library, so that 10,000 connections cost one file descriptor
and a few hundred bytes each on this side.
"""

from __future__ import annotations

import argparse
import errno
import resource
import socket
import struct
import sys
import time

HELLO, HELLO_OK, ERROR = 0x01, 0x81, 0x86


def hello_frame(request_id: int) -> bytes:
    name = b"pgstate-bench-idle"
    payload = struct.pack(">BH", 1, 1) + struct.pack(">B", len(name)) + name
    return struct.pack(">IBBI", 6 + len(payload), HELLO, 0, request_id) + payload


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("pgstated closed the connection during the handshake")
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket) -> tuple[int, int, bytes]:
    (length,) = struct.unpack(">I", recv_exact(sock, 4))
    body = recv_exact(sock, length)
    return body[0], struct.unpack(">I", body[2:6])[0], body[6:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=256, help="connections opened before reading their HELLO_OKs")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.count + 64:
        print(f"error: open-files limit {hard} is below {args.count} connections", file=sys.stderr)
        return 1

    socks: list[socket.socket] = []
    start = time.monotonic()
    try:
        while len(socks) < args.count:
            batch = []
            for _ in range(min(args.batch, args.count - len(socks))):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(30)
                s.connect(args.socket)
                s.sendall(hello_frame(1))
                batch.append(s)
            for s in batch:
                type_, _, payload = read_frame(s)
                if type_ != HELLO_OK:
                    status = struct.unpack(">H", payload[:2])[0] if type_ == ERROR and len(payload) >= 2 else None
                    raise ConnectionError(f"connection {len(socks) + 1}: got frame type 0x{type_:02x}"
                                          f" (status {status}) instead of HELLO_OK")
                socks.append(s)
    except (OSError, ConnectionError) as e:
        print(f"error: after {len(socks)} connections: {e}", file=sys.stderr)
        return 1
    print(f"ready {len(socks)} {time.monotonic() - start:.2f}", flush=True)

    sys.stdin.read()  # hold until told to stop

    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += 1 if s.recv(1) else 0  # data would be unexpected, but the connection is up
        except OSError as e:
            alive += 1 if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK) else 0
        s.close()
    print(f"alive {alive}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
