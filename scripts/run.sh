#!/usr/bin/env bash
# `make run`: install what is missing, start a throwaway PostgreSQL unless PGSTATED_DATABASE_URL is set,
# build pgstated (release) and run it in the foreground on a socket it prints.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_packages
ensure_database
trap pg_stop EXIT

log "building pgstated and pgstatectl (release)"
"${SWIFT_RELEASE[@]}" --product pgstated
"${SWIFT_RELEASE[@]}" --product pgstatectl
bin=$("${SWIFT_RELEASE[@]}" --show-bin-path)/pgstated

export PGSTATED_SOCKET=${PGSTATED_SOCKET:-$RUN_DIR/pgstated.sock}
cat >&2 <<MSG
==> pgstated is starting on ${PGSTATED_SOCKET}
    connect with:  export PGSTATE_SOCKET=${PGSTATED_SOCKET}
    check with:    $(dirname "$bin")/pgstatectl --socket ${PGSTATED_SOCKET} status
    stop with:     Ctrl-C
MSG
# Not exec: the trap must stop the throwaway cluster when pgstated exits.
"$bin" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
wait $pid || true
wait $pid 2>/dev/null || true
