import Logging
import NIOCore
import NIOEmbedded
import PGStateProtocol
import PGStateStore
import Testing

@testable import PGStateServer

/// Counts `read()` calls that get past the handler (it sits between the handler and the channel's head).
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

private let quietLogger = Logger(label: "pgstated-unit-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// One client connection on an `EmbeddedChannel`, wired like `Server` wires a socket. The pool is never started:
/// every submitted request is refused at once with `UNAVAILABLE`, which is enough for the handler's own logic.
private struct Connection {
    let channel = EmbeddedChannel()
    let registry: ConnectionRegistry
    let reads = ReadCounter()
    let limits: ProtocolLimits

    init(maxConnections: Int = 8, limits: ProtocolLimits = .default, registry: ConnectionRegistry? = nil,
         connect: Bool = true) throws {
        self.registry = registry ?? ConnectionRegistry(maxConnections: maxConnections)
        self.limits = limits
        let pool = StorePool(configuration: StoreConfiguration(poolSize: 1), logger: quietLogger)
        try channel.pipeline.syncOperations.addHandlers([
            reads,
            ByteToMessageHandler(FrameDecoder(maxFrameBytes: limits.maxFrameBytes),
                                 maximumBufferSize: 2 * limits.maxFrameBytes),
            ClientConnectionHandler(limits: limits, serverVersion: "pgstated test", pool: pool,
                                    registry: self.registry, logger: quietLogger),
        ])
        if connect {
            try channel.connect(to: SocketAddress(unixDomainSocketPath: "/tmp/pgstated-unit.sock")).wait()
        }
    }

    func send(_ request: Request, id: UInt32) throws {
        try channel.writeInbound(Frames.encoded(request, id: id))
    }

    func sendBytes(_ bytes: ByteBuffer) throws {
        try channel.writeInbound(bytes)
    }

    func hello() throws {
        try send(.hello(Hello(versions: [1], clientName: "t")), id: 1)
        let frames = try responses()
        #expect(frames.count == 1)
        if case .helloOK = frames.first?.response {} else { Issue.record("no HELLO_OK: \(frames)") }
    }

    /// Everything written to the client so far, decoded.
    func responses() throws -> [ResponseFrame] {
        var all = ByteBuffer()
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            all.writeBuffer(&buffer)
        }
        return try Frames.responses(in: all)
    }

    func finish() {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}

@Suite("ClientConnectionHandler on an EmbeddedChannel")
struct ClientConnectionHandlerTests {
    @Test func handshakeAnnouncesTheConfiguredLimits() throws {
        let limits = ProtocolLimits(maxStateBytes: 1_000, maxInFlight: 7)
        let connection = try Connection(limits: limits)
        defer { connection.finish() }
        #expect(connection.registry.count == 1)
        try connection.send(.hello(Hello(versions: [1], clientName: "t")), id: 42)
        let frames = try connection.responses()
        #expect(frames.count == 1)
        #expect(frames.first?.requestID == 42)
        guard case .helloOK(let hello)? = frames.first?.response else {
            Issue.record("expected HELLO_OK: \(frames)")
            return
        }
        #expect(hello.limits == limits)
        #expect(hello.serverVersion == "pgstated test")
        #expect(connection.channel.isActive)
    }

    @Test func pingsArePipelinedAndAnsweredInOrder() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        var bytes = ByteBuffer()
        for id in 10...14 as ClosedRange<UInt32> {
            RequestFrame(requestID: id, request: .ping).encode(into: &bytes)
        }
        // Split in the middle of a frame: the decoder waits for the rest.
        let head = bytes.readSlice(length: 17)!
        try connection.sendBytes(head)
        #expect(try connection.responses().map(\.requestID) == [10])
        try connection.sendBytes(bytes)
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [11, 12, 13, 14])
        #expect(frames.allSatisfy { $0.response == .ok })
        #expect(connection.registry.requestsInFlight == 0, "PING never reaches the store")
    }

    @Test func requestBeforeHelloIsNotAllowedAndCloses() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.send(.ping, id: 3)
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [3])
        #expect(frames.first?.errorStatus == .notAllowed)
        #expect(!connection.channel.isActive)
        #expect(connection.registry.count == 0, "unregistered on close")
    }

    @Test func aFrameShorterThanItsHeaderIsMalformedAndCloses() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        var bytes = ByteBuffer()
        bytes.writeInteger(UInt32(3))
        bytes.writeBytes([0x02, 0x00, 0x00])
        try connection.sendBytes(bytes)
        let frames = try connection.responses()
        #expect(frames.count == 1)
        #expect(frames.first?.requestID == 0)
        #expect(frames.first?.errorStatus == .malformedFrame)
        #expect(!connection.channel.isActive)
        #expect(connection.registry.count == 0)
    }

    @Test func anOversizedFrameIsRefusedFromItsLengthAlone() throws {
        let connection = try Connection(limits: ProtocolLimits(maxStateBytes: 100))
        defer { connection.finish() }
        try connection.hello()
        var bytes = ByteBuffer()
        bytes.writeInteger(UInt32(100 + ProtocolLimits.frameOverheadBytes + 1))
        try connection.sendBytes(bytes)
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [0])
        #expect(frames.first?.errorStatus == .frameTooLarge)
        #expect(!connection.channel.isActive)
    }

    @Test func anInvalidArgumentIsAnsweredAndTheConnectionStays() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        var bytes = ByteBuffer()
        bytes.writeFrame(type: .load, requestID: 5) { $0.writeInteger(UInt8(0)) }  // empty id
        try connection.sendBytes(bytes)
        try connection.send(.ping, id: 6)
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [5, 6])
        #expect(frames.first?.errorStatus == .invalidArgument)
        #expect(frames.last?.response == .ok)
        #expect(connection.channel.isActive)
    }

    @Test func connectionLimitOfZeroRefusesWithOverloadedIDZeroAndCloses() throws {
        let connection = try Connection(maxConnections: 0)
        defer { connection.finish() }
        let frames = try connection.responses()
        #expect(frames.count == 1)
        #expect(frames.first?.requestID == 0)
        #expect(frames.first?.errorStatus == .overloaded)
        #expect(!connection.channel.isActive)
        #expect(connection.registry.count == 0)
    }

    @Test func theConnectionOverTheLimitIsRefusedAndTheOthersStay() throws {
        let registry = ConnectionRegistry(maxConnections: 1)
        let first = try Connection(registry: registry)
        defer { first.finish() }
        let second = try Connection(registry: registry)
        defer { second.finish() }
        #expect(try second.responses().first?.errorStatus == .overloaded)
        #expect(!second.channel.isActive)
        #expect(first.channel.isActive)
        #expect(registry.count == 1)
        try first.hello()
    }

    /// The pool is not started, so the store answers `UNAVAILABLE` (not executed) on the connection's loop.
    @Test func aStoreRequestIsAnsweredWithItsIDAndCounted() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        try connection.send(.load(try PersistenceID("k")), id: 9)
        #expect(connection.registry.requestsInFlight == 1)
        #expect(try connection.responses().isEmpty, "answered on the event loop, later")
        connection.channel.embeddedEventLoop.run()
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [9])
        #expect(frames.first?.errorStatus == .unavailable)
        #expect(connection.registry.requestsInFlight == 0)
        #expect(connection.channel.isActive)
    }

    @Test func readingPausesAtMaxInFlightAndResumesAfterAResponse() throws {
        let connection = try Connection(limits: ProtocolLimits(maxStateBytes: 1_000, maxInFlight: 1))
        defer { connection.finish() }
        try connection.hello()
        connection.channel.read()
        #expect(connection.reads.reads == 1, "reads pass while nothing is in flight")
        try connection.send(.load(try PersistenceID("k")), id: 2)
        connection.channel.read()
        #expect(connection.reads.reads == 1, "held back at maxInFlight")
        connection.channel.embeddedEventLoop.run()
        #expect(connection.reads.reads == 2, "the pending read is issued once the response is out")
        #expect(try connection.responses().map(\.requestID) == [2])
    }

    @Test func drainWhenIdleSendsShuttingDownWithIDZeroAndCloses() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        connection.channel.pipeline.fireUserInboundEventTriggered(ClientConnectionHandler.Drain())
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [0])
        #expect(frames.first?.errorStatus == .shuttingDown)
        // EmbeddedChannel has no half-closure: closing the output closes it all.
        #expect(!connection.channel.isActive)
        #expect(connection.registry.count == 0)
    }

    @Test func drainDuringTheHandshakeClosesWithoutAFrame() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.channel.pipeline.fireUserInboundEventTriggered(ClientConnectionHandler.Drain())
        #expect(try connection.responses().isEmpty)
        #expect(!connection.channel.isActive)
    }

    @Test func drainAnswersWhatIsInFlightThenSendsTheFinalNotice() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        try connection.send(.load(try PersistenceID("a")), id: 7)
        connection.channel.pipeline.fireUserInboundEventTriggered(ClientConnectionHandler.Drain())
        try connection.send(.load(try PersistenceID("b")), id: 8)
        let refused = try connection.responses()
        #expect(refused.map(\.requestID) == [8])
        #expect(refused.first?.errorStatus == .shuttingDown)
        #expect(connection.channel.isActive, "still waiting for request 7")

        connection.channel.embeddedEventLoop.run()
        let frames = try connection.responses()
        #expect(frames.map(\.requestID) == [7, 0])
        #expect(frames.first?.errorStatus == .unavailable)
        #expect(frames.last?.errorStatus == .shuttingDown)
        #expect(!connection.channel.isActive)
        #expect(connection.registry.requestsInFlight == 0)
    }

    @Test func closingUnregistersAndLateAnswersAreDropped() throws {
        let connection = try Connection()
        defer { connection.finish() }
        try connection.hello()
        try connection.send(.load(try PersistenceID("a")), id: 7)
        try connection.channel.close().wait()
        #expect(connection.registry.count == 0)
        connection.channel.embeddedEventLoop.run()
        #expect(try connection.responses().isEmpty)
        #expect(connection.registry.requestsInFlight == 0, "the request still counts as finished")
    }
}
