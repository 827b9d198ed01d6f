import NIOCore

/// Reads the typed fields of one frame's payload and turns every shortfall into `MALFORMED_FRAME`.
///
/// The request id and message type are kept so that each error names the request it belongs to.
struct PayloadReader {
    var buffer: ByteBuffer
    let requestID: UInt32
    let type: MessageType

    init(_ frame: Frame) {
        self.buffer = frame.payload
        self.requestID = frame.requestID
        self.type = frame.type
    }

    func malformed(_ what: String) -> ProtocolError {
        ProtocolError(.malformedFrame, requestID: requestID, "\(type): \(what)")
    }

    func invalid(_ what: String) -> ProtocolError {
        ProtocolError(.invalidArgument, requestID: requestID, "\(type): \(what)")
    }

    mutating func integer<T: FixedWidthInteger>(_ field: String, as: T.Type = T.self) throws -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            throw malformed("field \(field) runs past the end of the frame")
        }
        return value
    }

    /// A length-prefixed byte field (`str8`, `str16` or `bytes32`, chosen by `Length`).
    mutating func slice<Length: FixedWidthInteger>(_ field: String, lengthAs: Length.Type) throws -> ByteBuffer {
        let length = try integer("\(field) length", as: Length.self)
        guard let slice = buffer.readSlice(length: Int(length)) else {
            throw malformed("field \(field) declares \(length) bytes but only \(buffer.readableBytes) remain")
        }
        return slice
    }

    /// A UTF-8 text field whose invalidity is a protocol error (client names, messages).
    mutating func text<Length: FixedWidthInteger>(_ field: String, lengthAs: Length.Type) throws -> String {
        let bytes = try slice(field, lengthAs: Length.self)
        guard let string = String(validating: bytes.readableBytesView, as: UTF8.self) else {
            throw malformed("field \(field) is not valid UTF-8")
        }
        return string
    }

    /// Validates a persistence id field read with ``slice(_:lengthAs:)``: content faults are invalid arguments.
    func persistenceID(_ bytes: ByteBuffer) throws -> PersistenceID {
        do {
            return try PersistenceID(validating: bytes.readableBytesView)
        } catch let error as PersistenceID.ValidationError {
            throw invalid(error.description)
        }
    }

    /// Trailing bytes after the last field are a protocol error.
    func finish() throws {
        guard buffer.readableBytes == 0 else {
            throw malformed("\(buffer.readableBytes) trailing bytes after the last field")
        }
    }

    func requireFlags(_ frameFlags: UInt8, allowed: UInt8) throws {
        guard frameFlags & ~allowed == 0 else {
            throw malformed("undefined flag bits 0x\(String(frameFlags & ~allowed, radix: 16)) are set")
        }
    }
}
