import Logging
import PGStateProtocol

/// A store answer queued for a client, watched until the socket has taken all of it (`--slow-request-ms`).
struct SlowAnswer {
    /// The connection's `bytesQueued` once this answer was queued: written when `bytesWritten` reaches it.
    var end: UInt64
    var kind: ReactorMetrics.Operation
    var namespace: Namespace
    var received: Int64
    /// When the batch was sent to PostgreSQL (0: never sent) and when the answer was queued (monotonic µs).
    var sentAt: Int64
    var answeredAt: Int64
    var batchSize: Int
    /// Unwritten output bytes ahead of the answer when it was queued.
    var behind: Int
}

/// The slow-request log: a store request is slow when it took at least `--slow-request-ms` from being accepted
/// to its answer being written to the socket. Each line says where the time went: queued (accepted → sent to
/// PostgreSQL), in PostgreSQL (its batch, and the batch's size), writing the answer (queued → taken by the
/// socket, long when the client does not read).
extension Reactor {
    /// Watches an answer just queued on `client` (its output held `queuedBefore` bytes before).
    func watchAnswer(_ request: PendingRequest, client: ClientConnection, queuedBefore: UInt64, answeredAt: Int64,
                     sentAt: Int64, batchSize: Int) {
        guard client.bytesQueued > queuedBefore else { return }  // not queued: the connection's output is closed
        client.slowWatch.append(SlowAnswer(
            end: client.bytesQueued, kind: request.kind, namespace: request.operation.namespace,
            received: request.received,
            sentAt: sentAt, answeredAt: answeredAt, batchSize: batchSize,
            behind: Int(queuedBefore &- client.bytesWritten)))
    }

    /// After a write: answers the socket has taken are measured; the slow ones are logged.
    func answersWritten(_ client: ClientConnection) {
        guard let threshold = configuration.slowRequestMicroseconds else { return }
        let now = monotonicMicroseconds()
        while client.slowWatchHead < client.slowWatch.count,
              client.slowWatch[client.slowWatchHead].end <= client.bytesWritten {
            let answer = client.slowWatch[client.slowWatchHead]
            client.slowWatchHead += 1
            if now - answer.received >= threshold {
                metrics.slowRequests &+= 1
                logSlow(answer, client: client, writtenAt: now)
            }
        }
        if client.slowWatchHead == client.slowWatch.count {
            client.slowWatch.removeAll(keepingCapacity: client.slowWatch.count <= 64)
            client.slowWatchHead = 0
        }
    }

    /// One line per slow request, rate-limited per peer like the audit lines.
    private func logSlow(_ answer: SlowAnswer, client: ClientConnection, writtenAt: Int64) {
        func ms(_ microseconds: Int64) -> String {
            let tenths = (max(0, microseconds) + 50) / 100
            return "\(tenths / 10).\(tenths % 10) ms"
        }
        var parts: [String] = []
        if answer.sentAt > 0 {
            parts.append("queued \(ms(answer.sentAt - answer.received))")
            parts.append("in PostgreSQL \(ms(answer.answeredAt - answer.sentAt)) (batch of \(answer.batchSize))")
        } else {
            parts.append("not sent to PostgreSQL, answered after \(ms(answer.answeredAt - answer.received))")
        }
        parts.append("writing the answer \(ms(writtenAt - answer.answeredAt)) (behind \(answer.behind) bytes of unwritten output)")
        audit(.notice, "slow request: \(answer.kind.label.uppercased()) in namespace \(answer.namespace) took \(ms(writtenAt - answer.received)): \(parts.joined(separator: ", "))",
              identity: client.machine.access.identity, rule: nil)
    }
}
