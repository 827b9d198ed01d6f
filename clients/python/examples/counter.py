#!/usr/bin/env python3
"""A counter incremented by many workers at once, kept exact by optimistic concurrency.

Every increment is the classic loop: load the record, compute the new state, upsert it
naming the revision that was loaded, and start over on ConcurrencyError (another worker
got there first). The final value must equal workers x increments.

    PGSTATE_SOCKET=/run/pgstated/pgstated.sock python3 counter.py [--workers 8] [--increments 50] [--asyncio]

Threads mode gives each thread its own pgstate.Client (a Client is for one thread at a
time); --asyncio runs the workers as tasks sharing one AsyncClient connection.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from typing import List, Optional, Tuple

import pgstate
from pgstate import aio


def next_state(record: Optional[pgstate.Record]) -> Tuple[int, bytes]:
    """(expected revision, new state) for one increment of ``record`` (None: no counter yet)."""
    if record is None:
        return 0, b"1"  # create: expected revision 0
    return record.revision, b"%d" % (int(record.state) + 1)


def increment(client: pgstate.Client, counter_id: str) -> int:
    """Add 1 to the counter; return the number of conflicts it took."""
    conflicts = 0
    while True:
        expected, state = next_state(client.load(counter_id))
        try:
            client.upsert(counter_id, expected, state)
            return conflicts
        except pgstate.ConcurrencyError:
            conflicts += 1  # someone else wrote in between: load again and retry


async def increment_async(client: aio.AsyncClient, counter_id: str) -> int:
    conflicts = 0
    while True:
        expected, state = next_state(await client.load(counter_id))
        try:
            await client.upsert(counter_id, expected, state)
            return conflicts
        except pgstate.ConcurrencyError:
            conflicts += 1


def run_threads(counter_id: str, workers: int, increments: int) -> int:
    conflicts: List[int] = []
    errors: List[BaseException] = []

    def worker() -> None:
        try:
            with pgstate.Client(timeout=30) as client:  # one Client per thread
                conflicts.append(sum(increment(client, counter_id) for _ in range(increments)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(conflicts)


async def run_tasks(counter_id: str, workers: int, increments: int) -> int:
    async with aio.AsyncClient(timeout=30) as client:  # one connection shared by every task
        async def worker() -> int:
            return sum([await increment_async(client, counter_id) for _ in range(increments)])
        return sum(await asyncio.gather(*(worker() for _ in range(workers))))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--increments", type=int, default=50, help="increments per worker")
    parser.add_argument("--asyncio", action="store_true", help="asyncio tasks on one AsyncClient")
    args = parser.parse_args(argv)

    counter_id = "example-counter-%d-%s" % (os.getpid(), os.urandom(4).hex())
    try:
        if args.asyncio:
            conflicts = asyncio.run(run_tasks(counter_id, args.workers, args.increments))
        else:
            conflicts = run_threads(counter_id, args.workers, args.increments)
        with pgstate.Client() as client:
            record = client.load(counter_id)
            final = int(record.state) if record is not None else 0
            client.delete(counter_id)
    except pgstate.Unavailable as exc:
        print("pgstated is not reachable: %s" % exc, file=sys.stderr)
        return 2
    expected = args.workers * args.increments
    print("workers=%d increments=%d mode=%s conflicts retried=%d"
          % (args.workers, args.increments, "asyncio" if args.asyncio else "threads", conflicts))
    print("final value %d, expected %d: %s" % (final, expected, "OK" if final == expected else "WRONG"))
    return 0 if final == expected else 1


if __name__ == "__main__":
    sys.exit(main())
