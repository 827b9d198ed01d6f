import Synchronization

/// What one identity (one peer uid) holds across all reactors right now: its connections, those of them still in
/// the handshake, and its requests executing in the store. Shared by its connections; counted with atomics so a
/// request costs no lock.
final class IdentityBudget: Sendable {
    let uid: UInt32
    let connections = Atomic<Int>(0)
    let handshakes = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)

    init(uid: UInt32) {
        self.uid = uid
    }

    /// Takes one unit of `counter` if that keeps it at or under `limit` (nil: no limit).
    static func take(_ counter: borrowing Atomic<Int>, limit: Int?) -> Bool {
        let now = counter.add(1, ordering: .relaxed).newValue
        if let limit, now > limit {
            counter.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }
}

/// The budgets of every identity seen, by uid. An entry lives as long as the process: there are only as many as
/// there are users on the host that connected, and its counters return to zero.
final class IdentityBudgets: Sendable {
    private let budgets = Mutex<[UInt32: IdentityBudget]>([:])

    func budget(for uid: UInt32) -> IdentityBudget {
        budgets.withLock { budgets in
            if let budget = budgets[uid] { return budget }
            let budget = IdentityBudget(uid: uid)
            budgets[uid] = budget
            return budget
        }
    }
}
