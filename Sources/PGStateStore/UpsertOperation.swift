import NIOCore
import PGStateProtocol

/// `UPSERT(id, expected, state)` → `RECORD` at `expected + 1`, or `CONFLICT` with the current revision.
///
/// Expected 0 inserts (doing nothing if the id exists), any other value updates only that revision; either way the
/// fresh read of ``CurrentRevision`` follows in the same pipeline, so a conflict reports the revision that won.
public struct UpsertOperation: StoreOperation, Hashable {
    static let create = PreparedStatement(
        name: "create", parameterTypes: [.text, .text, .bytea],
        sql: """
            INSERT INTO {table} (namespace, persistence_id, revision, state, updated_at) \
            VALUES ($1, $2, 1, $3, clock_timestamp()) \
            ON CONFLICT (namespace, persistence_id) DO NOTHING RETURNING revision, updated_at
            """)
    static let update = PreparedStatement(
        name: "update", parameterTypes: [.text, .text, .int8, .bytea],
        sql: """
            UPDATE {table} SET revision = revision + 1, state = $4, updated_at = clock_timestamp() \
            WHERE namespace = $1 AND persistence_id = $2 AND revision = $3 RETURNING revision, updated_at
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
        let write = upsert.expectedRevision == 0
            ? StatementCall(Self.create, keyParameters(then: .bytea(upsert.state)))
            : StatementCall(Self.update, keyParameters(then: .int8(Int64(upsert.expectedRevision)), .bytea(upsert.state)))
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
