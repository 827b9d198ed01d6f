import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// Limits that keep one client from growing the daemon's memory or queue without bound.
@Suite("Backpressure and limits", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct BackpressureTests {
    static func creates(_ prefix: String, count: UInt32, stateBytes: Int) -> [RequestFrame] {
        (1...count).map {
            RequestFrame(requestID: $0, request: .upsert(Upsert(
                persistenceID: try! PersistenceID("\(prefix)-\($0)"), expectedRevision: 0,
                state: ByteBuffer(repeating: 0x5A, count: stateBytes))))
        }
    }

    /// A client that sends many requests and reads no response: pgstated stops reading from it at the in-flight
    /// limit (and while its responses pile up), so only a few requests run; reading resumes when the client reads.
    @Test func aClientThatDoesNotReadIsNotRead() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--max-in-flight", "4"])
        let prefix = TestEnvironment.uniqueID("unread")
        let count: UInt32 = 200
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            #expect(client.helloOK?.limits.maxInFlight == 4)
            let frames = Self.creates(prefix, count: count, stateBytes: 32 * 1024)
            // Send without reading, from a separate task: the socket fills up once pgstated stops reading.
            let sender = client.sendInBackground(frames)
            try await Task.sleep(nanoseconds: 1_500_000_000)
            let executed = Int(try await TestEnvironment.psql(
                "SELECT count(*) FROM durable_state WHERE persistence_id LIKE '\(prefix)-%'"))!
            print("backpressure: \(executed) of \(count) requests executed while the client read nothing")
            #expect(executed < Int(count) / 2, "pgstated kept reading from a client that reads nothing")
            // Reading the responses lets everything through.
            for _ in 0..<count {
                let response = try #require(try await client.receive())
                #expect(response.response.revision == 1)
            }
            try await sender.value
        }
        #expect(await daemon.terminate() == 0)
    }

    /// Beyond the pool's queue limit requests are refused with OVERLOADED (retryable, not executed); the rest run.
    @Test func queueLimitAnswersOverloaded() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--queue-limit", "2", "--pool-size", "1"])
        let prefix = TestEnvironment.uniqueID("overload")
        let count: UInt32 = 300
        var acknowledged = Set<UInt32>()
        var overloaded = 0
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            try await client.send(Self.creates(prefix, count: count, stateBytes: 16))
            for _ in 0..<count {
                let response = try #require(try await client.receive())
                if response.response.revision == 1 {
                    acknowledged.insert(response.requestID)
                } else {
                    #expect(response.response.status == .overloaded, "\(response)")
                    overloaded += 1
                }
            }
        }
        let stored = Set(try await TestEnvironment.psql(
            "SELECT persistence_id FROM durable_state WHERE persistence_id LIKE '\(prefix)-%'"
        ).split(separator: "\n").map { UInt32($0.split(separator: "-").last!)! })
        print("queue limit 2: \(acknowledged.count) executed, \(overloaded) refused with OVERLOADED")
        #expect(overloaded > 0 && !acknowledged.isEmpty)
        #expect(stored == acknowledged, "refused requests were not executed")
        #expect(await daemon.terminate() == 0)
    }
}
