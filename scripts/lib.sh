# Shared helpers for the project's scripts: installing what a fresh Debian machine lacks and running a
# throwaway PostgreSQL cluster. Sourced, not executed.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${PGSTATE_RUN_DIR:-$ROOT/.run}
# libjson-c-dev: only the C client's tests (they read the shared JSON vectors with it).
# prometheus: only for its promtool, which the operator tests run on a scrape of /metrics.
# dpkg-dev, binutils, lintian: `make deb` (dpkg-shlibdeps, strip, the package check); debootstrap, systemd-container:
# `make test-systemd` (a minimal Debian root booted with systemd-nspawn).
# libssl-dev, zlib1g-dev, libzstd-dev: the C client's optional envelope layer (libpgstate-envelope: AES-GCM / HMAC,
# gzip, zstd); the core libpgstate stays libc only.
# python3-cryptography, python3-zstandard, zstd: the envelope's vector generator and reference decoder
# (proto-spec/tools/gen_envelope_vectors.py; zstd through the module or, for a Python that cannot import it, the
# zstd command) and the Python client's optional envelope extras in its tests.
DEBIAN_PACKAGES=(postgresql libpq-dev libsystemd-dev pkg-config python3 python3-venv make gcc systemd libjson-c-dev
    prometheus dpkg-dev binutils lintian debootstrap systemd-container libssl-dev zlib1g-dev libzstd-dev
    python3-cryptography python3-zstandard zstd)

# Release builds link the Swift runtime statically, so an installed binary needs only libc, libpq and libsystemd
# (and one build folder serves make run, make bench, make install and make deb alike).
SWIFT_RELEASE=(swift build -c release --static-swift-stdlib)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages that are missing (as root), or says which are missing (otherwise).
ensure_packages() {
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})"
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Only promtool is wanted from `prometheus`; its package starts a Prometheus server (port 9090) on a machine
    # running systemd. Stop and disable that server if this install brought it.
    if printf '%s\n' "${missing[@]}" | grep -qx prometheus && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
}

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    echo "$dir"
}

# Runs a PostgreSQL server command as a user PostgreSQL accepts (it refuses root).
pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The folder of the throwaway cluster: project-local when the cluster's owner can reach it, else under /tmp.
pg_dir() {
    if [ -z "${PG_DIR:-}" ]; then
        mkdir -p "$RUN_DIR"
        if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$RUN_DIR" 2>/dev/null; then
            PG_DIR=/tmp/pgstate-pg-$(echo "$ROOT" | md5sum | cut -c1-8)
        else
            PG_DIR=$RUN_DIR/pg
        fi
    fi
    echo "$PG_DIR"
}

PG_PORT=${PGSTATE_PG_PORT:-54329}

# Starts (or reuses) the throwaway cluster and exports PGSTATED_DATABASE_URL for it.
# The cluster: fsync and synchronous_commit on (PostgreSQL's defaults), trust auth, Unix socket only.
pg_start() {
    local dir bindir
    dir=$(pg_dir)
    bindir=$(pg_bindir)
    mkdir -p "$dir/sock"
    chmod 1777 "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        log "creating a throwaway PostgreSQL cluster in $dir/data"
        pg_as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if ! pg_as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        log "starting PostgreSQL on $dir/sock port $PG_PORT"
        pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -p $PG_PORT -c max_connections=200" \
            start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
    fi
    "$bindir/psql" -qAt -h "$dir/sock" -p "$PG_PORT" -U postgres -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'pgstate'" | grep -q 1 \
        || "$bindir/createdb" -h "$dir/sock" -p "$PG_PORT" -U postgres pgstate
    export PGSTATED_DATABASE_URL="host=$dir/sock port=$PG_PORT user=postgres dbname=pgstate"
    export PGSTATE_PG_STARTED=1
}

# Stops the throwaway cluster if this script started it (its data stays for the next run).
pg_stop() {
    [ "${PGSTATE_PG_STARTED:-}" = 1 ] || return 0
    local dir
    dir=$(pg_dir)
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    PGSTATE_PG_STARTED=
}

# Uses the configured database, or a throwaway cluster when none is configured.
ensure_database() {
    if [ -n "${PGSTATED_DATABASE_URL:-}" ]; then
        log "using the database of PGSTATED_DATABASE_URL"
    else
        pg_start
    fi
}

# Starts pgstated the way systemd does, with systemd-socket-activate: the socket is bound now, the daemon
# starts on the first connection and adopts it. Sets ACTIVATED_SOCKET and ACTIVATED_PID.
start_activated_daemon() {
    local bin=${PGSTATED_BIN:-$ROOT/.build/debug/pgstated}
    ACTIVATED_SOCKET=$RUN_DIR/activated.sock
    [ ${#ACTIVATED_SOCKET} -lt 100 ] || ACTIVATED_SOCKET=$(mktemp -d /tmp/pgstate-XXXXXX)/activated.sock
    rm -f "$ACTIVATED_SOCKET"
    systemd-socket-activate -l "$ACTIVATED_SOCKET" \
        -E PGSTATED_DATABASE_URL="$PGSTATED_DATABASE_URL" -E PGSTATED_LOG_LEVEL=info \
        "$bin" >"$RUN_DIR/activated-pgstated.log" 2>&1 &
    ACTIVATED_PID=$!
    local waited=0
    until [ -S "$ACTIVATED_SOCKET" ] || [ $waited -ge 100 ]; do sleep 0.1; waited=$((waited + 1)); done
    [ -S "$ACTIVATED_SOCKET" ] || die "systemd-socket-activate did not bind $ACTIVATED_SOCKET"
    log "socket-activated pgstated listens on $ACTIVATED_SOCKET (log: $RUN_DIR/activated-pgstated.log)"
}

stop_activated_daemon() {
    [ -n "${ACTIVATED_PID:-}" ] || return 0
    kill -TERM "$ACTIVATED_PID" 2>/dev/null || true
    wait "$ACTIVATED_PID" 2>/dev/null || true
    ACTIVATED_PID=
}
