import ArgumentParser
import Glibc
import NIOCore
import PGStateProtocol

/// `pgstatectl`: the operators' command line for pgstated.
@main
struct PGStateCtl: ParsableCommand {
    static let version = "0.4.0"

    static let configuration = CommandConfiguration(
        commandName: "pgstatectl",
        abstract: "Operate a pgstated daemon: health, figures, clients, pause and resume, records.",
        discussion: """
            Exit codes: 0 success (for ping and status: the daemon is ready); 1 the daemon answered but is not \
            ready (ping, status), or the record is not found (get) or the expected revision did not match (put, \
            delete); 2 no answer (cannot connect, timeout, protocol error) or a server condition (unavailable, \
            overloaded, shutting down, outcome unknown, internal error); 3 permission denied (stats, clients, \
            pause and resume need the admin permission); 4 the request was refused as invalid; 64 usage error.
            """,
        version: "pgstatectl \(version)",
        subcommands: [Ping.self, Status.self, Stats.self, Clients.self, Pause.self, Resume.self, Get.self, Put.self,
                      DeleteCommand.self, List.self, BenchLatency.self]
    )

    /// Given before the command name (`pgstatectl --socket S ping`), they apply to the command.
    @OptionGroup var options: ConnectionOptions
}

/// Options every command takes.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "pgstated's socket. [env: PGSTATE_SOCKET] (default: /run/pgstated/pgstated.sock)")
    var socket: String?

    @Option(help: "Seconds to wait for each answer.")
    var deadline: Double = 5

    @Flag(help: "Print JSON, for scripts.")
    var json = false

    var path: String {
        if let socket { return socket }
        if let value = getenv("PGSTATE_SOCKET"), value.pointee != 0 { return String(cString: value) }
        return "/run/pgstated/pgstated.sock"
    }

    func connect() throws -> ControlConnection {
        try ControlConnection(path: path, timeoutSeconds: deadline)
    }

    /// A connection to a server that serves `name` (one of the operators' requests).
    func connect(serving name: String) throws -> ControlConnection {
        let connection = try connect()
        try needs(.operator, name, on: connection)
        return connection
    }

    func needs(_ capability: Capabilities, _ name: String, on connection: ControlConnection) throws {
        guard connection.capabilities.contains(capability) else {
            throw ControlFailure(kind: .noAnswer,
                                 description: "\(connection.hello.serverVersion) does not serve \(name) (capability missing); it is older than this tool")
        }
    }
}

/// Runs a command body; turns failures into a message on stderr and the exit code.
func runCommand(_ body: () throws -> Int32) throws {
    do {
        let code = try body()
        if code != 0 { throw ExitCode(code) }
    } catch let failure as ControlFailure {
        printError("pgstatectl: \(failure)")
        throw ExitCode(failure.exitCode)
    }
}

func printError(_ text: String) {
    writeAll(2, Array((text + "\n").utf8))
}

/// Writes every byte to a descriptor (stdout 1, stderr 2), without stdio's shared buffers.
func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}

/// An ERROR answer as a failure; any other unexpected response as a protocol error.
func unexpected(_ response: Response, to request: String) -> ControlFailure {
    if case .error(let error) = response {
        return ControlFailure(kind: .server(error.status),
                              description: "\(error.status): \(error.message)")
    }
    return ControlFailure(kind: .noAnswer, description: "protocol error: \(request) answered with \(response.type)")
}

func health(_ connection: ControlConnection, _ options: ConnectionOptions) throws -> Health {
    try options.needs(.operator, "HEALTH", on: connection)
    let response = try connection.call(.health)
    guard case .healthOK(let health) = response else { throw unexpected(response, to: "HEALTH") }
    return health
}

func healthJSON(_ health: Health) -> JSON {
    .object([
        ("ready", .bool(health.isReady)), ("pool_up", .bool(health.state.contains(.poolUp))),
        ("paused", .bool(health.state.contains(.paused))), ("draining", .bool(health.state.contains(.draining))),
        ("pool_connections_up", .integer(Int64(health.poolUp))), ("pool_size", .integer(Int64(health.poolSize))),
        ("clients", .integer(Int64(health.clients))), ("uptime_ms", .unsigned(health.uptimeMilliseconds)),
        ("not_ready_reasons", .array(health.notReadyReasons.map(JSON.string))),
    ])
}

func healthLine(_ health: Health) -> String {
    let state = health.isReady ? "ready" : "not ready: " + health.notReadyReasons.joined(separator: ", ")
    return "\(state) (pool \(health.poolUp)/\(health.poolSize) up, \(health.clients) clients, up \(health.uptimeMilliseconds / 1000) s)"
}

extension PGStateCtl {
    struct Ping: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the daemon: exit 0 when it answers and is ready (pool up, not paused), 1 when it answers but is not ready, 2 when it does not answer.")
        @OptionGroup var options: ConnectionOptions

        func run() throws {
            try runCommand {
                let health = try health(try options.connect(), options)
                print(options.json ? healthJSON(health).text : healthLine(health))
                return health.isReady ? 0 : 1
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The daemon's version, health and the connection's identity; with the admin permission also its main figures. Exits like ping.")
        @OptionGroup var options: ConnectionOptions

        func run() throws {
            try runCommand {
                let connection = try options.connect()
                let health = try health(connection, options)
                var identity: WhoAmI?
                if connection.capabilities.contains(.identity), case .whoamiOK(let who) = try connection.call(.whoami) {
                    identity = who
                }
                var figures: [StatsEntry] = []
                if identity?.permissions.contains(.admin) ?? false, case .statsOK(let entries) = try connection.call(.stats) {
                    figures = entries.filter { Self.summary.contains($0.name) || $0.labels.contains("quantile=\"0.99\"") }
                }
                if options.json {
                    var members: [(String, JSON)] = [("server_version", .string(connection.hello.serverVersion)),
                                                     ("health", healthJSON(health))]
                    if let identity {
                        members.append(("identity", .object([
                            ("uid", .integer(Int64(identity.uid))), ("user", .string(identity.user)),
                            ("namespace", .string(identity.namespace)),
                            ("permissions", .string(identity.permissions.description))])))
                    }
                    members.append(("stats", statsJSON(figures)))
                    print(JSON.object(members).text)
                } else {
                    print("\(connection.hello.serverVersion) on \(connection.path)")
                    print(healthLine(health))
                    if let identity {
                        print("you: uid \(identity.uid)\(identity.user.isEmpty ? "" : " (\(identity.user))"), namespace \"\(identity.namespace)\", \(identity.permissions)")
                    }
                    for entry in figures { print(statsLine(entry)) }
                }
                return health.isReady ? 0 : 1
            }
        }

        static let summary: Set<String> = ["pgstate_requests_in_flight", "pgstate_requests_queued", "pgstate_commits_total",
                                           "pgstate_database_reconnects_total", "pgstate_slow_requests_total"]
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every figure the daemon keeps (the same as its /metrics), as name{labels} value lines. Needs the admin permission.")
        @OptionGroup var options: ConnectionOptions

        func run() throws {
            try runCommand {
                let connection = try options.connect(serving: "STATS")
                let response = try connection.call(.stats)
                guard case .statsOK(let entries) = response else { throw unexpected(response, to: "STATS") }
                print(options.json ? statsJSON(entries).text : entries.map(statsLine).joined(separator: "\n"))
                return 0
            }
        }
    }

    struct Clients: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per client connection: id, peer uid and pid, user, namespace, client name, state, connected since, requests answered, in flight. Needs the admin permission.")
        @OptionGroup var options: ConnectionOptions

        func run() throws {
            try runCommand {
                let connection = try options.connect(serving: "CLIENTS")
                var rows: [ClientRow] = []
                var after: UInt64 = 0
                while true {
                    let response = try connection.call(.clients(after: after))
                    guard case .clientsOK(let page) = response else { throw unexpected(response, to: "CLIENTS") }
                    rows += page.rows
                    guard page.more, let last = page.rows.last else { break }
                    after = last.connectionID
                }
                if options.json {
                    print(JSON.array(rows.map(clientJSON)).text)
                } else {
                    print("ID\tUID\tPID\tUSER\tNAMESPACE\tCLIENT\tSTATE\tCONNECTED\tREQUESTS\tIN_FLIGHT")
                    for row in rows {
                        print([String(row.connectionID), String(row.uid), String(row.pid), orDash(row.user),
                               orDash(row.namespace), orDash(row.clientName), stateName(row.state),
                               isoTime(row.connectedAtMilliseconds), String(row.requests), String(row.inFlight)]
                            .joined(separator: "\t"))
                    }
                }
                return 0
            }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop sending requests to PostgreSQL (for a switchover): requests wait; returns once nothing executes there. Needs the admin permission.")
        @OptionGroup var options: ConnectionOptions
        @Option(help: "Seconds a request may wait while paused before it is answered UNAVAILABLE; 0: no limit.")
        var timeout: Double = 30

        func run() throws {
            try runCommand {
                guard timeout >= 0 && timeout <= 4_294_967 else {
                    throw ControlFailure(kind: .usage, description: "--timeout must be 0 to 4294967 seconds")
                }
                let connection = try options.connect(serving: "PAUSE")
                let response = try connection.call(.pause(timeoutMilliseconds: UInt32((timeout * 1000).rounded())))
                guard case .ok = response else { throw unexpected(response, to: "PAUSE") }
                print(options.json ? JSON.object([("paused", .bool(true)), ("timeout_s", .number(timeout))]).text
                      : "paused: nothing executes in PostgreSQL now; requests wait \(timeout == 0 ? "until resume" : "at most \(timeout) s")")
                return 0
            }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a pause: waiting requests go to PostgreSQL. Needs the admin permission.")
        @OptionGroup var options: ConnectionOptions

        func run() throws {
            try runCommand {
                let connection = try options.connect(serving: "RESUME")
                let response = try connection.call(.resume)
                guard case .ok = response else { throw unexpected(response, to: "RESUME") }
                print(options.json ? JSON.object([("paused", .bool(false))]).text : "resumed")
                return 0
            }
        }
    }
}

func statsLine(_ entry: StatsEntry) -> String {
    "\(entry.name)\(entry.labels.isEmpty ? "" : "{\(entry.labels)}") \(JSON.number(entry.value).text)"
}

func statsJSON(_ entries: [StatsEntry]) -> JSON {
    .array(entries.map { .object([("name", .string($0.name)), ("labels", .string($0.labels)), ("value", .number($0.value))]) })
}

func clientJSON(_ row: ClientRow) -> JSON {
    .object([
        ("connection_id", .unsigned(row.connectionID)), ("uid", .integer(Int64(row.uid))),
        ("pid", .integer(Int64(row.pid))), ("user", .string(row.user)), ("namespace", .string(row.namespace)),
        ("client_name", .string(row.clientName)), ("state", .string(stateName(row.state))),
        ("connected_ms", .unsigned(row.connectedAtMilliseconds)), ("requests", .unsigned(row.requests)),
        ("in_flight", .integer(Int64(row.inFlight))),
    ])
}

func stateName(_ state: ClientRow.State?) -> String {
    switch state {
    case .handshake: return "handshake"
    case .ready: return "ready"
    case .draining: return "draining"
    case nil: return "unknown"
    }
}

func orDash(_ text: String) -> String { text.isEmpty ? "-" : text }

/// `2026-12-02T04:21:07Z` from Unix milliseconds.
func isoTime(_ milliseconds: UInt64) -> String {
    var seconds = time_t(milliseconds / 1000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
