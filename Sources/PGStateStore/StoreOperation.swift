import NIOCore
import PGStateProtocol

/// A validated request the pool executes against PostgreSQL.
public enum StoreOperation: Sendable, Hashable {
    case load(PersistenceID)
    case upsert(Upsert)
    case delete(Delete)

    /// The operation behind a protocol request; nil for requests the server answers itself (HELLO, PING).
    public init?(_ request: Request) {
        switch request {
        case .hello, .ping: return nil
        case .load(let id): self = .load(id)
        case .upsert(let upsert): self = .upsert(upsert)
        case .delete(let delete): self = .delete(delete)
        }
    }

    public var persistenceID: PersistenceID {
        switch self {
        case .load(let id): return id
        case .upsert(let upsert): return upsert.persistenceID
        case .delete(let delete): return delete.persistenceID
        }
    }

    /// Whether running it twice could differ from running it once (decides what a broken connection means).
    public var isWrite: Bool {
        if case .load = self { return false }
        return true
    }

    /// State bytes carried, for batch sizing.
    var stateBytes: Int {
        if case .upsert(let upsert) = self { return upsert.state.readableBytes }
        return 0
    }

    /// The statements that run it, in pipeline order.
    var statements: [Statement] {
        switch self {
        case .load:
            return [.load]
        case .upsert(let upsert):
            return [upsert.expectedRevision == 0 ? .create : .update, .current]
        case .delete(let delete):
            switch delete.expectedRevision {
            case nil: return [.delete]
            case 0?: return [.current]
            case _?: return [.deleteIf, .current]
            }
        }
    }
}

/// What one statement of an operation returned, decoded from its binary result.
enum StepResult: Sendable, Hashable {
    /// `load`: the row, or nil.
    case loaded(Record?)
    /// `create` / `update`: the new revision and timestamp, or nil when no row was written.
    case written(Written?)
    /// `deleteIf`: whether a row was deleted.
    case deleted(Bool)
    /// `delete`: done (deleting nothing is fine).
    case done
    /// `current`: the latest committed revision, 0 when absent.
    case current(UInt64)
}

/// A row written by `create` or `update`.
struct Written: Sendable, Hashable {
    var revision: UInt64
    var updatedAtMicroseconds: Int64
}

/// The verdict on an operation once all its statements have answered.
enum Verdict: Sendable, Hashable {
    case answer(Response)
    /// The fresh read saw `actual == expected` although the conditional write matched nothing: the row changed
    /// between the two statements (deleted and re-created up to the same revision). Running the operation
    /// again gives a true answer; a conflict never reports `actual == expected`.
    case retry
}

extension StoreOperation {
    /// Turns the results of ``statements`` into the response. Pure: tested without a database.
    func verdict(_ results: [StepResult]) -> Verdict {
        precondition(results.count == statements.count, "invalid results \(results) for \(self)")
        switch self {
        case .load:
            guard case .loaded(let record) = results[0] else { preconditionFailure("invalid results \(results)") }
            return .answer(record.map(Response.record) ?? .notFound)

        case .upsert(let upsert):
            guard case .written(let written) = results[0], case .current(let actual) = results[1] else {
                preconditionFailure("invalid results \(results) for \(self)")
            }
            if let written {
                return .answer(.record(Record(
                    revision: written.revision, updatedAtMicroseconds: written.updatedAtMicroseconds,
                    state: upsert.state
                )))
            }
            return conflict(expected: upsert.expectedRevision, actual: actual)

        case .delete(let delete):
            switch (delete.expectedRevision, results[0], results.last!) {
            case (nil, .done, _):
                return .answer(.ok)
            case (0?, .current(let actual), _):
                return actual == 0 ? .answer(.ok) : conflict(expected: 0, actual: actual)
            case (let expected?, .deleted(let deleted), .current(let actual)):
                return deleted ? .answer(.ok) : conflict(expected: expected, actual: actual)
            default:
                preconditionFailure("invalid results \(results) for \(self)")
            }
        }
    }

    private func conflict(expected: UInt64, actual: UInt64) -> Verdict {
        actual == expected
            ? .retry
            : .answer(.conflict(Conflict(expectedRevision: expected, actualRevision: actual)))
    }
}
