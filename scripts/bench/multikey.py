"""make bench, multi-key part: what BULK_LOAD, TRANSACT and LIST buy over the single requests they replace.

Runs against a pgstated that is already serving (bench.sh starts it on its own cluster, with 'bench-0' ..
'bench-<keys-1>' loaded). Stdlib only; frames are encoded once and replayed, and answers are only framed and
type-checked, so the client costs little next to the daemon. Each figure is measured by `--procs` processes,
one connection each, running the same loop for `--duration` seconds after `--warmup`:

* BULK_LOAD of 100 ids vs 100 LOADs pipelined in one write: ids per second, and pgstated's CPU per id
  (utime + stime of the daemon over the window, divided by the ids answered).
* TRANSACT of 10 upserts vs the same 10 upserts pipelined: items per second and daemon CPU per item (each process
  writes ids of its own, so nothing conflicts; both variants commit once per round at best: the pipelined
  upserts share their batch's commit).
* LIST pages per second over 100,000 rows (a prefix of their own, created once with BULK_WRITE), following the
  cursor to the end with limits 100 and 1000.

Prints a table and writes multikey.json into --out.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import struct
import sys
import time
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import proc_cpu_seconds  # noqa: E402

HELLO, LOAD, UPSERT, BULK_LOAD, BULK_WRITE, TRANSACT, LIST = 0x01, 0x03, 0x04, 0x0C, 0x0D, 0x0E, 0x0F
HELLO_OK, RECORD, NOT_FOUND, RECORDS, OUTCOMES, LIST_OK, ERROR = 0x81, 0x83, 0x84, 0x8B, 0x8C, 0x8E, 0x86


def frame(kind: int, rid: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">IBBI", 6 + len(payload), kind, flags, rid) + payload


def str8(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data)]) + data


def upsert_item(pid: str, expected: int, state: bytes) -> bytes:
    return b"\x01\x00" + str8(pid) + struct.pack(">QI", expected, len(state)) + state


class Conn:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = bytearray()
        self.sock.sendall(frame(HELLO, 1, b"\x01\x00\x01" + str8("multikey-bench")))
        kind, _, _ = self.read()
        if kind != HELLO_OK:
            raise SystemExit("no HELLO_OK")

    def read(self) -> Tuple[int, int, bytes]:
        while True:
            if len(self.buf) >= 4:
                length = struct.unpack_from(">I", self.buf)[0]
                if len(self.buf) >= 4 + length:
                    body = bytes(self.buf[4:4 + length])
                    del self.buf[:4 + length]
                    kind, rid = body[0], struct.unpack_from(">I", body, 2)[0]
                    if kind == ERROR:
                        status, n = struct.unpack_from(">HH", body, 6)
                        raise SystemExit(f"ERROR {status}: {body[10:10 + n].decode()}")
                    return kind, rid, body[6:]
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("connection closed")
            self.buf += chunk

    def round(self, data: bytes, answers: int, expect: int) -> bytes:
        self.sock.sendall(data)
        payload = b""
        for _ in range(answers):
            kind, _, payload = self.read()
            if kind != expect:
                raise SystemExit(f"answer type 0x{kind:02x}, expected 0x{expect:02x}")
        return payload


def worker(path: str, variant: str, index: int, warmup: float, duration: float, keys: int,
           start: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    conn = Conn(path)
    state = bytes(200)
    rounds = 0
    if variant in ("bulk_load", "loads"):
        ids = [f"bench-{(index * 7919 + n * 97) % keys}" for n in range(100)]
        if variant == "bulk_load":
            data = frame(BULK_LOAD, 2, struct.pack(">H", 100) + b"".join(str8(i) for i in ids))
            step: Callable[[], None] = lambda: conn.round(data, 1, RECORDS)
        else:
            data = b"".join(frame(LOAD, 2 + n, str8(i)) for n, i in enumerate(ids))
            step = lambda: conn.round(data, 100, RECORD)
        per_round = 100
    else:
        ids = [f"mk-tx-{os.getpid()}-{index}-{n}" for n in range(10)]
        revision = [0]
        create = frame(TRANSACT, 2, struct.pack(">H", 10) + b"".join(upsert_item(i, 0, state) for i in ids))
        conn.round(create, 1, OUTCOMES)
        revision[0] = 1

        def step() -> None:
            expected = revision[0]
            if variant == "transact":
                data = frame(TRANSACT, 2, struct.pack(">H", 10) + b"".join(upsert_item(i, expected, state) for i in ids))
                conn.round(data, 1, OUTCOMES)
            else:
                data = b"".join(frame(UPSERT, 2 + n, str8(i) + struct.pack(">QI", expected, len(state)) + state)
                                for n, i in enumerate(ids))
                conn.round(data, 10, RECORD)
            revision[0] += 1
        per_round = 10
    start.wait()
    warm_end = time.monotonic() + warmup
    while time.monotonic() < warm_end:
        step()
    start.wait()  # every process is past its warm-up: the window starts
    end = time.monotonic() + duration
    while time.monotonic() < end:
        step()
        rounds += 1
    results.put(rounds * per_round)


def measure(path: str, pid: int, variant: str, procs: int, warmup: float, duration: float, keys: int) -> Dict[str, float]:
    start = multiprocessing.Barrier(procs + 1)
    results: multiprocessing.Queue = multiprocessing.Queue()
    children = [multiprocessing.Process(target=worker, args=(path, variant, n, warmup, duration, keys, start, results))
                for n in range(procs)]
    for child in children:
        child.start()
    start.wait()
    start.wait()
    cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
    done = [results.get(timeout=duration + 60) for _ in children]
    cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"{variant}: a worker failed")
    units = sum(done)
    return {"per_second": units / (t1 - t0), "cpu_us_per_unit": (cpu1 - cpu0) * 1e6 / max(units, 1), "units": units}


def list_pages(path: str, rows: int, limits: List[int]) -> Dict[str, Dict[str, float]]:
    conn = Conn(path)
    prefix = f"mk-list-{os.getpid()}-"
    state = bytes(16)
    for chunk in range(0, rows, 1000):
        items = b"".join(upsert_item(f"{prefix}{n:06d}", 0, state) for n in range(chunk, min(chunk + 1000, rows)))
        conn.round(frame(BULK_WRITE, 2, struct.pack(">H", min(1000, rows - chunk)) + items), 1, OUTCOMES)
    figures = {}
    for limit in limits:
        pages = seen = 0
        after = None
        t0 = time.monotonic()
        while True:
            flags = 1 if after is not None else 0
            payload = str8(prefix) + (str8(after) if after is not None else b"") + struct.pack(">H", limit)
            body = conn.round(frame(LIST, 3, payload, flags), 1, LIST_OK)
            more, count = body[0], struct.unpack_from(">H", body, 1)[0]
            offset = 3
            for _ in range(count):
                n = body[offset]
                after = body[offset + 1:offset + 1 + n].decode()
                offset += 1 + n + 16
            pages += 1
            seen += count
            if not more:
                break
        elapsed = time.monotonic() - t0
        if seen != rows:
            raise SystemExit(f"LIST saw {seen} ids of {rows}")
        figures[f"limit {limit}"] = {"pages_per_second": pages / elapsed, "ids_per_second": seen / elapsed,
                                     "pages": pages}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--pgstated-pid", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--keys", type=int, default=10000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--list-rows", type=int, default=100_000)
    args = parser.parse_args()
    figures: Dict[str, object] = {"procs": args.procs, "reps": args.reps, "duration_s": args.duration}
    lines = [f"multi-key requests ({args.procs} connections, median of {args.reps} runs of {args.duration:g} s)",
             f"{'workload':<34} {'per second':>16} {'daemon CPU µs each':>20}"]
    for name, variant, unit in [("BULK_LOAD 100 ids", "bulk_load", "id"), ("100 pipelined LOADs", "loads", "id"),
                                ("TRANSACT 10 upserts", "transact", "item"),
                                ("10 pipelined UPSERTs", "upserts", "item")]:
        runs = [measure(args.socket, args.pgstated_pid, variant, args.procs, args.warmup, args.duration, args.keys)
                for _ in range(args.reps)]
        runs.sort(key=lambda r: r["per_second"])
        median = runs[len(runs) // 2]
        figures[variant] = {"runs": runs, "median": median, "unit": unit}
        lines.append(f"{name:<34} {median['per_second']:>10.0f} {unit + 's':<5} {median['cpu_us_per_unit']:>20.2f}")
    pages = list_pages(args.socket, args.list_rows, [100, 1000])
    figures["list"] = pages
    for limit, page in pages.items():
        lines.append(f"{'LIST over %d rows, %s' % (args.list_rows, limit):<34} {page['pages_per_second']:>10.0f} pages "
                     f"({page['ids_per_second']:.0f} ids/s)")
    bulk, loads = figures["bulk_load"]["median"], figures["loads"]["median"]  # type: ignore[index]
    tx, ups = figures["transact"]["median"], figures["upserts"]["median"]  # type: ignore[index]
    lines.append(f"BULK_LOAD ÷ pipelined LOADs: {bulk['per_second'] / loads['per_second']:.2f}× ids/s, "
                 f"{bulk['cpu_us_per_unit'] / loads['cpu_us_per_unit']:.2f}× CPU per id")
    lines.append(f"TRANSACT ÷ pipelined UPSERTs: {tx['per_second'] / ups['per_second']:.2f}× items/s, "
                 f"{tx['cpu_us_per_unit'] / ups['cpu_us_per_unit']:.2f}× CPU per item")
    print("\n".join(lines))
    with open(os.path.join(args.out, "multikey.json"), "w") as f:
        json.dump(figures, f, indent=2)
    with open(os.path.join(args.out, "multikey.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
