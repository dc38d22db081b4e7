import ChatCore
import ChatTracing
import Prometheus

/// Every metric the node exports, defined once (swift-prometheus traps on conflicting definitions).
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let connections: Gauge
    let sessions: Gauge
    /// Session objects alive: one per open connection, and any a closed connection left behind. Above
    /// `chat_connections` for long, something keeps sessions that are over (the soak found a node growing so).
    let sessionObjects: Gauge
    let connectionsAccepted: Counter
    let messagesIn: Counter
    /// Room messages whose replicas did not confirm them in time (`--ack-replicas`).
    let messagesUnconfirmed: Counter
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
    /// Rooms with members on this node; set when scraped.
    let rooms: Gauge
    /// From the relay reading an event off Redis to the flush after writing it to every local member: the fan-out
    /// latency chat-bench measures from outside, watched from inside. One per event loop (label `loop`), so the
    /// loops never wait on one histogram's lock; dashboards sum them.
    let fanoutLatency: [DurationHistogram]
    /// The last PING's round trip on the command connection (every second).
    let redisRoundTrip: Gauge
    /// When the command connection to Redis was last re-made (Unix seconds; 0 until it first is): a Redis restart
    /// or failover, as this node saw it.
    let redisLastReconnect: Gauge
    /// The archive (`--archive`): what this node's archiver wrote, how far behind the rooms it is, what it lost.
    let archive: ArchiveMetrics
    /// Traces (`--otlp-endpoint`): spans the collector took, spans dropped (queue full, or a post that failed), and
    /// posts that failed.
    let traceSpansExported: Counter
    let traceSpansDropped: Counter
    let traceExportFailures: Counter

    /// The tracer's reports, as these metrics.
    var traceCounts: Tracer.Counts {
        var counts = Tracer.Counts()
        let (exported, dropped, failures) = (traceSpansExported, traceSpansDropped, traceExportFailures)
        counts.exported = { exported.increment(by: Int64($0)) }
        counts.dropped = { dropped.increment(by: Int64($0)) }
        counts.failedExports = { failures.increment() }
        return counts
    }

    /// `eventLoops`: how many fan-out latency histograms to keep (one per loop; loops past the last share it).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), eventLoops: Int = 1) {
        self.registry = registry
        // An info metric, as Prometheus's own `prometheus_build_info`: always 1, the release in its label.
        registry.makeGauge(
            descriptor: Self.describe("chat_build_info", "The release this node runs (label version); always 1"),
            labels: [("version", ChatVersion.number)]
        ).set(Int64(1))
        connections = registry.makeGauge(descriptor: Self.describe("chat_connections", "Open client connections"))
        sessions = registry.makeGauge(descriptor: Self.describe("chat_sessions", "Clients that have claimed a name"))
        sessionObjects = registry.makeGauge(
            descriptor: Self.describe(
                "chat_session_objects", "Session objects in memory: open connections and any kept after closing"))
        connectionsAccepted = registry.makeCounter(
            descriptor: Self.describe("chat_connections_accepted_total", "Connections accepted"))
        messagesIn = registry.makeCounter(
            descriptor: Self.describe("chat_messages_in_total", "Room messages published by this node's clients"))
        messagesUnconfirmed = registry.makeCounter(
            descriptor: Self.describe(
                "chat_messages_unconfirmed_total",
                "Room messages the Redis replicas did not confirm within --ack-timeout-ms (senders warned)"))
        messagesOut = registry.makeCounter(
            descriptor: Self.describe("chat_messages_out_total", "Events written to this node's clients"))
        directMessages = registry.makeCounter(
            descriptor: Self.describe("chat_direct_messages_total", "Direct messages sent"))
        publishBatch = registry.makeValueHistogram(
            descriptor: Self.describe("chat_redis_pipeline_batch_size", "Commands written to Redis per flush"),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        redisReconnects = registry.makeCounter(
            descriptor: Self.describe("chat_redis_reconnects_total", "Redis connections re-made"))
        slowConsumerDisconnects = registry.makeCounter(
            descriptor: Self.describe(
                "chat_slow_consumer_disconnects_total", "Clients dropped for not reading their output"))
        rateLimited = registry.makeCounter(
            descriptor: Self.describe("chat_rate_limited_total", "Lines refused by the rate limit"))
        claimFailures = registry.makeCounter(
            descriptor: Self.describe("chat_claim_failures_total", "Name claims refused as taken"))
        loginFailures = registry.makeCounter(
            descriptor: Self.describe("chat_login_failures_total", "Logins refused for a wrong password"))
        relayedEventsDropped = registry.makeCounter(
            descriptor: Self.describe(
                "chat_relayed_events_dropped_total",
                "Events read from Redis dropped for a name or room no node would publish"))
        namesLost = registry.makeCounter(
            descriptor: Self.describe("chat_names_lost_total", "Sessions closed because their claim was lost"))
        serverFull = registry.makeCounter(
            descriptor: Self.describe("chat_server_full_total", "Connections refused at max clients"))
        usersReaped = registry.makeCounter(
            descriptor: Self.describe("chat_reaped_users_total", "Users of dead nodes cleaned up by this node"))
        rooms = registry.makeGauge(descriptor: Self.describe("chat_rooms", "Rooms with members on this node"))
        fanoutLatency = (0..<max(1, eventLoops)).map { loop in
            registry.makeDurationHistogram(
                descriptor: Self.describe(
                    "chat_fanout_latency_seconds",
                    "From an event read off Redis to its bytes written to every local member"),
                labels: [("loop", String(loop))],
                buckets: [
                    .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                    .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                    .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
                ])
        }
        redisRoundTrip = registry.makeGauge(
            descriptor: Self.describe("chat_redis_round_trip_seconds", "The last PING's round trip to Redis"))
        redisLastReconnect = registry.makeGauge(
            descriptor: Self.describe(
                "chat_redis_last_reconnect_timestamp_seconds",
                "When the connection to Redis was last re-made (0: never)"))
        archive = ArchiveMetrics(registry: registry)
        traceSpansExported = registry.makeCounter(
            descriptor: Self.describe("chat_trace_spans_exported_total", "Spans the OTLP collector accepted"))
        traceSpansDropped = registry.makeCounter(
            descriptor: Self.describe(
                "chat_trace_spans_dropped_total", "Spans dropped: the export queue was full, or their post failed"))
        traceExportFailures = registry.makeCounter(
            descriptor: Self.describe(
                "chat_trace_export_failures_total", "Posts to the OTLP collector that failed or were refused"))
    }

    struct ArchiveMetrics: Sendable {
        let messages: Counter
        let changes: Counter
        let writes: Counter
        let writeFailures: Counter
        let gaps: Counter
        let lag: Gauge
        let leader: Gauge

        init(registry: PrometheusCollectorRegistry) {
            messages = registry.makeCounter(
                descriptor: NodeMetrics.describe(
                    "chat_archive_messages_total", "Room messages this node's archiver wrote to PostgreSQL"))
            changes = registry.makeCounter(
                descriptor: NodeMetrics.describe(
                    "chat_archive_changes_total", "Edits and deletes this node's archiver applied to the archive"))
            writes = registry.makeCounter(
                descriptor: NodeMetrics.describe("chat_archive_writes_total", "Archive transactions committed"))
            writeFailures = registry.makeCounter(
                descriptor: NodeMetrics.describe(
                    "chat_archive_write_failures_total", "Archive transactions that failed (retried)"))
            gaps = registry.makeCounter(
                descriptor: NodeMetrics.describe(
                    "chat_archive_gaps_total",
                    "Times a room's stream was found trimmed past what the archive had (messages lost to it)"))
            lag = registry.makeGauge(
                descriptor: NodeMetrics.describe(
                    "chat_archive_lag_seconds",
                    "Age of the oldest message in the archiver's last write: how far behind the rooms it is"))
            leader = registry.makeGauge(
                descriptor: NodeMetrics.describe(
                    "chat_archive_leader", "1 while this node holds the archiver's lease"))
        }
    }

    /// `chat_node_info{node="<id>"} 1`: the node's id as a label, for dashboards to name what they scrape.
    func identify(nodeID: String) {
        registry.makeGauge(
            descriptor: Self.describe("chat_node_info", "This node's id, as a label; always 1"),
            labels: [("node", nodeID)]
        ).set(to: 1.0)
    }

    fileprivate static func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
