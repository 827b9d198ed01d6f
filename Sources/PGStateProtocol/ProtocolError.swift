/// A protocol violation or argument error found while decoding a frame.
///
/// It carries everything the server needs to answer: the ``status`` of the `ERROR` frame, the request id to echo
/// (0 when the header could not be read), and a message that says what was wrong, for the peer's logs.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Status
    public var requestID: UInt32
    public var message: String

    public init(_ status: Status, requestID: UInt32, _ message: String) {
        self.status = status
        self.requestID = requestID
        self.message = message
    }

    /// Whether the server closes the connection after answering this error (PROTOCOL.md, "Closing").
    public var closesConnection: Bool {
        switch status {
        case .malformedFrame, .frameTooLarge, .unsupportedVersion, .notAllowed: return true
        default: return false
        }
    }

    public var description: String { "\(status): \(message) (request id \(requestID))" }
}
