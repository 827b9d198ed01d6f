/// A validated namespace name: 0 to 63 bytes, each an ASCII letter, digit, `.`, `_` or `-`. The empty name is
/// the shared namespace (a server without access rules puts every connection there).
///
/// Records live per namespace (PROTOCOL.md 6.14). The server chooses a connection's namespace from the peer's
/// verified identity; a request names one only with the `NAMESPACE` flag, which its permissions must allow.
public struct Namespace: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let maxBytes = 63
    public static let shared = Namespace(unchecked: "")

    public let value: String

    public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    public init<Bytes: Collection>(validating bytes: Bytes) throws where Bytes.Element == UInt8 {
        guard bytes.count <= Self.maxBytes else {
            throw ValidationError(description: "namespace is \(bytes.count) bytes, more than \(Self.maxBytes)")
        }
        if let offset = bytes.firstIndex(where: { !Self.isAllowed($0) }) {
            let position = bytes.distance(from: bytes.startIndex, to: offset)
            throw ValidationError(description:
                "namespace has a byte other than a letter, digit, '.', '_' or '-' at byte \(position)")
        }
        self.value = String(decoding: bytes, as: UTF8.self)
    }

    public init(_ string: String) throws {
        try self.init(validating: string.utf8)
    }

    private init(unchecked value: String) {
        self.value = value
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    public var isShared: Bool { value.isEmpty }

    /// For logs: the shared namespace is shown as `(shared)`.
    public var description: String { value.isEmpty ? "(shared)" : value }

    public static func < (lhs: Namespace, rhs: Namespace) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
