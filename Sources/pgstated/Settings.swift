import Glibc
import Logging
import PGStateMetrics
import PGStateProtocol
import PGStateServer
import PGStateStore

/// The process environment, read once.
struct Environment {
    var values: [String: String]

    static var current: Environment {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return Environment(values: values)
    }

    subscript(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }
}

/// Options resolved from the command line, then the environment, then the defaults; validated.
struct Settings {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    var store: StoreConfiguration
    var server: ServerConfiguration
    var logLevel: Logger.Level
    /// Reactor threads.
    var threads: Int
    /// Where `/metrics` is served (nil: nowhere).
    var metricsAddress: MetricsAddress?
    /// The access file in force (nil: none, the open policy).
    var accessFile: String?
    /// What the access file's loading noticed (rules that match nobody now), logged at start-up.
    var accessWarnings: [String] = []

    /// The default access file, used when it exists and no other is named.
    static let defaultAccessFile = "/etc/pgstated/access.conf"

    static var defaultAccessFileExists: Bool {
        var info = stat()
        return stat(defaultAccessFile, &info) == 0
    }

    init(_ options: PGStated, environment: Environment) throws {
        func integer(_ value: Int?, _ variable: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
            let resolved: Int
            if let value {
                resolved = value
            } else if let text = environment[variable] {
                guard let parsed = Int(text) else { throw Invalid(description: "\(variable)=\(text) is not an integer") }
                resolved = parsed
            } else {
                resolved = fallback
            }
            guard range.contains(resolved) else {
                throw Invalid(description: "\(variable) (or its option) must be in \(range.lowerBound)...\(range.upperBound), got \(resolved)")
            }
            return resolved
        }

        let levelText = options.logLevel ?? environment["PGSTATED_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw Invalid(description: "unknown log level \(levelText)")
        }
        logLevel = level

        let tableText = options.table ?? environment["PGSTATED_TABLE"] ?? "durable_state"
        let table: TableName
        do { table = try TableName(tableText) } catch { throw Invalid(description: "\(error)") }

        let createSchema = !(options.noCreateSchema
            || ["1", "true", "yes"].contains(environment["PGSTATED_NO_CREATE_SCHEMA"]?.lowercased() ?? ""))

        let maxState = try integer(options.maxStateBytes, "PGSTATED_MAX_STATE_BYTES",
                                   default: ProtocolLimits.defaultMaxStateBytes, range: 0...(1 << 30))
        let maxInFlight = try integer(options.maxInFlight, "PGSTATED_MAX_IN_FLIGHT", default: 1024, range: 1...65_536)

        store = StoreConfiguration(
            connectionString: options.databaseURL ?? environment["PGSTATED_DATABASE_URL"] ?? "",
            poolSize: try integer(options.poolSize, "PGSTATED_POOL_SIZE", default: 4, range: 1...256),
            table: table,
            createSchema: createSchema,
            queueLimit: try integer(options.queueLimit, "PGSTATED_QUEUE_LIMIT", default: 65_536, range: 1...10_000_000)
        )
        store.expirySweepIntervalMilliseconds = try integer(
            options.ttlSweepIntervalMs, "PGSTATED_TTL_SWEEP_INTERVAL_MS", default: 10_000, range: 0...86_400_000)
        store.expirySweepBatch = try integer(options.ttlSweepBatch, "PGSTATED_TTL_SWEEP_BATCH", default: 500,
                                             range: 1...100_000)

        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        threads = try integer(options.threads, "PGSTATED_THREADS",
                              default: ServerConfiguration.defaultThreads(cpus: cpus, poolSize: store.poolSize),
                              range: 1...256)

        let modeText = options.socketMode ?? environment["PGSTATED_SOCKET_MODE"] ?? "0660"
        guard let mode = mode_t(modeText, radix: 8), mode <= 0o777 else {
            throw Invalid(description: "socket mode \(modeText) is not an octal mode like 0660")
        }
        server = ServerConfiguration(
            socketPath: options.socket ?? environment["PGSTATED_SOCKET"] ?? "/run/pgstated/pgstated.sock",
            socketMode: mode,
            maxConnections: try integer(options.maxConnections, "PGSTATED_MAX_CONNECTIONS", default: 16_384,
                                        range: 1...1_000_000),
            limits: ProtocolLimits(maxStateBytes: maxState, maxInFlight: maxInFlight),
            shutdownTimeoutSeconds: try integer(options.shutdownTimeout, "PGSTATED_SHUTDOWN_TIMEOUT",
                                                default: 10, range: 0...3600),
            serverVersion: "pgstated \(PGStated.version)",
            threads: threads
        )
        server.handshakeTimeoutMilliseconds = Int64(try integer(
            options.handshakeTimeout, "PGSTATED_HANDSHAKE_TIMEOUT", default: 10, range: 1...3600)) * 1000
        server.maxHandshakesPerPeer = try integer(options.maxHandshakesPerPeer, "PGSTATED_MAX_HANDSHAKES_PER_PEER",
                                                  default: 256, range: 1...1_000_000)

        if options.slowRequestMs != nil || environment["PGSTATED_SLOW_REQUEST_MS"] != nil {
            server.slowRequestMicroseconds = Int64(try integer(
                options.slowRequestMs, "PGSTATED_SLOW_REQUEST_MS", default: 0, range: 0...3_600_000)) * 1000
        }

        if let text = options.metricsListen ?? environment["PGSTATED_METRICS_LISTEN"] {
            do { metricsAddress = try MetricsAddress(parsing: text) } catch { throw Invalid(description: "\(error)") }
        }

        if let named = options.accessFile ?? environment["PGSTATED_ACCESS_FILE"] {
            accessFile = named
        } else {
            accessFile = Self.defaultAccessFileExists ? Self.defaultAccessFile : nil
        }
        if let accessFile {
            do {
                let rules = try AccessFile.load(accessFile)
                server.accessPolicy = .rules(rules)
                accessWarnings = rules.warnings
            } catch {
                throw Invalid(description: "access file: \(error)")
            }
        }
    }
}
