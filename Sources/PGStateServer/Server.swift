import Glibc
import Logging
import PGStateProtocol
import PGStateStore
import Synchronization

/// Settings of the socket side.
public struct ServerConfiguration: Sendable {
    public var socketPath: String
    /// Mode of a socket file pgstated creates itself (socket activation leaves it to systemd).
    public var socketMode: mode_t
    public var maxConnections: Int
    public var limits: ProtocolLimits
    /// How many seconds a shutdown waits for requests in flight before closing connections anyway.
    public var shutdownTimeoutSeconds: Int
    public var serverVersion: String
    /// Reactor threads; each owns a share of the clients and of the pool's connections.
    public var threads: Int
    /// The access rules connections are admitted by (``PGStateServer/reloadAccess(_:)`` replaces them).
    public var accessPolicy: AccessPolicy = .open(operatorUID: geteuid())
    /// How long a connection may take to send its HELLO before it is closed.
    public var handshakeTimeoutMilliseconds: Int64 = 10_000
    /// Connections of one peer uid still in the handshake at once; more are refused (OVERLOADED, id 0), so that
    /// a peer cannot hold every connection slot without ever saying HELLO.
    public var maxHandshakesPerPeer: Int = 256
    /// Per-connection backpressure beyond `max_in_flight` (see ``ClientConnectionStateMachine``).
    var connectionLimits: ClientConnectionStateMachine.Limits = .default
    /// Requests that take at least this long (accepted → answered) are logged with where the time went; nil:
    /// off, and no request is timed.
    public var slowRequestMicroseconds: Int64?
    /// User and group names (tests substitute their own).
    var names: NameService = .system
    /// How long a connection whose output is closed waits for the client to close its side.
    var closeGracePeriodMilliseconds: Int64 = 2000

    public init(
        socketPath: String, socketMode: mode_t = 0o660, maxConnections: Int = 16_384,
        limits: ProtocolLimits = .default, shutdownTimeoutSeconds: Int = 10, serverVersion: String, threads: Int = 1
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.maxConnections = maxConnections
        self.limits = limits
        self.shutdownTimeoutSeconds = shutdownTimeoutSeconds
        self.serverVersion = serverVersion
        self.threads = threads
    }

    /// The default number of reactors for `cpus` processors and a pool of `poolSize` connections: one per two
    /// processors (PostgreSQL and the clients need the rest), at most one per pool connection (a reactor without a
    /// connection could serve nothing).
    public static func defaultThreads(cpus: Int, poolSize: Int) -> Int {
        max(1, min(cpus / 2, poolSize))
    }
}

/// pgstated's server: reactor threads serving the clients of one Unix socket from one libpq pool.
///
/// Life: ``start()`` (reactors connect to the database) → ``waitUntilReady()`` → ``listen(inheritedSocket:)``
/// → serve → ``drain()`` (SIGTERM: stop accepting, finish what is in flight, closing notice) → ``stop()``.
public final class PGStateServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: StoreConfiguration
    private let logger: Logger
    private let shared: ServerShared
    private let sweeper: ExpirySweeper

    public init(configuration: ServerConfiguration, store: StoreConfiguration, logger: Logger) {
        precondition(configuration.threads >= 1, "at least one reactor")
        let reactors = min(configuration.threads, store.poolSize)
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.shared = ServerShared(reactors: reactors, maxConnections: configuration.maxConnections,
                                   policy: configuration.accessPolicy, poolSize: store.poolSize)
        self.sweeper = ExpirySweeper(store: store, logger: logger)
    }

    public var reactorCount: Int { shared.handles.count }

    /// Starts the reactor threads; each connects its share of the pool (pool connection `i` belongs to reactor
    /// `i % reactors`) in the background, with backoff.
    public func start() throws {
        sweeper.start()
        let reactors = shared.handles.count
        for handle in shared.handles {
            let slots = Array(stride(from: handle.index, to: store.poolSize, by: reactors))
            let (shared, configuration, store, logger) = (self.shared, self.configuration, self.store, self.logger)
            spawnThread(name: "pgstate-r\(handle.index)") {
                do {
                    let reactor = try Reactor(handle: handle, shared: shared, configuration: configuration,
                                              store: store, poolSlots: slots, logger: logger)
                    reactor.run()
                } catch {
                    logger.critical("reactor \(handle.index) cannot start: \(error)")
                    shared.stopped.report()
                }
            }
        }
    }

    /// Returns once a database connection is up with the schema ready, or once ``stop()`` has begun.
    public func waitUntilReady() async {
        await shared.ready.wait()
    }

    /// Starts accepting on the socket systemd passed (`inheritedSocket`) or on `configuration.socketPath`.
    /// Returns a description of where it listens.
    public func listen(inheritedSocket: Int32?) throws -> String {
        let descriptor: Int32
        let description: String
        if let inheritedSocket {
            descriptor = inheritedSocket
            description = "socket passed by systemd (fd \(inheritedSocket))"
        } else {
            descriptor = try UnixSocketPath.bindAndListen(configuration.socketPath, mode: configuration.socketMode)
            description = configuration.socketPath
        }
        shared.handles[0].post(.listen(descriptor))
        return description
    }

    /// Replaces the access rules. Connections accepted from now on are admitted by the new rules; open
    /// connections keep the identity, namespace and permissions they were admitted with.
    public func reloadAccess(_ policy: AccessPolicy) {
        shared.policy.withLock { $0 = policy }
        shared.policyGeneration.add(1, ordering: .relaxed)
    }

    public struct Statistics: Sendable {
        public var clients: Int
        public var requestsInFlight: Int
        public var connectionsUp: Int
        public var poolSize: Int
    }

    public var statistics: Statistics {
        var statistics = Statistics(clients: 0, requestsInFlight: 0, connectionsUp: 0, poolSize: store.poolSize)
        for handle in shared.handles {
            statistics.clients += handle.clients.load(ordering: .relaxed)
            statistics.requestsInFlight += handle.requestsInFlight.load(ordering: .relaxed)
            statistics.connectionsUp += handle.connectionsUp.load(ordering: .relaxed)
        }
        return statistics
    }

    /// Every reactor's store-request durations, merged (each reactor answers from its own thread; one that has
    /// ended answers with its last figures).
    public func requestStatistics() async -> RequestStatistics {
        await metrics().merged.allDurations
    }

    /// Every reactor's figures merged, with the server's own. A reactor that has not answered within `timeout`
    /// is left out, and ``ServerMetrics/allReactorsAnswered`` is false: the server is not alive.
    public func metrics(timeout: Duration = .seconds(2)) async -> ServerMetrics {
        let gather = ReportGather(expected: shared.handles.count)
        let expiry = Task {
            try await Task.sleep(for: timeout)
            gather.expire()
        }
        let reports = await withCheckedContinuation { (continuation: CheckedContinuation<[ReactorReport], Never>) in
            gather.wait(continuation)
            gather.ask(shared.handles, .metrics)
        }
        expiry.cancel()
        var metrics = ServerMetrics(reports: reports, reactors: shared.handles.count, health: shared.health(),
                                    version: configuration.serverVersion)
        metrics.expiredRowsDeleted = sweeper.deleted.load(ordering: .relaxed)
        return metrics
    }

    /// What HEALTH answers.
    public var health: Health { shared.health() }

    /// Stops accepting, lets every connection finish the requests it has in flight (each then gets the closing
    /// notice and closes), and after the shutdown timeout closes whatever is left.
    public func drain(ownsSocketPath: Bool) async {
        shared.draining.store(true, ordering: .relaxed)
        shared.paused.store(false, ordering: .relaxed)
        for handle in shared.handles { handle.post(.drain) }
        if ownsSocketPath { unlink(configuration.socketPath) }
        let deadline = monotonicMilliseconds() + Int64(configuration.shutdownTimeoutSeconds) * 1000
        while statistics.clients > 0 && monotonicMilliseconds() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let left = statistics.clients
        if left > 0 {
            logger.warning("closing \(left) connections still busy after the shutdown timeout")
            for handle in shared.handles { handle.post(.closeClients) }
        }
    }

    /// Finishes the requests queued, closes the database connections and ends the reactor threads.
    public func stop() async {
        sweeper.stop()
        shared.ready.force()
        for handle in shared.handles { handle.post(.stop) }
        await shared.stopped.wait()
    }
}
