import NIOCore

/// A decoded request (client → server) with its request id.
public struct RequestFrame: Sendable, Hashable {
    /// The `NAMESPACE` flag bit of the store requests (LOAD, UPSERT, DELETE and the multi-key requests): a
    /// `namespace` field comes first.
    public static let namespaceFlag: UInt8 = 0x02

    public var requestID: UInt32
    public var request: Request
    /// The namespace the request names (flag `NAMESPACE`); nil addresses the connection's own. Only the store
    /// requests may carry one.
    public var namespace: Namespace?

    public init(requestID: UInt32, request: Request, namespace: Namespace? = nil) {
        precondition(namespace == nil || request.isStoreRequest, "\(request.type) cannot name a namespace")
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
    /// `BULK_LOAD(ids)` → `RECORDS`: one entry per id, in request order.
    case bulkLoad([PersistenceID])
    /// `BULK_WRITE(items)` → `OUTCOMES`: each item independent.
    case bulkWrite([BulkWriteItem])
    /// `TRANSACT(items)` → `OUTCOMES` (all applied) or `TRANSACT_CONFLICT` (none applied).
    case transact([WriteItem])
    /// `LIST(prefix, after, limit)` → `LIST_OK`.
    case list(ListRequest)

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
        case .bulkLoad: return .bulkLoad
        case .bulkWrite: return .bulkWrite
        case .transact: return .transact
        case .list: return .list
        }
    }

    /// Whether the request reads or writes records (and may name a namespace).
    public var isStoreRequest: Bool {
        switch self {
        case .load, .upsert, .delete, .bulkLoad, .bulkWrite, .transact, .list: return true
        case .hello, .ping, .whoami, .health, .stats, .clients, .pause, .resume: return false
        }
    }

    /// Whether the store request only reads (needs READ; the others need WRITE).
    public var isRead: Bool {
        switch self {
        case .load, .bulkLoad, .list: return true
        default: return false
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
        case .bulkLoad, .bulkWrite, .transact, .list: return nil
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
    /// The record expires this long after the write commits (flag `TTL`); nil: it never expires.
    public var ttlSeconds: UInt32?

    /// The `TTL` flag bit.
    public static let ttlFlag: UInt8 = 0x04

    public init(persistenceID: PersistenceID, expectedRevision: UInt64, state: ByteBuffer, ttlSeconds: UInt32? = nil) {
        self.persistenceID = persistenceID
        self.expectedRevision = expectedRevision
        self.state = state
        self.ttlSeconds = ttlSeconds
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
        if frame.type == .load || frame.type == .upsert || frame.type == .delete || frame.type == .bulkLoad
            || frame.type == .bulkWrite || frame.type == .transact || frame.type == .list,
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
            try reader.requireFlags(frame.flags, allowed: Self.namespaceFlag | Upsert.ttlFlag)
            // The same fields as an upsert item; structure first, then arguments in field order.
            let idBytes = try reader.slice("persistence_id", lengthAs: UInt8.self)
            let expected = try reader.integer("expected_revision", as: UInt64.self)
            let ttl = frame.flags & Upsert.ttlFlag != 0 ? try reader.integer("ttl_seconds", as: UInt32.self) : nil
            let state = try reader.slice("state", lengthAs: UInt32.self)
            try reader.finish()
            try checkNamespace()
            do throws(ItemArgumentError) {
                request = .upsert(try reader.item(
                    RawWriteItem(kind: WriteItem.upsertKind, idBytes: idBytes, expected: expected, ttl: ttl, state: state),
                    limits: limits).upsertValue)
            } catch {
                throw reader.invalid(error.message)
            }
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
        case .bulkLoad:
            try reader.requireFlags(frame.flags, allowed: Self.namespaceFlag)
            let count = try reader.itemCount()
            var ids: [ByteBuffer] = []
            ids.reserveCapacity(count)
            for index in 0..<count { ids.append(try reader.slice("persistence_id \(index)", lengthAs: UInt8.self)) }
            try reader.finish()
            try checkNamespace()
            try reader.checkBatch(count: count, stateBytes: 0, limits: limits)
            var validated: [PersistenceID] = []
            validated.reserveCapacity(count)
            for (index, bytes) in ids.enumerated() {
                do {
                    validated.append(try PersistenceID(validating: bytes.readableBytesView))
                } catch let error as PersistenceID.ValidationError {
                    throw reader.invalid("id \(index): \(error.description)")
                }
            }
            request = .bulkLoad(validated)
        case .bulkWrite, .transact:
            try reader.requireFlags(frame.flags, allowed: Self.namespaceFlag)
            let raw = try reader.rawItems(count: try reader.itemCount())
            try reader.finish()
            try checkNamespace()
            try reader.checkBatch(count: raw.count, stateBytes: raw.reduce(0) { $0 + ($1.state?.readableBytes ?? 0) },
                                  limits: limits)
            if frame.type == .bulkWrite {
                request = .bulkWrite(raw.map { item in
                    do throws(ItemArgumentError) {
                        return .valid(try reader.item(item, limits: limits))
                    } catch {
                        return .invalid(error.message)
                    }
                })
            } else {
                var items: [WriteItem] = []
                items.reserveCapacity(raw.count)
                var seen = Set<PersistenceID>()
                for (index, item) in raw.enumerated() {
                    do throws(ItemArgumentError) {
                        items.append(try reader.item(item, limits: limits))
                    } catch {
                        throw reader.invalid("item \(index): \(error.message)")
                    }
                    guard seen.insert(items[index].persistenceID).inserted else {
                        throw reader.invalid("item \(index): \(items[index].persistenceID) appears twice; a transaction names each id once")
                    }
                }
                request = .transact(items)
            }
        case .list:
            try reader.requireFlags(frame.flags, allowed: Self.namespaceFlag | ListRequest.afterFlag)
            let prefixBytes = try reader.slice("prefix", lengthAs: UInt8.self)
            let afterBytes = frame.flags & ListRequest.afterFlag != 0 ? try reader.slice("after", lengthAs: UInt8.self) : nil
            let limit = Int(try reader.integer("limit", as: UInt16.self))
            try reader.finish()
            try checkNamespace()
            let prefix: String
            do throws(ItemArgumentError) {
                prefix = try ListRequest.validatePrefix(prefixBytes)
            } catch {
                throw reader.invalid(error.message)
            }
            var after: PersistenceID?
            if let afterBytes {
                do {
                    after = try PersistenceID(validating: afterBytes.readableBytesView)
                } catch let error as PersistenceID.ValidationError {
                    throw reader.invalid(error.description.replacing("persistence_id", with: "after"))
                }
            }
            guard limit >= 1 && limit <= limits.maxBatchItems else {
                throw reader.invalid("limit \(limit) is out of range (1 to max_batch_items \(limits.maxBatchItems))")
            }
            request = .list(ListRequest(prefix: prefix, after: after, limit: limit))
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
            let ttlFlag = upsert.ttlSeconds == nil ? 0 : Upsert.ttlFlag
            buffer.writeFrame(type: .upsert, flags: namespaceFlag | ttlFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeStr8(upsert.persistenceID.value.utf8)
                $0.writeInteger(upsert.expectedRevision)
                if let ttl = upsert.ttlSeconds { $0.writeInteger(ttl) }
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
        case .bulkLoad(let ids):
            buffer.writeFrame(type: .bulkLoad, flags: namespaceFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeInteger(UInt16(ids.count))
                for id in ids { $0.writeStr8(id.value.utf8) }
            }
        case .bulkWrite(let items):
            buffer.writeFrame(type: .bulkWrite, flags: namespaceFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeItems(items.map { item in
                    guard case .valid(let valid) = item else { preconditionFailure("an invalid item cannot be encoded") }
                    return valid
                })
            }
        case .transact(let items):
            buffer.writeFrame(type: .transact, flags: namespaceFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeItems(items)
            }
        case .list(let list):
            let afterFlag = list.after == nil ? 0 : ListRequest.afterFlag
            buffer.writeFrame(type: .list, flags: namespaceFlag | afterFlag, requestID: requestID) {
                writeNamespace(&$0)
                $0.writeStr8(list.prefix.utf8)
                if let after = list.after { $0.writeStr8(after.value.utf8) }
                $0.writeInteger(UInt16(list.limit))
            }
        }
    }
}
