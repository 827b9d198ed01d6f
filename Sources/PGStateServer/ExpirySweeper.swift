import Glibc
import Logging
import PGStateStore
import Synchronization

/// The thread that deletes expired rows every `--ttl-sweep-interval` (``ExpirySweep`` holds the SQL and its
/// connection). It shares nothing with the reactors but the count of rows it deleted and the flag that stops it,
/// so it never delays a request; a full batch is followed by the next at once, then it sleeps.
final class ExpirySweeper: Sendable {
    private let store: StoreConfiguration
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    /// Rows deleted since the start, for `pgstate_expired_rows_deleted_total`.
    let deleted = Atomic<UInt64>(0)

    init(store: StoreConfiguration, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func start() {
        guard store.expirySweepIntervalMilliseconds > 0 else { return }
        spawnThread(name: "pgstate-sweep") { [self] in run() }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    private func run() {
        let sweep = ExpirySweep(store)
        var failing = false
        while sleep(milliseconds: store.expirySweepIntervalMilliseconds) {
            do {
                var total = 0
                while !stopping.load(ordering: .relaxed) {
                    let count = try sweep.sweep(limit: store.expirySweepBatch)
                    total += count
                    deleted.add(UInt64(count), ordering: .relaxed)
                    if count < store.expirySweepBatch { break }
                }
                if failing { logger.info("expiry sweep works again") }
                failing = false
                if total > 0 { logger.debug("expiry sweep deleted \(total) expired rows") }
            } catch {
                // Before the pool has created the table, or while the database is away: the next round retries.
                logger.log(level: failing ? .debug : .warning, "expiry sweep failed, retrying in \(store.expirySweepIntervalMilliseconds) ms: \(error)")
                failing = true
            }
        }
    }

    /// Sleeps in steps of 50 ms; false once stopped.
    private func sleep(milliseconds: Int) -> Bool {
        var left = milliseconds
        while left > 0 {
            if stopping.load(ordering: .relaxed) { return false }
            let step = min(left, 50)
            var time = timespec(tv_sec: 0, tv_nsec: step * 1_000_000)
            nanosleep(&time, nil)
            left -= step
        }
        return !stopping.load(ordering: .relaxed)
    }
}
