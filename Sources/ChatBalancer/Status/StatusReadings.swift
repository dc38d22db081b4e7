// One file because the status page's readings are one snapshot: the nodes' metrics, Redis's INFO and the
// balancer's own counters are read on one schedule, differenced against the previous reading, and assembled
// into one JSON document; split, each part would need the others' last readings.

import ChatCommandSupport
import ChatCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// What the status page shows, gathered once a second whether or not anyone looks (so its chart has the last
/// minutes as soon as it opens, and a hundred open pages cost the nodes nothing more): each node's /metrics read
/// from its announced operations port, Redis's INFO over the discovery connection, and the balancer's own
/// counters. Rates are differences between consecutive readings. `GET /status` is `json()`, assembled from the
/// last readings and the pool's live state, so a node the probes take out shows as down at once.
///
/// One file (about 400 lines): the readings, what is worked out from them (rates, the p99, the history) and the
/// JSON are three views of one locked state; split apart, each would need the others' internals.
final class StatusReadings: Sendable {
    static let interval = TimeAmount.seconds(1)
    /// Points in the chart: five minutes.
    static let historyLength = 300
    /// A node gone from discovery stays on the page, as down, this long: a crash should not look like nothing.
    static let forgetAfter = TimeAmount.minutes(5)
    /// Readings kept per node: the fan-out p99 is over the last few seconds, not one.
    static let readingsKept = 6

    private let pool: BackendPool
    private let metrics: BalancerMetrics
    private let redis: (any RedisConnection)?
    private let eventLoop: any EventLoop
    private let openConnections: @Sendable () -> (chat: Int, http: Int)
    private let state = NIOLockedValueBox(State())

    struct NodeReading {
        var time: NIODeadline
        var clients: Double?
        var rooms: Double?
        var messagesIn: Double?
        var messagesOut: Double?
        var slowDrops: Double?
        var redisRoundTrip: Double?
        var redisLastReconnect: Double?
        var cpuSeconds: Double?
        var residentBytes: Double?
        var fanout: [(bound: Double, count: Double)]
        /// The archive (`--archive`): 1 on the node that archives, its lag and what it wrote.
        var archiveLeader: Double?
        var archiveLag: Double?
        var archived: Double?
        /// The release it runs (`chat_build_info`'s label), if it says one that looks like a version.
        var version: String?

        /// What a node says is only believed as far as it can be shown: counts and sizes must be finite and
        /// below 2^53 (a node answering `1e19` or `NaN` must not trap a conversion, here or in a sum).
        init(time: NIODeadline, metrics: PrometheusText) {
            self.time = time
            func value(_ name: String) -> Double? {
                metrics.total(name).flatMap { $0.isFinite && abs($0) < 9.0e15 ? $0 : nil }
            }
            clients = value("chat_connections")
            rooms = value("chat_rooms")
            messagesIn = value("chat_messages_in_total")
            messagesOut = value("chat_messages_out_total")
            slowDrops = value("chat_slow_consumer_disconnects_total")
            redisRoundTrip = value("chat_redis_round_trip_seconds")
            redisLastReconnect = value("chat_redis_last_reconnect_timestamp_seconds")
            cpuSeconds = value("process_cpu_seconds_total")
            residentBytes = value("process_resident_memory_bytes")
            fanout = metrics.buckets("chat_fanout_latency_seconds")
            archiveLeader = value("chat_archive_leader")
            archiveLag = value("chat_archive_lag_seconds")
            archived = value("chat_archive_messages_total")
            version = metrics.label("version", of: "chat_build_info").flatMap { ChatVersion.plausible(String($0)) }
        }
    }

    struct NodeRecord {
        var endpoint: NodeEndpoint
        /// The last good readings, kept across a failed one (so one slow answer does not reset the p99 window).
        var readings: [NodeReading] = []
        /// Why the last reading failed; nil when it worked.
        var problem: String?
        var lastInPool: NIODeadline
        /// Its state in the pool when last seen there: a node that left while draining left on purpose.
        var lastState: BackendPool.State = .up
        var inPool = true
    }

    struct RedisReading {
        var time: NIODeadline
        var info: [Substring: Substring]
        var commands: Double? { info["total_commands_processed"].flatMap { Double($0) } }
    }

    struct BalancerReading {
        var time: NIODeadline
        var accepted: Int
        var refused: Int
        var cpuSeconds: Double
        var residentBytes: Int
    }

    struct HistoryPoint {
        var time: Double
        var clients: Int
        var messagesPerSecond: Double
        var deliveriesPerSecond: Double
    }

    struct State {
        var nodes: [NodeEndpoint: NodeRecord] = [:]
        var redis: [RedisReading] = []
        var redisProblem: String?
        var balancer: [BalancerReading] = []
        var history: [HistoryPoint] = []
    }

    init(
        pool: BackendPool, metrics: BalancerMetrics, redis: (any RedisConnection)?, eventLoop: any EventLoop,
        openConnections: @escaping @Sendable () -> (chat: Int, http: Int)
    ) {
        self.pool = pool
        self.metrics = metrics
        self.redis = redis
        self.eventLoop = eventLoop
        self.openConnections = openConnections
    }

    func start() -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: Self.interval) { _ in self.collect() }
    }

    /// One round: every node's metrics and Redis's INFO at once, each bounded by most of the interval.
    private func collect() {
        let now = NIODeadline.now()
        let timeout = TimeAmount.milliseconds(Self.interval.nanoseconds / 1_000_000 * 8 / 10)
        let snapshot = pool.snapshot
        let endpoints = snapshot.map(\.endpoint)
        let process = ProcessMetrics.sample(countingDescriptors: false)
        state.withLockedValue { state in
            for key in state.nodes.keys { state.nodes[key]!.inPool = false }
            for node in snapshot {
                state.nodes[node.endpoint, default: NodeRecord(endpoint: node.endpoint, lastInPool: now)].lastInPool =
                    now
                state.nodes[node.endpoint]!.lastState = node.state
                state.nodes[node.endpoint]!.inPool = true
            }
            // A node that left while draining left on purpose and goes from the page; one that vanished otherwise
            // stays, as down, with figures no more (they would stand still in the totals).
            state.nodes = state.nodes.filter { _, record in
                record.inPool || (record.lastState != .draining && now - record.lastInPool < Self.forgetAfter)
            }
            for key in state.nodes.keys where !state.nodes[key]!.inPool { state.nodes[key]!.readings.removeAll() }
            Self.keep(
                &state.balancer,
                BalancerReading(
                    time: now, accepted: metrics.acceptedTotal.load(ordering: .relaxed),
                    refused: metrics.refusedFullTotal.load(ordering: .relaxed)
                        + metrics.noNodeTotal.load(ordering: .relaxed)
                        + metrics.refusedPerAddressTotal.load(ordering: .relaxed),
                    cpuSeconds: process.cpuSeconds, residentBytes: process.residentBytes))
        }
        var pending: [EventLoopFuture<Void>] = []
        for endpoint in endpoints {
            guard let operations = endpoint.operations else {
                state.withLockedValue {
                    $0.nodes[endpoint]?.problem =
                        "no operations port known (a node on loopback-only --ops-host, or a fixed node without /OPSPORT)"
                }
                continue
            }
            // Only the host the balancer already connects to for chat: an announcement must not turn the balancer
            // into a scanner of other hosts' ports.
            guard operations.host == endpoint.chat.host else {
                state.withLockedValue {
                    $0.nodes[endpoint]?.problem = "operations address \(operations) is not on the node's chat host"
                }
                continue
            }
            let fetched = MetricsScrape.fetch(operations, on: eventLoop, timeout: timeout).map { text in
                let reading = NodeReading(time: NIODeadline.now(), metrics: PrometheusText(text))
                self.state.withLockedValue { state in
                    guard state.nodes[endpoint] != nil else { return }
                    Self.keep(&state.nodes[endpoint]!.readings, reading, limit: Self.readingsKept)
                    state.nodes[endpoint]!.problem = nil
                }
            }.recover { error in
                self.state.withLockedValue { state in
                    state.nodes[endpoint]?.problem =
                        "cannot read \(operations)/metrics: \(MetricsScrape.describe(error))"
                    return
                }
            }
            pending.append(fetched)
        }
        if let redis {
            if redis.isConnected {
                pending.append(
                    redis.sendToEveryPrimary(RedisCommand("INFO")).hop(to: eventLoop).map { replies in
                        let info = Self.combine(replies.map { Self.parseInfo($0.string ?? "") })
                        self.state.withLockedValue { state in
                            Self.keep(&state.redis, RedisReading(time: NIODeadline.now(), info: info))
                            state.redisProblem = nil
                        }
                    }.recover { error in
                        self.state.withLockedValue { state in
                            state.redisProblem = "INFO failed: \(String("\(error)".prefix(160)))"
                            state.redis.removeAll()
                        }
                    })
            } else {
                state.withLockedValue { state in
                    state.redisProblem = "not connected to \(redis.displayName)"
                    state.redis.removeAll()
                }
            }
        }
        EventLoopFuture.andAllComplete(pending, on: eventLoop).whenComplete { _ in
            self.state.withLockedValue { state in
                let summary = Self.summarize(state.nodes.values.filter { $0.problem == nil && $0.inPool })
                Self.keep(
                    &state.history,
                    HistoryPoint(
                        time: Date().timeIntervalSince1970, clients: summary.clients,
                        messagesPerSecond: summary.messages, deliveriesPerSecond: summary.deliveries),
                    limit: Self.historyLength)
            }
        }
    }

    private static func keep<T>(_ list: inout [T], _ item: T, limit: Int = 2) {
        list.append(item)
        if list.count > limit { list.removeFirst(list.count - limit) }
    }

    /// One reading for the whole of Redis from each primary's INFO (a Redis Cluster's shards each describe only
    /// themselves): memory, its limit, clients and commands added up, the shortest uptime (the last restart
    /// anywhere), the version and the rest from the first; `shards` says how many were read.
    static func combine(_ infos: [[Substring: Substring]]) -> [Substring: Substring] {
        guard var combined = infos.first else { return [:] }
        for key in ["used_memory", "maxmemory", "connected_clients", "total_commands_processed"] as [Substring] {
            let values = infos.compactMap { $0[key].flatMap { Int($0) } }
            if values.count == infos.count { combined[key] = Substring(String(values.reduce(0, +))) }
        }
        if let uptime = infos.compactMap({ $0["uptime_in_seconds"].flatMap { Int($0) } }).min() {
            combined["uptime_in_seconds"] = Substring(String(uptime))
        }
        combined["shards"] = Substring(String(infos.count))
        return combined
    }

    /// INFO's `key:value` lines (sections and blank lines skipped).
    static func parseInfo(_ text: String) -> [Substring: Substring] {
        var info: [Substring: Substring] = [:]
        for line in text.split(whereSeparator: \.isNewline) where line.first != "#" {
            guard let colon = line.firstIndex(of: ":") else { continue }
            info[line[..<colon]] = line[line.index(after: colon)...]
        }
        return info
    }

    /// Per second between the two last readings; nil with fewer, 0 across a counter reset (a restarted node).
    static func rate(_ readings: [NodeReading], _ value: (NodeReading) -> Double?) -> Double? {
        guard readings.count >= 2, let last = readings.last, let later = value(last),
            let earlier = value(readings[readings.count - 2])
        else { return nil }
        let seconds = Double((last.time - readings[readings.count - 2].time).nanoseconds) / 1e9
        guard seconds > 0 else { return nil }
        return max(0, later - earlier) / seconds
    }

    private static func summarize(_ records: [NodeRecord]) -> (clients: Int, messages: Double, deliveries: Double) {
        var clients = 0
        var messages = 0.0
        var deliveries = 0.0
        for record in records {
            // Each below 2^53 (NodeReading), so a few thousand nodes cannot overflow.
            clients += Int(max(0, record.readings.last?.clients ?? 0))
            messages += rate(record.readings, \.messagesIn) ?? 0
            deliveries += rate(record.readings, \.messagesOut) ?? 0
        }
        return (clients, messages, deliveries)
    }

    /// Redis's figures for the balancer's /metrics (`balancer_redis_*`), from the last INFO; `balancer_redis_up`
    /// is 0 while Redis cannot be read, and the rest are then absent.
    func redisPrometheusText() -> String {
        guard redis != nil else { return "" }
        let reading = state.withLockedValue { $0.redis.last }
        var text = "# HELP balancer_redis_up Whether the balancer could read Redis's INFO at its last try\n"
        text += "# TYPE balancer_redis_up gauge\nbalancer_redis_up \(reading == nil ? 0 : 1)\n"
        guard let info = reading?.info else { return text }
        for (name, key, type, help) in [
            ("balancer_redis_memory_used_bytes", "used_memory", "gauge", "Memory Redis uses (INFO used_memory)"),
            (
                "balancer_redis_memory_max_bytes", "maxmemory", "gauge",
                "Redis's memory limit, 0 for none (INFO maxmemory)"
            ),
            (
                "balancer_redis_connected_clients", "connected_clients", "gauge",
                "Connections to Redis (INFO connected_clients)"
            ),
            (
                "balancer_redis_commands_processed_total", "total_commands_processed", "counter",
                "Commands Redis processed"
            ),
            ("balancer_redis_uptime_seconds", "uptime_in_seconds", "gauge", "Seconds since Redis started"),
        ] {
            guard let value = info[Substring(key)].flatMap({ Double($0) }) else { continue }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        return text
    }

    /// The page's JSON (docs/balancer.md has its fields).
    func json() -> String {
        let wallNow = Date().timeIntervalSince1970
        let live = Dictionary(pool.snapshot.map { ($0.endpoint, $0.state) }, uniquingKeysWith: { first, _ in first })
        let state = self.state.withLockedValue { $0 }
        let open = openConnections()

        var nodes: [String] = []
        var up = 0
        var redisConnected = 0
        var latestReconnect: Double?
        let records = state.nodes.values.sorted {
            ($0.endpoint.name, $0.endpoint.chat.description) < ($1.endpoint.name, $1.endpoint.chat.description)
        }
        for record in records {
            let nodeState = (record.inPool ? live[record.endpoint]?.rawValue : nil) ?? BackendPool.State.down.rawValue
            if nodeState == BackendPool.State.up.rawValue { up += 1 }
            let gone = !record.inPool || live[record.endpoint] == nil
            let problem = gone ? "gone from discovery" + (record.problem.map { "; last: \($0)" } ?? "") : record.problem
            let readings = problem == nil ? record.readings : []
            let last = readings.last
            if let reconnect = last?.redisLastReconnect, reconnect > 0 {
                latestReconnect = max(latestReconnect ?? 0, reconnect)
            }
            // A node's round trip is NaN (so nil here) while its Redis connection is down.
            if last?.redisRoundTrip != nil { redisConnected += 1 }
            var json = JSONWriter(capacity: 400)
            json.field("node", record.endpoint.name)
            json.field("address", record.endpoint.chat.description)
            json.field("state", nodeState)
            json.field("reachable", last != nil)
            json.field("problem", last == nil ? (problem ?? "no reading yet") : nil)
            json.field("clients", last?.clients.map { Int($0) })  // finite and below 2^53: see NodeReading
            json.field("rooms", last?.rooms.map { Int($0) })
            json.field("messagesInPerSecond", Self.rate(readings, \.messagesIn))
            json.field("messagesOutPerSecond", Self.rate(readings, \.messagesOut))
            json.field("slowConsumerDrops", last?.slowDrops.map { Int($0) })
            json.field("redisRoundTripSeconds", last?.redisRoundTrip)
            json.field("cpuPercent", Self.rate(readings, \.cpuSeconds).map { $0 * 100 })
            json.field("residentBytes", last?.residentBytes.map { Int($0) })
            json.field("version", last?.version)
            json.field(
                "fanoutP99Seconds",
                readings.count >= 2
                    ? PrometheusText.quantile(0.99, from: readings[0].fanout, to: readings.last!.fanout) : nil)
            nodes.append(json.finish())
        }
        let summary = Self.summarize(records.filter { $0.problem == nil && $0.inPool && live[$0.endpoint] != nil })

        var cluster = JSONWriter()
        cluster.field("nodes", records.count)
        cluster.field("nodesUp", up)
        cluster.field("clients", summary.clients)
        cluster.field("messagesPerSecond", summary.messages)
        cluster.field("deliveriesPerSecond", summary.deliveries)
        // The archive, from the node holding its lease (nil fields: no node archives, or none was read yet).
        let archiving = records.first { $0.problem == nil && $0.readings.last?.archiveLeader == 1 }
        cluster.field("archivingNode", archiving?.endpoint.name)
        cluster.field("archiveLagSeconds", archiving?.readings.last?.archiveLag)
        cluster.field("archivedPerSecond", archiving.flatMap { Self.rate($0.readings, \.archived) })

        var balancer = JSONWriter()
        balancer.field("connections", open.chat + open.http)
        balancer.field("chatConnections", open.chat)
        balancer.field("httpConnections", open.http)
        let readings = state.balancer
        let seconds = readings.count >= 2 ? Double((readings[1].time - readings[0].time).nanoseconds) / 1e9 : 0
        func perSecond(_ value: (BalancerReading) -> Double) -> Double? {
            seconds > 0 ? max(0, value(readings[1]) - value(readings[0])) / seconds : nil
        }
        balancer.field("connectsPerSecond", perSecond { Double($0.accepted) })
        balancer.field("refusedFull", metrics.refusedFullTotal.load(ordering: .relaxed))
        balancer.field("refusedNoNode", metrics.noNodeTotal.load(ordering: .relaxed))
        balancer.field("refusedPerAddress", metrics.refusedPerAddressTotal.load(ordering: .relaxed))
        balancer.field("refusedPerSecond", perSecond { Double($0.refused) })
        balancer.field("cpuPercent", perSecond { $0.cpuSeconds }.map { $0 * 100 })
        balancer.field("residentBytes", readings.last?.residentBytes)
        balancer.field("version", ChatVersion.number)

        var redisJSON = JSONWriter()
        redisJSON.field("configured", redis != nil)
        let info = state.redis.last?.info
        redisJSON.field("reachable", info != nil)
        redisJSON.field("problem", redis == nil || info != nil ? nil : (state.redisProblem ?? "no reading yet"))
        redisJSON.field("version", info?["redis_version"].map(String.init))
        redisJSON.field("usedMemoryBytes", info?["used_memory"].flatMap { Int($0) })
        redisJSON.field("maxMemoryBytes", info?["maxmemory"].flatMap { Int($0) })
        redisJSON.field("nodesConnected", redis == nil ? nil : redisConnected)
        redisJSON.field("connectedClients", info?["connected_clients"].flatMap { Int($0) })
        var commandsPerSecond: Double?
        if state.redis.count == 2, let later = state.redis[1].commands, let earlier = state.redis[0].commands {
            let seconds = Double((state.redis[1].time - state.redis[0].time).nanoseconds) / 1e9
            if seconds > 0 { commandsPerSecond = max(0, later - earlier) / seconds }
        }
        redisJSON.field("commandsPerSecond", commandsPerSecond)
        redisJSON.field("uptimeSeconds", info?["uptime_in_seconds"].flatMap { Int($0) })
        redisJSON.field("shards", info?["shards"].flatMap { Int($0) })
        redisJSON.field("lastReconnectSecondsAgo", latestReconnect.map { max(0, wallNow - $0) })

        let history = state.history.map { point in
            var json = JSONWriter(capacity: 100)
            json.field("time", point.time)
            json.field("clients", point.clients)
            json.field("messagesPerSecond", point.messagesPerSecond)
            json.field("deliveriesPerSecond", point.deliveriesPerSecond)
            return json.finish()
        }

        var body = JSONWriter(capacity: 2048 + 400 * nodes.count + 100 * history.count)
        body.field("time", wallNow)
        body.field("refreshSeconds", Double(Self.interval.nanoseconds) / 1e9)
        body.field("balancer", rawJSON: balancer.finish())
        body.field("cluster", rawJSON: cluster.finish())
        body.array("history", history)
        body.array("nodes", nodes)
        body.field("redis", rawJSON: redisJSON.finish())
        return body.finish(line: true)
    }
}
