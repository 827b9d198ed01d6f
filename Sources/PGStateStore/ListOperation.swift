import NIOCore
import PGStateProtocol

/// `LIST(prefix, after, limit)` → `LIST_OK`: one page of live ids in byte order, read on the primary key's index
/// as a range scan (the id column has the "C" collation, so the index order is byte order).
///
/// The prefix becomes a range: ids ≥ max(prefix, after + U+0001) and < the prefix's successor (``upperBound``).
/// U+0001 is the smallest character, and ids hold no control characters, so `after + U+0001` is the smallest
/// string above every id ≤ `after`. A range on parameters uses the index in every plan, generic ones included,
/// where a `LIKE $2` pattern could not; no LIKE metacharacter of a prefix is then special. One row beyond the
/// limit tells whether more follow.
public struct ListOperation: StoreOperation, Hashable {
    static let bounded = PreparedStatement(
        name: "list", parameterTypes: [.text, .text, .text, .int8],
        sql: """
            SELECT persistence_id, revision, updated_at FROM {table} \
            WHERE namespace = $1 AND persistence_id >= $2 AND persistence_id < $3 AND \(Expiry.live) \
            ORDER BY persistence_id LIMIT $4
            """)
    static let unbounded = PreparedStatement(
        name: "list_all", parameterTypes: [.text, .text, .int8],
        sql: """
            SELECT persistence_id, revision, updated_at FROM {table} \
            WHERE namespace = $1 AND persistence_id >= $2 AND \(Expiry.live) \
            ORDER BY persistence_id LIMIT $3
            """)

    public static var statements: [PreparedStatement] { [bounded, unbounded] }

    public var list: ListRequest
    public var namespace: Namespace
    public var isWrite: Bool { false }
    public var batchKey: PersistenceID? { nil }

    public init(_ list: ListRequest, namespace: Namespace = .shared) {
        self.list = list
        self.namespace = namespace
    }

    /// The smallest string greater than every string that starts with `prefix`, or nil when there is none (an
    /// empty prefix, or one of U+10FFFF only). UTF-8 byte order is code point order, so the last code point that
    /// can grow grows by one (skipping the surrogates) and the rest is cut.
    public static func upperBound(of prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                var result = ""
                result.unicodeScalars.append(contentsOf: scalars)
                return result
            }
        }
        return nil
    }

    /// The lower bound of the range: the prefix, or just above the cursor when that is greater.
    var lowerBound: String {
        guard let after = list.after else { return list.prefix }
        let aboveCursor = after.value + "\u{1}"
        return aboveCursor.utf8.lexicographicallyPrecedes(list.prefix.utf8) ? list.prefix : aboveCursor
    }

    public var calls: [StatementCall] {
        let fetch = StatementParameter.int8(Int64(list.limit + 1))
        if let upper = Self.upperBound(of: list.prefix) {
            return [StatementCall(Self.bounded, [.text(namespace.value), .text(lowerBound), .text(upper), fetch])]
        }
        return [StatementCall(Self.unbounded, [.text(namespace.value), .text(lowerBound), fetch])]
    }

    public func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict {
        precondition(results.count == 1, "invalid results for \(self)")
        let rows = results[0]
        let count = min(rows.rowCount, list.limit)
        var entries: [ListPage.Entry] = []
        entries.reserveCapacity(count)
        for row in 0..<count {
            entries.append(ListPage.Entry(persistenceID: rows.text(row: row, column: 0),
                                          revision: UInt64(rows.int64(row: row, column: 1)),
                                          updatedAtMicroseconds: rows.timestamp(row: row, column: 2)))
        }
        return .answer(.listOK(ListPage(more: rows.rowCount > list.limit, entries: entries)))
    }
}
