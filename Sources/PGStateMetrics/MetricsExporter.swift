import PGStateServer
import Prometheus
import Synchronization

/// Turns the server's figures into the Prometheus text exposition, and answers the health endpoints.
///
/// Counters and gauges go through swift-prometheus' registry. The figures live in the reactors (plain fields,
/// merged at scrape time, so the request path pays for no atomics); a scrape sets each gauge and advances each
/// counter by what its merged value grew since the last scrape, so the registry's counters equal the merged
/// ones. Histograms are pre-aggregated in the reactors, which the registry's histograms (one observation at a
/// time) cannot take, so they are written here, after the registry's output, in the same format.
public final class MetricsExporter: Sendable {
    private let server: PGStateServer
    private let registry = PrometheusCollectorRegistry()
    /// Counter values already given to the registry, by name and label text.
    private let pumped = Mutex<[String: Double]>([:])

    public init(server: PGStateServer) {
        self.server = server
    }

    public struct Answer: Sendable {
        public var status: Int
        public var contentType: String
        public var body: String
    }

    /// The answer to one HTTP request.
    public func answer(method: String, path: String) async -> Answer {
        guard method == "GET" || method == "HEAD" else {
            return Answer(status: 405, contentType: "text/plain", body: "only GET is served\n")
        }
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch route {
        case "/metrics":
            return Answer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                          body: render(await server.metrics()))
        case "/health/live":
            let alive = await server.metrics(timeout: .seconds(2)).allReactorsAnswered
            return Answer(status: alive ? 200 : 503, contentType: "text/plain",
                          body: alive ? "live\n" : "not live: a server thread did not answer within 2 s\n")
        case "/health/ready":
            let metrics = await server.metrics(timeout: .seconds(2))
            var reasons = metrics.health.notReadyReasons
            if !metrics.allReactorsAnswered { reasons.append("a server thread did not answer within 2 s") }
            return Answer(status: reasons.isEmpty ? 200 : 503, contentType: "text/plain",
                          body: reasons.isEmpty ? "ready\n" : "not ready: \(reasons.joined(separator: ", "))\n")
        default:
            return Answer(status: 404, contentType: "text/plain",
                          body: "not found; try /metrics, /health/live or /health/ready\n")
        }
    }

    /// The exposition of `metrics` and of this process.
    public func render(_ metrics: ServerMetrics) -> String {
        let families = metrics.families + Self.processFamilies(ProcessMetrics.read())
        var histograms = ""
        pumped.withLock { pumped in
            for family in families {
                let descriptor = MetricNameDescriptor(metricName: family.name, unitName: "", helpText: family.help)
                switch family.kind {
                case .gauge:
                    for sample in family.samples {
                        registry.makeGauge(descriptor: descriptor, labels: sample.labels).set(sample.value)
                    }
                case .counter:
                    for sample in family.samples {
                        let counter = registry.makeCounter(descriptor: descriptor, labels: sample.labels)
                        let key = family.name + "{" + ServerMetrics.labelText(sample.labels) + "}"
                        // Two scrapes may finish out of order: a counter never goes back.
                        let growth = sample.value - pumped[key, default: 0]
                        if growth > 0 {
                            counter.increment(by: growth)
                            pumped[key] = sample.value
                        }
                    }
                case .histogram:
                    Self.write(family, into: &histograms)
                }
            }
        }
        return registry.emitToString() + histograms
    }

    static func processFamilies(_ process: ProcessMetrics) -> [MetricFamily] {
        func gauge(_ name: String, _ help: String, _ value: Double) -> MetricFamily {
            MetricFamily(name: name, kind: .gauge, help: help, samples: [.init(labels: [], value: value)])
        }
        return [
            MetricFamily(name: "process_cpu_seconds_total", kind: .counter, help: "user and system CPU time spent",
                         samples: [.init(labels: [], value: process.cpuSeconds)]),
            gauge("process_resident_memory_bytes", "resident memory size", process.residentBytes),
            gauge("process_virtual_memory_bytes", "virtual memory size", process.virtualBytes),
            gauge("process_open_fds", "open file descriptors", process.openDescriptors),
            gauge("process_max_fds", "maximum number of open file descriptors", process.maxDescriptors),
            gauge("process_start_time_seconds", "start time of the process since the Unix epoch", process.startTimeSeconds),
            gauge("process_threads", "operating system threads", process.threads),
        ]
    }

    /// One histogram family in the text format: cumulative `_bucket` series with `le`, then `_sum` and `_count`.
    static func write(_ family: MetricFamily, into text: inout String) {
        text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) histogram\n"
        for histogram in family.histograms {
            let labels = ServerMetrics.labelText(histogram.labels)
            let prefix = labels.isEmpty ? "" : labels + ","
            for (bound, count) in histogram.buckets {
                text += "\(family.name)_bucket{\(prefix)le=\"\(decimal(bound))\"} \(count)\n"
            }
            text += "\(family.name)_bucket{\(prefix)le=\"+Inf\"} \(histogram.count)\n"
            let braces = labels.isEmpty ? "" : "{\(labels)}"
            text += "\(family.name)_sum\(braces) \(decimal(histogram.sum))\n"
            text += "\(family.name)_count\(braces) \(histogram.count)\n"
        }
    }

    /// A bound or sum without exponent notation where it is short (`0.000016`, `1024`), else Swift's form.
    static func decimal(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        let micros = (value * 1e6).rounded()
        if abs(value) < 1e9 && abs(micros / 1e6 - value) < 1e-12 {
            let whole = Int64(micros) / 1_000_000
            var fraction = String(Int64(micros) % 1_000_000)
            fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return "\(whole).\(fraction)"
        }
        return "\(value)"
    }
}
