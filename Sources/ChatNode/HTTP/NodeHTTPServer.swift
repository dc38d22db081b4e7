import ChatCommandSupport
import ChatCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The node's HTTP port: GET /health, GET /metrics, the web client (GET / and its two assets), and /ws, where a
/// WebSocket upgrade turns the connection into a chat session: the same `SessionHandler` as a TCP client, behind
/// `WebSocketSessionAdapter` instead of the line decoder.
enum NodeHTTPServer {
    struct Settings: Sendable {
        var isHealthy: @Sendable () -> Bool
        /// Origins a browser page may open /ws from, besides the page's own (`*` allows any).
        var allowedOrigins: [String]
        /// The largest WebSocket message a client may send (the chat's line limit).
        var maximumMessageBytes: Int
        var maximumOutboundBytes: Int
        /// A plain HTTP connection (keep-alive, or one that never sends a request) that sends nothing this long
        /// is closed, so idle sockets cannot hold the node's descriptors.
        var idleTimeout: TimeAmount
    }

    static func bind(
        host: String, port: Int, group: any EventLoopGroup, node: NodeContext, hubByLoop: [ObjectIdentifier: LoopHub],
        settings: Settings
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .clientKeepAlive(node.configuration.tcpKeepAlive)
            .childChannelOption(
                .writeBufferWaterMark, value: .init(low: settings.maximumOutboundBytes / 2, high: settings.maximumOutboundBytes))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: settings.maximumMessageBytes,
                        automaticErrorHandling: true,
                        shouldUpgrade: { channel, head in
                            let allowed = path(of: head.uri) == "/ws" && originAllowed(head.headers, settings.allowedOrigins)
                            return channel.eventLoop.makeSucceededFuture(allowed ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let hub = hubByLoop[ObjectIdentifier(channel.eventLoop)]!
                                let adapter = WebSocketSessionAdapter()
                                try channel.pipeline.syncOperations.addHandlers([
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 64,
                                        maxAccumulatedFrameSize: settings.maximumMessageBytes),
                                    adapter,
                                    SessionHandler(node: node, hub: hub, mode: WebSocketMode()),
                                ])
                                // The channel has been active since its HTTP request; for the session it starts now.
                                try channel.pipeline.syncOperations.context(handler: adapter).fireChannelActive()
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
                        HTTPRequestHandler(node: node, settings: settings),
                    ])
                }
            }
            .bind(host: host, port: port).get()
    }

    static func path(of uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// A browser says where the page came from; programs send no Origin and are not browsers' victims. The page's
    /// own origin (the Host it asked, directly or through the balancer) is always allowed.
    static func originAllowed(_ headers: HTTPHeaders, _ allowed: [String]) -> Bool {
        guard let origin = headers.first(name: "origin")?.lowercased() else { return true }
        if allowed.contains("*") || allowed.contains(where: { $0.lowercased() == origin }) { return true }
        guard let host = headers.first(name: "host")?.lowercased() else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }
}

/// Plain HTTP requests: health, metrics, the web client's files, and the refusals for /ws.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let node: NodeContext
    private let settings: NodeHTTPServer.Settings
    private var head: HTTPRequestHead?

    init(node: NodeContext, settings: NodeHTTPServer.Settings) {
        self.node = node
        self.settings = settings
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else {
            return send(.methodNotAllowed, "text/plain; charset=utf-8", "GET only\n", head: head, context: context)
        }
        switch NodeHTTPServer.path(of: head.uri) {
        case "/health":
            let healthy = settings.isHealthy()
            var json = JSONWriter()
            json.field("status", healthy ? "ok" : "unhealthy")
            json.field("node", node.nodeID)
            json.field("incarnation", node.store.incarnation)
            if let advertise = node.configuration.advertise { json.field("advertise", advertise) }
            json.field("clients", node.connectionCount.load(ordering: .relaxed))
            json.field("rooms", node.relay.localRooms)
            json.field("channels", node.relay.subscribedChannels)
            json.field("redis", healthy)
            send(healthy ? .ok : .serviceUnavailable, "application/json", json.finish() + "\n", head: head, context: context)
        case "/metrics":
            send(
                .ok, "text/plain; version=0.0.4; charset=utf-8", ByteBuffer(bytes: node.metrics.registry.emitToBuffer()),
                head: head, context: context)
        case "/ws":
            if NodeHTTPServer.originAllowed(head.headers, settings.allowedOrigins) {
                send(.upgradeRequired, "text/plain; charset=utf-8", "/ws is a WebSocket endpoint\n", head: head, context: context)
            } else {
                node.logger.warning("WebSocket from a foreign origin refused", metadata: ["origin": "\(head.headers.first(name: "origin") ?? "-")"])
                send(.forbidden, "text/plain; charset=utf-8", "this origin may not open chat sessions here\n", head: head, context: context)
            }
        case let path:
            guard let asset = WebAssets.asset(for: String(path)) else {
                return send(.notFound, "text/plain; charset=utf-8", "not found\n", head: head, context: context)
            }
            send(.ok, asset.contentType, asset.body, head: head, context: context, extraHeaders: WebAssets.securityHeaders)
        }
    }

    private func send(
        _ status: HTTPResponseStatus, _ contentType: String, _ body: String, head: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        send(status, contentType, ByteBuffer(string: body), head: head, context: context)
    }

    private func send(
        _ status: HTTPResponseStatus, _ contentType: String, _ body: ByteBuffer, head: HTTPRequestHead,
        context: ChannelHandlerContext, extraHeaders: [(String, String)] = []
    ) {
        var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.readableBytes)")])
        headers.add(contentsOf: extraHeaders)
        let keepAlive = head.isKeepAlive
        headers.add(name: "connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}
