/// The table's DDL, as created at start-up and as documented for administrators (README, "The table").
///
/// Records are keyed by (namespace, persistence_id): the namespace is chosen by the server from the peer's
/// verified identity, so it lives in the key rather than in a prefix of the id (ids keep their full 255 bytes).
enum Schema {
    static func createTable(_ table: TableName) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(table.quoted) (
            namespace text NOT NULL DEFAULT '',
            persistence_id text NOT NULL,
            revision bigint NOT NULL,
            state bytea NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (namespace, persistence_id)
        )
        """
    }

    /// Brings a table of the first schema (`persistence_id text PRIMARY KEY`, no namespace) to the current one in
    /// place: existing rows land in the shared namespace `''`, and the primary key becomes (namespace,
    /// persistence_id). Does nothing on a current table, so every connection may run it (under the set-up's
    /// advisory lock). Adding the column with a constant default does not rewrite the table; rebuilding the
    /// primary key index reads it once, under an exclusive lock.
    static func migrate(_ table: TableName) -> String {
        let literal = "'\(table.quoted)'"  // a quoted identifier never holds a single quote
        return """
            DO $pgstate_migrate$
            DECLARE
                primary_key name;
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_attribute
                               WHERE attrelid = \(literal)::regclass AND attname = 'namespace' AND NOT attisdropped) THEN
                    ALTER TABLE \(table.quoted) ADD COLUMN namespace text NOT NULL DEFAULT '';
                    SELECT conname INTO primary_key FROM pg_constraint
                    WHERE conrelid = \(literal)::regclass AND contype = 'p';
                    IF primary_key IS NOT NULL THEN
                        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', \(literal), primary_key);
                    END IF;
                    ALTER TABLE \(table.quoted) ADD PRIMARY KEY (namespace, persistence_id);
                END IF;
            END
            $pgstate_migrate$
            """
    }
}
