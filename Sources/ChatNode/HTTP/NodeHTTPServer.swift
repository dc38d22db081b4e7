import ChatCommandSupport
import ChatCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// The node's two HTTP listeners. The public one serves the web client (GET / and its two assets) and /ws, where a
/// WebSocket upgrade turns the connection into a chat session: the same `SessionHandler` as a TCP client, behind
/// `WebSocketSessionAdapter` instead of the line decoder. Behind a balancer that sends PROXY headers, a trusted
/// peer's header names the client, and a WebSocket session is counted and logged by that address. The operations
/// listener serves /health and /metrics, on loopback unless configured otherwise, and is never proxied.
enum NodeHTTPServer {
    struct Settings: Sendable {
        /// Redis (both connections) reachable: /health's and /readyz's.
        var isHealthy: @Sendable () -> Bool
        /// Shutting down: /readyz says so, so nothing new is sent here.
        var isDraining: @Sendable () -> Bool = { false }
        /// /livez's: every event loop still runs.
        var heartbeats: LoopHeartbeats? = nil
        /// Origins a browser page may open /ws from (`*` allows any), besides the page's own when it was served
        /// under an IP address or localhost.
        var allowedOrigins: [String]
        /// Host names the operations port answers besides IP addresses and localhost.
        var opsHostNames = HostAllowList()
        /// The largest WebSocket message a client may send (the chat's line limit).
        var maximumMessageBytes: Int
        var maximumOutboundBytes: Int
        /// A plain HTTP connection (keep-alive, or one that never sends a request) that sends nothing this long
        /// is closed, so idle sockets cannot hold the node's descriptors.
        var idleTimeout: TimeAmount
    }

    /// Unsent output a plain HTTP connection may have before its next request waits (the web page's largest file
    /// fits): a client that pipelines requests and reads nothing holds this much, not a response per request. A
    /// WebSocket session gets `maximumOutboundBytes` once upgraded.
    static let plainHTTPWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 * 1024, high: 64 * 1024)

    static func bindOperations(
        host: String, port: Int, group: any EventLoopGroup, node: NodeContext, settings: Settings
    )
        async throws -> any Channel
    {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: plainHTTPWaterMark)
            // One read per loop pass: what a pipelining client has sent past a held answer stays in the kernel.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: settings.idleTimeout),
                        HTTPRequestHandler(node: node, settings: settings, routes: .operations),
                    ])
                }
            }
            .bind(host: host, port: port).get()
    }

    static func bindPublic(
        host: String, port: Int, group: any EventLoopGroup, node: NodeContext, hubByLoop: [ObjectIdentifier: LoopHub],
        settings: Settings, tls: TLSCertificates? = nil
    ) async throws -> any Channel {
        let configuration = node.configuration
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .clientKeepAlive(node.configuration.tcpKeepAlive)
            .childChannelOption(.writeBufferWaterMark, value: plainHTTPWaterMark)
            // One read per loop pass: what a pipelining client has sent past a held answer stays in the kernel.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    if tls == nil, configuration.proxyProtocol, let peer = channel.remoteAddress?.ipAddress,
                        configuration.trustedProxies.contains(peer)
                    {
                        try channel.pipeline.syncOperations.addHandlers([
                            ProxyHeaderDecoder(logger: node.logger), ClientAddressHandler(),
                        ])
                    }
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: settings.maximumMessageBytes,
                        automaticErrorHandling: true,
                        shouldUpgrade: { channel, head in
                            let allowed =
                                path(of: head.uri) == "/ws" && originAllowed(head.headers, settings.allowedOrigins)
                            return channel.eventLoop.makeSucceededFuture(allowed ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let hub = hubByLoop[ObjectIdentifier(channel.eventLoop)]!
                                // A session's output may grow to the slow-consumer limit, which it enforces itself.
                                try channel.syncOptions?.setOption(
                                    .writeBufferWaterMark,
                                    value: .init(
                                        low: settings.maximumOutboundBytes / 2, high: settings.maximumOutboundBytes))
                                let adapter = WebSocketSessionAdapter()
                                try channel.pipeline.syncOperations.addHandlers([
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 64,
                                        maxAccumulatedFrameSize: settings.maximumMessageBytes),
                                    adapter,
                                    SessionHandler(node: node, hub: hub, mode: WebSocketMode()),
                                ])
                                // The channel has been active since its HTTP request; for the session it starts now
                                // (unless it closed meanwhile: a session started then would never be told it ended).
                                if channel.isActive {
                                    try channel.pipeline.syncOperations.context(handler: adapter).fireChannelActive()
                                }
                            }
                        })
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                // A WebSocket session watches its own liveness (pings); the HTTP idle timeout goes.
                                let operations = context.pipeline.syncOperations
                                if let requests = try? operations.handler(type: HTTPRequestHandler.self) {
                                    operations.removeHandler(requests, promise: nil)
                                }
                                if let idle = try? operations.handler(type: IdleStateHandler.self) {
                                    operations.removeHandler(idle, promise: nil)
                                }
                            }
                        ))
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: settings.idleTimeout),
                        HTTPRequestHandler(node: node, settings: settings, routes: .publicSite),
                    ])
                }
            }
            .bind(host: host, port: port).get()
    }

    static func path(of uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// A browser says where the page came from; programs send no Origin and are not browsers' victims. A listed
    /// origin is allowed, and so is the page's own (the Host it asked, directly or through the balancer) when that
    /// is an IP address or localhost: a page under a name must be listed, or any page whose name was rebound to
    /// this address would pass as its own (DNS rebinding: `HostAllowList`).
    static func originAllowed(_ headers: HTTPHeaders, _ allowed: [String]) -> Bool {
        guard let origin = headers.first(name: "origin")?.lowercased() else { return true }
        if allowed.contains("*") || allowed.contains(where: { $0.lowercased() == origin }) { return true }
        guard let host = headers.first(name: "host")?.lowercased(), HostAllowList().allows(host: host) else {
            return false
        }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }
}
