import CLibPQ
import Testing

@Suite("libpq system library")
struct CLibPQTests {
    /// Pipeline mode needs libpq 14 or later.
    @Test func libpqSupportsPipelineMode() {
        #expect(PQlibVersion() >= 140_000)
    }

    @Test func aConnectionToNowhereFailsWithAMessage() throws {
        let conn = try #require(PQconnectdb("host=/nonexistent-pgstate-dir port=1 connect_timeout=1"))
        defer { PQfinish(conn) }
        #expect(PQstatus(conn) == CONNECTION_BAD)
        #expect(String(cString: PQerrorMessage(conn)).contains("nonexistent-pgstate-dir"))
    }
}
