import NIOCore
import PGStateProtocol
import Testing

@testable import PGStateStore

private func pid(_ text: String) -> PersistenceID { try! PersistenceID(text) }
private let pgEpoch: Int64 = 946_684_800_000_000

private func record(_ revision: UInt64, _ state: [UInt8] = [1]) -> Record {
    Record(revision: revision, updatedAtMicroseconds: 1_000, state: ByteBuffer(bytes: state))
}

private func upsertItem(_ id: String, _ expected: UInt64, ttl: UInt32? = nil) -> WriteItem {
    .upsert(Upsert(persistenceID: pid(id), expectedRevision: expected, state: ByteBuffer(bytes: [9]), ttlSeconds: ttl))
}

@Suite("StorePlan: how a multi-key request becomes router entries")
struct StorePlanTests {
    @Test func singleKeyRequestsAreOneEntryAtTheirHome() {
        guard case .single(let part) = StorePlan(.load(pid("a")), in: .shared, poolSize: 4) else {
            Issue.record("not single"); return
        }
        #expect(part.home == StorePlan.home(of: pid("a"), poolSize: 4))
        #expect(part.otherHomes.isEmpty && !part.alone)
    }

    @Test func bulkLoadIsOnePartPerHomeWithDistinctIDs() {
        let ids = (0..<40).map { pid("id-\($0)") } + [pid("id-3"), pid("id-3")]
        guard case .gathered(let parts, _) = StorePlan(.bulkLoad(ids), in: .shared, poolSize: 4) else {
            Issue.record("not gathered"); return
        }
        #expect(parts.count == 4, "40 ids spread over every connection")
        var seen: [PersistenceID] = []
        for part in parts {
            let load = part.operation as! BulkLoadOperation
            #expect(load.ids.allSatisfy { StorePlan.home(of: $0, poolSize: 4) == part.home })
            #expect(part.otherHomes.isEmpty)
            seen += load.ids
        }
        #expect(Set(seen).count == seen.count, "each id read once")
        #expect(Set(seen) == Set(ids))
    }

    @Test func bulkLoadGathersInRequestOrderWithRepeats() {
        let ids = [pid("a"), pid("b"), pid("a"), pid("c")]
        guard case .gathered(let parts, var gather) = StorePlan(.bulkLoad(ids), in: .shared, poolSize: 2) else {
            Issue.record("not gathered"); return
        }
        var final: Response?
        for (index, part) in parts.enumerated() {
            let load = part.operation as! BulkLoadOperation
            let entries: [RecordsEntry] = load.ids.map { $0 == pid("c") ? .absent : .found(record($0 == pid("a") ? 1 : 2)) }
            final = gather.received(part: index, .records(entries), maxFrameBytes: 1 << 20)
            #expect((final == nil) == (index < parts.count - 1))
        }
        #expect(final == .records([.found(record(1)), .found(record(2)), .found(record(1)), .absent]))
    }

    @Test func recordsBeyondTheFrameAreOmittedAndTheFirstAlwaysFits() {
        let big = RecordsEntry.found(record(1, Array(repeating: 7, count: 100)))
        let small = RecordsEntry.found(record(2, [1]))
        let positions = [(part: 0, index: 0), (part: 0, index: 1), (part: 0, index: 2), (part: 0, index: 3)]
        // 6 header + 2 count; room for one big entry (121 bytes), then only small ones and a byte per entry left.
        let answer = Gather.records(positions: positions, answers: [.records([big, big, small, .absent])],
                                    maxFrameBytes: 8 + 121 + 30)
        #expect(answer == .records([big, .omitted, small, .absent]))
    }

    @Test func aFailedPartFailsTheBulkLoad() {
        let failure = ErrorResponse(status: .unavailable, message: "down")
        let answer = Gather.records(positions: [(0, 0), (1, 0)], answers: [.records([.absent]), .error(failure)],
                                    maxFrameBytes: 1 << 20)
        #expect(answer == .error(failure))
    }

    @Test func bulkWriteItemsAreIndependentEntriesAndInvalidOnesAreAnsweredInPlace() {
        let items: [BulkWriteItem] = [.valid(upsertItem("a", 0)), .invalid("persistence_id is empty"),
                                      .valid(.delete(Delete(persistenceID: pid("b"), expectedRevision: 3)))]
        guard case .gathered(let parts, var gather) = StorePlan(.bulkWrite(items), in: .shared, poolSize: 4) else {
            Issue.record("not gathered"); return
        }
        #expect(parts.count == 2)
        #expect(parts[0].operation is UpsertOperation && parts[1].operation is DeleteOperation)
        #expect(parts.allSatisfy { $0.otherHomes.isEmpty && !$0.alone })
        #expect(gather.received(part: 1, .conflict(Conflict(expectedRevision: 3, actualRevision: 4)), maxFrameBytes: 100) == nil)
        let final = gather.received(part: 0, .record(record(1)), maxFrameBytes: 100)
        #expect(final == .outcomes([
            .written(revision: 1, updatedAtMicroseconds: 1_000),
            .failed(ErrorResponse(status: .invalidArgument, message: "item 1: persistence_id is empty")),
            .conflict(Conflict(expectedRevision: 3, actualRevision: 4)),
        ]))
    }

    @Test func aBulkWriteOfOnlyInvalidItemsNeedsNoDatabase() {
        guard case .answered(let response) = StorePlan(.bulkWrite([.invalid("bad")]), in: .shared, poolSize: 2) else {
            Issue.record("not answered"); return
        }
        #expect(response == .outcomes([.failed(ErrorResponse(status: .invalidArgument, message: "item 0: bad"))]))
    }

    @Test func aTransactionRunsAloneAtItsSmallestIDsHomeAndHoldsEveryHome() {
        let items = (0..<20).map { upsertItem("t-\($0)", 0) }
        guard case .single(let part) = StorePlan(.transact(items), in: .shared, poolSize: 4) else {
            Issue.record("not single"); return
        }
        #expect(part.alone)
        #expect(part.home == StorePlan.home(of: items.map(\.persistenceID).min()!, poolSize: 4))
        let homes = Set(items.map { StorePlan.home(of: $0.persistenceID, poolSize: 4) })
        #expect(Set([part.home] + part.otherHomes) == homes)
        #expect(part.otherHomes.count == homes.count - 1, "no home twice")
    }

    @Test func aListHoldsEveryHome() {
        guard case .single(let part) = StorePlan(.list(ListRequest(prefix: "p", limit: 10)), in: .shared, poolSize: 3) else {
            Issue.record("not single"); return
        }
        #expect(Set([part.home] + part.otherHomes) == [0, 1, 2])
        #expect(!part.alone)
    }
}

@Suite("Multi-key operations: statements and verdicts")
struct MultiKeyOperationTests {
    @Test func listRangeBounds() {
        #expect(ListOperation.upperBound(of: "") == nil)
        #expect(ListOperation.upperBound(of: "abc") == "abd")
        #expect(ListOperation.upperBound(of: "a%_") == "a%`", "no LIKE metacharacter is special")
        #expect(ListOperation.upperBound(of: "a\u{10FFFF}") == "b", "a maximal code point carries over")
        #expect(ListOperation.upperBound(of: "\u{10FFFF}\u{10FFFF}") == nil)
        #expect(ListOperation.upperBound(of: "x\u{D7FF}") == "x\u{E000}", "surrogates are skipped")
        #expect(ListOperation.upperBound(of: "é") == "ê")
        // Every string with the prefix sorts below the bound, byte for byte.
        for prefix in ["a", "zz", "é", "a\u{7E}", "\u{10FFFF}a"] {
            let upper = ListOperation.upperBound(of: prefix)!
            for suffix in ["", "a", "\u{7E}", "\u{10FFFF}\u{10FFFF}"] {
                #expect((prefix + suffix).utf8.lexicographicallyPrecedes(upper.utf8), "\(prefix)\(suffix) < \(upper)")
            }
            #expect(!upper.hasPrefix(prefix))
        }
    }

    @Test func listLowerBoundIsThePrefixOrJustAboveTheCursor() {
        #expect(ListOperation(ListRequest(prefix: "b", limit: 5)).lowerBound == "b")
        #expect(ListOperation(ListRequest(prefix: "b", after: pid("bc"), limit: 5)).lowerBound == "bc\u{1}")
        #expect(ListOperation(ListRequest(prefix: "b", after: pid("a"), limit: 5)).lowerBound == "b",
                "a cursor before the prefix is the prefix")
        let calls = ListOperation(ListRequest(prefix: "", limit: 5)).calls
        #expect(calls.count == 1 && calls[0].statement == ListOperation.unbounded)
        #expect(calls[0].parameters.last == .int8(6), "one row more than the limit tells whether more follow")
    }

    @Test func listVerdictTellsWhetherMoreFollow() {
        let op = ListOperation(ListRequest(prefix: "", limit: 2))
        let rows = FakeRows(rows: (0..<3).map { [.text("k\($0)"), .integer(Int64($0 + 1)), .integer(5 - pgEpoch)] })
        guard case .answer(.listOK(let page)) = op.verdict([rows]) else { Issue.record("not a page"); return }
        #expect(page.more)
        #expect(page.entries.map(\.persistenceID) == ["k0", "k1"])
        #expect(page.entries[1] == ListPage.Entry(persistenceID: "k1", revision: 2, updatedAtMicroseconds: 5))
        guard case .answer(.listOK(let last)) = op.verdict([FakeRows(rows: Array(rows.rows.prefix(2)))]) else { return }
        #expect(!last.more && last.entries.count == 2)
    }

    @Test func bulkLoadVerdictAnswersEachIDInItsOrder() {
        let op = BulkLoadOperation(ids: [pid("x"), pid("y"), pid("z")])
        #expect(op.calls[0].parameters == [.text(""), .textArray(["x", "y", "z"])])
        let rows = FakeRows(rows: [[.text("z"), .integer(4), .bytes([2]), .integer(7 - pgEpoch)],
                                   [.text("x"), .integer(1), .bytes([1]), .integer(6 - pgEpoch)]])
        #expect(op.verdict([rows]) == .answer(.records([
            .found(Record(revision: 1, updatedAtMicroseconds: 6, state: ByteBuffer(bytes: [1]))),
            .absent,
            .found(Record(revision: 4, updatedAtMicroseconds: 7, state: ByteBuffer(bytes: [2]))),
        ])))
    }

    private let transaction = TransactOperation([
        upsertItem("a", 0, ttl: 30), upsertItem("b", 4), .delete(Delete(persistenceID: pid("c"))),
        .delete(Delete(persistenceID: pid("d"), expectedRevision: 2)),
    ])

    @Test func transactionParametersAreOneArrayPerField() {
        let parameters = transaction.calls[0].parameters
        #expect(parameters[1] == .textArray(["a", "b", "c", "d"]))
        #expect(parameters[2] == .int8Array([1, 1, 2, 2]), "kinds")
        #expect(parameters[3] == .int8Array([0, 4, -1, 2]), "expected revisions; -1: an unconditional delete")
        #expect(parameters[5] == .int8Array([30, 0, 0, 0]), "TTLs; 0: none")
    }

    @Test func anAppliedTransactionAnswersEveryNewRevision() {
        let rows = FakeRows(rows: [
            [.integer(0), .bool(true), .integer(1), .integer(10 - pgEpoch)],
            [.integer(4), .bool(true), .integer(5), .integer(11 - pgEpoch)],
            [.integer(7), .bool(true), .integer(0), .integer(-pgEpoch)],
            [.integer(2), .bool(true), .integer(0), .integer(-pgEpoch)],
        ])
        #expect(transaction.verdict([rows]) == .answer(.outcomes([
            .written(revision: 1, updatedAtMicroseconds: 10), .written(revision: 5, updatedAtMicroseconds: 11),
            .deleted, .deleted,
        ])))
    }

    @Test func aConflictingTransactionNamesEveryFailedItem() {
        let rows = FakeRows(rows: [
            [.integer(3), .bool(false), .integer(0), .integer(0)],  // a: create, but revision 3 exists
            [.integer(4), .bool(false), .integer(0), .integer(0)],  // b: holds
            [.integer(9), .bool(false), .integer(0), .integer(0)],  // c: unconditional, never fails
            [.integer(0), .bool(false), .integer(0), .integer(0)],  // d: expected 2, absent
        ])
        #expect(transaction.verdict([rows]) == .answer(.transactConflict([
            TransactConflictItem(index: 0, conflict: Conflict(expectedRevision: 0, actualRevision: 3)),
            TransactConflictItem(index: 3, conflict: Conflict(expectedRevision: 2, actualRevision: 0)),
        ])))
    }

    @Test func aRefusedTransactionWithoutAFailedItemRunsAgain() {
        let rows = FakeRows(rows: [[.integer(0), .bool(false), .integer(0), .integer(0)],
                                   [.integer(4), .bool(false), .integer(0), .integer(0)],
                                   [.integer(0), .bool(false), .integer(0), .integer(0)],
                                   [.integer(2), .bool(false), .integer(0), .integer(0)]])
        #expect(transaction.verdict([rows]) == .retry)
    }

    @Test func aConcurrentCreateMakesTheTransactionRunAgain() {
        #expect(transaction.isRetryable(StatementFailure(sqlState: "23505", message: "duplicate key")))
        #expect(transaction.isRetryable(StatementFailure(sqlState: "40P01", message: "deadlock")))
        #expect(!transaction.isRetryable(StatementFailure(sqlState: "22P02", message: "bad input")))
        #expect(!UpsertOperation(Upsert(persistenceID: pid("a"), expectedRevision: 0, state: ByteBuffer()))
            .isRetryable(StatementFailure(sqlState: "23505", message: "duplicate key")))
    }

    @Test func arraysAreEncodedAsPostgreSQLReceivesThem() {
        var buffer = ByteBuffer()
        StatementParameter.textArray(["ab", ""]).write(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1,
                                                    0, 0, 0, 2, 0x61, 0x62, 0, 0, 0, 0])
        buffer.clear()
        StatementParameter.int8Array([]).write(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20], "an empty array has no dimension")
    }
}

@Suite("BatchExecution and PoolRouter: multi-key entries keep every id's order")
struct MultiKeyOrderTests {
    typealias Execution = BatchExecution<Int>

    private func create(_ key: String) -> UpsertOperation {
        UpsertOperation(Upsert(persistenceID: pid(key), expectedRevision: 0, state: ByteBuffer()))
    }

    @Test func aMultiKeyOperationIsABarrierInTheLockOrder() {
        let operations: [any StoreOperation] = [create("c"), create("a"), BulkLoadOperation(ids: [pid("a"), pid("c")]),
                                                 create("b"), create("a")]
        let execution = Execution(operations.enumerated().map { Execution.Entry(item: $0.offset, operation: $0.element) })
        #expect(execution.pending.map(\.item) == [1, 0, 2, 4, 3], "sorted on each side, nothing crosses the load")
    }

    @Test func anEntryOverTwoHomesWaitsForOlderRequestsOfEitherAndHoldsYoungerOnes() {
        var router = makeRouter(poolSize: 2)
        router.accept("b-old", home: 1)
        _ = router.submit("tx", home: 0, otherHomes: [1], stateBytes: 0)
        router.accept("a-young", home: 0)
        router.accept("b-young", home: 1)
        #expect(router.take(0).isEmpty, "tx waits for b-old on worker 1; a-young waits behind tx")
        let first = router.take(1)
        #expect(first.map(\.item) == ["b-old"], "b-young waits for tx")
        _ = router.finished(first, on: 1)
        let second = router.take(0)
        #expect(second.map(\.item) == ["tx", "a-young"])
        #expect(router.take(1).isEmpty, "b-young still waits for tx")
        _ = router.finished(second, on: 0)
        #expect(router.take(1).map(\.item) == ["b-young"])
    }

    @Test func anAloneEntryRunsInABatchOfItsOwn() {
        var router = makeRouter(poolSize: 1)
        router.accept("x", home: 0)
        _ = router.submit("tx", home: 0, alone: true, stateBytes: 0)
        router.accept("y", home: 0)
        let first = router.take(0)
        #expect(first.map(\.item) == ["x"])
        _ = router.finished(first, on: 0)
        let second = router.take(0)
        #expect(second.map(\.item) == ["tx"])
        _ = router.finished(second, on: 0)
        #expect(router.take(0).map(\.item) == ["y"])
    }

    @Test func aMultiHomeEntryMovesWithItsPlacementWhenItsConnectionBreaks() {
        var router = makeRouter(poolSize: 2)
        _ = router.submit("tx", home: 0, otherHomes: [1], stateBytes: 0)
        router.accept("b", home: 1)
        let taken = router.take(0)
        #expect(taken.map(\.item) == ["tx"])
        _ = router.setUp(0, false)
        let moved = router.requeue(taken, from: 0)
        #expect(moved.unplaced.isEmpty)
        #expect(router.take(1).map(\.item) == ["tx", "b"], "on the fallback, tx keeps its place before b")
    }
}
