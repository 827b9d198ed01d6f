# A new user's two commands: `make run` and `make test` (see README.md).
.PHONY: run test build release install uninstall clean

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
# The binaries to install; the default builds them in release mode.
PGSTATED_BIN ?= .build/release/pgstated
PGSTATECTL_BIN ?= $(dir $(PGSTATED_BIN))pgstatectl

run:
	@scripts/run.sh

test:
	@scripts/test.sh

# The envelope's cost per record in each mode (pure codec, no daemon), in both clients.
.PHONY: bench-envelope
bench-envelope:
	$(MAKE) -s -C clients/c examples
	clients/c/build/examples/envelope_bench
	/usr/bin/python3 clients/python/bench/envelope_bench.py

# bench/ is a folder: the target must be phony or make would find it up to date.
.PHONY: bench
bench:
	@scripts/bench.sh

# Only the multi-key part of make bench (BULK_LOAD, TRANSACT, LIST against the single requests they replace).
.PHONY: bench-multikey
bench-multikey:
	@BENCH_PARTS=multikey scripts/bench.sh

build:
	swift build

# Release builds link the Swift runtime statically: the binaries need only libc, libpq and libsystemd.
SWIFT_RELEASE = swift build -c release --static-swift-stdlib
release:
	$(SWIFT_RELEASE) --product pgstated
	$(SWIFT_RELEASE) --product pgstatectl

# Regenerates docs/pgstatectl.1 and docs/pgstated.1 from the argument parsers (commit the result).
.PHONY: man
man:
	swift package plugin --allow-writing-to-package-directory generate-manual --date $$(date +%Y-%m-%d)
	cp .build/plugins/GenerateManual/outputs/pgstatectl/pgstatectl.1 .build/plugins/GenerateManual/outputs/pgstated/pgstated.1 docs/

# Installs pgstated and pgstatectl (with its man page), pgstated's systemd units (ExecStart pointing at BINDIR), the sysusers.d entry, an example
# environment file, and the C client library with its header and pkg-config file.
install: $(if $(filter .build/release/pgstated,$(PGSTATED_BIN)),release)
	install -D -m 0755 $(PGSTATED_BIN) $(DESTDIR)$(BINDIR)/pgstated
	install -D -m 0755 $(PGSTATECTL_BIN) $(DESTDIR)$(BINDIR)/pgstatectl
	install -D -m 0644 docs/pgstatectl.1 $(DESTDIR)$(MANDIR)/man1/pgstatectl.1
	install -D -m 0644 docs/pgstated.1 $(DESTDIR)$(MANDIR)/man1/pgstated.1
	install -D -m 0644 deploy/pgstated.socket $(DESTDIR)$(UNITDIR)/pgstated.socket
	sed 's#^ExecStart=/usr/local/bin/pgstated#ExecStart=$(BINDIR)/pgstated#' deploy/pgstated.service \
		> deploy/.pgstated.service.tmp
	install -D -m 0644 deploy/.pgstated.service.tmp $(DESTDIR)$(UNITDIR)/pgstated.service
	rm -f deploy/.pgstated.service.tmp
	install -D -m 0644 deploy/pgstated.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/pgstated.conf
	install -D -m 0644 deploy/pgstated.env.example $(DESTDIR)$(SYSCONFDIR)/pgstated/pgstated.env.example
	install -D -m 0644 deploy/access.conf.example $(DESTDIR)$(SYSCONFDIR)/pgstated/access.conf.example
	$(MAKE) -C clients/c install PREFIX=$(PREFIX) DESTDIR=$(abspath $(DESTDIR))

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgstated $(DESTDIR)$(UNITDIR)/pgstated.socket $(DESTDIR)$(UNITDIR)/pgstated.service
	rm -f $(DESTDIR)$(BINDIR)/pgstatectl $(DESTDIR)$(MANDIR)/man1/pgstatectl.1 $(DESTDIR)$(MANDIR)/man1/pgstated.1
	rm -f $(DESTDIR)$(SYSUSERSDIR)/pgstated.conf $(DESTDIR)$(SYSCONFDIR)/pgstated/pgstated.env.example
	rm -f $(DESTDIR)$(SYSCONFDIR)/pgstated/access.conf.example
	-rmdir $(DESTDIR)$(SYSCONFDIR)/pgstated 2>/dev/null
	$(MAKE) -C clients/c uninstall PREFIX=$(PREFIX) DESTDIR=$(abspath $(DESTDIR))

# Debian packages into .run/deb/: pgstated, libpgstate0, libpgstate-dev (dpkg-deb, lintian clean), and the Python
# wheel beside them. PGSTATED_BIN and PGSTATECTL_BIN must be static release builds (--static-swift-stdlib).
.PHONY: deb
deb:
	@PGSTATED_BIN=$(PGSTATED_BIN) PGSTATECTL_BIN=$(PGSTATECTL_BIN) scripts/deb.sh

# Builds the packages, then boots a minimal Debian with systemd-nspawn, installs them there and checks pgstated as
# systemd runs it (socket activation, restart, reload, crash, watchdog, hardening, purge).
.PHONY: test-systemd
test-systemd:
	@PGSTATED_BIN=$(PGSTATED_BIN) PGSTATECTL_BIN=$(PGSTATECTL_BIN) scripts/test-systemd.sh

clean:
	rm -rf .build .run clients/c/build
