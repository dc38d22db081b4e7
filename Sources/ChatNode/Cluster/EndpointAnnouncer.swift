import ChatRedis
import NIOCore

/// Announces where this node can be reached, for the balancer's discovery: every 500 ms it sets
/// `chat:endpoint:<incarnation>` to "<node id> <chat host:port> <http host:port>" with a 1.5 s expiry. A node
/// that dies drops out of discovery within 1.5 s; one that shuts down withdraws itself first.
final class EndpointAnnouncer: Sendable {
    private let store: ClusterStore
    private let value: String
    private let eventLoop: any EventLoop

    static let interval = TimeAmount.milliseconds(500)
    static let lifetime = TimeAmount.milliseconds(1500)

    init(store: ClusterStore, nodeID: String, chat: String, http: String, eventLoop: any EventLoop) {
        self.store = store
        self.value = "\(nodeID) \(chat) \(http)"
        self.eventLoop = eventLoop
    }

    func start() -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: Self.interval) { _ in
            guard self.store.redis.isConnected else { return }
            _ = self.store.announceEndpoint(self.value, lifetime: Self.lifetime)
        }
    }

    func withdraw() -> EventLoopFuture<Void> {
        store.withdrawEndpoint()
    }
}
