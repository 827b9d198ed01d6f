/// The SQL of the store: one prepared statement per step, all parameters and results in binary.
///
/// A conditional write is followed, in the same pipeline, by ``current``: in READ COMMITTED each statement takes
/// a fresh snapshot, so after a write that matched no row (possibly after waiting on another writer's lock) this
/// read sees the latest committed revision, without another round trip.
enum Statement: Int, CaseIterable, Sendable {
    case load
    case create
    case update
    case delete
    case deleteIf
    case current

    var name: String { "pgstate_\(self)" }

    /// libpq parameter type OIDs: text 25, int8 20, bytea 17.
    var parameterTypes: [UInt32] {
        switch self {
        case .load, .delete, .current: return [25]
        case .create: return [25, 17]
        case .update: return [25, 20, 17]
        case .deleteIf: return [25, 20]
        }
    }

    func sql(table: TableName) -> String {
        let t = table.quoted
        switch self {
        case .load:
            return "SELECT revision, state, updated_at FROM \(t) WHERE persistence_id = $1"
        case .create:
            return """
                INSERT INTO \(t) (persistence_id, revision, state, updated_at) VALUES ($1, 1, $2, clock_timestamp()) \
                ON CONFLICT (persistence_id) DO NOTHING RETURNING revision, updated_at
                """
        case .update:
            return """
                UPDATE \(t) SET revision = revision + 1, state = $3, updated_at = clock_timestamp() \
                WHERE persistence_id = $1 AND revision = $2 RETURNING revision, updated_at
                """
        case .delete:
            return "DELETE FROM \(t) WHERE persistence_id = $1"
        case .deleteIf:
            return "DELETE FROM \(t) WHERE persistence_id = $1 AND revision = $2 RETURNING revision"
        case .current:
            return "SELECT revision FROM \(t) WHERE persistence_id = $1"
        }
    }
}

/// The table's DDL, as created at start-up and as documented for administrators.
enum Schema {
    static func createTable(_ table: TableName) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(table.quoted) (
            persistence_id text PRIMARY KEY,
            revision bigint NOT NULL,
            state bytea NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    }
}
