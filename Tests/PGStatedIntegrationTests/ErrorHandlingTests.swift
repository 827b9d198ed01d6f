import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// Bad input gets a clear error, loses nothing, and never hurts another client.
@Suite("Argument and protocol errors", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct ErrorHandlingTests {
    /// Raw UPSERT / DELETE frames, so that values a client library would refuse reach the server.
    static func upsertFrame(id: [UInt8], expected: UInt64, state: [UInt8] = [], requestID: UInt32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFrame(type: .upsert, requestID: requestID) {
            $0.writeInteger(UInt8(id.count))
            $0.writeBytes(id)
            $0.writeInteger(expected)
            $0.writeInteger(UInt32(state.count))
            $0.writeBytes(state)
        }
        return Array(buffer.readableBytesView)
    }

    static func deleteFrame(id: [UInt8], expected: UInt64, requestID: UInt32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFrame(type: .delete, flags: Delete.expectedRevisionFlag, requestID: requestID) {
            $0.writeInteger(UInt8(id.count))
            $0.writeBytes(id)
            $0.writeInteger(expected)
        }
        return Array(buffer.readableBytesView)
    }

    @Test func argumentErrorsAreAnsweredAndNothingIsWritten() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--max-state-bytes", "1024"])
        let id = TestEnvironment.uniqueID("args")
        let good = Array(id.utf8)
        let cases: [(String, [UInt8])] = [
            ("revision 2^63-1 (new revision would overflow)", Self.upsertFrame(id: good, expected: UInt64(Int64.max), requestID: 11)),
            ("revision 2^63", Self.upsertFrame(id: good, expected: UInt64(Int64.max) + 1, requestID: 12)),
            ("revision 2^64-1", Self.upsertFrame(id: good, expected: .max, requestID: 13)),
            ("empty id", Self.upsertFrame(id: [], expected: 0, requestID: 14)),
            ("control character", Self.upsertFrame(id: good + [0x0A], expected: 0, requestID: 15)),
            ("NUL in id", Self.upsertFrame(id: [0x41, 0x00], expected: 0, requestID: 16)),
            ("invalid UTF-8", Self.upsertFrame(id: [0xC3, 0x28], expected: 0, requestID: 17)),
            ("state over the limit", Self.upsertFrame(id: good, expected: 0, state: Array(repeating: 7, count: 1025), requestID: 18)),
            ("conditional delete at 2^63", Self.deleteFrame(id: good, expected: UInt64(Int64.max) + 1, requestID: 19)),
        ]
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            #expect(client.helloOK?.limits.maxStateBytes == 1024)
            for (name, frame) in cases {
                try await client.sendRaw(frame)
                let response = try #require(try await client.receive(), "\(name): connection closed")
                #expect(response.response.status == .invalidArgument, "\(name): \(response)")
                #expect(response.requestID == UInt32(frame[6]) << 24 | UInt32(frame[7]) << 16 | UInt32(frame[8]) << 8 | UInt32(frame[9]))
            }
            // The connection is still usable and nothing was written.
            #expect(try await client.load(id) == .notFound)
            #expect(try await client.upsert(id, 0, Array(repeating: 7, count: 1024)).revision == 1)
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func malformedFrameClosesOnlyThatClient() async throws {
        let daemon = try await DaemonProcess.start()
        let id = TestEnvironment.uniqueID("bystander")
        try await TestClient.withConnection(to: daemon.socketPath) { (bystander: inout TestClient) async throws in
            #expect(try await bystander.upsert(id, 0, [1]).revision == 1)
            let cases: [(String, [UInt8], Status)] = [
                ("trailing bytes", [0, 0, 0, 9, 0x03, 0, 0, 0, 0, 5, 1, 0x41, 0x42], .malformedFrame),
                ("length under the header", [0, 0, 0, 5, 0x02, 0, 0, 0, 1], .malformedFrame),
                ("frame too large", [0x7F, 0xFF, 0xFF, 0xFF], .frameTooLarge),
                ("request id 0", [0, 0, 0, 6, 0x02, 0, 0, 0, 0, 0], .malformedFrame),
                ("undefined flag", [0, 0, 0, 6, 0x02, 0x80, 0, 0, 0, 1], .malformedFrame),
            ]
            for (name, bytes, status) in cases {
                try await TestClient.withConnection(to: daemon.socketPath) { (bad: inout TestClient) async throws in
                    try await bad.sendRaw(bytes)
                    let response = try #require(try await bad.receive(), "\(name): no error frame")
                    #expect(response.response.status == status, "\(name)")
                    #expect(try await bad.receive() == nil, "\(name): the server closes after \(status)")
                }
            }
            // Unknown message types are answered and the connection stays open.
            try await TestClient.withConnection(to: daemon.socketPath) { (odd: inout TestClient) async throws in
                try await odd.sendRaw([0, 0, 0, 6, 0x42, 0, 0, 0, 0, 9])
                let response = try #require(try await odd.receive())
                #expect(response.requestID == 9 && response.response.status == .unknownMessageType)
                #expect(try await odd.call(.ping) == .ok)
            }
            #expect(try await bystander.upsert(id, 1, [2]).revision == 2)
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func handshakeRules() async throws {
        let daemon = try await DaemonProcess.start()
        // A request before HELLO.
        try await TestClient.withConnection(to: daemon.socketPath, handshake: false) { (client: inout TestClient) async throws in
            #expect(try await client.call(.ping).status == .notAllowed)
            #expect(try await client.receive() == nil)
        }
        // No common version.
        try await TestClient.withConnection(to: daemon.socketPath, handshake: false) { (client: inout TestClient) async throws in
            let response = try await client.call(.hello(Hello(versions: [7, 9], clientName: "future")))
            #expect(response.status == .unsupportedVersion)
            #expect(try await client.receive() == nil)
        }
        // Several versions: the server picks 1 and announces its limits and capabilities.
        try await TestClient.withConnection(to: daemon.socketPath, handshake: false) { (client: inout TestClient) async throws in
            try await client.handshake(versions: [2, 1])
            let hello = try #require(client.helloOK)
            #expect(hello.version == 1)
            #expect(hello.limits == .default)
            #expect(hello.capabilities.contains(.conditionalDelete))
            #expect(hello.serverVersion.hasPrefix("pgstated "))
            // A second HELLO.
            #expect(try await client.call(.hello(Hello(versions: [1], clientName: "again"))).status == .notAllowed)
            #expect(try await client.receive() == nil)
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func connectionLimitRefusesWithAnErrorFrame() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--max-connections", "2"])
        // Connections are unregistered asynchronously when they close (the start-up probe's, or a previous
        // attempt's): wait until the daemon's log shows every client gone, then try; retry if one still counted.
        var attempts = 0
        while true {
            attempts += 1
            try await daemon.waitUntilNoClients()
            do {
                try await Self.twoClientsAndARefusedThird(daemon.socketPath)
                break
            } catch where attempts < 10 {
                continue
            }
        }
        #expect(await daemon.terminate() == 0)
    }

    static func twoClientsAndARefusedThird(_ socket: String) async throws {
        try await TestClient.withConnection(to: socket) { (first: inout TestClient) async throws in
            try await TestClient.withConnection(to: socket) { (second: inout TestClient) async throws in
                try await TestClient.withConnection(to: socket, handshake: false) { (third: inout TestClient) async throws in
                    let refusal = try #require(try await third.receive())
                    #expect(refusal.requestID == 0 && refusal.response.status == .overloaded)
                    #expect(try await third.receive() == nil)
                }
                #expect(try await second.call(.ping) == .ok)
            }
            #expect(try await first.call(.ping) == .ok)
        }
    }

    /// A client that sends requests and disconnects at once costs the daemon nothing and loses no one else's work.
    @Test func clientVanishingMidRequestHurtsNoOne() async throws {
        let daemon = try await DaemonProcess.start()
        let id = TestEnvironment.uniqueID("vanish")
        for round in 0..<20 {
            try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
                try await client.send((1...50).map {
                    RequestFrame(requestID: $0, request: .upsert(Upsert(
                        persistenceID: try! PersistenceID("\(id)-\(round)-\($0)"), expectedRevision: 0,
                        state: ByteBuffer(bytes: [1]))))
                })
            }
        }
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            #expect(try await client.upsert(id, 0, [1]).revision == 1)
            #expect(try await client.call(.ping) == .ok)
        }
        // The vanished clients' writes either happened entirely or not at all; none is half-written.
        let states = try await TestEnvironment.psql(
            "SELECT count(*) FILTER (WHERE revision <> 1 OR state <> '\\x01'::bytea) FROM durable_state WHERE persistence_id LIKE '\(id)-%'")
        #expect(states == "0")
        #expect(await daemon.terminate() == 0)
    }
}
