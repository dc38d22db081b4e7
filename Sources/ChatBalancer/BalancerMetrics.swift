import ChatCore
import Prometheus
import Synchronization

/// Every metric the balancer exports, defined once. The totals the status page turns into rates are also kept as
/// plain atomics, since swift-prometheus counters cannot be read back.
public final class BalancerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let acceptedChat: Counter
    private let acceptedHTTP: Counter
    private let openChat: Gauge
    private let openHTTP: Gauge
    private let connectFailures: Counter
    private let noNode: Counter
    private let refusedFull: Counter
    private let refusedPerAddress: Counter
    private let nodesByState: [BackendPool.State: Gauge]

    let acceptedTotal = Atomic<Int>(0)
    let refusedFullTotal = Atomic<Int>(0)
    let noNodeTotal = Atomic<Int>(0)
    let refusedPerAddressTotal = Atomic<Int>(0)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "balancer_build_info", unitName: "",
                helpText: "The release this balancer runs (label version); always 1"),
            labels: [("version", ChatVersion.number)]
        ).set(Int64(1))
        func counter(_ name: String, _ side: String, _ help: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
                labels: [("side", side)])
        }
        func gauge(_ name: String, _ side: String, _ help: String) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
                labels: [("side", side)])
        }
        acceptedChat = counter("balancer_connections_accepted_total", "chat", "Client connections accepted")
        acceptedHTTP = counter("balancer_connections_accepted_total", "http", "Client connections accepted")
        openChat = gauge("balancer_connections", "chat", "Client connections open")
        openHTTP = gauge("balancer_connections", "http", "Client connections open")
        connectFailures = counter(
            "balancer_backend_connect_failures_total", "all",
            "Node connects that failed (the client was sent to the next node)")
        noNode = counter("balancer_no_node_available_total", "all", "Clients turned away because no node was up")
        refusedFull = counter("balancer_refused_full_total", "all", "Clients turned away at --max-clients")
        refusedPerAddress = counter(
            "balancer_refused_per_address_total", "all", "Clients turned away at --max-connections-per-address")
        var nodesByState: [BackendPool.State: Gauge] = [:]
        for state in [BackendPool.State.up, .down, .draining] {
            nodesByState[state] = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "balancer_nodes", unitName: "", helpText: "Nodes known to the balancer, by state"),
                labels: [("state", state.rawValue)])
        }
        self.nodesByState = nodesByState
    }

    func accepted(_ side: ProxyListener.Side) {
        // IRC counts as chat: it is chat, in another protocol.
        (side == .http ? acceptedHTTP : acceptedChat).increment()
        (side == .http ? openHTTP : openChat).increment()
        acceptedTotal.add(1, ordering: .relaxed)
    }

    func closed(_ side: ProxyListener.Side) { (side == .http ? openHTTP : openChat).decrement() }
    func connectFailed(_ side: ProxyListener.Side) { connectFailures.increment() }

    func noNodeAvailable(_ side: ProxyListener.Side) {
        noNode.increment()
        noNodeTotal.add(1, ordering: .relaxed)
    }

    func refused(_ side: ProxyListener.Side) {
        refusedFull.increment()
        refusedFullTotal.add(1, ordering: .relaxed)
    }

    func refusedForAddress(_ side: ProxyListener.Side) {
        refusedPerAddress.increment()
        refusedPerAddressTotal.add(1, ordering: .relaxed)
    }

    /// Sets the per-state node counts (at each scrape, from the pool).
    func nodes(_ snapshot: [BackendPool.Snapshot]) {
        for (state, gauge) in nodesByState {
            gauge.set(Int64(snapshot.filter { $0.state == state }.count))
        }
    }
}
