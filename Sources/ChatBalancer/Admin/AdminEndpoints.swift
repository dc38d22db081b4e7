import ChatCommandSupport
import ChatCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// The balancer's own port: the status page (`/`, its script and style), GET /status (the page's JSON), GET
/// /nodes (each node, its state, clients routed, connected now), GET /metrics, and for orchestrators GET /health
/// (JSON: version, nodes up), /livez (the event loops run) and /readyz (a node to send clients to, not shutting
/// down). A handful of fixed GET routes
/// over SwiftNIO's HTTP/1 codec, as the node's operations port is: a web framework (and the twenty modules it
/// builds) bought nothing here but minutes of every build.
enum AdminEndpoints {
    struct Response {
        var status: HTTPResponseStatus
        var headers: [(String, String)]
        var body: ByteBuffer

        static func text(_ status: HTTPResponseStatus, _ text: String) -> Response {
            Response(
                status: status, headers: [("content-type", "text/plain; charset=utf-8")],
                body: ByteBuffer(string: text))
        }
    }

    /// A connection that sends nothing this long is closed, so idle sockets cannot hold the balancer's descriptors.
    static let idleTimeout = TimeAmount.seconds(30)

    static func bind(
        host: String, port: Int, group: any EventLoopGroup, pool: BackendPool, metrics: BalancerMetrics,
        status: StatusReadings, hostNames: HostAllowList, liveness: LoopHeartbeats,
        isDraining: @escaping @Sendable () -> Bool
    ) async throws -> any Channel {
        let respond: @Sendable (HTTPRequestHead) -> Response = { head in
            Self.response(
                to: head, pool: pool, metrics: metrics, status: status, hostNames: hostNames, liveness: liveness,
                isDraining: isDraining)
        }
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // One read per loop pass: what a pipelining client has sent past a held answer stays in the kernel.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout), AdminHTTPHandler(respond: respond),
                    ])
                }
            }
            .bind(host: host, port: port).get()
    }

    static func response(
        to head: HTTPRequestHead, pool: BackendPool, metrics: BalancerMetrics, status: StatusReadings,
        hostNames: HostAllowList, liveness: LoopHeartbeats, isDraining: @Sendable () -> Bool
    ) -> Response {
        // Only requests for IP addresses, localhost and the names given (`--admin-hosts`): a page whose name was
        // rebound to this address must not read the cluster's status from an operator's browser.
        guard hostNames.allows(host: head.headers.first(name: "host")) else {
            return .text(
                .forbidden,
                "this port answers requests for IP addresses and localhost; name others with --admin-hosts\n")
        }
        guard head.method == .GET || head.method == .HEAD else {
            return Response(
                status: .methodNotAllowed, headers: [("allow", "GET, HEAD")], body: ByteBuffer())
        }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        // Ready: not shutting down, and a node in rotation to send a client to (without one, every client would be
        // told "no node available").
        let nodesUp = pool.snapshot.filter { $0.state == .up }.count
        let notReady = isDraining() ? "draining" : nodesUp == 0 ? "no node up" : nil
        switch path {
        case "/livez":
            let answer = liveness.livenessAnswer()
            return .text(answer.ok ? .ok : .serviceUnavailable, answer.body)
        case "/readyz":
            return .text(
                notReady == nil ? .ok : .serviceUnavailable, notReady.map { "not ready: \($0)\n" } ?? "ready\n")
        case "/health":
            var json = JSONWriter()
            json.field("status", notReady == nil ? "ok" : "unhealthy")
            json.field("reason", notReady)
            json.field("version", ChatVersion.number)
            json.field("nodes", pool.snapshot.count)
            json.field("nodesUp", nodesUp)
            return Response(
                status: notReady == nil ? .ok : .serviceUnavailable,
                headers: [("content-type", "application/json"), ("cache-control", "no-store")],
                body: ByteBuffer(string: json.finish() + "\n"))
        case "/nodes":
            let nodes = pool.snapshot.map { node in
                var json = JSONWriter()
                json.field("node", node.endpoint.name)
                json.field("address", node.endpoint.chat.description)
                json.field("http", node.endpoint.http.description)
                json.field("state", node.state.rawValue)
                json.field("routed", node.routed)
                json.field("connected", node.connected)
                return json.finish()
            }
            var body = JSONWriter()
            body.array("nodes", nodes)
            return Response(
                status: .ok, headers: [("content-type", "application/json")],
                body: ByteBuffer(string: body.finish() + "\n"))
        case "/status":
            return Response(
                status: .ok,
                headers: [
                    ("content-type", "application/json"), ("cache-control", "no-store"),
                    ("x-content-type-options", "nosniff"),
                ],
                body: ByteBuffer(string: status.json()))
        case "/metrics":
            metrics.nodes(pool.snapshot)
            var body = ByteBuffer(bytes: metrics.registry.emitToBuffer())
            body.writeString(status.redisPrometheusText())
            body.writeString(ProcessMetrics.prometheusText())
            return Response(
                status: .ok, headers: [("content-type", "text/plain; version=0.0.4; charset=utf-8")], body: body)
        case "/favicon.ico":
            // Browsers ask for it with every page; the page has none, and a 404 would be an error in their console.
            return Response(status: .noContent, headers: [], body: ByteBuffer())
        default:
            guard let asset = StatusPageAssets.files[String(path)] else { return .text(.notFound, "not found\n") }
            return Response(
                status: .ok, headers: [("content-type", asset.contentType)] + StaticFiles.securityHeaders,
                body: asset.body)
        }
    }
}

/// One response per request, in order; the body of a request is read and ignored (every route is a GET).
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPRequestHead) -> AdminEndpoints.Response
    private var head: HTTPRequestHead?

    init(respond: @escaping @Sendable (HTTPRequestHead) -> AdminEndpoints.Response) {
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let response = respond(head)
            var headers = HTTPHeaders(response.headers)
            headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
                promise: nil)
            if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil) }
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
            if !keepAlive {
                let channel = context.channel
                done.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request: HTTP/1's decoder already said so (400) where it could; the connection goes.
        context.close(promise: nil)
    }
}

/// The status page's files, shipped as resources (Sources/ChatBalancer/OpsPage) and read once: no build step,
/// nothing fetched from elsewhere, and the chat page's policy: scripts and styles from this origin only.
enum StatusPageAssets {
    static let files: [String: StaticFiles.File] = {
        var files = StaticFiles(
            target: "ChatBalancer", directory: "OpsPage", names: ["index.html", "ops.js", "ops.css"]
        ).files
        if files["/"] == nil {
            files["/"] = StaticFiles.File(
                body: ByteBuffer(
                    string:
                        "The status page's files are missing: swift-redis-chat_ChatBalancer.resources must sit next "
                        + "to chat-balancer. GET /status still answers.\n"),
                contentType: "text/plain; charset=utf-8")
        }
        return files
    }()
}
