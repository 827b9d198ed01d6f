import PGStateProtocol
import Synchronization

/// Everything one reactor counts for operators: requests by namespace, operation and outcome, how long store
/// requests took and waited, batch sizes, commits, refusals, reconnects and database errors.
///
/// Pure and mergeable, like ``RequestStatistics``: the reactor counts with plain arithmetic on its own thread (no
/// atomics, no locks on the request path), and a reader gets a copy through ``ReactorMessage/report(_:_:)`` and
/// merges the reactors' copies. Every counter only grows, so the merged figures are monotonic too.
public struct ReactorMetrics: Sendable {
    /// The `op` label: every request type, and `unknown` for frames of no known type.
    public enum Operation: Int, CaseIterable, Sendable {
        case hello, ping, whoami, load, upsert, delete, health, stats, clients, pause, resume
        case bulkLoad, bulkWrite, transact, list, unknown

        public var label: String { Self.labels[rawValue] }
        private static let labels = ["hello", "ping", "whoami", "load", "upsert", "delete", "health", "stats",
                                     "clients", "pause", "resume", "bulk_load", "bulk_write", "transact", "list",
                                     "unknown"]

        init(_ type: MessageType) {
            switch type {
            case .hello: self = .hello
            case .ping: self = .ping
            case .whoami: self = .whoami
            case .load: self = .load
            case .upsert: self = .upsert
            case .delete: self = .delete
            case .health: self = .health
            case .stats: self = .stats
            case .clients: self = .clients
            case .pause: self = .pause
            case .resume: self = .resume
            case .bulkLoad: self = .bulkLoad
            case .bulkWrite: self = .bulkWrite
            case .transact: self = .transact
            case .list: self = .list
            default: self = .unknown
            }
        }

        /// The store operations, whose durations are histograms.
        static let store: [Operation] = [.load, .upsert, .delete, .bulkLoad, .bulkWrite, .transact, .list]
        var storeIndex: Int? {
            switch self {
            case .load: return 0
            case .upsert: return 1
            case .delete: return 2
            case .bulkLoad: return 3
            case .bulkWrite: return 4
            case .transact: return 5
            case .list: return 6
            default: return nil
            }
        }
    }

    /// The `outcome` label: `ok`, `not_found`, `conflict`, or the ERROR status in lower case.
    public enum Outcome: Int, CaseIterable, Sendable {
        case ok, notFound, conflict
        case malformedFrame, unknownMessageType, invalidArgument, frameTooLarge, unsupportedVersion, notAllowed
        case permissionDenied, unavailable, overloaded, shuttingDown, outcomeUnknown, internalError
        /// A status outside the table (never sent by this server; kept so that every answer is counted).
        case otherError

        public var label: String { Self.labels[rawValue] }
        private static let labels = ["ok", "not_found", "conflict", "malformed_frame", "unknown_message_type",
                                     "invalid_argument", "frame_too_large", "unsupported_version", "not_allowed",
                                     "permission_denied", "unavailable", "overloaded", "shutting_down",
                                     "outcome_unknown", "internal_error", "other_error"]

        init(_ response: Response) {
            switch response {
            case .notFound: self = .notFound
            case .conflict: self = .conflict
            case .error(let error): self = Outcome(error.status)
            case .transactConflict: self = .conflict
            case .helloOK, .ok, .record, .whoamiOK, .healthOK, .statsOK, .clientsOK, .records, .outcomes, .listOK:
                self = .ok
            }
        }

        init(_ status: Status) {
            switch status {
            case .malformedFrame: self = .malformedFrame
            case .unknownMessageType: self = .unknownMessageType
            case .invalidArgument: self = .invalidArgument
            case .frameTooLarge: self = .frameTooLarge
            case .unsupportedVersion: self = .unsupportedVersion
            case .notAllowed: self = .notAllowed
            case .permissionDenied: self = .permissionDenied
            case .unavailable: self = .unavailable
            case .overloaded: self = .overloaded
            case .shuttingDown: self = .shuttingDown
            case .outcomeUnknown: self = .outcomeUnknown
            case .internalError: self = .internalError
            default: self = .otherError
            }
        }
    }

    /// The `reason` label of refused connections.
    public enum Refusal: Int, CaseIterable, Sendable {
        case connectionLimit, identityLimit, handshakeLimit, permissionDenied, handshakeTimeout

        public var label: String { Self.labels[rawValue] }
        private static let labels = ["connection_limit", "identity_limit", "handshake_limit", "permission_denied",
                                     "handshake_timeout"]
    }

    /// Namespaces with a label value of their own, across the server (``NamespaceLabels``); the rest share
    /// ``otherNamespace``.
    public static let maxNamespaces = 64
    public static let otherNamespace = "(other)"
    /// Distinct SQLSTATEs counted by name; the rest are counted under `other`.
    static let maxSQLStates = 128

    static let cellsPerNamespace = Operation.allCases.count * Outcome.allCases.count

    /// Label values of the namespaces counted, by slot (the last slot, once full, is ``otherNamespace``).
    public private(set) var namespaces: [String] = []
    private var namespaceSlots: [String: Int] = [:]
    /// `requests[slot * cellsPerNamespace + operation * outcomes + outcome]`.
    private var requests: [UInt64] = []
    /// Store requests, accepted → answer queued, per store operation (load, upsert, delete).
    public private(set) var durations = [RequestStatistics](repeating: RequestStatistics(), count: Operation.store.count)
    /// Store requests, accepted → sent to PostgreSQL.
    public private(set) var queueWait = RequestStatistics()
    /// Requests per pipeline batch.
    public private(set) var batchSizes = CountHistogram()
    public var commits: UInt64 = 0
    public var slowRequests: UInt64 = 0
    public var reconnects: UInt64 = 0
    public private(set) var refusals = [UInt64](repeating: 0, count: Refusal.allCases.count)
    public private(set) var databaseErrors: [String: UInt64] = [:]

    public init() {}

    /// The slot of a namespace's counters. A namespace seen for the first time gets a label of its own if
    /// `labels` still has room (the same answer on every reactor), else it is counted under ``otherNamespace``.
    mutating func slot(for namespace: String, labels: NamespaceLabels) -> Int {
        if let slot = namespaceSlots[namespace] { return slot }
        let label = labels.admit(namespace) ? namespace : Self.otherNamespace
        if let slot = namespaceSlots[label] {
            namespaceSlots[namespace] = slot
            return slot
        }
        namespaces.append(label)
        namespaceSlots[label] = namespaces.count - 1
        namespaceSlots[namespace] = namespaces.count - 1
        requests.append(contentsOf: repeatElement(0, count: Self.cellsPerNamespace))
        return namespaces.count - 1
    }

    mutating func count(_ operation: Operation, _ outcome: Outcome, namespaceSlot: Int) {
        requests[namespaceSlot * Self.cellsPerNamespace + operation.rawValue * Outcome.allCases.count
                 + outcome.rawValue] &+= 1
    }

    /// A store request answered after `microseconds`.
    mutating func recordDuration(_ operation: Operation, microseconds: Int64) {
        if let index = operation.storeIndex { durations[index].record(microseconds: microseconds) }
    }

    mutating func recordQueueWait(microseconds: Int64) {
        queueWait.record(microseconds: microseconds)
    }

    mutating func recordBatch(requests: Int) {
        batchSizes.record(UInt64(requests))
    }

    mutating func refused(_ reason: Refusal) {
        refusals[reason.rawValue] &+= 1
    }

    mutating func databaseError(sqlState: String) {
        let key = databaseErrors[sqlState] != nil || databaseErrors.count < Self.maxSQLStates ? sqlState : "other"
        databaseErrors[key, default: 0] &+= 1
    }

    /// Every store request's duration, whatever its operation (for `STATUS=` and the slow-request figures).
    public var allDurations: RequestStatistics {
        durations.reduce(into: RequestStatistics()) { $0.merge($1) }
    }

    /// The request counters that are not zero: (namespace, operation, outcome, count).
    public var requestCounts: [(namespace: String, operation: Operation, outcome: Outcome, count: UInt64)] {
        var counts: [(String, Operation, Outcome, UInt64)] = []
        for (slot, namespace) in namespaces.enumerated() {
            for operation in Operation.allCases {
                for outcome in Outcome.allCases {
                    let value = requests[slot * Self.cellsPerNamespace + operation.rawValue * Outcome.allCases.count
                                         + outcome.rawValue]
                    if value > 0 { counts.append((namespace, operation, outcome, value)) }
                }
            }
        }
        return counts
    }

    /// Adds another reactor's figures. Namespaces are matched by label.
    public mutating func merge(_ other: ReactorMetrics) {
        for (otherSlot, namespace) in other.namespaces.enumerated() {
            let slot: Int
            if let existing = namespaceSlots[namespace] {
                slot = existing
            } else {
                namespaces.append(namespace)
                slot = namespaces.count - 1
                namespaceSlots[namespace] = slot
                requests.append(contentsOf: repeatElement(0, count: Self.cellsPerNamespace))
            }
            for cell in 0..<Self.cellsPerNamespace {
                requests[slot * Self.cellsPerNamespace + cell] &+= other.requests[otherSlot * Self.cellsPerNamespace + cell]
            }
        }
        for index in durations.indices { durations[index].merge(other.durations[index]) }
        queueWait.merge(other.queueWait)
        batchSizes.merge(other.batchSizes)
        commits &+= other.commits
        slowRequests &+= other.slowRequests
        reconnects &+= other.reconnects
        for index in refusals.indices { refusals[index] &+= other.refusals[index] }
        for (state, count) in other.databaseErrors { databaseErrors[state, default: 0] &+= count }
    }
}

/// A histogram of small counts with power-of-two bounds: bucket `k` holds values in (2^(k-1), 2^k], bucket 0
/// values ≤ 1. Exact for the inclusive `le` bounds 1, 2, 4, … of the exposition.
public struct CountHistogram: Sendable, Equatable {
    public static let bucketCount = 11  // le 1 … 1024; one more bucket holds larger values (+Inf)
    public private(set) var buckets = [UInt64](repeating: 0, count: bucketCount + 1)
    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0

    public init() {}

    static func bucket(_ value: UInt64) -> Int {
        guard value > 1 else { return 0 }
        return min(bucketCount, 64 - (value - 1).leadingZeroBitCount)
    }

    /// The inclusive upper bound of bucket `index` (nil: +Inf).
    public static func upperBound(ofBucket index: Int) -> UInt64? {
        index < bucketCount ? UInt64(1) << UInt64(index) : nil
    }

    mutating func record(_ value: UInt64) {
        buckets[Self.bucket(value)] &+= 1
        count &+= 1
        sum &+= value
    }

    mutating func merge(_ other: CountHistogram) {
        for index in buckets.indices { buckets[index] &+= other.buckets[index] }
        count &+= other.count
        sum &+= other.sum
    }
}

/// Which namespaces have a label value of their own, decided once for the whole server: the first
/// ``ReactorMetrics/maxNamespaces`` seen. Reactors ask only when they see a namespace for the first time (then
/// they remember), so the lock is off the request path; and a namespace's label never changes, so its counters
/// never jump.
public final class NamespaceLabels: Sendable {
    private let admitted = Mutex<Set<String>>([])

    public init() {}

    /// Whether `namespace` has (or now gets) its own label.
    func admit(_ namespace: String) -> Bool {
        admitted.withLock { admitted in
            if admitted.contains(namespace) { return true }
            guard admitted.count < ReactorMetrics.maxNamespaces else { return false }
            admitted.insert(namespace)
            return true
        }
    }
}
