import PGStateProtocol

/// The life of one batch on one connection, without I/O: which requests run in the next pipeline, and what each
/// one is answered.
///
/// - The batch runs first as one implicit transaction (one commit for all: group commit), in persistence-id
///   order (one global lock order for every daemon; stable, so one id keeps its sequence). An operation over
///   several ids (``StoreOperation/batchKey`` nil) keeps its place: the single-key operations between two such
///   are sorted among themselves, so none moves across one that touches its id.
/// - If any statement failed, that transaction rolled back entirely, neighbours included: the batch runs again
///   with a Sync after each request, so each request is its own transaction (still one round trip).
/// - A request whose conditional write met a concurrent delete-and-recreate (``Verdict/retry``), or whose
///   statement failed transiently (deadlock, serialization), runs again, at most ``maxAttempts`` times.
/// - The connection broke: before the batch's Sync left, nothing can have committed and every request is placed
///   again; after it, loads are placed again and writes are answered `OUTCOME_UNKNOWN`.
public struct BatchExecution<Item> {
    public struct Entry {
        public var item: Item
        public var operation: any StoreOperation

        public init(item: Item, operation: any StoreOperation) {
            self.item = item
            self.operation = operation
        }
    }

    /// How often a request is run before it gets an error.
    public static var maxAttempts: Int { 5 }

    /// The requests of the next (or current) run, in pipeline order.
    public private(set) var pending: [Entry]
    public private(set) var individually = false
    private var attempts = 0

    public init(_ entries: [Entry]) {
        precondition(!entries.isEmpty, "a batch has at least one request")
        self.pending = Self.lockOrder(entries)
    }

    /// Rows are locked in key order, so two batches touching the same rows cannot deadlock; multi-key
    /// operations are barriers that nothing crosses.
    static func lockOrder(_ entries: [Entry]) -> [Entry] {
        // Each entry's key once (the operations are existentials): namespace and id, or nil for a barrier.
        let keys = entries.map { entry in entry.operation.batchKey.map { (entry.operation.namespace, $0) } }
        var order = Array(entries.indices)
        var start = 0
        while start < order.count {
            var end = start
            while end < order.count, keys[end] != nil { end += 1 }
            order[start..<end].sort { (keys[$0]!.0, keys[$0]!.1, $0) < (keys[$1]!.0, keys[$1]!.1, $1) }
            start = end + 1  // past the barrier, which keeps its place
        }
        return order.map { entries[$0] }
    }

    public var operations: [any StoreOperation] { pending.map(\.operation) }

    public struct Step {
        /// Requests answered by this run.
        public var answers: [(item: Item, response: Response)] = []
        /// Requests failed in the database (for the log), with the failure.
        public var failures: [StatementFailure] = []
        /// Whether another run follows (``pending`` holds its requests).
        public var runAgain: Bool = false
    }

    /// The run of ``pending`` ended with these outcomes (same order).
    public mutating func completed(_ outcomes: [OperationOutcome]) -> Step {
        precondition(outcomes.count == pending.count, "\(outcomes.count) outcomes for \(pending.count) requests")
        var step = Step()
        if !individually && outcomes.contains(where: { if case .verdict = $0 { return false }; return true }) {
            individually = true
            step.runAgain = true
            return step
        }
        attempts += 1
        var again: [Entry] = []
        for (entry, outcome) in zip(pending, outcomes) {
            switch outcome {
            case .verdict(.answer(let response)):
                step.answers.append((entry.item, response))
            case .verdict(.retry), .aborted:
                again.append(entry)
            case .failed(let failure) where entry.operation.isRetryable(failure):
                again.append(entry)
            case .failed(let failure):
                step.failures.append(failure)
                step.answers.append((entry.item, .error(ErrorResponse(
                    status: .internalError, message: "database error: \(failure)"))))
            }
        }
        if attempts >= Self.maxAttempts {
            for entry in again {
                step.answers.append((entry.item, .error(ErrorResponse(
                    status: .internalError,
                    message: "request did not settle after \(Self.maxAttempts) attempts (concurrent changes); not applied"))))
            }
            again = []
        }
        pending = again
        individually = true
        step.runAgain = !again.isEmpty
        return step
    }

    /// The connection broke during the run of ``pending``. `syncSent`: a Sync of this run may have reached the
    /// server. Returns the answers (writes that may have committed) and the requests to place again.
    public func broken(syncSent: Bool, reason: String) -> (answers: [(item: Item, response: Response)], unsent: [Item]) {
        var answers: [(item: Item, response: Response)] = []
        var unsent: [Item] = []
        for entry in pending {
            if syncSent && entry.operation.isWrite {
                answers.append((entry.item, .error(ErrorResponse(
                    status: .outcomeUnknown,
                    message: "the database connection broke after the request was sent; it may or may not have been applied: \(reason)"))))
            } else {
                unsent.append(entry.item)
            }
        }
        return (answers, unsent)
    }
}
