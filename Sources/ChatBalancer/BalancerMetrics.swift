import Prometheus

/// Every metric the balancer exports, defined once.
public final class BalancerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let acceptedChat: Counter
    private let acceptedHTTP: Counter
    private let openChat: Gauge
    private let openHTTP: Gauge
    private let connectFailures: Counter
    private let noNode: Counter
    private let refusedFull: Counter

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func counter(_ name: String, _ side: String, _ help: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: [("side", side)])
        }
        func gauge(_ name: String, _ side: String, _ help: String) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: [("side", side)])
        }
        acceptedChat = counter("balancer_connections_accepted_total", "chat", "Client connections accepted")
        acceptedHTTP = counter("balancer_connections_accepted_total", "http", "Client connections accepted")
        openChat = gauge("balancer_connections", "chat", "Client connections open")
        openHTTP = gauge("balancer_connections", "http", "Client connections open")
        connectFailures = counter("balancer_backend_connect_failures_total", "all", "Node connects that failed (the client was sent to the next node)")
        noNode = counter("balancer_no_node_available_total", "all", "Clients turned away because no node was up")
        refusedFull = counter("balancer_refused_full_total", "all", "Clients turned away at --max-clients")
    }

    func accepted(_ side: ProxyListener.Side) {
        // IRC counts as chat: it is chat, in another protocol.
        (side == .http ? acceptedHTTP : acceptedChat).increment()
        (side == .http ? openHTTP : openChat).increment()
    }

    func closed(_ side: ProxyListener.Side) { (side == .http ? openHTTP : openChat).decrement() }
    func connectFailed(_ side: ProxyListener.Side) { connectFailures.increment() }
    func noNodeAvailable(_ side: ProxyListener.Side) { noNode.increment() }
    func refused(_ side: ProxyListener.Side) { refusedFull.increment() }
}
