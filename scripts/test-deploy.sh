#!/usr/bin/env bash
# Checks of deploy/: the systemd units verify, the service's security exposure is at most 2.0, `make install`
# and `make uninstall` work with DESTDIR, and pgstated restarts under load without refusing anyone.
# Called by scripts/test.sh with PGSTATED_BIN and PGSTATED_DATABASE_URL set.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

what=${1:?usage: test-deploy.sh verify|security|install|restart}
work=$(mktemp -d /tmp/pgstate-deploy-XXXXXX)
trap 'rm -rf "$work"' EXIT

case $what in
verify)
    # Units as installed: ExecStart pointing at a real binary.
    sed "s#^ExecStart=/usr/local/bin/pgstated#ExecStart=$PGSTATED_BIN#" deploy/pgstated.service >"$work/pgstated.service"
    cp deploy/pgstated.socket "$work/"
    (cd "$work" && systemd-analyze verify --man=no ./pgstated.socket ./pgstated.service)
    echo "systemd-analyze verify: pgstated.socket and pgstated.service OK"
    ;;
security)
    cp deploy/pgstated.service "$work/"
    report=$(cd "$work" && systemd-analyze security --offline=yes --no-pager ./pgstated.service)
    level=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for pgstated.service: \([0-9.]*\).*/\1/p')
    echo "systemd-analyze security: exposure level of pgstated.service is $level (at most 2.0 required)"
    printf '%s\n' "$report" | grep '✗' | sed 's/^/  not set: /' | cut -c1-110 || true
    awk -v l="$level" 'BEGIN { exit !(l != "" && l <= 2.0) }'
    ;;
install)
    dest=$work/root
    make -s install DESTDIR="$dest" PREFIX=/usr/local PGSTATED_BIN="$PGSTATED_BIN" >/dev/null
    for f in usr/local/bin/pgstated usr/local/bin/pgstatectl usr/local/share/man/man1/pgstatectl.1 usr/local/share/man/man1/pgstated.1 \
             usr/local/lib/systemd/system/pgstated.socket \
             usr/local/lib/systemd/system/pgstated.service usr/local/lib/sysusers.d/pgstated.conf \
             etc/pgstated/pgstated.env.example etc/pgstated/access.conf.example usr/local/include/pgstate.h \
             usr/local/lib/pkgconfig/pgstate.pc; do
        [ -e "$dest/$f" ] || die "make install did not install /$f"
    done
    grep -q '^ExecStart=/usr/local/bin/pgstated$' "$dest/usr/local/lib/systemd/system/pgstated.service"
    "$dest/usr/local/bin/pgstated" --version
    "$dest/usr/local/bin/pgstated" --check-access-file "$dest/etc/pgstated/access.conf.example"
    "$dest/usr/local/bin/pgstatectl" --version
    man -l "$dest/usr/local/share/man/man1/pgstatectl.1" >/dev/null 2>&1 || groff -man -Tutf8 \
        "$dest/usr/local/share/man/man1/pgstatectl.1" >/dev/null 2>&1 || grep -q '^\.TH' "$dest/usr/local/share/man/man1/pgstatectl.1"
    make -s uninstall DESTDIR="$dest" PREFIX=/usr/local >/dev/null
    left=$(find "$dest" -type f | wc -l)
    [ "$left" -eq 0 ] || { find "$dest" -type f; die "make uninstall left $left files"; }
    echo "make install / uninstall with DESTDIR: every file installed, then removed"
    ;;
restart)
    python3 deploy/tests/restart_without_refusal.py --daemon "$PGSTATED_BIN" --database-url "$PGSTATED_DATABASE_URL"
    ;;
*)
    die "unknown check $what"
    ;;
esac
