import Testing

@testable import PGStateStore

/// The numbers of the `$n` parameters a SQL text uses.
private func parameterNumbers(in sql: String) -> Set<Int> {
    var numbers: Set<Int> = []
    var characters = sql.makeIterator()
    var current: String?
    while let character = characters.next() {
        if character == "$" {
            if let digits = current, let number = Int(digits) { numbers.insert(number) }
            current = ""
        } else if current != nil, character.isASCII, character.isNumber {
            current! += String(character)
        } else {
            if let digits = current, let number = Int(digits) { numbers.insert(number) }
            current = nil
        }
    }
    if let digits = current, let number = Int(digits) { numbers.insert(number) }
    return numbers
}

private let text = PreparedStatement.ParameterType.text
private let int8 = PreparedStatement.ParameterType.int8
private let bytea = PreparedStatement.ParameterType.bytea
private let textArray = PreparedStatement.ParameterType.textArray

@Suite("Statements")
struct StatementsTests {
    @Test func parameterScannerFindsNumbers() {
        #expect(parameterNumbers(in: "a = $1 AND b = $12, ($3)") == [1, 12, 3])
        #expect(parameterNumbers(in: "no parameters $") == [])
    }

    @Test(arguments: StoreOperations.allStatements)
    func usesExactlyTheParametersItDeclares(statement: PreparedStatement) throws {
        let sql = statement.sql(table: try TableName("app.states"))
        let count = statement.parameterTypes.count
        #expect(count > 0)
        #expect(count <= PGConnection.maxParameters, "a connection binds at most \(PGConnection.maxParameters)")
        #expect(parameterNumbers(in: sql) == Set(1...count), "\(statement): \(sql)")
        #expect(statement.parameterTypes.first == text, "$1 is always the namespace")
        #expect([text, textArray].contains(statement.parameterTypes[1]), "$2 the persistence id(s) (LIST: the lower bound)")
    }

    @Test(arguments: StoreOperations.allStatements)
    func addressesTheQuotedTableOnly(statement: PreparedStatement) throws {
        let table = try TableName("app.states")
        let sql = statement.sql(table: table)
        #expect(sql.contains("\"app\".\"states\""), "\(statement): \(sql)")
        #expect(!sql.contains("durable_state"))
        #expect(!sql.replacing("\"app\".\"states\"", with: "").contains("app.states"))
        #expect(sql.contains("namespace = $1 AND persistence_id = $2") || sql.contains("VALUES ($1, $2")
                || sql.contains("namespace = $1 AND persistence_id = ANY($2)")
                || sql.contains("t.namespace = $1 AND t.persistence_id = ANY($2)")
                || sql.contains("namespace = $1 AND persistence_id >= $2"),
                "keyed by ($1, $2)")
        let defaultSQL = statement.sql(table: .default)
        #expect(defaultSQL.contains("\"durable_state\""))
    }

    /// Each parameter's declared type matches where the SQL uses it.
    @Test func parameterTypesMatchTheirUse() throws {
        let table = TableName.default
        #expect(LoadOperation.select.parameterTypes == [text, text])
        #expect(DeleteOperation.delete.parameterTypes == [text, text])
        #expect(CurrentRevision.statement.parameterTypes == [text, text])

        #expect(UpsertOperation.create.parameterTypes == [text, text, bytea, int8])
        #expect(UpsertOperation.create.sql(table: table).contains("VALUES ($1, $2, 1, $3, clock_timestamp(), CASE WHEN $4 > 0"),
                "new records start at revision 1 with the state in $3, the TTL in $4")

        #expect(UpsertOperation.update.parameterTypes == [text, text, int8, bytea, int8])
        let update = UpsertOperation.update.sql(table: table)
        #expect(update.contains("revision = $3"))
        #expect(update.contains("state = $4"))
        #expect(update.contains("revision = revision + 1"))
        #expect(update.contains("expires_at = CASE WHEN $5 > 0"), "the TTL in $5; without one the expiry is cleared")

        #expect(DeleteOperation.deleteIf.parameterTypes == [text, text, int8])
        #expect(DeleteOperation.deleteIf.sql(table: table).contains("revision = $3"))
    }

    @Test func writesReturnWhatTheVerdictNeeds() {
        let table = TableName.default
        let create = UpsertOperation.create.sql(table: table)
        #expect(create.contains("ON CONFLICT (namespace, persistence_id) DO UPDATE"))
        #expect(create.contains("WHERE (t.expires_at IS NOT NULL AND t.expires_at <= clock_timestamp())"),
                "a create replaces only an expired record")
        #expect(UpsertOperation.create.sql(table: table).hasSuffix("RETURNING revision, updated_at"))
        #expect(UpsertOperation.update.sql(table: table).hasSuffix("RETURNING revision, updated_at"))
        #expect(DeleteOperation.deleteIf.sql(table: table).hasSuffix("RETURNING revision"))
        #expect(LoadOperation.select.sql(table: table).hasPrefix("SELECT revision, state, updated_at FROM"))
        #expect(CurrentRevision.statement.sql(table: table).hasPrefix("SELECT revision FROM"))
        #expect(!DeleteOperation.delete.sql(table: table).contains("revision"), "unconditional")
    }

    @Test func namesAreDistinctAndPrefixed() {
        let names = StoreOperations.allStatements.map(\.name)
        #expect(Set(names).count == StoreOperations.allStatements.count)
        #expect(names.allSatisfy { $0.hasPrefix("pgstate_") })
        #expect(DeleteOperation.deleteIf.name == "pgstate_deleteIf")
    }

    @Test func schemaCreatesTheQuotedTable() throws {
        let ddl = Schema.createTable(try TableName("app.states"))
        #expect(ddl.contains("CREATE TABLE IF NOT EXISTS \"app\".\"states\" ("))
        for column in [
            "namespace text NOT NULL DEFAULT ''", "revision bigint NOT NULL",
            "state bytea NOT NULL", "updated_at timestamptz NOT NULL", "PRIMARY KEY (namespace, persistence_id)",
            "expires_at timestamptz,", "persistence_id text COLLATE \"C\" NOT NULL",
        ] {
            #expect(ddl.contains(column))
        }
    }

    @Test func migrationAddsTheNamespaceOnlyToATableWithoutOne() throws {
        let sql = Schema.migrate(try TableName("app.states"))
        #expect(sql.contains("attrelid = '\"app\".\"states\"'::regclass AND attname = 'namespace'"))
        #expect(sql.contains("ADD COLUMN namespace text NOT NULL DEFAULT ''"))
        #expect(sql.contains("ADD PRIMARY KEY (namespace, persistence_id)"))
        #expect(sql.contains("IF NOT EXISTS"), "a current table is left alone")
        #expect(sql.contains("attname = 'expires_at'") && sql.contains("ADD COLUMN expires_at timestamptz"),
                "checked in the catalogue first: ALTER TABLE locks the table even when it does nothing")
        #expect(sql.contains("IF to_regclass('\"app\".\"states_expires_at\"') IS NULL THEN"))
        #expect(sql.contains("ALTER COLUMN persistence_id TYPE text COLLATE \"C\""))
    }

    @Test func everyReadSkipsExpiredRows() {
        for statement in [LoadOperation.select, CurrentRevision.statement, BulkLoadOperation.select,
                          ListOperation.bounded, ListOperation.unbounded, UpsertOperation.update, DeleteOperation.deleteIf] {
            #expect(statement.sql(table: .default).contains(Expiry.live), "\(statement.name)")
        }
    }
}
