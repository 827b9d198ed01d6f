import NIOCore
import PGStateProtocol

/// `LOAD(id)` → `RECORD` or `NOT_FOUND`.
public struct LoadOperation: StoreOperation, Hashable {
    static let select = PreparedStatement(
        name: "load", parameterTypes: [.text],
        sql: "SELECT revision, state, updated_at FROM {table} WHERE persistence_id = $1")

    public static var statements: [PreparedStatement] { [select] }

    public var persistenceID: PersistenceID
    public var isWrite: Bool { false }

    public init(persistenceID: PersistenceID) {
        self.persistenceID = persistenceID
    }

    public var calls: [StatementCall] { [StatementCall(Self.select, [.text(persistenceID.value)])] }

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
