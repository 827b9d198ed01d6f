import NIOCore
import PGStateProtocol

/// One operation of the store, defined in one place: the statements it runs with their parameters, how it reads
/// their results and what it answers. The pool knows nothing else about operations; a new request type is a new
/// conforming type plus one line in ``storeOperation(for:)``.
///
/// Running an operation: ``calls`` are sent in order inside the connection's pipeline; when every call has
/// returned its rows, ``verdict(_:)`` turns them into the response (or asks for a retry).
public protocol StoreOperation: Sendable {
    /// The statements this operation may run (prepared on every connection).
    static var statements: [PreparedStatement] { get }
    /// The namespace the ids live in (chosen by the server from the connection's identity).
    var namespace: Namespace { get }
    /// The id by which a batch orders the operation (rows are locked in key order); nil for an operation over
    /// several ids, which keeps its place in the batch so that no request of one of its ids overtakes it.
    var batchKey: PersistenceID? { get }
    /// Whether running it twice could differ from running it once (decides what a broken connection means).
    var isWrite: Bool { get }
    /// State bytes carried, for batch sizing.
    var stateBytes: Int { get }
    /// The statements to run, in pipeline order, with their parameters.
    var calls: [StatementCall] { get }
    /// The answer, from the rows of each of ``calls`` (same order). Pure.
    func verdict<Rows: StatementRows>(_ results: [Rows]) -> Verdict
    /// Whether a failure of one of its statements goes away when the operation runs again.
    func isRetryable(_ failure: StatementFailure) -> Bool
}

extension StoreOperation {
    public var isWrite: Bool { true }
    public var stateBytes: Int { 0 }
    public func isRetryable(_ failure: StatementFailure) -> Bool { failure.isTransient }
}

/// An operation on one id: its home connection is the id's, and a batch orders it by the id.
public protocol SingleKeyOperation: StoreOperation {
    /// The id the operation addresses, in ``namespace``.
    var persistenceID: PersistenceID { get }
}

extension SingleKeyOperation {
    public var batchKey: PersistenceID? { persistenceID }
}

/// The verdict on an operation once all its statements have answered.
public enum Verdict: Sendable, Hashable {
    case answer(Response)
    /// The fresh read saw `actual == expected` although the conditional write matched nothing: the row changed
    /// between the two statements (deleted and re-created up to the same revision). Running the operation
    /// again gives a true answer; a conflict never reports `actual == expected`.
    case retry

    static func conflict(expected: UInt64, actual: UInt64) -> Verdict {
        actual == expected
            ? .retry
            : .answer(.conflict(Conflict(expectedRevision: expected, actualRevision: actual)))
    }
}

/// Every operation type of the store: the statements a connection prepares.
public enum StoreOperations {
    public static let types: [any StoreOperation.Type] = [
        LoadOperation.self, UpsertOperation.self, DeleteOperation.self,
        BulkLoadOperation.self, TransactOperation.self, ListOperation.self,
    ]

    public static var allStatements: [PreparedStatement] {
        var seen = Set<String>()
        return types.flatMap { $0.statements }.filter { seen.insert($0.name).inserted }
    }
}

/// The operation behind a single-key protocol request, in `namespace`; nil for the others (requests the server
/// answers itself, and multi-key requests, which ``StorePlan`` splits).
public func storeOperation(for request: Request, in namespace: Namespace) -> (any StoreOperation)? {
    switch request {
    case .hello, .ping, .whoami, .health, .stats, .clients, .pause, .resume: return nil
    case .bulkLoad, .bulkWrite, .transact, .list: return nil
    case .load(let id): return LoadOperation(persistenceID: id, namespace: namespace)
    case .upsert(let upsert): return UpsertOperation(upsert, namespace: namespace)
    case .delete(let delete): return DeleteOperation(delete, namespace: namespace)
    }
}

extension SingleKeyOperation {
    /// The leading parameters of every statement: `$1` the namespace, `$2` the persistence id.
    var keyParameters: [StatementParameter] { [.text(namespace.value), .text(persistenceID.value)] }

    /// The key parameters followed by the statement's own, built as one array (a call is built per request).
    func keyParameters(then value: StatementParameter) -> [StatementParameter] {
        [.text(namespace.value), .text(persistenceID.value), value]
    }

    func keyParameters(then first: StatementParameter, _ second: StatementParameter) -> [StatementParameter] {
        [.text(namespace.value), .text(persistenceID.value), first, second]
    }
}

/// The latest committed revision of one id, read with a fresh snapshot.
///
/// A conditional write is followed, in the same pipeline, by this read: in READ COMMITTED each statement takes a
/// fresh snapshot, so after a write that matched no row (possibly after waiting on another writer's lock) it sees
/// the latest committed revision, without another round trip.
enum CurrentRevision {
    static let statement = PreparedStatement(
        name: "current", parameterTypes: [.text, .text],
        sql: "SELECT revision FROM {table} WHERE namespace = $1 AND persistence_id = $2 AND \(Expiry.live)")

    static func call(_ operation: some SingleKeyOperation) -> StatementCall {
        StatementCall(statement, operation.keyParameters)
    }

    static func read<Rows: StatementRows>(_ rows: Rows) -> UInt64 {
        rows.rowCount > 0 ? UInt64(rows.int64(row: 0, column: 0)) : 0
    }
}

/// The SQL of expiry (TTL, PROTOCOL.md 6.22), one definition for every statement.
///
/// A row whose `expires_at` has passed is absent for every request, whether or not the sweeper has deleted it
/// yet; `expires_at` is computed by the database's clock when the row is written.
enum Expiry {
    /// The row has not expired (on the unqualified table).
    static let live = "(expires_at IS NULL OR expires_at > clock_timestamp())"
    /// The row of `alias` has expired.
    static func expired(_ alias: String) -> String {
        "(\(alias).expires_at IS NOT NULL AND \(alias).expires_at <= clock_timestamp())"
    }
    /// The `expires_at` of a write whose TTL in seconds is `parameter` (0: none).
    static func expiresAt(_ parameter: String) -> String {
        "CASE WHEN \(parameter) > 0 THEN clock_timestamp() + \(parameter) * interval '1 second' END"
    }
}
