import Logging
import PGStateMetrics
import PGStateServer
import PGStateStore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The daemon's life: reactors up → database connected → socket open → READY=1 → serve → (SIGTERM) STOPPING=1
/// → drain → pool closed.
struct Daemon: Service, CustomStringConvertible {
    var description: String { "pgstated" }

    let settings: Settings
    let logger: Logger

    private enum StartOutcome { case ready, stop }

    func run() async throws {
        // Take the inherited socket first: sd_listen_fds must run once, before anything else reads LISTEN_*.
        let inherited = try Systemd.takeListeningSocket()
        // Trap SIGHUP from the start: its default action would end the process (a reload while still connecting).
        let hangUps = await UnixSignalsSequence(trapping: .sighup)
        let server = PGStateServer(configuration: settings.server, store: settings.store, logger: logger)
        try server.start()
        // Operators can see the start-up too: /health/ready says what is missing until the pool is up.
        var endpoint: MetricsEndpoint?
        if let address = settings.metricsAddress {
            do {
                endpoint = try await MetricsEndpoint.start(address, exporter: MetricsExporter(server: server))
                logger.info("serving metrics", metadata: ["address": "\(address)", "paths": "/metrics /health/live /health/ready"])
            } catch {
                logger.critical("cannot serve metrics on \(address): \(error)")
                await server.stop()
                throw error
            }
        }
        logger.info("connecting to the database", metadata: [
            "pool.size": "\(settings.store.poolSize)", "table": "\(settings.store.table)",
            "reactors": "\(server.reactorCount)",
        ])

        // Not READY until the pool is connected and the schema is ready; SIGTERM meanwhile stops cleanly.
        let outcome = await withTaskGroup(of: StartOutcome.self) { tasks in
            tasks.addTask { await server.waitUntilReady(); return .ready }
            tasks.addTask { try? await gracefulShutdown(); return .stop }
            let first = await tasks.next()!
            tasks.cancelAll()
            if first == .stop { await server.stop() }
            await tasks.waitForAll()
            return first
        }
        guard outcome == .ready else {
            await endpoint?.stop()
            return
        }

        let listening: String
        do {
            listening = try server.listen(inheritedSocket: inherited)
        } catch {
            logger.critical("cannot listen: \(error)")
            await server.stop()
            await endpoint?.stop()
            throw error
        }
        logger.info("pgstated \(PGStated.version) ready", metadata: [
            "socket": "\(listening)", "access": "\(settings.accessFile ?? "no access file: one shared namespace, full access")"])
        for warning in settings.accessWarnings { logger.warning("access file: \(warning)") }
        let notifier = Task { await StatusNotifier(server: server).run() }
        let reloader = Task { await reloadAccess(server, on: hangUps) }

        try? await gracefulShutdown()
        reloader.cancel()

        logger.info("shutting down: draining connections")
        Systemd.notify("STOPPING=1\nSTATUS=draining connections")
        await server.drain(ownsSocketPath: inherited == nil)
        await server.stop()
        notifier.cancel()
        _ = await notifier.result
        await endpoint?.stop()
        logger.info("pgstated stopped")
    }
}

extension Daemon {
    /// SIGHUP (`systemctl reload`): read the access file again. The new file is parsed completely first; a bad
    /// one keeps the rules in force and says which line is wrong and why. New rules apply to connections accepted
    /// afterwards; open connections keep what they were granted.
    ///
    /// Without a file named (option or environment), the default `/etc/pgstated/access.conf` is looked for again:
    /// installing it and reloading turns access control on. Once rules are in force, a file that has gone is an
    /// error like any other (the rules stay), never a silent return to the open policy.
    func reloadAccess(_ server: PGStateServer, on hangUps: UnixSignalsSequence) async {
        var current = settings.accessFile
        for await _ in hangUps {
            Systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(Systemd.monotonicMicroseconds)")
            defer { Systemd.notify("READY=1") }
            if current == nil, Settings.defaultAccessFileExists { current = Settings.defaultAccessFile }
            guard let path = current else {
                logger.notice("SIGHUP: no access file (\(Settings.defaultAccessFile) does not exist and none was named); every peer still shares one namespace")
                continue
            }
            do {
                let rules = try AccessFile.load(path)
                server.reloadAccess(.rules(rules))
                logger.notice("access rules reloaded; they apply to new connections, open ones keep theirs",
                              metadata: ["file": "\(path)", "rules": "\(rules.rules.count)"])
                for warning in rules.warnings { logger.warning("access file: \(warning)") }
            } catch {
                logger.error("access rules NOT reloaded, the previous rules stay in force: \(error)")
            }
        }
    }
}

/// `sd_notify` for the daemon: READY=1, periodic STATUS= with live figures, WATCHDOG=1 at half the interval.
struct StatusNotifier {
    let server: PGStateServer

    /// The figures of the interval since the previous line: requests answered per second and their p99.
    private struct Interval {
        var statistics = RequestStatistics()
        var at = ContinuousClock.now
    }

    static func status(_ stats: PGStateServer.Statistics, requests: RequestStatistics, seconds: Double,
                       paused: Bool = false) -> String {
        var line = "STATUS=\(paused ? "PAUSED " : "")clients=\(stats.clients) in-flight=\(stats.requestsInFlight) "
            + "pool=\(stats.connectionsUp)/\(stats.poolSize) up"
        let perSecond = seconds > 0 ? Double(requests.answered) / seconds : 0
        line += " requests/s=\(Int(perSecond.rounded()))"
        if let p99 = requests.quantile(0.99) {
            line += " p99<=\(Self.milliseconds(p99))"
        }
        return line
    }

    static func milliseconds(_ microseconds: Int64) -> String {
        microseconds < 10_000
            ? "\(microseconds / 1000).\(microseconds % 1000 / 100)ms" : "\(microseconds / 1000)ms"
    }

    private func status(since previous: inout Interval) async -> String {
        let now = Interval(statistics: await server.requestStatistics(), at: .now)
        let elapsed = now.at - previous.at
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        defer { previous = now }
        return Self.status(server.statistics, requests: now.statistics.subtracting(previous.statistics),
                           seconds: seconds, paused: server.health.state.contains(.paused))
    }

    /// Until cancelled.
    func run() async {
        var interval = Interval(statistics: await server.requestStatistics())
        Systemd.notify("READY=1\n\(Self.status(server.statistics, requests: RequestStatistics(), seconds: 0))")
        let watchdog = Systemd.watchdogMicroseconds.map { $0 / 2 }
        if watchdog != nil { Systemd.notify("WATCHDOG=1") }
        let statusInterval: UInt64 = 2_000_000
        var untilStatus = statusInterval
        var untilWatchdog = watchdog ?? .max
        while !Task.isCancelled {
            let step = min(untilStatus, untilWatchdog)
            try? await Task.sleep(nanoseconds: step * 1000)
            if Task.isCancelled { return }
            untilStatus -= step
            untilWatchdog -= step
            if untilStatus == 0 {
                Systemd.notify(await status(since: &interval))
                untilStatus = statusInterval
            }
            if untilWatchdog == 0, let watchdog {
                Systemd.notify("WATCHDOG=1")
                untilWatchdog = watchdog
            }
        }
    }
}
