import Logging
import NIOCore
import PGStateProtocol
import PGStateStore

/// One client connection: frames in, responses out, store operations to the pool.
///
/// All protocol decisions are made by ``ClientConnectionStateMachine``; this handler only performs its actions.
/// Backpressure: while the client has `maxInFlight` requests in flight, or while its responses pile up unread
/// (the channel is not writable), the handler holds back `read()`, so a client that does not read cannot grow the
/// daemon's memory beyond its in-flight requests.
final class ClientConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A user event that starts the connection's drain at shutdown.
    struct Drain {}

    /// How long a connection whose output is closed waits for the client to close its side.
    static let closeGracePeriod = TimeAmount.seconds(2)

    private var machine: ClientConnectionStateMachine
    private let pool: StorePool
    private let registry: ConnectionRegistry
    private var logger: Logger
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var registered = false
    private let mailboxes: ResponseMailboxes?
    private var mailbox: ResponseMailbox?
    private var loopBoundSelf: NIOLoopBound<ClientConnectionHandler>?

    /// - Parameter mailboxes: how answers reach the event loop; nil gives each connection its own mailbox.
    init(
        limits: ProtocolLimits, serverVersion: String, pool: StorePool, registry: ConnectionRegistry,
        logger: Logger, mailboxes: ResponseMailboxes? = nil
    ) {
        self.machine = ClientConnectionStateMachine(limits: limits, serverVersion: serverVersion)
        self.pool = pool
        self.registry = registry
        self.logger = logger
        self.mailboxes = mailboxes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.mailbox = mailboxes?.mailbox(for: context.eventLoop) ?? ResponseMailbox(eventLoop: context.eventLoop)
        self.loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Break the cycle handler → loop-bound box → handler.
        self.loopBoundSelf = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        guard registry.register(context.channel) else {
            logger.warning("connection limit of \(registry.maxConnections) reached (or draining); refusing a client")
            machine.closed()
            let frame = ResponseFrame(requestID: 0, response: .error(ErrorResponse(
                status: .overloaded, message: "connection limit of \(registry.maxConnections) reached; try again later")))
            context.writeAndFlush(wrapOutboundOut(encode(frame, context: context))).whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        registered = true
        if logger.logLevel <= .debug {
            let logger = self.logger
            PeerCredentials.read(from: context.channel).whenComplete { result in
                let peer = (try? result.get()).map { "pid=\($0.pid) uid=\($0.uid) gid=\($0.gid)" } ?? "unknown"
                logger.debug("client connected", metadata: ["peer": "\(peer)"])
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        if registered {
            registry.unregister(context.channel)
            logger.debug("client disconnected")
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.frameReceived(unwrapInboundIn(data)), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? ProtocolError {
            logger.info("protocol error from client: \(error)")
            perform(machine.protocolError(error), context: context)
        } else if error is ByteToMessageDecoderError.PayloadTooLargeError {
            perform(machine.protocolError(ProtocolError(.frameTooLarge, requestID: 0, "input buffer limit exceeded")),
                    context: context)
        } else {
            logger.debug("connection error: \(error)")
            machine.closed()
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Drain {
            perform(machine.drain(), context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if machine.state == .outputClosed {
            context.read()
        } else if machine.shouldPauseReading || !context.channel.isWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if readPending && !machine.shouldPauseReading && context.channel.isWritable {
            readPending = false
            context.read()
        }
    }

    // MARK: Actions

    private func perform(_ action: ClientConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .send(let frame):
            write(frame, context: context)
        case .sendAndClose(let frame):
            write(frame, context: context)
            context.flush()
            context.close(promise: nil)
        case .sendAndCloseOutput(let frame):
            write(frame, context: context)
            context.flush()
            context.close(mode: .output, promise: nil)
            // Keep reading (and dropping) so the client's last frames do not turn its end of stream into a reset;
            // a client that never closes is cut off after a grace period.
            readPending = false
            context.read()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: Self.closeGracePeriod) { loopBound.value.close(promise: nil) }
        case .close:
            context.close(promise: nil)
        case .execute(let requestID, let operation):
            execute(requestID: requestID, operation, context: context)
        }
    }

    private func execute(requestID: UInt32, _ operation: StoreOperation, context: ChannelHandlerContext) {
        registry.requestStarted()
        guard let mailbox, let handler = loopBoundSelf else { preconditionFailure("handler not added") }
        pool.submit(operation) { response in
            mailbox.post(.init(handler: handler, requestID: requestID, response: response))
        }
    }

    /// Writes the answer to a store operation (on the event loop). Returns whether something awaits a flush
    /// (``flushAnswers()``), which the mailbox does once per connection for a whole delivery.
    func answer(requestID: UInt32, _ response: Response) -> Bool {
        registry.requestFinished()
        let (send, then) = machine.responseReady()
        guard send, let context else { return false }
        write(ResponseFrame(requestID: requestID, response: response), context: context)
        if then != .none {
            perform(then, context: context)
            return false
        }
        return true
    }

    func flushAnswers() {
        guard let context else { return }
        context.flush()
        resumeReadingIfPossible(context: context)
    }

    private func write(_ frame: ResponseFrame, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(encode(frame, context: context)), promise: nil)
    }

    private func encode(_ frame: ResponseFrame, context: ChannelHandlerContext) -> ByteBuffer {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        frame.encode(into: &buffer)
        return buffer
    }
}
