import NIOCore
import PGStateProtocol
import Testing

@testable import PGStateStore

private let id = try! PersistenceID("order-17")
private let state = ByteBuffer(bytes: [0x00, 0xFF, 0x42])
private let written = Written(revision: 4, updatedAtMicroseconds: 1_700_000_000_000_123)

private func upsert(_ expected: UInt64) -> StoreOperation {
    .upsert(Upsert(persistenceID: id, expectedRevision: expected, state: state))
}

private func delete(_ expected: UInt64?) -> StoreOperation {
    .delete(Delete(persistenceID: id, expectedRevision: expected))
}

private func conflict(_ expected: UInt64, _ actual: UInt64) -> Verdict {
    .answer(.conflict(Conflict(expectedRevision: expected, actualRevision: actual)))
}

@Suite("StoreOperation: statements and basics")
struct StoreOperationBasicsTests {
    @Test func mapsStoreRequestsAndLeavesHandshakeAndPingToTheServer() {
        #expect(StoreOperation(.hello(Hello(versions: [1], clientName: "c"))) == nil)
        #expect(StoreOperation(.ping) == nil)
        #expect(StoreOperation(.load(id)) == .load(id))
        let up = Upsert(persistenceID: id, expectedRevision: 2, state: state)
        #expect(StoreOperation(.upsert(up)) == .upsert(up))
        let del = Delete(persistenceID: id, expectedRevision: 9)
        #expect(StoreOperation(.delete(del)) == .delete(del))
    }

    @Test func persistenceIDOfEveryCase() {
        for operation in [.load(id), upsert(0), delete(nil), delete(3)] as [StoreOperation] {
            #expect(operation.persistenceID == id)
        }
    }

    @Test func onlyLoadIsNotAWrite() {
        #expect(!StoreOperation.load(id).isWrite)
        #expect(upsert(0).isWrite)
        #expect(upsert(5).isWrite)
        #expect(delete(nil).isWrite)
        #expect(delete(0).isWrite, "even 'delete only if absent' is a conditional write")
        #expect(delete(5).isWrite)
    }

    @Test func stateBytesCountsOnlyAnUpsertsState() {
        #expect(upsert(1).stateBytes == 3)
        #expect(StoreOperation.upsert(Upsert(persistenceID: id, expectedRevision: 0, state: ByteBuffer()))
            .stateBytes == 0)
        #expect(StoreOperation.load(id).stateBytes == 0)
        #expect(delete(1).stateBytes == 0)
    }

    @Test func statementsOfEachOperation() {
        #expect(StoreOperation.load(id).statements == [.load])
        #expect(upsert(0).statements == [.create, .current], "expected 0 creates")
        #expect(upsert(1).statements == [.update, .current])
        #expect(upsert(Revision.maxExpectedForUpsert).statements == [.update, .current])
        #expect(delete(nil).statements == [.delete], "unconditional: no fresh read needed")
        #expect(delete(0).statements == [.current], "only if absent: never removes anything")
        #expect(delete(1).statements == [.deleteIf, .current])
        #expect(delete(Revision.max).statements == [.deleteIf, .current])
    }
}

@Suite("StoreOperation: verdicts")
struct StoreOperationVerdictTests {
    // MARK: LOAD

    @Test func loadFound() {
        let record = Record(revision: 3, updatedAtMicroseconds: 12, state: state)
        #expect(StoreOperation.load(id).verdict([.loaded(record)]) == .answer(.record(record)))
    }

    @Test func loadNotFound() {
        #expect(StoreOperation.load(id).verdict([.loaded(nil)]) == .answer(.notFound))
    }

    // MARK: UPSERT

    @Test(arguments: [0, 3] as [UInt64])
    func upsertWrittenAnswersTheRecordWithTheRequestsState(expected: UInt64) {
        let verdict = upsert(expected).verdict([.written(written), .current(written.revision)])
        #expect(verdict == .answer(.record(Record(
            revision: 4, updatedAtMicroseconds: 1_700_000_000_000_123, state: state))))
    }

    @Test func upsertWrittenIgnoresTheFreshRead() {
        // The fresh read may already see a later writer's revision; the answer is what this request wrote.
        let verdict = upsert(3).verdict([.written(written), .current(9)])
        guard case .answer(.record(let record)) = verdict else {
            Issue.record("expected a record, got \(verdict)")
            return
        }
        #expect(record.revision == 4)
        #expect(record.state == state)
    }

    @Test func createOverAnExistingRecordConflicts() {
        #expect(upsert(0).verdict([.written(nil), .current(7)]) == conflict(0, 7))
    }

    @Test func updateOfAStaleRevisionConflicts() {
        #expect(upsert(3).verdict([.written(nil), .current(5)]) == conflict(3, 5))
        #expect(upsert(3).verdict([.written(nil), .current(2)]) == conflict(3, 2))
    }

    @Test func updateOfAMissingRecordConflictsWithActualZero() {
        #expect(upsert(3).verdict([.written(nil), .current(0)]) == conflict(3, 0))
    }

    @Test func upsertNotWrittenAlthoughTheRevisionMatchesIsRetried() {
        #expect(upsert(3).verdict([.written(nil), .current(3)]) == .retry)
        #expect(upsert(0).verdict([.written(nil), .current(0)]) == .retry, "create lost to a row deleted since")
    }

    // MARK: DELETE

    @Test func unconditionalDeleteIsOK() {
        #expect(delete(nil).verdict([.done]) == .answer(.ok))
    }

    @Test func deleteOnlyIfAbsent() {
        #expect(delete(0).verdict([.current(0)]) == .answer(.ok))
        #expect(delete(0).verdict([.current(4)]) == conflict(0, 4))
    }

    @Test func conditionalDeleteThatDeletedIsOK() {
        // The fresh read after a successful delete sees no row: still OK.
        #expect(delete(4).verdict([.deleted(true), .current(0)]) == .answer(.ok))
    }

    @Test func conditionalDeleteThatDeletedNothingConflicts() {
        #expect(delete(4).verdict([.deleted(false), .current(6)]) == conflict(4, 6))
        #expect(delete(4).verdict([.deleted(false), .current(0)]) == conflict(4, 0), "absent: actual 0")
    }

    @Test func conditionalDeleteThatDeletedNothingAlthoughTheRevisionMatchesIsRetried() {
        #expect(delete(4).verdict([.deleted(false), .current(4)]) == .retry)
    }

    /// A conflict never reports `actual == expected` (PROTOCOL.md section 6.10), whatever the results.
    @Test func noVerdictIsAConflictWithActualEqualToExpected() {
        let revisions: [UInt64] = [0, 1, 2, 5, Revision.maxExpectedForUpsert]
        var verdicts: [Verdict] = []
        for expected in revisions {
            for actual in revisions {
                verdicts.append(upsert(expected).verdict([.written(nil), .current(actual)]))
                verdicts.append(delete(expected).verdict(
                    expected == 0 ? [.current(actual)] : [.deleted(false), .current(actual)]))
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
