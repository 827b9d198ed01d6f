import NIOCore
import PGStateProtocol
import Testing

/// Test frames built with the protocol's own encoders and read back with its decoder, so every test goes through
/// the real wire format.
enum Frames {
    static func encoded(_ request: Request, id: UInt32, namespace: Namespace? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        RequestFrame(requestID: id, request: request, namespace: namespace).encode(into: &buffer)
        return buffer
    }

    static func decode(_ bytes: ByteBuffer, maxFrameBytes: Int = ProtocolLimits.default.maxFrameBytes) throws -> Frame {
        var buffer = bytes
        var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        let frame = try #require(try decoder.decode(buffer: &buffer))
        #expect(buffer.readableBytes == 0, "exactly one frame")
        return frame
    }

    static func request(_ request: Request, id: UInt32, namespace: Namespace? = nil) throws -> Frame {
        try decode(encoded(request, id: id, namespace: namespace))
    }

    /// A frame with a hand-written payload (for malformed and unknown frames).
    static func raw(
        _ type: MessageType, flags: UInt8 = 0, id: UInt32, _ payload: (inout ByteBuffer) -> Void = { _ in }
    ) throws -> Frame {
        var buffer = ByteBuffer()
        buffer.writeFrame(type: type, flags: flags, requestID: id, payload)
        return try decode(buffer)
    }

    static func hello(_ versions: [UInt16] = [1], id: UInt32 = 1) throws -> Frame {
        try request(.hello(Hello(versions: versions, clientName: "unit-test")), id: id)
    }

    static func load(_ key: String, id: UInt32) throws -> Frame {
        try request(.load(try PersistenceID(key)), id: id)
    }

    /// A LOAD whose id bytes are given raw (invalid ids cannot be built as `PersistenceID`).
    static func load(rawID: [UInt8], id: UInt32) throws -> Frame {
        try raw(.load, id: id) {
            $0.writeInteger(UInt8(rawID.count))
            $0.writeBytes(rawID)
        }
    }

    /// Every response frame in `buffer`, decoded.
    static func responses(in buffer: ByteBuffer) throws -> [ResponseFrame] {
        var buffer = buffer
        var decoder = FrameDecoder()
        var frames: [ResponseFrame] = []
        while let frame = try decoder.decode(buffer: &buffer) {
            frames.append(try ResponseFrame.decode(frame))
        }
        #expect(buffer.readableBytes == 0, "no partial frame left")
        return frames
    }
}

extension ResponseFrame {
    var errorStatus: Status? {
        if case .error(let error) = response { return error.status }
        return nil
    }

    var errorMessage: String? {
        if case .error(let error) = response { return error.message }
        return nil
    }
}
