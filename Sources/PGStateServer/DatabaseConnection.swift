import PGStateStore

/// One pool connection as its reactor sees it: connecting, setting up, waiting to retry, or up with at most one
/// pipeline in flight.
final class DatabaseConnection {
    /// Index among the reactor's connections (the router's worker index).
    let slot: Int
    /// Index in the whole pool, for logs.
    let poolIndex: Int

    enum State {
        /// `PQconnectPoll` in progress; the attempt fails at `deadline`.
        case connecting(PGConnection, deadline: Int64)
        /// Pipeline mode entered, the set-up queued: `remaining` statements' results, then the Sync.
        case settingUp(PGConnection, deadline: Int64, setup: SetupProgress)
        case waiting(until: Int64)
        case up(PGConnection)
        case closed
    }

    /// Reading the set-up's results: each statement gives a result and an end, then the Sync comes.
    struct SetupProgress {
        var remaining: Int
        var awaitingEnd = false
        var failure: String?
    }

    /// The socket registered in the epoll set now, if any.
    var registeredSocket: Int32?

    /// The pipeline in flight: the batch, the reader of its results, and whether its Sync has left.
    struct Run {
        var execution: BatchExecution<Reactor.RouterEntry>
        var reader: PipelineReader<PGResult>
        /// libpq's output buffer has been flushed since the batch was queued, so its Sync reached the socket.
        var flushed: Bool
        /// When the batch was first sent (monotonic µs). A run again of the same batch keeps it: the time until
        /// then was spent in PostgreSQL.
        var sentAt: Int64 = 0
    }

    var state: State = .closed
    var run: Run?
    /// `EPOLLOUT` is armed: libpq has unsent output.
    var writeArmed = false
    /// Generation of the registration of the current socket (a new connection gets a new one).
    var generation: UInt32 = 0
    var failures = 0
    /// It has been up before: coming up again is a reconnect.
    var hasBeenUp = false
    var delay: Int

    init(slot: Int, poolIndex: Int, initialDelay: Int) {
        self.slot = slot
        self.poolIndex = poolIndex
        self.delay = initialDelay
    }

    var connection: PGConnection? {
        if case .up(let connection) = state { return connection }
        return nil
    }

    /// When a timer must fire for this connection: a retry, or the end of an attempt.
    var deadline: Int64? {
        switch state {
        case .waiting(let until): return until
        case .connecting(_, let deadline), .settingUp(_, let deadline, _): return deadline
        case .up, .closed: return nil
        }
    }

    /// A pipeline is in flight.
    var isBusy: Bool { run != nil }
}
