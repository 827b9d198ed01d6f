import NIOCore

/// One entry of `RECORDS` (PROTOCOL.md 6.24), in the order of the `BULK_LOAD`'s ids.
public enum RecordsEntry: Sendable, Hashable {
    case absent
    case found(Record)
    /// Not sent: the answer would have exceeded `max_frame_bytes`; the client loads the id again.
    case omitted

    static let absentByte: UInt8 = 0, foundByte: UInt8 = 1, omittedByte: UInt8 = 2

    /// The bytes this entry takes in the frame.
    public var encodedBytes: Int {
        if case .found(let record) = self { return 1 + 8 + 8 + 4 + record.state.readableBytes }
        return 1
    }
}

/// One outcome of `OUTCOMES` (6.26), in item order.
public enum ItemOutcome: Sendable, Hashable {
    /// An upsert item applied: its new revision and commit time.
    case written(revision: UInt64, updatedAtMicroseconds: Int64)
    /// A delete item answered OK.
    case deleted
    case conflict(Conflict)
    /// This item alone failed, as an `ERROR` would say.
    case failed(ErrorResponse)

    static let writtenByte: UInt8 = 1, deletedByte: UInt8 = 2, conflictByte: UInt8 = 3, failedByte: UInt8 = 4

    /// The outcome of an item from the answer its single request would have got.
    public init(_ response: Response) {
        switch response {
        case .record(let record): self = .written(revision: record.revision, updatedAtMicroseconds: record.updatedAtMicroseconds)
        case .ok: self = .deleted
        case .conflict(let conflict): self = .conflict(conflict)
        case .error(let error): self = .failed(error)
        default: self = .failed(ErrorResponse(status: .internalError, message: "unexpected answer \(response.type) to an item"))
        }
    }
}

/// One failed item of `TRANSACT_CONFLICT` (6.28).
public struct TransactConflictItem: Sendable, Hashable {
    /// The item's position in the request, from 0.
    public var index: Int
    public var conflict: Conflict

    public init(index: Int, conflict: Conflict) {
        self.index = index
        self.conflict = conflict
    }
}

/// `LIST_OK` (6.30): one page of ids in byte order.
public struct ListPage: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var persistenceID: String
        public var revision: UInt64
        public var updatedAtMicroseconds: Int64

        public init(persistenceID: String, revision: UInt64, updatedAtMicroseconds: Int64) {
            self.persistenceID = persistenceID
            self.revision = revision
            self.updatedAtMicroseconds = updatedAtMicroseconds
        }
    }

    /// Ids may follow the last entry: ask again with `AFTER` = its id.
    public var more: Bool
    public var entries: [Entry]

    public init(more: Bool, entries: [Entry]) {
        self.more = more
        self.entries = entries
    }
}

extension PayloadReader {
    mutating func recordsEntries() throws -> [RecordsEntry] {
        let count = Int(try integer("count", as: UInt16.self))
        var entries: [RecordsEntry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            switch try integer("entry \(index) presence", as: UInt8.self) {
            case RecordsEntry.absentByte: entries.append(.absent)
            case RecordsEntry.omittedByte: entries.append(.omitted)
            case RecordsEntry.foundByte:
                let revision = try integer("entry \(index) revision", as: UInt64.self)
                let updatedAt = try integer("entry \(index) updated_at", as: Int64.self)
                let state = try slice("entry \(index) state", lengthAs: UInt32.self)
                entries.append(.found(Record(revision: revision, updatedAtMicroseconds: updatedAt, state: state)))
            case let other:
                throw malformed("entry \(index): unknown presence \(other)")
            }
        }
        return entries
    }

    mutating func itemOutcomes() throws -> [ItemOutcome] {
        let count = Int(try integer("count", as: UInt16.self))
        var outcomes: [ItemOutcome] = []
        outcomes.reserveCapacity(count)
        for index in 0..<count {
            switch try integer("outcome \(index) result", as: UInt8.self) {
            case ItemOutcome.writtenByte:
                let revision = try integer("outcome \(index) revision", as: UInt64.self)
                let updatedAt = try integer("outcome \(index) updated_at", as: Int64.self)
                outcomes.append(.written(revision: revision, updatedAtMicroseconds: updatedAt))
            case ItemOutcome.deletedByte:
                outcomes.append(.deleted)
            case ItemOutcome.conflictByte:
                let expected = try integer("outcome \(index) expected_revision", as: UInt64.self)
                let actual = try integer("outcome \(index) actual_revision", as: UInt64.self)
                outcomes.append(.conflict(Conflict(expectedRevision: expected, actualRevision: actual)))
            case ItemOutcome.failedByte:
                let status = try integer("outcome \(index) status", as: UInt16.self)
                let message = try text("outcome \(index) message", lengthAs: UInt16.self)
                outcomes.append(.failed(ErrorResponse(status: Status(rawValue: status), message: message)))
            case let other:
                throw malformed("outcome \(index): unknown result \(other)")
            }
        }
        return outcomes
    }

    mutating func transactConflicts() throws -> [TransactConflictItem] {
        let count = Int(try integer("count", as: UInt16.self))
        var conflicts: [TransactConflictItem] = []
        conflicts.reserveCapacity(count)
        for index in 0..<count {
            let item = Int(try integer("conflict \(index) index", as: UInt16.self))
            let expected = try integer("conflict \(index) expected_revision", as: UInt64.self)
            let actual = try integer("conflict \(index) actual_revision", as: UInt64.self)
            conflicts.append(TransactConflictItem(index: item, conflict: Conflict(expectedRevision: expected, actualRevision: actual)))
        }
        return conflicts
    }

    mutating func listPage() throws -> ListPage {
        let more = try integer("more", as: UInt8.self)
        guard more <= 1 else { throw malformed("more is \(more); 0 or 1") }
        let count = Int(try integer("count", as: UInt16.self))
        var entries: [ListPage.Entry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let id = try text("entry \(index) persistence_id", lengthAs: UInt8.self)
            let revision = try integer("entry \(index) revision", as: UInt64.self)
            let updatedAt = try integer("entry \(index) updated_at", as: Int64.self)
            entries.append(ListPage.Entry(persistenceID: id, revision: revision, updatedAtMicroseconds: updatedAt))
        }
        return ListPage(more: more == 1, entries: entries)
    }
}

extension ByteBuffer {
    mutating func writeRecordsEntries(_ entries: [RecordsEntry]) {
        writeInteger(UInt16(entries.count))
        for entry in entries {
            switch entry {
            case .absent: writeInteger(RecordsEntry.absentByte)
            case .omitted: writeInteger(RecordsEntry.omittedByte)
            case .found(let record):
                writeInteger(RecordsEntry.foundByte)
                writeInteger(record.revision)
                writeInteger(record.updatedAtMicroseconds)
                writeInteger(UInt32(record.state.readableBytes))
                writeImmutableBuffer(record.state)
            }
        }
    }

    mutating func writeItemOutcomes(_ outcomes: [ItemOutcome]) {
        writeInteger(UInt16(outcomes.count))
        for outcome in outcomes {
            switch outcome {
            case .written(let revision, let updatedAt):
                writeInteger(ItemOutcome.writtenByte)
                writeInteger(revision)
                writeInteger(updatedAt)
            case .deleted:
                writeInteger(ItemOutcome.deletedByte)
            case .conflict(let conflict):
                writeInteger(ItemOutcome.conflictByte)
                writeInteger(conflict.expectedRevision)
                writeInteger(conflict.actualRevision)
            case .failed(let error):
                writeInteger(ItemOutcome.failedByte)
                writeInteger(error.status.rawValue)
                let message = error.truncatedMessage
                writeInteger(UInt16(message.utf8.count))
                writeBytes(message.utf8)
            }
        }
    }

    mutating func writeTransactConflicts(_ conflicts: [TransactConflictItem]) {
        writeInteger(UInt16(conflicts.count))
        for item in conflicts {
            writeInteger(UInt16(item.index))
            writeInteger(item.conflict.expectedRevision)
            writeInteger(item.conflict.actualRevision)
        }
    }

    mutating func writeListPage(_ page: ListPage) {
        writeInteger(UInt8(page.more ? 1 : 0))
        writeInteger(UInt16(page.entries.count))
        for entry in page.entries {
            writeStr8(entry.persistenceID.utf8)
            writeInteger(entry.revision)
            writeInteger(entry.updatedAtMicroseconds)
        }
    }
}
