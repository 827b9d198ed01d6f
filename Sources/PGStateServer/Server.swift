import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGStateProtocol
import PGStateStore

/// Settings of the socket side.
public struct ServerConfiguration: Sendable {
    public var socketPath: String
    /// Mode of a socket file pgstated creates itself (socket activation leaves it to systemd).
    public var socketMode: mode_t
    public var maxConnections: Int
    public var limits: ProtocolLimits
    /// How long a shutdown waits for requests in flight before closing connections anyway.
    public var shutdownTimeout: TimeAmount
    public var serverVersion: String

    public init(
        socketPath: String, socketMode: mode_t = 0o660, maxConnections: Int = 16_384,
        limits: ProtocolLimits = .default, shutdownTimeout: TimeAmount = .seconds(10), serverVersion: String
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.maxConnections = maxConnections
        self.limits = limits
        self.shutdownTimeout = shutdownTimeout
        self.serverVersion = serverVersion
    }
}

/// The Unix socket server: accepts clients (on an inherited or self-bound socket) and serves them from the pool.
public final class PGStateServer: Sendable {
    public let configuration: ServerConfiguration
    private let pool: StorePool
    private let group: EventLoopGroup
    private let logger: Logger
    private let registry: ConnectionRegistry
    private let mailboxes: ResponseMailboxes
    private let listener: NIOLockedValueBox<(channel: Channel, ownsPath: Bool)?> = .init(nil)

    public init(configuration: ServerConfiguration, pool: StorePool, group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.group = group
        self.logger = logger
        self.registry = ConnectionRegistry(maxConnections: configuration.maxConnections)
        self.mailboxes = ResponseMailboxes(group: group)
    }

    public var clientCount: Int { registry.count }
    public var requestsInFlight: Int { registry.requestsInFlight }

    /// Starts accepting on the socket systemd passed (`inheritedSocket`) or on `configuration.socketPath`.
    /// Returns a description of where it listens.
    public func start(inheritedSocket: Int32?) async throws -> String {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.autoRead, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { [configuration, pool, registry, logger, mailboxes] channel in
                channel.eventLoop.makeCompletedFuture {
                    let limits = configuration.limits
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(
                            FrameDecoder(maxFrameBytes: limits.maxFrameBytes),
                            maximumBufferSize: 2 * limits.maxFrameBytes
                        ),
                        ClientConnectionHandler(
                            limits: limits, serverVersion: configuration.serverVersion,
                            pool: pool, registry: registry, logger: logger, mailboxes: mailboxes
                        ),
                    ])
                }
            }
        let channel: Channel
        let description: String
        let ownsPath: Bool
        if let inheritedSocket {
            channel = try await bootstrap.withBoundSocket(inheritedSocket).get()
            description = "socket passed by systemd (fd \(inheritedSocket))"
            ownsPath = false
        } else {
            let path = configuration.socketPath
            try await UnixSocketPath.prepare(path, group: group)
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
            try UnixSocketPath.setMode(path, configuration.socketMode)
            description = path
            ownsPath = true
        }
        listener.withLockedValue { $0 = (channel, ownsPath) }
        return description
    }

    /// Stops accepting, lets every connection finish the requests it has in flight (each then closes), and after
    /// `shutdownTimeout` closes whatever is left.
    public func drain() async {
        if let (channel, ownsPath) = listener.withLockedValue({ $0 }) {
            try? await channel.close()
            if ownsPath { unlink(configuration.socketPath) }
        }
        let channels = registry.closeRegistration()
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ClientConnectionHandler.Drain())
        }
        let deadline = NIODeadline.now() + configuration.shutdownTimeout
        while registry.count > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let left = registry.closeRegistration()
        if !left.isEmpty {
            logger.warning("closing \(left.count) connections still busy after the shutdown timeout")
            for channel in left { channel.close(promise: nil) }
        }
    }
}
