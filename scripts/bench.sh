#!/usr/bin/env bash
# `make bench`: pgstated against direct pgbench and PgBouncer on one throwaway PostgreSQL cluster, plus the
# physical limit (pipelined pgbench), pgstated's CPU, context switches and RSS under load and 10,000 idle clients;
# optionally an A/B against a second pgstated build (PGSTATED_BASELINE_BIN). See BENCHMARKS.md.
#
# Installs what is missing (lib.sh's packages and pgbouncer), builds pgstated (release) and pgstate-bench,
# starts its OWN cluster, pgstated and PgBouncer (nothing of `make run` is touched), runs scripts/bench/bench.py,
# which prints the table, then stops everything it started and deletes the cluster's data. The results stay in
# $PGSTATE_BENCH_DIR/results (report.txt, summary.tsv, runs.tsv, results.json, logs).
#
# Knobs (environment):
#   PGSTATED_BIN            use this pgstated instead of building it (swift build -c release --static-swift-stdlib --product pgstated)
#   PGSTATED_BASELINE_BIN   A/B: also start this pgstated (own socket and table copy, same cluster, pool size and options) and run
#                           "pgstated-baseline" depth 1 and 16 rows beside the pgstated rows; unset: no baseline
#   PGSTATE_BENCH_DIR       run folder (default .run/bench in the checkout)
#   PGSTATE_BENCH_PG_PORT   the cluster's port (default 54339; Unix socket only); PgBouncer uses it + 1
#   BENCH_REPS              repetitions (default 3)
#   BENCH_WARMUP, BENCH_DURATION   seconds per run (default 0.5 + 2.5; pgbench runs their sum, whole seconds)
#   BENCH_CLIENTS           client counts (default "1 16 64")
#   BENCH_WORKLOADS         default "load update mixed"
#   BENCH_LIMIT_CLIENTS     connections of the pipelined physical-limit runs (default "4 16")
#   BENCH_POOL_SIZE         pgstated --pool-size and PgBouncer default_pool_size (default 4)
#   BENCH_IDLE              idle connections for the scale test (default 10000)
#   BENCH_KEEP_DATA=1       keep the cluster's data folder afterwards
#   BENCH_PARTS             "main multikey" (default): the comparison above, then scripts/bench/multikey.py (BULK_LOAD,
#                           TRANSACT and LIST against the single requests they replace); `make bench-multikey` runs only
#                           the latter
set -euo pipefail
SECONDS=0
T0=$(date +%s.%N)
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${PGSTATE_BENCH_DIR:-$(cd "$HERE/.." && pwd)/.run/bench}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
# lib.sh reads these when sourced: the bench never uses the cluster or the database of `make run`.
export PGSTATE_RUN_DIR=$BENCH_DIR
export PGSTATE_PG_PORT=${PGSTATE_BENCH_PG_PORT:-54339}
unset PGSTATED_DATABASE_URL PGSTATE_PG_STARTED PG_DIR
# shellcheck source=lib.sh
source "$HERE/lib.sh"
cd "$ROOT"
DEBIAN_PACKAGES+=(pgbouncer)

REPS=${BENCH_REPS:-3}
WARMUP=${BENCH_WARMUP:-0.5}
DURATION=${BENCH_DURATION:-2.5}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
WORKLOADS=${BENCH_WORKLOADS:-load update mixed}
LIMIT_CLIENTS=${BENCH_LIMIT_CLIENTS:-4 16}
POOL_SIZE=${BENCH_POOL_SIZE:-4}
IDLE=${BENCH_IDLE:-10000}
KEYS=10000
STATE_SIZE=200
BOUNCER_PORT=$((PGSTATE_PG_PORT + 1))
RESULTS=$BENCH_DIR/results

# Unix socket paths are limited to ~107 bytes, and the cluster and PgBouncer run as postgres when we are root:
# when the run folder is long or out of postgres's reach, the sockets and the cluster go under /tmp.
if [ ${#BENCH_DIR} -le 60 ] && { [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$BENCH_DIR" 2>/dev/null; }; then
    SOCK_DIR=$BENCH_DIR/sock
    PG_DIR=$BENCH_DIR/pg
else
    SOCK_DIR=$(mktemp -d /tmp/pgstate-bench-sock-XXXXXX)
    chmod 755 "$SOCK_DIR"
    PG_DIR=/tmp/pgstate-bench-pg-$(echo "$BENCH_DIR" | md5sum | cut -c1-8)
fi
BOUNCER_DIR=$SOCK_DIR/pgbouncer
PGSTATED_SOCK=$SOCK_DIR/pgstated.sock
BASELINE_SOCK=$SOCK_DIR/pgstated-baseline.sock

PGSTATED_PID=
BASELINE_PID=
BOUNCER_PID=
cleanup() {
    local rc=$?
    set +e
    local daemon_pid
    for daemon_pid in "$PGSTATED_PID" "$BASELINE_PID"; do
        [ -n "$daemon_pid" ] || continue
        kill -TERM "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
    done
    if [ -n "$BOUNCER_PID" ]; then
        kill -INT "$BOUNCER_PID" 2>/dev/null
        wait "$BOUNCER_PID" 2>/dev/null
    fi
    pg_stop
    if [ -d "$PG_DIR" ]; then
        cp "$PG_DIR/postgres.log" "$RESULTS/postgres.log" 2>/dev/null
        [ "${BENCH_KEEP_DATA:-}" = 1 ] || rm -rf "$PG_DIR"
    fi
    [ -d "$BOUNCER_DIR" ] && cp "$BOUNCER_DIR/pgbouncer.log" "$RESULTS/pgbouncer.log" 2>/dev/null
    rm -rf "$SOCK_DIR"
    printf '==> make bench took %d s (%d min %02d s); results in %s\n' "$SECONDS" "$((SECONDS / 60))" \
        "$((SECONDS % 60))" "$RESULTS" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_packages
BINDIR=$(pg_bindir)
[ -x "$BINDIR/pgbench" ] || die "pgbench not found in $BINDIR"

if [ -n "${PGSTATED_BIN:-}" ]; then
    bin=$PGSTATED_BIN
    log "using pgstated $bin (PGSTATED_BIN)"
else
    log "building pgstated (release)"
    "${SWIFT_RELEASE[@]}" --product pgstated
    bin=$("${SWIFT_RELEASE[@]}" --show-bin-path)/pgstated
fi
[ -x "$bin" ] || die "no pgstated at $bin"
baseline_bin=${PGSTATED_BASELINE_BIN:-}
if [ -n "$baseline_bin" ]; then
    [ -x "$baseline_bin" ] || die "no pgstated at $baseline_bin (PGSTATED_BASELINE_BIN)"
    log "A/B: baseline pgstated $baseline_bin (PGSTATED_BASELINE_BIN)"
fi
PARTS=${BENCH_PARTS:-main multikey}
TOOL=$ROOT/bench/build/pgstate-bench
if [[ " $PARTS " == *" main "* ]]; then
    log "building pgstate-bench"
    make -s -C "$ROOT/bench" >/dev/null
fi

mkdir -p "$RESULTS" "$SOCK_DIR"
rm -f "$RESULTS"/*
# A fresh cluster every time: same settings, no leftovers of an earlier run.
if [ -f "$PG_DIR/data/PG_VERSION" ]; then
    pg_as_owner "$BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
fi
pg_start
PSQL=("$BINDIR/psql" -X -q -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres -d pgstate)
log "loading $KEYS rows with $STATE_SIZE-byte states"
"${PSQL[@]}" -v keys=$KEYS -v state_size=$STATE_SIZE -f "$HERE/bench/schema.sql" >/dev/null

# pgstated and the idle-connection holder need more than 10,000 descriptors.
ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((IDLE + 1000)) ] || log "warning: open-files limit $(ulimit -n) is low for $IDLE idle connections"

# Starts a pgstated in the background with the bench's options and waits until it is ready. Its pid goes into
# the variable named by pid_variable at once, so that cleanup stops it even if it never gets ready. Both the
# measured pgstated and the baseline start through here, so they run with the same options.
start_pgstated() {
    local name=$1 binary=$2 socket=$3 logfile=$4 pid_variable=$5 table=$6 daemon_pid
    log "starting $name (pool size $POOL_SIZE, table $table) on $socket"
    PGSTATED_DATABASE_URL="$PGSTATED_DATABASE_URL" PGSTATED_LOG_LEVEL=info \
        "$binary" --socket "$socket" --pool-size "$POOL_SIZE" --table "$table" >"$logfile" 2>&1 &
    daemon_pid=$!
    printf -v "$pid_variable" '%s' "$daemon_pid"
    for _ in $(seq 300); do
        [ -S "$socket" ] && grep -q "ready" "$logfile" && break
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$logfile" >&2; die "$name exited"; }
        sleep 0.1
    done
    [ -S "$socket" ] || die "$name did not open $socket"
}
start_pgstated pgstated "$bin" "$PGSTATED_SOCK" "$RESULTS/pgstated.log" PGSTATED_PID durable_state
BASELINE_ARGS=()
if [ -n "$baseline_bin" ]; then
    # Its own copy of the rows, in the first schema (schema.sql): a baseline build of either schema runs as designed.
    start_pgstated pgstated-baseline "$baseline_bin" "$BASELINE_SOCK" "$RESULTS/pgstated-baseline.log" BASELINE_PID \
        durable_state_baseline
    BASELINE_ARGS=(--baseline-socket "$BASELINE_SOCK" --baseline-pid "$BASELINE_PID" --baseline-bin "$baseline_bin")
fi
# The daemons have migrated their tables (schema.sql loads them in the first schema): statistics and a checkpoint
# now, so that no run pays for them.
log "checking the tables pgstated set up"
[ "$("${PSQL[@]}" -At -c "SELECT count(*) FROM durable_state WHERE namespace = ''")" = "$KEYS" ] \
    || die "durable_state does not hold the $KEYS rows in the shared namespace after pgstated's start-up"
"${PSQL[@]}" -c "VACUUM ANALYZE durable_state" -c "VACUUM ANALYZE durable_state_baseline" -c "CHECKPOINT" >/dev/null

log "starting PgBouncer (transaction mode, default_pool_size $POOL_SIZE) on $BOUNCER_DIR port $BOUNCER_PORT"
mkdir -p "$BOUNCER_DIR"
cat >"$BOUNCER_DIR/pgbouncer.ini" <<INI
[databases]
pgstate = host=$PG_DIR/sock port=$PG_PORT dbname=pgstate user=postgres

[pgbouncer]
; Unix socket only, like the cluster and pgstated.
listen_addr =
listen_port = $BOUNCER_PORT
unix_socket_dir = $BOUNCER_DIR
auth_type = trust
auth_file = $BOUNCER_DIR/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 300
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
logfile = $BOUNCER_DIR/pgbouncer.log
pidfile = $BOUNCER_DIR/pgbouncer.pid
INI
echo '"postgres" ""' >"$BOUNCER_DIR/userlist.txt"
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$BOUNCER_DIR"
    pgbouncer -q -u postgres "$BOUNCER_DIR/pgbouncer.ini" &
else
    pgbouncer -q "$BOUNCER_DIR/pgbouncer.ini" &
fi
BOUNCER_PID=$!
for _ in $(seq 100); do
    [ -S "$BOUNCER_DIR/.s.PGSQL.$BOUNCER_PORT" ] && break
    kill -0 "$BOUNCER_PID" 2>/dev/null || die "PgBouncer exited (log: $BOUNCER_DIR/pgbouncer.log)"
    sleep 0.1
done
"$BINDIR/psql" -X -qAt -h "$BOUNCER_DIR" -p "$BOUNCER_PORT" -U postgres -d pgstate -c "SELECT 1" >/dev/null \
    || die "PgBouncer does not reach the cluster"

# The settings line of the report.
show() { "${PSQL[@]}" -At -c "SHOW $1"; }
settings=$(python3 - "$bin" "$baseline_bin" <<PY
import json, os, subprocess, sys
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
def version(binary):
    return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[-1]
baseline = sys.argv[2]
print(json.dumps({
    "PostgreSQL": "$(show server_version | cut -d' ' -f1)",
    "fsync": "$(show fsync)", "synchronous_commit": "$(show synchronous_commit)",
    "full_page_writes": "$(show full_page_writes)", "shared_buffers": "$(show shared_buffers)",
    "max_connections": "$(show max_connections)",
    "pool size": "$POOL_SIZE (pgstated --pool-size = PgBouncer default_pool_size)",
    "pgstated": version(sys.argv[1]) + (f" ({sys.argv[1]})" if baseline else ""),
    **({"pgstated-baseline": f"{version(baseline)} ({baseline})"} if baseline else {}),
    "PgBouncer": "$(pgbouncer -V 2>/dev/null | head -n1 | awk '{print $2}')",
    "CPUs": f"{os.cpu_count()} ({model})", "memory": f"{mem / 1048576:.1f} GiB",
}))
PY
)

systems=5
[ -z "$baseline_bin" ] || systems=7
status=0
set +e
if [[ " $PARTS " == *" main "* ]]; then
log "running the benchmark: $REPS repetitions of {$WORKLOADS} x {$CLIENTS} clients x $systems systems + the limit"
python3 "$HERE/bench/bench.py" --root "$ROOT" --out "$RESULTS" \
    --pgbench "$BINDIR/pgbench" --pgstate-bench "$TOOL" --socket "$PGSTATED_SOCK" --pgstated-pid "$PGSTATED_PID" \
    --postmaster-pid "$(head -n 1 "$PG_DIR/data/postmaster.pid")" \
    --pg-host "$PG_DIR/sock" --pg-port "$PG_PORT" --bouncer-host "$BOUNCER_DIR" --bouncer-port "$BOUNCER_PORT" \
    --settings "$settings" --reps "$REPS" --warmup "$WARMUP" --duration "$DURATION" \
    --workloads "$(echo $WORKLOADS | tr ' ' ,)" --clients "$(echo $CLIENTS | tr ' ' ,)" \
    --limit-clients "$(echo $LIMIT_CLIENTS | tr ' ' ,)" --keys "$KEYS" --state-size "$STATE_SIZE" \
    --idle-count "$IDLE" --t0-epoch "$T0" ${BASELINE_ARGS[@]+"${BASELINE_ARGS[@]}"}
status=$?
fi
if [[ " $PARTS " == *" multikey "* ]]; then
    log "multi-key requests: BULK_LOAD, TRANSACT and LIST against the single requests they replace"
    python3 "$HERE/bench/multikey.py" --socket "$PGSTATED_SOCK" --pgstated-pid "$PGSTATED_PID" --out "$RESULTS" \
        --keys "$KEYS" --reps "$REPS" --warmup "$WARMUP" --duration "$DURATION" || status=1
fi
set -e
kill -0 "$PGSTATED_PID" 2>/dev/null || { log "pgstated died during the benchmark"; status=1; }
if [ -n "$BASELINE_PID" ]; then
    kill -0 "$BASELINE_PID" 2>/dev/null || { log "pgstated-baseline died during the benchmark"; status=1; }
fi
kill -0 "$BOUNCER_PID" 2>/dev/null || { log "PgBouncer died during the benchmark"; status=1; }
exit $status
