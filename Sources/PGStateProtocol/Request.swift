import NIOCore

/// A decoded request (client → server) with its request id.
public struct RequestFrame: Sendable, Hashable {
    /// The `NAMESPACE` flag bit of LOAD, UPSERT and DELETE: a `namespace` field precedes the persistence id.
    public static let namespaceFlag: UInt8 = 0x02

    public var requestID: UInt32
    public var request: Request
    /// The namespace the request names (flag `NAMESPACE`); nil addresses the connection's own. Only LOAD,
    /// UPSERT and DELETE may carry one.
    public var namespace: Namespace?

    public init(requestID: UInt32, request: Request, namespace: Namespace? = nil) {
        precondition(namespace == nil || request.persistenceID != nil, "\(request.type) cannot name a namespace")
        self.requestID = requestID
        self.request = request
        self.namespace = namespace
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
    /// `WHOAMI` → `WHOAMI_OK`: the connection's identity, namespace and permissions.
    case whoami
    /// `HEALTH` → `HEALTH_OK`: liveness and readiness, for anyone.
    case health
    /// `STATS` → `STATS_OK` (ADMIN): the figures `/metrics` exposes, as a snapshot.
    case stats
    /// `CLIENTS(after_connection)` → `CLIENTS_OK` (ADMIN): one page of the connections with a greater id.
    case clients(after: UInt64)
    /// `PAUSE(timeout_ms)` → `OK` (ADMIN) once nothing executes in PostgreSQL; 0: requests wait without limit.
    case pause(timeoutMilliseconds: UInt32)
    /// `RESUME` → `OK` (ADMIN).
    case resume

    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .ping: return .ping
        case .load: return .load
        case .upsert: return .upsert
        case .delete: return .delete
        case .whoami: return .whoami
        case .health: return .health
        case .stats: return .stats
        case .clients: return .clients
        case .pause: return .pause
        case .resume: return .resume
        }
    }

    /// Whether this is one of the operators' requests that need the ADMIN permission.
    public var needsAdmin: Bool {
        switch self {
        case .stats, .clients, .pause, .resume: return true
        default: return false
        }
    }

    /// The persistence id a request addresses, if any.
    public var persistenceID: PersistenceID? {
        switch self {
        case .hello, .ping, .whoami, .health, .stats, .clients, .pause, .resume: return nil
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
        // LOAD, UPSERT and DELETE: the namespace field (flag NAMESPACE) comes first; like the id it is checked
        // once the structure is known to be sound.
        var namespaceBytes: ByteBuffer?
        var namespace: Namespace?
        if frame.type == .load || frame.type == .upsert || frame.type == .delete,
           frame.flags & Self.namespaceFlag != 0 {
            namespaceBytes = try reader.slice("namespace", lengthAs: UInt8.self)
        }
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
            try reader.requireFlags(frame.flags, allowed: Self.namespaceFlag)
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            try reader.finish()
            try checkNamespace()
            request = .load(try reader.persistenceID(idBytes))
        case .upsert:
            try reader.requireFlags(frame.flags, allowed: Self.namespaceFlag)
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            let expected = try reader.integer("expected_revision", as: UInt64.self)
            let state = try reader.slice("state", lengthAs: UInt32.self)
            try reader.finish()
            // Structure first, then arguments in field order: namespace, id, revision, state.
            try checkNamespace()
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
            try reader.requireFlags(frame.flags, allowed: Delete.expectedRevisionFlag | Self.namespaceFlag)
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            var expected: UInt64?
            if frame.flags & Delete.expectedRevisionFlag != 0 {
                expected = try reader.integer("expected_revision", as: UInt64.self)
            }
            try reader.finish()
            try checkNamespace()
            let id = try reader.persistenceID(idBytes)
            if let value = expected, value > Revision.max {
                throw reader.invalid("expected_revision \(value) is out of range (0 to \(Revision.max))")
            }
            request = .delete(Delete(persistenceID: id, expectedRevision: expected))
        case .whoami, .health, .stats, .resume:
            try reader.requireFlags(frame.flags, allowed: 0)
            try reader.finish()
            request = frame.type == .whoami ? .whoami : frame.type == .health ? .health
                : frame.type == .stats ? .stats : .resume
        case .clients:
            try reader.requireFlags(frame.flags, allowed: 0)
            let after = try reader.integer("after_connection", as: UInt64.self)
            try reader.finish()
            request = .clients(after: after)
        case .pause:
            try reader.requireFlags(frame.flags, allowed: 0)
            let timeout = try reader.integer("timeout_ms", as: UInt32.self)
            try reader.finish()
            request = .pause(timeoutMilliseconds: timeout)
        default:
            throw ProtocolError(
                .unknownMessageType, requestID: frame.requestID,
                "message type \(frame.type) is not a request of protocol v1"
            )
        }
        return RequestFrame(requestID: frame.requestID, request: request, namespace: namespace)

        func checkNamespace() throws {
            guard let namespaceBytes else { return }
            do {
                namespace = try Namespace(validating: namespaceBytes.readableBytesView)
            } catch let error as Namespace.ValidationError {
                throw reader.invalid(error.description)
            }
        }
    }

    /// Encodes the whole frame, length prefix included.
    public func encode(into buffer: inout ByteBuffer) {
        let namespaceFlag = namespace == nil ? 0 : Self.namespaceFlag
        func writeNamespace(_ payload: inout ByteBuffer) {
            if let namespace { payload.writeStr8(namespace.value.utf8) }
        }
        switch request {
        case .hello(let hello):
            buffer.writeFrame(type: .hello, requestID: requestID) { hello.encode(into: &$0) }
        case .ping:
            buffer.writeFrame(type: .ping, requestID: requestID)
        case .load(let id):
            buffer.writeFrame(type: .load, flags: namespaceFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeStr8(id.value.utf8)
            }
        case .upsert(let upsert):
            buffer.writeFrame(type: .upsert, flags: namespaceFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeStr8(upsert.persistenceID.value.utf8)
                $0.writeInteger(upsert.expectedRevision)
                $0.writeInteger(UInt32(upsert.state.readableBytes))
                $0.writeImmutableBuffer(upsert.state)
            }
        case .delete(let delete):
            let flags = (delete.expectedRevision == nil ? 0 : Delete.expectedRevisionFlag) | namespaceFlag
            buffer.writeFrame(type: .delete, flags: flags, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeStr8(delete.persistenceID.value.utf8)
                if let expected = delete.expectedRevision { $0.writeInteger(expected) }
            }
        case .whoami, .health, .stats, .resume:
            buffer.writeFrame(type: request.type, requestID: requestID)
        case .clients(let after):
            buffer.writeFrame(type: .clients, requestID: requestID) { $0.writeInteger(after) }
        case .pause(let timeout):
            buffer.writeFrame(type: .pause, requestID: requestID) { $0.writeInteger(timeout) }
        }
    }
}
