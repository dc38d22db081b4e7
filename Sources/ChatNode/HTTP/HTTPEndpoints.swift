import ChatCore
import Hummingbird
import NIOCore

/// GET /health and GET /metrics on the node's HTTP port.
enum HTTPEndpoints {
    static func router(node: NodeContext, isHealthy: @escaping @Sendable () -> Bool) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { _, _ -> Response in
            let healthy = isHealthy()
            var json = JSONWriter()
            json.field("status", healthy ? "ok" : "unhealthy")
            json.field("node", node.nodeID)
            json.field("incarnation", node.store.incarnation)
            if let advertise = node.configuration.advertise { json.field("advertise", advertise) }
            json.field("clients", node.connectionCount.load(ordering: .relaxed))
            json.field("rooms", node.relay.localRooms)
            json.field("channels", node.relay.subscribedChannels)
            json.field("redis", healthy)
            return Response(
                status: healthy ? .ok : .serviceUnavailable,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: json.finish() + "\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: node.metrics.registry.emitToBuffer())))
        }
        return router
    }
}
