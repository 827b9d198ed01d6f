import PGStateProtocol

/// One metric as operators see it, in Prometheus' terms: a name, a type, help, and its series. Both STATS
/// (``statsEntries(_:)``) and `/metrics` are written from these, so the two never disagree.
public struct MetricFamily: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Sample: Sendable {
        public var labels: [(String, String)]
        public var value: Double

        public init(labels: [(String, String)], value: Double) {
            self.labels = labels
            self.value = value
        }
    }

    public struct Histogram: Sendable {
        public var labels: [(String, String)]
        /// Cumulative counts by inclusive upper bound, ascending; the `+Inf` bucket is ``count``.
        public var buckets: [(upperBound: Double, count: UInt64)]
        public var count: UInt64
        public var sum: Double
        /// Upper bounds of the buckets holding the median and the 99th percentile (nil without observations).
        public var median: Double?
        public var p99: Double?
    }

    public var name: String
    public var kind: Kind
    public var help: String
    public var samples: [Sample] = []
    public var histograms: [Histogram] = []

    public init(name: String, kind: Kind, help: String, samples: [Sample] = [], histograms: [Histogram] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
        self.histograms = histograms
    }
}

/// The server's figures: every reactor's report merged, with what the server knows itself.
public struct ServerMetrics: Sendable {
    public var merged = ReactorMetrics()
    public var pool = PoolCounts()
    public var inFlight = 0
    public var queued = 0
    /// Every reactor answered (liveness).
    public var allReactorsAnswered: Bool
    public var health: Health
    public var version: String
    /// Rows the expiry sweeper deleted since the start.
    public var expiredRowsDeleted: UInt64 = 0

    init(reports: [ReactorReport], reactors: Int, health: Health, version: String) {
        for report in reports {
            merged.merge(report.metrics)
            pool.add(report.pool)
            inFlight += report.inFlight
            queued += report.queued
        }
        allReactorsAnswered = reports.count == reactors
        self.health = health
        self.version = version
    }

    /// Duration buckets: 2^k µs for k = 4…23 (16 µs to about 8.4 s).
    static let durationBounds: [Int64] = (4...23).map { Int64(1) << Int64($0) }

    public var families: [MetricFamily] {
        var families: [MetricFamily] = []
        func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
            families.append(MetricFamily(name: name, kind: .gauge, help: help,
                                         samples: [.init(labels: labels, value: value)]))
        }
        func counter(_ name: String, _ help: String, _ samples: [MetricFamily.Sample]) {
            families.append(MetricFamily(name: name, kind: .counter, help: help, samples: samples))
        }
        func one(_ value: UInt64) -> [MetricFamily.Sample] { [.init(labels: [], value: Double(value))] }

        gauge("pgstate_up", "1 when every server thread answered this scrape", allReactorsAnswered ? 1 : 0)
        gauge("pgstate_ready", "1 when the pool is up and the server is neither paused nor shutting down",
              health.isReady ? 1 : 0)
        gauge("pgstate_paused", "1 while PAUSE is in effect", health.state.contains(.paused) ? 1 : 0)
        gauge("pgstate_build_info", "the running version", 1,
              [("version", version.split(separator: " ").last.map(String.init) ?? version)])
        gauge("pgstate_uptime_seconds", "seconds since the server started", Double(health.uptimeMilliseconds) / 1000)
        counter("pgstate_requests_total", "requests answered, by namespace, operation and outcome",
                merged.requestCounts.map {
                    .init(labels: [("namespace", $0.namespace), ("op", $0.operation.label),
                                   ("outcome", $0.outcome.label)], value: Double($0.count))
                })
        families.append(MetricFamily(
            name: "pgstate_request_duration_seconds", kind: .histogram,
            help: "store requests, accepted to answer queued",
            histograms: ReactorMetrics.Operation.store.map {
                Self.histogram(merged.durations[$0.storeIndex!], labels: [("op", $0.label)])
            }))
        families.append(MetricFamily(
            name: "pgstate_queue_wait_seconds", kind: .histogram,
            help: "store requests, accepted to sent to PostgreSQL", histograms: [Self.histogram(merged.queueWait, labels: [])]))
        families.append(MetricFamily(
            name: "pgstate_batch_requests", kind: .histogram, help: "requests per pipeline batch sent to PostgreSQL",
            histograms: [Self.histogram(merged.batchSizes)]))
        counter("pgstate_commits_total", "transactions PostgreSQL committed (one per batch, or per request when a batch ran again one by one)",
                one(merged.commits))
        gauge("pgstate_clients", "client connections open", Double(health.clients))
        counter("pgstate_clients_refused_total", "connections refused, by reason",
                ReactorMetrics.Refusal.allCases.map {
                    .init(labels: [("reason", $0.label)], value: Double(merged.refusals[$0.rawValue]))
                })
        gauge("pgstate_requests_in_flight", "store requests accepted and not yet answered", Double(inFlight))
        gauge("pgstate_requests_queued", "store requests accepted and not yet sent to PostgreSQL", Double(queued))
        gauge("pgstate_pool_size", "database connections configured", Double(health.poolSize))
        families.append(MetricFamily(
            name: "pgstate_pool_connections", kind: .gauge, help: "database connections by state",
            samples: zip(PoolCounts.labels, pool.values).map { .init(labels: [("state", $0)], value: Double($1)) }))
        counter("pgstate_database_reconnects_total", "database connections re-established after a failure",
                one(merged.reconnects))
        counter("pgstate_database_errors_total", "statements PostgreSQL failed, by SQLSTATE",
                merged.databaseErrors.sorted { $0.key < $1.key }.map {
                    .init(labels: [("sqlstate", $0.key)], value: Double($0.value))
                })
        counter("pgstate_slow_requests_total", "requests slower than --slow-request-ms", one(merged.slowRequests))
        counter("pgstate_expired_rows_deleted_total", "expired rows (TTL) the sweeper deleted", one(expiredRowsDeleted))
        return families
    }

    static func histogram(_ statistics: RequestStatistics, labels: [(String, String)]) -> MetricFamily.Histogram {
        var buckets: [(Double, UInt64)] = []
        var index = 0
        var cumulative: UInt64 = 0
        for bound in durationBounds {
            // Integer microseconds below `bound` are the buckets whose exclusive upper bound is at most `bound`.
            while index < RequestStatistics.bucketCount && RequestStatistics.upperBound(ofBucket: index) <= bound {
                cumulative += statistics.buckets[index]
                index += 1
            }
            buckets.append((Double(bound) / 1e6, cumulative))
        }
        return .init(labels: labels, buckets: buckets, count: statistics.answered,
                     sum: Double(statistics.sumMicroseconds) / 1e6,
                     median: statistics.quantile(0.5).map { Double($0) / 1e6 },
                     p99: statistics.quantile(0.99).map { Double($0) / 1e6 })
    }

    static func histogram(_ counts: CountHistogram) -> MetricFamily.Histogram {
        var buckets: [(Double, UInt64)] = []
        var cumulative: UInt64 = 0
        for index in 0..<CountHistogram.bucketCount {
            cumulative += counts.buckets[index]
            buckets.append((Double(CountHistogram.upperBound(ofBucket: index)!), cumulative))
        }
        func quantile(_ q: Double) -> Double? {
            guard counts.count > 0 else { return nil }
            let rank = max(1, UInt64((Double(counts.count) * q).rounded(.up)))
            return buckets.first { $0.1 >= rank }?.0 ?? .infinity
        }
        return .init(labels: [], buckets: buckets, count: counts.count, sum: Double(counts.sum),
                     median: quantile(0.5), p99: quantile(0.99))
    }

    /// STATS_OK's entries: counters and gauges as they are; a histogram as `_count`, `_sum` and its median and
    /// 99th percentile (`quantile` label, as a summary has them). Sorted by name and labels.
    public func statsEntries() -> [StatsEntry] {
        var entries: [StatsEntry] = []
        for family in families {
            for sample in family.samples {
                entries.append(StatsEntry(name: family.name, labels: Self.labelText(sample.labels), value: sample.value))
            }
            for histogram in family.histograms {
                let labels = Self.labelText(histogram.labels)
                entries.append(StatsEntry(name: family.name + "_count", labels: labels, value: Double(histogram.count)))
                entries.append(StatsEntry(name: family.name + "_sum", labels: labels, value: histogram.sum))
                for (quantile, value) in [("0.5", histogram.median), ("0.99", histogram.p99)] {
                    guard let value else { continue }
                    entries.append(StatsEntry(name: family.name,
                                              labels: Self.labelText(histogram.labels + [("quantile", quantile)]),
                                              value: value))
                }
            }
        }
        entries.sort { ($0.name, $0.labels) < ($1.name, $1.labels) }
        return Array(entries.prefix(StatsEntry.maxCount))
    }

    /// `a="x",b="y"` with the exposition format's escapes (backslash, double quote, line feed).
    public static func labelText(_ labels: [(String, String)]) -> String {
        labels.map { name, value in
            var escaped = ""
            for character in value {
                switch character {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.append(character)
                }
            }
            return "\(name)=\"\(escaped)\""
        }.joined(separator: ",")
    }
}
