import CSystemd
import Glibc

/// systemd integration: socket activation and `sd_notify`. All of it is a no-op outside systemd.
public enum Systemd {
    public struct ActivationError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The listening socket passed by systemd (`LISTEN_FDS`), or nil when not socket-activated.
    ///
    /// Calls `sd_listen_fds` once, which also unsets the `LISTEN_*` variables so children do not inherit them.
    public static func takeListeningSocket() throws -> Int32? {
        let count = sd_listen_fds(1)
        guard count >= 0 else {
            throw ActivationError(description: "sd_listen_fds failed: \(String(cString: strerror(-count)))")
        }
        guard count > 0 else { return nil }
        guard count == 1 else {
            throw ActivationError(description: "systemd passed \(count) sockets; pgstated takes exactly one")
        }
        let descriptor = SD_LISTEN_FDS_START
        guard sd_is_socket_unix(descriptor, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 else {
            throw ActivationError(description:
                "the socket passed by systemd (fd \(descriptor)) is not a listening Unix stream socket")
        }
        return descriptor
    }

    /// Sends a notification (`READY=1`, `STATUS=…`, `STOPPING=1`, `WATCHDOG=1`) if `NOTIFY_SOCKET` is set.
    public static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// The watchdog interval in microseconds when systemd expects `WATCHDOG=1` pings.
    public static var watchdogMicroseconds: UInt64? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return microseconds
    }

    /// CLOCK_MONOTONIC in microseconds, as `RELOADING=1` wants it in `MONOTONIC_USEC=`.
    public static var monotonicMicroseconds: UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    /// Whether stderr goes to the journal, so log lines should carry `<N>` syslog priority prefixes.
    public static var loggingToJournal: Bool {
        getenv("JOURNAL_STREAM") != nil || getenv("INVOCATION_ID") != nil
    }
}
