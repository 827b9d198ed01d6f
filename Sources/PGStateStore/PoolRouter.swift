import NIOCore

/// A reactor's pool bookkeeping, pure and single-threaded (each reactor owns one): which connection is up,
/// what each one has queued, and where each request goes.
///
/// Routing rules:
/// - Key affinity: a request's *home* is `hash(persistence id) % poolSize`. Requests of one home (so every request
///   for one id) normally run on that one connection, in arrival order, and two connections never wait on the
///   same row's lock.
/// - A request goes to its *placement*: the home if up, else the next connection that is up (ring order).
/// - Order per id across failovers: a connection runs a request only once every *older* unfinished request of the
///   same home is on that connection (``mayRun(_:on:)``). Requests placed on a new connection (the home came back,
///   or another fallback came up) wait there until the older ones elsewhere have finished. Queues are kept in
///   arrival order (``Entry/sequence``), also when a broken connection's requests move elsewhere.
/// - Multi-key requests: an entry may touch several homes (``Entry/otherHomes``). It is placed by its ``Entry/home``
///   and counted as unfinished in every home it touches, so it runs only after every older request of each of
///   them, and every younger one of each waits for it. An entry that is ``Entry/alone`` runs in a batch of its own.
/// - When no connection is up the request is refused (`UNAVAILABLE`, not executed); beyond the queue limit it is
///   refused with `OVERLOADED`; after ``stopAccepting()`` with `SHUTTING_DOWN`.
public struct PoolRouter<Item> {
    public struct Entry {
        public var item: Item
        public var home: Int
        /// The other homes the entry touches (a multi-key request); usually empty.
        public var otherHomes: [Int]
        /// Runs in a batch of its own.
        public var alone: Bool
        public var stateBytes: Int
        /// Arrival order across the whole pool.
        public var sequence: UInt64
    }

    struct Worker {
        var isUp = false
        /// Entries in arrival order.
        var queue = CircularBuffer<Entry>()
        /// The worker sleeps waiting for work and must be woken.
        var isIdle = false
    }

    public enum Refusal: Hashable, Sendable {
        case unavailable
        case overloaded
        case shuttingDown
    }

    public struct RefusalError: Error, Hashable {
        public var refusal: Refusal
        init(_ refusal: Refusal) { self.refusal = refusal }
    }

    private(set) var workers: [Worker]
    /// Unfinished requests (queued or executing) per home, per worker: `unfinished[home][worker]`.
    private var unfinished: [[Int]]
    /// Unfinished requests per home.
    private var unfinishedByHome: [Int]
    /// Unfinished requests per home in arrival order, with the worker each is on. Consulted only while a home's
    /// requests are split over several workers (after a failover); otherwise the counts above decide.
    private var unfinishedOrder: [CircularBuffer<(sequence: UInt64, worker: Int)>]
    /// Requests accepted and not yet finished (queued or executing).
    public private(set) var outstanding = 0
    private var nextSequence: UInt64 = 0
    let queueLimit: Int
    private(set) var isAccepting = true

    public init(poolSize: Int, queueLimit: Int) {
        precondition(poolSize > 0, "pool size must be positive")
        self.workers = Array(repeating: Worker(), count: poolSize)
        self.unfinished = Array(repeating: Array(repeating: 0, count: poolSize), count: poolSize)
        self.unfinishedByHome = Array(repeating: 0, count: poolSize)
        self.unfinishedOrder = Array(repeating: CircularBuffer(), count: poolSize)
        self.queueLimit = queueLimit
    }

    public var connectionsUp: Int { workers.lazy.filter(\.isUp).count }

    public static func home<Bytes: Sequence>(ofKey key: Bytes, poolSize: Int) -> Int where Bytes.Element == UInt8 {
        // FNV-1a: stable across processes and runs (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(poolSize))
    }

    /// Where requests of `home` go now: the home if up, else the next up in ring order.
    func placement(forHome home: Int) -> Int? {
        for offset in 0..<workers.count {
            let index = (home + offset) % workers.count
            if workers[index].isUp { return index }
        }
        return nil
    }

    /// Requests of `home` that are unfinished on a worker other than the home.
    func delegatedAway(_ home: Int) -> Int {
        unfinishedByHome[home] - unfinished[home][home]
    }

    /// Whether every unfinished request of `home` is on `worker` (the normal case: then any may run there).
    func isRunnable(home: Int, on worker: Int) -> Bool {
        unfinished[home][worker] == unfinishedByHome[home]
    }

    /// Whether `worker` may run `entry` now: every older unfinished request of each of its homes is on `worker`
    /// too.
    func mayRun(_ entry: Entry, on worker: Int) -> Bool {
        mayRun(entry.sequence, home: entry.home, on: worker)
            && entry.otherHomes.allSatisfy { mayRun(entry.sequence, home: $0, on: worker) }
    }

    private func mayRun(_ sequence: UInt64, home: Int, on worker: Int) -> Bool {
        isRunnable(home: home, on: worker) || sequence < firstElsewhere(home: home, than: worker)
    }

    /// The arrival number of the oldest unfinished request of `home` on a worker other than `worker`.
    private func firstElsewhere(home: Int, than worker: Int) -> UInt64 {
        unfinishedOrder[home].first { $0.worker != worker }?.sequence ?? .max
    }

    private func orderIndex(home: Int, sequence: UInt64) -> Int {
        let order = unfinishedOrder[home]
        var low = order.startIndex
        var high = order.endIndex
        while low < high {
            let middle = order.index(low, offsetBy: order.distance(from: low, to: high) / 2)
            if order[middle].sequence < sequence { low = order.index(after: middle) } else { high = middle }
        }
        precondition(low != order.endIndex && order[low].sequence == sequence, "unknown request \(sequence)")
        return order.distance(from: order.startIndex, to: low)
    }

    /// Accepts a new request. Returns the worker to wake (if it was idle) or the refusal.
    public mutating func submit(_ item: Item, home: Int, otherHomes: [Int] = [], alone: Bool = false,
                                stateBytes: Int) -> Result<Int?, RefusalError> {
        guard isAccepting else { return .failure(RefusalError(.shuttingDown)) }
        guard outstanding < queueLimit else { return .failure(RefusalError(.overloaded)) }
        guard let target = placement(forHome: home) else { return .failure(RefusalError(.unavailable)) }
        nextSequence += 1
        outstanding += 1
        let entry = Entry(item: item, home: home, otherHomes: otherHomes, alone: alone, stateBytes: stateBytes,
                          sequence: nextSequence)
        entry.forEachHome { home in
            unfinishedByHome[home] += 1
            unfinished[home][target] += 1
            unfinishedOrder[home].append((nextSequence, target))
        }
        workers[target].queue.append(entry)
        return .success(wakeIfIdle(target))
    }

    private mutating func wakeIfIdle(_ worker: Int) -> Int? {
        guard workers[worker].isIdle else { return nil }
        workers[worker].isIdle = false
        return worker
    }

    /// Takes the next batch for `worker`: queued requests in arrival order, skipping those that must wait for older
    /// requests of their home elsewhere (all later requests of the same id wait with them), and stopping at the
    /// first one that may run but does not fit, so nothing overtakes it. Empty when there is nothing to do; then
    /// the worker is marked idle if `markIdle`.
    public mutating func takeBatch(worker: Int, maxRequests: Int, maxBytes: Int, markIdle: Bool) -> [Entry] {
        var batch: [Entry] = []
        var bytes = 0
        var kept = CircularBuffer<Entry>()
        var full = false
        // Per home, computed once per batch: the oldest request of that home elsewhere (only for split homes).
        var firstElsewhere: [Int: UInt64] = [:]
        // Homes of multi-key entries kept back: every younger entry touching one of them stays behind too.
        var held = Set<Int>()
        func mayRunHome(_ home: Int, _ sequence: UInt64) -> Bool {
            if held.contains(home) { return false }
            if isRunnable(home: home, on: worker) { return true }
            let limit = firstElsewhere[home] ?? self.firstElsewhere(home: home, than: worker)
            firstElsewhere[home] = limit
            return sequence < limit
        }
        while let entry = workers[worker].queue.popFirst() {
            var mayRun = mayRunHome(entry.home, entry.sequence)
            for home in entry.otherHomes where mayRun { mayRun = mayRunHome(home, entry.sequence) }
            if mayRun && !full {
                full = batch.count >= max(1, maxRequests) || (!batch.isEmpty && bytes + entry.stateBytes > maxBytes)
                    || (!batch.isEmpty && entry.alone)
            }
            if full || !mayRun {
                kept.append(entry)
                if !entry.otherHomes.isEmpty { entry.forEachHome { held.insert($0) } }
            } else {
                batch.append(entry)
                bytes += entry.stateBytes
                if entry.alone { full = true }
            }
        }
        workers[worker].queue = kept
        if batch.isEmpty && markIdle { workers[worker].isIdle = true }
        return batch
    }

    /// Marks requests taken by `worker` as finished. Returns idle workers to wake: those holding requests that
    /// waited for these.
    public mutating func finished(_ entries: [Entry], on worker: Int) -> [Int] {
        outstanding -= entries.count
        var homes = Set<Int>()
        for entry in entries {
            entry.forEachHome { home in
                unfinished[home][worker] -= 1
                unfinishedByHome[home] -= 1
                unfinishedOrder[home].remove(at: unfinishedOrder[home].index(
                    unfinishedOrder[home].startIndex, offsetBy: orderIndex(home: home, sequence: entry.sequence)))
                homes.insert(home)
            }
        }
        // Requests of these homes waiting on other workers may run now: wake those workers if they sleep.
        var wake: [Int] = []
        for home in homes {
            for other in workers.indices where other != worker && unfinished[home][other] > 0 && workers[other].isIdle {
                let oldestWaiting = workers[other].queue.first { $0.home == home || $0.otherHomes.contains(home) }
                if let oldestWaiting, mayRun(oldestWaiting, on: other), let index = wakeIfIdle(other) {
                    wake.append(index)
                }
            }
        }
        return wake
    }

    /// Places again requests that `worker` had taken but that cannot have taken effect (its connection broke
    /// before their commit), and, if `worker` is down, everything still queued on it. Each goes to its home's
    /// placement, merged into that queue in arrival order.
    /// Returns the workers to wake and the requests that found no connection up (to answer `UNAVAILABLE`).
    public mutating func requeue(_ entries: [Entry], from worker: Int) -> (wake: [Int], unplaced: [Entry]) {
        var moving = entries
        if !workers[worker].isUp {
            moving.append(contentsOf: workers[worker].queue)
            workers[worker].queue.removeAll()
        }
        var wake = Set<Int>()
        var unplaced: [Entry] = []
        var arriving: [Int: [Entry]] = [:]
        for entry in moving {
            let target = placement(forHome: entry.home)
            entry.forEachHome { home in
                unfinished[home][worker] -= 1
                let position = unfinishedOrder[home].index(
                    unfinishedOrder[home].startIndex, offsetBy: orderIndex(home: home, sequence: entry.sequence))
                if let target {
                    unfinished[home][target] += 1
                    unfinishedOrder[home][position].worker = target
                } else {
                    unfinishedByHome[home] -= 1
                    unfinishedOrder[home].remove(at: position)
                }
            }
            if let target {
                arriving[target, default: []].append(entry)
            } else {
                unplaced.append(entry)
            }
        }
        for (target, entries) in arriving {
            let merged = (Array(workers[target].queue) + entries).sorted { $0.sequence < $1.sequence }
            workers[target].queue = CircularBuffer(merged)
            if let index = wakeIfIdle(target) { wake.insert(index) }
        }
        outstanding -= unplaced.count
        return (Array(wake), unplaced)
    }

    /// Records a connection going up or down. Going down moves its queue elsewhere (see ``requeue(_:from:)``).
    public mutating func setUp(_ worker: Int, _ isUp: Bool) -> (wake: [Int], unplaced: [Entry]) {
        workers[worker].isUp = isUp
        if isUp { return ([], []) }
        return requeue([], from: worker)
    }

    /// Takes out of `worker`'s queue the requests (not yet taken in a batch) that `predicate` selects, as
    /// finished: they will not run (for example, a paused server answers those that waited too long).
    public mutating func removeQueued(from worker: Int, where predicate: (Entry) -> Bool) -> [Entry] {
        guard workers[worker].queue.contains(where: predicate) else { return [] }
        var kept = CircularBuffer<Entry>()
        var removed: [Entry] = []
        for entry in workers[worker].queue {
            if predicate(entry) { removed.append(entry) } else { kept.append(entry) }
        }
        workers[worker].queue = kept
        _ = finished(removed, on: worker)
        return removed
    }

    public mutating func stopAccepting() {
        isAccepting = false
    }

    /// Whether `worker` has nothing left to run.
    public func isDrained(_ worker: Int) -> Bool {
        workers[worker].queue.isEmpty
    }
}

extension PoolRouter.Entry {
    /// Calls `body` with the entry's home, then each of its other homes.
    @inline(__always)
    func forEachHome(_ body: (Int) -> Void) {
        body(home)
        for other in otherHomes { body(other) }
    }
}
