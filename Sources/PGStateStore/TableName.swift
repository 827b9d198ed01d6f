/// A validated, optionally schema-qualified SQL identifier for the state table (`durable_state`, `app.states`).
///
/// Each part must be a plain identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes) so that it can be quoted
/// safely and means the same to every administrator who reads it.
public struct TableName: Sendable, Hashable, CustomStringConvertible {
    public let parts: [String]

    public struct ValidationError: Error, CustomStringConvertible {
        public let description: String
    }

    public static let `default` = try! TableName("durable_state")

    public init(_ text: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count) else {
            throw ValidationError(description: "table name \"\(text)\" must be NAME or SCHEMA.NAME")
        }
        for part in parts {
            let bytes = Array(part.utf8)
            guard let first = bytes.first, bytes.count <= 63,
                  first == UInt8(ascii: "_") || Self.isLetter(first),
                  bytes.allSatisfy({ $0 == UInt8(ascii: "_") || Self.isLetter($0) || Self.isDigit($0) })
            else {
                throw ValidationError(description:
                    "table name part \"\(part)\" is not an identifier (letters, digits, _; not starting with a digit; at most 63 bytes)")
            }
        }
        self.parts = parts
    }

    /// The name as SQL, every part double-quoted.
    public var quoted: String { parts.map { "\"\($0)\"" }.joined(separator: ".") }

    public var description: String { parts.joined(separator: ".") }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
