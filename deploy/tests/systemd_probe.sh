#!/bin/bash
# The probe of `make test-systemd`, run by pgstate-probe.service inside the booted test container (see
# scripts/test-systemd.sh). /probe is the host's folder: the packages and the wheel in debs/, the client programs,
# probe.env (PROBE_DATABASE_URL: the test PostgreSQL through /pgsock; PROBE_DYNAMIC; the versions). Each check
# writes one line "PASS|FAIL name detail" to /probe/results, the last line is "STATUS PASS|FAIL n passed, m failed";
# the unit then powers the container off.
#
# The checks run in order on one installation and some depend on earlier ones (a daemon to talk to); each still
# writes its own line.
set -u
export LC_ALL=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0

RESULTS=/probe/results
WORK=/srv/probe
: >"$RESULTS"
date +%s.%N >/probe/started
# systemd's start to multi-user.target, as it measured it (microseconds, monotonic).
echo $(( $(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target) \
    - $(systemctl show -p UserspaceTimestampMonotonic --value) )) >/probe/boot-usec
# shellcheck source=/dev/null
. /probe/probe.env
mkdir -p "$WORK"
chmod 0755 "$WORK"
passed=0
failed=0

# check NAME FUNCTION [ARGS]: runs the function; what it prints becomes the detail (one line), its status the verdict.
check() {
    local name=$1 out rc
    shift
    # Not in a subshell: a check may leave state for later ones (START_CURSOR).
    "$@" >"$WORK/check.out" 2>&1 </dev/null
    rc=$?
    out=$(tr '\n' ' ' <"$WORK/check.out" | sed 's/  */ /g' | cut -c1-400)
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name $out" | tee -a "$RESULTS"
    else
        failed=$((failed + 1))
        echo "FAIL $name $out" | tee -a "$RESULTS"
    fi
}

prop() { systemctl show -p "$2" --value "$1"; }
cursor() { journalctl -q -n 1 -o export | sed -n 's/^__CURSOR=//p'; }
# As USER, with the unpacked wheel on the path.
as() { local user=$1; shift; runuser -u "$user" -- env PYTHONPATH="$WORK/site" "$@"; }
py() { local user=$1; shift; as "$user" timeout 90 python3 /probe/systemd_probe_client.py "$@"; }
# Waits up to $2 seconds for the command after it to succeed.
wait_for() {
    local seconds=$1 i=0
    shift
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le $((seconds * 10)) ] || return 1
        sleep 0.1
    done
}

restarted_since() { [ "$(prop pgstated NRestarts)" -gt "$1" ]; }

# --- before the packages --------------------------------------------------------------------------------------

no_toolchain() {
    if [ "${PROBE_DYNAMIC:-}" = 1 ]; then
        mountpoint -q /opt/swift || { echo "PROBE_DYNAMIC=1 but /opt/swift is no bind mount"; return 1; }
        echo "development mode (PGSTATE_DEB_ALLOW_DYNAMIC=1): /opt/swift is the host's read-only bind mount; the root has none"
        return 0
    fi
    [ ! -e /opt/swift ] || { echo "/opt/swift exists in the root"; return 1; }
    ! command -v swift >/dev/null || { echo "swift is on PATH: $(command -v swift)"; return 1; }
    echo "no /opt/swift, no swift on PATH"
}

install_packages() {
    local debs
    debs=$(ls /probe/debs/libpgstate0_*.deb /probe/debs/libpgstate-dev_*.deb /probe/debs/pgstated_*.deb) || return 1
    # shellcheck disable=SC2086
    timeout 120 dpkg -i $debs >"$WORK/dpkg-i.log" 2>&1 || { tail -n 5 "$WORK/dpkg-i.log"; return 1; }
    for p in pgstated libpgstate0 libpgstate-dev; do
        dpkg-query -W -f='${Package} ${Version} ${Status}\n' "$p" | grep -q 'install ok installed' \
            || { echo "$p is not installed"; return 1; }
        dpkg -L "$p" | LC_ALL=C sort >"$WORK/files-$p"
    done
    echo "dpkg -i: $(dpkg-query -W -f='${Package} ${Version}, ' pgstated libpgstate0 libpgstate-dev)"
}

postinst() {
    getent group pgstate >/dev/null || { echo "no group pgstate"; return 1; }
    getent passwd pgstate >/dev/null || { echo "no user pgstate"; return 1; }
    [ "$(systemctl is-enabled pgstated.socket)" = enabled ] || { echo "pgstated.socket is $(systemctl is-enabled pgstated.socket)"; return 1; }
    [ "$(systemctl is-active pgstated.socket)" = active ] || { echo "pgstated.socket is $(systemctl is-active pgstated.socket)"; return 1; }
    [ -S /run/pgstated/pgstated.sock ] || { echo "no /run/pgstated/pgstated.sock"; return 1; }
    grep -q '^ExecStart=/usr/bin/pgstated$' /lib/systemd/system/pgstated.service || { echo "ExecStart is not /usr/bin/pgstated"; return 1; }
    local sock
    sock=$(stat -c '%U:%G %a' /run/pgstated/pgstated.sock)
    [ "$sock" = "root:pgstate 660" ] || { echo "socket is $sock, not root:pgstate 660"; return 1; }
    echo "user and group pgstate ($(id pgstate)); pgstated.socket enabled and listening ($sock); pgstated.service $(systemctl is-enabled pgstated.service 2>&1)"
}

configure() {
    # The conffile keeps its comments; the setting is added at its end.
    printf 'PGSTATED_DATABASE_URL="%s"\n' "$PROBE_DATABASE_URL" >>/etc/pgstated/pgstated.env || return 1
    useradd -M -s /usr/sbin/nologin -G pgstate pgclient || return 1
    useradd -M -s /usr/sbin/nologin outsider || return 1
    echo "PGSTATED_DATABASE_URL=$PROBE_DATABASE_URL in /etc/pgstated/pgstated.env ($(stat -c '%U:%G %a' /etc/pgstated/pgstated.env)); users pgclient (in pgstate), outsider (not)"
}

# --- the daemon under systemd ---------------------------------------------------------------------------------

START_CURSOR=
socket_activation() {
    local before after t0 t1
    before=$(systemctl is-active pgstated.service)
    [ "$before" = inactive ] || { echo "pgstated.service is $before before the first connection"; return 1; }
    START_CURSOR=$(cursor)
    t0=$(date +%s%N)
    timeout 60 pgstatectl --deadline 30 ping || { echo "the first connection was not served"; return 1; }
    t1=$(date +%s%N)
    after=$(systemctl is-active pgstated.service)
    [ "$after" = active ] || { echo "pgstated.service is $after after the first connection"; return 1; }
    echo "pgstated.service inactive before, active after the first connection (served in $(( (t1 - t0) / 1000000 )) ms, main pid $(prop pgstated MainPID))"
}

ready_status() {
    local status text
    [ "$(prop pgstated SubState)" = running ] || { echo "SubState $(prop pgstated SubState)"; return 1; }
    # Type=notify: active means READY=1 arrived.
    [ "$(prop pgstated Type)" = notify ] || { echo "Type=$(prop pgstated Type)"; return 1; }
    text=$(prop pgstated StatusText)
    case $text in clients=*" pool="*) ;; *) echo "StatusText: '$text'"; return 1 ;; esac
    status=$(systemctl status --no-pager pgstated 2>&1)
    printf '%s\n' "$status" | grep -q "Status: \"clients=" || { echo "no Status: line in systemctl status"; return 1; }
    journalctl -q -u pgstated --after-cursor="$START_CURSOR" | grep -q "pgstated $PROBE_VERSION ready" \
        || { echo "no 'pgstated $PROBE_VERSION ready' in the journal"; return 1; }
    echo "READY (Type=notify, running); StatusText: $text"
}

journal_clean() {
    sleep 1
    local warnings all failures
    all=$(journalctl -q -u pgstated --after-cursor="$START_CURSOR" --no-pager | wc -l)
    warnings=$(journalctl -q -u pgstated --after-cursor="$START_CURSOR" -p warning --no-pager)
    if [ -n "$warnings" ]; then
        echo "priority <= warning at a normal start: $warnings"
        return 1
    fi
    # Lines without a priority prefix are stored as info; libdispatch's one "Failed to set thread priority" line
    # (a worker thread asking for nice -4 without CAP_SYS_NICE) is one of them: named here, not failed.
    failures=$(journalctl -q -u pgstated --after-cursor="$START_CURSOR" --no-pager -o cat | grep -ciE 'fail|error' || true)
    echo "$all lines since the start, none at warning or worse ($failures at info saying fail or error)"
}

ctl_ping() {
    local out
    out=$(timeout 30 pgstatectl ping 2>&1) || { echo "pgstatectl ping exited $?: $out"; return 1; }
    echo "pgstatectl ping: exit 0 ($out); $(pgstatectl --version 2>&1)"
}

c_client() {
    local flags
    flags=$(pkg-config --cflags --libs pgstate) || { echo "pkg-config knows no pgstate"; return 1; }
    [ "$(pkg-config --modversion pgstate)" = "$PROBE_LIB_VERSION" ] || { echo "pgstate.pc version $(pkg-config --modversion pgstate)"; return 1; }
    [ "$(pkg-config --variable=prefix pgstate)" = /usr ] || { echo "pgstate.pc prefix $(pkg-config --variable=prefix pgstate)"; return 1; }
    # shellcheck disable=SC2086
    cc -Wall -Werror -o "$WORK/c_client" /probe/systemd_probe_client.c $flags >"$WORK/cc.log" 2>&1 \
        || { cat "$WORK/cc.log"; return 1; }
    local lib
    lib=$(ldd "$WORK/c_client" | awk '$1 == "libpgstate.so.0" { print $3 }')
    # ldd may name it through /lib, a link to /usr/lib in a merged-/usr root: dpkg knows the real path.
    [ -n "$lib" ] && [ "$(dpkg -S "$(realpath "$lib")" 2>/dev/null | cut -d: -f1)" = libpgstate0 ] \
        || { echo "libpgstate.so.0 resolves to '$lib', not libpgstate0's"; return 1; }
    local out
    out=$(as pgclient timeout 60 "$WORK/c_client") || { echo "as pgclient: $out"; return 1; }
    echo "cc \$(pkg-config --cflags --libs pgstate) = '$flags'; $lib; as pgclient: $out"
}

python_client() {
    rm -rf "$WORK/site"
    python3 -m zipfile -e /probe/debs/pgstate-*-py3-none-any.whl "$WORK/site" || return 1
    chmod -R a+rX "$WORK/site"
    local out
    out=$(py pgclient serve) || { echo "as pgclient: $out"; return 1; }
    echo "wheel unpacked into $WORK/site; as pgclient: $out"
}

outsider_refused() {
    local out
    out=$(py outsider refused) || { echo "$out"; return 1; }
    echo "outsider: $out"
}

restart_under_load() {
    local pid0 pid1 out rc t0 t1
    pid0=$(prop pgstated MainPID)
    rm -f "$WORK/restarted"
    py pgclient load "$WORK/restarted" >"$WORK/load.out" 2>&1 &
    local loader=$!
    sleep 1.5
    t0=$(date +%s%N)
    timeout 60 systemctl restart pgstated || { echo "systemctl restart failed"; kill $loader; return 1; }
    t1=$(date +%s%N)
    touch "$WORK/restarted"
    wait $loader
    rc=$?
    out=$(cat "$WORK/load.out")
    pid1=$(prop pgstated MainPID)
    [ "$pid0" != "$pid1" ] && [ "$pid1" != 0 ] || { echo "main pid $pid0 -> $pid1: no restart; $out"; return 1; }
    [ $rc -eq 0 ] || { echo "$out"; return 1; }
    echo "systemctl restart in $(( (t1 - t0) / 1000000 )) ms (pid $pid0 -> $pid1); $out"
}

reload_access() {
    local pid0 pid1 out
    out=$(py pgclient serve) || { echo "before the access file: $out"; return 1; }
    cat >/etc/pgstated/access.conf <<'EOF'
# Written by the systemd probe: root administers, pgclient may only read its own namespace.
uid:0          *        admin
user:pgclient  probe    r
EOF
    chmod 0644 /etc/pgstated/access.conf
    pgstated --check-access-file /etc/pgstated/access.conf >/dev/null 2>&1 \
        || { echo "pgstated --check-access-file refuses the probe's file"; return 1; }
    pid0=$(prop pgstated MainPID)
    timeout 30 systemctl reload pgstated || { echo "systemctl reload failed"; return 1; }
    pid1=$(prop pgstated MainPID)
    [ "$pid0" = "$pid1" ] || { echo "reload restarted the daemon ($pid0 -> $pid1)"; return 1; }
    out=$(py pgclient restricted probe) || { echo "after reload: $out"; return 1; }
    echo "before: read-write in the shared namespace; after access.conf + reload (same pid $pid1): $out"
}

crash_restart() {
    local n0 n1 pid0 pid1 t0 t1 out
    n0=$(prop pgstated NRestarts)
    pid0=$(prop pgstated MainPID)
    systemctl kill -s SIGKILL pgstated || { echo "systemctl kill failed"; return 1; }
    t0=$(date +%s%N)
    out=$(timeout 60 pgstatectl --deadline 30 ping 2>&1) || { echo "the client right after the crash: $out"; return 1; }
    t1=$(date +%s%N)
    n1=$(prop pgstated NRestarts)
    pid1=$(prop pgstated MainPID)
    [ "$(systemctl is-active pgstated.socket)" = active ] || { echo "pgstated.socket is $(systemctl is-active pgstated.socket)"; return 1; }
    [ "$n1" -eq $((n0 + 1)) ] || { echo "NRestarts $n0 -> $n1"; return 1; }
    [ "$pid0" != "$pid1" ] || { echo "same main pid $pid1"; return 1; }
    echo "SIGKILL -> restarted by Restart=on-failure (NRestarts $n0 -> $n1, pid $pid0 -> $pid1); a client connecting right after was served in $(( (t1 - t0) / 1000000 )) ms; the socket stayed active"
}

# The unit's WatchdogSec (30 s) shortened to 3 s by a runtime drop-in, so that the check takes seconds; the
# mechanism is the same (pgstated pings at half the interval from its event loop).
watchdog() {
    local dropin=/run/systemd/system/pgstated.service.d n0 n1 c pid0 pid1
    mkdir -p "$dropin"
    printf '[Service]\nWatchdogSec=3s\n' >"$dropin/probe-watchdog.conf"
    systemctl daemon-reload
    timeout 60 systemctl restart pgstated || { echo "restart with the drop-in failed"; return 1; }
    n0=$(prop pgstated NRestarts)
    pid0=$(prop pgstated MainPID)
    # A daemon that answers keeps the watchdog quiet: two intervals without a restart.
    sleep 6
    n1=$(prop pgstated NRestarts)
    [ "$n1" = "$n0" ] && [ "$(prop pgstated MainPID)" = "$pid0" ] \
        || { echo "the watchdog fired on a healthy daemon (NRestarts $n0 -> $n1)"; return 1; }
    c=$(cursor)
    systemctl kill -s SIGSTOP pgstated || return 1
    wait_for 60 restarted_since "$n0" || { echo "no restart 60 s after SIGSTOP (NRestarts $n0)"; return 1; }
    n1=$(prop pgstated NRestarts)
    wait_for 30 systemctl -q is-active pgstated
    pid1=$(prop pgstated MainPID)
    local line
    line=$(journalctl -q -u pgstated --after-cursor="$c" | grep -m1 -i 'watchdog timeout') \
        || { echo "no 'Watchdog timeout' in the journal"; return 1; }
    rm -rf "$dropin"
    systemctl daemon-reload
    timeout 60 systemctl restart pgstated || { echo "restart without the drop-in failed"; return 1; }
    timeout 30 pgstatectl ping >/dev/null || { echo "no answer after the watchdog restart"; return 1; }
    echo "WatchdogSec=3s (drop-in): quiet for 6 s while healthy; SIGSTOP -> NRestarts $n0 -> $n1, pid $pid0 -> $pid1; journal: ${line#*: }"
}

security() {
    local out level
    out=$(systemd-analyze security --no-pager pgstated.service 2>&1)
    level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for pgstated.service: \([0-9.]*\).*/\1/p')
    [ -n "$level" ] || { echo "no exposure level: $(printf '%s' "$out" | tail -n 3)"; return 1; }
    awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || { echo "exposure $level > 2.0"; return 1; }
    echo "systemd-analyze security pgstated.service (live unit): exposure $level"
}

purge() {
    dpkg --purge pgstated libpgstate-dev libpgstate0 >"$WORK/dpkg-purge.log" 2>&1 \
        || { tail -n 5 "$WORK/dpkg-purge.log"; return 1; }
    local p path left=() owner
    for p in pgstated libpgstate0 libpgstate-dev; do
        while IFS= read -r path; do
            [ -n "$path" ] && [ "$path" != /. ] || continue
            [ -e "$path" ] || [ -L "$path" ] || continue
            # A folder another package owns too stays (/usr/bin, /etc); so do /lib and the like, links to /usr/lib
            # in a merged-/usr root (the packages ship no links to folders). Everything else must be gone.
            if [ -d "$path" ] && [ -L "$path" ]; then
                continue
            fi
            if [ -d "$path" ]; then
                owner=$(dpkg-query -S "$path" 2>/dev/null | head -n 1)
                [ -n "$owner" ] && continue
            fi
            left+=("$path")
        done <"$WORK/files-$p"
    done
    [ ${#left[@]} -eq 0 ] || { echo "left behind: ${left[*]}"; return 1; }
    [ ! -e /etc/pgstated ] || { echo "/etc/pgstated remains: $(ls -A /etc/pgstated)"; return 1; }
    [ ! -e /run/pgstated ] || { echo "/run/pgstated remains"; return 1; }
    local links
    links=$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled -name 'pgstated*' 2>/dev/null)
    [ -z "$links" ] || { echo "left behind: $links"; return 1; }
    [ "$(systemctl is-active pgstated.socket pgstated.service | sort -u)" = inactive ] \
        || { echo "units still active"; return 1; }
    echo "dpkg --purge: none of the $(cat "$WORK"/files-* | wc -l) listed paths left (shared folders aside), /etc/pgstated gone; user pgstate kept (as policy allows): $(getent passwd pgstate | cut -d: -f1,3)"
}

check no-swift-toolchain no_toolchain
check dpkg-install install_packages
check postinst postinst
check configure configure
check socket-activation socket_activation
check ready-and-status ready_status
check journal-clean-at-start journal_clean
check pgstatectl-ping ctl_ping
check c-client-in-group c_client
check python-client-in-group python_client
check outsider-refused-eacces outsider_refused
check restart-under-load restart_under_load
check reload-access-file reload_access
check crash-restart crash_restart
check watchdog watchdog
check security-exposure security
journalctl -q -u pgstated -u pgstated.socket --no-pager >/probe/journal.txt 2>&1
check purge purge

if [ $failed -eq 0 ] && [ $passed -gt 0 ]; then verdict=PASS; else verdict=FAIL; fi
echo "STATUS $verdict $passed passed, $failed failed" | tee -a "$RESULTS"
sync
exit 0
