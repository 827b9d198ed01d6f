/// The homes (pool connections by key) a request touches: one for a single-key request, several for a multi-key
/// one. Stored without an allocation in the common case.
struct Homes: Sendable, Hashable {
    var first: Int
    var others: [Int] = []

    func intersects(_ other: Homes) -> Bool {
        if first == other.first || other.others.contains(first) { return true }
        return others.contains { $0 == other.first || other.others.contains($0) }
    }
}

/// Keeps one connection's answers in the order of PROTOCOL.md section 4 when a multi-key request whose parts run
/// on several connections answers late: an answer waits while an *earlier* request of the same connection that
/// touches one of its homes is still unanswered and gathered (or itself waiting). Pure; the reactor consults it
/// only while the connection has a gather open (``isIdle`` otherwise), so single-key traffic pays nothing.
///
/// Homes stand in for ids: requests of one id share its home, so this never lets an answer overtake one for the
/// same id; it may hold back an answer for another id of the same home a little longer, which the protocol allows.
struct AnswerOrder<Answer> {
    private struct Waiting {
        var order: UInt64
        var homes: Homes
        /// The gather this answer closes, when it is one.
        var closes: Bool
        var answer: Answer
    }

    /// Gathers of this connection not yet answered, by request order.
    private var open: [(order: UInt64, homes: Homes)] = []
    private var waiting: [Waiting] = []

    var isIdle: Bool { open.isEmpty && waiting.isEmpty }
    var waitingCount: Int { waiting.count }

    /// A gathered request was routed; answers of later requests touching its homes wait for its own.
    mutating func opened(order: UInt64, homes: Homes) {
        open.append((order, homes))
    }

    /// An answer is ready. Returns the answers to write now, in order: this one unless it must wait, then any it
    /// released. `closes`: it is the answer of a gather opened with ``opened(order:homes:)``.
    mutating func ready(order: UInt64, homes: Homes, closes: Bool, _ answer: Answer) -> [Answer] {
        guard !mustWait(order: order, homes: homes, ignoring: closes ? order : nil) else {
            waiting.append(Waiting(order: order, homes: homes, closes: closes, answer: answer))
            return []
        }
        var out = [answer]
        if closes {
            open.removeAll { $0.order == order }
            releaseWaiting(into: &out)
        }
        return out
    }

    private func mustWait(order: UInt64, homes: Homes, ignoring own: UInt64?) -> Bool {
        open.contains { $0.order < order && $0.order != own && $0.homes.intersects(homes) }
            || waiting.contains { $0.order < order && $0.homes.intersects(homes) }
    }

    private mutating func releaseWaiting(into out: inout [Answer]) {
        var progress = true
        while progress {
            progress = false
            waiting.sort { $0.order < $1.order }
            for index in waiting.indices {
                let candidate = waiting[index]
                let others = waiting.indices.filter { $0 != index }.map { waiting[$0] }
                let blocked = open.contains { $0.order < candidate.order && $0.order != candidate.order && $0.homes.intersects(candidate.homes) }
                    || others.contains { $0.order < candidate.order && $0.homes.intersects(candidate.homes) }
                guard !blocked else { continue }
                waiting.remove(at: index)
                out.append(candidate.answer)
                if candidate.closes { open.removeAll { $0.order == candidate.order } }
                progress = true
                break
            }
        }
    }
}
