import PGStateProtocol
import Synchronization

/// What a report is asked for.
enum ReportRequest: Sendable {
    /// The figures only.
    case metrics
    /// The figures and the clients with a connection id greater than `after` (at most one page more than
    /// ``ClientsPage/maxRows``, so that the gatherer knows whether more remain).
    case clients(after: UInt64)
}

/// One reactor's figures at one moment, taken on its thread.
public struct ReactorReport: Sendable {
    public var metrics: ReactorMetrics
    /// Its pool connections by state.
    public var pool: PoolCounts
    /// Requests accepted and not yet answered by the store, and of those the ones still waiting to be sent.
    public var inFlight: Int
    public var queued: Int
    var clients: [ClientRow] = []
}

/// Pool connections by state: `idle` (up, nothing in flight), `busy` (a pipeline in flight), `connecting`
/// (connecting or setting up) and `down` (waiting to retry, or closed).
public struct PoolCounts: Sendable, Equatable {
    public var idle = 0
    public var busy = 0
    public var connecting = 0
    public var down = 0

    public static let labels = ["idle", "busy", "connecting", "down"]
    public var values: [Int] { [idle, busy, connecting, down] }

    mutating func add(_ other: PoolCounts) {
        idle += other.idle
        busy += other.busy
        connecting += other.connecting
        down += other.down
    }
}

/// Collects one report per reactor and hands the set over once: to a closure (a reactor answering an
/// operators' request) or to an awaiting task, which may also give up waiting (``expire()``) and take what has
/// arrived (a reactor that does not answer is not alive).
final class ReportGather: Sendable {
    private struct State {
        var expected: Int
        var reports: [ReactorReport] = []
        var done = false
        var waiter: CheckedContinuation<[ReactorReport], Never>?
        var completion: (@Sendable ([ReactorReport]) -> Void)?
    }

    private let state: Mutex<State>

    init(expected: Int, completion: (@Sendable ([ReactorReport]) -> Void)? = nil) {
        state = Mutex(State(expected: expected, completion: completion))
    }

    /// Posts `request` to every reactor; each answers on its own thread.
    func ask(_ handles: [ReactorHandle], _ request: ReportRequest) {
        for handle in handles { handle.post(.report(request) { self.add($0) }) }
    }

    func wait(_ continuation: CheckedContinuation<[ReactorReport], Never>) {
        let ready = state.withLock { state -> [ReactorReport]? in
            if state.done { return state.reports }
            state.waiter = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func add(_ report: ReactorReport) {
        finish { state in
            state.reports.append(report)
            return state.reports.count >= state.expected
        }
    }

    /// Stop waiting: whoever waits gets the reports that have arrived.
    func expire() {
        finish { _ in true }
    }

    private func finish(_ update: (inout State) -> Bool) {
        let handOver = state.withLock { state -> (CheckedContinuation<[ReactorReport], Never>?,
                                                 (@Sendable ([ReactorReport]) -> Void)?, [ReactorReport])? in
            guard !state.done, update(&state) else { return nil }
            state.done = true
            defer { state.waiter = nil; state.completion = nil }
            return (state.waiter, state.completion, state.reports)
        }
        guard let (waiter, completion, reports) = handOver else { return }
        waiter?.resume(returning: reports)
        completion?(reports)
    }
}

/// Counts down replies from every reactor, then runs `completion` once (PAUSE, RESUME).
final class ReplyCountdown: Sendable {
    private let remaining: Atomic<Int>
    private let completion: @Sendable () -> Void

    init(expected: Int, completion: @escaping @Sendable () -> Void) {
        remaining = Atomic(expected)
        self.completion = completion
    }

    func reply() {
        if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { completion() }
    }
}
