import ChatCommandSupport
import ChatCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The balancer's own port: the status page (`/`, its script and style), GET /status (the page's JSON), GET
/// /nodes (each node, its state, clients routed, connected now) and GET /metrics.
enum AdminEndpoints {
    static func router(
        pool: BackendPool, metrics: BalancerMetrics, status: StatusReadings, hostNames: HostAllowList
    )
        -> Router<BasicRequestContext>
    {
        let router = Router()
        router.add(middleware: HostCheck(allowed: hostNames))
        router.get("/nodes") { _, _ -> Response in
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
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body.finish() + "\n")))
        }
        router.get("/status") { _, _ -> Response in
            var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
            if let nosniff = HTTPField.Name("x-content-type-options") { headers[nosniff] = "nosniff" }
            return Response(
                status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: status.json())))
        }
        router.get("/metrics") { _, _ -> Response in
            metrics.nodes(pool.snapshot)
            var body = ByteBuffer(bytes: metrics.registry.emitToBuffer())
            body.writeString(status.redisPrometheusText())
            body.writeString(ProcessMetrics.prometheusText())
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: body))
        }
        // Browsers ask for it with every page; the page has none, and a 404 would be an error in their console.
        router.get("/favicon.ico") { _, _ -> Response in Response(status: .noContent) }
        for (path, asset) in StatusPageAssets.files {
            router.get(RouterPath(path)) { _, _ -> Response in
                var headers: HTTPFields = [.contentType: asset.contentType]
                for (name, value) in StaticFiles.securityHeaders {
                    if let field = HTTPField.Name(name) { headers[field] = value }
                }
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.body))
            }
        }
        return router
    }
}

/// Answers only requests for IP addresses, localhost and the names given (`--admin-hosts`): a page whose name was
/// rebound to this address must not read the cluster's status from an operator's browser (`HostAllowList`).
struct HostCheck: RouterMiddleware {
    let allowed: HostAllowList

    func handle(
        _ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response
    )
        async throws -> Response
    {
        guard allowed.allows(host: request.head.authority) else {
            return Response(
                status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string:
                            "this port answers requests for IP addresses and localhost; name others with --admin-hosts\n"
                    )))
        }
        return try await next(request, context)
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
