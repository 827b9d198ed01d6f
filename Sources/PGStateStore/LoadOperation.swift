import NIOCore
import PGStateProtocol

/// `LOAD(id)` → `RECORD` or `NOT_FOUND`.
public struct LoadOperation: SingleKeyOperation, Hashable {
    static let select = PreparedStatement(
        name: "load", parameterTypes: [.text, .text],
        sql: "SELECT revision, state, updated_at FROM {table} WHERE namespace = $1 AND persistence_id = $2 AND \(Expiry.live)")

    public static var statements: [PreparedStatement] { [select] }

    public var persistenceID: PersistenceID
    public var namespace: Namespace
    public var isWrite: Bool { false }

    public init(persistenceID: PersistenceID, namespace: Namespace = .shared) {
        self.persistenceID = persistenceID
        self.namespace = namespace
    }

    public var calls: [StatementCall] { [StatementCall(Self.select, keyParameters)] }

    public func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict {
        precondition(results.count == 1, "invalid results for \(self)")
        let rows = results[0]
        guard rows.rowCount > 0 else { return .answer(.notFound) }
        return .answer(.record(Record(
            revision: UInt64(rows.int64(row: 0, column: 0)),
            updatedAtMicroseconds: rows.timestamp(row: 0, column: 2),
            state: rows.bytes(row: 0, column: 1)
        )))
    }
}
