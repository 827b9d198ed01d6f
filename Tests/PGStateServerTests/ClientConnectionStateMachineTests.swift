import NIOCore
import PGStateProtocol
import PGStateStore
import Testing

@testable import PGStateServer

typealias Machine = ClientConnectionStateMachine
typealias Action = ClientConnectionStateMachine.Action

enum ActionKind: Equatable {
    case none, send, sendAndClose, sendAndCloseOutput, sendAnswerAndCloseOutput, execute, operate, deny, close
}

extension ClientConnectionStateMachine.Action {
    var kind: ActionKind {
        switch self {
        case .none: return .none
        case .send: return .send
        case .sendAndClose: return .sendAndClose
        case .sendAndCloseOutput: return .sendAndCloseOutput
        case .sendAnswerAndCloseOutput: return .sendAnswerAndCloseOutput
        case .execute: return .execute
        case .operate: return .operate
        case .deny: return .deny
        case .close: return .close
        }
    }

    /// The (last) frame this action sends, as a client would read it off the wire (encoded, then decoded).
    var sentFrame: ResponseFrame? {
        let frame: ResponseFrame
        switch self {
        case .send(let f), .sendAndClose(let f), .sendAndCloseOutput(let f), .sendAnswerAndCloseOutput(_, let f),
             .deny(let f, _):
            frame = f
        case .none, .execute, .operate, .close: return nil
        }
        var buffer = ByteBuffer()
        frame.encode(into: &buffer)
        let decoded = try? Frames.responses(in: buffer)
        #expect(decoded?.count == 1, "the action's frame encodes to one valid response frame")
        return decoded?.first
    }
}

private let serverVersion = "pgstated 9.9.9-test"
private let limits = ProtocolLimits(maxFrameBytes: 5_000, maxIDBytes: 255, maxStateBytes: 100, maxInFlight: 3)

/// A peer of the open policy (no access file): the shared namespace, read and write.
let openAccess = Machine.Access(
    identity: PeerIdentity(uid: 1000, gid: 1000, pid: 4242, groups: [1000, 27], userName: "alice"),
    grant: AccessGrant(namespace: .shared, permissions: [.read, .write], rule: ""))

private func machine(access: Machine.Access = openAccess) -> Machine {
    Machine(limits: limits, serverVersion: serverVersion, access: access)
}

private func readyMachine(sourceLocation: SourceLocation = #_sourceLocation) throws -> Machine {
    var machine = machine()
    let action = machine.frameReceived(try Frames.hello())
    #expect(action.kind == .send, sourceLocation: sourceLocation)
    #expect(machine.state == .ready, sourceLocation: sourceLocation)
    machine.outputBuffered(0)  // HELLO_OK written
    return machine
}

/// Expects an error frame with `status` and `id`, sent by an action of `kind`.
private func expectError(
    _ action: Action, _ kind: ActionKind, _ status: Status, id: UInt32,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(action.kind == kind, "\(action)", sourceLocation: sourceLocation)
    let frame = action.sentFrame
    #expect(frame?.requestID == id, sourceLocation: sourceLocation)
    #expect(frame?.errorStatus == status, "\(String(describing: frame))", sourceLocation: sourceLocation)
}

private let key = try! PersistenceID("cart-1")

/// A store answer for request `id`.
private func answer(_ id: UInt32) -> ResponseFrame {
    ResponseFrame(requestID: id, response: .notFound)
}

@Suite("ClientConnectionStateMachine: handshake")
struct HandshakeTests {
    @Test func helloIsAnsweredWithLimitsAndCapabilities() throws {
        var machine = machine()
        #expect(machine.state == .awaitingHello)
        let action = machine.frameReceived(try Frames.hello([1], id: 77))
        #expect(action.kind == .send)
        let frame = try #require(action.sentFrame)
        #expect(frame.requestID == 77)
        guard case .helloOK(let hello) = frame.response else {
            Issue.record("expected HELLO_OK, got \(frame.response)")
            return
        }
        #expect(hello.version == 1)
        #expect(hello.serverVersion == serverVersion)
        #expect(hello.limits == limits)
        #expect(hello.capabilities.contains(.conditionalDelete))
        #expect(machine.state == .ready)
        #expect(machine.executing == 0)
        #expect(machine.inFlight == 1, "HELLO_OK until written")
    }

    @Test(arguments: [[2, 1], [1, 2, 3], [0, 1], [1, 1]] as [[UInt16]])
    func picksVersionOneFromAnyListThatHasIt(versions: [UInt16]) throws {
        var machine = machine()
        let frame = try #require(machine.frameReceived(try Frames.hello(versions)).sentFrame)
        guard case .helloOK(let hello) = frame.response else {
            Issue.record("expected HELLO_OK, got \(frame.response)")
            return
        }
        #expect(hello.version == 1)
        #expect(machine.state == .ready)
    }

    @Test(arguments: [[2], [0], [2, 3, 65_535]] as [[UInt16]])
    func unsupportedVersionsAreRefusedAndClosed(versions: [UInt16]) throws {
        var machine = machine()
        let action = machine.frameReceived(try Frames.hello(versions, id: 5))
        expectError(action, .sendAndClose, .unsupportedVersion, id: 5)
        #expect(action.sentFrame?.errorMessage?.contains("[1]") == true, "names the server's versions")
        #expect(machine.state == .closed)
        #expect(machine.frameReceived(try Frames.hello()).kind == .none, "nothing after the close")
    }

    @Test(arguments: [
        Request.ping, .load(key), .upsert(Upsert(persistenceID: key, expectedRevision: 0, state: ByteBuffer())),
        .delete(Delete(persistenceID: key)), .delete(Delete(persistenceID: key, expectedRevision: 2)),
    ])
    func anyRequestBeforeHelloIsNotAllowedAndCloses(request: Request) throws {
        var machine = machine()
        let action = machine.frameReceived(try Frames.request(request, id: 9))
        expectError(action, .sendAndClose, .notAllowed, id: 9)
        #expect(machine.state == .closed)
        #expect(machine.executing == 0, "nothing executed")
    }

    @Test func aSecondHelloIsNotAllowedAndCloses() throws {
        var machine = try readyMachine()
        let action = machine.frameReceived(try Frames.hello([1], id: 2))
        expectError(action, .sendAndClose, .notAllowed, id: 2)
        #expect(machine.state == .closed)
    }

    /// PROTOCOL.md 3.4: the type check (#4) comes before the handshake check (#7), and 101 keeps the connection.
    @Test func anUnknownTypeBeforeHelloIsAnsweredAndTheHandshakeCanStillHappen() throws {
        var machine = machine()
        expectError(machine.frameReceived(try Frames.raw(MessageType(rawValue: 0x7F), id: 4)),
                    .send, .unknownMessageType, id: 4)
        #expect(machine.state == .awaitingHello)
        #expect(machine.frameReceived(try Frames.hello()).kind == .send)
        #expect(machine.state == .ready)
    }

    @Test func aMalformedHelloClosesWithMalformedFrame() throws {
        var machine = machine()
        // versions_count 0.
        let frame = try Frames.raw(.hello, id: 3) {
            $0.writeInteger(UInt8(0))
            $0.writeInteger(UInt8(0))
        }
        expectError(machine.frameReceived(frame), .sendAndClose, .malformedFrame, id: 3)
        #expect(machine.state == .closed)
    }

    /// PROTOCOL.md 3.4 orders the checks: handshake state (#7, NOT_ALLOWED, close) before argument rules
    /// (#8, INVALID_ARGUMENT, stays open): a LOAD with an invalid persistence id before HELLO is NOT_ALLOWED.
    @Test func anInvalidArgumentBeforeHelloIsStillNotAllowed() throws {
        var machine = machine()
        let action = machine.frameReceived(try Frames.load(rawID: [], id: 6))
        expectError(action, .sendAndClose, .notAllowed, id: 6)
        #expect(machine.state == .closed)
    }
}

@Suite("ClientConnectionStateMachine: requests")
struct RequestTests {
    @Test func pingIsAnsweredWithoutTheStore() throws {
        var machine = try readyMachine()
        let action = machine.frameReceived(try Frames.request(.ping, id: 12))
        #expect(action.kind == .send)
        #expect(action.sentFrame == ResponseFrame(requestID: 12, response: .ok))
        #expect(machine.executing == 0)
        #expect(machine.inFlight == 1, "a response counts until the socket has taken it")
        machine.outputBuffered(14)
        #expect(machine.inFlight == 1)
        machine.outputBuffered(0)
        #expect(machine.inFlight == 0)
        #expect(machine.state == .ready)
    }

    @Test func storeRequestsAreExecutedAndCounted() throws {
        var machine = try readyMachine()
        let state = ByteBuffer(bytes: [1, 2, 3])
        let upsert = Upsert(persistenceID: key, expectedRevision: 4, state: state)
        let conditional = Delete(persistenceID: key, expectedRevision: 5)
        let requests: [Request] = [.load(key), .upsert(upsert), .delete(conditional)]
        for (offset, request) in requests.enumerated() {
            let id = UInt32(100 + offset)
            let action = machine.frameReceived(try Frames.request(request, id: id))
            #expect(action == .execute(requestID: id, request, namespace: .shared))
            #expect(machine.inFlight == offset + 1)
        }
        let unconditional = Delete(persistenceID: key)
        #expect(machine.answered(answer(100)).kind == .send)
        machine.outputBuffered(0)
        #expect(machine.frameReceived(try Frames.request(.delete(unconditional), id: 200))
            == .execute(requestID: 200, .delete(unconditional), namespace: .shared))
        #expect(machine.inFlight == 3)
    }

    @Test func pausesReadingAtMaxInFlight() throws {
        var machine = try readyMachine()
        machine.outputBuffered(0)  // HELLO_OK written
        for id in 1...2 as ClosedRange<UInt32> {
            _ = machine.frameReceived(try Frames.load("k\(id)", id: id))
            #expect(machine.wantsInput)
        }
        _ = machine.frameReceived(try Frames.load("k3", id: 3))
        #expect(machine.inFlight == limits.maxInFlight)
        #expect(!machine.mayTakeFrame && !machine.wantsInput)
        // An answer produced but not yet written still counts: a client that reads nothing stays paused.
        #expect(machine.answered(answer(1)).kind == .send)
        machine.outputBuffered(20)
        #expect(machine.inFlight == 3)
        #expect(!machine.wantsInput)
        machine.outputBuffered(0)
        #expect(machine.inFlight == 2)
        #expect(machine.wantsInput)
    }

    @Test func pausesWhileTheOutputIsAboveItsHighWater() throws {
        var machine = Machine(limits: ProtocolLimits(maxStateBytes: 100, maxInFlight: 100), serverVersion: serverVersion,
                              connectionLimits: .init(maxExecuting: 100, outputHighWater: 1000), access: openAccess)
        _ = machine.frameReceived(try Frames.hello())
        machine.outputBuffered(999)
        #expect(machine.wantsInput)
        machine.outputBuffered(1000)
        #expect(!machine.wantsInput, "no new request while the client has not taken its answers")
        machine.outputBuffered(10)
        #expect(machine.wantsInput)
    }

    @Test func atMostMaxExecutingWaitOnTheDatabase() throws {
        var machine = Machine(limits: ProtocolLimits(maxStateBytes: 100, maxInFlight: 100), serverVersion: serverVersion,
                              connectionLimits: .init(maxExecuting: 2, outputHighWater: 1000), access: openAccess)
        _ = machine.frameReceived(try Frames.hello())
        machine.outputBuffered(0)
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        _ = machine.frameReceived(try Frames.load("b", id: 2))
        #expect(!machine.mayTakeFrame)
        _ = machine.answered(answer(1))
        #expect(machine.mayTakeFrame, "the answer waits for the socket, not for the database")
    }

    @Test func halfCloseStillAnswersWhatWasSent() throws {
        var machine = try readyMachine()
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        #expect(machine.inputClosed() == .none)
        #expect(!machine.wantsInput)
        #expect(!machine.isFinished, "one request is still in flight")
        #expect(machine.answered(answer(1)).kind == .send)
        #expect(machine.isFinished, "closes once the answer is written")
    }

    @Test func inputClosedDuringTheHandshakeCloses() {
        var machine = machine()
        #expect(machine.inputClosed() == .close)
        #expect(machine.state == .closed)
    }

    @Test func responsesInReadyAreSentAndLeaveTheConnectionOpen() throws {
        var machine = try readyMachine()
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        _ = machine.frameReceived(try Frames.load("b", id: 2))
        machine.outputBuffered(0)
        for (id, expected) in [(1, 1), (2, 0)] as [(UInt32, Int)] {
            #expect(machine.answered(answer(id)) == .send(answer(id)))
            machine.outputBuffered(0)
            #expect(machine.inFlight == expected)
            #expect(machine.state == .ready)
        }
    }
}

@Suite("ClientConnectionStateMachine: protocol errors")
struct ProtocolErrorTests {
    @Test func invalidArgumentKeepsTheConnection() throws {
        var machine = try readyMachine()
        expectError(machine.frameReceived(try Frames.load(rawID: [], id: 21)), .send, .invalidArgument, id: 21)
        expectError(machine.frameReceived(try Frames.load(rawID: [0x61, 0x00], id: 22)),
                    .send, .invalidArgument, id: 22)
        expectError(machine.frameReceived(try Frames.load(rawID: [0xC3, 0x28], id: 23)),
                    .send, .invalidArgument, id: 23)
        // A state over maxStateBytes (100) in a frame within maxFrameBytes.
        let big = Upsert(persistenceID: key, expectedRevision: 0, state: ByteBuffer(repeating: 0, count: 101))
        expectError(machine.frameReceived(try Frames.request(.upsert(big), id: 24)), .send, .invalidArgument, id: 24)
        let badRevision = Upsert(persistenceID: key, expectedRevision: Revision.max, state: ByteBuffer())
        expectError(machine.frameReceived(try Frames.request(.upsert(badRevision), id: 25)),
                    .send, .invalidArgument, id: 25)
        #expect(machine.state == .ready)
        #expect(machine.executing == 0, "nothing executed")
        #expect(machine.frameReceived(try Frames.load("ok", id: 26)).kind == .execute)
    }

    @Test func unknownMessageTypeKeepsTheConnection() throws {
        var machine = try readyMachine()
        expectError(machine.frameReceived(try Frames.raw(MessageType(rawValue: 0x42), id: 31)),
                    .send, .unknownMessageType, id: 31)
        // A response type sent as a request.
        expectError(machine.frameReceived(try Frames.raw(.ok, id: 32)), .send, .unknownMessageType, id: 32)
        #expect(machine.state == .ready)
    }

    @Test func structuralFaultsAreMalformedAndClose() throws {
        let faults: [(String, Frame, UInt32)] = [
            ("trailing bytes", try Frames.raw(.ping, id: 41) { $0.writeInteger(UInt8(0)) }, 41),
            ("undefined flag", try Frames.raw(.load, flags: 0x01, id: 42) {
                $0.writeInteger(UInt8(1))
                $0.writeString("k")
            }, 42),
            ("truncated field", try Frames.raw(.load, id: 43) { $0.writeInteger(UInt8(9)); $0.writeString("k") }, 43),
            ("request id 0", try Frames.raw(.ping, id: 0), 0),
        ]
        for (what, frame, id) in faults {
            var machine = try readyMachine()
            let action = machine.frameReceived(frame)
            #expect(action.kind == .sendAndClose, "\(what)")
            #expect(action.sentFrame?.errorStatus == .malformedFrame, "\(what)")
            #expect(action.sentFrame?.requestID == id, "\(what)")
            #expect(machine.state == .closed, "\(what)")
        }
    }

    @Test func framingErrorsFromTheDecoderCloseWithRequestIDZero() throws {
        var machine = try readyMachine()
        var input = ByteBuffer()
        input.writeInteger(UInt32(limits.maxFrameBytes + 1))
        var decoder = FrameDecoder(maxFrameBytes: limits.maxFrameBytes)
        do {
            _ = try decoder.decode(buffer: &input)
            Issue.record("the decoder accepted an oversized frame")
        } catch let error as ProtocolError {
            expectError(machine.protocolError(error), .sendAndClose, .frameTooLarge, id: 0)
        }
        #expect(machine.state == .closed)
    }

    /// PROTOCOL.md section 10: the server closes after 100, 103, 104, 105 and after no other status.
    @Test(arguments: Status.allDefined)
    func closesExactlyForTheClosingStatuses(status: Status) throws {
        var machine = try readyMachine()
        let action = machine.protocolError(ProtocolError(status, requestID: 8, "test"))
        let closing: Set<UInt16> = [100, 103, 104, 105]
        expectError(action, closing.contains(status.rawValue) ? .sendAndClose : .send, status, id: 8)
        #expect(machine.state == (closing.contains(status.rawValue) ? .closed : .ready))
    }

    @Test func protocolErrorsAfterTheCloseAreNotAnswered() throws {
        var machine = try readyMachine()
        machine.closed()
        #expect(machine.protocolError(ProtocolError(.malformedFrame, requestID: 0, "x")).kind == .none)
        var draining = try readyMachine()
        _ = draining.drain()
        #expect(draining.state == .outputClosed)
        #expect(draining.protocolError(ProtocolError(.invalidArgument, requestID: 3, "x")).kind == .none)
    }
}

@Suite("ClientConnectionStateMachine: drain and close")
struct DrainTests {
    @Test func drainDuringTheHandshakeJustCloses() {
        var machine = machine()
        #expect(machine.drain() == .close)
        #expect(machine.state == .closed)
    }

    @Test func drainWhenIdleSendsTheFinalNoticeAndClosesOutput() throws {
        var machine = try readyMachine()
        let action = machine.drain()
        expectError(action, .sendAndCloseOutput, .shuttingDown, id: 0)
        #expect(machine.state == .outputClosed)
        #expect(machine.drain().kind == .none, "only once")
    }

    @Test func drainWithRequestsInFlightWaitsForTheirResponses() throws {
        var machine = try readyMachine()
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        _ = machine.frameReceived(try Frames.load("b", id: 2))
        #expect(machine.drain() == .none)
        #expect(machine.state == .draining)
        #expect(machine.drain() == .none)

        // New requests are refused with their own id and not executed; PING too.
        expectError(machine.frameReceived(try Frames.load("c", id: 3)), .send, .shuttingDown, id: 3)
        expectError(machine.frameReceived(try Frames.request(.ping, id: 4)), .send, .shuttingDown, id: 4)
        #expect(machine.executing == 2)

        #expect(machine.answered(answer(1)) == .send(answer(1)))
        #expect(machine.state == .draining)

        let last = machine.answered(answer(2))
        guard case .sendAnswerAndCloseOutput(let frame, _) = last else {
            Issue.record("the last answer goes out before the notice: \(last)")
            return
        }
        #expect(frame == answer(2))
        expectError(last, .sendAnswerAndCloseOutput, .shuttingDown, id: 0)
        #expect(machine.state == .outputClosed)
        #expect(machine.executing == 0)
    }

    @Test func protocolErrorsWhileDraining() throws {
        var machine = try readyMachine()
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        _ = machine.drain()
        expectError(machine.frameReceived(try Frames.load(rawID: [], id: 5)), .send, .invalidArgument, id: 5)
        #expect(machine.state == .draining)
        expectError(machine.frameReceived(try Frames.hello([1], id: 6)), .sendAndClose, .notAllowed, id: 6)
        #expect(machine.state == .closed)
        #expect(machine.answered(answer(1)) == .none, "the connection is gone")
    }

    @Test func afterOutputClosedNothingIsSent() throws {
        var machine = try readyMachine()
        _ = machine.drain()
        #expect(machine.frameReceived(try Frames.load("a", id: 1)) == .none)
        #expect(machine.frameReceived(try Frames.hello()) == .none)
        #expect(machine.frameReceived(try Frames.load(rawID: [], id: 2)) == .none)
        #expect(machine.frameReceived(try Frames.raw(.ping, id: 0)) == .none)
        #expect(machine.drain() == .none)
        #expect(machine.state == .outputClosed)
        machine.closed()
        #expect(machine.state == .closed)
    }

    @Test func responsesAfterTheClientLeftAreDropped() throws {
        var machine = try readyMachine()
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        machine.closed()
        #expect(machine.answered(answer(1)) == .none)
        #expect(machine.frameReceived(try Frames.request(.ping, id: 2)) == .none)
        #expect(machine.drain() == .none)
        #expect(machine.state == .closed)
    }

    @Test func aClosingProtocolErrorWithRequestsInFlightDropsTheirResponses() throws {
        var machine = try readyMachine()
        _ = machine.frameReceived(try Frames.load("a", id: 1))
        expectError(machine.frameReceived(try Frames.raw(.ping, flags: 0x80, id: 2)), .sendAndClose,
                    .malformedFrame, id: 2)
        #expect(machine.answered(answer(1)) == .none)
    }
}

@Suite("Client connection: access")
struct ClientConnectionAccessTests {
    private static let billing = try! Namespace("billing")
    private static let reader = Machine.Access(
        identity: PeerIdentity(uid: 1002, gid: 1002, pid: 9, userName: "reports"),
        grant: AccessGrant(namespace: billing, permissions: [.read], rule: "/etc/pgstated/access.conf:3"))
    private static let writer = Machine.Access(
        identity: PeerIdentity(uid: 1001, gid: 1001, pid: 8, userName: "billing"),
        grant: AccessGrant(namespace: billing, permissions: [.read, .write], rule: "/etc/pgstated/access.conf:2"))
    private static let admin = Machine.Access(
        identity: PeerIdentity(uid: 0, gid: 0, pid: 1, userName: "root"),
        grant: AccessGrant(namespace: .shared, permissions: [.read, .write, .admin, .anyNamespace], rule: "f:4"))
    private static let stranger = Machine.Access(
        identity: PeerIdentity(uid: 4000, gid: 4000, pid: 10, userName: nil), grant: nil)

    private func ready(_ access: Machine.Access) throws -> Machine {
        var machine = machine(access: access)
        #expect(machine.frameReceived(try Frames.hello()).kind == .send)
        machine.outputBuffered(0)
        return machine
    }

    private let key = try! PersistenceID("order-1")

    @Test func aPeerGrantedNothingIsDeniedAtHelloAndClosed() throws {
        var machine = machine(access: Self.stranger)
        let action = machine.frameReceived(try Frames.hello(id: 5))
        guard case .deny(let frame, closes: true) = action, case .error(let error) = frame.response else {
            Issue.record("expected a closing denial, got \(action)")
            return
        }
        #expect(frame.requestID == 5)
        #expect(error.status == .permissionDenied)
        #expect(error.message.contains("uid=4000"))
        #expect(machine.state == .closed)
    }

    @Test func versionIsCheckedBeforePermission() throws {
        var machine = machine(access: Self.stranger)
        let action = machine.frameReceived(try Frames.request(.hello(Hello(versions: [7], clientName: "x")), id: 1))
        #expect(action.kind == .sendAndClose)
        #expect(action.sentFrame?.errorStatus == .unsupportedVersion)
    }

    @Test func aReaderLoadsButMayNotWriteAndStaysConnected() throws {
        var machine = try ready(Self.reader)
        #expect(machine.frameReceived(try Frames.request(.load(key), id: 1))
            == .execute(requestID: 1, .load(key), namespace: Self.billing))
        let writes: [Request] = [.upsert(Upsert(persistenceID: key, expectedRevision: 0, state: ByteBuffer())),
                                 .delete(Delete(persistenceID: key)), .delete(Delete(persistenceID: key, expectedRevision: 2))]
        for (offset, request) in writes.enumerated() {
            let id = UInt32(10 + offset)
            let action = machine.frameReceived(try Frames.request(request, id: id))
            guard case .deny(let frame, closes: false) = action, case .error(let error) = frame.response else {
                Issue.record("expected a denial, got \(action)")
                continue
            }
            #expect(frame.requestID == id)
            #expect(error.status == .permissionDenied)
            #expect(error.message.contains("needs write permission") && error.message.contains("access.conf:3"))
            #expect(machine.state == .ready)
        }
        #expect(machine.executing == 1, "denied requests never reach the store")
    }

    @Test func requestsExecuteInTheGrantedNamespaceUnlessTheyMayNameAnother() throws {
        var writer = try ready(Self.writer)
        let upsert = Request.upsert(Upsert(persistenceID: key, expectedRevision: 0, state: ByteBuffer()))
        #expect(writer.frameReceived(try Frames.request(upsert, id: 1))
            == .execute(requestID: 1, upsert, namespace: Self.billing))
        // Naming its own namespace is fine; naming another is denied.
        #expect(writer.frameReceived(try Frames.request(upsert, id: 2, namespace: Self.billing))
            == .execute(requestID: 2, upsert, namespace: Self.billing))
        let other = try Namespace("payroll")
        #expect(writer.frameReceived(try Frames.request(upsert, id: 3, namespace: other)).kind == .deny)
        #expect(writer.frameReceived(try Frames.request(.load(key), id: 4, namespace: .shared)).kind == .deny)

        var admin = try ready(Self.admin)
        #expect(admin.frameReceived(try Frames.request(.load(key), id: 1))
            == .execute(requestID: 1, .load(key), namespace: .shared))
        #expect(admin.frameReceived(try Frames.request(.load(key), id: 2, namespace: other))
            == .execute(requestID: 2, .load(key), namespace: other))
    }

    @Test func whoamiReportsTheIdentityAndGrant() throws {
        var machine = try ready(Self.reader)
        let action = machine.frameReceived(try Frames.request(.whoami, id: 3))
        #expect(action.kind == .send)
        #expect(action.sentFrame == ResponseFrame(requestID: 3, response: .whoamiOK(WhoAmI(
            uid: 1002, gid: 1002, pid: 9, user: "reports", namespace: "billing", permissions: [.read],
            rule: "/etc/pgstated/access.conf:3"))))
        #expect(machine.executing == 0)
    }

    @Test func helloAnnouncesIdentity() throws {
        var machine = machine(access: Self.writer)
        let action = machine.frameReceived(try Frames.hello())
        guard case .helloOK(let hello)? = action.sentFrame?.response else {
            Issue.record("no HELLO_OK")
            return
        }
        #expect(hello.capabilities.contains(.identity))
        #expect(hello.capabilities.contains(.conditionalDelete))
    }
}
