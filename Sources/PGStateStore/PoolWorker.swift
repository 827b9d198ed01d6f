import Foundation
import Glibc
import Logging
import PGStateProtocol

/// One pool connection and the thread that drives it. libpq is only ever called from this thread.
///
/// Loop: connect (with capped exponential backoff, logging why) → prepare → serve batches until the connection
/// breaks → reconnect. Failure rules for a batch in progress when the connection breaks:
/// - nothing can have committed (its Sync never left): every request is placed again, on another connection if
///   one is up, else answered `UNAVAILABLE` (not executed);
/// - a Sync was sent: loads are placed again (running them twice is harmless); writes are answered
///   `OUTCOME_UNKNOWN`, since they may or may not have committed.
final class PoolWorker: @unchecked Sendable {
    let index: Int
    private unowned let pool: StorePool
    /// A non-blocking pipe: writing a byte wakes the thread from `poll()`; the thread drains it.
    private let wakeDescriptor: Int32
    private let wakeWriteDescriptor: Int32
    private var logger: Logger

    /// How often a statement failing with a deadlock / serialization failure, or a conditional write that met a
    /// concurrent delete-and-recreate, is run again before the request gets an error.
    static let maxAttempts = 5

    init(index: Int, pool: StorePool) {
        self.index = index
        self.pool = pool
        var descriptors: [Int32] = [-1, -1]
        let created = pipe(&descriptors)
        precondition(created == 0, "pipe failed: errno \(errno)")
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        self.wakeDescriptor = descriptors[0]
        self.wakeWriteDescriptor = descriptors[1]
        var logger = pool.logger
        logger[metadataKey: "pool.connection"] = "\(index)"
        self.logger = logger
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriteDescriptor)
    }

    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "pgstate-pool-\(index)"
        thread.start()
    }

    /// Wakes the thread if it sleeps (idle or in backoff).
    func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriteDescriptor, &one, 1)  // a full pipe already means "wake up"
    }

    private func run() {
        let configuration = pool.configuration
        var delay = configuration.reconnectInitialDelayMilliseconds
        var failures = 0
        while !pool.stopping {
            do {
                let connection = try connect()
                if failures > 0 {
                    logger.info("database connection re-established", metadata: ["target": "\(connection.target)"])
                }
                failures = 0
                delay = configuration.reconnectInitialDelayMilliseconds
                pool.workerUp(index)
                serve(connection)
            } catch {
                failures += 1
                // The first failure and then every tenth are logged at warning level; the rest at debug.
                let level: Logger.Level = failures == 1 || failures % 10 == 0 ? .warning : .debug
                logger.log(level: level, "cannot connect to the database, retrying in \(delay) ms: \(error)")
                sleepInterruptibly(milliseconds: delay)
                delay = min(delay * 2, configuration.reconnectMaxDelayMilliseconds)
            }
        }
        pool.workerDown(index, unsent: [])
        pool.workerExited(index)
    }

    private func connect() throws -> PGConnection {
        let configuration = pool.configuration
        let connection = try PGConnection.connect(configuration, applicationName: "pgstated")
        if configuration.createSchema {
            // Several daemons may start at once: serialize the DDL with an advisory lock.
            try connection.execute("""
                BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgstate schema')); \
                \(Schema.createTable(configuration.table)); COMMIT
                """)
        }
        try connection.prepareAndEnterPipelineMode(table: configuration.table)
        return connection
    }

    private func sleepInterruptibly(milliseconds: Int) {
        var descriptor = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, Int32(milliseconds)) > 0 { drainWakeups(wakeDescriptor) }
    }

    /// Serves batches until the connection breaks or the pool stops and this worker has nothing left.
    private func serve(_ connection: PGConnection) {
        while true {
            let batch = pool.takeBatch(index)
            if batch.isEmpty {
                if pool.stopping && pool.isDrained(index) { return }
                if !connection.idleWait(wakeDescriptor: wakeDescriptor, timeoutMilliseconds: 1000) {
                    logger.warning("database connection lost while idle: \(connection.errorMessage)")
                    pool.workerDown(index, unsent: [])
                    return
                }
                continue
            }
            if !execute(batch, on: connection) { return }
        }
    }

    /// Runs one batch to the end. Returns false when the connection broke (the worker is then marked down).
    private func execute(_ batch: [StorePool.Entry], on connection: PGConnection) -> Bool {
        // One global lock order for every daemon: by persistence id, stable so one id keeps its sequence.
        var pending = batch.enumerated().sorted {
            ($0.element.item.operation.persistenceID, $0.offset) < ($1.element.item.operation.persistenceID, $1.offset)
        }.map(\.element)
        var answered: [StorePool.Entry] = []
        var attempt = 0
        var individually = false
        defer { pool.finished(answered, on: index) }

        while !pending.isEmpty {
            let outcomes: [OperationOutcome]
            do {
                outcomes = try connection.run(pending.map(\.item.operation), individually: individually)
            } catch {
                handleBreak(error, pending: pending, answered: &answered, connection: connection)
                return false
            }
            if !individually && outcomes.contains(where: { if case .verdict = $0 { return false }; return true }) {
                // One failure rolled back the whole implicit transaction, neighbours included: run each alone.
                logger.debug("batch of \(pending.count) failed; running its requests individually")
                individually = true
                continue
            }
            attempt += 1
            var again: [StorePool.Entry] = []
            for (entry, outcome) in zip(pending, outcomes) {
                switch outcome {
                case .verdict(.answer(let response)):
                    entry.item.completion(response)
                    answered.append(entry)
                case .verdict(.retry), .aborted:
                    again.append(entry)
                case .failed(let failure) where failure.isTransient:
                    again.append(entry)
                case .failed(let failure):
                    logger.error("request failed in the database: \(failure)")
                    entry.item.completion(.error(ErrorResponse(
                        status: .internalError, message: "database error: \(failure)")))
                    answered.append(entry)
                }
            }
            if attempt >= Self.maxAttempts {
                for entry in again {
                    entry.item.completion(.error(ErrorResponse(
                        status: .internalError,
                        message: "request did not settle after \(Self.maxAttempts) attempts (concurrent changes); not applied")))
                    answered.append(entry)
                }
                again = []
            }
            pending = again
            individually = true
        }
        return true
    }

    private func handleBreak(
        _ error: PipelineBroken, pending: [StorePool.Entry], answered: inout [StorePool.Entry],
        connection: PGConnection
    ) {
        logger.warning("database connection lost during a batch: \(error.reason)")
        var unsent: [StorePool.Entry] = []
        for entry in pending {
            if error.mayHaveCommitted && entry.item.operation.isWrite {
                entry.item.completion(.error(ErrorResponse(
                    status: .outcomeUnknown,
                    message: "the database connection broke after the request was sent; it may or may not have been applied: \(error.reason)")))
                answered.append(entry)
            } else {
                unsent.append(entry)
            }
        }
        // `answered` is reported finished by the caller's defer; `unsent` is placed again (or refused).
        pool.workerDown(index, unsent: unsent)
    }
}
