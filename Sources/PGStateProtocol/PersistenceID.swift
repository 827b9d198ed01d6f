/// A validated persistence id: 1 to 255 bytes of UTF-8 without control characters (U+0000–U+001F, U+007F).
public struct PersistenceID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Largest id in bytes (the `str8` length field of protocol v1).
    public static let maxBytes = 255

    public let value: String

    /// Why a candidate id was refused; the text is sent back to the client in `INVALID_ARGUMENT`.
    public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// Validates raw bytes as they arrive off the wire.
    public init<Bytes: Collection>(validating bytes: Bytes) throws where Bytes.Element == UInt8 {
        guard !bytes.isEmpty else { throw ValidationError(description: "persistence_id is empty") }
        guard bytes.count <= Self.maxBytes else {
            throw ValidationError(description: "persistence_id is \(bytes.count) bytes, more than \(Self.maxBytes)")
        }
        // In UTF-8 every control character of the forbidden ranges is a single byte below 0x80,
        // and multi-byte sequences never contain such bytes, so a byte scan is exact.
        if let offset = bytes.firstIndex(where: { $0 < 0x20 || $0 == 0x7F }) {
            let position = bytes.distance(from: bytes.startIndex, to: offset)
            throw ValidationError(description: "persistence_id has a control character at byte \(position)")
        }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw ValidationError(description: "persistence_id is not valid UTF-8")
        }
        self.value = string
    }

    /// Validates a Swift string (used by clients before sending).
    public init(_ string: String) throws {
        try self.init(validating: string.utf8)
    }

    public var description: String { value }

    // Ids are compared byte for byte, as the protocol and PostgreSQL do: Swift's String comparison would treat
    // canonically equivalent spellings ("é" precomposed and decomposed) as equal.

    public static func == (lhs: PersistenceID, rhs: PersistenceID) -> Bool {
        lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in value.utf8 { hasher.combine(byte) }
    }

    public static func < (lhs: PersistenceID, rhs: PersistenceID) -> Bool {
        // Byte order, the same order PostgreSQL uses for text under the C collation.
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
