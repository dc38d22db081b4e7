import ChatCore
import Hummingbird
import NIOCore

/// The balancer's own port: GET /nodes (each node, its state, clients routed, connected now) and GET /metrics.
enum AdminEndpoints {
    static func router(pool: BackendPool, metrics: BalancerMetrics) -> Router<BasicRequestContext> {
        let router = Router()
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
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        return router
    }
}
