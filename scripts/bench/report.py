"""bench.py's report: the summary of the runs, the tables, the targets, and the TSV files."""

from __future__ import annotations

import os
import statistics
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from systems import LABELS, PGSTATED_ROWS

if TYPE_CHECKING:  # pragma: no cover
    from bench import Bench


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
                f" ({a.baseline_bin}) on its own socket and its own copy of the rows (table durable_state_baseline, first schema), same cluster, pool size and options, in the same rotation."
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

    # Throughput against direct -M prepared, each with one more figure after the pair.
    for w, label, floor, more in (
            ("mixed", "mixed 80/20", 1.5, lambda ours, direct: "vs direct -M extended "
             + ratio(ours, get("mixed", cmax, "direct-ext"))),
            ("update", "update", 2.5, lambda ours, direct: "depth 16: "
             + ratio(get("update", cmax, "pgstated-d16"), direct))):
        name = f"{label}, {cmax} clients, depth 1: pgstated / direct -M prepared ops/s >= {floor:g}x"
        ours, direct = get(w, cmax, "pgstated-d1"), get(w, cmax, "direct")
        if ours and direct:
            target(name, ours >= floor * direct,
                   f"{ours / direct:.2f}x ({fmt_ops(ours)} vs {fmt_ops(direct)} ops/s;"
                   f" {paired(w, cmax, 'pgstated-d1', 'direct')}; {more(ours, direct)})")
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
    mixed_ours, mixed_bouncer = get("mixed", cmax, "pgstated-d1"), get("mixed", cmax, "pgbouncer")
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
