#!/usr/bin/env bash
# `make test`: the same setup as `make run`, then every test of the project; stops what it started and exits
# non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

start=$(date +%s)
ensure_packages
ensure_database
trap pg_stop EXIT
export PGSTATE_TEST_DATABASE_URL=$PGSTATED_DATABASE_URL

passed=0
failed=0
failures=()
step() {
    local name=$1
    shift
    log "$name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

step "protocol test vectors are what the generator makes" python3 proto-spec/tools/gen_vectors.py --check
step "protocol test vectors agree with their independent decoder" python3 proto-spec/tools/gen_vectors.py --self-test
step "swift build" swift build --build-tests
step "swift test" swift test --skip-build

log "done in $(( $(date +%s) - start ))s"
for f in "${failures[@]+"${failures[@]}"}"; do log "FAILED: $f"; done
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
