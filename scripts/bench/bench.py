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

It prints the report on stdout and writes it, with every run's raw figures, under --out. Beside it:
procstat.py (what is sampled from /proc), report.py (the summary, the targets, the TSV files) and systems.py
(the names of the systems compared). Standard library
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
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from procstat import DaemonSample, RssSampler, pg_cpu_seconds, proc_status_kib
from report import report, write_tsv
from systems import BASELINE_SYSTEMS, PGSTATED_ROWS, SYSTEMS

HERE = os.path.dirname(os.path.abspath(__file__))


class RunFailed(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


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
