import CLibPQ
import Foundation
import Glibc
import NIOCore
import PGStateProtocol

/// The connection to PostgreSQL broke (or could not be used): the request was not answered by the database.
struct ConnectionBroken: Error, CustomStringConvertible {
    var description: String
}

/// A statement failed inside PostgreSQL.
struct StatementFailure: Error, Hashable, CustomStringConvertible {
    var sqlState: String
    var message: String
    var description: String { "\(message) (SQLSTATE \(sqlState))" }

    /// Deadlocks and serialization failures go away when the request runs again.
    var isTransient: Bool { sqlState == "40P01" || sqlState == "40001" }
}

/// One libpq connection, driven from its own thread: blocking set-up, then pipeline mode in non-blocking I/O
/// with `poll()` on its socket (and on a wake-up descriptor while idle).
///
/// Not thread-safe: only its worker thread touches it.
final class PGConnection {
    private let conn: OpaquePointer

    private init(_ conn: OpaquePointer) {
        self.conn = conn
    }

    deinit {
        PQfinish(conn)
    }

    /// Connects (blocking). The conninfo's own settings win over the defaults given here.
    static func connect(_ configuration: StoreConfiguration, applicationName: String) throws -> PGConnection {
        let keys = ["connect_timeout", "application_name", "dbname"]
        let values = ["\(configuration.connectTimeoutSeconds)", applicationName, configuration.connectionString]
        let conn = try withCStrings(keys) { keyPointers in
            try withCStrings(values) { valuePointers -> OpaquePointer in
                guard let conn = PQconnectdbParams(keyPointers, valuePointers, 1) else {
                    throw ConnectionBroken(description: "out of memory creating a libpq connection")
                }
                return conn
            }
        }
        let connection = PGConnection(conn)
        guard PQstatus(conn) == CONNECTION_OK else {
            throw ConnectionBroken(description: connection.errorMessage)
        }
        // libpq prints notices ("relation already exists, skipping") to stderr by default; they carry nothing
        // an operator needs, and errors arrive as results anyway.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        return connection
    }

    var errorMessage: String {
        String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var isBroken: Bool { PQstatus(conn) != CONNECTION_OK }

    var socket: Int32 { PQsocket(conn) }

    /// `host:port/db` for logs.
    var target: String {
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        let db = PQdb(conn).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)/\(db)"
    }

    /// Runs SQL outside pipeline mode (set-up only).
    func execute(_ sql: String) throws {
        guard let result = PQexec(conn, sql) else { throw ConnectionBroken(description: errorMessage) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw Self.failure(result)
        }
    }

    /// Prepares every statement (outside pipeline mode), then enters pipeline mode with non-blocking I/O.
    func prepareAndEnterPipelineMode(table: TableName) throws {
        for statement in Statement.allCases {
            let types = statement.parameterTypes
            let result = types.withUnsafeBufferPointer { types in
                PQprepare(conn, statement.name, statement.sql(table: table), Int32(types.count), types.baseAddress)
            }
            guard let result else { throw ConnectionBroken(description: errorMessage) }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw Self.failure(result) }
        }
        guard PQsetnonblocking(conn, 1) == 0, PQenterPipelineMode(conn) == 1 else {
            throw ConnectionBroken(description: "cannot enter pipeline mode: \(errorMessage)")
        }
    }

    static func failure(_ result: OpaquePointer) -> StatementFailure {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? "XX000"
        let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return StatementFailure(sqlState: state, message: message)
    }

    // MARK: Pipeline

    /// A valid address for zero-length parameters (a NULL value pointer would mean SQL NULL).
    private static let emptyValue: StaticString = ""

    /// Queues one prepared statement with binary parameters and binary results.
    func send(_ statement: Statement, for operation: StoreOperation) throws {
        var id = operation.persistenceID.value
        var revision: UInt64?
        var state: ByteBuffer?
        switch (statement, operation) {
        case (.update, .upsert(let upsert)):
            revision = upsert.expectedRevision
            state = upsert.state
        case (.create, .upsert(let upsert)):
            state = upsert.state
        case (.deleteIf, .delete(let delete)):
            revision = delete.expectedRevision
        default:
            break
        }
        var revisionBigEndian = (revision ?? 0).bigEndian
        let sent: Int32 = id.withUTF8 { idBytes in
            withUnsafeBytes(of: &revisionBigEndian) { revisionBytes in
                (state ?? ByteBuffer()).withUnsafeReadableBytes { stateBytes in
                    var parameters = [UnsafeRawBufferPointer(idBytes)]
                    if revision != nil { parameters.append(revisionBytes) }
                    if state != nil { parameters.append(stateBytes) }
                    // A NULL value pointer means SQL NULL even in binary format: give empty values a real one.
                    let values: [UnsafePointer<CChar>?] = parameters.map {
                        UnsafePointer(($0.baseAddress ?? UnsafeRawPointer(Self.emptyValue.utf8Start))
                            .assumingMemoryBound(to: CChar.self))
                    }
                    let lengths = parameters.map { Int32($0.count) }
                    let formats = [Int32](repeating: 1, count: parameters.count)
                    return PQsendQueryPrepared(
                        conn, statement.name, Int32(parameters.count), values, lengths, formats, 1
                    )
                }
            }
        }
        guard sent == 1 else { throw ConnectionBroken(description: errorMessage) }
    }

    func sync() throws {
        guard PQpipelineSync(conn) == 1 else { throw ConnectionBroken(description: errorMessage) }
    }

    /// Sends everything queued, reading input meanwhile so neither side can block the other.
    func flush() throws {
        while true {
            let pending = PQflush(conn)
            if pending == 0 { return }
            guard pending == 1 else { throw ConnectionBroken(description: errorMessage) }
            let events = try wait(for: Int16(POLLIN | POLLOUT))
            if events & Int16(POLLIN) != 0 { try consumeInput() }
        }
    }

    func consumeInput() throws {
        guard PQconsumeInput(conn) == 1 else { throw ConnectionBroken(description: errorMessage) }
    }

    /// The next result, waiting for it if needed; nil marks the end of one statement's results.
    func nextResult() throws -> OpaquePointer? {
        while PQisBusy(conn) == 1 {
            _ = try wait(for: Int16(POLLIN))
            try consumeInput()
        }
        let result = PQgetResult(conn)
        if result == nil, isBroken { throw ConnectionBroken(description: errorMessage) }
        return result
    }

    private func wait(for events: Int16) throws -> Int16 {
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let ready = poll(&descriptor, 1, -1)
            if ready > 0 { return descriptor.revents }
            if ready < 0 && errno != EINTR {
                throw ConnectionBroken(description: "poll failed: errno \(errno)")
            }
        }
    }

    /// Waits while idle until `wakeDescriptor` is signalled or the server sends something (typically the
    /// notice that it is shutting down, or EOF). Returns false once the connection is found broken.
    func idleWait(wakeDescriptor: Int32, timeoutMilliseconds: Int32) -> Bool {
        var descriptors = [
            pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&descriptors, 2, timeoutMilliseconds)
        if ready > 0 && descriptors[1].revents != 0 { drainWakeups(wakeDescriptor) }
        if ready > 0 && descriptors[0].revents != 0 {
            if PQconsumeInput(conn) == 0 { return false }
            // Drain notices or an error result the server sent while we were idle.
            while PQisBusy(conn) == 0, let result = PQgetResult(conn) { PQclear(result) }
        }
        return !isBroken
    }
}

/// Empties a non-blocking wake-up pipe.
func drainWakeups(_ descriptor: Int32) {
    var sink = [UInt8](repeating: 0, count: 64)
    while read(descriptor, &sink, sink.count) > 0 {}
}

private func withCStrings<R>(
    _ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R
) rethrows -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return try body(pointers.map { $0.map { UnsafePointer($0) } })
}
