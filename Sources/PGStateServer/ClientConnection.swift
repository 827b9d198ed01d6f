import CPGStateSys
import Glibc
import NIOCore
import PGStateProtocol

/// One client connection's socket and buffers, owned by one reactor. The decisions are its state machine's;
/// this type only moves bytes.
///
/// Memory: the input buffer holds at most one read's bytes beyond the frame being assembled, the output buffer
/// at most about the machine's high-water mark beyond one answer; both are released when empty, so an idle
/// connection holds no buffer.
final class ClientConnection {
    let descriptor: Int32
    let slot: Int
    let generation: UInt32
    var machine: ClientConnectionStateMachine
    private var decoder: FrameDecoder
    private var input = ByteBuffer()
    private(set) var output = ByteBuffer()
    /// The epoll events registered now.
    var registered: Epoll.Events
    /// In the reactor's list of clients to finish at the end of this pass.
    var isDirty = false
    /// The output side has been shut down after the closing notice.
    var outputShut = false
    /// What the connection counts against: one connection of its identity, and one handshake until HELLO_OK.
    let budget: IdentityBudget
    private(set) var inHandshake = true
    /// Unique for the server's life (CLIENTS), and when it was accepted (Unix ms).
    let connectionID: UInt64
    let connectedAt: UInt64
    /// Requests answered on this connection.
    var requestsAnswered: UInt64 = 0
    /// The slot of its own namespace in the reactor's metrics, once looked up.
    var namespaceSlot: Int?
    /// Store requests routed so far (their order, for ``answerOrder``).
    var storeRequests: UInt64 = 0
    /// Answers waiting for an earlier multi-key request of this connection (see ``AnswerOrder``).
    var answerOrder = AnswerOrder<Reactor.HeldAnswer>()
    /// Output bytes queued and written since the connection opened: an answer is written once `bytesWritten`
    /// reaches the `bytesQueued` it was queued at.
    private(set) var bytesQueued: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    /// With `--slow-request-ms`: store answers not yet written completely, in output order.
    var slowWatch: [SlowAnswer] = []
    var slowWatchHead = 0

    /// Bytes one `read` takes at most (the size of the reactor's scratch buffer).
    static let readChunk = 64 * 1024

    init(descriptor: Int32, slot: Int, generation: UInt32, machine: ClientConnectionStateMachine,
         registered: Epoll.Events, budget: IdentityBudget, connectionID: UInt64, connectedAt: UInt64) {
        self.budget = budget
        self.connectionID = connectionID
        self.connectedAt = connectedAt
        self.descriptor = descriptor
        self.slot = slot
        self.generation = generation
        self.machine = machine
        self.decoder = FrameDecoder(maxFrameBytes: machine.limits.maxFrameBytes)
        self.registered = registered
    }

    var token: Epoll.Token { Epoll.Token(.client, slot: slot, generation: generation) }

    /// HELLO_OK is out: the connection no longer counts as a handshake of its peer.
    func finishHandshake() {
        guard inHandshake else { return }
        inHandshake = false
        budget.handshakes.subtract(1, ordering: .relaxed)
    }

    /// At close: gives back the connection (and the handshake, if it never finished).
    func releaseBudget() {
        finishHandshake()
        budget.connections.subtract(1, ordering: .relaxed)
    }

    enum ReadResult {
        /// `filled`: the read took a whole chunk, so more may be waiting in the socket.
        case data(filled: Bool)
        case wouldBlock
        case endOfInput
        case failed(Int32)
    }

    /// One `read` through the reactor's scratch buffer. Only the bytes read are kept: an idle connection owns
    /// no read buffer, and a read costs no large allocation.
    func read(using scratch: UnsafeMutableRawBufferPointer) -> ReadResult {
        while true {
            let result = Glibc.read(descriptor, scratch.baseAddress, scratch.count)
            if result > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: scratch[0..<result])
                if input.readableBytes == 0 {
                    input = ByteBuffer(bytes: bytes)
                } else {
                    input.writeBytes(bytes)
                }
                return .data(filled: result == scratch.count)
            }
            if result == 0 { return .endOfInput }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            return .failed(code)
        }
    }

    /// The next complete frame of the input, if any. Framing errors are thrown (they close the connection).
    func nextFrame() throws -> Frame? {
        guard input.readableBytes > 0 else { return nil }
        return try decoder.decode(buffer: &input)
    }

    var hasBufferedInput: Bool { input.readableBytes > 0 }

    /// Releases the input buffer when everything in it has been taken.
    func releaseInputIfEmpty() {
        if input.readableBytes == 0 && input.capacity > 0 { input = ByteBuffer() }
    }

    /// Forgets buffered input (a connection whose output is closed reads and drops).
    func discardInput() {
        input = ByteBuffer()
    }

    func queue(_ frame: ResponseFrame) {
        let before = output.readableBytes
        frame.encode(into: &output)
        bytesQueued &+= UInt64(output.readableBytes - before)
        machine.outputBuffered(output.readableBytes)
    }

    enum WriteResult {
        case complete
        case partial
        case failed(Int32)
    }

    /// Writes as much output as the socket takes now.
    func write() -> WriteResult {
        while output.readableBytes > 0 {
            let sent = output.withUnsafeReadableBytes { bytes in
                pgstate_send(descriptor, bytes.baseAddress, UInt(bytes.count))
            }
            if sent > 0 {
                output.moveReaderIndex(forwardBy: sent)
                bytesWritten &+= UInt64(sent)
                continue
            }
            let code = errno
            if code == EINTR { continue }
            machine.outputBuffered(output.readableBytes)
            if code == EAGAIN || code == EWOULDBLOCK { return .partial }
            return .failed(code)
        }
        // Keep a small buffer for the next answers; give a large one back.
        if output.capacity > 16 * 1024 { output = ByteBuffer() } else { output.clear() }
        machine.outputBuffered(0)
        return .complete
    }
}
