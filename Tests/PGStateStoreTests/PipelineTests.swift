import NIOCore
import PGStateProtocol
import Testing

@testable import PGStateStore

private func id(_ text: String) -> PersistenceID { try! PersistenceID(text) }
private let load = LoadOperation(persistenceID: id("a"))
private func create(_ key: String) -> UpsertOperation {
    UpsertOperation(Upsert(persistenceID: id(key), expectedRevision: 0, state: ByteBuffer(bytes: [7])))
}
private let failure = StatementFailure(sqlState: "23514", message: "check constraint")
private let deadlock = StatementFailure(sqlState: "40P01", message: "deadlock detected")

/// Feeds events and returns the progress after each.
private func feed(_ reader: inout PipelineReader<FakeRows>, _ events: [PipelineEvent<FakeRows>])
    -> [PipelineReader<FakeRows>.Progress]
{
    events.map { reader.receive($0) }
}

@Suite("PipelineReader: results in pipeline order")
struct PipelineReaderTests {
    @Test func oneBatchWithOneSync() {
        var reader = PipelineReader<FakeRows>(operations: [load, create("b")], individually: false)
        let progress = feed(&reader, [
            .rows(.none), .end,                          // load: not found
            .rows(.written(1)), .end, .rows(.current(1)), .end,  // create, then the fresh read
            .sync,
        ])
        #expect(progress.dropLast().allSatisfy { $0 == .needMore })
        #expect(progress.last == .complete)
        #expect(reader.outcomes.count == 2)
        #expect(reader.outcomes[0] == .verdict(.answer(.notFound)))
        guard case .verdict(.answer(.record(let record))) = reader.outcomes[1] else {
            Issue.record("\(reader.outcomes[1])")
            return
        }
        #expect(record.revision == 1)
    }

    @Test func aSyncAfterEachOperationIndividually() {
        var reader = PipelineReader<FakeRows>(operations: [load, load], individually: true)
        #expect(feed(&reader, [.rows(.none), .end, .sync, .rows(.none), .end]) == Array(repeating: .needMore, count: 5))
        #expect(reader.receive(.sync) == .complete)
        #expect(reader.outcomes == [.verdict(.answer(.notFound)), .verdict(.answer(.notFound))])
    }

    @Test func aFailureAbortsTheRestOfTheTransaction() {
        var reader = PipelineReader<FakeRows>(operations: [create("a"), load, create("c")], individually: false)
        _ = feed(&reader, [
            .failed(failure), .end, .aborted, .end,   // the create fails; its fresh read is aborted
            .aborted, .end,                            // the load
            .aborted, .end, .aborted, .end,            // the last create and its read
        ])
        #expect(reader.receive(.sync) == .complete)
        #expect(reader.outcomes == [.failed(failure), .aborted, .aborted])
    }

    @Test func extraResultsOfAStatementAreIgnored() {
        var reader = PipelineReader<FakeRows>(operations: [load], individually: false)
        _ = feed(&reader, [.rows(.none), .rows(.current(3)), .end])
        #expect(reader.receive(.sync) == .complete)
        #expect(reader.outcomes == [.verdict(.answer(.notFound))])
    }

    @Test func eventsOutOfStepAreReported() {
        var missing = PipelineReader<FakeRows>(operations: [load], individually: false)
        if case .outOfStep = missing.receive(.end) {} else { Issue.record("an end before any result") }
        var early = PipelineReader<FakeRows>(operations: [load], individually: false)
        _ = early.receive(.rows(.none))
        if case .outOfStep = early.receive(.sync) {} else { Issue.record("a Sync before the statement's end") }
        var late = PipelineReader<FakeRows>(operations: [load], individually: false)
        _ = feed(&late, [.rows(.none), .end, .sync])
        if case .outOfStep = late.receive(.rows(.none)) {} else { Issue.record("a result after completion") }
    }
}

@Suite("BatchExecution: group commit, individual runs, retries, broken connections")
struct BatchExecutionTests {
    typealias Execution = BatchExecution<Int>

    private func entries(_ operations: [any StoreOperation]) -> [Execution.Entry] {
        operations.enumerated().map { Execution.Entry(item: $0.offset, operation: $0.element) }
    }

    @Test func runsInPersistenceIDOrderKeepingEachIDsSequence() {
        let execution = Execution(entries([create("b"), create("a"), LoadOperation(persistenceID: id("b")), create("a")]))
        #expect(execution.pending.map(\.item) == [1, 3, 0, 2])
        #expect(!execution.individually)
    }

    @Test func allAnsweredInOneRun() {
        var execution = Execution(entries([load, load]))
        let step = execution.completed([.verdict(.answer(.notFound)), .verdict(.answer(.ok))])
        #expect(!step.runAgain)
        #expect(step.answers.map(\.item) == [0, 1])
        #expect(step.answers.map(\.response) == [.notFound, .ok])
    }

    @Test func aFailureInTheBatchRunsEveryRequestAgainIndividually() {
        var execution = Execution(entries([create("a"), create("b")]))
        let first = execution.completed([.failed(failure), .aborted])
        #expect(first.runAgain && first.answers.isEmpty, "the rollback took the neighbour too: nothing answered")
        #expect(execution.individually)
        #expect(execution.pending.count == 2)
        let second = execution.completed([.failed(failure), .verdict(.answer(.ok))])
        #expect(!second.runAgain)
        #expect(second.failures == [failure])
        #expect(second.answers.map(\.item) == [0, 1])
        #expect(second.answers[0].response.isInternalError)
        #expect(second.answers[1].response == .ok)
    }

    @Test func retriesAndTransientFailuresRunAgainUpToTheLimit() {
        var execution = Execution(entries([create("a"), create("b")]))
        var step = execution.completed([.verdict(.retry), .verdict(.answer(.ok))])
        #expect(step.runAgain && step.answers.map(\.item) == [1])
        #expect(execution.pending.map(\.item) == [0])
        for _ in 2..<Execution.maxAttempts {
            step = execution.completed([.failed(deadlock)])
            #expect(step.runAgain && step.answers.isEmpty)
        }
        step = execution.completed([.verdict(.retry)])
        #expect(!step.runAgain)
        #expect(step.answers.count == 1 && step.answers[0].response.isInternalError, "gives up after the limit")
    }

    @Test func aBreakBeforeTheSyncPlacesEverythingAgain() {
        let execution = Execution(entries([create("a"), load]))
        let outcome = execution.broken(syncSent: false, reason: "gone")
        #expect(outcome.answers.isEmpty)
        #expect(Set(outcome.unsent) == [0, 1])
    }

    @Test func aBreakAfterTheSyncMakesWritesUnknownAndPlacesLoadsAgain() {
        let execution = Execution(entries([create("a"), load, DeleteOperation(Delete(persistenceID: id("c")))]))
        let outcome = execution.broken(syncSent: true, reason: "gone")
        #expect(outcome.unsent == [1])
        #expect(Set(outcome.answers.map(\.item)) == [0, 2])
        #expect(outcome.answers.allSatisfy { $0.response.errorStatus == .outcomeUnknown })
    }
}

extension Response {
    var errorStatus: Status? {
        if case .error(let error) = self { return error.status }
        return nil
    }

    var isInternalError: Bool { errorStatus == .internalError }
}
