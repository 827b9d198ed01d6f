import Glibc
import PGStateProtocol
import PGStateStore

/// `PAUSE` as one reactor keeps it.
struct PauseState {
    /// How long a request may wait while paused before it is answered `UNAVAILABLE`; nil: without limit.
    var timeoutMicroseconds: Int64?
}

/// The operators' requests (HEALTH, STATS, CLIENTS, PAUSE, RESUME) and this reactor's part in them: its report,
/// its pause. A request that needs every reactor asks each through its inbox; the last to answer posts the
/// answer to the reactor that holds the client (``ReactorMessage/answer(slot:generation:_:_:)``). Off the request
/// path: nothing here runs for store requests.
extension Reactor {
    func operate(requestID: UInt32, _ request: Request, for client: ClientConnection) {
        let (origin, slot, generation) = (handle, client.slot, client.generation)
        let operation = ReactorMetrics.Operation(request.type)
        @Sendable func reply(_ response: Response) {
            origin.post(.answer(slot: slot, generation: generation,
                                ResponseFrame(requestID: requestID, response: response), operation))
        }
        switch request {
        case .health:
            answerOperator(slot: slot, generation: generation,
                           ResponseFrame(requestID: requestID, response: .healthOK(shared.health())), operation)
        case .stats:
            let (shared, version) = (self.shared, configuration.serverVersion)
            ReportGather(expected: shared.handles.count) { reports in
                let metrics = ServerMetrics(reports: reports, reactors: shared.handles.count, health: shared.health(),
                                            version: version)
                reply(.statsOK(metrics.statsEntries()))
            }.ask(shared.handles, .metrics)
        case .clients(let after):
            ReportGather(expected: shared.handles.count) { reports in
                let rows = reports.flatMap(\.clients).sorted { $0.connectionID < $1.connectionID }
                reply(.clientsOK(ClientsPage(rows: Array(rows.prefix(ClientsPage.maxRows)),
                                             more: rows.count > ClientsPage.maxRows)))
            }.ask(shared.handles, .clients(after: after))
        case .pause(let timeout):
            shared.paused.store(true, ordering: .relaxed)
            let countdown = ReplyCountdown(expected: shared.handles.count) { reply(.ok) }
            for handle in shared.handles { handle.post(.pause(timeoutMilliseconds: timeout, reply: countdown.reply)) }
        case .resume:
            shared.paused.store(false, ordering: .relaxed)
            let countdown = ReplyCountdown(expected: shared.handles.count) { reply(.ok) }
            for handle in shared.handles { handle.post(.resume(countdown.reply)) }
        default:
            preconditionFailure("\(request.type) is not an operators' request")
        }
    }

    /// The answer to an operators' request, for a client of this reactor (dropped if it has gone).
    func answerOperator(slot: Int, generation: UInt32, _ frame: ResponseFrame, _ operation: ReactorMetrics.Operation) {
        guard slot < clients.count, let client = clients[slot], client.generation == generation else { return }
        count(operation, frame.response, for: client)
        perform(client.machine.answered(frame), on: client)
    }

    /// This reactor's figures, and its clients when asked.
    func report(_ request: ReportRequest) -> ReactorReport {
        var pool = PoolCounts()
        var executing = 0
        for database in databases {
            switch database.state {
            case .up: if let run = database.run { pool.busy += 1; executing += run.execution.pending.count } else { pool.idle += 1 }
            case .connecting, .settingUp: pool.connecting += 1
            case .waiting, .closed: pool.down += 1
            }
        }
        var report = ReactorReport(metrics: metrics, pool: pool, inFlight: router.outstanding,
                                   queued: max(0, router.outstanding - executing))
        if case .clients(let after) = request {
            var rows: [ClientRow] = []
            for case let client? in clients where client.connectionID > after {
                rows.append(client.row)
            }
            rows.sort { $0.connectionID < $1.connectionID }
            report.clients = Array(rows.prefix(ClientsPage.maxRows + 1))
        }
        return report
    }

    // MARK: Pause

    func startPause(timeoutMilliseconds: UInt32, reply: @escaping @Sendable () -> Void) {
        guard !isDraining else {
            reply()  // shutting down: what waits must finish, so there is nothing to pause
            return
        }
        pause = PauseState(timeoutMicroseconds: timeoutMilliseconds == 0 ? nil : Int64(timeoutMilliseconds) * 1000)
        pauseWaiters.append(reply)
        logger.notice("paused: no new requests go to PostgreSQL until RESUME",
                      metadata: ["timeout": "\(timeoutMilliseconds == 0 ? "none" : "\(timeoutMilliseconds) ms")"])
        // Answered at the end of the pass once no batch is in flight (`Reactor.endOfPass`).
    }

    func endPause() {
        releasePauseWaiters()
        guard pause != nil else { return }
        pause = nil
        logger.notice("resumed: waiting requests go to PostgreSQL again", metadata: ["waiting": "\(router.outstanding)"])
    }

    func releasePauseWaiters() {
        let waiters = pauseWaiters
        pauseWaiters = []
        for waiter in waiters { waiter() }
    }

    /// While paused with a timeout and requests wait, the timers look every 50 ms for requests that waited too
    /// long.
    var pauseExpiryCheck: Int64? {
        guard let pause, pause.timeoutMicroseconds != nil, router.outstanding > 0 else { return nil }
        return monotonicMilliseconds() + 50
    }

    /// Requests that waited longer than the pause's timeout are answered `UNAVAILABLE`, not executed.
    func expirePausedRequests(now: Int64) {
        guard let timeout = pause?.timeoutMicroseconds, router.outstanding > 0 else { return }
        let limit = now * 1000 - timeout
        for worker in databases.indices {
            let expired = router.removeQueued(from: worker) { $0.item.received <= limit }
            for entry in expired {
                deliver(entry.item, .error(ErrorResponse(
                    status: .unavailable,
                    message: "pgstated is paused by an operator and the request waited \(timeout / 1000) ms; it was not executed")))
            }
        }
    }
}

extension ClientConnection {
    /// The connection as CLIENTS shows it.
    var row: ClientRow {
        let access = machine.access
        let state: ClientRow.State
        switch machine.state {
        case .awaitingHello: state = .handshake
        case .ready: state = .ready
        case .draining, .outputClosed, .closed: state = .draining
        }
        return ClientRow(connectionID: connectionID, uid: access.identity.uid,
                         pid: UInt32(bitPattern: access.identity.pid), user: access.identity.userName ?? "",
                         namespace: access.grant?.namespace.value ?? "", clientName: machine.clientName,
                         stateCode: state.rawValue, connectedAtMilliseconds: connectedAt, requests: requestsAnswered,
                         inFlight: UInt32(clamping: machine.inFlight))
    }
}
