import CPGStateSys
import Glibc

/// A thin wrapper over one epoll instance, level-triggered. Each registration carries a ``Token``.
struct Epoll: ~Copyable {
    struct Events: OptionSet, Hashable {
        var rawValue: UInt32
        static let input = Events(rawValue: PGSTATE_EPOLL_IN)
        static let output = Events(rawValue: PGSTATE_EPOLL_OUT)
        /// The peer shut its sending side down (half-close).
        static let readHangUp = Events(rawValue: PGSTATE_EPOLL_RDHUP)
        /// Always reported, never requested.
        static let error = Events(rawValue: PGSTATE_EPOLL_ERR)
        static let hangUp = Events(rawValue: PGSTATE_EPOLL_HUP)
    }

    /// What a ready descriptor is: its kind, its slot in the reactor's tables and the slot's generation. A slot
    /// reused within one `epoll_wait` batch has a new generation, so events meant for its previous owner are
    /// recognized and dropped.
    struct Token: Hashable {
        enum Kind: UInt64 {
            case wake = 0
            case listener = 1
            case client = 2
            case database = 3
        }

        var kind: Kind
        var slot: Int
        var generation: UInt32

        var rawValue: UInt64 {
            (kind.rawValue << 62) | (UInt64(slot & 0x3FFF_FFFF) << 32) | UInt64(generation)
        }

        init(_ kind: Kind, slot: Int = 0, generation: UInt32 = 0) {
            self.kind = kind
            self.slot = slot
            self.generation = generation
        }

        init(rawValue: UInt64) {
            self.kind = Kind(rawValue: rawValue >> 62)!
            self.slot = Int((rawValue >> 32) & 0x3FFF_FFFF)
            self.generation = UInt32(truncatingIfNeeded: rawValue)
        }
    }

    struct SystemError: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
    }

    let descriptor: Int32
    private let readyEvents: UnsafeMutableBufferPointer<UInt32>
    private let readyData: UnsafeMutableBufferPointer<UInt64>

    static let batchCapacity = 256

    init() throws(SystemError) {
        let descriptor = pgstate_epoll_create()
        guard descriptor >= 0 else { throw SystemError(call: "epoll_create1", code: errno) }
        self.descriptor = descriptor
        self.readyEvents = .allocate(capacity: Self.batchCapacity)
        self.readyData = .allocate(capacity: Self.batchCapacity)
    }

    deinit {
        close(descriptor)
        readyEvents.deallocate()
        readyData.deallocate()
    }

    func add(_ fd: Int32, _ events: Events, _ token: Token) throws(SystemError) {
        guard pgstate_epoll_ctl(descriptor, 0, fd, events.rawValue, token.rawValue) == 0 else {
            throw SystemError(call: "epoll_ctl(ADD)", code: errno)
        }
    }

    func modify(_ fd: Int32, _ events: Events, _ token: Token) {
        let result = pgstate_epoll_ctl(descriptor, 1, fd, events.rawValue, token.rawValue)
        precondition(result == 0, "epoll_ctl(MOD) of fd \(fd) failed: errno \(errno)")
    }

    func remove(_ fd: Int32) {
        _ = pgstate_epoll_ctl(descriptor, 2, fd, 0, 0)
    }

    /// Waits for events (retrying on EINTR) and calls `body` for each. `timeout`: milliseconds, -1 for none.
    func wait(timeoutMilliseconds: Int32, _ body: (Token, Events) -> Void) {
        var count: Int32
        repeat {
            count = pgstate_epoll_wait(descriptor, readyEvents.baseAddress, readyData.baseAddress,
                                       Int32(Self.batchCapacity), timeoutMilliseconds)
        } while count < 0 && errno == EINTR
        precondition(count >= 0, "epoll_wait failed: errno \(errno)")
        for index in 0..<Int(count) {
            body(Token(rawValue: readyData[index]), Events(rawValue: readyEvents[index]))
        }
    }
}

/// The monotonic clock in milliseconds.
func monotonicMicroseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Wall-clock milliseconds since 1970 (for what operators read as a time of day, never for intervals).
func unixMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
}
