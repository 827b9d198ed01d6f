import NIOCore

/// A decoded request (client → server) with its request id.
public struct RequestFrame: Sendable, Hashable {
    public var requestID: UInt32
    public var request: Request

    public init(requestID: UInt32, request: Request) {
        self.requestID = requestID
        self.request = request
    }
}

/// The requests of protocol v1. Arguments are validated on decode, so a decoded request is executable as is.
public enum Request: Sendable, Hashable {
    case hello(Hello)
    case ping
    /// `LOAD(persistence_id)` → `RECORD` or `NOT_FOUND`.
    case load(PersistenceID)
    /// `UPSERT(persistence_id, expected_revision, state)` → `RECORD` or `CONFLICT`.
    case upsert(Upsert)
    /// `DELETE(persistence_id [, expected_revision])` → `OK` or `CONFLICT`.
    case delete(Delete)

    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .ping: return .ping
        case .load: return .load
        case .upsert: return .upsert
        case .delete: return .delete
        }
    }

    /// The persistence id a request addresses, if any.
    public var persistenceID: PersistenceID? {
        switch self {
        case .hello, .ping: return nil
        case .load(let id): return id
        case .upsert(let upsert): return upsert.persistenceID
        case .delete(let delete): return delete.persistenceID
        }
    }
}

/// `UPSERT`: create (expected 0) or replace (expected > 0) a record.
public struct Upsert: Sendable, Hashable {
    public var persistenceID: PersistenceID
    /// 0 to 2^63−2 once decoded.
    public var expectedRevision: UInt64
    public var state: ByteBuffer

    public init(persistenceID: PersistenceID, expectedRevision: UInt64, state: ByteBuffer) {
        self.persistenceID = persistenceID
        self.expectedRevision = expectedRevision
        self.state = state
    }
}

/// `DELETE`: unconditional when `expectedRevision` is nil, else only when the current revision matches.
public struct Delete: Sendable, Hashable {
    /// The `EXPECTED_REVISION` flag bit.
    public static let expectedRevisionFlag: UInt8 = 0x01

    public var persistenceID: PersistenceID
    /// 0 to 2^63−1 once decoded; nil for an unconditional delete.
    public var expectedRevision: UInt64?

    public init(persistenceID: PersistenceID, expectedRevision: UInt64? = nil) {
        self.persistenceID = persistenceID
        self.expectedRevision = expectedRevision
    }
}

extension RequestFrame {
    /// Decodes and validates one request frame.
    ///
    /// - Throws: ``ProtocolError``: `MALFORMED_FRAME` for a structural fault (closes the connection),
    ///   `UNKNOWN_MESSAGE_TYPE` for a type the server does not serve, `INVALID_ARGUMENT` for a well-formed request
    ///   whose arguments break the rules (the connection stays open).
    public static func decode(_ frame: Frame, limits: ProtocolLimits = .default) throws -> RequestFrame {
        var reader = PayloadReader(frame)
        guard frame.requestID != 0 else {
            throw reader.malformed("request id 0 is reserved")
        }
        let request: Request
        switch frame.type {
        case .hello:
            try reader.requireFlags(frame.flags, allowed: 0)
            request = .hello(try Hello.decode(&reader))
            try reader.finish()
        case .ping:
            try reader.requireFlags(frame.flags, allowed: 0)
            try reader.finish()
            request = .ping
        case .load:
            try reader.requireFlags(frame.flags, allowed: 0)
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            try reader.finish()
            request = .load(try reader.persistenceID(idBytes))
        case .upsert:
            try reader.requireFlags(frame.flags, allowed: 0)
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            let expected = try reader.integer("expected_revision", as: UInt64.self)
            let state = try reader.slice("state", lengthAs: UInt32.self)
            try reader.finish()
            // Structure first, then arguments in field order: id, revision, state.
            let id = try reader.persistenceID(idBytes)
            guard expected <= Revision.maxExpectedForUpsert else {
                throw reader.invalid(
                    "expected_revision \(expected) is out of range (0 to \(Revision.maxExpectedForUpsert))"
                )
            }
            guard state.readableBytes <= limits.maxStateBytes else {
                throw reader.invalid(
                    "state is \(state.readableBytes) bytes, more than the limit of \(limits.maxStateBytes)"
                )
            }
            request = .upsert(Upsert(persistenceID: id, expectedRevision: expected, state: state))
        case .delete:
            try reader.requireFlags(frame.flags, allowed: Delete.expectedRevisionFlag)
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            var expected: UInt64?
            if frame.flags & Delete.expectedRevisionFlag != 0 {
                expected = try reader.integer("expected_revision", as: UInt64.self)
            }
            try reader.finish()
            let id = try reader.persistenceID(idBytes)
            if let value = expected, value > Revision.max {
                throw reader.invalid("expected_revision \(value) is out of range (0 to \(Revision.max))")
            }
            request = .delete(Delete(persistenceID: id, expectedRevision: expected))
        default:
            throw ProtocolError(
                .unknownMessageType, requestID: frame.requestID,
                "message type \(frame.type) is not a request of protocol v1"
            )
        }
        return RequestFrame(requestID: frame.requestID, request: request)
    }

    /// Encodes the whole frame, length prefix included.
    public func encode(into buffer: inout ByteBuffer) {
        switch request {
        case .hello(let hello):
            buffer.writeFrame(type: .hello, requestID: requestID) { hello.encode(into: &$0) }
        case .ping:
            buffer.writeFrame(type: .ping, requestID: requestID)
        case .load(let id):
            buffer.writeFrame(type: .load, requestID: requestID) { $0.writeStr8(id.value.utf8) }
        case .upsert(let upsert):
            buffer.writeFrame(type: .upsert, requestID: requestID) {
                $0.writeStr8(upsert.persistenceID.value.utf8)
                $0.writeInteger(upsert.expectedRevision)
                $0.writeInteger(UInt32(upsert.state.readableBytes))
                $0.writeImmutableBuffer(upsert.state)
            }
        case .delete(let delete):
            let flags = delete.expectedRevision == nil ? 0 : Delete.expectedRevisionFlag
            buffer.writeFrame(type: .delete, flags: flags, requestID: requestID) {
                $0.writeStr8(delete.persistenceID.value.utf8)
                if let expected = delete.expectedRevision { $0.writeInteger(expected) }
            }
        }
    }
}
