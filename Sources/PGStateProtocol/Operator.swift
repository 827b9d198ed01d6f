import NIOCore

// The operators' requests' answers (PROTOCOL.md 6.15–6.21): HEALTH_OK, STATS_OK and CLIENTS_OK.

/// `HEALTH_OK` (0x88): whether the server is alive (it answered) and ready (pool up, not paused, not draining).
public struct Health: Sendable, Hashable {
    public struct State: OptionSet, Sendable, Hashable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Every server thread has a database connection up: requests can execute.
        public static let poolUp = State(rawValue: 1 << 0)
        /// `PAUSE` is in effect: requests wait.
        public static let paused = State(rawValue: 1 << 1)
        /// The server is shutting down.
        public static let draining = State(rawValue: 1 << 2)
    }

    public var state: State
    public var poolUp: UInt16
    public var poolSize: UInt16
    public var clients: UInt32
    public var uptimeMilliseconds: UInt64

    public init(state: State, poolUp: UInt16, poolSize: UInt16, clients: UInt32, uptimeMilliseconds: UInt64) {
        self.state = state
        self.poolUp = poolUp
        self.poolSize = poolSize
        self.clients = clients
        self.uptimeMilliseconds = uptimeMilliseconds
    }

    /// Ready to execute requests now.
    public var isReady: Bool { state.contains(.poolUp) && state.isDisjoint(with: [.paused, .draining]) }

    /// Why the server is not ready (empty when it is).
    public var notReadyReasons: [String] {
        var reasons: [String] = []
        if !state.contains(.poolUp) { reasons.append("database pool down (\(poolUp)/\(poolSize) connections up)") }
        if state.contains(.paused) { reasons.append("paused") }
        if state.contains(.draining) { reasons.append("shutting down") }
        return reasons
    }

    static func decode(_ reader: inout PayloadReader) throws -> Health {
        let state = try reader.integer("state", as: UInt8.self)
        let poolUp = try reader.integer("pool_up", as: UInt16.self)
        let poolSize = try reader.integer("pool_size", as: UInt16.self)
        let clients = try reader.integer("clients", as: UInt32.self)
        let uptime = try reader.integer("uptime_ms", as: UInt64.self)
        return Health(state: State(rawValue: state), poolUp: poolUp, poolSize: poolSize, clients: clients,
                      uptimeMilliseconds: uptime)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(state.rawValue)
        buffer.writeInteger(poolUp)
        buffer.writeInteger(poolSize)
        buffer.writeInteger(clients)
        buffer.writeInteger(uptimeMilliseconds)
    }
}

/// One figure of `STATS_OK` (0x89): a metric name and label set as the Prometheus exposition has them, and the
/// value.
public struct StatsEntry: Sendable, Hashable {
    /// E.g. `pgstate_requests_total`; 1 to 255 bytes of `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public var name: String
    /// E.g. `op="load",outcome="ok"`; empty when none; at most 255 bytes.
    public var labels: String
    public var value: Double

    public init(name: String, labels: String = "", value: Double) {
        precondition(Self.isValidName(name), "metric name \(name) is not a Prometheus name of at most 255 bytes")
        precondition(labels.utf8.count <= 255, "a label set of \(labels.utf8.count) bytes; at most 255")
        self.name = name
        self.labels = labels
        self.value = value
    }

    /// Most entries one frame carries (the count is a `u16`).
    public static let maxCount = Int(UInt16.max)

    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...255).contains(bytes.count) else { return false }
        func letter(_ byte: UInt8) -> Bool {
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x5F || byte == 0x3A
        }
        return letter(bytes[0]) && bytes.dropFirst().allSatisfy { letter($0) || (0x30...0x39).contains($0) }
    }

    static func decodeAll(_ reader: inout PayloadReader) throws -> [StatsEntry] {
        let count = try reader.integer("count", as: UInt16.self)
        var entries: [StatsEntry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            let name = try reader.text("name", lengthAs: UInt8.self)
            guard isValidName(name) else { throw reader.malformed("metric name \"\(name)\" is not a Prometheus name") }
            let labels = try reader.text("labels", lengthAs: UInt8.self)
            let bits = try reader.integer("value", as: UInt64.self)
            entries.append(StatsEntry(name: name, labels: labels, value: Double(bitPattern: bits)))
        }
        return entries
    }

    static func encodeAll(_ entries: [StatsEntry], into buffer: inout ByteBuffer) {
        precondition(entries.count <= maxCount, "\(entries.count) STATS entries; at most \(maxCount)")
        buffer.writeInteger(UInt16(entries.count))
        for entry in entries {
            buffer.writeStr8(entry.name.utf8)
            buffer.writeStr8(entry.labels.utf8)
            buffer.writeInteger(entry.value.bitPattern)
        }
    }
}

/// One row of `CLIENTS_OK`: a client connection as the server sees it.
public struct ClientRow: Sendable, Hashable {
    public enum State: UInt8, Sendable, Hashable {
        case handshake = 0
        case ready = 1
        case draining = 2
    }

    /// Unique for the server's lifetime, ≥ 1.
    public var connectionID: UInt64
    public var uid: UInt32
    public var pid: UInt32
    public var user: String
    public var namespace: String
    /// The `client_name` of its HELLO; empty before HELLO.
    public var clientName: String
    /// The state as sent; ``state`` is nil for a value this codec does not know.
    public var stateCode: UInt8
    public var state: State? { State(rawValue: stateCode) }
    /// Unix time in milliseconds when the connection was accepted.
    public var connectedAtMilliseconds: UInt64
    /// Requests the connection has had answered.
    public var requests: UInt64
    /// Requests read and not yet answered.
    public var inFlight: UInt32

    public init(connectionID: UInt64, uid: UInt32, pid: UInt32, user: String, namespace: String,
                clientName: String, stateCode: UInt8, connectedAtMilliseconds: UInt64, requests: UInt64,
                inFlight: UInt32) {
        self.connectionID = connectionID
        self.uid = uid
        self.pid = pid
        self.user = String(clippedToStr8: user)
        self.namespace = String(clippedToStr8: namespace)
        self.clientName = String(clippedToStr8: clientName)
        self.stateCode = stateCode
        self.connectedAtMilliseconds = connectedAtMilliseconds
        self.requests = requests
        self.inFlight = inFlight
    }
}

/// `CLIENTS_OK` (0x8A): one page of connections, by ascending id.
public struct ClientsPage: Sendable, Hashable {
    public var rows: [ClientRow]
    /// Connections with a greater id remain: ask again after the last row's id.
    public var more: Bool

    /// Rows the server puts in one frame at most.
    public static let maxRows = 512

    public init(rows: [ClientRow], more: Bool) {
        precondition(rows.count <= Int(UInt16.max), "\(rows.count) rows; at most 65535")
        self.rows = rows
        self.more = more
    }

    static func decode(_ reader: inout PayloadReader) throws -> ClientsPage {
        let more = try reader.integer("more", as: UInt8.self)
        guard more <= 1 else { throw reader.malformed("more is \(more); 0 or 1") }
        let count = try reader.integer("count", as: UInt16.self)
        var rows: [ClientRow] = []
        rows.reserveCapacity(Int(count))
        for _ in 0..<count {
            let id = try reader.integer("connection_id", as: UInt64.self)
            let uid = try reader.integer("uid", as: UInt32.self)
            let pid = try reader.integer("pid", as: UInt32.self)
            let user = try reader.text("user", lengthAs: UInt8.self)
            let namespace = try reader.text("namespace", lengthAs: UInt8.self)
            let clientName = try reader.text("client_name", lengthAs: UInt8.self)
            let state = try reader.integer("state", as: UInt8.self)
            let connectedAt = try reader.integer("connected_ms", as: UInt64.self)
            let requests = try reader.integer("requests", as: UInt64.self)
            let inFlight = try reader.integer("in_flight", as: UInt32.self)
            rows.append(ClientRow(connectionID: id, uid: uid, pid: pid, user: user, namespace: namespace,
                                  clientName: clientName, stateCode: state,
                                  connectedAtMilliseconds: connectedAt, requests: requests, inFlight: inFlight))
        }
        return ClientsPage(rows: rows, more: more == 1)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(more ? 1 : 0))
        buffer.writeInteger(UInt16(rows.count))
        for row in rows {
            buffer.writeInteger(row.connectionID)
            buffer.writeInteger(row.uid)
            buffer.writeInteger(row.pid)
            buffer.writeStr8(row.user.utf8)
            buffer.writeStr8(row.namespace.utf8)
            buffer.writeStr8(row.clientName.utf8)
            buffer.writeInteger(row.stateCode)
            buffer.writeInteger(row.connectedAtMilliseconds)
            buffer.writeInteger(row.requests)
            buffer.writeInteger(row.inFlight)
        }
    }
}

extension String {
    /// `text` cut at a character boundary to fit a `str8` field (255 bytes): for display fields (user names,
    /// client names, rule paths), where a longer value is an oddity rather than an error worth failing for.
    public init(clippedToStr8 text: String) {
        var cut = Substring(text)
        while cut.utf8.count > 255 { cut = cut.dropLast() }
        self.init(cut)
    }
}
