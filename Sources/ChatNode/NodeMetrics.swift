import Prometheus

/// Every metric the node exports, defined once (swift-prometheus traps on conflicting definitions).
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let connections: Gauge
    let sessions: Gauge
    let connectionsAccepted: Counter
    let messagesIn: Counter
    let messagesOut: Counter
    let directMessages: Counter
    let publishBatch: ValueHistogram
    let redisReconnects: Counter
    let slowConsumerDisconnects: Counter
    let rateLimited: Counter
    let claimFailures: Counter
    let loginFailures: Counter
    let relayedEventsDropped: Counter
    let namesLost: Counter
    let serverFull: Counter
    let usersReaped: Counter

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        connections = registry.makeGauge(descriptor: Self.describe("chat_connections", "Open client connections"))
        sessions = registry.makeGauge(descriptor: Self.describe("chat_sessions", "Clients that have claimed a name"))
        connectionsAccepted = registry.makeCounter(descriptor: Self.describe("chat_connections_accepted_total", "Connections accepted"))
        messagesIn = registry.makeCounter(descriptor: Self.describe("chat_messages_in_total", "Room messages published by this node's clients"))
        messagesOut = registry.makeCounter(descriptor: Self.describe("chat_messages_out_total", "Events written to this node's clients"))
        directMessages = registry.makeCounter(descriptor: Self.describe("chat_direct_messages_total", "Direct messages sent"))
        publishBatch = registry.makeValueHistogram(descriptor: Self.describe("chat_redis_pipeline_batch_size", "Commands written to Redis per flush"), buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        redisReconnects = registry.makeCounter(descriptor: Self.describe("chat_redis_reconnects_total", "Redis connections re-made"))
        slowConsumerDisconnects = registry.makeCounter(descriptor: Self.describe("chat_slow_consumer_disconnects_total", "Clients dropped for not reading their output"))
        rateLimited = registry.makeCounter(descriptor: Self.describe("chat_rate_limited_total", "Lines refused by the rate limit"))
        claimFailures = registry.makeCounter(descriptor: Self.describe("chat_claim_failures_total", "Name claims refused as taken"))
        loginFailures = registry.makeCounter(
            descriptor: Self.describe("chat_login_failures_total", "Logins refused for a wrong password"))
        relayedEventsDropped = registry.makeCounter(
            descriptor: Self.describe(
                "chat_relayed_events_dropped_total", "Events read from Redis dropped for a name or room no node would publish"))
        namesLost = registry.makeCounter(descriptor: Self.describe("chat_names_lost_total", "Sessions closed because their claim was lost"))
        serverFull = registry.makeCounter(descriptor: Self.describe("chat_server_full_total", "Connections refused at max clients"))
        usersReaped = registry.makeCounter(descriptor: Self.describe("chat_reaped_users_total", "Users of dead nodes cleaned up by this node"))
    }

    private static func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
