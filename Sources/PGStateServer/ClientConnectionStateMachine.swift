import PGStateProtocol

/// The life of one client connection, without I/O: handshake → ready → draining → closed, and every decision
/// about reading and writing it.
///
/// The reactor turns socket events into calls here and performs the returned actions; it asks ``wantsInput``
/// before reading and ``mayTakeFrame`` before decoding the next buffered frame. Backpressure lives here too:
/// - a request counts as *in flight* from the moment it is read until its answer has been written to the socket
///   (not merely produced), so a client that reads nothing holds at most `maxInFlight` requests;
/// - at most ``Limits/maxExecuting`` of them wait on the database at once, so one client cannot fill a batch;
/// - no new request is taken while the unwritten output is at or above ``Limits/outputHighWater`` bytes.
/// A request is taken only while all three allow it; the rest stays unread in the socket (the client waits).
///
/// Access is decided here too, from what the connection was granted at accept (``Access``): a peer granted
/// nothing is refused at HELLO, a request its permissions do not allow is answered `PERMISSION_DENIED`, and every
/// request executes in the namespace of the grant (or the one it names, when the grant allows that).
struct ClientConnectionStateMachine {
    /// The connection's identity and what the access rules granted it when it was accepted (nil: nothing).
    struct Access: Equatable {
        var identity: PeerIdentity
        var grant: AccessGrant?
    }

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
        /// Send the frame, then close the connection.
        case sendAndClose(ResponseFrame)
        /// Send the frame (the closing notice), then close the output side only.
        case sendAndCloseOutput(ResponseFrame)
        /// Send the answer, then the closing notice, then close the output side.
        case sendAnswerAndCloseOutput(ResponseFrame, notice: ResponseFrame)
        /// Hand the request to the store, in `namespace`; its answer comes back through ``answered(_:)``.
        case execute(requestID: UInt32, Request, namespace: Namespace)
        /// An operators' request (HEALTH, STATS, CLIENTS, PAUSE, RESUME), permitted: the reactor answers it (through
        /// ``answered(_:)``, like a store request), often after asking every reactor.
        case operate(requestID: UInt32, Request)
        /// Refused by the access rules: send the frame (and close after it when `closes`), and audit it.
        case deny(ResponseFrame, closes: Bool)
        case close
    }

    struct Limits: Equatable {
        var maxExecuting: Int
        var outputHighWater: Int

        static let `default` = Limits(maxExecuting: 64, outputHighWater: 256 * 1024)
    }

    static let supportedVersions: [UInt16] = [1]

    private(set) var state: State = .awaitingHello
    /// Requests handed to the store and not yet answered.
    private(set) var executing = 0
    /// Answers (and other responses) in the output that the socket has not taken completely yet.
    private(set) var unwrittenResponses = 0
    /// Bytes of output the socket has not taken yet.
    private(set) var outputBytes = 0
    /// The client shut its sending side down (or it ended): no more frames come.
    private(set) var inputEnded = false
    let limits: ProtocolLimits
    let connectionLimits: Limits
    let hello: HelloOK
    let access: Access
    /// The `client_name` of the connection's HELLO (for CLIENTS).
    private(set) var clientName = ""

    init(limits: ProtocolLimits, serverVersion: String, connectionLimits: Limits = .default, access: Access) {
        self.limits = limits
        self.connectionLimits = connectionLimits
        self.hello = HelloOK(version: 1, serverVersion: serverVersion, limits: limits,
                             capabilities: [.conditionalDelete, .identity, .operator, .multiKey, .ttl])
        self.access = access
    }

    /// Requests read and not yet written back.
    var inFlight: Int { executing + unwrittenResponses }

    /// Whether the next complete frame of the input may be taken now.
    var mayTakeFrame: Bool {
        switch state {
        case .awaitingHello, .ready, .draining:
            return inFlight < limits.maxInFlight && executing < connectionLimits.maxExecuting
                && outputBytes < connectionLimits.outputHighWater
        case .outputClosed:
            return true  // read and dropped
        case .closed:
            return false
        }
    }

    /// Whether the reactor should read from the socket.
    var wantsInput: Bool { !inputEnded && mayTakeFrame }

    /// Whether the connection has nothing left to do once its output is written: the client ended its input
    /// and every request it sent has been answered.
    var isFinished: Bool {
        state == .closed || (inputEnded && executing == 0)
    }

    mutating func frameReceived(_ frame: Frame) -> Action {
        if state == .outputClosed || state == .closed { return .none }
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
            guard access.grant != nil else {
                state = .closed
                return .deny(error(id, .permissionDenied,
                    "no access rule grants \(access.identity) anything; ask the operator to add one"), closes: true)
            }
            state = .ready
            clientName = hello.clientName
            return send(ResponseFrame(requestID: id, response: .helloOK(self.hello)))
        case (.awaitingHello, let request):
            state = .closed
            return .sendAndClose(error(id, .notAllowed, "\(request.type) before HELLO; the first frame must be HELLO"))
        case (.ready, .hello), (.draining, .hello):
            state = .closed
            return .sendAndClose(error(id, .notAllowed, "HELLO was already received on this connection"))
        case (.ready, .ping):
            return send(ResponseFrame(requestID: id, response: .ok))
        case (.ready, .whoami):
            return send(ResponseFrame(requestID: id, response: .whoamiOK(whoAmI)))
        case (.ready, .health), (.ready, .stats), (.ready, .clients), (.ready, .pause), (.ready, .resume):
            let request = decoded.request
            if request.needsAdmin && !(access.grant?.permissions.contains(.admin) ?? false) {
                let has = access.grant.map { "\($0.permissions) (\(ruleText($0)))" } ?? "nothing"
                return deny(id, "\(request.type) needs admin permission; \(access.identity) has \(has)")
            }
            executing += 1
            return .operate(requestID: id, request)
        case (.ready, let request):
            // A connection in .ready has a grant: HELLO refuses one without.
            guard let grant = access.grant else { preconditionFailure("a ready connection without a grant") }
            let needed: Permissions = request.isRead ? .read : .write
            guard grant.permissions.contains(needed) else {
                return deny(id, "\(request.type) needs \(needed) permission; \(access.identity) has \(grant.permissions) in namespace \(grant.namespace) (\(ruleText(grant)))")
            }
            guard let namespace = grant.namespace(for: decoded.namespace) else {
                return deny(id, "\(access.identity) may not name namespace \(decoded.namespace!) (its own is \(grant.namespace); \(ruleText(grant)))")
            }
            executing += 1
            return .execute(requestID: id, request, namespace: namespace)
        case (.draining, _):
            return send(error(id, .shuttingDown, "pgstated is shutting down; the request was not executed"))
        case (.outputClosed, _), (.closed, _):
            preconditionFailure("invalid state: \(state) handled above")
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
        return send(response)
    }

    /// A request handed to the store has its answer.
    mutating func answered(_ frame: ResponseFrame) -> Action {
        switch state {
        case .ready:
            executing -= 1
            return send(frame)
        case .draining:
            executing -= 1
            guard executing == 0 else { return send(frame) }
            unwrittenResponses += 1
            state = .outputClosed
            return .sendAnswerAndCloseOutput(frame, notice: closingNotice)
        case .outputClosed, .closed:
            executing -= 1
            return .none
        case .awaitingHello:
            preconditionFailure("invalid state: \(state) with a request in flight")
        }
    }

    /// The unwritten output is now `bytes` long (after queueing or writing). When all of it is written, every
    /// response queued so far has reached the socket.
    mutating func outputBuffered(_ bytes: Int) {
        outputBytes = bytes
        if bytes == 0 { unwrittenResponses = 0 }
    }

    /// The client shut its sending side down; answers to what it sent are still delivered.
    mutating func inputClosed() -> Action {
        inputEnded = true
        switch state {
        case .awaitingHello, .outputClosed:
            state = .closed
            return .close
        case .ready, .draining, .closed:
            return .none
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
            guard executing == 0 else { return .none }
            state = .outputClosed
            unwrittenResponses += 1
            return .sendAndCloseOutput(closingNotice)
        case .draining, .outputClosed, .closed:
            return .none
        }
    }

    /// Every request read so far is answered: tell the client that nothing after this was executed.
    private var closingNotice: ResponseFrame {
        error(0, .shuttingDown, "pgstated is shutting down; every request not answered on this connection was not executed")
    }

    mutating func closed() {
        state = .closed
    }

    /// The identity and grant, as WHOAMI reports them.
    var whoAmI: WhoAmI {
        WhoAmI(uid: access.identity.uid, gid: access.identity.gid, pid: UInt32(bitPattern: access.identity.pid),
               user: access.identity.userName ?? "", namespace: access.grant?.namespace.value ?? "",
               permissions: access.grant?.permissions ?? [], rule: access.grant?.rule ?? "")
    }

    private func ruleText(_ grant: AccessGrant) -> String {
        grant.rule.isEmpty ? "no access file" : "rule \(grant.rule)"
    }

    /// A request the grant does not allow: answered, nothing executed, the connection stays open.
    private mutating func deny(_ requestID: UInt32, _ message: String) -> Action {
        unwrittenResponses += 1
        return .deny(error(requestID, .permissionDenied, message), closes: false)
    }

    private mutating func send(_ frame: ResponseFrame) -> Action {
        unwrittenResponses += 1
        return .send(frame)
    }

    private func error(_ requestID: UInt32, _ status: Status, _ message: String) -> ResponseFrame {
        ResponseFrame(requestID: requestID, response: .error(ErrorResponse(status: status, message: message)))
    }
}
