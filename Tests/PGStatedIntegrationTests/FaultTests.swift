import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// The database going away, and the daemon being stopped, with requests in flight.
@Suite("Faults", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct FaultTests {
    enum Outcome: Sendable {
        case acknowledged(String)
        case failed(String, Status)
    }

    /// PostgreSQL restarts while clients write continuously: requests meanwhile get clear, retryable errors
    /// (never a hang), the daemon stays up and serves again once the database is back, and every acknowledged
    /// write is durable.
    @Test func databaseRestartMidRun() async throws {
        try await ThrowawayCluster.with { cluster in try await restartMidRun(cluster) }
    }

    func restartMidRun(_ cluster: ThrowawayCluster) async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--pool-size", "2"], databaseURL: cluster.url)
        let prefix = TestEnvironment.uniqueID("restart")
        let phase = PhaseClock()

        let outcomes = try await withThrowingTaskGroup(of: [(Outcome, Double, Double)].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    // (outcome, latency, completion time)
                    var outcomes: [(Outcome, Double, Double)] = []
                    var n = 0
                    // Each worker reconnects when the server closes its connection, as a client library would.
                    while phase.elapsed < 9 {
                        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
                            while phase.elapsed < 9 {
                                n += 1
                                let id = "\(prefix)-\(worker)-\(n)"
                                let started = phase.elapsed
                                let response = try await client.upsert(id, 0, [1])
                                let latency = phase.elapsed - started
                                switch response {
                                case .record: outcomes.append((.acknowledged(id), latency, phase.elapsed))
                                case .error(let error):
                                    outcomes.append((.failed(id, error.status), latency, phase.elapsed))
                                default: throw TestFailure("unexpected \(response)")
                                }
                                if case .error = response { try await Task.sleep(nanoseconds: 50_000_000) }
                            }
                        }
                    }
                    return outcomes
                }
            }
            group.addTask {
                try await Task.sleep(nanoseconds: 1_500_000_000)
                try await cluster.stop()
                try await Task.sleep(nanoseconds: 2_000_000_000)
                try await cluster.start()
                return []
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }

        let acknowledged = outcomes.compactMap { if case .acknowledged(let id) = $0.0 { return id }; return nil }
        let failures = outcomes.compactMap { if case .failed(_, let status) = $0.0 { return status }; return nil }
        let slowest = outcomes.map(\.1).max() ?? 0
        print("restart: \(acknowledged.count) acknowledged, failures by status: "
              + "\(Dictionary(grouping: failures, by: \.name).mapValues(\.count)), slowest call \(Int(slowest * 1000)) ms")
        #expect(daemon.process.isRunning)
        #expect(!failures.isEmpty, "the outage was noticed")
        #expect(failures.allSatisfy { $0 == .unavailable || $0 == .outcomeUnknown }, "\(failures)")
        #expect(slowest < 8, "no call hangs while the database is down")
        // Service resumed: writes succeed again after the last failure.
        let lastFailure = outcomes.filter { if case .failed = $0.0 { return true }; return false }.map(\.2).max() ?? 0
        let resumed = outcomes.filter { if case .acknowledged = $0.0 { return $0.2 > lastFailure }; return false }
        #expect(resumed.count > 100, "served again once the database was back")

        // Every acknowledged write is in the database.
        let stored = Set(try await TestEnvironment.psql(
            "SELECT persistence_id FROM durable_state WHERE persistence_id LIKE '\(prefix)-%'", url: cluster.url
        ).split(separator: "\n").map(String.init))
        #expect(Set(acknowledged).isSubset(of: stored))
        #expect(await daemon.terminate() == 0)
    }

    /// SIGTERM while a client has hundreds of requests in flight: whatever was acknowledged is stored, whatever
    /// was refused (SHUTTING_DOWN) or never read is not, and the daemon exits 0.
    @Test func sigtermWithRequestsInFlight() async throws {
        let daemon = try await DaemonProcess.start()
        let prefix = TestEnvironment.uniqueID("sigterm")
        let count: UInt32 = 2000
        var responses = try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            try await client.send((1...count).map {
                RequestFrame(requestID: $0, request: .upsert(Upsert(
                    persistenceID: try! PersistenceID("\(prefix)-\($0)"), expectedRevision: 0,
                    state: ByteBuffer(bytes: [1]))))
            })
            daemon.process.signal(SIGTERM)
            var responses: [UInt32: Response] = [:]
            while let response = try await client.receive() { responses[response.requestID] = response.response }
            return responses
        }
        #expect(await daemon.waitForExit() == 0)
        // The last frame says that everything unanswered was not executed.
        #expect(responses.removeValue(forKey: 0)?.status == .shuttingDown)
        let acknowledged = Set(responses.filter { $0.value.revision == 1 }.keys)
        let refused = responses.filter { $0.value.status == .shuttingDown }.count
        #expect(acknowledged.count + refused == responses.count, "only records and SHUTTING_DOWN")
        let stored = Set(try await TestEnvironment.psql(
            "SELECT persistence_id FROM durable_state WHERE persistence_id LIKE '\(prefix)-%'"
        ).split(separator: "\n").map { UInt32($0.split(separator: "-").last!)! })
        print("sigterm: \(acknowledged.count) acknowledged, \(refused) refused, \(Int(count) - responses.count) unread")
        #expect(stored == acknowledged, "acknowledged writes are stored; nothing else is")
        #expect(daemon.log.contains("pgstated stopped"))
    }
}

/// Seconds since the test began.
final class PhaseClock: Sendable {
    private let start = Date()
    var elapsed: Double { Date().timeIntervalSince(start) }
}
