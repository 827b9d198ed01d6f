import NIOCore

/// One frame as read off the wire: the 6-byte header and the undecoded payload.
///
/// ```
///  0               4       5       6               10
///  +---------------+-------+-------+---------------+-------------
///  | length u32be  | type  | flags | request_id    | payload ...
///  +---------------+-------+-------+---------------+-------------
/// ```
/// `length` counts everything after itself: 6 header bytes plus the payload.
public struct Frame: Sendable, Hashable {
    /// Size of the length prefix.
    public static let lengthPrefixBytes = 4
    /// Size of type + flags + request id; the smallest valid value of the length prefix.
    public static let headerBytes = 6

    public var type: MessageType
    public var flags: UInt8
    public var requestID: UInt32
    public var payload: ByteBuffer

    public init(type: MessageType, flags: UInt8 = 0, requestID: UInt32, payload: ByteBuffer) {
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.payload = payload
    }
}

extension ByteBuffer {
    /// Writes a whole frame: length prefix, header, then whatever `writePayload` writes.
    @inlinable
    public mutating func writeFrame(
        type: MessageType,
        flags: UInt8 = 0,
        requestID: UInt32,
        _ writePayload: (inout ByteBuffer) -> Void = { _ in }
    ) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        writeInteger(type.rawValue)
        writeInteger(flags)
        writeInteger(requestID)
        writePayload(&self)
        let length = writerIndex - lengthIndex - Frame.lengthPrefixBytes
        setInteger(UInt32(length), at: lengthIndex)
    }

    /// `str8`: a u8 length and the bytes. Never truncated (PROTOCOL.md, client behaviour): every value written
    /// here is validated where it is made (``PersistenceID``, ``Hello/init(versions:clientName:)``, the server's
    /// version string), so a longer one is a programming error.
    @inlinable
    mutating func writeStr8<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        precondition(bytes.count <= 255, "a str8 field of \(bytes.count) bytes; at most 255")
        writeInteger(UInt8(bytes.count))
        writeBytes(bytes)
    }
}
