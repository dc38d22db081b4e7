// swift-tools-version: 6.0
import PackageDescription

/// One set of settings for every target, so strict concurrency and `any` are enforced everywhere alike.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "swift-redis-chat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chat-node", targets: ["chat-node"]),
        .executable(name: "chat-balancer", targets: ["chat-balancer"]),
        .executable(name: "chat-bench", targets: ["chat-bench"]),
        .executable(name: "chat", targets: ["chat"]),
        .library(name: "ChatCore", targets: ["ChatCore"]),
        .library(name: "ChatNode", targets: ["ChatNode"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        // The archive (`--archive`): history past Redis, and search.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        // The servers' configuration files (`--config`): YAML, read by libyaml.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // hiredis from the system (Debian: libhiredis-dev). Only its RESP reader and command formatter are used:
        // SwiftNIO owns the sockets, so no blocking hiredis call can ever land on an event loop.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]
        ),
        // ICU from the system (Debian: libicu-dev): UTS #39 skeletons and restriction levels, NFKC case folding,
        // behind a few C functions (Foundation's own ICU headers clash with the system's in Swift).
        .target(
            name: "CICU",
            linkerSettings: [.linkedLibrary("icui18n"), .linkedLibrary("icuuc")]
        ),
        // The domain: names, rooms, events, protocol codecs, sanitizing, rate limiting. No I/O.
        .target(
            name: "ChatCore",
            dependencies: ["CICU"],
            swiftSettings: swiftSettings
        ),
        // A host and a port as written in options and by Redis (`[::1]:6379`): what the Redis client and the chat
        // both read, so neither needs the other for it.
        .target(name: "Endpoints", swiftSettings: swiftSettings),
        // A Redis client over SwiftNIO with hiredis as the codec: pipelined commands, scripts, pub/sub, Redis
        // Cluster routing, Sentinel. It knows nothing of the chat.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                "Endpoints",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The chat's shared state in Redis: every key and channel, the Lua scripts, and `ChatStore`, the typed
        // operations the node calls (the balancer reads only the discovery keys).
        .target(
            name: "ChatStore",
            dependencies: [
                "ChatCore",
                "RedisClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The chat's archive in PostgreSQL: its tables and migrations, writes, history past Redis and search. It knows
        // nothing of Redis; the node's archiver feeds it from the rooms' streams.
        .target(
            name: "ChatArchive",
            dependencies: [
                "ChatCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Traces: spans, W3C trace context, and their export to an OpenTelemetry collector over OTLP/HTTP (JSON). It
        // knows nothing of the chat; the node decides what is a span.
        .target(
            name: "ChatTracing",
            dependencies: [
                "ChatCore",
                "Endpoints",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The chat node: TCP sessions, local fan-out, presence upkeep, HTTP health and metrics.
        .target(
            name: "ChatNode",
            dependencies: [
                "ChatCore",
                "ChatArchive",
                "ChatTracing",
                "ChatStore",
                "RedisClient",
                "Endpoints",
                "ChatCommandSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // scrypt for passwords, SHA-256 for resume tokens.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            // The web client: static HTML, CSS and JavaScript, served by every node.
            resources: [.copy("Web")],
            swiftSettings: swiftSettings
        ),
        // The front balancer: a TCP proxy that splices clients to healthy nodes, with discovery through Redis.
        .target(
            name: "ChatBalancer",
            dependencies: [
                "ChatCore",
                "ChatStore",
                "RedisClient",
                "Endpoints",
                "ChatCommandSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // The status page: static HTML, CSS and JavaScript, served on the admin port.
            resources: [.copy("OpsPage")],
            swiftSettings: swiftSettings
        ),
        // The benchmark client: many JSON-mode clients, paced senders, per-message latency.
        .target(
            name: "ChatBench",
            dependencies: [
                "Endpoints",
                "ChatCore",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "chat-bench",
            dependencies: [
                "Endpoints",
                "ChatBench",
                "ChatCore",
                "ChatArchive",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // ncurses with wide characters from the system (Debian: libncurses-dev), for the terminal client.
        .systemLibrary(
            name: "CNcurses",
            pkgConfig: "ncursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The terminal client's state, input line, wrapping and connection: no terminal, so all of it is tested.
        .target(
            name: "ChatClient",
            dependencies: [
                "ChatCore",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The full-screen ncurses client and the line mode.
        .target(
            name: "ChatTerminal",
            dependencies: [
                "ChatClient",
                "CNcurses",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "chat",
            dependencies: [
                "Endpoints",
                "ChatClient",
                "ChatCore",
                "ChatTerminal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // What both servers share: the options both take (ServerOptions), environment variables, logging (text or
        // JSON) and metrics bootstrap, liveness, running as a service until SIGTERM, TCP keepalive, TLS certificates reloaded on SIGHUP.
        .target(
            name: "ChatCommandSupport",
            dependencies: [
                "ChatCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "chat-balancer",
            dependencies: [
                "ChatBalancer",
                "ChatCore",
                "ChatCommandSupport",
                "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "chat-node",
            dependencies: [
                "ChatArchive",
                "ChatTracing",
                "Endpoints",
                "ChatCore",
                "ChatNode",
                "RedisClient",
                "ChatCommandSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ChatCoreTests", dependencies: ["ChatCore"], swiftSettings: swiftSettings),
        .testTarget(name: "EndpointsTests", dependencies: ["Endpoints"], swiftSettings: swiftSettings),
        // Starts real redis-server and chat-node processes and talks to them over plain sockets; tests only.
        .target(name: "ChatTestSupport", path: "Tests/ChatTestSupport", swiftSettings: swiftSettings),
        // RESP through hiredis, slot maps, and the Redis client against real redis-server processes and clusters.
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient",
                "Endpoints",
                "ChatTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The chat's keys and scripts against a real Redis.
        .testTarget(
            name: "ChatStoreTests",
            dependencies: [
                "ChatStore",
                "RedisClient",
                "ChatTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChatBalancerTests",
            dependencies: ["ChatBalancer", "ChatBench", "ChatTestSupport", "Endpoints"],
            swiftSettings: swiftSettings
        ),
        // The terminal client: its state without a terminal, and `chat` itself in tmux against a real cluster.
        .testTarget(
            name: "ChatClientTests",
            dependencies: ["ChatClient", "ChatCore", "ChatTestSupport"],
            swiftSettings: swiftSettings
        ),
        // The deployment: the compose file, and several hosts in network namespaces.
        .testTarget(
            name: "ChatDeployTests",
            dependencies: ["ChatCore", "ChatTestSupport", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Integration tests: a real redis-server and real chat-node processes, driven over real sockets.
        .testTarget(
            name: "ChatNodeTests",
            dependencies: [
                "ChatNode",
                "ChatArchive",
                "ChatStore",
                "ChatTracing",
                "RedisClient",
                "ChatTestSupport",
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
