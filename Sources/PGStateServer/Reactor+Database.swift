import Glibc
import Logging
import PGStateProtocol
import PGStateStore

/// The database side of a reactor: connecting, sending each connection's batch as one pipeline, reading its
/// results and answering, and the failure rules when a connection breaks (see ``BatchExecution``).
extension Reactor {
    // MARK: Connecting, on the reactor (PQconnectStart / PQconnectPoll, then the set-up pipeline)

    /// Begins a non-blocking connect.
    func startConnecting(_ database: DatabaseConnection) {
        let connection: PGConnection
        do {
            connection = try PGConnection.start(store, applicationName: "pgstated")
        } catch {
            connectFailed(database, "\(error)")
            return
        }
        let deadline = monotonicMilliseconds() + Int64(store.connectTimeoutSeconds) * 1000
        database.state = .connecting(connection, deadline: deadline)
        // libpq: before the first PQconnectPoll, wait until the socket is writable.
        watch(database, connection.socket, [.output])
    }

    /// (Re-)registers the connection's socket. While connecting libpq may close one socket and open the next
    /// (often with the same number), so the registration is always replaced, never modified.
    private func watch(_ database: DatabaseConnection, _ socket: Int32, _ events: Epoll.Events) {
        if let registered = database.registeredSocket { epoll.remove(registered) }
        database.registeredSocket = nil
        database.generation &+= 1
        database.writeArmed = events.contains(.output)
        guard socket >= 0 else { return }
        do {
            try epoll.add(socket, events, token(database))
            database.registeredSocket = socket
        } catch {
            logger.error("cannot watch a database socket: \(error)")
        }
    }

    private func unwatch(_ database: DatabaseConnection) {
        if let registered = database.registeredSocket { epoll.remove(registered) }
        database.registeredSocket = nil
        database.generation &+= 1
        database.writeArmed = false
    }

    private func advanceConnect(_ database: DatabaseConnection, _ connection: PGConnection, deadline: Int64) {
        switch connection.pollConnect() {
        case .waitForInput:
            watch(database, connection.socket, [.input])
        case .waitForOutput:
            watch(database, connection.socket, [.output])
        case .failed:
            attemptFailed(database, connection.errorMessage)
        case .connected:
            guard let statements = connection.beginSetup(store) else {
                attemptFailed(database, "cannot enter pipeline mode: \(connection.errorMessage)")
                return
            }
            database.state = .settingUp(connection, deadline: deadline,
                                        setup: DatabaseConnection.SetupProgress(remaining: statements))
            watch(database, connection.socket, [.input])
            _ = flush(database, connection)
        }
    }

    /// Reads the set-up's results; once its Sync is in, the connection serves.
    private func advanceSetup(_ database: DatabaseConnection, _ connection: PGConnection,
                              _ progress: DatabaseConnection.SetupProgress, deadline: Int64) {
        var progress = progress
        defer {
            if case .settingUp = database.state {
                database.state = .settingUp(connection, deadline: deadline, setup: progress)
            }
        }
        while true {
            switch connection.next() {
            case .notReady:
                return
            case .end:
                guard progress.awaitingEnd else {
                    attemptFailed(database, "set-up results out of step")
                    return
                }
                progress.awaitingEnd = false
                progress.remaining -= 1
            case .result(let pointer):
                let result = PGResult(pointer)
                switch result.event {
                case .sync where progress.remaining == 0 && !progress.awaitingEnd:
                    if let failure = progress.failure {
                        attemptFailed(database, failure)
                    } else {
                        connected(database, connection)
                    }
                    return
                case .rows:
                    progress.awaitingEnd = true
                case .failed(let failure):
                    progress.failure = progress.failure ?? Self.setupFailure(failure, store)
                    progress.awaitingEnd = true
                case .aborted:
                    progress.awaitingEnd = true
                case .sync, .end:
                    attemptFailed(database, "set-up results out of step")
                    return
                }
            }
        }
    }

    /// A set-up statement's failure, with the fix when it is a known one.
    static func setupFailure(_ failure: StatementFailure, _ store: StoreConfiguration) -> String {
        if failure.sqlState == "42703" && failure.message.contains("\"namespace\"") && !store.createSchema {
            return "\(failure) — the table \(store.table) has the first schema, without the namespace column; start pgstated once without --no-create-schema to migrate it in place, or run the migration in the README (\"The table\")"
        }
        if failure.sqlState == "42703" && failure.message.contains("\"expires_at\"") && !store.createSchema {
            return "\(failure) — the table \(store.table) predates TTL, without the expires_at column; start pgstated once without --no-create-schema to migrate it in place, or run the migration in the README (\"The table\")"
        }
        return "\(failure)"
    }

    private func connected(_ database: DatabaseConnection, _ connection: PGConnection) {
        if database.failures > 0 {
            logger.info("database connection re-established", metadata: [
                "pool.connection": "\(database.poolIndex)", "target": "\(connection.target)",
            ])
        }
        if database.hasBeenUp { metrics.reconnects &+= 1 }
        database.hasBeenUp = true
        database.failures = 0
        database.delay = store.reconnectInitialDelayMilliseconds
        database.state = .up(connection)
        if database.writeArmed {
            database.writeArmed = false
            epoll.modify(connection.socket, .input, token(database))
        }
        handle.connectionsUp.add(1, ordering: .relaxed)
        _ = router.setUp(database.slot, true)
        shared.ready.report()
    }

    /// An attempt failed: release it, then wait and retry.
    private func attemptFailed(_ database: DatabaseConnection, _ error: String) {
        unwatch(database)
        database.state = .closed  // releases the PGConnection (PQfinish)
        connectFailed(database, error)
    }

    func connectFailed(_ database: DatabaseConnection, _ error: String) {
        guard !isStopping else {
            database.state = .closed
            return
        }
        database.failures += 1
        // The first failure and then every tenth are logged at warning level; the rest at debug.
        let level: Logger.Level = database.failures == 1 || database.failures % 10 == 0 ? .warning : .debug
        logger.log(level: level, "cannot connect to the database, retrying in \(database.delay) ms: \(error)",
                   metadata: ["pool.connection": "\(database.poolIndex)"])
        database.state = .waiting(until: monotonicMilliseconds() + Int64(database.delay))
        database.delay = min(database.delay * 2, store.reconnectMaxDelayMilliseconds)
    }

    /// A timer of this connection fired: retry after backoff, or give up an attempt that took too long.
    func deadlinePassed(_ database: DatabaseConnection) {
        switch database.state {
        case .waiting:
            startConnecting(database)
        case .connecting, .settingUp:
            attemptFailed(database, "timeout expired after \(store.connectTimeoutSeconds) s")
        case .up, .closed:
            break
        }
    }

    private func token(_ database: DatabaseConnection) -> Epoll.Token {
        Epoll.Token(.database, slot: database.slot, generation: database.generation)
    }

    func databaseEvent(slot: Int, generation: UInt32, _ events: Epoll.Events) {
        let database = databases[slot]
        guard database.generation == generation else { return }
        switch database.state {
        case .connecting(let connection, let deadline):
            advanceConnect(database, connection, deadline: deadline)
        case .settingUp(let connection, let deadline, let progress):
            guard exchange(database, connection, events) else { return }
            advanceSetup(database, connection, progress, deadline: deadline)
        case .up(let connection):
            guard exchange(database, connection, events) else { return }
            readResults(database, connection)
        case .waiting, .closed:
            break
        }
    }

    /// Reads what the server sent and sends what libpq still holds (libpq: consume input first, then flush).
    /// False when the connection failed (it has then been handled: set-up attempt failed, or broken).
    private func exchange(_ database: DatabaseConnection, _ connection: PGConnection, _ events: Epoll.Events) -> Bool {
        guard connection.consumeInput() else {
            failed(database, connection.errorMessage)
            return false
        }
        if database.writeArmed || events.contains(.output) { return flush(database, connection) }
        return true
    }

    /// A connection failed: while setting up, the attempt failed; once up, it broke.
    private func failed(_ database: DatabaseConnection, _ reason: String) {
        if case .up = database.state {
            broken(database, reason: reason)
        } else {
            attemptFailed(database, reason)
        }
    }

    /// Sends libpq's buffered output; arms or disarms `EPOLLOUT`. False when the connection broke.
    private func flush(_ database: DatabaseConnection, _ connection: PGConnection) -> Bool {
        switch connection.flush() {
        case .done:
            database.run?.flushed = true
            if database.writeArmed {
                database.writeArmed = false
                epoll.modify(connection.socket, .input, token(database))
            }
            return true
        case .pending:
            if !database.writeArmed {
                database.writeArmed = true
                epoll.modify(connection.socket, [.input, .output], token(database))
            }
            return true
        case .failed:
            failed(database, connection.errorMessage)
            return false
        }
    }

    private func readResults(_ database: DatabaseConnection, _ connection: PGConnection) {
        while true {
            guard database.run != nil else {
                // Idle: drop whatever the server volunteered (notices come through the notice processor).
                while case .result(let stray) = connection.next() { _ = PGResult(stray) }
                return
            }
            let event: PipelineEvent<PGResult>
            switch connection.next() {
            case .notReady: return
            case .end: event = .end
            case .result(let result): event = PGResult(result).event
            }
            switch database.run!.reader.receive(event) {
            case .needMore:
                continue
            case .complete:
                guard completeRun(database, connection) else { return }
            case .outOfStep(let why):
                broken(database, reason: "results out of step with the pipeline: \(why)")
                return
            }
        }
    }

    /// The pipeline's results are all in: answer, and run again what must run again. False if the connection
    /// broke meanwhile.
    private func completeRun(_ database: DatabaseConnection, _ connection: PGConnection) -> Bool {
        var run = database.run!
        database.run = nil
        let outcomes = run.reader.outcomes
        // Committed transactions: the whole batch (one Sync), or each request that ran alone with its own Sync.
        var verdicts = 0
        for outcome in outcomes {
            switch outcome {
            case .verdict: verdicts += 1
            case .failed(let failure): metrics.databaseError(sqlState: failure.sqlState)
            case .aborted: break
            }
        }
        if run.execution.individually {
            metrics.commits &+= UInt64(verdicts)
        } else if verdicts == outcomes.count {
            metrics.commits &+= 1
        }
        let step = run.execution.completed(outcomes)
        for failure in step.failures { logger.error("request failed in the database: \(failure)") }
        answer(step.answers, on: database, sentAt: run.sentAt, batchSize: run.reader.outcomes.count)
        guard step.runAgain else { return true }
        if !run.execution.individually {
            logger.debug("batch of \(run.execution.pending.count) failed; running its requests individually")
        }
        return send(run.execution, on: database, connection, sentAt: run.sentAt)
    }

    private func answer(_ answers: [(item: RouterEntry, response: Response)], on database: DatabaseConnection,
                        sentAt: Int64, batchSize: Int) {
        guard !answers.isEmpty else { return }
        for (entry, response) in answers { deliver(entry.item, response, sentAt: sentAt, batchSize: batchSize) }
        _ = router.finished(answers.map(\.item), on: database.slot)
    }

    /// At the end of a pass: every idle connection that is up sends what is queued on it as one pipeline.
    func startBatches() {
        guard pause == nil else { return }  // PAUSE: what is queued waits (see Reactor+Operator.swift)
        for database in databases where database.run == nil {
            guard let connection = database.connection else { continue }
            let batch = router.takeBatch(worker: database.slot, maxRequests: store.maxBatchRequests,
                                         maxBytes: store.maxBatchBytes, markIdle: false)
            guard !batch.isEmpty else { continue }
            let now = monotonicMicroseconds()
            metrics.recordBatch(requests: batch.count)
            for entry in batch { metrics.recordQueueWait(microseconds: now - entry.item.received) }
            let execution = BatchExecution(batch.map { BatchExecution.Entry(item: $0, operation: $0.item.operation) })
            _ = send(execution, on: database, connection, sentAt: now)
        }
    }

    /// Queues the batch's statements and Syncs in libpq and flushes. False if the connection broke.
    private func send(_ execution: BatchExecution<RouterEntry>, on database: DatabaseConnection,
                      _ connection: PGConnection, sentAt: Int64) -> Bool {
        let operations = execution.operations
        let calls = operations.map(\.calls)
        database.run = Run(execution: execution,
                           reader: PipelineReader(operations: operations, callCounts: calls.map(\.count),
                                                  individually: execution.individually),
                           flushed: false,
                           sentAt: sentAt)
        var queued = true
        for operationCalls in calls where queued {
            queued = operationCalls.allSatisfy(connection.send) && (!execution.individually || connection.sync())
        }
        guard queued && (execution.individually || connection.sync()) else {
            broken(database, reason: connection.errorMessage)
            return false
        }
        return flush(database, connection)
    }

    private typealias Run = DatabaseConnection.Run

    /// The connection broke: answer or place again what it carried, and reconnect.
    func broken(_ database: DatabaseConnection, reason: String) {
        guard database.connection != nil else { return }
        var unsent: [RouterEntry] = []
        if let run = database.run {
            logger.warning("database connection lost during a batch: \(reason)",
                           metadata: ["pool.connection": "\(database.poolIndex)"])
            // Individually, earlier Syncs may have left while later statements were still being queued.
            let outcome = run.execution.broken(syncSent: run.flushed || run.execution.individually, reason: reason)
            for (entry, response) in outcome.answers { deliver(entry.item, response) }
            _ = router.finished(outcome.answers.map(\.item), on: database.slot)
            unsent = outcome.unsent
        } else {
            logger.warning("database connection lost while idle: \(reason)",
                           metadata: ["pool.connection": "\(database.poolIndex)"])
        }
        database.run = nil
        unwatch(database)
        database.state = .closed  // releases the PGConnection (PQfinish)
        handle.connectionsUp.subtract(1, ordering: .relaxed)
        let down = router.setUp(database.slot, false)
        let again = router.requeue(unsent, from: database.slot)
        for entry in down.unplaced + again.unplaced {
            deliver(entry.item, .error(Self.refusal(.unavailable)))
        }
        if isStopping {
            return
        }
        startConnecting(database)
    }

    /// Closes a connection at the end (nothing is in flight then).
    func disconnect(_ database: DatabaseConnection) {
        if database.connection != nil { handle.connectionsUp.subtract(1, ordering: .relaxed) }
        unwatch(database)
        database.state = .closed
    }
}
