import PGStateProtocol
import Testing

@Suite("Persistence id rules")
struct PersistenceIDTests {
    @Test(arguments: ["a", "order-42", "订单-42", "emoji-😀", String(repeating: "x", count: 255), "tab\u{80}ok"])
    func accepts(_ id: String) throws {
        #expect(try PersistenceID(id).value == id)
    }

    @Test(arguments: ["", "a\u{0}b", "line\nbreak", "del\u{7F}", "\u{1F}", String(repeating: "x", count: 256),
                      String(repeating: "é", count: 128)])
    func refuses(_ id: String) {
        #expect(throws: PersistenceID.ValidationError.self) { try PersistenceID(id) }
    }

    @Test func refusesInvalidUTF8() {
        for bytes: [UInt8] in [[0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xE2, 0x82]] {
            #expect(throws: PersistenceID.ValidationError.self) { try PersistenceID(validating: bytes) }
        }
    }

    @Test func canonicallyEquivalentSpellingsAreDifferentIDs() throws {
        let precomposed = try PersistenceID("caf\u{E9}")
        let decomposed = try PersistenceID("cafe\u{301}")
        #expect(precomposed.value == decomposed.value, "Swift's String equality says equal")
        #expect(precomposed != decomposed, "but they are different ids, as in PostgreSQL")
        #expect(Set([precomposed, decomposed]).count == 2)
    }

    @Test func ordersByBytes() throws {
        let ids = try ["b", "a", "Z", "é", "aa"].map(PersistenceID.init)
        #expect(ids.sorted().map(\.value) == ["Z", "a", "aa", "b", "é"])
    }
}
