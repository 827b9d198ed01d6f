import NIOCore
import PGStateProtocol
import PGStateStore
import Testing

@testable import PGStateServer

private let limits = ProtocolLimits(maxFrameBytes: 5_000, maxIDBytes: 255, maxStateBytes: 100, maxInFlight: 8)

private func ready(_ permissions: Permissions) throws -> ClientConnectionStateMachine {
    var machine = ClientConnectionStateMachine(
        limits: limits, serverVersion: "pgstated test",
        access: .init(identity: PeerIdentity(uid: 1000, gid: 1000, pid: 1, groups: [1000], userName: "alice"),
                      grant: AccessGrant(namespace: try Namespace("billing"), permissions: permissions, rule: "f:1")))
    let hello = machine.frameReceived(try Frames.request(.hello(Hello(versions: [1], clientName: "tool/1")), id: 1))
    guard case .send(let frame) = hello, case .helloOK(let ok) = frame.response else {
        Issue.record("no HELLO_OK: \(hello)")
        return machine
    }
    #expect(ok.capabilities.contains(.operator), "OPERATOR is announced")
    #expect(machine.clientName == "tool/1")
    machine.outputBuffered(0)
    return machine
}

@Suite("Operators' requests in the connection state machine")
struct OperatorStateMachineTests {
    @Test(arguments: [Request.stats, .clients(after: 0), .pause(timeoutMilliseconds: 1000), .resume])
    func adminRequestsNeedAdmin(request: Request) throws {
        var machine = try ready([.read, .write])
        let action = machine.frameReceived(try Frames.request(request, id: 9))
        guard case .deny(let frame, let closes) = action, case .error(let error) = frame.response else {
            Issue.record("expected a denial, got \(action)")
            return
        }
        #expect(!closes, "the connection stays open")
        #expect(frame.requestID == 9)
        #expect(error.status == .permissionDenied)
        #expect(error.message.contains("admin"))
        #expect(machine.executing == 0, "nothing was done")

        var admin = try ready([.read, .admin])
        #expect(admin.frameReceived(try Frames.request(request, id: 10)) == .operate(requestID: 10, request))
        #expect(admin.executing == 1, "answered like a store request, through answered(_:)")
        #expect(admin.answered(ResponseFrame(requestID: 10, response: .ok)).kind == .send)
        #expect(admin.executing == 0)
    }

    @Test func healthNeedsNothing() throws {
        var machine = try ready([])
        #expect(machine.frameReceived(try Frames.request(.health, id: 3)) == .operate(requestID: 3, .health))
    }
}

@Suite("ReactorMetrics")
struct ReactorMetricsTests {
    @Test func countsByNamespaceOperationAndOutcomeAndMerges() {
        let labels = NamespaceLabels()
        var first = ReactorMetrics()
        let shared = first.slot(for: "", labels: labels)
        let billing = first.slot(for: "billing", labels: labels)
        first.count(.load, .ok, namespaceSlot: shared)
        first.count(.load, .ok, namespaceSlot: shared)
        first.count(.upsert, .conflict, namespaceSlot: billing)
        var second = ReactorMetrics()
        second.count(.upsert, .conflict, namespaceSlot: second.slot(for: "billing", labels: labels))
        second.count(.ping, .ok, namespaceSlot: second.slot(for: "orders", labels: labels))
        first.merge(second)
        let counts = Dictionary(uniqueKeysWithValues: first.requestCounts.map {
            ("\($0.namespace)/\($0.operation.label)/\($0.outcome.label)", $0.count)
        })
        #expect(counts == ["/load/ok": 2, "billing/upsert/conflict": 2, "orders/ping/ok": 1])
    }

    @Test func namespacesBeyondTheLimitShareOneLabelAcrossReactors() {
        let labels = NamespaceLabels()
        var first = ReactorMetrics()
        var second = ReactorMetrics()
        for index in 0..<(ReactorMetrics.maxNamespaces + 10) {
            // Each reactor sees half of the namespaces first; the limit is the server's, not a reactor's.
            if index % 2 == 0 {
                first.count(.load, .ok, namespaceSlot: first.slot(for: "ns\(index)", labels: labels))
            } else {
                second.count(.load, .ok, namespaceSlot: second.slot(for: "ns\(index)", labels: labels))
            }
        }
        // A namespace admitted by one reactor keeps its label on the other.
        second.count(.load, .ok, namespaceSlot: second.slot(for: "ns0", labels: labels))
        var merged = first
        merged.merge(second)
        #expect(merged.namespaces.count == ReactorMetrics.maxNamespaces + 1, "64 own labels and (other)")
        let counts = Dictionary(grouping: merged.requestCounts, by: \.namespace).mapValues { $0.map(\.count).reduce(0, +) }
        #expect(counts[ReactorMetrics.otherNamespace] == 10)
        #expect(counts["ns0"] == 2)
    }

    @Test(arguments: [
        (Response.ok, ReactorMetrics.Outcome.ok), (.notFound, .notFound),
        (.conflict(Conflict(expectedRevision: 1, actualRevision: 2)), .conflict),
        (.error(ErrorResponse(status: .invalidArgument, message: "")), .invalidArgument),
        (.error(ErrorResponse(status: .unavailable, message: "")), .unavailable),
        (.error(ErrorResponse(status: Status(rawValue: 777), message: "")), .otherError),
    ])
    func outcomesFromResponses(response: Response, outcome: ReactorMetrics.Outcome) {
        #expect(ReactorMetrics.Outcome(response) == outcome)
    }

    @Test func everyStatusOfTheTableHasItsOwnOutcome() {
        let outcomes = Status.allDefined.map { ReactorMetrics.Outcome($0) }
        #expect(Set(outcomes.map(\.rawValue)).count == Status.allDefined.count)
        #expect(!outcomes.contains(.otherError))
        #expect(Status.allDefined.allSatisfy { ReactorMetrics.Outcome($0).label == $0.name.lowercased() })
    }

    @Test func countHistogramBoundsAreInclusivePowersOfTwo() {
        #expect(CountHistogram.bucket(0) == 0)
        #expect(CountHistogram.bucket(1) == 0)
        #expect(CountHistogram.bucket(2) == 1)
        #expect(CountHistogram.bucket(3) == 2)
        #expect(CountHistogram.bucket(4) == 2)
        #expect(CountHistogram.bucket(5) == 3)
        #expect(CountHistogram.bucket(1024) == 10)
        #expect(CountHistogram.bucket(1025) == CountHistogram.bucketCount, "+Inf")
        for value in [1, 2, 3, 4, 5, 8, 9, 1000, 1024] as [UInt64] {
            let bucket = CountHistogram.bucket(value)
            #expect(value <= CountHistogram.upperBound(ofBucket: bucket)!)
            if bucket > 0 { #expect(value > CountHistogram.upperBound(ofBucket: bucket - 1)!) }
        }
    }
}

@Suite("ServerMetrics")
struct ServerMetricsTests {
    private func metrics(_ build: (inout ReactorMetrics) -> Void) -> ServerMetrics {
        var reactor = ReactorMetrics()
        build(&reactor)
        let report = ReactorReport(metrics: reactor, pool: PoolCounts(idle: 1, busy: 1, connecting: 0, down: 2),
                                   inFlight: 3, queued: 1)
        return ServerMetrics(reports: [report], reactors: 1,
                             health: Health(state: [.poolUp], poolUp: 2, poolSize: 4, clients: 5, uptimeMilliseconds: 1500),
                             version: "pgstated 1.2.3")
    }

    @Test func durationBucketsAreCumulativeAndExactAtTheirBounds() throws {
        let server = metrics { reactor in
            for microseconds in [15, 16, 17, 100, 1000, 20_000_000] as [Int64] {
                reactor.recordDuration(.load, microseconds: microseconds)
            }
        }
        let family = try #require(server.families.first { $0.name == "pgstate_request_duration_seconds" })
        let load = try #require(family.histograms.first { $0.labels.first?.1 == "load" })
        #expect(load.count == 6)
        func cumulative(_ bound: Double) -> UInt64? { load.buckets.first { abs($0.upperBound - bound) < 1e-12 }?.count }
        #expect(cumulative(0.000016) == 1, "below 16 µs: 15 (16 itself falls in the next bucket, < 17 µs)")
        #expect(cumulative(0.000032) == 3)
        #expect(cumulative(0.000128) == 4)
        #expect(cumulative(0.001024) == 5)
        #expect(load.buckets.last!.count == 5, "20 s is beyond the last bound: only in +Inf")
        #expect(zip(load.buckets, load.buckets.dropFirst()).allSatisfy { $0.count <= $1.count })
        #expect(abs(load.sum - 20.001148) < 1e-9)
    }

    @Test func statsEntriesCarryTheSameFiguresSorted() throws {
        let server = metrics { reactor in
            reactor.count(.load, .notFound, namespaceSlot: reactor.slot(for: "a\"b", labels: NamespaceLabels()))
            reactor.recordBatch(requests: 3)
            reactor.commits = 7
        }
        let entries = server.statsEntries()
        #expect(entries == entries.sorted { ($0.name, $0.labels) < ($1.name, $1.labels) })
        func value(_ name: String, _ labels: String = "") -> Double? {
            entries.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("pgstate_requests_total", #"namespace="a\"b",op="load",outcome="not_found""#) == 1)
        #expect(value("pgstate_commits_total") == 7)
        #expect(value("pgstate_batch_requests_count") == 1)
        #expect(value("pgstate_batch_requests_sum") == 3)
        #expect(value("pgstate_batch_requests", #"quantile="0.99""#) == 4, "3 is in the bucket up to 4")
        #expect(value("pgstate_pool_connections", #"state="down""#) == 2)
        #expect(value("pgstate_build_info", #"version="1.2.3""#) == 1)
        #expect(value("pgstate_ready") == 1)
        #expect(value("pgstate_clients") == 5)
        #expect(value("pgstate_requests_queued") == 1)
    }

    @Test func aReactorThatDidNotAnswerMeansNotUp() {
        let server = ServerMetrics(reports: [], reactors: 2,
                                   health: Health(state: [], poolUp: 0, poolSize: 2, clients: 0, uptimeMilliseconds: 0),
                                   version: "pgstated 1")
        #expect(server.families.first { $0.name == "pgstate_up" }?.samples.first?.value == 0)
    }
}
