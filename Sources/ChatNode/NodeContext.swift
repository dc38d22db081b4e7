import ChatCommandSupport
import ChatCore
import ChatRedis
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// What every session on every loop shares: the node's identity, its Redis store and relay, limits, metrics.
final class NodeContext: Sendable {
    let configuration: NodeConfiguration
    let nodeID: String
    let store: ClusterStore
    let relay: Relay
    let metrics: NodeMetrics
    let logger: Logger
    let connectionCount = Atomic<Int>(0)
    private let sessionCounter = Atomic<Int>(0)
    /// Open connections per client address, for --max-clients-per-address.
    private let perAddress: AddressCounts

    /// Counts a connection from `address`; false (and nothing counted) past the per-address limit.
    func admit(address: String) -> Bool { perAddress.admit(address) }

    func release(address: String) { perAddress.release(address) }

    /// Releases that failed because Redis was away; retried as soon as it is back, so no leave notice is lost.
    let pendingReleases = NIOLockedValueBox<[PendingRelease]>([])

    init(
        configuration: NodeConfiguration, nodeID: String, store: ClusterStore, relay: Relay, metrics: NodeMetrics,
        logger: Logger
    ) {
        self.configuration = configuration
        self.nodeID = nodeID
        self.store = store
        self.relay = relay
        self.metrics = metrics
        self.logger = logger
        self.perAddress = AddressCounts(limit: configuration.maxClientsPerAddress)
    }

    /// Unique across the cluster and over time: the incarnation plus a counter.
    func makeSessionID() -> String {
        "\(store.incarnation)/\(sessionCounter.add(1, ordering: .relaxed).newValue)"
    }
}

struct PendingRelease: Sendable {
    var user: UserName
    var token: String
    var time: Millis
    var reason: LeaveReason
    var origin: String
}
