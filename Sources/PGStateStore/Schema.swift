/// The table's DDL, as created at start-up and as documented for administrators (README, "The table").
///
/// Records are keyed by (namespace, persistence_id): the namespace is chosen by the server from the peer's
/// verified identity, so it lives in the key rather than in a prefix of the id (ids keep their full 255 bytes).
/// The id has the "C" collation: the primary key's order is byte order, which LIST pages in and batches lock in.
/// `expires_at` is set by writes with a TTL (NULL: never); the partial index serves the sweeper alone.
enum Schema {
    static func createTable(_ table: TableName) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(table.quoted) (
            namespace text NOT NULL DEFAULT '',
            persistence_id text COLLATE "C" NOT NULL,
            revision bigint NOT NULL,
            state bytea NOT NULL,
            updated_at timestamptz NOT NULL,
            expires_at timestamptz,
            PRIMARY KEY (namespace, persistence_id)
        )
        """
    }

    /// The sweeper's index: only rows with a TTL, in expiry order.
    static func createExpiryIndex(_ table: TableName) -> String {
        "CREATE INDEX IF NOT EXISTS \(expiryIndexName(table)) ON \(table.quoted) (expires_at) WHERE expires_at IS NOT NULL"
    }

    /// `<table>_expires_at`, quoted (in the table's schema: an index lives in its table's schema).
    static func expiryIndexName(_ table: TableName) -> String {
        "\"\(table.parts.last!.prefix(52))_expires_at\""
    }

    /// The index's name as `to_regclass` finds it: qualified by the table's schema when the table's name is.
    static func qualifiedExpiryIndexName(_ table: TableName) -> String {
        (table.parts.count == 2 ? "\"\(table.parts[0])\"." : "") + expiryIndexName(table)
    }

    /// Brings a table of an earlier schema to the current one, in place, each step only when needed.
    ///
    /// The first schema (`persistence_id text PRIMARY KEY`, no namespace): existing rows land in the shared namespace `''`, and the primary key becomes (namespace,
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
                -- TTL (pgstated 0.4): a nullable column without a default does not rewrite the table. Every step
                -- checks the catalogue first: ALTER TABLE and CREATE INDEX lock the table even when they would do
                -- nothing, and this runs whenever a pool connection is set up.
                IF NOT EXISTS (SELECT 1 FROM pg_attribute
                               WHERE attrelid = \(literal)::regclass AND attname = 'expires_at' AND NOT attisdropped) THEN
                    ALTER TABLE \(table.quoted) ADD COLUMN expires_at timestamptz;
                END IF;
                -- Byte order for the id: a binary-coercible change, so only the primary key index is rebuilt.
                IF (SELECT collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
                    WHERE a.attrelid = \(literal)::regclass AND a.attname = 'persistence_id') <> 'C' THEN
                    ALTER TABLE \(table.quoted) ALTER COLUMN persistence_id TYPE text COLLATE "C";
                END IF;
                IF to_regclass('\(qualifiedExpiryIndexName(table))') IS NULL THEN
                    \(createExpiryIndex(table));
                END IF;
            END
            $pgstate_migrate$
            """
    }
}
