import NIOCore

/// The pool's bookkeeping, pure and single-threaded (the pool guards it with one lock): which connection is up,
/// what each one has queued, and where each request goes.
///
/// Routing rules:
/// - Key affinity: a request's *home* is `hash(persistence id) % poolSize`, so requests for one id run in
///   arrival order on one connection and two connections never wait on the same row's lock.
/// - When the home is down, the request goes to the next connection that is up (ring order) and counts as
///   *delegated*. The home, once back, holds its own requests until every delegated one has finished, so the
///   order per id survives a failover.
/// - When no connection is up the request is refused (`UNAVAILABLE`, not executed); beyond the queue limit it is
///   refused with `OVERLOADED`; after ``stopAccepting()`` with `SHUTTING_DOWN`.
struct PoolRouter<Item> {
    struct Entry {
        var item: Item
        var home: Int
        var stateBytes: Int
    }

    struct Worker {
        var isUp = false
        var queue = CircularBuffer<Entry>()
        /// Requests homed here that sit on, or run on, another worker.
        var delegatedAway = 0
        /// The worker sleeps waiting for work and must be woken.
        var isIdle = false
    }

    enum Refusal: Hashable {
        case unavailable
        case overloaded
        case shuttingDown
    }

    private(set) var workers: [Worker]
    /// Requests accepted and not yet finished (queued or executing).
    private(set) var outstanding = 0
    let queueLimit: Int
    private(set) var isAccepting = true

    init(poolSize: Int, queueLimit: Int) {
        precondition(poolSize > 0, "pool size must be positive")
        self.workers = Array(repeating: Worker(), count: poolSize)
        self.queueLimit = queueLimit
    }

    var connectionsUp: Int { workers.lazy.filter(\.isUp).count }

    static func home<Bytes: Sequence>(ofKey key: Bytes, poolSize: Int) -> Int where Bytes.Element == UInt8 {
        // FNV-1a: stable across processes and runs (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(poolSize))
    }

    /// The worker that runs requests homed at `home` right now: the home if up, else the next up in ring order.
    func placement(forHome home: Int) -> Int? {
        for offset in 0..<workers.count {
            let index = (home + offset) % workers.count
            if workers[index].isUp { return index }
        }
        return nil
    }

    /// Accepts a new request. Returns the worker to wake (if it was idle) or the refusal.
    mutating func submit(_ item: Item, home: Int, stateBytes: Int) -> Result<Int?, RefusalError> {
        guard isAccepting else { return .failure(RefusalError(.shuttingDown)) }
        guard outstanding < queueLimit else { return .failure(RefusalError(.overloaded)) }
        guard let target = enqueue(Entry(item: item, home: home, stateBytes: stateBytes)) else {
            return .failure(RefusalError(.unavailable))
        }
        outstanding += 1
        return .success(wakeIfIdle(target))
    }

    struct RefusalError: Error, Hashable {
        var refusal: Refusal
        init(_ refusal: Refusal) { self.refusal = refusal }
    }

    private mutating func enqueue(_ entry: Entry) -> Int? {
        guard let target = placement(forHome: entry.home) else { return nil }
        if target != entry.home { workers[entry.home].delegatedAway += 1 }
        workers[target].queue.append(entry)
        return target
    }

    private mutating func wakeIfIdle(_ worker: Int) -> Int? {
        guard workers[worker].isIdle else { return nil }
        workers[worker].isIdle = false
        return worker
    }

    /// Takes the next batch for `worker`: queued requests in arrival order, except the worker's own requests
    /// while some of them are still delegated elsewhere. Empty when there is nothing to do; then the worker is
    /// marked idle if `markIdle`.
    mutating func takeBatch(worker: Int, maxRequests: Int, maxBytes: Int, markIdle: Bool) -> [Entry] {
        var batch: [Entry] = []
        var bytes = 0
        var kept = CircularBuffer<Entry>()
        let holdOwn = workers[worker].delegatedAway > 0
        while let entry = workers[worker].queue.popFirst() {
            let full = batch.count >= maxRequests || (!batch.isEmpty && bytes + entry.stateBytes > maxBytes)
            if full || (holdOwn && entry.home == worker) {
                kept.append(entry)
            } else {
                batch.append(entry)
                bytes += entry.stateBytes
            }
        }
        workers[worker].queue = kept
        if batch.isEmpty && markIdle { workers[worker].isIdle = true }
        return batch
    }

    /// Marks requests taken by `worker` as finished. Returns a worker to wake: a home that was holding its own
    /// requests until its last delegated one finished.
    mutating func finished(_ entries: [Entry], on worker: Int) -> [Int] {
        outstanding -= entries.count
        var wake: [Int] = []
        for entry in entries where entry.home != worker {
            workers[entry.home].delegatedAway -= 1
            if workers[entry.home].delegatedAway == 0, let index = wakeIfIdle(entry.home) { wake.append(index) }
        }
        return wake
    }

    /// Puts requests taken by `worker` back at the front of the line (their connection broke before they could
    /// have taken effect) and everything queued on a down worker elsewhere.
    /// Returns the workers to wake and the requests that found no connection up (to answer `UNAVAILABLE`).
    mutating func requeue(_ entries: [Entry], from worker: Int) -> (wake: [Int], unplaced: [Entry]) {
        var moving = entries
        if !workers[worker].isUp {
            moving.append(contentsOf: workers[worker].queue)
            workers[worker].queue.removeAll()
        }
        var wake: [Int] = []
        var unplaced: [Entry] = []
        // Undo each entry's old placement, then place it anew in the same order.
        var placedFront: [Int: [Entry]] = [:]
        for entry in moving {
            if worker != entry.home { workers[entry.home].delegatedAway -= 1 }
            guard let target = placement(forHome: entry.home) else {
                unplaced.append(entry)
                continue
            }
            if target != entry.home { workers[entry.home].delegatedAway += 1 }
            placedFront[target, default: []].append(entry)
        }
        for (target, entries) in placedFront {
            // In front: these arrived before anything queued on the target for the same ids.
            workers[target].queue.insert(contentsOf: entries, at: workers[target].queue.startIndex)
            if let index = wakeIfIdle(target) { wake.append(index) }
        }
        outstanding -= unplaced.count
        return (wake, unplaced)
    }

    /// Records a connection going up or down. Going down moves its queue elsewhere (see ``requeue``).
    mutating func setUp(_ worker: Int, _ isUp: Bool) -> (wake: [Int], unplaced: [Entry]) {
        workers[worker].isUp = isUp
        if isUp {
            // Its own requests that were placed elsewhere while it was down stay there and finish first.
            return ([], [])
        }
        return requeue([], from: worker)
    }

    mutating func stopAccepting() {
        isAccepting = false
    }

    /// Whether `worker` has nothing left to run.
    func isDrained(_ worker: Int) -> Bool {
        workers[worker].queue.isEmpty
    }
}
