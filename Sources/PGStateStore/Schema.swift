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
