#!/usr/bin/env python3
"""The runner of `make bench` (scripts/bench.sh sets up the cluster, pgstated and PgBouncer, then calls it).

For every repetition, workload (load, update, mixed) and client count (1, 16, 64) it runs, one after the
other and in an order that rotates from cell to cell so that machine noise hits every system alike:

  direct        pgbench -M prepared, one database connection per client
  direct-ext    pgbench -M extended, one database connection per client
  pgbouncer     pgbench -M extended through PgBouncer, transaction mode (1.18 cannot carry named prepared
                statements in transaction mode)
  pgstated-d1   pgstate-bench, same number of clients, depth 1
  pgstated-d16  pgstate-bench, same number of clients, depth 16

and, for an A/B (--baseline-socket: a second pgstated build on the same cluster, same pool size and options),

  pgstated-baseline-d1, pgstated-baseline-d16   the same two pgstate-bench runs against the baseline

then, in the same repetition, the physical limit: pgbench -M prepared with pipelines of 16 requests
(\\startpipeline ... \\endpipeline, one Sync, so one transaction and one commit per pipeline).

Every pgstated run also records the daemon's CPU seconds and the context switches of all its threads, before
and after, for the per-request figures.

After the repetitions: pgstated's CPU seconds, context switches and RSS under a 64-client mixed run (and the
baseline's, in an A/B), and the scale test (10,000 idle connections held by idle_holder.py: pgstated's RSS
before, while held and after they leave, and the latency of requests made through a fresh client while they
are held).

It prints the report on stdout and writes it, with every run's raw figures, under --out. Standard library
only. Exit status 1 if a run failed to run at all (errors inside a run are counted and reported, not fatal).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))

SYSTEMS = ["direct", "direct-ext", "pgbouncer", "pgstated-d1", "pgstated-d16"]
BASELINE_SYSTEMS = ["pgstated-baseline-d1", "pgstated-baseline-d16"]  # only with --baseline-socket
LABELS = {
    "direct": "direct -M prepared",
    "direct-ext": "direct -M extended",
    "pgbouncer": "pgbouncer -M extended",
    "pgstated-d1": "pgstated depth 1",
    "pgstated-d16": "pgstated depth 16",
    "pgstated-baseline-d1": "pgstated-baseline depth 1",
    "pgstated-baseline-d16": "pgstated-baseline depth 16",
}
# The pgstate-bench rows: which daemon serves them ("pgstated" or "baseline") and at which depth.
PGSTATED_ROWS = {
    "pgstated-d1": ("pgstated", 1),
    "pgstated-d16": ("pgstated", 16),
    "pgstated-baseline-d1": ("baseline", 1),
    "pgstated-baseline-d16": ("baseline", 16),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


class RunFailed(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- /proc ------------------------------------------------------------------------------------------------

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


# --- running the tools ------------------------------------------------------------------------------------

def run_tool(cmd: List[str], timeout: float, stdout_path: str, stderr_path: str) -> tuple[int, float]:
    """Runs cmd with stdout/stderr to files; returns (exit status, CPU seconds the tool itself used)."""
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return proc.returncode, rusage.ru_utime + rusage.ru_stime
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise RunFailed(f"timed out after {timeout:.0f} s: {' '.join(cmd)}")
            time.sleep(0.02)


def percentile(sorted_values: List[float], p: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Bench:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.work = os.path.join(a.out, "work")
        os.makedirs(self.work, exist_ok=True)
        self.runs: List[Dict[str, Any]] = []
        self.failures: List[str] = []
        self.state_hex = "\\x" + os.urandom(a.state_size).hex()
        self.raw_path = os.path.join(a.out, "runs.jsonl")
        self.tool_log = open(os.path.join(a.out, "runs.log"), "w")
        open(self.raw_path, "w").close()
        self.run_no = 0
        self.total_runs = 0
        # The daemons the pgstate-bench rows run against, by the name PGSTATED_ROWS gives them.
        self.daemons: Dict[str, Dict[str, Any]] = {"pgstated": {"socket": a.socket, "pid": a.pgstated_pid}}
        self.systems = list(SYSTEMS)
        if a.baseline_socket:
            self.daemons["baseline"] = {"socket": a.baseline_socket, "pid": a.baseline_pid}
            self.systems += BASELINE_SYSTEMS
        self.system_width = max(len(s) for s in self.systems)

    def daemon_of(self, system: str) -> Optional[Dict[str, Any]]:
        """The daemon a row runs against; None for the rows that do not use pgstated."""
        return self.daemons[PGSTATED_ROWS[system][0]] if system in PGSTATED_ROWS else None

    def run_requests(self, r: Dict[str, Any]) -> float:
        """The requests of a whole matrix run, estimated: the preload, plus ops/s x (warm-up + window)."""
        return r.get("preload_requests", 0) + r["ops_per_s"] * (self.a.warmup + r["window_s"])

    # pgbench ----------------------------------------------------------------------------------------------

    def pgbench(self, host: str, port: int, mode: str, clients: int, scripts: List[str],
                requests_per_txn: int = 1, warmup: Optional[float] = None,
                duration: Optional[float] = None) -> Dict[str, Any]:
        a = self.a
        warmup = a.warmup if warmup is None else warmup
        duration = a.duration if duration is None else duration
        logdir = tempfile.mkdtemp(prefix="pgbench-", dir=self.work)
        seconds = max(1, math.ceil(warmup + duration - 1e-9))
        cmd = [a.pgbench, "-h", host, "-p", str(port), "-U", "postgres", "-n", "-M", mode,
               "-c", str(clients), "-j", str(min(clients, a.threads)), "-T", str(seconds),
               "-D", f"keys={a.keys}", "-D", f"clients={clients}", "-D", f"state={self.state_hex}",
               "-l", "--log-prefix", os.path.join(logdir, "txn")]
        for s in scripts:
            cmd += ["-f", s]
        cmd.append(a.dbname)
        out, err = os.path.join(logdir, "stdout"), os.path.join(logdir, "stderr")
        rc, tool_cpu = run_tool(cmd, seconds + 60, out, err)
        stdout, stderr = open(out).read(), open(err).read()
        self.tool_log.write(f"### {' '.join(cmd[:-1])}\n{stdout}{stderr}\n")
        ends: List[float] = []
        lats: List[tuple[float, float]] = []
        failed_in_log = 0
        for path in glob.glob(os.path.join(logdir, "txn.*")):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 6:
                        continue
                    end = int(parts[4]) + int(parts[5]) / 1e6
                    if parts[2] in ("failed", "skipped"):
                        failed_in_log += 1
                        continue
                    lat = int(parts[2])
                    lats.append((end, lat))
        shutil.rmtree(logdir, ignore_errors=True)
        if not lats:
            raise RunFailed(f"pgbench completed no transaction (exit {rc}): {stderr.strip()[-500:]}")
        start = min(e - l / 1e6 for e, l in lats)
        w0 = start + warmup
        w1 = min(w0 + duration, max(e for e, _ in lats))
        window = [l for e, l in lats if w0 <= e < w1]
        window.sort()
        m = re.search(r"number of failed transactions: (\d+)", stdout)
        failed = int(m.group(1)) if m else 0
        aborted = len(re.findall(r"client \d+ aborted", stderr)) + (1 if "Run was aborted" in stderr else 0)
        errors = failed + aborted + failed_in_log
        first_error = next((l for l in stderr.splitlines() if "error" in l.lower()), "")
        txns = len(window)
        return {
            "ops": txns * requests_per_txn, "window_s": w1 - w0,
            "ops_per_s": txns * requests_per_txn / (w1 - w0),
            "p50_us": percentile(window, 50), "p99_us": percentile(window, 99),
            "p999_us": percentile(window, 99.9), "errors": errors, "first_error": first_error,
            "exit": rc, "tool_cpu_s": tool_cpu, "txns_total": len(lats),
        }

    # pgstate-bench ----------------------------------------------------------------------------------------

    def pgstate_bench(self, workload: str, clients: int, depth: int, preload: bool, warmup: float,
                      duration: float, socket: Optional[str] = None) -> Dict[str, Any]:
        a = self.a
        cmd = [a.pgstate_bench, "--socket", socket or a.socket, "--workload", workload, "--clients", str(clients),
               "--depth", str(depth), "--keys", str(a.keys), "--state-size", str(a.state_size),
               "--warmup", str(warmup), "--duration", str(duration), "--json"]
        if preload:
            cmd.append("--preload")
        out = os.path.join(self.work, "pgstate-bench.out")
        err = os.path.join(self.work, "pgstate-bench.err")
        rc, tool_cpu = run_tool(cmd, warmup + duration + 120, out, err)
        stdout, stderr = open(out).read(), open(err).read()
        self.tool_log.write(f"### {' '.join(cmd)}\n{stderr}\n")
        lines = [l for l in stdout.splitlines() if l.startswith("{")]
        if rc != 0 or not lines:
            raise RunFailed(f"pgstate-bench exited {rc}: {stderr.strip()[-500:]}")
        j = json.loads(lines[-1])
        lat = j["latency_us"]
        preload_requests = 0
        m = re.search(r"preload: (\d+) keys in [\d.]+ s \((\d+) existed, (\d+) created, (\d+) overwritten", stderr)
        if m:
            preload_requests = int(m.group(1)) + int(m.group(3)) + int(m.group(4))
        bad_conflicts = j.get("conflicts", 0) if workload in ("update", "mixed") else 0
        bad_not_found = j.get("not_found", 0)
        first_error = next((l.strip() for l in stderr.splitlines() if l.strip().startswith("first ")), "")
        return {
            "ops": j["ops"], "window_s": j["duration_s"], "ops_per_s": j["ops_per_s"],
            "p50_us": lat["p50"], "p99_us": lat["p99"], "p999_us": lat["p99_9"],
            "errors": j.get("errors_total", 0) + bad_conflicts + bad_not_found,
            "errors_detail": j.get("errors", {}), "conflicts": j.get("conflicts", 0),
            "not_found": bad_not_found, "errors_outside_window": j.get("errors_outside_window", 0),
            "reconnects": j.get("reconnects", 0), "first_error": first_error, "exit": rc,
            "tool_cpu_s": tool_cpu, "preload_requests": preload_requests,
        }

    # one run of the matrix --------------------------------------------------------------------------------

    def sql(self, name: str) -> str:
        return os.path.join(HERE, name)

    def scripts_for(self, workload: str) -> List[str]:
        if workload == "load":
            return [self.sql("load.sql")]
        if workload == "update":
            return [self.sql("update_own.sql")]
        return [self.sql("load_own.sql") + "@8", self.sql("update_own.sql") + "@2"]

    def pipeline_scripts_for(self, workload: str) -> List[str]:
        if workload == "load":
            return [self.sql("pipe_load.sql")]
        if workload == "update":
            return [self.sql("pipe_update.sql")]
        return [self.sql("pipe_load.sql") + "@8", self.sql("pipe_update.sql") + "@2"]

    def run_one(self, rep: int, kind: str, workload: str, clients: int, system: str) -> None:
        a = self.a
        self.run_no += 1
        t = time.monotonic()
        daemon = self.daemon_of(system)
        daemon_before = DaemonSample(daemon["pid"]) if daemon else None
        try:
            if system == "direct":
                r = self.pgbench(a.pg_host, a.pg_port, "prepared", clients, self.scripts_for(workload))
            elif system == "direct-ext":
                r = self.pgbench(a.pg_host, a.pg_port, "extended", clients, self.scripts_for(workload))
            elif system == "pgbouncer":
                r = self.pgbench(a.bouncer_host, a.bouncer_port, "extended", clients, self.scripts_for(workload))
            elif system == "limit":
                r = self.pgbench(a.pg_host, a.pg_port, "prepared", clients, self.pipeline_scripts_for(workload),
                                 requests_per_txn=16)
            else:
                depth = PGSTATED_ROWS[system][1]
                r = self.pgstate_bench(workload, clients, depth, workload != "load", a.warmup, a.duration,
                                       daemon["socket"])
        except RunFailed as e:
            msg = f"rep {rep + 1} {workload} c={clients} {system}: {e}"
            self.failures.append(msg)
            log(f"  FAILED {msg}")
            return
        per_request = ""
        if daemon_before is not None:
            # pgstated_* is the daemon that served the row: the baseline's for the pgstated-baseline rows.
            used = DaemonSample(daemon["pid"]).since(daemon_before)
            r["pgstated_cpu_s"] = used["cpu_s"]
            r["pgstated_ctxt_switches"] = used["ctxt_switches"]
            r["pgstated_threads"], r["pgstated_threads_exited"] = used["threads"], used["threads_exited"]
            requests = self.run_requests(r)
            if requests > 0:
                r["pgstated_cpu_us_per_request"] = used["cpu_s"] / requests * 1e6
                r["pgstated_ctxt_switches_per_request"] = used["ctxt_switches"] / requests
                per_request = (f"  {r['pgstated_cpu_us_per_request']:5.1f} CPU us,"
                               f" {r['pgstated_ctxt_switches_per_request']:5.2f} cs per request")
        r.update({"rep": rep + 1, "kind": kind, "workload": workload, "clients": clients, "system": system,
                  "wall_s": time.monotonic() - t, "at": time.time()})
        self.runs.append(r)
        with open(self.raw_path, "a") as f:
            f.write(json.dumps(r) + "\n")
        err = f"  ERRORS {r['errors']}" if r["errors"] else ""
        log(f"  [{self.run_no:3d}/{self.total_runs}] rep {rep + 1} {workload:6s} c={clients:<3d}"
            f" {system:{self.system_width}s} {r['ops_per_s']:10.0f} ops/s  p50 {r['p50_us'] / 1000:7.3f} ms"
            f"  p99 {r['p99_us'] / 1000:7.3f} ms"
            f"{per_request}{err}  ({time.monotonic() - a.t0:5.0f} s)")

    def matrix(self) -> None:
        a = self.a
        self.total_runs = a.reps * (len(a.workloads) * len(a.clients) * len(self.systems)
                                    + len(a.workloads) * len(a.limit_clients))
        for rep in range(a.reps):
            log(f"==> repetition {rep + 1} of {a.reps}")
            cell = 0
            for workload in a.workloads:
                for clients in a.clients:
                    # Rotate the order from cell to cell, and each cell's order from repetition to repetition.
                    k = (cell + rep) % len(self.systems)
                    cell += 1
                    for system in self.systems[k:] + self.systems[:k]:
                        self.run_one(rep, "matrix", workload, clients, system)
            for workload in a.workloads:
                for clients in a.limit_clients:
                    self.run_one(rep, "limit", workload, clients, "limit")

    # pgstated CPU and RSS under the 64-client mixed run ---------------------------------------------------

    def daemon_cpu_rss(self, daemon: Dict[str, Any], clients: int) -> Dict[str, Any]:
        """One daemon's side of cpu_rss: a mixed run at depth 1, no warm-up, with its CPU, its threads' context
        switches, its RSS, the load generator's and PostgreSQL's CPU."""
        a = self.a
        pid = daemon["pid"]
        rss_before = proc_status_kib(pid, "VmRSS")
        daemon_before, pg_before = DaemonSample(pid), pg_cpu_seconds(a.postmaster_pid)
        with RssSampler(pid) as sampler:
            r = self.pgstate_bench("mixed", clients, 1, True, 0, a.cpu_duration, daemon["socket"])
        used, pg = DaemonSample(pid).since(daemon_before), pg_cpu_seconds(a.postmaster_pid) - pg_before
        requests = r["ops"] + r["preload_requests"]
        return {
            "duration_s": r["window_s"], "ops_per_s": r["ops_per_s"], "ops": r["ops"],
            "preload_requests": r["preload_requests"], "requests": requests, "errors": r["errors"],
            "pgstated_cpu_s": used["cpu_s"], "client_cpu_s": r["tool_cpu_s"], "postgres_cpu_s": pg,
            "pgstated_ctxt_switches": used["ctxt_switches"], "pgstated_threads": used["threads"],
            "pgstated_threads_exited": used["threads_exited"],
            "pgstated_cpu_us_per_request": used["cpu_s"] / max(1, requests) * 1e6,
            "pgstated_ctxt_switches_per_request": used["ctxt_switches"] / max(1, requests),
            "rss_before_kib": rss_before, "rss_max_kib": sampler.max_kib,
            "rss_after_kib": proc_status_kib(pid, "VmRSS"),
        }

    def cpu_rss(self) -> Dict[str, Any]:
        """pgstated's CPU, context switches and RSS over a whole mixed run at the largest client count, depth 1,
        no warm-up (so that every request the run makes is counted), and where the CPU goes: pgstated, the load
        generator and PostgreSQL; the same for the baseline pgstated in an A/B; then the same CPU split for
        direct pgbench (-M prepared) for comparison."""
        a = self.a
        clients = max(a.clients)
        sides = ["pgstated"] + (["baseline"] if "baseline" in self.daemons else [])
        log(f"==> CPU and RSS: mixed, {clients} clients, depth 1, {a.cpu_duration:g} s,"
            f" {' then '.join(sides + ['direct'])}")
        out: Dict[str, Any] = {"clients": clients}
        for side in sides:
            out[side] = self.daemon_cpu_rss(self.daemons[side], clients)
            x = out[side]
            log(f"  {side}: {x['requests']} requests, {x['pgstated_cpu_s']:.2f} CPU s ="
                f" {x['pgstated_cpu_us_per_request']:.1f} us and {x['pgstated_ctxt_switches_per_request']:.2f}"
                f" context switches per request; RSS max {x['rss_max_kib'] / 1024:.1f} MiB")
        pg0 = pg_cpu_seconds(a.postmaster_pid)
        d = self.pgbench(a.pg_host, a.pg_port, "prepared", clients, self.scripts_for("mixed"),
                         warmup=0, duration=a.cpu_duration)
        pg = pg_cpu_seconds(a.postmaster_pid) - pg0
        out["direct"] = {"ops_per_s": d["ops_per_s"], "requests": d["txns_total"], "errors": d["errors"],
                         "client_cpu_s": d["tool_cpu_s"], "postgres_cpu_s": pg}
        out["direct"]["duration_s"] = a.cpu_duration
        for side in sides + ["direct"]:
            x = out[side]
            x["cores"] = {k.replace("_cpu_s", ""): round(x[k] / x["duration_s"], 2)
                          for k in ("pgstated_cpu_s", "client_cpu_s", "postgres_cpu_s") if k in x}
            for k in ("pgstated_cpu_s", "client_cpu_s", "postgres_cpu_s"):
                if k in x:
                    x[k.replace("_cpu_s", "_cpu_s_per_100k")] = x[k] / max(1, x["requests"]) * 1e5
        return out

    # 10,000 idle connections ------------------------------------------------------------------------------

    def probe(self, n: int = 200) -> Dict[str, Any]:
        """A fresh client (the Python library): connect + handshake, then n LOADs one at a time."""
        sys.path.insert(0, a_python_path(self.a))
        import pgstate  # noqa: E402

        rnd = random.Random(1)
        t = time.perf_counter()
        c = pgstate.Client(self.a.socket, timeout=30)
        c.connect()
        connect_ms = (time.perf_counter() - t) * 1000
        lats = []
        try:
            for _ in range(n):
                t = time.perf_counter()
                rec = c.load(f"bench-{rnd.randrange(self.a.keys)}")
                lats.append((time.perf_counter() - t) * 1000)
                if rec is None:
                    raise RunFailed("probe LOAD found no record")
        finally:
            c.close()
        first = lats[0]
        lats.sort()
        return {"connect_ms": connect_ms, "first_ms": first, "p50_ms": percentile(lats, 50),
                "p99_ms": percentile(lats, 99), "max_ms": lats[-1], "n": n}

    def idle(self) -> Dict[str, Any]:
        a = self.a
        pid = a.pgstated_pid
        log(f"==> scale: {a.idle_count} idle connections to pgstated")
        out: Dict[str, Any] = {"count": a.idle_count}
        out["rss_before_kib"] = proc_status_kib(pid, "VmRSS")
        out["probe_before"] = self.probe()
        b = self.pgstate_bench("load", 1, 1, False, 0.5, a.idle_duration)
        out["bench_before"] = {k: b[k] for k in ("ops_per_s", "p50_us", "p99_us", "errors")}
        out["rss_before_holder_kib"] = proc_status_kib(pid, "VmRSS")  # just before the idle clients come
        holder = subprocess.Popen([sys.executable, os.path.join(HERE, "idle_holder.py"), "--socket", a.socket,
                                   "--count", str(a.idle_count)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = holder.stdout.readline().split()
            if len(line) != 3 or line[0] != "ready":
                holder.wait(10)
                raise RunFailed(f"idle holder failed (exit {holder.returncode})")
            out["held"], out["open_s"] = int(line[1]), float(line[2])
            log(f"  {out['held']} connections open in {out['open_s']:.1f} s")
            time.sleep(1.0)
            samples = []
            for _ in range(5):
                samples.append(proc_status_kib(pid, "VmRSS"))
                time.sleep(0.2)
            out["rss_held_kib"] = max(samples)
            out["fds_held"] = len(os.listdir(f"/proc/{pid}/fd"))
            out["probe_held"] = self.probe()
            b = self.pgstate_bench("load", 1, 1, False, 0.5, a.idle_duration)
            out["bench_held"] = {k: b[k] for k in ("ops_per_s", "p50_us", "p99_us", "errors")}
            out["rss_held_after_kib"] = proc_status_kib(pid, "VmRSS")
            out["rss_hwm_kib"] = proc_status_kib(pid, "VmHWM")
        finally:
            holder.stdin.close()
            rest = holder.stdout.read().split()
            holder.wait(60)
        out["alive_at_end"] = int(rest[1]) if len(rest) == 2 and rest[0] == "alive" else None
        # The holder has exited (its connections are closed); give pgstated time to let them go.
        time.sleep(1.0)
        out["rss_released_kib"] = proc_status_kib(pid, "VmRSS")
        time.sleep(1.0)
        out["rss_after_leave_kib"] = proc_status_kib(pid, "VmRSS")  # about 2 s after the holder exited
        log(f"  RSS {out['rss_before_holder_kib'] / 1024:.1f} MiB before, {out['rss_held_kib'] / 1024:.1f} MiB held,"
            f" {out['rss_after_leave_kib'] / 1024:.1f} MiB 2 s after they left; still open at the end:"
            f" {out['alive_at_end']}")
        return out


def a_python_path(a: argparse.Namespace) -> str:
    return os.path.join(a.root, "clients", "python", "src")


# --- summary and report -----------------------------------------------------------------------------------

def summarize(runs: List[Dict[str, Any]], kind: str, workload: str, clients: int, system: str) -> Optional[Dict]:
    rs = [r for r in runs if r["kind"] == kind and r["workload"] == workload and r["clients"] == clients
          and r["system"] == system]
    if not rs:
        return None
    ops = [r["ops_per_s"] for r in rs]
    return {
        "kind": kind, "workload": workload, "clients": clients, "system": system, "n": len(rs),
        "ops_per_s": statistics.median(ops), "ops_min": min(ops), "ops_max": max(ops),
        "p50_us": statistics.median(r["p50_us"] for r in rs),
        "p50_min": min(r["p50_us"] for r in rs), "p50_max": max(r["p50_us"] for r in rs),
        "p99_us": statistics.median(r["p99_us"] for r in rs),
        "p99_min": min(r["p99_us"] for r in rs), "p99_max": max(r["p99_us"] for r in rs),
        "errors": sum(r["errors"] for r in rs),
        **{key: statistics.median(r[run_key] for r in rs if run_key in r)
           for key, run_key in (("cpu_us_per_request", "pgstated_cpu_us_per_request"),
                                ("ctxt_switches_per_request", "pgstated_ctxt_switches_per_request"))
           if any(run_key in r for r in rs)},
    }


def fmt_ops(x: float) -> str:
    return f"{x:,.0f}"


def fmt_ms(us: float) -> str:
    ms = us / 1000
    if ms < 1:
        return f"{ms:.3f}"
    if ms < 100:
        return f"{ms:.2f}"
    return f"{ms:.0f}"


def ratio(x: Optional[float], y: Optional[float]) -> str:
    if x is None or y is None or not y:
        return "-"
    return f"{x / y:.2f}x"


def table(headers: List[str], rows: List[List[str]], right: set) -> List[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    def line(cells: List[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def report(b: Bench, settings: Dict[str, str], cpu: Optional[Dict], idle: Optional[Dict],
           bench_seconds: float) -> tuple[str, Dict[str, Any]]:
    a = b.a
    L: List[str] = []
    S: Dict[tuple, Dict] = {}
    with_baseline = "baseline" in b.daemons
    for w in a.workloads:
        for c in a.clients:
            for s in b.systems:
                x = summarize(b.runs, "matrix", w, c, s)
                if x:
                    S[(w, c, s)] = x
        for c in a.limit_clients:
            x = summarize(b.runs, "limit", w, c, "limit")
            if x:
                S[(w, c, "limit")] = x

    def get(w: str, c: int, s: str, key: str = "ops_per_s") -> Optional[float]:
        x = S.get((w, c, s))
        return x.get(key) if x else None

    L.append("pgstate benchmark (make bench)")
    L.append("settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    L.append(f"method: {a.reps} repetitions, each run {a.warmup:g} s warm-up + {a.duration:g} s measured;"
             f" the systems of a cell run back to back in a rotating order; ops/s is the median of the"
             f" repetitions with [min-max]; p50/p99 are medians of the runs' percentiles (ms). {a.keys:,} rows,"
             f" {a.state_size}-byte states. pgbench: one connection per client, -j {a.threads} threads;"
             f" its update is unconditional (no revision check); PgBouncer runs with -M extended (1.18 cannot"
             f" carry named prepared statements in transaction mode). pgstate-bench: one thread per client."
             + (" A/B: the pgstated-baseline rows run the same pgstate-bench against a second pgstated build"
                f" ({a.baseline_bin}) on its own socket, same cluster, pool size and options, in the same rotation."
                if with_baseline else ""))
    L.append("")
    headers = ["workload", "clients", "system", "ops/s", "[min-max]", "p50 ms", "p99 ms",
               "x direct", "x direct-ext", "x pgbouncer", "errors"]
    rows = []
    for w in a.workloads:
        for c in a.clients:
            for s in b.systems:
                x = S.get((w, c, s))
                if not x:
                    rows.append([w, str(c), LABELS[s], "FAILED", "", "", "", "", "", "", ""])
                    continue
                d, de, pb = get(w, c, "direct"), get(w, c, "direct-ext"), get(w, c, "pgbouncer")
                rows.append([w, str(c), LABELS[s], fmt_ops(x["ops_per_s"]),
                             f"[{fmt_ops(x['ops_min'])}-{fmt_ops(x['ops_max'])}]",
                             fmt_ms(x["p50_us"]), fmt_ms(x["p99_us"]),
                             "" if s == "direct" else ratio(x["ops_per_s"], d),
                             ratio(x["ops_per_s"], de) if s not in ("direct", "direct-ext") else "",
                             ratio(x["ops_per_s"], pb) if s.startswith("pgstated") else "",
                             str(x["errors"])])
            rows.append([""] * len(headers))
    rows.pop()
    L += table(headers, rows, right={1, 3, 4, 5, 6, 7, 8, 9, 10})
    L.append("")

    L.append("Physical limit: pgbench -M prepared, pipelines of 16 requests (\\startpipeline ... \\endpipeline, one"
             " Sync: one transaction, one commit per pipeline; a request is a LOAD, or an UPDATE + read-back)")
    headers = ["workload", "connections", "requests/s", "[min-max]", "pipeline p50 ms", "p99 ms",
               "best pgstated d16", "d16 / limit", "errors"]
    rows = []
    limits: Dict[str, float] = {}
    best16: Dict[str, tuple] = {}
    for w in a.workloads:
        lim = max((get(w, c, "limit") or 0, c) for c in a.limit_clients)
        limits[w] = lim[0]
        best16[w] = max(((get(w, c, "pgstated-d16") or 0), c) for c in a.clients)
        for c in a.limit_clients:
            x = S.get((w, c, "limit"))
            if not x:
                rows.append([w, str(c), "FAILED"] + [""] * 6)
                continue
            best = c == lim[1]
            rows.append([w, str(c), fmt_ops(x["ops_per_s"]), f"[{fmt_ops(x['ops_min'])}-{fmt_ops(x['ops_max'])}]",
                         fmt_ms(x["p50_us"]), fmt_ms(x["p99_us"]),
                         f"{fmt_ops(best16[w][0])} ({best16[w][1]} clients)" if best else "",
                         ratio(best16[w][0], lim[0]) if best else "", str(x["errors"])])
    L += table(headers, rows, right={1, 2, 3, 4, 5, 7, 8})
    L.append("")

    # pgstated's CPU and context switches per request in the matrix runs: its CPU (utime + stime) and its threads'
    # context switches (voluntary + involuntary) over the whole run (preload, warm-up, window), divided by the
    # requests of the whole run, estimated as preload + ops/s x (warm-up + window) (Bench.run_requests).
    row_of = {served_by: system for system, served_by in PGSTATED_ROWS.items()}
    daemon_names = ["pgstated"] + (["baseline"] if with_baseline else [])
    depth_columns = [(c, depth) for c in a.clients for depth in (1, 16)]

    daemon_labels = {"pgstated": "pgstated", "baseline": "pgstated-baseline"}
    first_figure = 2 if with_baseline else 1  # the column of the first figure: after workload (and daemon)

    def per_request_table(title: str, key: str, decimals: int) -> None:
        rows = []
        for w in a.workloads:
            for daemon in daemon_names:
                figures = [get(w, c, row_of[(daemon, depth)], key) for c, depth in depth_columns]
                rows.append([w] + ([daemon_labels[daemon]] if with_baseline else [])
                            + [f"{figure:.{decimals}f}" if figure is not None else "-" for figure in figures])
        if all(cell == "-" for row in rows for cell in row[first_figure:]):
            return
        headers = (["workload"] + (["daemon"] if with_baseline else [])
                   + [f"{c} cl d{depth}" for c, depth in depth_columns])
        L.append(title)
        L.extend(table(headers, rows, right=set(range(first_figure, len(headers)))))
        L.append("")

    per_request_table("pgstated CPU per request in the runs above (microseconds, approximate: its CPU over the whole"
                      " run / the run's requests):", "cpu_us_per_request", 1)
    per_request_table("pgstated context switches per request in the runs above (voluntary + involuntary, summed over"
                      " its threads, /proc/PID/task/*/status; approximate like the CPU):",
                      "ctxt_switches_per_request", 2)
    lost_threads = sum(1 for r in b.runs if r.get("pgstated_threads_exited"))
    if lost_threads:
        L.append(f"  ({lost_threads} runs saw pgstated threads exit; their context switches are not counted.)")
        L.append("")

    def daemon_cpu_line(name: str, p: Dict[str, Any]) -> str:
        return (f"{name} under the {cpu['clients']}-client mixed run (depth 1, {p['duration_s']:.1f} s, no warm-up,"
                f" {p['ops_per_s']:,.0f} ops/s, {p['requests']:,} requests incl. {p['preload_requests']:,} of the"
                f" preload): {p['pgstated_cpu_s']:.2f} CPU s = {p['pgstated_cpu_s_per_100k']:.2f} CPU s per 100k"
                f" requests ({p['pgstated_cpu_us_per_request']:.1f} us per request);"
                f" {p['pgstated_ctxt_switches_per_request']:.2f} context switches per request"
                f" ({p['pgstated_ctxt_switches']:,} over its {p['pgstated_threads']} threads); RSS"
                f" {p['rss_before_kib'] / 1024:.1f} MiB before, max {p['rss_max_kib'] / 1024:.1f} MiB during"
                f" (errors {p['errors']}).")

    if cpu:
        p, d = cpu["pgstated"], cpu["direct"]
        L.append(daemon_cpu_line("pgstated", p))
        L.append(f"  CPU s per 100k requests: pgstated {p['pgstated_cpu_s_per_100k']:.2f} + pgstate-bench"
                 f" {p['client_cpu_s_per_100k']:.2f} + PostgreSQL {p['postgres_cpu_s_per_100k']:.2f}"
                 f" = {p['pgstated_cpu_s_per_100k'] + p['client_cpu_s_per_100k'] + p['postgres_cpu_s_per_100k']:.2f};"
                 f" direct pgbench -M prepared, same run ({d['ops_per_s']:,.0f} ops/s): pgbench"
                 f" {d['client_cpu_s_per_100k']:.2f} + PostgreSQL {d['postgres_cpu_s_per_100k']:.2f}"
                 f" = {d['client_cpu_s_per_100k'] + d['postgres_cpu_s_per_100k']:.2f} (errors {d['errors']}).")
        L.append(f"  cores busy: pgstated {p['cores']['pgstated']:.2f}, pgstate-bench {p['cores']['client']:.2f},"
                 f" PostgreSQL {p['cores']['postgres']:.2f}; direct: pgbench {d['cores']['client']:.2f},"
                 f" PostgreSQL {d['cores']['postgres']:.2f} (of {os.cpu_count()}).")
        if "baseline" in cpu:
            q = cpu["baseline"]
            L.append(daemon_cpu_line("pgstated-baseline", q))
            baseline_total = q["pgstated_cpu_s_per_100k"] + q["client_cpu_s_per_100k"] + q["postgres_cpu_s_per_100k"]
            L.append(f"  CPU s per 100k requests: pgstated-baseline {q['pgstated_cpu_s_per_100k']:.2f} + pgstate-bench"
                     f" {q['client_cpu_s_per_100k']:.2f} + PostgreSQL {q['postgres_cpu_s_per_100k']:.2f}"
                     f" = {baseline_total:.2f};"
                     f" cores busy: pgstated-baseline {q['cores']['pgstated']:.2f}, pgstate-bench"
                     f" {q['cores']['client']:.2f}, PostgreSQL {q['cores']['postgres']:.2f}.")
    if idle and "rss_held_kib" in idle:
        pb, ph = idle["probe_before"], idle["probe_held"]
        bb, bh = idle["bench_before"], idle["bench_held"]
        per_conn = (idle["rss_held_kib"] - idle["rss_before_kib"]) / max(1, idle["held"])
        L.append(f"{idle['held']:,} idle connections held (opened with the handshake in {idle['open_s']:.1f} s;"
                 f" {idle['alive_at_end']} still open at the end; pgstated fds {idle['fds_held']:,}):"
                 f" pgstated RSS {idle['rss_before_kib'] / 1024:.1f} MiB before -> {idle['rss_held_kib'] / 1024:.1f}"
                 f" MiB held ({per_conn:.1f} KiB per connection; peak VmHWM {idle['rss_hwm_kib'] / 1024:.1f} MiB),"
                 f" {idle['rss_released_kib'] / 1024:.1f} MiB 1 s after release.")
        if "rss_after_leave_kib" in idle:
            L.append(f"  RSS just before the idle clients came {idle['rss_before_holder_kib'] / 1024:.1f} MiB;"
                     f" 2 s after they left {idle['rss_after_leave_kib'] / 1024:.1f} MiB.")
        L.append(f"  LOAD through a fresh client while held: connect+HELLO {ph['connect_ms']:.2f} ms, first LOAD"
                 f" {ph['first_ms']:.3f} ms, p50 {ph['p50_ms']:.3f} / p99 {ph['p99_ms']:.3f} / max {ph['max_ms']:.3f}"
                 f" ms over {ph['n']} (Python client; before holding: connect {pb['connect_ms']:.2f} ms, first"
                 f" {pb['first_ms']:.3f}, p50 {pb['p50_ms']:.3f}, p99 {pb['p99_ms']:.3f} ms).")
        L.append(f"  pgstate-bench load, 1 client, depth 1, {a.idle_duration:g} s: p50 {fmt_ms(bh['p50_us'])} /"
                 f" p99 {fmt_ms(bh['p99_us'])} ms, {bh['ops_per_s']:,.0f} ops/s while held; p50"
                 f" {fmt_ms(bb['p50_us'])} / p99 {fmt_ms(bb['p99_us'])} ms, {bb['ops_per_s']:,.0f} ops/s before"
                 f" (errors {bh['errors'] + bb['errors']}).")
    elif idle:
        L.append(f"{idle['count']:,} idle connections: FAILED ({idle.get('error', '')})")
    L.append("")

    def paired(w: str, c: int, s1: str, s2: Optional[str], key: str = "ops_per_s") -> str:
        """The ratio s1/s2 within each repetition (the two ran back to back); with s2 None, s1's own figure."""
        def one(rep: int, s: str) -> Optional[float]:
            return next((r.get(key) for r in b.runs if r["kind"] == "matrix" and r["rep"] == rep and r["workload"] == w
                         and r["clients"] == c and r["system"] == s), None)
        vals = []
        for rep in range(1, a.reps + 1):
            x = one(rep, s1)
            if s2 is None:
                if x is not None:
                    vals.append(f"{x:.2f}")
                continue
            y = one(rep, s2)
            if x is not None and y:
                vals.append(f"{x / y:.2f}")
        return "per repetition " + ", ".join(vals) if vals else ""

    cmax = max(a.clients)
    cmin = min(a.clients)

    def per_request_ratio(key: str, unit: str, decimals: int) -> str:
        """pgstated's figure / the baseline's for mixed, cmax clients, depth 1: matrix medians, per repetition,
        and the CPU/RSS run."""
        ours, theirs = get("mixed", cmax, "pgstated-d1", key), get("mixed", cmax, "pgstated-baseline-d1", key)
        if ours is None or not theirs:
            return "not measured (no mixed runs at depth 1 on both daemons)"
        text = (f"{ours / theirs:.2f}x ({ours:.{decimals}f} vs {theirs:.{decimals}f}{unit}, medians of the matrix;"
                f" {paired('mixed', cmax, 'pgstated-d1', 'pgstated-baseline-d1', 'pgstated_' + key)}")
        if cpu and "baseline" in cpu and cpu["clients"] == cmax and cpu["baseline"]["pgstated_" + key]:
            ours_run, theirs_run = cpu["pgstated"]["pgstated_" + key], cpu["baseline"]["pgstated_" + key]
            text += (f"; CPU/RSS run {ours_run / theirs_run:.2f}x, {ours_run:.{decimals}f} vs"
                     f" {theirs_run:.{decimals}f}{unit}")
        return text + ")"

    # A/B against the baseline build.
    if with_baseline:
        L.append(f"A/B: pgstated {settings.get('pgstated', '')} against pgstated-baseline"
                 f" {settings.get('pgstated-baseline', a.baseline_bin)}, mixed, {cmax} clients, depth 1:")
        ours, theirs = get("mixed", cmax, "pgstated-d1"), get("mixed", cmax, "pgstated-baseline-d1")
        L.append(f"  ops/s, pgstated / baseline: {ratio(ours, theirs)}"
                 + (f" ({fmt_ops(ours)} vs {fmt_ops(theirs)} ops/s;"
                    f" {paired('mixed', cmax, 'pgstated-d1', 'pgstated-baseline-d1')})" if ours and theirs else ""))
        L.append("  pgstated CPU per request / baseline CPU per request: "
                 + per_request_ratio("cpu_us_per_request", " us", 1))
        L.append("  pgstated context switches per request / baseline context switches per request: "
                 + per_request_ratio("ctxt_switches_per_request", "", 2))
        L.append("")

    # Targets: the floors, each measured. Informational: make bench exits 0 whatever they show.
    targets: List[tuple] = []

    def target(name: str, met: Optional[bool], measured: str) -> None:
        targets.append((name, met, measured))

    def not_measured(name: str, why: str) -> None:
        targets.append((name, None, f"not measured: {why}"))

    missing_runs = "no such run (see BENCH_CLIENTS, BENCH_WORKLOADS, and the failed runs)"

    name = f"mixed 80/20, {cmax} clients, depth 1: pgstated / direct -M prepared ops/s >= 1.5x"
    mixed_ours, mixed_direct = get("mixed", cmax, "pgstated-d1"), get("mixed", cmax, "direct")
    if mixed_ours and mixed_direct:
        target(name, mixed_ours >= 1.5 * mixed_direct,
               f"{mixed_ours / mixed_direct:.2f}x ({fmt_ops(mixed_ours)} vs {fmt_ops(mixed_direct)} ops/s;"
               f" {paired('mixed', cmax, 'pgstated-d1', 'direct')};"
               f" vs direct -M extended {ratio(mixed_ours, get('mixed', cmax, 'direct-ext'))})")
    else:
        not_measured(name, missing_runs)

    name = f"update, {cmax} clients, depth 1: pgstated / direct -M prepared ops/s >= 2.5x"
    update_ours, update_direct = get("update", cmax, "pgstated-d1"), get("update", cmax, "direct")
    if update_ours and update_direct:
        target(name, update_ours >= 2.5 * update_direct,
               f"{update_ours / update_direct:.2f}x ({fmt_ops(update_ours)} vs {fmt_ops(update_direct)} ops/s;"
               f" {paired('update', cmax, 'pgstated-d1', 'direct')};"
               f" depth 16: {ratio(get('update', cmax, 'pgstated-d16'), update_direct)})")
    else:
        not_measured(name, missing_runs)

    name = f"load, {cmin} client{'s' if cmin != 1 else ''}, depth 1: pgstated p50 / direct -M prepared p50 <= 1.3x"
    load_p50_ours, load_p50_direct = get("load", cmin, "pgstated-d1", "p50_us"), get("load", cmin, "direct", "p50_us")
    if load_p50_ours and load_p50_direct:
        target(name, load_p50_ours <= 1.3 * load_p50_direct,
               f"{load_p50_ours / load_p50_direct:.2f}x ({fmt_ms(load_p50_ours)} vs {fmt_ms(load_p50_direct)} ms;"
               f" {paired('load', cmin, 'pgstated-d1', 'direct', 'p50_us')})")
    else:
        not_measured(name, missing_runs)

    for w in ("load", "mixed"):
        name = f"{w}, {cmax} clients, depth 16: pgstated / physical limit >= 0.6"
        depth16 = get(w, cmax, "pgstated-d16")
        if depth16 and limits.get(w):
            target(name, depth16 >= 0.6 * limits[w],
                   f"{depth16 / limits[w]:.2f} of the limit ({fmt_ops(depth16)} vs {fmt_ops(limits[w])} requests/s)")
        else:
            not_measured(name, missing_runs)

    for w, c, floor in (("load", cmin, 2.5), ("mixed", cmax, 0.3)):
        name = (f"{w}, {c} client{'s' if c != 1 else ''}, depth 1: pgstated context switches per request"
                f" <= {floor:g}")
        switches = get(w, c, "pgstated-d1", "ctxt_switches_per_request")
        if switches is None:
            not_measured(name, missing_runs)
            continue
        measured = (f"{switches:.2f} (median of the matrix;"
                    f" {paired(w, c, 'pgstated-d1', None, 'pgstated_ctxt_switches_per_request')}")
        if w == "mixed" and cpu and cpu["clients"] == c:
            measured += f"; CPU/RSS run {cpu['pgstated']['pgstated_ctxt_switches_per_request']:.2f}"
        target(name, switches <= floor, measured + ")")

    name = f"mixed, {cmax} clients, depth 1: pgstated CPU per request / baseline build's <= 0.35x"
    ours, theirs = get("mixed", cmax, "pgstated-d1", "cpu_us_per_request"), \
        get("mixed", cmax, "pgstated-baseline-d1", "cpu_us_per_request")
    if not with_baseline:
        not_measured(name, "set PGSTATED_BASELINE_BIN")
    elif ours is None or not theirs:
        not_measured(name, missing_runs)
    else:
        target(name, ours <= 0.35 * theirs, per_request_ratio("cpu_us_per_request", " us", 1))

    name = f"RSS with {a.idle_count:,} idle clients <= 64 MiB"
    if idle and "rss_held_kib" in idle:
        held_all = idle["held"] >= a.idle_count
        target(name, idle["rss_held_kib"] <= 64 * 1024 and held_all,
               f"{idle['rss_held_kib'] / 1024:.1f} MiB" + ("" if held_all else f" (only {idle['held']:,} held)"))
    else:
        not_measured(name, "the idle test failed")

    name = "RSS 2 s after the idle clients leave within 20 % of RSS just before they came"
    if idle and "rss_after_leave_kib" in idle and idle["rss_before_holder_kib"]:
        before, after = idle["rss_before_holder_kib"], idle["rss_after_leave_kib"]
        target(name, abs(after - before) <= 0.2 * before,
               f"{after / 1024:.1f} vs {before / 1024:.1f} MiB ({(after / before - 1) * 100:+.0f} %)")
    else:
        not_measured(name, "the idle test failed")

    status_words = {True: "met", False: "missed", None: "-"}
    L.append("Targets (informational; make bench exits 0 whatever they show):")
    for name, met, measured in targets:
        L.append(f"  {'[' + status_words[met] + ']':8s} {name}: {measured}")
    L.append("")

    # The comparisons of earlier targets that no floor covers now.
    others = []
    mixed_bouncer = get("mixed", cmax, "pgbouncer")
    if mixed_ours and mixed_bouncer:
        others.append(f"mixed, {cmax} clients, depth 1, pgstated / PgBouncer ops/s: {mixed_ours / mixed_bouncer:.2f}x"
                      f" ({paired('mixed', cmax, 'pgstated-d1', 'pgbouncer')})")
    p99_ours, p99_direct = get("mixed", cmax, "pgstated-d1", "p99_us"), get("mixed", cmax, "direct", "p99_us")
    if p99_ours and p99_direct:
        others.append(f"mixed, {cmax} clients, depth 1, p99: pgstated {fmt_ms(p99_ours)} vs direct"
                      f" {fmt_ms(p99_direct)} ms ({paired('mixed', cmax, 'pgstated-d1', 'direct', 'p99_us')})")
    update_depth16 = get("update", cmax, "pgstated-d16")
    if update_depth16 and limits.get("update"):
        others.append(f"update, {cmax} clients, depth 16, pgstated / physical limit:"
                      f" {update_depth16 / limits['update']:.2f}")
    if others:
        L.append("Other comparisons (no target):")
        L += [f"  {line}" for line in others]
        L.append("")

    errors = [(k, v["errors"]) for k, v in S.items() if v["errors"]]
    if errors:
        L.append("Runs with errors: " + ", ".join(f"{w} c={c} {s}: {e}" for (w, c, s), e in errors))
    if b.failures:
        L.append("Runs that failed to run:")
        L += [f"  {f}" for f in b.failures]
    L.append(f"benchmark time: {bench_seconds:.0f} s ({len(b.runs)} runs); since `make bench` started:"
             f" {time.time() - a.t0_epoch:.0f} s")
    data = {"settings": settings, "summary": list(S.values()), "runs": b.runs, "cpu": cpu, "idle": idle,
            "limits": limits, "targets": [{"target": n, "pass": met, "status": status_words[met], "measured": m}
                                          for n, met, m in targets],
            "failures": b.failures, "bench_seconds": bench_seconds,
            "config": {k: v for k, v in vars(a).items() if k not in ("t0",)}}
    return "\n".join(L) + "\n", data


def write_tsv(path: str, rows: List[Dict[str, Any]], cols: List[str]) -> None:
    with open(path, "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r.get(c, "")) for c in cols) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description="make bench's runner (see scripts/bench.sh)")
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pgbench", required=True)
    ap.add_argument("--pgstate-bench", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pgstated-pid", type=int, required=True)
    ap.add_argument("--postmaster-pid", type=int, required=True)
    ap.add_argument("--baseline-socket", default="", help="A/B: the socket of a second pgstated build")
    ap.add_argument("--baseline-pid", type=int, default=0, help="A/B: that pgstated's pid")
    ap.add_argument("--baseline-bin", default="", help="A/B: that pgstated's binary (for the report)")
    ap.add_argument("--pg-host", required=True)
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--bouncer-host", required=True)
    ap.add_argument("--bouncer-port", type=int, required=True)
    ap.add_argument("--dbname", default="pgstate")
    ap.add_argument("--settings", default="{}", help="JSON object: the settings line")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--duration", type=float, default=2.5)
    ap.add_argument("--workloads", default="load,update,mixed")
    ap.add_argument("--clients", default="1,16,64")
    ap.add_argument("--limit-clients", default="4,16")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="pgbench -j (at most the clients)")
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--state-size", type=int, default=200)
    ap.add_argument("--cpu-duration", type=float, default=5)
    ap.add_argument("--idle-count", type=int, default=10000)
    ap.add_argument("--idle-duration", type=float, default=2)
    ap.add_argument("--t0-epoch", type=float, default=time.time(), help="when make bench started")
    a = ap.parse_args()
    a.workloads = [w for w in a.workloads.split(",") if w]
    a.clients = [int(c) for c in a.clients.split(",") if c]
    a.limit_clients = [int(c) for c in a.limit_clients.split(",") if c]
    a.t0 = time.monotonic()
    if a.baseline_socket and not a.baseline_pid:
        ap.error("--baseline-socket needs --baseline-pid")
    if (a.warmup + a.duration) != math.ceil(a.warmup + a.duration):
        log(f"note: pgbench runs whole seconds: {math.ceil(a.warmup + a.duration)} s, of which the"
            f" {a.duration:g} s after the first {a.warmup:g} s are measured")
    os.makedirs(a.out, exist_ok=True)
    settings = json.loads(a.settings)

    b = Bench(a)
    b.matrix()
    cpu = idle = None
    try:
        cpu = b.cpu_rss()
    except RunFailed as e:
        b.failures.append(f"CPU/RSS run: {e}")
    try:
        idle = b.idle()
    except (RunFailed, OSError) as e:
        b.failures.append(f"idle connections: {e}")
        idle = {"count": a.idle_count, "error": str(e)}
    bench_seconds = time.monotonic() - a.t0

    text, data = report(b, settings, cpu, idle, bench_seconds)
    print()
    print(text, end="")
    with open(os.path.join(a.out, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(data, f, indent=1, default=str)
    write_tsv(os.path.join(a.out, "summary.tsv"), data["summary"],
              ["kind", "workload", "clients", "system", "n", "ops_per_s", "ops_min", "ops_max", "p50_us",
               "p50_min", "p50_max", "p99_us", "p99_min", "p99_max", "errors", "cpu_us_per_request",
               "ctxt_switches_per_request"])
    write_tsv(os.path.join(a.out, "runs.tsv"), b.runs,
              ["rep", "kind", "workload", "clients", "system", "ops", "window_s", "ops_per_s", "p50_us", "p99_us",
               "p999_us", "errors", "tool_cpu_s", "pgstated_cpu_s", "pgstated_ctxt_switches",
               "pgstated_cpu_us_per_request", "pgstated_ctxt_switches_per_request", "pgstated_threads_exited",
               "wall_s", "at"])
    shutil.rmtree(b.work, ignore_errors=True)
    b.tool_log.close()
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())
