#!/usr/bin/env bash
# `make test-systemd`: pgstated's Debian packages in a booted systemd. Builds the packages (scripts/deb.sh), boots a
# minimal Debian bookworm with systemd-nspawn, and lets a probe unit inside (deploy/tests/systemd_probe.sh) install
# them with dpkg and check the service as systemd runs it: socket activation, READY and STATUS=, the socket's group,
# both client libraries, restart under load, reload, crash, watchdog, a clean journal, the hardening, purge. The probe
# writes one PASS/FAIL line per check to /probe/results and powers the container off; this script prints them and
# fails if any check failed or the container did not finish in time.
#
# The root is built once with debootstrap and cached under /var/cache/pgstate-test (PGSTATE_TEST_CACHE), outside the
# clone; it is rebuilt when missing or when its package list changes, and never changed by a run: each run boots an
# overlay of it (a copy where overlayfs cannot be mounted). The test PostgreSQL's socket folder is bind-mounted at
# /pgsock; the container has no network. Needs root.
#
# PGSTATE_DEB_ALLOW_DYNAMIC=1 (development aid only): test binaries linked with the Swift toolchain; /opt/swift is
# then bind-mounted read-only into the container. PGSTATE_TEST_KEEP=1 keeps the run's folder (the container's root
# and the probe's files) for a look afterwards. PGSTATE_TEST_SYSTEMD_TIMEOUT: seconds the container may run (180).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

started=$(date +%s.%N)
[ "$(id -u)" -eq 0 ] || die "test-systemd needs root (debootstrap, systemd-nspawn)"
ensure_packages
# Stop at exit only a PostgreSQL this script starts (under scripts/test.sh the caller's is exported as started).
PGSTATE_PG_STARTED=
ensure_database

CACHE=${PGSTATE_TEST_CACHE:-/var/cache/pgstate-test}
TIMEOUT=${PGSTATE_TEST_SYSTEMD_TIMEOUT:-180}
ALLOW_DYNAMIC=${PGSTATE_DEB_ALLOW_DYNAMIC:-}
SUITE=bookworm
# What the packages depend on (libpq5, procps, systemd with systemd-sysusers; libc6, libstdc++6 and
# init-system-helpers come with minbase): dpkg -i in the container installs nothing else, so a dependency missing
# here fails the install, as one the packages forgot to declare fails a check. Besides: dbus for systemctl, python3
# for the Python client, and gcc, libc6-dev, pkg-config to compile the C client against libpgstate-dev there.
INCLUDE=systemd,systemd-sysv,dbus,libpq5,procps,python3,gcc,libc6-dev,pkg-config

work=
overlay=
cleanup() {
    local rc=$?
    if [ -n "$overlay" ]; then umount "$overlay" 2>/dev/null || umount -l "$overlay" 2>/dev/null || true; fi
    if [ -n "$work" ]; then
        if [ "${PGSTATE_TEST_KEEP:-}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
    fi
    pg_stop
    return $rc
}
trap cleanup EXIT

# --- the packages -------------------------------------------------------------------------------------------------

scripts/deb.sh
DEB_DIR=${PGSTATE_DEB_OUT:-$RUN_DIR/deb}

# --- the cached root ----------------------------------------------------------------------------------------------

# The mirror of the host's apt sources (none found: debootstrap's default).
apt_mirror() {
    local uri
    uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
        /etc/apt/sources.list 2>/dev/null)
    echo "${PGSTATE_TEST_MIRROR:-$uri}"
}

key=$(printf '%s minbase %s\n' "$SUITE" "$INCLUDE" | sha256sum | cut -c1-12)
CACHED=$CACHE/$SUITE-$key
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ ! -f "$CACHED/.pgstate-root" ]; then
    mirror=$(apt_mirror)
    log "building the $SUITE root with debootstrap (once; cached as $CACHED)"
    tmp=$(mktemp -d "$CACHE/.build-XXXXXX")
    t0=$(date +%s)
    # shellcheck disable=SC2086
    if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp/root" $mirror >"$tmp/debootstrap.log" 2>&1; then
        tail -n 30 "$tmp/debootstrap.log" >&2
        rm -rf "$tmp"
        die "debootstrap failed"
    fi
    rm -f "$tmp"/root/var/cache/apt/archives/*.deb
    printf 'suite=%s\ninclude=%s\nbuilt=%s\n' "$SUITE" "$INCLUDE" "$(date -u +%FT%TZ)" >"$tmp/root/.pgstate-root"
    # Published by one rename: a root under CACHED is always complete.
    mv "$tmp/root" "$CACHED"
    rm -rf "$tmp"
    log "debootstrap took $(( $(date +%s) - t0 ))s"
fi
# Roots of other package lists are stale.
for old in "$CACHE/$SUITE"-*; do
    [ "$old" = "$CACHED" ] || rm -rf "$old"
done
flock -u 9
[ ! -e "$CACHED/opt/swift" ] || die "$CACHED has /opt/swift: the root must have no Swift toolchain"

# --- this run's root and probe folder -----------------------------------------------------------------------------

work=$(mktemp -d /tmp/pgstate-systemd-XXXXXX)
chmod 0755 "$work"
mkdir -p "$work/upper" "$work/ovl" "$work/root"
if mount -t overlay overlay -o "lowerdir=$CACHED,upperdir=$work/upper,workdir=$work/ovl" "$work/root" 2>/dev/null; then
    overlay=$work/root
    how="an overlay of $CACHED"
else
    cp -a "$CACHED/." "$work/root/"
    how="a copy of $CACHED"
fi
ROOTFS=$work/root

probe=$work/probe
mkdir -p "$probe/debs"
cp "$DEB_DIR"/*.deb "$DEB_DIR"/*.whl "$probe/debs/"
cp deploy/tests/systemd_probe.sh deploy/tests/systemd_probe_client.py deploy/tests/systemd_probe_client.c "$probe/"
chmod 0755 "$probe/systemd_probe.sh"

# The test PostgreSQL as the container sees it: its socket folder at /pgsock.
pg_host=$(printf '%s\n' "$PGSTATED_DATABASE_URL" | sed -n 's/.*host=\([^ ]*\).*/\1/p')
case $pg_host in
/*) ;;
*) die "PGSTATED_DATABASE_URL must name a Unix socket folder (host=/path): the container has no network" ;;
esac
[ -d "$pg_host" ] || die "PostgreSQL socket folder $pg_host does not exist"
{
    printf 'PROBE_DATABASE_URL=%q\n' "$(printf '%s\n' "$PGSTATED_DATABASE_URL" | sed 's#host=[^ ]*#host=/pgsock#')"
    printf 'PROBE_DYNAMIC=%q\n' "$ALLOW_DYNAMIC"
    printf 'PROBE_VERSION=%q\n' "$(sed -n 's/^ *static let version = "\(.*\)"$/\1/p' Sources/pgstated/PGStated.swift)"
    printf 'PROBE_LIB_VERSION=%q\n' "$(sed -n 's/^#define PGSTATE_VERSION_STRING "\(.*\)"/\1/p' clients/c/include/pgstate.h)"
} >"$probe/probe.env"

# The probe unit: after boot, once; the container powers off when it ends, whichever way.
install -D -m 0644 deploy/tests/systemd_probe.service "$ROOTFS/etc/systemd/system/pgstate-probe.service"
mkdir -p "$ROOTFS/etc/systemd/system/multi-user.target.wants"
ln -sf ../pgstate-probe.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/pgstate-probe.service"

binds=(--bind="$probe:/probe" --bind="$pg_host:/pgsock")
if [ "$ALLOW_DYNAMIC" = 1 ]; then
    [ -d /opt/swift ] || die "PGSTATE_DEB_ALLOW_DYNAMIC=1 needs the Swift toolchain at /opt/swift"
    log "WARNING: PGSTATE_DEB_ALLOW_DYNAMIC=1: /opt/swift is bind-mounted read-only (development aid only)"
    binds+=(--bind-ro=/opt/swift:/opt/swift)
fi

# --- boot ---------------------------------------------------------------------------------------------------------

log "booting $how (timeout ${TIMEOUT}s)"
boot_started=$(date +%s.%N)
set +e
timeout -k 15 "$TIMEOUT" systemd-nspawn -q -D "$ROOTFS" -M pgstate-probe -b --register=no --keep-unit \
    --console=pipe --private-network "${binds[@]}" >"$work/console.log" 2>&1 </dev/null
nspawn_rc=$?
set -e
boot_ended=$(date +%s.%N)

results=$probe/results
echo
if [ -f "$results" ]; then cat "$results"; fi
echo
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
if [ -f "$probe/started" ]; then
    boot=$(awk '{ printf "%.1f", $1 / 1e6 }' "$probe/boot-usec" 2>/dev/null || echo "?")
    log "boot: systemd to multi-user.target ${boot}s, nspawn to the probe $(seconds "$boot_started" "$(cat "$probe/started")")s;" \
        "the container ran $(seconds "$boot_started" "$boot_ended")s"
fi

failed=0
if [ "$nspawn_rc" -eq 124 ] || [ "$nspawn_rc" -eq 137 ]; then
    log "FAILED: the container did not finish within ${TIMEOUT}s"
    failed=1
elif [ "$nspawn_rc" -ne 0 ]; then
    log "FAILED: systemd-nspawn exited with $nspawn_rc"
    failed=1
fi
if [ ! -f "$results" ] || ! grep -q '^STATUS ' "$results"; then
    log "FAILED: the probe wrote no final status"
    failed=1
elif ! grep -q '^STATUS PASS' "$results" || grep -q '^FAIL ' "$results"; then
    failed=1
fi
if [ "$failed" -ne 0 ]; then
    log "the container's console (last 60 lines):"
    tail -n 60 "$work/console.log" >&2
    if [ -f "$probe/journal.txt" ]; then
        log "journal of pgstated (last 40 lines):"
        tail -n 40 "$probe/journal.txt" >&2
    fi
fi
pass=$(grep -c '^PASS ' "$results" 2>/dev/null || true)
fail=$(grep -c '^FAIL ' "$results" 2>/dev/null || true)
log "test-systemd: total $(seconds "$started" "$(date +%s.%N)")s"
echo "systemd checks: ${pass:-0} passed, ${fail:-0} failed"
[ "$failed" -eq 0 ]
