import CPGStateSys
import Glibc
import PGStateProtocol
import Synchronization

/// What another thread tells a reactor. Only these cross threads; everything a reactor serves stays on it.
enum ReactorMessage: Sendable {
    /// A client connection accepted by the reactor that listens, with what it was granted.
    case adopt(Admission)
    /// Start accepting on this listening socket.
    case listen(Int32)
    /// Stop accepting; drain every client.
    case drain
    /// The shutdown timeout passed: close the clients that are left.
    case closeClients
    /// Finish the requests queued, close the database connections, end the thread.
    case stop
    /// Hand the reactor's figures (and, when asked, its clients) to `reply`, called on the reactor's thread.
    case report(ReportRequest, @Sendable (ReactorReport) -> Void)
    /// Stop sending new requests to PostgreSQL; call `reply` once nothing is in flight there.
    case pause(timeoutMilliseconds: UInt32, reply: @Sendable () -> Void)
    /// Send what waits again; `reply` once done.
    case resume(@Sendable () -> Void)
    /// The answer to an operators' request of client `slot` (of `generation`) on this reactor.
    case answer(slot: Int, generation: UInt32, ResponseFrame, ReactorMetrics.Operation)
}

/// The thread-safe side of one reactor: its inbox, its wake-up descriptor and the figures it publishes.
final class ReactorHandle: Sendable {
    let index: Int
    /// An eventfd in the reactor's epoll set; signalled when the inbox gets a message.
    let wakeDescriptor: Int32
    private let inbox = Mutex<Inbox>(Inbox())

    private struct Inbox {
        var messages: [ReactorMessage] = []
        /// The reactor has ended: nothing posted now would be taken; its last figures answer reports.
        var finalReport: ReactorReport?
    }
    /// Live figures for STATUS= lines, written by the reactor, read by anyone.
    let clients = Atomic<Int>(0)
    let requestsInFlight = Atomic<Int>(0)
    let connectionsUp = Atomic<Int>(0)

    init(index: Int) {
        self.index = index
        self.wakeDescriptor = pgstate_eventfd_create()
        precondition(wakeDescriptor >= 0, "eventfd failed: errno \(errno)")
    }

    deinit {
        close(wakeDescriptor)
        // Messages never taken (the reactor ended first) release what they own: an adopted client's socket.
        inbox.withLock { Self.release($0.messages) }
    }

    func post(_ message: ReactorMessage) {
        let final = inbox.withLock { inbox -> ReactorReport? in
            if inbox.finalReport == nil { inbox.messages.append(message) }
            return inbox.finalReport
        }
        guard let final else {
            pgstate_eventfd_signal(wakeDescriptor)
            return
        }
        // The reactor has ended: answer from its last figures, release what the message owns.
        Self.answer([message], from: final)
    }

    /// The reactor takes everything posted so far.
    func takeMessages() -> [ReactorMessage] {
        pgstate_eventfd_drain(wakeDescriptor)
        return inbox.withLock { inbox in
            var taken: [ReactorMessage] = []
            swap(&taken, &inbox.messages)
            return taken
        }
    }

    /// The reactor's thread ends: messages still queued are answered or released, and later ones will be.
    func finish(_ report: ReactorReport) {
        let left = inbox.withLock { inbox -> [ReactorMessage] in
            inbox.finalReport = report
            defer { inbox.messages = [] }
            return inbox.messages
        }
        Self.answer(left, from: report)
    }

    /// Messages an ended reactor cannot take: reports are answered from its last figures (it has no clients),
    /// pause and resume have nothing left to wait for, the rest release what they own.
    private static func answer(_ messages: [ReactorMessage], from final: ReactorReport) {
        for message in messages {
            switch message {
            case .report(_, let reply): reply(final)
            case .pause(_, let reply), .resume(let reply): reply()
            default: break
            }
        }
        release(messages)
    }

    /// Messages never taken release what they own: an adopted client's socket and its budget.
    private static func release(_ messages: [ReactorMessage]) {
        for case .adopt(let admission) in messages {
            close(admission.descriptor)
            admission.release()
        }
    }
}

/// A client accepted by the listening reactor: its socket, identity and grant, and the budget it counts against
/// (one connection, in the handshake). The reactor that adopts it owns all of it.
struct Admission: Sendable {
    var descriptor: Int32
    var access: ClientConnectionStateMachine.Access
    var budget: IdentityBudget

    /// Gives back what the admission counted when the connection never became a client.
    func release() {
        budget.connections.subtract(1, ordering: .relaxed)
        budget.handshakes.subtract(1, ordering: .relaxed)
    }
}

/// What all reactors of one server share: the connection limit, the access policy and the identities' budgets,
/// the choice of reactor for a new client, and the milestones the daemon waits for.
final class ServerShared: Sendable {
    let handles: [ReactorHandle]
    let maxConnections: Int
    /// The rules new connections are admitted by; replaced whole on reload.
    let policy: Mutex<AccessPolicy>
    /// Bumped by every reload (the listener then forgets the user names it cached).
    let policyGeneration = Atomic<Int>(0)
    let budgets = IdentityBudgets()
    /// Clients connected across all reactors (counted at accept, released at close).
    let connections = Atomic<Int>(0)
    /// The last connection id given (ids are unique for the server's life, for CLIENTS).
    let lastConnectionID = Atomic<UInt64>(0)
    /// `PAUSE` is in effect (set before the reactors are told, cleared by `RESUME` and at shutdown).
    let paused = Atomic<Bool>(false)
    /// The server is shutting down.
    let draining = Atomic<Bool>(false)
    /// The namespaces that get a label of their own in the metrics.
    let namespaceLabels = NamespaceLabels()
    /// When the server was made (monotonic ms), for the uptime.
    let startedAt = monotonicMilliseconds()
    let poolSize: Int
    private let nextReactor = Atomic<Int>(0)
    let ready = Milestone(count: 1)
    let stopped: Milestone

    init(reactors: Int, maxConnections: Int, policy: AccessPolicy, poolSize: Int) {
        self.poolSize = poolSize
        self.handles = (0..<reactors).map(ReactorHandle.init(index:))
        self.maxConnections = maxConnections
        self.policy = Mutex(policy)
        self.stopped = Milestone(count: reactors)
    }

    /// Reserves a place for a new client; false at the connection limit.
    func reserveConnection() -> Bool {
        if connections.add(1, ordering: .relaxed).newValue <= maxConnections { return true }
        connections.subtract(1, ordering: .relaxed)
        return false
    }

    func releaseConnection() {
        connections.subtract(1, ordering: .relaxed)
    }

    /// What HEALTH answers, from the figures every reactor publishes.
    func health() -> Health {
        var state: Health.State = []
        let up = handles.map { $0.connectionsUp.load(ordering: .relaxed) }
        if up.allSatisfy({ $0 > 0 }) { state.insert(.poolUp) }
        if paused.load(ordering: .relaxed) { state.insert(.paused) }
        if draining.load(ordering: .relaxed) { state.insert(.draining) }
        return Health(state: state, poolUp: UInt16(clamping: up.reduce(0, +)), poolSize: UInt16(clamping: poolSize),
                      clients: UInt32(clamping: connections.load(ordering: .relaxed)),
                      uptimeMilliseconds: UInt64(max(0, monotonicMilliseconds() - startedAt)))
    }

    /// Round robin over the reactors.
    func reactorForNextClient() -> Int {
        nextReactor.add(1, ordering: .relaxed).oldValue % handles.count
    }
}

/// Something that happens once after `count` reports, awaited by async code.
final class Milestone: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(remaining: count))
    }

    var isReached: Bool { state.withLock { $0.remaining <= 0 } }

    func report() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.remaining -= 1
            guard state.remaining == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Makes it reached now (for example: shutdown before the database was ever up).
    func force() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.remaining = min(state.remaining, 0)
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let reached = state.withLock { state -> Bool in
                if state.remaining <= 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if reached { continuation.resume() }
        }
    }
}
