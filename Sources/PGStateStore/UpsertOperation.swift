import NIOCore
import PGStateProtocol

/// `UPSERT(id, expected, state)` → `RECORD` at `expected + 1`, or `CONFLICT` with the current revision.
///
/// Expected 0 inserts (doing nothing if a live record exists; replacing an expired one, which is absent), any other
/// value updates only that live revision; either way the fresh read of ``CurrentRevision`` follows in the same
/// pipeline, so a conflict reports the revision that won. The TTL parameter is 0 for none, which also clears an
/// earlier expiry.
public struct UpsertOperation: SingleKeyOperation, Hashable {
    static let create = PreparedStatement(
        name: "create", parameterTypes: [.text, .text, .bytea, .int8],
        sql: """
            INSERT INTO {table} AS t (namespace, persistence_id, revision, state, updated_at, expires_at) \
            VALUES ($1, $2, 1, $3, clock_timestamp(), \(Expiry.expiresAt("$4"))) \
            ON CONFLICT (namespace, persistence_id) DO UPDATE \
            SET revision = 1, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at \
            WHERE \(Expiry.expired("t")) RETURNING revision, updated_at
            """)
    static let update = PreparedStatement(
        name: "update", parameterTypes: [.text, .text, .int8, .bytea, .int8],
        sql: """
            UPDATE {table} SET revision = revision + 1, state = $4, updated_at = clock_timestamp(), \
            expires_at = \(Expiry.expiresAt("$5")) \
            WHERE namespace = $1 AND persistence_id = $2 AND revision = $3 AND \(Expiry.live) \
            RETURNING revision, updated_at
            """)

    public static var statements: [PreparedStatement] { [create, update, CurrentRevision.statement] }

    public var upsert: Upsert
    public var namespace: Namespace
    public var persistenceID: PersistenceID { upsert.persistenceID }
    public var stateBytes: Int { upsert.state.readableBytes }

    public init(_ upsert: Upsert, namespace: Namespace = .shared) {
        self.upsert = upsert
        self.namespace = namespace
    }

    public var calls: [StatementCall] {
        let ttl = StatementParameter.int8(Int64(upsert.ttlSeconds ?? 0))
        let write = upsert.expectedRevision == 0
            ? StatementCall(Self.create, keyParameters(then: .bytea(upsert.state), ttl))
            : StatementCall(Self.update, [.text(namespace.value), .text(persistenceID.value),
                                          .int8(Int64(upsert.expectedRevision)), .bytea(upsert.state), ttl])
        return [write, CurrentRevision.call(self)]
    }

    public func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict {
        precondition(results.count == 2, "invalid results for \(self)")
        let written = results[0]
        guard written.rowCount > 0 else {
            return .conflict(expected: upsert.expectedRevision, actual: CurrentRevision.read(results[1]))
        }
        return .answer(.record(Record(
            revision: UInt64(written.int64(row: 0, column: 0)),
            updatedAtMicroseconds: written.timestamp(row: 0, column: 1),
            state: upsert.state
        )))
    }
}
