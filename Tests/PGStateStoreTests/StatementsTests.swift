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

private let text: UInt32 = 25
private let int8: UInt32 = 20
private let bytea: UInt32 = 17

@Suite("Statements")
struct StatementsTests {
    @Test func parameterScannerFindsNumbers() {
        #expect(parameterNumbers(in: "a = $1 AND b = $12, ($3)") == [1, 12, 3])
        #expect(parameterNumbers(in: "no parameters $") == [])
    }

    @Test(arguments: Statement.allCases)
    func usesExactlyTheParametersItDeclares(statement: Statement) throws {
        let sql = statement.sql(table: try TableName("app.states"))
        let count = statement.parameterTypes.count
        #expect(count > 0)
        #expect(parameterNumbers(in: sql) == Set(1...count), "\(statement): \(sql)")
        #expect(statement.parameterTypes.first == text, "$1 is always the persistence id")
    }

    @Test(arguments: Statement.allCases)
    func addressesTheQuotedTableOnly(statement: Statement) throws {
        let table = try TableName("app.states")
        let sql = statement.sql(table: table)
        #expect(sql.contains("\"app\".\"states\""), "\(statement): \(sql)")
        #expect(!sql.contains("durable_state"))
        #expect(!sql.replacingOccurrences(of: "\"app\".\"states\"", with: "").contains("app.states"))
        #expect(sql.contains("persistence_id = $1") || sql.contains("VALUES ($1"), "keyed by $1")
        let defaultSQL = statement.sql(table: .default)
        #expect(defaultSQL.contains("\"durable_state\""))
    }

    /// Each parameter's declared type matches where the SQL uses it.
    @Test func parameterTypesMatchTheirUse() throws {
        let table = TableName.default
        #expect(Statement.load.parameterTypes == [text])
        #expect(Statement.delete.parameterTypes == [text])
        #expect(Statement.current.parameterTypes == [text])

        #expect(Statement.create.parameterTypes == [text, bytea])
        #expect(Statement.create.sql(table: table).contains("VALUES ($1, 1, $2, clock_timestamp())"),
                "new records start at revision 1 with the state in $2")

        #expect(Statement.update.parameterTypes == [text, int8, bytea])
        let update = Statement.update.sql(table: table)
        #expect(update.contains("revision = $2"))
        #expect(update.contains("state = $3"))
        #expect(update.contains("revision = revision + 1"))

        #expect(Statement.deleteIf.parameterTypes == [text, int8])
        #expect(Statement.deleteIf.sql(table: table).contains("revision = $2"))
    }

    @Test func writesReturnWhatTheVerdictNeeds() {
        let table = TableName.default
        #expect(Statement.create.sql(table: table).contains("ON CONFLICT (persistence_id) DO NOTHING"))
        #expect(Statement.create.sql(table: table).hasSuffix("RETURNING revision, updated_at"))
        #expect(Statement.update.sql(table: table).hasSuffix("RETURNING revision, updated_at"))
        #expect(Statement.deleteIf.sql(table: table).hasSuffix("RETURNING revision"))
        #expect(Statement.load.sql(table: table).hasPrefix("SELECT revision, state, updated_at FROM"))
        #expect(Statement.current.sql(table: table).hasPrefix("SELECT revision FROM"))
        #expect(!Statement.delete.sql(table: table).contains("revision"), "unconditional")
    }

    @Test func namesAreDistinctAndPrefixed() {
        let names = Statement.allCases.map(\.name)
        #expect(Set(names).count == Statement.allCases.count)
        #expect(names.allSatisfy { $0.hasPrefix("pgstate_") })
        #expect(Statement.deleteIf.name == "pgstate_deleteIf")
    }

    @Test func schemaCreatesTheQuotedTable() throws {
        let ddl = Schema.createTable(try TableName("app.states"))
        #expect(ddl.contains("CREATE TABLE IF NOT EXISTS \"app\".\"states\" ("))
        for column in [
            "persistence_id text PRIMARY KEY", "revision bigint NOT NULL", "state bytea NOT NULL",
            "updated_at timestamptz NOT NULL",
        ] {
            #expect(ddl.contains(column))
        }
    }
}
