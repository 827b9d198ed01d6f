import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGStateServer
import PGStateStore
import ServiceLifecycle

/// The daemon's life: pool up → socket open → READY=1 → serve → (SIGTERM) STOPPING=1 → drain → pool closed.
struct Daemon: Service, CustomStringConvertible {
    var description: String { "pgstated" }

    let settings: Settings
    let logger: Logger

    private enum StartOutcome { case ready, stop }

    func run() async throws {
        // Take the inherited socket first: sd_listen_fds must run once, before anything else reads LISTEN_*.
        let inherited = try Systemd.takeListeningSocket()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.threads)
        let pool = StorePool(configuration: settings.store, logger: logger)
        pool.start()
        logger.info("connecting to the database", metadata: [
            "pool.size": "\(settings.store.poolSize)", "table": "\(settings.store.table)",
        ])

        // Not READY until the pool is connected and the schema is ready; SIGTERM meanwhile stops cleanly.
        let outcome = await withTaskGroup(of: StartOutcome.self) { tasks in
            tasks.addTask { await pool.waitUntilReady(); return .ready }
            tasks.addTask { try? await gracefulShutdown(); return .stop }
            let first = await tasks.next()!
            tasks.cancelAll()
            if first == .stop { await pool.shutdown() }
            await tasks.waitForAll()
            return first
        }
        guard outcome == .ready else {
            try await group.shutdownGracefully()
            return
        }

        let server = PGStateServer(configuration: settings.server, pool: pool, group: group, logger: logger)
        let listening: String
        do {
            listening = try await server.start(inheritedSocket: inherited)
        } catch {
            logger.critical("cannot listen: \(error)")
            await pool.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        logger.info("pgstated \(PGStated.version) ready", metadata: ["socket": "\(listening)"])
        let notifier = StatusNotifier(server: server, pool: pool, eventLoop: group.next())
        notifier.ready()

        try? await gracefulShutdown()

        logger.info("shutting down: draining connections")
        notifier.stopping()
        await server.drain()
        await pool.shutdown()
        notifier.stop()
        try await group.shutdownGracefully()
        logger.info("pgstated stopped")
    }
}

/// `sd_notify` for the daemon: READY=1, periodic STATUS= with live figures, WATCHDOG=1 at half the interval.
final class StatusNotifier: Sendable {
    private let server: PGStateServer
    private let pool: StorePool
    private let eventLoop: EventLoop
    private let tasks: NIOLockedValueBox<[RepeatedTask]> = .init([])

    init(server: PGStateServer, pool: StorePool, eventLoop: EventLoop) {
        self.server = server
        self.pool = pool
        self.eventLoop = eventLoop
    }

    var status: String {
        let stats = pool.statistics
        return "STATUS=clients=\(server.clientCount) in-flight=\(server.requestsInFlight) "
            + "pool=\(stats.connectionsUp)/\(stats.poolSize) up"
    }

    func ready() {
        Systemd.notify("READY=1\n\(status)")
        var scheduled = [eventLoop.scheduleRepeatedTask(initialDelay: .seconds(2), delay: .seconds(2)) { [self] _ in
            Systemd.notify(self.status)
        }]
        if let microseconds = Systemd.watchdogMicroseconds {
            let half = TimeAmount.microseconds(Int64(microseconds / 2))
            Systemd.notify("WATCHDOG=1")
            scheduled.append(eventLoop.scheduleRepeatedTask(initialDelay: half, delay: half) { _ in
                Systemd.notify("WATCHDOG=1")
            })
        }
        tasks.withLockedValue { $0 = scheduled }
    }

    func stopping() {
        Systemd.notify("STOPPING=1\nSTATUS=draining connections")
    }

    func stop() {
        tasks.withLockedValue { $0.forEach { $0.cancel() } }
    }
}
