import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// Optimistic concurrency under real races, within one daemon and across two daemons on one database.
@Suite("Concurrency", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct ConcurrencyTests {
    /// Writers on separate connections race on one revision: exactly one wins, the rest see its revision.
    @Test(arguments: [0, 1] as [UInt64])
    func racingWritersExactlyOneWins(expected: UInt64) async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--pool-size", "4"])
        let id = TestEnvironment.uniqueID("race")
        if expected == 1 {
            try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
                #expect(try await client.upsert(id, 0, [0]).revision == 1)
            }
        }
        let results = try await withThrowingTaskGroup(of: Response.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
                        try await client.upsert(id, expected, [UInt8(writer)])
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0.revision == expected + 1 }.count == 1)
        #expect(results.filter { $0 == .conflict(expected, expected + 1) }.count == 7)
        #expect(await daemon.terminate() == 0)
    }

    /// Two daemons on one database, clients on both incrementing shared counters with load → upsert → retry.
    /// Every increment lands exactly once, and no conflict ever reports actual == expected.
    @Test func twoDaemonsShareOneDatabase() async throws {
        let first = try await DaemonProcess.start(arguments: ["--pool-size", "3"])
        let second = try await DaemonProcess.start(arguments: ["--pool-size", "3"])
        let counters = (0..<4).map { _ in TestEnvironment.uniqueID("counter") }
        let workers = 12
        let incrementsPerWorker = 20
        let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<workers {
                let socket = worker % 2 == 0 ? first.socketPath : second.socketPath
                group.addTask {
                    try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
                        var conflicts = 0
                        for step in 0..<incrementsPerWorker {
                            let id = counters[(worker + step) % counters.count]
                            while true {
                                let current = try await client.load(id)
                                let (revision, value): (UInt64, Int) = current.state.map {
                                    (current.revision!, Int(String(decoding: $0, as: UTF8.self))!)
                                } ?? (0, 0)
                                let result = try await client.upsert(id, revision, Array(String(value + 1).utf8))
                                if result.revision == revision + 1 { break }
                                guard case .conflict(let conflict) = result else {
                                    throw TestFailure("unexpected \(result)")
                                }
                                #expect(conflict.actualRevision != conflict.expectedRevision)
                                conflicts += 1
                            }
                        }
                        return conflicts
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        var total = 0
        try await TestClient.withConnection(to: first.socketPath) { (client: inout TestClient) async throws in
            for id in counters {
                let response = try await client.load(id)
                let value = Int(String(decoding: try #require(response.state), as: UTF8.self))!
                #expect(response.revision == UInt64(value), "one revision per increment")
                total += value
            }
        }
        print("two daemons: \(workers * incrementsPerWorker) increments, \(conflicts) conflicts retried")
        #expect(total == workers * incrementsPerWorker)
        #expect(await first.terminate() == 0)
        #expect(await second.terminate() == 0)
    }
}
