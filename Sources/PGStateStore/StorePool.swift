import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PGStateProtocol

/// The durable state store: a small pool of libpq connections, each driven by its own thread in pipeline mode.
///
/// Every request is routed by its persistence id to one connection (``PoolRouter``). A connection takes all it
/// has queued as one batch, sends it as one pipeline ending in one Sync, and answers each request only after that
/// batch has committed, so concurrent clients' writes share a commit. See `PoolWorker` for the failure rules.
///
/// Thread-safe: ``submit(_:completion:)`` may be called from any thread; completions run on a pool thread.
public final class StorePool: @unchecked Sendable {
    public typealias Completion = @Sendable (Response) -> Void

    struct Item {
        var operation: StoreOperation
        var completion: Completion
    }

    let configuration: StoreConfiguration
    let logger: Logger
    private let lock = NIOLock()
    private var router: PoolRouter<Item>
    private var workers: [PoolWorker] = []
    private var readyWaiters: [CheckedContinuation<Void, Never>] = []
    private var everReady = false
    private var isStopping = false
    private var finishedWorkers = 0
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    public init(configuration: StoreConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.router = PoolRouter(poolSize: configuration.poolSize, queueLimit: configuration.queueLimit)
    }

    /// Starts the connection threads; they connect (with backoff) in the background.
    public func start() {
        let workers = (0..<configuration.poolSize).map { PoolWorker(index: $0, pool: self) }
        lock.withLock { self.workers = workers }
        workers.forEach { $0.start() }
    }

    /// Returns once at least one connection is up with the schema ready, or once ``shutdown()`` has begun.
    public func waitUntilReady() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = lock.withLock {
                if everReady { return true }
                readyWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Live figures for status lines and metrics.
    public struct Statistics: Sendable {
        public var connectionsUp: Int
        public var poolSize: Int
        /// Requests accepted and not yet answered.
        public var outstanding: Int
    }

    public var statistics: Statistics {
        lock.withLock {
            Statistics(connectionsUp: router.connectionsUp, poolSize: configuration.poolSize,
                       outstanding: router.outstanding)
        }
    }

    /// Queues an operation. The completion is called exactly once, on a pool thread (or on the caller's thread
    /// when the request is refused at once: `UNAVAILABLE`, `OVERLOADED`, `SHUTTING_DOWN`).
    public func submit(_ operation: StoreOperation, completion: @escaping Completion) {
        let home = PoolRouter<Item>.home(ofKey: operation.persistenceID.value.utf8, poolSize: configuration.poolSize)
        let result = lock.withLock {
            router.submit(Item(operation: operation, completion: completion), home: home,
                          stateBytes: operation.stateBytes)
        }
        switch result {
        case .success(let wake):
            if let wake { workers[wake].wake() }
        case .failure(let refusal):
            completion(.error(Self.refusalResponse(refusal.refusal)))
        }
    }

    static func refusalResponse(_ refusal: PoolRouter<Item>.Refusal) -> ErrorResponse {
        switch refusal {
        case .unavailable:
            return ErrorResponse(status: .unavailable, message: "no database connection is up; the request was not executed")
        case .overloaded:
            return ErrorResponse(status: .overloaded, message: "the request queue is full; the request was not executed")
        case .shuttingDown:
            return ErrorResponse(status: .shuttingDown, message: "pgstated is shutting down; the request was not executed")
        }
    }

    /// Refuses new requests, lets every queued one finish, then closes the connections.
    public func shutdown() async {
        let (workers, readyWaiters): ([PoolWorker], [CheckedContinuation<Void, Never>]) = lock.withLock {
            router.stopAccepting()
            isStopping = true
            defer { self.readyWaiters = [] }
            return (self.workers, self.readyWaiters)
        }
        readyWaiters.forEach { $0.resume() }
        workers.forEach { $0.wake() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = lock.withLock {
                if finishedWorkers == workers.count { return true }
                stopWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
        // Requests that found no connection while stopping were answered by the workers' exits.
    }

    // MARK: Called by workers

    typealias Entry = PoolRouter<Item>.Entry

    var stopping: Bool { lock.withLock { isStopping } }

    func workerUp(_ index: Int) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            _ = router.setUp(index, true)
            everReady = true
            defer { readyWaiters = [] }
            return readyWaiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Marks a worker down and places what was queued on it elsewhere, together with `unsent` (requests it had
    /// taken but that cannot have taken effect), in arrival order. Requests that find no connection are answered
    /// `UNAVAILABLE`.
    func workerDown(_ index: Int, unsent: [Entry]) {
        let (wake, unplaced) = lock.withLock { () -> ([Int], [Entry]) in
            let down = router.setUp(index, false)
            let again = router.requeue(unsent, from: index)
            return (down.wake + again.wake, down.unplaced + again.unplaced)
        }
        for worker in Set(wake) { workers[worker].wake() }
        for entry in unplaced { entry.item.completion(.error(Self.refusalResponse(.unavailable))) }
    }

    func takeBatch(_ index: Int) -> [Entry] {
        lock.withLock {
            router.takeBatch(worker: index, maxRequests: configuration.maxBatchRequests,
                             maxBytes: configuration.maxBatchBytes, markIdle: true)
        }
    }

    func isDrained(_ index: Int) -> Bool {
        lock.withLock { router.isDrained(index) }
    }

    /// Records entries as answered (their completions have run) and wakes workers whose requests waited on them.
    func finished(_ entries: [Entry], on index: Int) {
        let wake = lock.withLock { router.finished(entries, on: index) }
        for worker in wake { workers[worker].wake() }
    }

    func workerExited(_ index: Int) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            finishedWorkers += 1
            guard finishedWorkers == workers.count else { return [] }
            defer { stopWaiters = [] }
            return stopWaiters
        }
        waiters.forEach { $0.resume() }
    }
}
