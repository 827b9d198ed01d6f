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
step "envelope vectors are what the generator makes" python3 proto-spec/tools/gen_envelope_vectors.py --check
step "envelope vectors agree with their independent decoder" python3 proto-spec/tools/gen_envelope_vectors.py --self-test
step "swift build" swift build --build-tests
export PGSTATED_BIN
PGSTATED_BIN=$(swift build --show-bin-path)/pgstated
export PGSTATE_TEST_PG_BINDIR
PGSTATE_TEST_PG_BINDIR=$(pg_bindir)
step "swift test (codec, pure parts, integration against PostgreSQL)" swift test --skip-build
step "daemon tests at the socket level: abusive clients (never-reading, half-closing, resetting; fd flood; fd reuse), identity with real users, metrics, pgstatectl, pause, slow requests" \
    python3 -m unittest discover -s tests/daemon -v

step "deploy: systemd-analyze verify on the units" scripts/test-deploy.sh verify
step "deploy: systemd-analyze security exposure of pgstated.service" scripts/test-deploy.sh security
step "deploy: make install / uninstall with DESTDIR" scripts/test-deploy.sh install
step "deploy: restart under load without refusal (socket held as systemd does)" scripts/test-deploy.sh restart
# The packages hold release binaries with the Swift runtime linked statically: a booted Debian without the Swift
# toolchain installs and runs them under a real systemd (scripts/test-systemd.sh; its root is cached in
# /var/cache/pgstate-test, built by debootstrap on the first run).
step "release build, the Swift runtime linked statically" make -s release
step "packages: make deb, then a booted systemd (systemd-nspawn) installs and checks them" \
    env PGSTATED_BIN="$ROOT/.build/release/pgstated" PGSTATECTL_BIN="$ROOT/.build/release/pgstatectl" \
    scripts/test-systemd.sh

# The clients' end-to-end tests run against a socket-activated pgstated, as in production.
start_activated_daemon
trap 'stop_activated_daemon; pg_stop' EXIT
export PGSTATE_SOCKET=$ACTIVATED_SOCKET

step "python client: unit, vector and conformance tests" \
    env PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
# The wheel is built from a fresh copy of the sources: an in-place build would leave build/ in the checkout,
# and a stale build/lib would put files deleted since into the next wheel. pip fetches the build backend
# (setuptools, wheel) from PyPI into an isolated build environment (the machine's python has no `wheel` for
# --no-build-isolation); the venv's own pip builds it (a fresh machine's python3 has no pip module); installing the
# wheel needs no index.
step "python client: build a wheel, install it into a fresh venv, then use it" sh -c '
    rm -rf .run/wheel .run/wheel-src .run/venv && mkdir -p .run && cp -r clients/python .run/wheel-src &&
    rm -rf .run/wheel-src/build .run/wheel-src/src/*.egg-info &&
    python3 -m venv .run/venv &&
    .run/venv/bin/pip wheel -q --no-deps -w .run/wheel ./.run/wheel-src &&
    .run/venv/bin/pip install -q --no-index --no-deps .run/wheel/pgstate-*.whl &&
    cd /tmp && "$OLDPWD/.run/venv/bin/python" -c "
import importlib.metadata, pgstate
assert importlib.metadata.version(\"pgstate\") == pgstate.__version__, \"two versions\"
assert pgstate.__file__.startswith(\"$OLDPWD/.run/venv/\"), pgstate.__file__
pgstate.Client().ping()
print(\"pgstate\", pgstate.__version__, \"installed from the wheel and answering\")" &&
    "$OLDPWD/.run/venv/bin/pgstate" ping && "$OLDPWD/.run/venv/bin/python" -m pgstate --help >/dev/null'
step "python client: counter example under contention" \
    env PYTHONPATH=clients/python/src python3 clients/python/examples/counter.py
if [ -f clients/c/Makefile ]; then
    step "C client: build, unit, vector, outcome and conformance tests" make -C clients/c test
    step "C client: the same under AddressSanitizer and UndefinedBehaviorSanitizer" make -C clients/c asan
    step "C client: counter example under contention" \
        sh -c 'make -s -C clients/c examples && clients/c/build/examples/counter'
    step "C client: many connections from one epoll loop (non-blocking calls)" \
        sh -c 'make -s -C clients/c examples && clients/c/build/examples/epoll_clients 64 100 4'
    # Debian's Python has both optional modules (python3-cryptography, python3-zstandard); another python3 on
    # the PATH may lack zstandard and would skip the zstd modes.
    step "envelope: the Python client's envelope tests under Debian's Python (every mode)" \
        sh -c 'cd clients/python/tests && PYTHONPATH=../src /usr/bin/python3 -m unittest test_envelope'
    step "envelope: records written by one client read by the other through pgstated (Python and C)" \
        /usr/bin/python3 tests/envelope/cross_language.py -v
fi
stop_activated_daemon

log "done in $(( $(date +%s) - start ))s"
for f in "${failures[@]+"${failures[@]}"}"; do log "FAILED: $f"; done
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
