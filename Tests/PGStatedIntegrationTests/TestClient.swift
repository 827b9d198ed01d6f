import NIOCore
import NIOPosix
import PGStateProtocol

/// A protocol-level client for tests: sends typed or raw frames, reads typed responses.
struct TestClient {
    private var inbound: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private(set) var nextRequestID: UInt32 = 1
    private(set) var helloOK: HelloOK?

    /// Connects, optionally does the HELLO handshake, runs `body`, and closes.
    static func withConnection<R: Sendable>(
        to path: String, handshake: Bool = true, _ body: (inout TestClient) async throws -> R
    ) async throws -> R {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    return try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var client = TestClient(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            if handshake { try await client.handshake() }
            return try await body(&client)
        }
    }

    mutating func handshake(versions: [UInt16] = [1]) async throws {
        let response = try await call(.hello(Hello(versions: versions, clientName: "pgstate-tests")))
        guard case .helloOK(let hello) = response else { throw TestFailure("handshake failed: \(response)") }
        helloOK = hello
    }

    /// Sends one request; returns its id.
    @discardableResult
    mutating func send(_ request: Request) async throws -> UInt32 {
        let id = nextRequestID
        nextRequestID &+= 1
        try await send([RequestFrame(requestID: id, request: request)])
        return id
    }

    func send(_ frames: [RequestFrame]) async throws {
        var buffer = ByteBuffer()
        for frame in frames { frame.encode(into: &buffer) }
        try await outbound.write(buffer)
    }

    /// Sends frames from a separate task, for tests where the server stops reading before all are written.
    func sendInBackground(_ frames: [RequestFrame]) -> Task<Void, Error> {
        let outbound = self.outbound
        return Task {
            for frame in frames {
                var buffer = ByteBuffer()
                frame.encode(into: &buffer)
                try await outbound.write(buffer)
            }
        }
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The next response, or nil once the server has closed the connection.
    mutating func receive() async throws -> ResponseFrame? {
        guard let frame = try await inbound.next() else { return nil }
        return try ResponseFrame.decode(frame)
    }

    /// Sends a request and returns its response (which must be the next one and echo its id).
    mutating func call(_ request: Request) async throws -> Response {
        let id = try await send(request)
        guard let response = try await receive() else { throw TestFailure("connection closed awaiting \(request)") }
        guard response.requestID == id else { throw TestFailure("response for \(response.requestID), expected \(id)") }
        return response.response
    }

    // Conveniences that build requests from plain values (ids are validated, as a client would).
    mutating func load(_ id: String) async throws -> Response {
        try await call(.load(PersistenceID(id)))
    }

    mutating func upsert(_ id: String, _ expected: UInt64, _ state: [UInt8]) async throws -> Response {
        try await call(.upsert(Upsert(persistenceID: PersistenceID(id), expectedRevision: expected,
                                      state: ByteBuffer(bytes: state))))
    }

    mutating func delete(_ id: String, expected: UInt64? = nil) async throws -> Response {
        try await call(.delete(Delete(persistenceID: PersistenceID(id), expectedRevision: expected)))
    }
}

extension Response {
    var revision: UInt64? {
        if case .record(let record) = self { return record.revision }
        return nil
    }

    var state: [UInt8]? {
        if case .record(let record) = self { return Array(record.state.readableBytesView) }
        return nil
    }

    var status: Status? {
        if case .error(let error) = self { return error.status }
        return nil
    }

    static func conflict(_ expected: UInt64, _ actual: UInt64) -> Response {
        .conflict(Conflict(expectedRevision: expected, actualRevision: actual))
    }
}
