import Testing

@testable import PGStateStore

@Suite("TableName")
struct TableNameTests {
    @Test(arguments: [
        "durable_state", "_x", "A", "Z9", "states_2024", "app.states", "_._", String(repeating: "a", count: 63),
        String(repeating: "s", count: 63) + "." + String(repeating: "t", count: 63),
    ])
    func acceptsPlainIdentifiers(text: String) throws {
        let name = try TableName(text)
        #expect(name.description == text)
        #expect(name.parts.joined(separator: ".") == text)
    }

    @Test(arguments: [
        "",  // empty
        ".",  // two empty parts
        "a.",  // empty name
        ".a",  // empty schema
        "a.b.c",  // too many parts
        "1abc",  // starts with a digit
        "app.1st",  // second part starts with a digit
        "a-b", "a b", "a;drop table x", "a\"b", "\"quoted\"", "a$", "tä", "état",  // not [A-Za-z0-9_]
        String(repeating: "a", count: 64),  // 64 bytes
        "app." + String(repeating: "a", count: 64),
    ])
    func refusesAnythingElse(text: String) {
        #expect(throws: TableName.ValidationError.self) { try TableName(text) }
    }

    @Test func validationErrorNamesTheOffendingText() {
        do {
            _ = try TableName("x.y.z")
            Issue.record("accepted x.y.z")
        } catch {
            #expect("\(error)".contains("x.y.z"))
        }
        do {
            _ = try TableName("app.9lives")
            Issue.record("accepted app.9lives")
        } catch {
            #expect("\(error)".contains("9lives"))
        }
    }

    @Test func quotesEveryPart() throws {
        #expect(try TableName("durable_state").quoted == "\"durable_state\"")
        #expect(try TableName("app.States").quoted == "\"app\".\"States\"", "quoting keeps the case")
        #expect(try TableName("app.States").parts == ["app", "States"])
    }

    @Test func defaultIsDurableState() throws {
        #expect(TableName.default.parts == ["durable_state"])
        #expect(TableName.default == (try TableName("durable_state")))
    }
}
