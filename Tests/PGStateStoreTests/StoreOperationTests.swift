import NIOCore
import PGStateProtocol
import Testing

@testable import PGStateStore

private let id = try! PersistenceID("order-17")
private let state = ByteBuffer(bytes: [0x00, 0xFF, 0x42])
private let writtenAt: Int64 = 1_700_000_000_000_123

/// Rows as a statement returns them in binary: int8/timestamptz columns as integers (timestamps in PostgreSQL's
/// epoch, as on the wire), bytea as bytes.
struct FakeRows: StatementRows, Equatable {
    enum Value: Equatable {
        case integer(Int64)
        case bytes([UInt8])
        case text(String)
        case bool(Bool)
    }

    var rows: [[Value]]
    var rowCount: Int { rows.count }

    func int64(row: Int, column: Int) -> Int64 {
        guard case .integer(let value) = rows[row][column] else { preconditionFailure("not an integer") }
        return value
    }

    func bytes(row: Int, column: Int) -> ByteBuffer {
        guard case .bytes(let value) = rows[row][column] else { preconditionFailure("not bytes") }
        return ByteBuffer(bytes: value)
    }

    func text(row: Int, column: Int) -> String {
        guard case .text(let value) = rows[row][column] else { preconditionFailure("not text") }
        return value
    }

    func bool(row: Int, column: Int) -> Bool {
        guard case .bool(let value) = rows[row][column] else { preconditionFailure("not a boolean") }
        return value
    }

    static let none = FakeRows(rows: [])
    static let done = FakeRows(rows: [])
    static func current(_ revision: UInt64) -> FakeRows {
        revision == 0 ? .none : FakeRows(rows: [[.integer(Int64(revision))]])
    }
    static func written(_ revision: UInt64, at microseconds: Int64 = writtenAt) -> FakeRows {
        FakeRows(rows: [[.integer(Int64(revision)), .integer(microseconds - 946_684_800_000_000)]])
    }
    static let notWritten = FakeRows.none
    static func loaded(_ record: Record) -> FakeRows {
        FakeRows(rows: [[.integer(Int64(record.revision)), .bytes(Array(record.state.readableBytesView)),
                         .integer(record.updatedAtMicroseconds - 946_684_800_000_000)]])
    }
    static func deleted(_ yes: Bool) -> FakeRows { yes ? FakeRows(rows: [[.integer(1)]]) : .none }
}

private func upsert(_ expected: UInt64) -> UpsertOperation {
    UpsertOperation(Upsert(persistenceID: id, expectedRevision: expected, state: state))
}

private func delete(_ expected: UInt64?) -> DeleteOperation {
    DeleteOperation(Delete(persistenceID: id, expectedRevision: expected))
}

private let load = LoadOperation(persistenceID: id)

private func conflict(_ expected: UInt64, _ actual: UInt64) -> Verdict {
    .answer(.conflict(Conflict(expectedRevision: expected, actualRevision: actual)))
}

private func names(_ operation: any StoreOperation) -> [String] {
    operation.calls.map(\.statement.name)
}

@Suite("StoreOperation: statements and basics")
struct StoreOperationBasicsTests {
    @Test func mapsStoreRequestsAndLeavesHandshakeAndPingToTheServer() {
        #expect(storeOperation(for: .hello(Hello(versions: [1], clientName: "c")), in: .shared) == nil)
        #expect(storeOperation(for: .ping, in: .shared) == nil)
        #expect(storeOperation(for: .load(id), in: .shared) as? LoadOperation == load)
        let up = Upsert(persistenceID: id, expectedRevision: 2, state: state)
        #expect(storeOperation(for: .upsert(up), in: .shared) as? UpsertOperation == UpsertOperation(up))
        let del = Delete(persistenceID: id, expectedRevision: 9)
        #expect(storeOperation(for: .delete(del), in: .shared) as? DeleteOperation == DeleteOperation(del))
    }

    @Test func persistenceIDOfEveryCase() {
        for operation in [load, upsert(0), delete(nil), delete(3)] as [any SingleKeyOperation] {
            #expect(operation.persistenceID == id)
            #expect(operation.batchKey == id, "a batch orders single-key operations by their id")
        }
    }

    @Test func onlyLoadIsNotAWrite() {
        #expect(!load.isWrite)
        #expect(upsert(0).isWrite)
        #expect(upsert(5).isWrite)
        #expect(delete(nil).isWrite)
        #expect(delete(0).isWrite, "even 'delete only if absent' is a conditional write")
        #expect(delete(5).isWrite)
    }

    @Test func stateBytesCountsOnlyAnUpsertsState() {
        #expect(upsert(1).stateBytes == 3)
        #expect(UpsertOperation(Upsert(persistenceID: id, expectedRevision: 0, state: ByteBuffer())).stateBytes == 0)
        #expect(load.stateBytes == 0)
        #expect(delete(1).stateBytes == 0)
    }

    @Test func statementsOfEachOperation() {
        #expect(names(load) == ["pgstate_load"])
        #expect(names(upsert(0)) == ["pgstate_create", "pgstate_current"], "expected 0 creates")
        #expect(names(upsert(1)) == ["pgstate_update", "pgstate_current"])
        #expect(names(upsert(Revision.maxExpectedForUpsert)) == ["pgstate_update", "pgstate_current"])
        #expect(names(delete(nil)) == ["pgstate_delete"], "unconditional: no fresh read needed")
        #expect(names(delete(0)) == ["pgstate_current"], "only if absent: never removes anything")
        #expect(names(delete(1)) == ["pgstate_deleteIf", "pgstate_current"])
        #expect(names(delete(Revision.max)) == ["pgstate_deleteIf", "pgstate_current"])
    }

    @Test func parametersOfEachOperation() {
        let key: [StatementParameter] = [.text(""), .text("order-17")]
        #expect(load.calls[0].parameters == key)
        #expect(upsert(0).calls[0].parameters == key + [.bytea(state), .int8(0)], "no TTL")
        #expect(upsert(7).calls[0].parameters == key + [.int8(7), .bytea(state), .int8(0)])
        #expect(upsert(7).calls[1].parameters == key)
        #expect(delete(nil).calls[0].parameters == key)
        #expect(delete(4).calls[0].parameters == key + [.int8(4)])
    }

    @Test func everyCallOfAnOperationIsKeyedByItsNamespace() throws {
        let billing = try Namespace("billing")
        let operations: [any StoreOperation] = [
            LoadOperation(persistenceID: id, namespace: billing),
            UpsertOperation(Upsert(persistenceID: id, expectedRevision: 3, state: state), namespace: billing),
            DeleteOperation(Delete(persistenceID: id, expectedRevision: 2), namespace: billing),
            DeleteOperation(Delete(persistenceID: id), namespace: billing),
        ]
        for operation in operations {
            for call in operation.calls {
                #expect(Array(call.parameters.prefix(2)) == [.text("billing"), .text("order-17")], "\(call.statement.name)")
            }
        }
        #expect(storeOperation(for: .load(id), in: billing)?.namespace == billing)
    }

    @Test func everyStatementAnOperationUsesIsDeclaredAndPrepared() {
        let prepared = Set(StoreOperations.allStatements.map(\.name))
        for operation in [load, upsert(0), upsert(3), delete(nil), delete(0), delete(2)] as [any StoreOperation] {
            let declared = Set(type(of: operation).statements.map(\.name))
            for name in names(operation) {
                #expect(declared.contains(name), "\(name) is not declared by \(type(of: operation))")
                #expect(prepared.contains(name))
            }
        }
        // Operations may share a statement (the fresh read); one name must never stand for two statements,
        // since a connection prepares each name once.
        let declared = StoreOperations.types.flatMap { $0.statements }
        for name in prepared {
            #expect(Set(declared.filter { $0.name == name }).count == 1, "\(name) has two definitions")
        }
    }
}

@Suite("StoreOperation: verdicts")
struct StoreOperationVerdictTests {
    // MARK: LOAD

    @Test func loadFound() {
        let record = Record(revision: 3, updatedAtMicroseconds: 12, state: state)
        #expect(load.verdict([FakeRows.loaded(record)]) == .answer(.record(record)))
    }

    @Test func loadNotFound() {
        #expect(load.verdict([FakeRows.none]) == .answer(.notFound))
    }

    // MARK: UPSERT

    @Test(arguments: [0, 3] as [UInt64])
    func upsertWrittenAnswersTheRecordWithTheRequestsState(expected: UInt64) {
        let verdict = upsert(expected).verdict([FakeRows.written(4), .current(4)])
        #expect(verdict == .answer(.record(Record(
            revision: 4, updatedAtMicroseconds: 1_700_000_000_000_123, state: state))))
    }

    @Test func upsertWrittenIgnoresTheFreshRead() {
        // The fresh read may already see a later writer's revision; the answer is what this request wrote.
        let verdict = upsert(3).verdict([FakeRows.written(4), .current(9)])
        guard case .answer(.record(let record)) = verdict else {
            Issue.record("expected a record, got \(verdict)")
            return
        }
        #expect(record.revision == 4)
        #expect(record.state == state)
    }

    @Test func createOverAnExistingRecordConflicts() {
        #expect(upsert(0).verdict([FakeRows.notWritten, .current(7)]) == conflict(0, 7))
    }

    @Test func updateOfAStaleRevisionConflicts() {
        #expect(upsert(3).verdict([FakeRows.notWritten, .current(5)]) == conflict(3, 5))
        #expect(upsert(3).verdict([FakeRows.notWritten, .current(2)]) == conflict(3, 2))
    }

    @Test func updateOfAMissingRecordConflictsWithActualZero() {
        #expect(upsert(3).verdict([FakeRows.notWritten, .current(0)]) == conflict(3, 0))
    }

    @Test func upsertNotWrittenAlthoughTheRevisionMatchesIsRetried() {
        #expect(upsert(3).verdict([FakeRows.notWritten, .current(3)]) == .retry)
        #expect(upsert(0).verdict([FakeRows.notWritten, .current(0)]) == .retry, "create lost to a row deleted since")
    }

    // MARK: DELETE

    @Test func unconditionalDeleteIsOK() {
        #expect(delete(nil).verdict([FakeRows.done]) == .answer(.ok))
    }

    @Test func deleteOnlyIfAbsent() {
        #expect(delete(0).verdict([FakeRows.current(0)]) == .answer(.ok))
        #expect(delete(0).verdict([FakeRows.current(4)]) == conflict(0, 4))
    }

    @Test func conditionalDeleteThatDeletedIsOK() {
        // The fresh read after a successful delete sees no row: still OK.
        #expect(delete(4).verdict([FakeRows.deleted(true), .current(0)]) == .answer(.ok))
    }

    @Test func conditionalDeleteThatDeletedNothingConflicts() {
        #expect(delete(4).verdict([FakeRows.deleted(false), .current(6)]) == conflict(4, 6))
        #expect(delete(4).verdict([FakeRows.deleted(false), .current(0)]) == conflict(4, 0), "absent: actual 0")
    }

    @Test func conditionalDeleteThatDeletedNothingAlthoughTheRevisionMatchesIsRetried() {
        #expect(delete(4).verdict([FakeRows.deleted(false), .current(4)]) == .retry)
    }

    /// A conflict never reports `actual == expected` (PROTOCOL.md section 6.10), whatever the results.
    @Test func noVerdictIsAConflictWithActualEqualToExpected() {
        let revisions: [UInt64] = [0, 1, 2, 5, Revision.maxExpectedForUpsert]
        var verdicts: [Verdict] = []
        for expected in revisions {
            for actual in revisions {
                verdicts.append(upsert(expected).verdict([FakeRows.notWritten, .current(actual)]))
                verdicts.append(delete(expected).verdict(
                    expected == 0 ? [FakeRows.current(actual)] : [FakeRows.deleted(false), .current(actual)]))
            }
        }
        #expect(verdicts.count == 50)
        for verdict in verdicts {
            if case .answer(.conflict(let conflict)) = verdict {
                #expect(conflict.expectedRevision != conflict.actualRevision)
            }
        }
        // Every equal pair is retried (5 upserts, 4 deletes), except delete-if-absent (0, 0), which is OK.
        #expect(verdicts.filter { $0 == .retry }.count == 5 + 4)
    }
}
