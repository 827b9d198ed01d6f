// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pgstate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pgstated", targets: ["pgstated"]),
        .library(name: "PGStateProtocol", targets: ["PGStateProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // The wire protocol v1: pure codec over NIOCore's ByteBuffer. No channels, no sockets.
        .target(
            name: "PGStateProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // libpq (Debian: libpq-dev) as a system library.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // libsystemd (Debian: libsystemd-dev) for sd_listen_fds / sd_notify.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // The store: a pipelined libpq pool. Pure routing and result interpretation, thin libpq I/O.
        .target(
            name: "PGStateStore",
            dependencies: [
                "PGStateProtocol",
                "CLibPQ",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The socket side: NIO server, client connection state machine, systemd integration.
        .target(
            name: "PGStateServer",
            dependencies: [
                "PGStateProtocol",
                "PGStateStore",
                "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "pgstated",
            dependencies: [
                "PGStateProtocol",
                "PGStateStore",
                "PGStateServer",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PGStateProtocolTests",
            dependencies: [
                "PGStateProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PGStatedIntegrationTests",
            dependencies: [
                "PGStateProtocol",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PGStateStoreTests",
            dependencies: ["PGStateStore", "PGStateProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "PGStateServerTests",
            dependencies: [
                "PGStateServer", "PGStateStore", "PGStateProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CLibPQTests", dependencies: ["CLibPQ"]),
        .testTarget(name: "CSystemdTests", dependencies: ["CSystemd"]),
    ]
)
