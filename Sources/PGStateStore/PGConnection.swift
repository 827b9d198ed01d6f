import CLibPQ
import Glibc
import NIOCore
import PGStateProtocol

/// The connection to PostgreSQL broke (or could not be used): the request was not answered by the database.
public struct ConnectionBroken: Error, CustomStringConvertible {
    public var description: String
}

/// A statement failed inside PostgreSQL.
public struct StatementFailure: Error, Hashable, CustomStringConvertible {
    public var sqlState: String
    public var message: String
    public var description: String { "\(message) (SQLSTATE \(sqlState))" }

    /// Deadlocks and serialization failures go away when the request runs again.
    public var isTransient: Bool { sqlState == "40P01" || sqlState == "40001" }
}

/// One libpq connection, owned and driven by one reactor; nothing here blocks.
///
/// Its life: ``start(_:applicationName:)`` begins a non-blocking connect; the reactor calls ``pollConnect()``
/// whenever the socket is ready as asked, until ready; ``beginSetup(_:)`` then enters pipeline mode and queues
/// the set-up (the table under an advisory lock, every statement prepared, one Sync), whose results the reactor
/// reads like a batch's; after that it carries batches (`send`, `sync`, `flush`, `consumeInput`, `next`).
/// The reactor watches ``socket`` in its epoll set; during the connect the socket may change (libpq tries the
/// conninfo's hosts in turn).
public final class PGConnection {
    private let conn: OpaquePointer
    /// Parameter bytes of the statement being sent, reused from call to call.
    private var parameterBytes = ByteBuffer()

    private init(_ conn: OpaquePointer) {
        self.conn = conn
    }

    deinit {
        PQfinish(conn)
    }

    /// Begins connecting. The conninfo's own settings win over the defaults given here. (Name resolution of a
    /// `host` name may block briefly inside libpq; Unix sockets and `hostaddr` never do.)
    public static func start(_ configuration: StoreConfiguration, applicationName: String) throws -> PGConnection {
        let keys = ["application_name", "dbname"]
        let values = [applicationName, configuration.connectionString]
        let conn = try withCStrings(keys) { keyPointers in
            try withCStrings(values) { valuePointers -> OpaquePointer in
                guard let conn = PQconnectStartParams(keyPointers, valuePointers, 1) else {
                    throw ConnectionBroken(description: "out of memory creating a libpq connection")
                }
                return conn
            }
        }
        let connection = PGConnection(conn)
        guard PQstatus(conn) != CONNECTION_BAD else {
            throw ConnectionBroken(description: connection.errorMessage)
        }
        return connection
    }

    /// What the connect needs next.
    public enum ConnectProgress: Equatable {
        case waitForInput
        case waitForOutput
        case connected
        case failed
    }

    /// Advances the connect (`PQconnectPoll`). Before the first call, wait for output.
    public func pollConnect() -> ConnectProgress {
        switch PQconnectPoll(conn) {
        case PGRES_POLLING_READING: return .waitForInput
        case PGRES_POLLING_WRITING: return .waitForOutput
        case PGRES_POLLING_OK:
            // libpq prints notices ("relation already exists, skipping") to stderr by default; they carry
            // nothing an operator needs, and errors arrive as results anyway.
            PQsetNoticeProcessor(conn, { _, _ in }, nil)
            return .connected
        default: return .failed
        }
    }

    /// Enters pipeline mode with non-blocking I/O and queues the set-up: with `createSchema`, an advisory lock
    /// (several daemons may start at once) and `CREATE TABLE IF NOT EXISTS`; then `PQsendPrepare` of every
    /// statement; one Sync (one implicit transaction: the lock is held until it commits). Returns the number of
    /// statements whose results to read before the Sync, or nil when the connection failed.
    public func beginSetup(_ configuration: StoreConfiguration) -> Int? {
        guard PQsetnonblocking(conn, 1) == 0, PQenterPipelineMode(conn) == 1 else { return nil }
        var statements = 0
        if configuration.createSchema {
            for sql in ["SELECT pg_advisory_xact_lock(hashtext('pgstate schema'))",
                        Schema.createTable(configuration.table), Schema.migrate(configuration.table)] {
                guard PQsendQueryParams(conn, sql, 0, nil, nil, nil, nil, 1) == 1 else { return nil }
                statements += 1
            }
        }
        for statement in StoreOperations.allStatements {
            let types = statement.parameterTypes.map(\.rawValue)
            let sent = types.withUnsafeBufferPointer { types in
                PQsendPrepare(conn, statement.name, statement.sql(table: configuration.table), Int32(types.count),
                              types.baseAddress)
            }
            guard sent == 1 else { return nil }
            statements += 1
        }
        guard PQpipelineSync(conn) == 1 else { return nil }
        return statements
    }

    public var errorMessage: String {
        trimmed(String(cString: PQerrorMessage(conn)))
    }

    public var isBroken: Bool { PQstatus(conn) != CONNECTION_OK }

    /// The socket to watch. It may change while connecting (one host after another), never after.
    public var socket: Int32 { PQsocket(conn) }

    /// `host:port/db` for logs.
    public var target: String {
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        let db = PQdb(conn).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)/\(db)"
    }

    static func failure(_ result: OpaquePointer) -> StatementFailure {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? "XX000"
        let message = trimmed(String(cString: PQresultErrorMessage(result)))
        return StatementFailure(sqlState: state, message: message)
    }

    // MARK: Pipeline (reactor thread only; none of these block)

    /// The most parameters a statement has (TRANSACT: namespace and five arrays); the bound values live in
    /// stack arrays of this size.
    static let maxParameters = 8
    /// Where each parameter's bytes end in ``parameterBytes``, reused from call to call.
    private var parameterEnds = [Int](repeating: 0, count: PGConnection.maxParameters)

    /// A valid address for zero-length parameters (a NULL value pointer would mean SQL NULL).
    private static let emptyValue: StaticString = ""

    /// Queues one prepared statement with binary parameters and binary results in libpq's output buffer.
    public func send(_ call: StatementCall) -> Bool {
        parameterBytes.clear()
        let count = call.parameters.count
        precondition(count <= Self.maxParameters, "at most \(Self.maxParameters) parameters per statement")
        for (index, parameter) in call.parameters.enumerated() {
            parameter.write(into: &parameterBytes)
            parameterEnds[index] = parameterBytes.readableBytes
        }
        let ends = parameterEnds
        let sent: Int32 = parameterBytes.withUnsafeReadableBytes { bytes in
            let base = bytes.baseAddress ?? UnsafeRawPointer(Self.emptyValue.utf8Start)
            return withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: Self.maxParameters) { values in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: Self.maxParameters) { lengths in
                    withUnsafeTemporaryAllocation(of: Int32.self, capacity: Self.maxParameters) { formats in
                        // A NULL value pointer means SQL NULL even in binary format: empty values get a real one.
                        func set(_ index: Int, from start: Int, to end: Int) {
                            values[index] = (base + start).assumingMemoryBound(to: CChar.self)
                            lengths[index] = Int32(end - start)
                            formats[index] = 1
                        }
                        for index in 0..<count { set(index, from: index == 0 ? 0 : ends[index - 1], to: ends[index]) }
                        return PQsendQueryPrepared(conn, call.statement.name, Int32(count), values.baseAddress,
                                                   lengths.baseAddress, formats.baseAddress, 1)
                    }
                }
            }
        }
        if parameterBytes.capacity > 1 << 20 { parameterBytes = ByteBuffer() }  // do not keep a large state's room
        return sent == 1
    }

    /// Ends the current implicit transaction of the pipeline.
    public func sync() -> Bool {
        PQpipelineSync(conn) == 1
    }

    public enum FlushResult { case done, pending, failed }

    /// Sends what libpq has buffered, as far as the socket takes it.
    public func flush() -> FlushResult {
        switch PQflush(conn) {
        case 0: return .done
        case 1: return .pending
        default: return .failed
        }
    }

    /// Reads what the server sent. False when the connection is broken.
    public func consumeInput() -> Bool {
        PQconsumeInput(conn) == 1 && !isBroken
    }

    /// The next result if one is complete without waiting; `.notReady` when libpq needs more input.
    public enum Next {
        case notReady
        /// The end of one statement's results (libpq's NULL).
        case end
        case result(OpaquePointer)
    }

    public func next() -> Next {
        if PQisBusy(conn) == 1 { return .notReady }
        guard let result = PQgetResult(conn) else { return .end }
        return .result(result)
    }
}

/// One result of a statement, read in binary; cleared when released.
public final class PGResult: StatementRows {
    let pointer: OpaquePointer

    public init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        PQclear(pointer)
    }

    public var rowCount: Int { Int(PQntuples(pointer)) }

    public func int64(row: Int, column: Int) -> Int64 {
        precondition(PQgetlength(pointer, Int32(row), Int32(column)) == 8, "column \(column) is not 8 bytes")
        let raw = UnsafeRawPointer(PQgetvalue(pointer, Int32(row), Int32(column))!)
        return Int64(bigEndian: raw.loadUnaligned(as: Int64.self))
    }

    public func bytes(row: Int, column: Int) -> ByteBuffer {
        let count = Int(PQgetlength(pointer, Int32(row), Int32(column)))
        return ByteBuffer(bytes: UnsafeRawBufferPointer(start: PQgetvalue(pointer, Int32(row), Int32(column)),
                                                        count: count))
    }

    public func text(row: Int, column: Int) -> String {
        let count = Int(PQgetlength(pointer, Int32(row), Int32(column)))
        let start = UnsafeRawPointer(PQgetvalue(pointer, Int32(row), Int32(column))!).assumingMemoryBound(to: UInt8.self)
        return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    }

    public func bool(row: Int, column: Int) -> Bool {
        precondition(PQgetlength(pointer, Int32(row), Int32(column)) == 1, "column \(column) is not a boolean")
        return UnsafeRawPointer(PQgetvalue(pointer, Int32(row), Int32(column))!).load(as: UInt8.self) != 0
    }

    /// What the result means for the pipeline.
    public var event: PipelineEvent<PGResult> {
        switch PQresultStatus(pointer) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK: return .rows(self)
        case PGRES_PIPELINE_ABORTED: return .aborted
        case PGRES_PIPELINE_SYNC: return .sync
        default: return .failed(PGConnection.failure(pointer))
        }
    }
}

private func trimmed(_ text: String) -> String {
    var slice = Substring(text)
    while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
    while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
    return String(slice)
}

private func withCStrings<R>(
    _ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R
) rethrows -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return try body(pointers.map { $0.map { UnsafePointer($0) } })
}
