import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// Many requests in flight on one connection; group commit; one bad request in a batch.
@Suite("Pipelining and batches", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct PipeliningTests {
    static func upsert(_ requestID: UInt32, _ id: String, _ expected: UInt64, _ state: [UInt8]) -> RequestFrame {
        RequestFrame(requestID: requestID, request: .upsert(Upsert(
            persistenceID: try! PersistenceID(id), expectedRevision: expected, state: ByteBuffer(bytes: state))))
    }

    /// Requests for one id are applied and answered in the order sent, even when all are sent at once.
    @Test func oneIDKeepsItsOrderUnderPipelining() async throws {
        let daemon = try await DaemonProcess.start()
        let id = TestEnvironment.uniqueID("order")
        let count: UInt32 = 500
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            // Revision n expects n-1: only succeeds if executed strictly in order. Loads of other ids interleave.
            var frames: [RequestFrame] = []
            for n in 1...count {
                frames.append(Self.upsert(n * 2, id, UInt64(n - 1), Array("\(n)".utf8)))
                frames.append(RequestFrame(requestID: n * 2 + 1, request: .load(try PersistenceID("\(id)-other-\(n)"))))
            }
            try await client.send(frames)
            var lastRevision: UInt64 = 0
            var answered = Set<UInt32>()
            for _ in 0..<frames.count {
                let response = try #require(try await client.receive())
                answered.insert(response.requestID)
                if response.requestID % 2 == 0 {
                    let revision = try #require(response.response.revision, "\(response)")
                    #expect(revision == lastRevision + 1, "responses for one id come back in order")
                    #expect(revision == UInt64(response.requestID / 2))
                    lastRevision = revision
                } else {
                    #expect(response.response == .notFound)
                }
            }
            #expect(answered.count == frames.count)
            #expect(try await client.load(id).revision == UInt64(count))
        }
        #expect(await daemon.terminate() == 0)
    }

    /// Concurrent writes share commits: 400 creates pipelined on a 2-connection pool commit in far fewer
    /// transactions than requests (rows written by one transaction share its xmin).
    @Test func writesShareCommits() async throws {
        let daemon = try await DaemonProcess.start()
        let prefix = TestEnvironment.uniqueID("group")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            let frames = (1...400 as ClosedRange<UInt32>).map { Self.upsert($0, "\(prefix)-\($0)", 0, [1]) }
            try await client.send(frames)
            for _ in frames {
                let response = try #require(try await client.receive())
                #expect(response.response.revision == 1)
            }
        }
        let transactions = Int(try await TestEnvironment.psql(
            "SELECT count(DISTINCT xmin::text) FROM durable_state WHERE persistence_id LIKE '\(prefix)-%'"))!
        let rows = Int(try await TestEnvironment.psql(
            "SELECT count(*) FROM durable_state WHERE persistence_id LIKE '\(prefix)-%'"))!
        print("group commit: 400 writes committed in \(transactions) transactions")
        #expect(rows == 400)
        #expect(transactions < 100)
        #expect(await daemon.terminate() == 0)
    }

    /// A request that fails inside PostgreSQL aborts its batch's transaction; its neighbours are run again on their
    /// own and succeed, durably; only the bad one gets an error.
    @Test func oneFailingRequestDoesNotFailItsBatch() async throws {
        let table = "poison_\(UUID().uuidString.prefix(8).lowercased())"
        try await TestEnvironment.psql("""
            CREATE TABLE \(table) (namespace text NOT NULL DEFAULT '', persistence_id text COLLATE "C" NOT NULL,
                                   revision bigint NOT NULL, state bytea NOT NULL, updated_at timestamptz NOT NULL,
                                   expires_at timestamptz, PRIMARY KEY (namespace, persistence_id));
            CREATE FUNCTION \(table)_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'poisoned id %', NEW.persistence_id; END $$;
            CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON \(table) FOR EACH ROW
                WHEN (NEW.persistence_id LIKE '%poison%') EXECUTE FUNCTION \(table)_refuse();
            """)
        let daemon = try await DaemonProcess.start(arguments: ["--table", table, "--no-create-schema", "--pool-size", "1"])
        let prefix = TestEnvironment.uniqueID("batch")
        let poisoned: Set<UInt32> = [7, 20, 33]
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            let frames = (1...40 as ClosedRange<UInt32>).map {
                Self.upsert($0, poisoned.contains($0) ? "\(prefix)-poison-\($0)" : "\(prefix)-\($0)", 0, [UInt8($0)])
            }
            try await client.send(frames)
            for _ in frames {
                let response = try #require(try await client.receive())
                if poisoned.contains(response.requestID) {
                    #expect(response.response.status == .internalError)
                } else {
                    #expect(response.response.revision == 1, "\(response)")
                }
            }
        }
        let rows = try await TestEnvironment.psql("SELECT count(*) FROM \(table) WHERE persistence_id LIKE '\(prefix)-%'")
        #expect(rows == "37")
        #expect(await daemon.terminate() == 0)
        try await TestEnvironment.psql("DROP TABLE \(table); DROP FUNCTION \(table)_refuse()")
    }
}
