// swift-tools-version:6.0
import PackageDescription

/// The request path crosses modules with generic types (`PoolRouter<Item>`, `BatchExecution<Item>`,
/// `PipelineReader<Rows>`). Without cross-module optimization they run unspecialized, and the Swift runtime's
/// metadata look-ups took ~40 % of pgstated's CPU in a profile. Release builds of these targets export their
/// bodies for specialization. Runtime exclusivity checks are off in release builds of these targets (another
/// ~3 %); the compiler still enforces exclusivity statically, and debug builds, which every test runs, check it
/// at run time too.
let crossModuleOptimization: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "pgstate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pgstated", targets: ["pgstated"]),
        .executable(name: "pgstatectl", targets: ["pgstatectl"]),
        .library(name: "PGStateProtocol", targets: ["PGStateProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The wire protocol v1: pure codec over NIOCore's ByteBuffer. No channels, no sockets.
        .target(
            name: "PGStateProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: crossModuleOptimization
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
        // epoll, eventfd, peer credentials: the Linux calls Swift's Glibc module does not export.
        .target(name: "CPGStateSys"),
        // The store: one definition per operation (SQL, binding, decoding, verdict), the pure router and batch
        // rules, and the libpq connection the reactors drive.
        .target(
            name: "PGStateStore",
            dependencies: [
                "PGStateProtocol",
                "CLibPQ",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: crossModuleOptimization
        ),
        // The request path: reactor threads with their own epoll loops, owning clients and libpq connections;
        // the client connection state machine; systemd integration.
        .target(
            name: "PGStateServer",
            dependencies: [
                "PGStateProtocol",
                "PGStateStore",
                "CSystemd",
                "CPGStateSys",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: crossModuleOptimization
        ),
        // Operators' HTTP (/metrics, /health/*) on an event loop of its own, off the request path.
        .target(
            name: "PGStateMetrics",
            dependencies: [
                "PGStateServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The operators' command line: the protocol codec over a blocking Unix socket.
        .executableTarget(
            name: "pgstatectl",
            dependencies: [
                "PGStateProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "pgstated",
            dependencies: [
                "PGStateProtocol",
                "PGStateStore",
                "PGStateServer",
                "PGStateMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
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
            ]
        ),
        .testTarget(name: "CLibPQTests", dependencies: ["CLibPQ"]),
        .testTarget(name: "CSystemdTests", dependencies: ["CSystemd"]),
    ]
)
