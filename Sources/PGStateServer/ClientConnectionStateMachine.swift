import PGStateProtocol
import PGStateStore

/// The life of one client connection, without I/O: handshake → ready → draining → closed.
///
/// The channel handler turns events into calls here and performs the returned action; every protocol rule about
/// what a connection may do next lives in this type and is tested without sockets.
struct ClientConnectionStateMachine {
    enum State: Equatable {
        case awaitingHello
        case ready
        /// Shutting down: new requests are refused with `SHUTTING_DOWN`; once every request in flight has been
        /// answered the server sends `ERROR SHUTTING_DOWN` with request id 0 and closes its side.
        case draining
        /// The closing notice is sent and the output closed; input is read and dropped until the client closes
        /// (so the client sees a clean end of stream rather than a reset).
        case outputClosed
        case closed
    }

    enum Action: Equatable {
        case none
        case send(ResponseFrame)
        case sendAndClose(ResponseFrame)
        /// Send the frame, then close the output side only.
        case sendAndCloseOutput(ResponseFrame)
        case execute(requestID: UInt32, StoreOperation)
        case close
    }

    static let supportedVersions: [UInt16] = [1]

    private(set) var state: State = .awaitingHello
    private(set) var inFlight = 0
    let limits: ProtocolLimits
    let hello: HelloOK

    init(limits: ProtocolLimits, serverVersion: String) {
        self.limits = limits
        self.hello = HelloOK(version: 1, serverVersion: serverVersion, limits: limits, capabilities: [.conditionalDelete])
    }

    /// Reading pauses while this many requests are in flight (backpressure: the client waits, memory does not grow).
    var shouldPauseReading: Bool { inFlight >= limits.maxInFlight }

    mutating func frameReceived(_ frame: Frame) -> Action {
        let decoded: RequestFrame
        do {
            decoded = try RequestFrame.decode(frame, limits: limits)
        } catch let error as ProtocolError {
            return protocolError(error)
        } catch {
            preconditionFailure("decoder threw \(error)")
        }
        let id = decoded.requestID
        switch (state, decoded.request) {
        case (.awaitingHello, .hello(let hello)):
            guard hello.versions.contains(where: Self.supportedVersions.contains) else {
                state = .closed
                return .sendAndClose(error(id, .unsupportedVersion,
                    "client speaks versions \(hello.versions); this server speaks \(Self.supportedVersions)"))
            }
            state = .ready
            return .send(ResponseFrame(requestID: id, response: .helloOK(self.hello)))
        case (.awaitingHello, let request):
            state = .closed
            return .sendAndClose(error(id, .notAllowed, "\(request.type) before HELLO; the first frame must be HELLO"))
        case (.ready, .hello), (.draining, .hello):
            state = .closed
            return .sendAndClose(error(id, .notAllowed, "HELLO was already received on this connection"))
        case (.ready, .ping):
            return .send(ResponseFrame(requestID: id, response: .ok))
        case (.ready, let request):
            // Only LOAD / UPSERT / DELETE remain, all store operations.
            inFlight += 1
            return .execute(requestID: id, StoreOperation(request)!)
        case (.draining, _):
            return .send(error(id, .shuttingDown, "pgstated is shutting down; the request was not executed"))
        case (.outputClosed, _), (.closed, _):
            return .none
        }
    }

    /// A framing error from the frame decoder, or a decode error of one frame.
    mutating func protocolError(_ error: ProtocolError) -> Action {
        guard state != .closed && state != .outputClosed else { return .none }
        if state == .awaitingHello && error.status == .invalidArgument {
            // The handshake check comes before the argument rules (PROTOCOL.md, "Order of checks"): a well-formed
            // request before HELLO is NOT_ALLOWED whatever its arguments.
            state = .closed
            return .sendAndClose(ResponseFrame(requestID: error.requestID, response: .error(ErrorResponse(
                status: .notAllowed, message: "request before HELLO; the first frame must be HELLO"))))
        }
        let response = ResponseFrame(requestID: error.requestID, response: .error(ErrorResponse(error)))
        if error.closesConnection {
            state = .closed
            return .sendAndClose(response)
        }
        return .send(response)
    }

    /// A store operation answered. Returns whether to send the response, and what to do after it.
    mutating func responseReady() -> (send: Bool, then: Action) {
        switch state {
        case .ready:
            inFlight -= 1
            return (true, .none)
        case .draining:
            inFlight -= 1
            return (true, inFlight == 0 ? closingNotice() : .none)
        case .outputClosed, .closed:
            return (false, .none)
        case .awaitingHello:
            preconditionFailure("invalid state: \(state) with a response in flight")
        }
    }

    /// The server is shutting down.
    mutating func drain() -> Action {
        switch state {
        case .awaitingHello:
            state = .closed
            return .close
        case .ready:
            state = .draining
            return inFlight == 0 ? closingNotice() : .none
        case .draining, .outputClosed, .closed:
            return .none
        }
    }

    /// Every request read so far is answered: tell the client that nothing after this was executed.
    private mutating func closingNotice() -> Action {
        state = .outputClosed
        return .sendAndCloseOutput(error(0, .shuttingDown,
            "pgstated is shutting down; every request not answered on this connection was not executed"))
    }

    mutating func closed() {
        state = .closed
    }

    private func error(_ requestID: UInt32, _ status: Status, _ message: String) -> ResponseFrame {
        ResponseFrame(requestID: requestID, response: .error(ErrorResponse(status: status, message: message)))
    }
}
