/// Keeps what one peer can make the daemon log bounded: at most ``burst`` lines per peer uid in each
/// ``windowMilliseconds``; the rest are counted and reported in one summary line when the window ends. Without
/// it, 2,000 bad connections in half a second are 2,000 log lines. Pure (time is passed in); one per reactor.
struct LogRateLimiter {
    struct Window {
        var start: Int64
        var logged = 0
        var suppressed = 0
    }

    /// A window that ended with lines suppressed: say so once.
    struct Summary: Equatable {
        var uid: UInt32
        var suppressed: Int
        var milliseconds: Int64
    }

    let burst: Int
    let windowMilliseconds: Int64
    private(set) var windows: [UInt32: Window] = [:]
    /// When ``expired(now:)`` next has something to look at.
    private(set) var nextCheck: Int64?

    init(burst: Int = 5, windowMilliseconds: Int64 = 10_000) {
        self.burst = burst
        self.windowMilliseconds = windowMilliseconds
    }

    /// Whether a line about `uid` may be logged now; a window of `uid` that has ended is closed first, its
    /// summary returned.
    mutating func admit(_ uid: UInt32, now: Int64) -> (log: Bool, summary: Summary?) {
        var summary: Summary?
        if let window = windows[uid], now - window.start >= windowMilliseconds {
            summary = Self.summary(uid, window, now: now)
            windows[uid] = nil
        }
        var window = windows[uid] ?? Window(start: now)
        defer {
            windows[uid] = window
            nextCheck = min(nextCheck ?? (window.start + windowMilliseconds), window.start + windowMilliseconds)
        }
        guard window.logged < burst else {
            window.suppressed += 1
            return (false, summary)
        }
        window.logged += 1
        return (true, summary)
    }

    /// Closes every window that has ended; returns the summaries of those that suppressed lines.
    mutating func expired(now: Int64) -> [Summary] {
        guard let check = nextCheck, check <= now else { return [] }
        var summaries: [Summary] = []
        nextCheck = nil
        for (uid, window) in windows {
            if now - window.start >= windowMilliseconds {
                if let summary = Self.summary(uid, window, now: now) { summaries.append(summary) }
                windows[uid] = nil
            } else {
                nextCheck = min(nextCheck ?? (window.start + windowMilliseconds), window.start + windowMilliseconds)
            }
        }
        return summaries.sorted { $0.uid < $1.uid }
    }

    private static func summary(_ uid: UInt32, _ window: Window, now: Int64) -> Summary? {
        window.suppressed > 0 ? Summary(uid: uid, suppressed: window.suppressed, milliseconds: now - window.start) : nil
    }
}
