import NIOCore
import PGStateProtocol

/// `DELETE(id)` → `OK` (idempotent); `DELETE(id, expected)` → `OK` when the revision matched (expected 0: when the
/// id is absent), else `CONFLICT` with the current revision.
public struct DeleteOperation: SingleKeyOperation, Hashable {
    static let delete = PreparedStatement(
        name: "delete", parameterTypes: [.text, .text],
        sql: "DELETE FROM {table} WHERE namespace = $1 AND persistence_id = $2")
    static let deleteIf = PreparedStatement(
        name: "deleteIf", parameterTypes: [.text, .text, .int8],
        sql: "DELETE FROM {table} WHERE namespace = $1 AND persistence_id = $2 AND revision = $3 AND \(Expiry.live) RETURNING revision")

    public static var statements: [PreparedStatement] { [delete, deleteIf, CurrentRevision.statement] }

    public var request: Delete
    public var namespace: Namespace
    public var persistenceID: PersistenceID { request.persistenceID }

    public init(_ request: Delete, namespace: Namespace = .shared) {
        self.request = request
        self.namespace = namespace
    }

    public var calls: [StatementCall] {
        switch request.expectedRevision {
        case nil: return [StatementCall(Self.delete, keyParameters)]
        case 0?: return [CurrentRevision.call(self)]
        case let expected?: return [StatementCall(Self.deleteIf, keyParameters(then: .int8(Int64(expected)))),
                                    CurrentRevision.call(self)]
        }
    }

    public func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict {
        // One statement without an expected revision or with 0, else the delete and the fresh read.
        let expectedResults = (request.expectedRevision ?? 0) == 0 ? 1 : 2
        precondition(results.count == expectedResults, "invalid results for \(self)")
        switch request.expectedRevision {
        case nil:
            return .answer(.ok)
        case 0?:
            let actual = CurrentRevision.read(results[0])
            return actual == 0 ? .answer(.ok) : .conflict(expected: 0, actual: actual)
        case let expected?:
            if results[0].rowCount > 0 { return .answer(.ok) }
            return .conflict(expected: expected, actual: CurrentRevision.read(results[1]))
        }
    }
}
