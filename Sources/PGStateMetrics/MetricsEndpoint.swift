import NIOCore
import NIOHTTP1
import NIOPosix
import PGStateServer

/// HTTP for operators, off the request path: `GET /metrics`, `/health/live` and `/health/ready` on a TCP port or
/// a Unix socket, served by one NIO event loop thread of its own. A scrape asks every reactor for its figures
/// through its inbox and waits for the answers on this loop's side; the reactors never wait for it.
public final class MetricsEndpoint: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    public let address: MetricsAddress

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, address: MetricsAddress) {
        self.group = group
        self.channel = channel
        self.address = address
    }

    /// Binds `address` and serves until ``stop()``.
    public static func start(_ address: MetricsAddress, exporter: MetricsExporter) async throws
        -> MetricsEndpoint
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(exporter: exporter))
                }
            }
        do {
            let channel: any Channel
            switch address {
            case .tcp(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
            return MetricsEndpoint(group: group, channel: channel, address: address)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    public func stop() async {
        try? await channel.close()
        if case .unix(let path) = address { _ = path.withCString { unlink($0) } }
        try? await group.shutdownGracefully()
    }
}

/// One HTTP connection: each complete request is answered by the exporter, in order.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let exporter: MetricsExporter
    private var head: HTTPRequestHead?

    init(exporter: MetricsExporter) {
        self.exporter = exporter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // requests carry no body worth reading here
        case .end:
            guard let head else { return }
            self.head = nil
            let exporter = self.exporter
            let (method, uri) = (head.method.rawValue, head.uri)
            let promise = context.eventLoop.makePromise(of: MetricsExporter.Answer.self)
            promise.completeWithTask { await exporter.answer(method: method, path: uri) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { answer in
                let (handler, context) = bound.value
                handler.respond(answer, to: head, context: context)
            }
        }
    }

    private func respond(_ answer: MetricsExporter.Answer, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        var body = context.channel.allocator.buffer(capacity: answer.body.utf8.count)
        body.writeString(answer.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: answer.status),
                                    headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
