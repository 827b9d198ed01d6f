/// One thing libpq hands over while a pipeline's results come in, classified.
public enum PipelineEvent<Rows: StatementRows> {
    /// A statement's rows (`PGRES_TUPLES_OK` / `PGRES_COMMAND_OK`).
    case rows(Rows)
    /// The statement did not run: an earlier one of the same implicit transaction failed.
    case aborted
    /// The statement failed in PostgreSQL.
    case failed(StatementFailure)
    /// The end of one statement's results (libpq's NULL from `PQgetResult`).
    case end
    /// A Sync's result (`PGRES_PIPELINE_SYNC`; no NULL follows it).
    case sync
}

/// How one operation of a pipeline ended.
public enum OperationOutcome: Sendable, Hashable {
    case verdict(Verdict)
    /// One of its statements failed in PostgreSQL.
    case failed(StatementFailure)
    /// An earlier statement of the same implicit transaction failed, so this one did not run.
    case aborted
}

/// Follows the results of one pipeline as they arrive, without I/O: for every operation, each of its calls gives
/// one result and then an end; a Sync after each operation (`individually`) or one at the end of the batch.
/// When an operation's last call has answered, its outcome is decided (``StoreOperation/verdict(_:)``).
///
/// Pure: fed events one by one, tested without libpq.
public struct PipelineReader<Rows: StatementRows> {
    public enum Progress: Equatable {
        case needMore
        case complete
        /// The event cannot come now: the connection is out of step and must be dropped.
        case outOfStep(String)
    }

    private enum Expect {
        case result
        case end
        case sync
        case done
    }

    private let operations: [any StoreOperation]
    private let callCounts: [Int]
    private let individually: Bool
    private var operationIndex = 0
    private var callIndex = 0
    private var expect: Expect = .result
    private var results: [Rows] = []
    private var failure: OperationOutcome?
    public private(set) var outcomes: [OperationOutcome] = []

    /// - Parameter callCounts: how many statements each operation sent (its `calls.count`), given by the sender
    ///   that has built the calls anyway, so they are not built twice per request.
    public init(operations: [any StoreOperation], callCounts: [Int], individually: Bool) {
        precondition(!operations.isEmpty, "a pipeline runs at least one operation")
        precondition(callCounts.count == operations.count, "one call count per operation")
        self.operations = operations
        self.callCounts = callCounts
        precondition(!callCounts.contains(0), "every operation runs at least one statement")
        self.individually = individually
        outcomes.reserveCapacity(operations.count)
    }

    public init(operations: [any StoreOperation], individually: Bool) {
        self.init(operations: operations, callCounts: operations.map { $0.calls.count }, individually: individually)
    }

    public mutating func receive(_ event: PipelineEvent<Rows>) -> Progress {
        switch (expect, event) {
        case (.result, .rows(let rows)):
            results.append(rows)
            expect = .end
        case (.result, .aborted):
            failure = failure ?? .aborted
            expect = .end
        case (.result, .failed(let statementFailure)):
            failure = .failed(statementFailure)
            expect = .end
        case (.result, .end), (.result, .sync):
            return .outOfStep("a statement's result is missing")
        case (.end, .end):
            callIndex += 1
            if callIndex == callCounts[operationIndex] { finishOperation() } else { expect = .result }
        case (.end, .rows), (.end, .aborted), (.end, .failed):
            break  // a statement returned more than one result: the first one counts
        case (.end, .sync):
            return .outOfStep("a Sync arrived before a statement's end")
        case (.sync, .sync):
            expect = operationIndex == operations.count ? .done : .result
        case (.sync, _):
            break  // nothing else is expected before a Sync; tolerate it
        case (.done, _):
            return .outOfStep("a result arrived after the pipeline completed")
        }
        return expect == .done ? .complete : .needMore
    }

    private mutating func finishOperation() {
        outcomes.append(failure ?? .verdict(operations[operationIndex].verdict(results)))
        results.removeAll(keepingCapacity: true)
        failure = nil
        callIndex = 0
        operationIndex += 1
        expect = individually || operationIndex == operations.count ? .sync : .result
    }
}
