import CPGStateSys
import Glibc
import Logging
import NIOCore
import PGStateProtocol
import PGStateStore

/// One thread with its own epoll set, owning a share of the clients and a share of the pool's libpq
/// connections. A request is read, routed, sent to PostgreSQL, decoded and answered on this one thread.
///
/// One pass of the loop: wait for events; read every readable client and queue the requests it may take on its
/// home connection (key affinity within the reactor, ``PoolRouter``); consume database results and queue the
/// answers; then, at the end of the pass, send each idle connection's queue as one pipeline with one Sync (group
/// commit), and write each client's output once.
///
/// Not thread-safe, by design: created on its thread and never leaves it. Other threads reach it only through
/// its ``ReactorHandle``.
final class Reactor {
    /// A request on its way to the database, with the client it answers.
    struct PendingRequest {
        var client: Int
        var generation: UInt32
        var requestID: UInt32
        var operation: any StoreOperation
        /// The identity budget the request counts against while it executes (nil: its rule sets no limit).
        var budget: IdentityBudget?
        /// When it was routed (monotonic µs), for the statistics and the slow-request log.
        var received: Int64
        /// What the metrics count it as: its operation and the slot of the namespace it addressed.
        var kind: ReactorMetrics.Operation
        var namespaceSlot: Int
        /// A part of a multi-key request: the slot of its gather in ``Reactor/gathers`` and its index there; -1
        /// for a request answered directly.
        var gather: Int = -1
        var part: Int = 0
        /// Its place among the connection's store requests and the homes it touches, which decide whether its
        /// answer must wait for an earlier multi-key one (``AnswerOrder``); `closesGather`: it is such a one.
        var order: UInt64 = 0
        var homes = Homes(first: 0)
        var closesGather = false
    }

    /// An answer held back by ``AnswerOrder`` until an earlier multi-key request of its connection is answered.
    struct HeldAnswer {
        var request: PendingRequest
        var response: Response
        var sentAt: Int64
        var batchSize: Int
        var answeredAt: Int64
    }

    /// A multi-key request whose parts are on their way: the request itself (its client, budget, metrics) and
    /// the answers gathered so far.
    struct GatherSlot {
        var request: PendingRequest
        var gather: Gather
    }

    typealias RouterEntry = PoolRouter<PendingRequest>.Entry

    let handle: ReactorHandle
    let shared: ServerShared
    let configuration: ServerConfiguration
    let store: StoreConfiguration
    var logger: Logger
    let epoll: Epoll

    // Clients, by slot. Every connection gets a new generation (unique in the reactor), so an answer or an epoll
    // event for a connection that has gone is never taken for a later one in the same slot.
    var clients: [ClientConnection?] = []
    var freeSlots: [Int] = []
    var lastGeneration: UInt32 = 0
    /// Clients with something to do at the end of this pass (output to write, buffered input to take).
    var touched: [ClientConnection] = []
    /// Connections whose output is closed, in the order their grace period ends.
    var graceDeadlines: [(deadline: Int64, slot: Int, generation: UInt32)] = []
    var graceHead = 0
    /// Connections in the handshake, in the order their handshake timeout ends.
    var handshakeDeadlines: [(deadline: Int64, slot: Int, generation: UInt32)] = []
    var handshakeHead = 0
    /// Audit lines per peer (refusals, denials, protocol errors), rate-limited.
    var auditLimiter = LogRateLimiter()
    /// The listening reactor's cache of user names by uid, for the rule generation it was filled under.
    var userNames: [UInt32: String?] = [:]
    var userNamesGeneration = 0
    /// What operators see: requests by outcome, durations, batches, refusals; read through
    /// ``ReactorMessage/report(_:_:)``.
    var metrics = ReactorMetrics()
    /// `PAUSE` is in effect: nothing new is sent to PostgreSQL (see `Reactor+Operator.swift`).
    var pause: PauseState?
    /// `PAUSE` requests waiting until no batch is in flight on this reactor's connections.
    var pauseWaiters: [@Sendable () -> Void] = []

    // The database side.
    var databases: [DatabaseConnection]
    var router: PoolRouter<PendingRequest>
    /// Multi-key requests in progress, by slot (see `Reactor+Clients.swift`, `execute`).
    var gathers: [GatherSlot?] = []
    var freeGathers: [Int] = []

    /// Where client reads land before their bytes are copied to the connection (one per reactor).
    let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: ClientConnection.readChunk, alignment: 16)

    var listener: Listener?
    var isDraining = false
    var isStopping = false
    var isFinished = false

    init(handle: ReactorHandle, shared: ServerShared, configuration: ServerConfiguration, store: StoreConfiguration,
         poolSlots: [Int], logger: Logger) throws {
        self.handle = handle
        self.shared = shared
        self.configuration = configuration
        self.store = store
        var logger = logger
        logger[metadataKey: "reactor"] = "\(handle.index)"
        self.logger = logger
        self.epoll = try Epoll()
        self.databases = poolSlots.enumerated().map { DatabaseConnection(slot: $0.offset, poolIndex: $0.element,
                                                                          initialDelay: store.reconnectInitialDelayMilliseconds) }
        self.router = PoolRouter(poolSize: poolSlots.count, queueLimit: store.queueLimit)
        try epoll.add(handle.wakeDescriptor, .input, Epoll.Token(.wake))
    }

    deinit {
        readScratch.deallocate()
    }

    /// Runs the loop until ``ReactorMessage/stop`` has finished everything.
    func run() {
        for database in databases { startConnecting(database) }
        while !isFinished {
            epoll.wait(timeoutMilliseconds: nextTimeout()) { token, events in
                switch token.kind {
                case .wake: takeMessages()
                case .listener: acceptClients()
                case .client: clientEvent(slot: token.slot, generation: token.generation, events)
                case .database: databaseEvent(slot: token.slot, generation: token.generation, events)
                }
            }
            endOfPass()
        }
        for database in databases { disconnect(database) }
        closeAllClients(reason: "stopping")
        flushAuditSummaries(now: .max)  // what was suppressed is still said, even if the window had not ended
        if let listener { stopListening(listener) }
        handle.connectionsUp.store(0, ordering: .relaxed)
        releasePauseWaiters()
        handle.finish(report(.metrics))
        shared.stopped.report()
    }

    /// The end of one pass: take buffered requests, send batches, write answers, fire timers.
    private func endOfPass() {
        // Clients whose limits opened up (answers arrived, output drained) may take requests already buffered.
        var index = 0
        while index < touched.count {
            let client = touched[index]
            if client.machine.state != .closed && client.hasBufferedInput { takeFrames(client) }
            index += 1
        }
        startBatches()
        // Write each client's output once. A client whose output drained may now take frames it had buffered;
        // with nothing left in its socket no event would come for them, so it stays touched and the next pass
        // runs without waiting.
        var again: [ClientConnection] = []
        for client in touched {
            client.isDirty = false
            guard client.machine.state != .closed else { continue }
            finishPass(client)
            if client.machine.state != .closed && client.hasBufferedInputFrames && client.machine.mayTakeFrame {
                client.isDirty = true
                again.append(client)
            }
        }
        touched.removeAll(keepingCapacity: touched.count < 1024)
        touched.append(contentsOf: again)
        let now = monotonicMilliseconds()
        fireTimers(now: now)
        if !pauseWaiters.isEmpty && databases.allSatisfy({ !$0.isBusy }) { releasePauseWaiters() }
        handle.requestsInFlight.store(router.outstanding, ordering: .relaxed)
        if isStopping && router.outstanding == 0 && databases.allSatisfy({ !$0.isBusy }) {
            isFinished = true
        }
        releaseMemoryWhenIdle()
    }

    /// When the last client has left, give freed memory back to the kernel (once per idle period).
    private var releasedSinceLastClient = true
    private func releaseMemoryWhenIdle() {
        if handle.clients.load(ordering: .relaxed) > 0 || router.outstanding > 0 {
            releasedSinceLastClient = false
        } else if !releasedSinceLastClient {
            releasedSinceLastClient = true
            clients = []
            freeSlots = []
            touched = []
            graceDeadlines.removeAll()
            graceHead = 0
            handshakeDeadlines.removeAll()
            handshakeHead = 0
            pgstate_release_free_memory()
        }
    }

    private func nextTimeout() -> Int32 {
        if !touched.isEmpty { return 0 }
        var deadline: Int64?
        func consider(_ candidate: Int64?) {
            if let candidate { deadline = min(deadline ?? candidate, candidate) }
        }
        for database in databases { consider(database.deadline) }
        consider(listener?.retryDeadline)
        if graceHead < graceDeadlines.count { consider(graceDeadlines[graceHead].deadline) }
        if handshakeHead < handshakeDeadlines.count { consider(handshakeDeadlines[handshakeHead].deadline) }
        consider(auditLimiter.nextCheck)
        consider(pauseExpiryCheck)
        guard let deadline else { return -1 }
        return Int32(clamping: max(0, deadline - monotonicMilliseconds()))
    }

    private func fireTimers(now: Int64) {
        for database in databases {
            if let deadline = database.deadline, deadline <= now { deadlinePassed(database) }
        }
        if let listener, let deadline = listener.retryDeadline, deadline <= now { resumeAccepting(listener) }
        while graceHead < graceDeadlines.count, graceDeadlines[graceHead].deadline <= now {
            let (_, slot, generation) = graceDeadlines[graceHead]
            graceHead += 1
            if slot < clients.count, let client = clients[slot], client.generation == generation {
                close(client, reason: "the client did not close after the closing notice")
            }
        }
        if graceHead > 0 && graceHead == graceDeadlines.count {
            graceDeadlines.removeAll(keepingCapacity: true)
            graceHead = 0
        }
        expireHandshakes(now: now)
        flushAuditSummaries(now: now)
        expirePausedRequests(now: now)
    }

    // MARK: Messages from other threads

    private func takeMessages() {
        for message in handle.takeMessages() {
            switch message {
            case .adopt(let admission):
                adopt(admission)
            case .listen(let descriptor):
                startListening(descriptor)
            case .drain:
                drain()
            case .report(let request, let reply):
                reply(report(request))
            case .pause(let timeoutMilliseconds, let reply):
                startPause(timeoutMilliseconds: timeoutMilliseconds, reply: reply)
            case .resume(let reply):
                endPause()
                reply()
            case .answer(let slot, let generation, let frame, let operation):
                answerOperator(slot: slot, generation: generation, frame, operation)
            case .closeClients:
                closeAllClients(reason: "still busy after the shutdown timeout")
            case .stop:
                endPause()
                isStopping = true
                isDraining = true
                router.stopAccepting()
                if let listener { stopListening(listener) }
                closeAllClients(reason: "stopping")
            }
        }
    }

    private func closeAllClients(reason: String) {
        for client in clients.compactMap({ $0 }) { close(client, reason: reason) }
    }

    private func drain() {
        endPause()  // what waits must finish before the connections can close
        isDraining = true
        if let listener { stopListening(listener) }
        for client in clients.compactMap({ $0 }) {
            perform(client.machine.drain(), on: client)
        }
    }
}
