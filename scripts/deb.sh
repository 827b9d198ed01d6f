#!/usr/bin/env bash
# `make deb`: Debian packages built with dpkg-deb into .run/deb/ (PGSTATE_DEB_OUT), with the Python wheel beside them:
#   pgstated_<v>_<arch>.deb        pgstated and pgstatectl in /usr/bin, man pages, the systemd units under
#                                  /lib/systemd/system, the sysusers.d entry, /etc/pgstated/pgstated.env (conffile),
#                                  access.conf.example under /usr/share/doc/pgstated/examples;
#   libpgstate0_<v>_<arch>.deb     the C library (libpgstate.so.0 and its real file);
#   libpgstate-dev_<v>_<arch>.deb  pgstate.h, libpgstate.so, libpgstate.a, pgstate.pc (prefix /usr);
#   pgstate-<v>-py3-none-any.whl   the Python client.
# Versions come from one source each: pgstated's from Sources/pgstated/PGStated.swift (pgstatectl must agree),
# libpgstate's from its header, the wheel's from clients/python/src/pgstate/_version.py. Depends: from
# dpkg-shlibdeps. Every package must be lintian clean; each tag that stays is explained in
# deploy/debian/lintian-overrides/.
#
# The binaries: PGSTATED_BIN and PGSTATECTL_BIN (default .build/release/). They must be self-contained release builds
# (`swift build -c release --static-swift-stdlib`) that need no library outside the C library, libm, libpthread,
# libdl, libgcc_s, libstdc++, libpq and libsystemd; otherwise this fails. PGSTATE_DEB_ALLOW_DYNAMIC=1 packages a
# binary linked with the Swift toolchain in /opt/swift anyway: a development aid only, for testing the packaging
# before a static build exists (such a package runs only where that toolchain is).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

OUT=${PGSTATE_DEB_OUT:-$RUN_DIR/deb}
PGSTATED_BIN=${PGSTATED_BIN:-.build/release/pgstated}
PGSTATECTL_BIN=${PGSTATECTL_BIN:-$(dirname "$PGSTATED_BIN")/pgstatectl}
ALLOW_DYNAMIC=${PGSTATE_DEB_ALLOW_DYNAMIC:-}
MAINTAINER=${PGSTATE_DEB_MAINTAINER:-pgstate maintainers <maintainers@pgstate.invalid>}
DEBIAN_DIR=$ROOT/deploy/debian

ensure_packages
for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture dpkg-buildflags lintian readelf strip ldd; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian packages: dpkg-dev, lintian, binutils)"
done

# --- versions (one source each) ---------------------------------------------------------------------------------

swift_version() { sed -n 's/^ *static let version = "\(.*\)"$/\1/p' "$1"; }
VERSION=$(swift_version Sources/pgstated/PGStated.swift)
CTL_VERSION=$(swift_version Sources/pgstatectl/PGStateCtl.swift)
LIB_VERSION=$(sed -n 's/^#define PGSTATE_VERSION_STRING "\(.*\)"/\1/p' clients/c/include/pgstate.h)
PY_VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' clients/python/src/pgstate/_version.py)
[ -n "$VERSION" ] || die "no 'static let version' in Sources/pgstated/PGStated.swift"
[ "$CTL_VERSION" = "$VERSION" ] || die "pgstatectl's version ($CTL_VERSION) is not pgstated's ($VERSION): one package holds both"
[ -n "$LIB_VERSION" ] || die "no PGSTATE_VERSION_STRING in clients/c/include/pgstate.h"
[ -n "$PY_VERSION" ] || die "no __version__ in clients/python/src/pgstate/_version.py"
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
SOVERSION=$(sed -n 's/^SOVERSION *:= *//p' clients/c/Makefile)
[ -n "$SOVERSION" ] || die "no SOVERSION in clients/c/Makefile"
# Reproducible dates (the changelog, file times in the packages): the last commit's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# --- the binaries -------------------------------------------------------------------------------------------------

# The libraries a packaged binary may need: the C library and its parts, the compiler's runtime, libpq, libsystemd.
ALLOWED_LIBS='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libpq\.so\.5|libsystemd\.so\.0|ld-linux[-a-z0-9_.]*\.so\.[0-9]+)$'

# Fails unless BIN needs (NEEDED entries) only allowed libraries and ldd resolves all it loads under /lib or /usr/lib.
check_linkage() {
    local bin=$1 needed listing why
    needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p')
    listing=$(ldd "$bin") || die "ldd $bin failed"
    why=$({
        printf '%s\n' "$needed" | grep -Ev "$ALLOWED_LIBS" || true
        printf '%s\n' "$listing" | awk '/not found/ { print $1 " (not found)" }
            $2 == "=>" && $3 ~ /^\// && $3 !~ /^\/(usr\/)?lib(64)?\// { print $1 " (" $3 ")" }'
    } | { grep -v '^$' || true; } | sort -u | tr '\n' ' ')
    if [ -n "$why" ]; then
        if [ "$ALLOW_DYNAMIC" = 1 ]; then
            log "WARNING: $bin needs $why"
            log "WARNING: PGSTATE_DEB_ALLOW_DYNAMIC=1 packages it anyway (a development aid only: the package runs only"
            log "         where the Swift toolchain is at /opt/swift)"
            return 0
        fi
        die "$bin was built without --static-swift-stdlib: it needs $why(allowed: libc, libm, libpthread, libdl,\
 libgcc_s, libstdc++, libpq, libsystemd). Build it with: swift build -c release --static-swift-stdlib --product $(basename "$bin")"
    fi
    log "$bin needs only $(printf '%s\n' "$needed" | tr '\n' ' ')"
}

for bin in "$PGSTATED_BIN" "$PGSTATECTL_BIN"; do
    [ -x "$bin" ] || die "$bin does not exist: build it with swift build -c release --static-swift-stdlib --product $(basename "$bin")"
    check_linkage "$bin"
done
# The binaries must be built from this checkout's version.
for pair in "$PGSTATED_BIN:pgstated" "$PGSTATECTL_BIN:pgstatectl"; do
    bin=${pair%%:*}
    said=$("$bin" --version 2>/dev/null | head -n 1) || die "$bin --version failed"
    [ "$said" = "${pair##*:} $VERSION" ] || [ "$said" = "$VERSION" ] \
        || die "$bin says '$said', the source says $VERSION: rebuild it"
done

# --- helpers ------------------------------------------------------------------------------------------------------

rm -rf "$OUT"
mkdir -p "$OUT/build"
BUILD=$OUT/build

# A native package's changelog (/usr/share/doc/PKG/changelog.gz): one entry, the version being packaged.
write_changelog() {
    local pkgdir=$1 source=$2 version=$3
    mkdir -p "$pkgdir"
    {
        printf '%s (%s) unstable; urgency=medium\n\n' "$source" "$version"
        printf '  * %s %s, packaged from the project'"'"'s tree.\n\n' "$source" "$version"
        printf ' -- %s  %s\n' "$MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
    } | gzip -9n >"$pkgdir/changelog.gz"
    chmod 0644 "$pkgdir/changelog.gz"
}

# The copyright file, the changelog and the lintian overrides of package PKG in tree ROOTDIR.
add_docs() {
    local rootdir=$1 pkg=$2 source=$3 version=$4
    install -D -m 0644 "$DEBIAN_DIR/copyright" "$rootdir/usr/share/doc/$pkg/copyright"
    write_changelog "$rootdir/usr/share/doc/$pkg" "$source" "$version"
    if [ -f "$DEBIAN_DIR/lintian-overrides/$pkg" ]; then
        install -D -m 0644 "$DEBIAN_DIR/lintian-overrides/$pkg" "$rootdir/usr/share/lintian/overrides/$pkg"
    fi
}

# Depends of the ELF files given (paths inside ROOTDIR), from dpkg-shlibdeps; it wants a debian/control beside it.
shlib_depends() {
    local rootdir=$1 pkg=$2
    shift 2
    local work=$BUILD/shlibdeps-$pkg args=()
    mkdir -p "$work/debian"
    printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$work/debian/control"
    for f in "$@"; do args+=("-e$rootdir/$f"); done
    # Libraries of the Swift toolchain belong to no package: only in the development mode, where they may appear.
    [ "$ALLOW_DYNAMIC" = 1 ] && args+=(--ignore-missing-info)
    (cd "$work" && dpkg-shlibdeps -O "${args[@]}" 2>"$work/stderr") | sed -n 's/^shlibs:Depends=//p' \
        || { cat "$work/stderr" >&2; die "dpkg-shlibdeps failed for $pkg"; }
    grep -v -e 'warning: binaries to analyze should already be installed' -e 'useless dependency' "$work/stderr" >&2 || true
}

# DEBIAN/control from deploy/debian/PKG.control, DEBIAN/md5sums, then dpkg-deb --build.
build_deb() {
    local rootdir=$1 pkg=$2 version=$3 depends=$4
    local size
    # Files' times: the last commit's, so that two builds of one tree give the same package.
    find "$rootdir" -path "$rootdir/DEBIAN" -prune -o -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    size=$(du -sk --exclude=DEBIAN "$rootdir" | cut -f1)
    mkdir -p "$rootdir/DEBIAN"
    local control
    control=$(<"$DEBIAN_DIR/$pkg.control")
    control=${control//@VERSION@/$version}
    control=${control//@ARCH@/$ARCH}
    control=${control//@MAINTAINER@/$MAINTAINER}
    control=${control//@INSTALLED_SIZE@/$size}
    control=${control//@DEPENDS@/$depends}
    printf '%s\n' "$control" >"$rootdir/DEBIAN/control"
    ! grep -q '@[A-Z_]*@' "$rootdir/DEBIAN/control" || die "unfilled field in $DEBIAN_DIR/$pkg.control"
    (cd "$rootdir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0r md5sum) \
        >"$rootdir/DEBIAN/md5sums"
    chmod 0644 "$rootdir/DEBIAN/control" "$rootdir/DEBIAN/md5sums"
    dpkg-deb --root-owner-group -Zxz --build "$rootdir" "$OUT/${pkg}_${version}_${ARCH}.deb" >/dev/null
    log "built $OUT/${pkg}_${version}_${ARCH}.deb (Depends: $depends)"
}

# Debian's strip of a shared object or an executable (what dh_strip does).
strip_elf() { strip --remove-section=.comment --remove-section=.note --strip-unneeded "$1"; }

# --- libpgstate0 and libpgstate-dev -------------------------------------------------------------------------------

log "libpgstate $LIB_VERSION: building with Debian's build flags"
C_BUILD=$BUILD/c
C_STAGE=$BUILD/c-install
# The Makefile adds its own flags after these; CPPFLAGS (_FORTIFY_SOURCE) go with CFLAGS, which it passes everywhere.
C_FLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS) $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS)"
C_LDFLAGS=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)
make -s -C clients/c BUILD="$C_BUILD" CFLAGS="$C_FLAGS" LDFLAGS="$C_LDFLAGS" all >/dev/null
make -s -C clients/c BUILD="$C_BUILD" CFLAGS="$C_FLAGS" LDFLAGS="$C_LDFLAGS" PREFIX=/usr LIBDIR="/usr/lib/$MULTIARCH" \
    DESTDIR="$C_STAGE" install >/dev/null
SONAME=libpgstate.so.$SOVERSION
REAL=libpgstate.so.$LIB_VERSION
[ "$(readelf -d "$C_STAGE/usr/lib/$MULTIARCH/$REAL" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = "$SONAME" ] \
    || die "$REAL does not have the soname $SONAME"
grep -qx 'prefix=/usr' "$C_STAGE/usr/lib/$MULTIARCH/pkgconfig/pgstate.pc" || die "pgstate.pc: prefix is not /usr"

LIB=$BUILD/libpgstate0
install -D -m 0644 "$C_STAGE/usr/lib/$MULTIARCH/$REAL" "$LIB/usr/lib/$MULTIARCH/$REAL"
strip_elf "$LIB/usr/lib/$MULTIARCH/$REAL"
ln -s "$REAL" "$LIB/usr/lib/$MULTIARCH/$SONAME"
add_docs "$LIB" libpgstate0 libpgstate "$LIB_VERSION"
mkdir -p "$LIB/DEBIAN"
sed -e "s|@SOVERSION@|$SOVERSION|" -e "s|@VERSION@|$LIB_VERSION|" "$DEBIAN_DIR/libpgstate0.shlibs" >"$LIB/DEBIAN/shlibs"
install -m 0644 "$DEBIAN_DIR/libpgstate0.triggers" "$LIB/DEBIAN/triggers"
chmod 0644 "$LIB/DEBIAN/shlibs"
LIB_DEPENDS=$(shlib_depends "$LIB" libpgstate0 "usr/lib/$MULTIARCH/$REAL")

DEV=$BUILD/libpgstate-dev
install -D -m 0644 "$C_STAGE/usr/include/pgstate.h" "$DEV/usr/include/pgstate.h"
install -D -m 0644 "$C_STAGE/usr/lib/$MULTIARCH/libpgstate.a" "$DEV/usr/lib/$MULTIARCH/libpgstate.a"
strip --strip-debug --remove-section=.comment --remove-section=.note --enable-deterministic-archives \
    "$DEV/usr/lib/$MULTIARCH/libpgstate.a"
ln -s "$SONAME" "$DEV/usr/lib/$MULTIARCH/libpgstate.so"
install -D -m 0644 "$C_STAGE/usr/lib/$MULTIARCH/pkgconfig/pgstate.pc" "$DEV/usr/lib/$MULTIARCH/pkgconfig/pgstate.pc"
add_docs "$DEV" libpgstate-dev libpgstate "$LIB_VERSION"

# --- pgstated -----------------------------------------------------------------------------------------------------

log "pgstated $VERSION"
PKG=$BUILD/pgstated
install -D -m 0755 "$PGSTATED_BIN" "$PKG/usr/bin/pgstated"
install -D -m 0755 "$PGSTATECTL_BIN" "$PKG/usr/bin/pgstatectl"
strip_elf "$PKG/usr/bin/pgstated"
strip_elf "$PKG/usr/bin/pgstatectl"
for page in pgstated.1 pgstatectl.1; do
    install -d "$PKG/usr/share/man/man1"
    gzip -9n <"docs/$page" >"$PKG/usr/share/man/man1/$page.gz"
    chmod 0644 "$PKG/usr/share/man/man1/$page.gz"
done
install -D -m 0644 deploy/pgstated.socket "$PKG/lib/systemd/system/pgstated.socket"
install -d "$PKG/lib/systemd/system"
sed 's#^ExecStart=/usr/local/bin/pgstated#ExecStart=/usr/bin/pgstated#' deploy/pgstated.service \
    >"$PKG/lib/systemd/system/pgstated.service"
chmod 0644 "$PKG/lib/systemd/system/pgstated.service"
grep -q '^ExecStart=/usr/bin/pgstated$' "$PKG/lib/systemd/system/pgstated.service" \
    || die "deploy/pgstated.service: no ExecStart=/usr/local/bin/pgstated line to point at /usr/bin/pgstated"
install -D -m 0644 deploy/pgstated.sysusers.conf "$PKG/usr/lib/sysusers.d/pgstated.conf"
# The environment file may come to hold a database password: readable by root only (systemd reads it as root).
install -D -m 0600 deploy/pgstated.env.example "$PKG/etc/pgstated/pgstated.env"
install -D -m 0644 deploy/access.conf.example "$PKG/usr/share/doc/pgstated/examples/access.conf.example"
add_docs "$PKG" pgstated pgstated "$VERSION"
mkdir -p "$PKG/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "$DEBIAN_DIR/pgstated.$script" "$PKG/DEBIAN/$script"; done
install -m 0644 "$DEBIAN_DIR/pgstated.conffiles" "$PKG/DEBIAN/conffiles"
PGSTATED_DEPENDS=$(shlib_depends "$PKG" pgstated usr/bin/pgstated usr/bin/pgstatectl)
for dep in libc6 libpq5 libsystemd0; do
    printf '%s\n' "$PGSTATED_DEPENDS" | grep -qE "(^|, )$dep( |,|$)" || die "pgstated's Depends lack $dep: $PGSTATED_DEPENDS"
done
# systemd-sysusers in the postinst: any package that provides it (as dh_installsysusers declares). procps: /bin/kill,
# which the unit's ExecReload= runs (`systemctl reload pgstated`); a minimal Debian has none without it.
PGSTATED_DEPENDS="$PGSTATED_DEPENDS, procps, systemd | systemd-standalone-sysusers | systemd-sysusers"

build_deb "$LIB" libpgstate0 "$LIB_VERSION" "$LIB_DEPENDS"
build_deb "$DEV" libpgstate-dev "$LIB_VERSION" "libpgstate0 (= $LIB_VERSION), ${LIB_DEPENDS}"
build_deb "$PKG" pgstated "$VERSION" "$PGSTATED_DEPENDS"

# --- the Python wheel ---------------------------------------------------------------------------------------------

# As scripts/test.sh builds it: from a fresh copy of the sources, with a venv's pip (which fetches setuptools).
log "pgstate $PY_VERSION: building the wheel"
rm -rf "$BUILD/wheel-src" "$BUILD/venv"
cp -r clients/python "$BUILD/wheel-src"
rm -rf "$BUILD/wheel-src/build" "$BUILD"/wheel-src/src/*.egg-info
python3 -m venv "$BUILD/venv"
"$BUILD/venv/bin/pip" wheel -q --no-deps -w "$OUT" "$BUILD/wheel-src"
[ -f "$OUT/pgstate-$PY_VERSION-py3-none-any.whl" ] || die "the wheel pgstate-$PY_VERSION-py3-none-any.whl was not built"

# --- lintian ------------------------------------------------------------------------------------------------------

log "lintian"
LINTIAN_LOG=$BUILD/lintian.log
if ! lintian --fail-on error,warning --display-info --tag-display-limit 0 "$OUT"/*.deb >"$LINTIAN_LOG" 2>&1; then
    grep -v 'running with root privileges' "$LINTIAN_LOG" >&2 || true
    die "lintian found errors or warnings (each one that stays needs a line with its reason in deploy/debian/lintian-overrides/)"
fi
grep -v 'running with root privileges' "$LINTIAN_LOG" >&2 || true

for f in "$OUT"/*.deb "$OUT"/*.whl; do
    printf '%8s KiB  %s\n' "$(( $(stat -c %s "$f") / 1024 ))" "$f"
done
