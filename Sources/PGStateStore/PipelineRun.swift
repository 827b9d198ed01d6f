import CLibPQ
import NIOCore
import PGStateProtocol

/// How one operation of a pipeline ended.
enum OperationOutcome: Sendable, Hashable {
    case verdict(Verdict)
    /// One of its statements failed in PostgreSQL.
    case failed(StatementFailure)
    /// An earlier statement of the same implicit transaction failed, so this one did not run.
    case aborted
}

/// The connection broke while a pipeline was in progress.
struct PipelineBroken: Error {
    var reason: ConnectionBroken
    /// A Sync reached the server, so some writes may have committed; before that nothing can have.
    var mayHaveCommitted: Bool
}

/// Microseconds from the Unix epoch to PostgreSQL's epoch (2000-01-01), for binary timestamps.
let postgresEpochOffsetMicroseconds: Int64 = 946_684_800_000_000

extension PGConnection {
    /// Runs `operations` as one pipeline.
    ///
    /// - `individually == false`: all statements, then one Sync: one implicit transaction and one commit for the
    ///   whole batch (group commit). A failure anywhere rolls back everything before it too; the caller then runs
    ///   the batch again individually.
    /// - `individually == true`: a Sync after each operation: each its own transaction, still one round trip.
    func run(_ operations: [StoreOperation], individually: Bool) throws(PipelineBroken) -> [OperationOutcome] {
        var syncsSent = false
        do {
            for operation in operations {
                for statement in operation.statements { try send(statement, for: operation) }
                if individually { try sync() }
            }
            if !individually { try sync() }
            try flush()
            syncsSent = true

            var outcomes: [OperationOutcome] = []
            outcomes.reserveCapacity(operations.count)
            for operation in operations {
                outcomes.append(try readOutcome(of: operation))
                if individually { try readSync() }
            }
            if !individually { try readSync() }
            return outcomes
        } catch let error as ConnectionBroken {
            // Individually, earlier Syncs may have been sent while later statements were still being queued.
            throw PipelineBroken(reason: error, mayHaveCommitted: syncsSent || individually)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    private func readOutcome(of operation: StoreOperation) throws -> OperationOutcome {
        var results: [StepResult] = []
        var failure: OperationOutcome?
        for statement in operation.statements {
            guard let result = try nextResult() else {
                throw ConnectionBroken(description: "missing result for \(statement.name): \(errorMessage)")
            }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                results.append(Self.decode(result, of: statement, for: operation))
            case PGRES_PIPELINE_ABORTED:
                failure = failure ?? .aborted
            default:
                failure = .failed(Self.failure(result))
            }
            PQclear(result)
            // Each statement's results end with a NULL.
            while let extra = try nextResult() { PQclear(extra) }
        }
        return failure ?? .verdict(operation.verdict(results))
    }

    private func readSync() throws {
        while true {
            guard let result = try nextResult() else { continue }
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_PIPELINE_SYNC { return }
        }
    }

    private static func decode(_ result: OpaquePointer, of statement: Statement, for operation: StoreOperation)
        -> StepResult
    {
        let hasRow = PQntuples(result) > 0
        switch statement {
        case .load:
            guard hasRow else { return .loaded(nil) }
            return .loaded(Record(
                revision: UInt64(int64(result, 0)),
                updatedAtMicroseconds: int64(result, 2) &+ postgresEpochOffsetMicroseconds,
                state: bytes(result, 1)
            ))
        case .create, .update:
            guard hasRow else { return .written(nil) }
            return .written(Written(
                revision: UInt64(int64(result, 0)),
                updatedAtMicroseconds: int64(result, 1) &+ postgresEpochOffsetMicroseconds
            ))
        case .delete:
            return .done
        case .deleteIf:
            return .deleted(hasRow)
        case .current:
            return .current(hasRow ? UInt64(int64(result, 0)) : 0)
        }
    }

    /// A binary int8 or timestamptz of row 0.
    private static func int64(_ result: OpaquePointer, _ column: Int32) -> Int64 {
        precondition(PQgetlength(result, 0, column) == 8, "column \(column) is not 8 bytes")
        let raw = UnsafeRawPointer(PQgetvalue(result, 0, column)!)
        return Int64(bigEndian: raw.loadUnaligned(as: Int64.self))
    }

    /// A binary bytea of row 0, copied once into a buffer the response can carry.
    private static func bytes(_ result: OpaquePointer, _ column: Int32) -> ByteBuffer {
        let count = Int(PQgetlength(result, 0, column))
        let raw = UnsafeRawBufferPointer(start: PQgetvalue(result, 0, column), count: count)
        return ByteBuffer(bytes: raw)
    }
}
