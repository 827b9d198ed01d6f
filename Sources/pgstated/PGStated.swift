import ArgumentParser
import Glibc
import Logging
import PGStateProtocol
import PGStateServer
import PGStateStore
import ServiceLifecycle

/// The pgstated command line. Every option can also be set by an environment variable (named in its help);
/// the command line wins.
@main
struct PGStated: AsyncParsableCommand {
    static let version = "0.4.0"

    static let configuration = CommandConfiguration(
        commandName: "pgstated",
        abstract: "A local durable state store over a Unix socket, backed by one pipelined PostgreSQL pool.",
        discussion: """
            Under systemd socket activation (LISTEN_FDS) pgstated serves the socket it is given; otherwise it binds \
            --socket itself. Without --database-url, libpq's PG* environment variables and defaults apply.
            """,
        version: "pgstated \(version)"
    )

    @Option(help: "Unix socket path to bind when not socket-activated. [env: PGSTATED_SOCKET] (default: /run/pgstated/pgstated.sock)")
    var socket: String?

    @Option(help: "Octal mode of a socket file pgstated creates. [env: PGSTATED_SOCKET_MODE] (default: 0660)")
    var socketMode: String?

    @Option(help: "libpq connection string or URI. [env: PGSTATED_DATABASE_URL] (default: libpq's PG* variables)")
    var databaseURL: String?

    @Option(help: "Number of PostgreSQL connections. [env: PGSTATED_POOL_SIZE] (default: 4)")
    var poolSize: Int?

    @Option(help: "State table, NAME or SCHEMA.NAME. [env: PGSTATED_TABLE] (default: durable_state)")
    var table: String?

    @Flag(help: "Do not create the table at start-up. [env: PGSTATED_NO_CREATE_SCHEMA=1]")
    var noCreateSchema = false

    @Option(help: "trace, debug, info, notice, warning, error or critical. [env: PGSTATED_LOG_LEVEL] (default: info)")
    var logLevel: String?

    @Option(help: "Maximum client connections. [env: PGSTATED_MAX_CONNECTIONS] (default: 16384)")
    var maxConnections: Int?

    @Option(help: "Requests in flight per connection before pgstated stops reading from it. [env: PGSTATED_MAX_IN_FLIGHT] (default: 1024)")
    var maxInFlight: Int?

    @Option(help: "Largest state in bytes. [env: PGSTATED_MAX_STATE_BYTES] (default: 8388608)")
    var maxStateBytes: Int?

    @Option(help: "Requests queued in the whole pool before new ones get OVERLOADED. [env: PGSTATED_QUEUE_LIMIT] (default: 65536)")
    var queueLimit: Int?

    @Option(help: "Milliseconds between sweeps that delete expired rows (TTL); 0 turns the sweeper off. Reads never see an expired row either way. [env: PGSTATED_TTL_SWEEP_INTERVAL_MS] (default: 10000)")
    var ttlSweepIntervalMs: Int?

    @Option(help: "Most expired rows one sweep transaction deletes. [env: PGSTATED_TTL_SWEEP_BATCH] (default: 500)")
    var ttlSweepBatch: Int?

    @Option(help: "Seconds a shutdown waits for requests in flight. [env: PGSTATED_SHUTDOWN_TIMEOUT] (default: 10)")
    var shutdownTimeout: Int?

    @Option(help: "Reactor threads, each serving a share of the clients with a share of the pool. [env: PGSTATED_THREADS] (default: half the CPUs, at least 1, at most --pool-size)")
    var threads: Int?

    @Option(help: "Access rules mapping peers to namespaces and permissions; reloaded on SIGHUP. Without one, every peer that can open the socket shares one namespace with full access. [env: PGSTATED_ACCESS_FILE] (default: /etc/pgstated/access.conf if it exists)")
    var accessFile: String?

    @Option(help: "Log requests slower than this many milliseconds (accepted to answered), with where the time went; 0 logs every request. [env: PGSTATED_SLOW_REQUEST_MS] (default: off)")
    var slowRequestMs: Int?

    @Option(help: "Serve Prometheus metrics (GET /metrics) and health (/health/live, /health/ready) over HTTP on HOST:PORT (e.g. 127.0.0.1:9187) or unix:/PATH. [env: PGSTATED_METRICS_LISTEN] (default: off)")
    var metricsListen: String?

    @Option(help: ArgumentHelp("Parse an access file, print its rules and exit: 0 if it is valid, 1 if not.", valueName: "path"))
    var checkAccessFile: String?

    @Option(help: "Seconds a new connection may take to send HELLO. [env: PGSTATED_HANDSHAKE_TIMEOUT] (default: 10)")
    var handshakeTimeout: Int?

    @Option(help: "Connections of one peer uid in the handshake at once. [env: PGSTATED_MAX_HANDSHAKES_PER_PEER] (default: 256)")
    var maxHandshakesPerPeer: Int?

    func run() async throws {
        if let path = checkAccessFile {
            throw ExitCode(Self.checkAccess(path))
        }
        let settings = try Settings(self, environment: Environment.current)
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: settings.logLevel) }
        let logger = Logger(label: "pgstated")
        let daemon = Daemon(settings: settings, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: daemon)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// `--check-access-file`: what the daemon would make of the file, without starting it.
    static func checkAccess(_ path: String) -> Int32 {
        do {
            let rules = try AccessFile.load(path)
            for rule in rules.rules {
                print("\(path):\(rule.line): \(rule)")
            }
            for warning in rules.warnings { print("warning: \(warning)") }
            print("\(path): \(rules.rules.count) rule\(rules.rules.count == 1 ? "" : "s"), valid")
            return 0
        } catch {
            print("invalid: \(error)")
            return 1
        }
    }
}
