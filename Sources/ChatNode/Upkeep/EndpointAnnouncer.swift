import ChatStore
import NIOCore

/// Announces where this node can be reached, for the balancer's discovery: every 500 ms it sets
/// `chat:endpoint:<incarnation>` to "<node id> <chat host:port> <http host:port> [irc=<host:port>]
/// [ops=<host:port>]" with a 1.5 s expiry (`ops` is where the balancer's status page reads /metrics). A node that
/// dies drops out of discovery within 1.5 s; one that shuts down first announces itself as draining.
final class EndpointAnnouncer: Sendable {
    private let store: ChatStore
    private let value: String
    private let eventLoop: any EventLoop

    static let interval = TimeAmount.milliseconds(500)
    static let lifetime = TimeAmount.milliseconds(1500)

    init(
        store: ChatStore, nodeID: String, chat: String, http: String, irc: String? = nil, operations: String? = nil,
        eventLoop: any EventLoop
    ) {
        self.store = store
        self.value =
            "\(nodeID) \(chat) \(http)" + (irc.map { " irc=\($0)" } ?? "") + (operations.map { " ops=\($0)" } ?? "")
        self.eventLoop = eventLoop
    }

    func start() -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: Self.interval) { _ in
            guard self.store.redis.isConnected else { return }
            _ = self.store.announceEndpoint(self.value, lifetime: Self.lifetime)
        }
    }

    /// Stops announcing (for certain: the repeated task is cancelled before this returns) and tells discovery
    /// the node is draining, so the balancer sends it no new clients while it still accepts.
    func withdraw(_ task: RepeatedTask) -> EventLoopFuture<Void> {
        let cancelled = eventLoop.makePromise(of: Void.self)
        task.cancel(promise: cancelled)
        return cancelled.futureResult.flatMap {
            self.store.announceEndpoint(self.value + " draining", lifetime: .seconds(5))
        }
    }

    /// Leaves discovery altogether, once the listener is closed.
    func remove() -> EventLoopFuture<Void> {
        store.withdrawEndpoint()
    }
}
