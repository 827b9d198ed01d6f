import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// The store contract through the real daemon and PostgreSQL.
@Suite("Store semantics", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct StoreSemanticsTests {
    @Test func createUpdateConflictDeleteRecreate() async throws {
        let daemon = try await DaemonProcess.start()
        let id = TestEnvironment.uniqueID("semantics")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            #expect(try await client.load(id) == .notFound)

            let created = try await client.upsert(id, 0, [1, 2, 3])
            #expect(created.revision == 1)
            #expect(created.state == [1, 2, 3])
            if case .record(let record) = created {
                let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                #expect(abs(record.updatedAtMicroseconds - now) < 300_000_000, "updated_at is the database clock")
            }
            #expect(try await client.upsert(id, 1, [4]).revision == 2)
            #expect(try await client.upsert(id, 2, [5]).revision == 3)

            // Stale revision: conflict with the current revision; the state is unchanged.
            #expect(try await client.upsert(id, 1, [9]) == .conflict(1, 3))
            #expect(try await client.load(id).state == [5])
            #expect(try await client.load(id).revision == 3)
            // Create over an existing record.
            #expect(try await client.upsert(id, 0, [9]) == .conflict(0, 3))

            // Unconditional delete is idempotent; re-creating starts again at revision 1.
            #expect(try await client.delete(id) == .ok)
            #expect(try await client.delete(id) == .ok)
            #expect(try await client.load(id) == .notFound)
            #expect(try await client.upsert(id, 0, []).revision == 1)

            // Conditional delete.
            #expect(try await client.delete(id, expected: 7) == .conflict(7, 1))
            #expect(try await client.delete(id, expected: 0) == .conflict(0, 1))
            #expect(try await client.delete(id, expected: 1) == .ok)
            #expect(try await client.load(id) == .notFound)
            #expect(try await client.delete(id, expected: 0) == .ok)
            #expect(try await client.delete(id, expected: 3) == .conflict(3, 0))

            // Update of a missing record.
            #expect(try await client.upsert(id, 5, [1]) == .conflict(5, 0))
            #expect(try await client.load(id) == .notFound)

            // PING.
            #expect(try await client.call(.ping) == .ok)
        }
        // At debug level each client's peer credentials are logged (SO_PEERCRED), with the namespace granted.
        #expect(daemon.log.contains("client connected namespace=(shared) peer=uid=\(getuid())"), "\(daemon.log)")
        #expect(daemon.log.contains("gid=\(getgid()) pid=\(getpid())"), "\(daemon.log)")
        #expect(await daemon.terminate() == 0)
    }

    @Test(arguments: [0, 1, 256, 1 << 20, ProtocolLimits.defaultMaxStateBytes])
    func statesAreByteExact(size: Int) async throws {
        let daemon = try await DaemonProcess.start()
        let id = TestEnvironment.uniqueID("bytes-\(size)")
        var state = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        if size > 0 { state[0] = 0 }
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            #expect(try await client.upsert(id, 0, state).state == state)
            #expect(try await client.load(id).state == state)
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func unicodeAndMaximalIDs() async throws {
        let daemon = try await DaemonProcess.start()
        let suffix = UUID().uuidString.prefix(8)
        let ids = ["订单-\(suffix)", "emoji-😀-\(suffix)", String(suffix) + String(repeating: "x", count: 247)]
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            for id in ids {
                #expect(id.utf8.count <= 255)
                #expect(try await client.upsert(id, 0, Array(id.utf8)).revision == 1)
                #expect(try await client.load(id).state == Array(id.utf8))
            }
        }
        #expect(await daemon.terminate() == 0)
    }

    /// The table's rows are exactly what the protocol reported.
    @Test func rowsMatchTheDocumentedSchema() async throws {
        let daemon = try await DaemonProcess.start()
        let id = TestEnvironment.uniqueID("schema")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            _ = try await client.upsert(id, 0, [0xDE, 0xAD])
            _ = try await client.upsert(id, 1, [0xBE, 0xEF])
        }
        let row = try await TestEnvironment.psql(
            "SELECT revision, encode(state, 'hex') FROM durable_state WHERE persistence_id = '\(id)'")
        #expect(row == "2|beef")
        // By name: a table migrated from the first schema has the namespace column last, a new one first.
        let columns = try await TestEnvironment.psql("""
            SELECT string_agg(column_name || ':' || data_type || ':' || is_nullable, ',' ORDER BY column_name)
            FROM information_schema.columns WHERE table_name = 'durable_state'
            """)
        #expect(columns == "expires_at:timestamp with time zone:YES,namespace:text:NO,persistence_id:text:NO,"
            + "revision:bigint:NO,state:bytea:NO,updated_at:timestamp with time zone:NO")
        let key = try await TestEnvironment.psql("""
            SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = 'durable_state'::regclass AND i.indisprimary
            """)
        #expect(key == "namespace,persistence_id")
        let stored = try await TestEnvironment.psql(
            "SELECT namespace = '' FROM durable_state WHERE persistence_id = '\(id)'")
        #expect(stored == "t", "without an access file every record is in the shared namespace")
        #expect(await daemon.terminate() == 0)
    }
}
