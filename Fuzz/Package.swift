// swift-tools-version: 6.0
import PackageDescription

// The fuzz targets (scripts/fuzz.sh builds and runs them; docs/security.md has what they ran). A package of its own
// so that fuzzing builds ChatCore and SwiftNIO only: ChatCore, CICU and CHiredis are the main package's own
// directories (symlinks), and the few parsers of other modules are compiled from their own files
// (Sources/chat-fuzz/Shared, symlinks too). Nothing here is built by `swift build` at the top.
let package = Package(
    name: "chat-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0")
    ],
    targets: [
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "CICU", linkerSettings: [.linkedLibrary("icui18n"), .linkedLibrary("icuuc")]),
        .target(name: "ChatCore", dependencies: ["CICU"]),
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "chat-fuzz",
            dependencies: [
                "ChatCore", "CHiredis", "CFuzzDriver",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
    ]
)
