#!/usr/bin/env python3
"""What the envelope costs: encode and decode of each mode, per record, measured on the pure codec (no daemon).

Usage:
    python3 clients/python/bench/envelope_bench.py [--seconds 0.5] [--json]

For a JSON-like state of 200 B and one of 64 KiB, every mode (none, gzip, zstd, AES-GCM alone and after gzip
or zstd, HMAC alone and after gzip or zstd) is encoded and decoded repeatedly for about ``--seconds`` each (the
fastest of 5 rounds counts). Reported per mode and size: the envelope's size, and for encode and decode the wall time and the CPU time
(process time, all threads) per record, records per second and the state's megabytes per second. Modes whose
package is missing (zstandard, cryptography) are listed as unavailable. Run it from the checkout; it puts
clients/python/src on the path itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import pgstate  # noqa: E402
from pgstate import Envelope, EnvelopeModeUnavailable, KeyRing  # noqa: E402

RING = KeyRing({1: bytes(range(32))}, active=1)
INFO = "bench/orders"
MODES: List[Tuple[str, Dict[str, Any]]] = [
    ("none", {}),
    ("gzip", {"compression": "gzip"}),
    ("zstd", {"compression": "zstd"}),
    ("aes-gcm", {"keys": RING, "info": INFO}),
    ("aes-gcm+gzip", {"compression": "gzip", "keys": RING, "info": INFO}),
    ("aes-gcm+zstd", {"compression": "zstd", "keys": RING, "info": INFO}),
    ("hmac", {"keys": RING, "info": INFO, "integrity_only": True}),
    ("hmac+gzip", {"compression": "gzip", "keys": RING, "info": INFO, "integrity_only": True}),
    ("hmac+zstd", {"compression": "zstd", "keys": RING, "info": INFO, "integrity_only": True}),
]


def json_state(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes: lines of an order, compressible as such states are."""
    lines = []
    i = 0
    while sum(map(len, lines)) < size:
        lines.append(b'{"line":%d,"sku":"SKU-%05d","qty":%d,"price":"%d.%02d","status":"open"},'
                     % (i, (i * 7919) % 100000, i % 9 + 1, (i * 37) % 500, i % 100))
        i += 1
    body = b'{"order":"order-42","lines":[' + b"".join(lines)
    return body[:size - 2] + b"]}"


ROUNDS = 5


def measure(fn: Callable[[], Any], seconds: float) -> Tuple[int, float, float]:
    """(records, wall seconds, CPU seconds) of the fastest of ROUNDS rounds of calling ``fn``, each round
    about ``seconds`` / ROUNDS long: the least disturbed round (as timeit does) on a machine that also runs
    other work."""
    fn()  # warm up (imports, first allocation)
    batch, wall = 1, 0.0
    round_seconds = seconds / ROUNDS
    while wall < round_seconds / 4:  # a batch long enough to time
        batch *= 2
        wall0 = time.perf_counter()
        for _ in range(batch):
            fn()
        wall = time.perf_counter() - wall0
    batch = max(1, int(batch * round_seconds / wall))
    best: Optional[Tuple[int, float, float]] = None
    for _ in range(ROUNDS):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(batch):
            fn()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if best is None or wall < best[1]:
            best = (batch, wall, cpu)
    assert best is not None
    return best


def run(seconds: float) -> List[Dict[str, Any]]:
    rows = []
    for size_name, size in (("200 B", 200), ("64 KiB", 65536)):
        state = json_state(size)
        for mode, kwargs in MODES:
            row: Dict[str, Any] = {"mode": mode, "state": size_name, "state_bytes": size}
            try:
                codec = Envelope(**kwargs)
            except EnvelopeModeUnavailable as exc:
                row["unavailable"] = exc.install
                rows.append(row)
                continue
            env = codec.encode(state, persistence_id="order-42", revision=7, namespace="billing")
            assert codec.decode(env, persistence_id="order-42", revision=7, namespace="billing") == state
            row["envelope_bytes"] = len(env)
            for op, fn in (("encode", lambda: codec.encode(state, persistence_id="order-42", revision=7,
                                                           namespace="billing")),
                           ("decode", lambda: codec.decode(env, persistence_id="order-42", revision=7,
                                                           namespace="billing"))):
                n, wall, cpu = measure(fn, seconds)
                row[op] = {"records": n, "wall_us_per_record": wall / n * 1e6, "cpu_us_per_record": cpu / n * 1e6,
                           "records_per_s": n / wall, "state_mb_per_s": n * size / wall / 1e6}
            rows.append(row)
    return rows


def versions() -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {"python": platform.python_version(), "pgstate": pgstate.__version__}
    for name in ("cryptography", "zstandard"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    import zlib
    out["zlib"] = zlib.ZLIB_VERSION
    return out


def print_table(rows: List[Dict[str, Any]]) -> None:
    v = versions()
    print("envelope codec, per record (pure codec, no daemon): Python %s, zlib %s, cryptography %s, zstandard %s"
          % (v["python"], v["zlib"], v["cryptography"] or "missing", v["zstandard"] or "missing"))
    head = ("state", "mode", "envelope", "encode us", "encode cpu us", "encode rec/s", "encode MB/s",
            "decode us", "decode cpu us", "decode rec/s", "decode MB/s")
    widths = (7, 13, 9, 10, 14, 13, 12, 10, 14, 13, 12)
    print("  ".join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        if "unavailable" in r:
            print("%s  %s  unavailable (%s)" % (r["state"].ljust(7), r["mode"].ljust(13), r["unavailable"]))
            continue
        cells = [r["state"].ljust(7), r["mode"].ljust(13), ("%d B" % r["envelope_bytes"]).rjust(9)]
        for op in ("encode", "decode"):
            m = r[op]
            cells += ["%.1f" % m["wall_us_per_record"], "%.1f" % m["cpu_us_per_record"],
                      "%.0f" % m["records_per_s"], "%.1f" % m["state_mb_per_s"]]
        print("  ".join(c if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time spent on each measurement (default 1)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = ap.parse_args()
    rows = run(args.seconds)
    if args.json:
        print(json.dumps({"versions": versions(), "rows": rows}, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
