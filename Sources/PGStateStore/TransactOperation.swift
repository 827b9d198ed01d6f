import NIOCore
import PGStateProtocol

/// `TRANSACT(items)` → `OUTCOMES` when every expectation held and all items applied, else `TRANSACT_CONFLICT`
/// naming every failed item with its current revision, nothing applied (PROTOCOL.md 6.27).
///
/// One statement, so the check and the writes cannot be separated, and no round trip decides between them:
/// - `locked` locks the items' existing rows in id order (`ORDER BY … FOR UPDATE`: the lock is taken above the
///   sort), so transactions over overlapping ids, on any number of daemons, wait for each other instead of
///   deadlocking. In READ COMMITTED a locked row is its latest committed version.
/// - `verdict` is true when every item's expectation holds against those rows (expired rows count as absent).
/// - The writes run only when it is true: creates of absent ids insert (in id order), upserts of existing rows
///   (live or expired) update, deletes delete. An id created by another transaction after this statement's
///   snapshot makes the insert fail with a unique violation (23505): the whole statement rolls back and the
///   operation runs again (``isRetryable(_:)``), then sees that row.
/// - One row per item comes back, in item order: its current revision, the verdict, and its new revision.
///
/// A transaction always runs alone in its implicit transaction (``StorePart/alone``): sharing a batch's would
/// tie its locks to its neighbours' and lose the global lock order.
public struct TransactOperation: StoreOperation, Hashable {
    static let transact = PreparedStatement(
        name: "transact", parameterTypes: [.text, .textArray, .int8Array, .int8Array, .byteaArray, .int8Array],
        sql: """
            WITH input AS ( \
                SELECT * FROM unnest($2::text[], $3::int8[], $4::int8[], $5::bytea[], $6::int8[]) WITH ORDINALITY \
                AS i(persistence_id, kind, expected, state, ttl, position)), \
            locked AS ( \
                SELECT t.persistence_id, t.revision, NOT \(Expiry.expired("t")) AS live FROM {table} t \
                WHERE t.namespace = $1 AND t.persistence_id = ANY($2) ORDER BY t.persistence_id FOR UPDATE), \
            checked AS ( \
                SELECT i.*, l.persistence_id IS NOT NULL AS present, \
                CASE WHEN l.live THEN l.revision ELSE 0 END AS actual \
                FROM input i LEFT JOIN locked l ON l.persistence_id = i.persistence_id COLLATE "C"), \
            verdict AS (SELECT bool_and(expected < 0 OR expected = actual) AS ok FROM checked), \
            inserted AS ( \
                INSERT INTO {table} (namespace, persistence_id, revision, state, updated_at, expires_at) \
                SELECT $1, c.persistence_id, 1, c.state, clock_timestamp(), \(Expiry.expiresAt("c.ttl")) \
                FROM checked c, verdict v WHERE v.ok AND c.kind = 1 AND NOT c.present \
                ORDER BY c.persistence_id COLLATE "C" \
                RETURNING persistence_id, revision, updated_at), \
            updated AS ( \
                UPDATE {table} t SET revision = c.actual + 1, state = c.state, updated_at = clock_timestamp(), \
                expires_at = \(Expiry.expiresAt("c.ttl")) \
                FROM checked c, verdict v \
                WHERE v.ok AND c.kind = 1 AND c.present AND t.namespace = $1 AND t.persistence_id = c.persistence_id \
                RETURNING t.persistence_id, t.revision, t.updated_at), \
            deleted AS ( \
                DELETE FROM {table} t USING checked c, verdict v \
                WHERE v.ok AND c.kind = 2 AND c.present AND t.namespace = $1 AND t.persistence_id = c.persistence_id \
                RETURNING t.persistence_id) \
            SELECT c.actual, v.ok, coalesce(w.revision, 0), coalesce(w.updated_at, 'epoch'::timestamptz) \
            FROM checked c CROSS JOIN verdict v \
            LEFT JOIN (SELECT * FROM inserted UNION ALL SELECT * FROM updated) w \
            ON w.persistence_id = c.persistence_id COLLATE "C" \
            ORDER BY c.position
            """)

    public static var statements: [PreparedStatement] { [transact] }

    static let upsertKind: Int64 = 1, deleteKind: Int64 = 2

    public var items: [WriteItem]
    public var namespace: Namespace
    public var batchKey: PersistenceID? { nil }
    public var stateBytes: Int { items.reduce(0) { $0 + $1.stateBytes } }

    public init(_ items: [WriteItem], namespace: Namespace = .shared) {
        precondition(!items.isEmpty, "a transaction has at least one item")
        self.items = items
        self.namespace = namespace
    }

    public var calls: [StatementCall] {
        var ids: [String] = [], kinds: [Int64] = [], expected: [Int64] = [], states: [ByteBuffer] = [], ttls: [Int64] = []
        for item in items {
            ids.append(item.persistenceID.value)
            switch item {
            case .upsert(let upsert):
                kinds.append(Self.upsertKind)
                expected.append(Int64(upsert.expectedRevision))
                states.append(upsert.state)
                ttls.append(Int64(upsert.ttlSeconds ?? 0))
            case .delete(let delete):
                kinds.append(Self.deleteKind)
                expected.append(delete.expectedRevision.map { Int64($0) } ?? -1)
                states.append(ByteBuffer())
                ttls.append(0)
            }
        }
        return [StatementCall(Self.transact, [.text(namespace.value), .textArray(ids), .int8Array(kinds),
                                              .int8Array(expected), .byteaArray(states), .int8Array(ttls)])]
    }

    public func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict {
        precondition(results.count == 1, "invalid results for \(self)")
        let rows = results[0]
        guard rows.rowCount == items.count else {
            return .answer(.error(ErrorResponse(
                status: .internalError, message: "the transaction returned \(rows.rowCount) rows for \(items.count) items; not applied")))
        }
        let applied = rows.rowCount > 0 && rows.bool(row: 0, column: 1)
        if applied {
            return .answer(.outcomes(items.enumerated().map { index, item in
                if case .delete = item { return .deleted }
                return .written(revision: UInt64(rows.int64(row: index, column: 2)),
                                updatedAtMicroseconds: rows.timestamp(row: index, column: 3))
            }))
        }
        var conflicts: [TransactConflictItem] = []
        for (index, item) in items.enumerated() {
            guard let expected = item.expectedRevision else { continue }
            let actual = UInt64(rows.int64(row: index, column: 0))
            if actual != expected {
                conflicts.append(TransactConflictItem(index: index, conflict: Conflict(expectedRevision: expected,
                                                                                        actualRevision: actual)))
            }
        }
        // Under the lock the check and the report agree; an empty list cannot happen, but would be a lie.
        return conflicts.isEmpty ? .retry : .answer(.transactConflict(conflicts))
    }

    /// A create that met an id inserted concurrently (unique violation) sees that row when it runs again.
    public func isRetryable(_ failure: StatementFailure) -> Bool {
        failure.isTransient || failure.sqlState == "23505"
    }
}
