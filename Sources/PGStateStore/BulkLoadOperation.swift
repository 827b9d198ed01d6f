import NIOCore
import PGStateProtocol

/// The part of a `BULK_LOAD` that runs on one pool connection: its distinct ids of one home, read with one
/// `= ANY($2)` statement. Answers `RECORDS` with one entry per id of ``ids``, in that order (the request's
/// gather maps them back to the request's positions, see ``StorePlan``).
public struct BulkLoadOperation: StoreOperation, Hashable {
    static let select = PreparedStatement(
        name: "bulk_load", parameterTypes: [.text, .textArray],
        sql: """
            SELECT persistence_id, revision, state, updated_at FROM {table} \
            WHERE namespace = $1 AND persistence_id = ANY($2) AND \(Expiry.live)
            """)

    public static var statements: [PreparedStatement] { [select] }

    public var ids: [PersistenceID]
    public var namespace: Namespace
    public var isWrite: Bool { false }
    public var batchKey: PersistenceID? { nil }

    public init(ids: [PersistenceID], namespace: Namespace = .shared) {
        precondition(!ids.isEmpty, "a bulk load reads at least one id")
        self.ids = ids
        self.namespace = namespace
    }

    public var calls: [StatementCall] {
        [StatementCall(Self.select, [.text(namespace.value), .textArray(ids.map(\.value))])]
    }

    public func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict {
        precondition(results.count == 1, "invalid results for \(self)")
        let rows = results[0]
        var found: [String: Record] = [:]
        found.reserveCapacity(rows.rowCount)
        for row in 0..<rows.rowCount {
            found[rows.text(row: row, column: 0)] = Record(
                revision: UInt64(rows.int64(row: row, column: 1)),
                updatedAtMicroseconds: rows.timestamp(row: row, column: 3),
                state: rows.bytes(row: row, column: 2))
        }
        // Ids compare byte for byte; a Swift String key would merge canonically equivalent spellings, so look
        // each id up by its exact bytes.
        var byBytes: [[UInt8]: Record] = [:]
        for (id, record) in found { byBytes[Array(id.utf8)] = record }
        return .answer(.records(ids.map { id in byBytes[Array(id.value.utf8)].map { .found($0) } ?? .absent }))
    }
}
