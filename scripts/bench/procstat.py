"""What bench.py samples from /proc: a process's CPU seconds, its threads' context switches, its RSS,
and the CPU seconds of a PostgreSQL cluster (the postmaster and its children)."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)


def proc_thread_ctxt_switches(pid: int) -> Dict[int, int]:
    """Voluntary + involuntary context switches of each live thread of a process, by thread id.

    /proc/PID/status counts the main thread only, so every /proc/PID/task/TID/status is read. A thread that
    exits takes its counts with it: a difference of two samples (DaemonSample.since) misses the switches of
    threads that exited in between."""
    switches: Dict[int, int] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                switches[int(task)] = sum(int(line.split()[1]) for line in f
                                          if line.startswith(("voluntary_ctxt_switches:",
                                                              "nonvoluntary_ctxt_switches:")))
        except OSError:  # the thread exited between the listing and the read
            continue
    return switches


class DaemonSample:
    """A pgstated's counters at one moment: CPU seconds (utime + stime of all threads, live or not) and the
    context switches of each live thread."""

    def __init__(self, pid: int) -> None:
        self.cpu_s = proc_cpu_seconds(pid)
        self.thread_switches = proc_thread_ctxt_switches(pid)

    def since(self, earlier: "DaemonSample") -> Dict[str, Any]:
        """What the daemon used between `earlier` and this sample. Threads born in between count from zero;
        threads that exited in between are lost (counted in threads_exited, so that a report can say so)."""
        switches = sum(count - earlier.thread_switches.get(tid, 0) for tid, count in self.thread_switches.items())
        exited = sum(1 for tid in earlier.thread_switches if tid not in self.thread_switches)
        return {"cpu_s": self.cpu_s - earlier.cpu_s, "ctxt_switches": switches, "threads": len(self.thread_switches),
                "threads_exited": exited}


def proc_status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def pg_cpu_seconds(postmaster_pid: int) -> float:
    """CPU seconds of a PostgreSQL cluster: the postmaster with its reaped children, plus its live children."""
    with open(f"/proc/{postmaster_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15]) / CLK_TCK  # utime, stime, cutime, cstime
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster_pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread; keeps the maximum."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval, self.max_kib = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.max_kib = max(self.max_kib, proc_status_kib(self.pid, "VmRSS"))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.max_kib = max(self.max_kib, proc_status_kib(self.pid, "VmRSS"))
