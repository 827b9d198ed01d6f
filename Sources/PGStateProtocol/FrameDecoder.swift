import NIOCore

/// Splits a byte stream into ``Frame``s, enforcing the maximum frame size.
///
/// The length prefix is checked as soon as its 4 bytes are there: a length over `maxFrameBytes` is
/// `FRAME_TOO_LARGE` before any of the body is buffered, a length under 6 is `MALFORMED_FRAME`. A partial frame
/// consumes nothing (the decoder waits for more). Both errors close the connection, so they are thrown.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    public var maxFrameBytes: Int

    public init(maxFrameBytes: Int = ProtocolLimits.default.maxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= Frame.headerBytes else {
            throw ProtocolError(
                .malformedFrame, requestID: 0,
                "frame length \(length) is shorter than the \(Frame.headerBytes)-byte header"
            )
        }
        guard UInt64(length) <= UInt64(maxFrameBytes) else {
            throw ProtocolError(
                .frameTooLarge, requestID: 0,
                "frame length \(length) exceeds the maximum of \(maxFrameBytes) bytes"
            )
        }
        guard buffer.readableBytes >= Frame.lengthPrefixBytes + Int(length) else { return nil }

        buffer.moveReaderIndex(forwardBy: Frame.lengthPrefixBytes)
        // The length check above guarantees the header and payload are readable.
        let type = buffer.readInteger(as: UInt8.self)!
        let flags = buffer.readInteger(as: UInt8.self)!
        let requestID = buffer.readInteger(as: UInt32.self)!
        let payload = buffer.readSlice(length: Int(length) - Frame.headerBytes)!
        return Frame(type: MessageType(rawValue: type), flags: flags, requestID: requestID, payload: payload)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        // A partial frame left at EOF is dropped: the peer is gone and there is nobody to answer.
        try decode(buffer: &buffer)
    }
}
