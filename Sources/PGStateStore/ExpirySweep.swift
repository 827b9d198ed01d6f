import CLibPQ
import Glibc

/// Deletes expired rows (TTL, PROTOCOL.md 6.22) in small batches, off the request path: its own blocking libpq
/// connection, driven by the sweeper's thread (``PGStateServer`` starts it). Reads never depend on it (an expired
/// row is absent whether or not it has been deleted); it only reclaims space.
///
/// Daemons sharing a database coordinate with an advisory lock taken per batch (`pg_try_advisory_xact_lock`):
/// one sweeps while the others skip that round. A batch locks its rows with `SKIP LOCKED`, so it never waits for
/// a writer, and it rechecks the expiry under the lock, so a row renewed meanwhile stays.
public final class ExpirySweep {
    static func statement(_ table: TableName) -> String {
        """
        WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(hashtext($1)) AS held), \
        doomed AS ( \
            SELECT t.namespace, t.persistence_id FROM \(table.quoted) t, lock \
            WHERE lock.held AND t.expires_at <= clock_timestamp() \
            ORDER BY t.expires_at LIMIT $2::int8 FOR UPDATE OF t SKIP LOCKED) \
        DELETE FROM \(table.quoted) t USING doomed d \
        WHERE t.namespace = d.namespace AND t.persistence_id = d.persistence_id \
        AND t.expires_at <= clock_timestamp()
        """
    }

    private let configuration: StoreConfiguration
    private var conn: OpaquePointer?

    public init(_ configuration: StoreConfiguration) {
        self.configuration = configuration
    }

    deinit {
        if let conn { PQfinish(conn) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Deletes at most `limit` expired rows in one transaction; returns how many. Connects (blocking) first when
    /// needed; a failure drops the connection, so the next call starts afresh.
    public func sweep(limit: Int) throws -> Int {
        let conn = try connection()
        let lockName = "pgstate sweep \(configuration.table)"
        let limitText = String(limit)
        let result: OpaquePointer? = lockName.withCString { name in
            limitText.withCString { limitValue in
                var values: [UnsafePointer<CChar>?] = [name, limitValue]
                return PQexecParams(conn, Self.statement(configuration.table), 2, nil, &values, nil, nil, 0)
            }
        }
        defer { if let result { PQclear(result) } }
        guard let result, PQresultStatus(result) == PGRES_COMMAND_OK else {
            let message = result.map { String(cString: PQresultErrorMessage($0)) } ?? String(cString: PQerrorMessage(conn))
            if PQstatus(conn) != CONNECTION_OK { drop() }
            throw Failure(description: message.trimmingTrailingWhitespace)
        }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    private func connection() throws -> OpaquePointer {
        if let conn, PQstatus(conn) == CONNECTION_OK { return conn }
        drop()
        let keys = ["application_name", "dbname", "connect_timeout"]
        let values = ["pgstated sweeper", configuration.connectionString, String(configuration.connectTimeoutSeconds)]
        var keyPointers: [UnsafeMutablePointer<CChar>?] = keys.map { strdup($0) } + [nil]
        var valuePointers: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) } + [nil]
        defer { (keyPointers + valuePointers).forEach { free($0) } }
        let opened = keyPointers.withUnsafeMutableBufferPointer { keys in
            valuePointers.withUnsafeMutableBufferPointer { values in
                keys.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: keys.count) { k in
                    values.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: values.count) { v in
                        PQconnectdbParams(k, v, 1)
                    }
                }
            }
        }
        guard let opened else { throw Failure(description: "out of memory creating a libpq connection") }
        guard PQstatus(opened) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(opened))
            PQfinish(opened)
            throw Failure(description: message.trimmingTrailingWhitespace)
        }
        PQsetNoticeProcessor(opened, { _, _ in }, nil)
        conn = opened
        return opened
    }

    private func drop() {
        if let conn { PQfinish(conn) }
        conn = nil
    }
}

extension String {
    var trimmingTrailingWhitespace: String {
        var slice = Substring(self)
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
