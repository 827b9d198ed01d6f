import NIOCore

/// One prepared statement of the store: its name, its parameter types and its SQL. All parameters and results
/// travel in binary. Each operation declares the statements it uses (``StoreOperation/statements``); a
/// connection prepares all of them once, before it enters pipeline mode.
public struct PreparedStatement: Sendable, Hashable {
    /// libpq parameter type OIDs.
    public enum ParameterType: UInt32, Sendable {
        case text = 25
        case int8 = 20
        case bytea = 17
        case textArray = 1009
        case int8Array = 1016
        case byteaArray = 1001
    }

    public let name: String
    public let parameterTypes: [ParameterType]
    private let template: String

    /// - Parameter template: the SQL with `{table}` where the quoted table name goes.
    init(name: String, parameterTypes: [ParameterType], sql template: String) {
        self.name = "pgstate_\(name)"
        self.parameterTypes = parameterTypes
        self.template = template
    }

    public func sql(table: TableName) -> String {
        template.replacing("{table}", with: table.quoted)
    }
}

/// A parameter value, bound in binary.
public enum StatementParameter: Sendable, Hashable {
    case text(String)
    case int8(Int64)
    case bytea(ByteBuffer)
    /// One-dimensional arrays without NULLs (multi-key statements: `= ANY($2)`, `unnest`).
    case textArray([String])
    case int8Array([Int64])
    case byteaArray([ByteBuffer])
}

extension StatementParameter {
    /// Appends the binary form PostgreSQL receives (`array_recv` for the arrays).
    func write(into buffer: inout ByteBuffer) {
        switch self {
        case .text(var text): text.withUTF8 { _ = buffer.writeBytes($0) }
        case .int8(let value): buffer.writeInteger(value)
        case .bytea(let bytes): buffer.writeImmutableBuffer(bytes)
        case .textArray(let values):
            Self.writeArrayHeader(count: values.count, elementType: PreparedStatement.ParameterType.text, into: &buffer)
            for var value in values {
                buffer.writeInteger(Int32(value.utf8.count))
                value.withUTF8 { _ = buffer.writeBytes($0) }
            }
        case .int8Array(let values):
            Self.writeArrayHeader(count: values.count, elementType: .int8, into: &buffer)
            for value in values {
                buffer.writeInteger(Int32(8))
                buffer.writeInteger(value)
            }
        case .byteaArray(let values):
            Self.writeArrayHeader(count: values.count, elementType: .bytea, into: &buffer)
            for value in values {
                buffer.writeInteger(Int32(value.readableBytes))
                buffer.writeImmutableBuffer(value)
            }
        }
    }

    /// Dimensions, has-nulls flag, element type, then (when not empty) the one dimension's size and lower bound.
    private static func writeArrayHeader(count: Int, elementType: PreparedStatement.ParameterType,
                                         into buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(count == 0 ? 0 : 1))
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(Int32(elementType.rawValue))
        if count > 0 {
            buffer.writeInteger(Int32(count))
            buffer.writeInteger(Int32(1))
        }
    }
}

/// One statement to run with its parameters: a step of an operation.
public struct StatementCall: Sendable {
    public var statement: PreparedStatement
    public var parameters: [StatementParameter]

    public init(_ statement: PreparedStatement, _ parameters: [StatementParameter]) {
        precondition(statement.parameterTypes.count == parameters.count, "wrong parameters for \(statement.name)")
        self.statement = statement
        self.parameters = parameters
    }
}

/// The rows one statement returned, read in binary. libpq's `PGresult` conforms (`PGResult`); tests use plain
/// values, so every operation's result decoding and verdict is tested without a database.
public protocol StatementRows {
    var rowCount: Int { get }
    /// A binary int8 or timestamptz.
    func int64(row: Int, column: Int) -> Int64
    /// A binary bytea, copied once into a buffer a response can carry.
    func bytes(row: Int, column: Int) -> ByteBuffer
    /// A binary text (its UTF-8 bytes).
    func text(row: Int, column: Int) -> String
    /// A binary boolean.
    func bool(row: Int, column: Int) -> Bool
}

/// Microseconds from the Unix epoch to PostgreSQL's epoch (2000-01-01), for binary timestamps.
let postgresEpochOffsetMicroseconds: Int64 = 946_684_800_000_000

extension StatementRows {
    /// A binary timestamptz as microseconds since the Unix epoch.
    func timestamp(row: Int, column: Int) -> Int64 {
        int64(row: row, column: column) &+ postgresEpochOffsetMicroseconds
    }
}
