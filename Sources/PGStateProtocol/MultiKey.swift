import NIOCore

/// One item of `BULK_WRITE` or `TRANSACT` (PROTOCOL.md 6.22): exactly the single request it mirrors.
public enum WriteItem: Sendable, Hashable {
    case upsert(Upsert)
    case delete(Delete)

    /// The `kind` byte.
    public static let upsertKind: UInt8 = 0x01
    public static let deleteKind: UInt8 = 0x02
    /// `item_flags`: the same bits as the single requests' frame flags.
    public static let expectedRevisionFlag: UInt8 = 0x01
    public static let ttlFlag: UInt8 = 0x04

    public var persistenceID: PersistenceID {
        switch self {
        case .upsert(let upsert): return upsert.persistenceID
        case .delete(let delete): return delete.persistenceID
        }
    }

    /// The revision this item expects, if it has an expectation (every upsert; a conditional delete).
    public var expectedRevision: UInt64? {
        switch self {
        case .upsert(let upsert): return upsert.expectedRevision
        case .delete(let delete): return delete.expectedRevision
        }
    }

    public var stateBytes: Int {
        if case .upsert(let upsert) = self { return upsert.state.readableBytes }
        return 0
    }
}

/// A `BULK_WRITE` item as decoded: items are independent, so one that breaks an argument rule is answered
/// `FAILED 102` in its place while the others run.
public enum BulkWriteItem: Sendable, Hashable {
    case valid(WriteItem)
    /// The argument rule the item breaks (the message of its `FAILED 102`).
    case invalid(String)
}

/// `LIST(prefix, after, limit)`: one page of ids starting with `prefix`, greater than `after`, in byte order.
public struct ListRequest: Sendable, Hashable {
    /// The `AFTER` flag bit.
    public static let afterFlag: UInt8 = 0x01

    /// May be empty; holds only characters an id may hold.
    public var prefix: String
    public var after: PersistenceID?
    /// 1 to `max_batch_items`.
    public var limit: Int

    public init(prefix: String = "", after: PersistenceID? = nil, limit: Int) {
        self.prefix = prefix
        self.after = after
        self.limit = limit
    }
}

/// The fields of one item before its arguments are checked (structure only).
struct RawWriteItem {
    var kind: UInt8
    var idBytes: ByteBuffer
    var expected: UInt64?
    var ttl: UInt32?
    var state: ByteBuffer?
}

extension PayloadReader {
    /// The `count` field of a multi-key request.
    mutating func itemCount() throws -> Int {
        Int(try integer("count", as: UInt16.self))
    }

    /// Reads `count` items' structure; any structural fault is MALFORMED_FRAME for the whole frame.
    mutating func rawItems(count: Int) throws -> [RawWriteItem] {
        var items: [RawWriteItem] = []
        items.reserveCapacity(count)
        for index in 0..<count {
            let kind = try integer("item \(index) kind", as: UInt8.self)
            let flags = try integer("item \(index) item_flags", as: UInt8.self)
            switch kind {
            case WriteItem.upsertKind:
                guard flags & ~WriteItem.ttlFlag == 0 else {
                    throw malformed("item \(index): undefined item_flags 0x\(String(flags & ~WriteItem.ttlFlag, radix: 16)) on an upsert")
                }
                let id = try slice("item \(index) persistence_id", lengthAs: UInt8.self)
                let expected = try integer("item \(index) expected_revision", as: UInt64.self)
                let ttl = flags & WriteItem.ttlFlag != 0 ? try integer("item \(index) ttl_seconds", as: UInt32.self) : nil
                let state = try slice("item \(index) state", lengthAs: UInt32.self)
                items.append(RawWriteItem(kind: kind, idBytes: id, expected: expected, ttl: ttl, state: state))
            case WriteItem.deleteKind:
                guard flags & ~WriteItem.expectedRevisionFlag == 0 else {
                    throw malformed("item \(index): undefined item_flags 0x\(String(flags & ~WriteItem.expectedRevisionFlag, radix: 16)) on a delete")
                }
                let id = try slice("item \(index) persistence_id", lengthAs: UInt8.self)
                let expected = flags & WriteItem.expectedRevisionFlag != 0
                    ? try integer("item \(index) expected_revision", as: UInt64.self) : nil
                items.append(RawWriteItem(kind: kind, idBytes: id, expected: expected, ttl: nil, state: nil))
            default:
                throw malformed("item \(index): unknown kind 0x\(String(kind, radix: 16))")
            }
        }
        return items
    }

    /// The argument rules of one item (section 8), in field order: id, revision, TTL, state.
    func item(_ raw: RawWriteItem, limits: ProtocolLimits) throws(ItemArgumentError) -> WriteItem {
        let id: PersistenceID
        do {
            id = try PersistenceID(validating: raw.idBytes.readableBytesView)
        } catch let error as PersistenceID.ValidationError {
            throw ItemArgumentError(error.description)
        } catch {
            throw ItemArgumentError("\(error)")
        }
        if raw.kind == WriteItem.upsertKind {
            let expected = raw.expected!
            guard expected <= Revision.maxExpectedForUpsert else {
                throw ItemArgumentError(
                    "expected_revision \(expected) is out of range (0 to \(Revision.maxExpectedForUpsert))")
            }
            if let ttl = raw.ttl { try Upsert.checkTTL(ttl) }
            let state = raw.state!
            guard state.readableBytes <= limits.maxStateBytes else {
                throw ItemArgumentError(
                    "state is \(state.readableBytes) bytes, more than the limit of \(limits.maxStateBytes)")
            }
            return .upsert(Upsert(persistenceID: id, expectedRevision: expected, state: state, ttlSeconds: raw.ttl))
        }
        if let expected = raw.expected, expected > Revision.max {
            throw ItemArgumentError("expected_revision \(expected) is out of range (0 to \(Revision.max))")
        }
        return .delete(Delete(persistenceID: id, expectedRevision: raw.expected))
    }

    /// The request-wide rules of 6.22: `count` within 1..`max_batch_items`, states within `max_batch_bytes`.
    func checkBatch(count: Int, stateBytes: Int, limits: ProtocolLimits) throws {
        guard count >= 1 else { throw invalid("count is 0; a request names at least one id") }
        guard count <= limits.maxBatchItems else {
            throw invalid("count is \(count), more than max_batch_items \(limits.maxBatchItems)")
        }
        guard stateBytes <= limits.maxBatchBytes else {
            throw invalid("the items' states total \(stateBytes) bytes, more than max_batch_bytes \(limits.maxBatchBytes)")
        }
    }
}

/// Why one item breaks an argument rule.
struct ItemArgumentError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension Upsert {
    /// Largest `ttl_seconds`: the interval arithmetic stays far from any overflow.
    public static let maxTTLSeconds: UInt32 = (1 << 31) - 1

    static func checkTTL(_ ttl: UInt32) throws(ItemArgumentError) {
        guard ttl >= 1 && ttl <= maxTTLSeconds else {
            throw ItemArgumentError("ttl_seconds \(ttl) is out of range (1 to \(maxTTLSeconds))")
        }
    }
}

extension ListRequest {
    /// Validates a prefix: the characters of an id, 0 to 255 bytes.
    static func validatePrefix(_ bytes: ByteBuffer) throws(ItemArgumentError) -> String {
        if bytes.readableBytes == 0 { return "" }
        do {
            return try PersistenceID(validating: bytes.readableBytesView).value
        } catch let error as PersistenceID.ValidationError {
            throw ItemArgumentError(error.description.replacing("persistence_id", with: "prefix"))
        } catch {
            throw ItemArgumentError("\(error)")
        }
    }
}

extension ByteBuffer {
    mutating func writeItems(_ items: [WriteItem]) {
        writeInteger(UInt16(items.count))
        for item in items {
            switch item {
            case .upsert(let upsert):
                writeInteger(WriteItem.upsertKind)
                writeInteger(upsert.ttlSeconds == nil ? 0 : WriteItem.ttlFlag)
                writeStr8(upsert.persistenceID.value.utf8)
                writeInteger(upsert.expectedRevision)
                if let ttl = upsert.ttlSeconds { writeInteger(ttl) }
                writeInteger(UInt32(upsert.state.readableBytes))
                writeImmutableBuffer(upsert.state)
            case .delete(let delete):
                writeInteger(WriteItem.deleteKind)
                writeInteger(delete.expectedRevision == nil ? 0 : WriteItem.expectedRevisionFlag)
                writeStr8(delete.persistenceID.value.utf8)
                if let expected = delete.expectedRevision { writeInteger(expected) }
            }
        }
    }
}

extension WriteItem {
    /// The upsert of an item known to be one.
    public var upsertValue: Upsert {
        guard case .upsert(let upsert) = self else { preconditionFailure("not an upsert item") }
        return upsert
    }
}
