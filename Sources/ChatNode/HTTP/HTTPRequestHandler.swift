import ChatCommandSupport
import ChatCore
import NIOCore
import NIOHTTP1

/// Plain HTTP requests. On the public port: the web client's files and the refusals for /ws. On the operations
/// port: /health and /metrics, which say things about the node (its incarnation, its load) that the public does
/// not need, so the balancer never proxies them, and the admin API under /admin when it has a token
/// (`AdminAPI`), whose requests may have bodies and are answered when the store has done them.
///
/// A client may pipeline requests and never read the answers: while the socket's unsent output is above its high
/// watermark, the next request is not answered and nothing more is read, so such a client costs the node one
/// watermark of output and one read's worth of parsed requests, and TCP stops it (NIO's pipelining handler hands
/// us the next request only once the previous answer is written, and reads on as soon as it is written, not sent).
final class HTTPRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    enum Routes {
        case publicSite
        case operations
    }

    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let node: NodeContext
    private let settings: NodeHTTPServer.Settings
    private let routes: Routes
    private var head: HTTPRequestHead?
    /// An admin request's body, up to `AdminAPI.maximumBodyBytes` (past it, `bodyTooLarge`).
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    /// A complete request that waits for the socket to drain before it is answered.
    private var unanswered: (head: HTTPRequestHead, body: [UInt8])?
    /// An admin request is being carried out: nothing more is read until it is answered.
    private var answering = false
    /// A read asked for while the socket was full: made once it drains.
    private var readHeld = false

    init(node: NodeContext, settings: NodeHTTPServer.Settings, routes: Routes) {
        self.node = node
        self.settings = settings
        self.routes = routes
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
        case .head(let head):
            self.head = head
            body = []
            bodyTooLarge = false
        case .body(var part):
            // Only the admin API reads bodies; anyone else's are dropped as they come.
            guard routes == .operations, node.configuration.adminToken != nil, !bodyTooLarge else { return }
            if body.count + part.readableBytes > AdminAPI.maximumBodyBytes {
                bodyTooLarge = true
                body = []
            } else {
                body += part.readBytes(length: part.readableBytes) ?? []
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let complete = body
            body = []
            if bodyTooLarge {
                bodyTooLarge = false
                return send(
                    .payloadTooLarge, "application/json",
                    AdminAPI.error(.payloadTooLarge, "bad-request", "a body holds at most 16 KiB").body, head: head,
                    context: context)
            }
            if context.channel.isWritable {
                respond(to: head, body: complete, context: context)
            } else {
                unanswered = (head, complete)
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable, unanswered == nil, !answering {
            context.read()
        } else {
            readHeld = true
        }
    }

    /// Removed by a WebSocket upgrade while a read was held: the session takes over the reading.
    func handlerRemoved(context: ChannelHandlerContext) {
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if let waiting = unanswered {
                unanswered = nil
                respond(to: waiting.head, body: waiting.body, context: context)
            }
            if readHeld, context.channel.isWritable, unanswered == nil, !answering {
                readHeld = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    private func respond(to head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        if routes == .operations, !settings.opsHostNames.allows(host: head.headers.first(name: "host")) {
            return send(
                .forbidden, "text/plain; charset=utf-8",
                "this port answers requests for IP addresses and localhost; name others with --ops-hosts\n", head: head,
                context: context)
        }
        if routes == .operations, NodeHTTPServer.path(of: head.uri).hasPrefix("/admin/") {
            return answerAdmin(head, body: body, context: context)
        }
        guard head.method == .GET || head.method == .HEAD else {
            return send(.methodNotAllowed, "text/plain; charset=utf-8", "GET only\n", head: head, context: context)
        }
        switch (routes, NodeHTTPServer.path(of: head.uri)) {
        case (.operations, "/health"):
            let healthy = settings.isHealthy()
            var json = JSONWriter()
            json.field("status", healthy ? "ok" : "unhealthy")
            json.field("version", ChatVersion.number)
            json.field("node", node.nodeID)
            json.field("incarnation", node.store.incarnation)
            if let advertise = node.configuration.advertise { json.field("advertise", advertise) }
            json.field("clients", node.connectionCount.load(ordering: .relaxed))
            json.field("rooms", node.relay.localRooms)
            json.field("channels", node.relay.subscribedChannels)
            json.field("redis", healthy)
            send(
                healthy ? .ok : .serviceUnavailable, "application/json", json.finish() + "\n", head: head,
                context: context)
        case (.operations, "/livez"):
            // Not wedged: every event loop ran within the last seconds. Nothing about Redis (docs/deploy.md).
            let answer = settings.heartbeats?.livenessAnswer() ?? (ok: true, body: "ok\n")
            send(
                answer.ok ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", answer.body, head: head,
                context: context)
        case (.operations, "/readyz"):
            // Can serve: Redis reachable and not shutting down. A balancer or a Kubernetes Service sends no one here
            // otherwise, and nothing is restarted for it.
            let reason: String? =
                settings.isDraining() ? "draining" : settings.isHealthy() ? nil : "redis unreachable"
            send(
                reason == nil ? .ok : .serviceUnavailable, "text/plain; charset=utf-8",
                reason.map { "not ready: \($0)\n" } ?? "ready\n", head: head, context: context)
        case (.operations, "/metrics"):
            node.metrics.rooms.set(Int64(node.relay.localRooms))
            var body = ByteBuffer(bytes: node.metrics.registry.emitToBuffer())
            body.writeString(ProcessMetrics.prometheusText())
            send(.ok, "text/plain; version=0.0.4; charset=utf-8", body, head: head, context: context)
        case (.operations, _):
            send(
                .notFound, "text/plain; charset=utf-8",
                "not found: this port serves /health, /livez, /readyz, /metrics and /admin/\n",
                head: head, context: context)
        case (.publicSite, "/ws"):
            if NodeHTTPServer.originAllowed(head.headers, settings.allowedOrigins) {
                send(
                    .upgradeRequired, "text/plain; charset=utf-8", "/ws is a WebSocket endpoint\n", head: head,
                    context: context)
            } else {
                // Anybody can send these as fast as they like: the log gets a few a second, each origin cut short.
                let log = node.foreignOriginLog.admit()
                if log.admitted {
                    let origin = head.headers.first(name: "origin") ?? "-"
                    node.logger.warning(
                        "WebSocket from a foreign origin refused",
                        metadata: [
                            "origin": "\(Sanitizer.prefix(origin, bytes: 100))", "log.suppressed": "\(log.suppressed)",
                        ])
                }
                send(
                    .forbidden, "text/plain; charset=utf-8", "this origin may not open chat sessions here\n",
                    head: head, context: context)
            }
        case (.publicSite, let path):
            guard let asset = WebAssets.asset(for: String(path)) else {
                return send(.notFound, "text/plain; charset=utf-8", "not found\n", head: head, context: context)
            }
            send(
                .ok, asset.contentType, asset.body, head: head, context: context,
                extraHeaders: WebAssets.securityHeaders)
        }
    }

    /// The admin API's answer, once the store has done what it asks; reads wait meanwhile.
    private func answerAdmin(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        guard let token = node.configuration.adminToken else {
            return send(
                .notFound, "application/json",
                AdminAPI.error(.notFound, "not-found", "the admin API is off: start the node with --admin-token-file")
                    .body,
                head: head, context: context)
        }
        answering = true
        AdminAPI(node: node, token: token).handle(head, body: body, on: context.eventLoop).hop(to: context.eventLoop)
            .assumeIsolated().whenComplete { result in
                self.answering = false
                let reply =
                    (try? result.get()) ?? AdminAPI.error(.internalServerError, "error", "the request failed")
                self.send(reply.status, "application/json", reply.body, head: head, context: context)
                if self.readHeld, context.channel.isWritable, self.unanswered == nil, !self.answering {
                    self.readHeld = false
                    context.read()
                }
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
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}
