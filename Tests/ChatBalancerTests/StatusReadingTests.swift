import Testing

@testable import ChatBalancer

/// The status page's readings: a node's /metrics read back, the fan-out p99 worked out from two readings, Redis's
/// INFO, and where a node says its metrics are.
@Suite("Status page readings")
struct StatusReadingTests {
    @Test("a node's /metrics reads back: plain and labelled series, histograms, junk skipped")
    func prometheusText() {
        let text = """
            # HELP chat_connections Open client connections
            # TYPE chat_connections gauge
            chat_connections 12.0
            chat_messages_in_total 340
            balancer_connections{side="chat"} 5
            balancer_connections{side="http"} 2
            chat_node_info{node="n \\"one\\""} 1
            chat_fanout_latency_seconds_bucket{le="0.001"} 3
            chat_fanout_latency_seconds_bucket{le="0.01"} 9
            chat_fanout_latency_seconds_bucket{le="+Inf"} 10
            this is not a sample
            broken{le="0.1" 4
            chat_rooms NaNish
            """
        let metrics = PrometheusText(text)
        #expect(metrics.total("chat_connections") == 12)
        #expect(metrics.total("chat_messages_in_total") == 340)
        #expect(metrics.total("balancer_connections") == 7, "series of one name add up across labels")
        #expect(metrics.total("chat_node_info") == 1)
        #expect(metrics.total("chat_rooms") == nil)
        #expect(metrics.total("broken") == nil)
        let buckets = metrics.buckets("chat_fanout_latency_seconds")
        #expect(buckets.map(\.bound) == [0.001, 0.01, .infinity])
        #expect(buckets.map(\.count) == [3, 9, 10])
    }

    @Test("a hostile /metrics answer is read as nothing, never as a trap or a quadratic parse")
    func hostileMetrics() {
        // Thousands of NaN bounds (each a dictionary key unequal to every other) and more bounds than any
        // histogram of ours has: no buckets at all.
        let nans = (0..<5000).map { _ in "chat_fanout_latency_seconds_bucket{le=\"nan\"} 1" }.joined(separator: "\n")
        #expect(PrometheusText(nans).buckets("chat_fanout_latency_seconds").isEmpty)
        let many = (0..<500).map { "chat_fanout_latency_seconds_bucket{le=\"\($0)\"} \($0)" }.joined(separator: "\n")
        #expect(PrometheusText(many).buckets("chat_fanout_latency_seconds").isEmpty)
        // Numbers no count can be: not believed, so nothing converts them to Int.
        let huge =
            "chat_connections 1e19\nchat_rooms NaN\nchat_messages_in_total +Inf\nprocess_resident_memory_bytes -1e300"
        let reading = StatusReadings.NodeReading(time: .now(), metrics: PrometheusText(huge))
        #expect(
            reading.clients == nil && reading.rooms == nil && reading.messagesIn == nil && reading.residentBytes == nil)
    }

    @Test("the fan-out p99 is over the observations between two readings, interpolated in its bucket")
    func quantile() throws {
        let earlier: [(bound: Double, count: Double)] = [(0.001, 100), (0.01, 100), (.infinity, 100)]
        // 100 new observations: 50 under 1 ms, 50 between 1 and 10 ms.
        let later: [(bound: Double, count: Double)] = [(0.001, 150), (0.01, 200), (.infinity, 200)]
        let p99 = try #require(PrometheusText.quantile(0.99, from: earlier, to: later))
        #expect(abs(p99 - (0.001 + 0.009 * 49 / 50)) < 1e-9)
        let p50 = try #require(PrometheusText.quantile(0.5, from: earlier, to: later))
        #expect(abs(p50 - 0.001) < 1e-9)
        #expect(PrometheusText.quantile(0.99, from: later, to: later) == nil, "nothing observed in between")
        // Past the last finite bound the answer is that bound, as Prometheus's histogram_quantile says.
        let slow: [(bound: Double, count: Double)] = [(0.001, 0), (0.01, 0), (.infinity, 5)]
        #expect(PrometheusText.quantile(0.99, from: [], to: slow) == 0.01)
        // A node that restarted counts from zero: the window is what it counted since.
        let afterRestart: [(bound: Double, count: Double)] = [(0.001, 10), (0.01, 10), (.infinity, 10)]
        #expect(PrometheusText.quantile(0.5, from: later, to: afterRestart).map { $0 <= 0.001 } == true)
    }

    @Test("Redis's INFO: key:value lines, sections skipped")
    func info() {
        let info = StatusReadings.parseInfo(
            "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:42\r\n\r\n# Memory\r\nused_memory:1024\r\nmaxmemory:0\r\n"
        )
        #expect(info["redis_version"] == "7.0.15")
        #expect(info["uptime_in_seconds"] == "42")
        #expect(info["used_memory"] == "1024")
        #expect(info["maxmemory"] == "0")
        #expect(info.count == 4)
    }

    @Test("a Redis Cluster's INFO, one per primary, reads as one Redis: sums, the last restart, how many shards")
    func clusterInfo() {
        let shards = [
            "redis_version:7.0.15\r\nuptime_in_seconds:500\r\nused_memory:100\r\nmaxmemory:1000\r\nconnected_clients:4\r\ntotal_commands_processed:10\r\n",
            "redis_version:7.0.15\r\nuptime_in_seconds:20\r\nused_memory:200\r\nmaxmemory:1000\r\nconnected_clients:5\r\ntotal_commands_processed:30\r\n",
        ].map(StatusReadings.parseInfo)
        let combined = StatusReadings.combine(shards)
        #expect(combined["used_memory"] == "300" && combined["maxmemory"] == "2000")
        #expect(combined["connected_clients"] == "9" && combined["total_commands_processed"] == "40")
        #expect(
            combined["uptime_in_seconds"] == "20" && combined["redis_version"] == "7.0.15" && combined["shards"] == "2")
        #expect(StatusReadings.combine([StatusReadings.parseInfo("used_memory:7\r\n")])["used_memory"] == "7")
        #expect(StatusReadings.combine([]).isEmpty)
    }

    @Test("announcements carry the operations port; later options are skipped, bad ones refused")
    func announcements() throws {
        let full = try #require(
            NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 10.0.0.5:8081 irc=10.0.0.5:6668 ops=10.0.0.5:9101"))
        #expect(full.endpoint.operations?.description == "10.0.0.5:9101")
        #expect(full.endpoint.irc?.description == "10.0.0.5:6668")
        let reordered = try #require(
            NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 10.0.0.5:8081 ops=10.0.0.5:9101 irc=10.0.0.5:6668 draining")
        )
        #expect(reordered.draining)
        #expect(reordered.endpoint == full.endpoint)
        let future = try #require(NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 10.0.0.5:8081 zone=eu-1"))
        #expect(future.endpoint.operations == nil && future.endpoint.irc == nil)
        // A bad operations address is ignored: the node still gets clients.
        #expect(
            NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 10.0.0.5:8081 ops=10.0.0.5:0")?.endpoint.operations == nil)
        #expect(
            NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 10.0.0.5:8081 ops=nonsense")?.endpoint.chat.port == 7001)
        #expect(NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 10.0.0.5:8081 irc=nonsense") == nil)
        #expect(NodeWatcher.parseAnnouncement("node=1 10.0.0.5:7001 10.0.0.5:8081")?.endpoint.name == "node=1")
        #expect(NodeWatcher.parseAnnouncement("n1 10.0.0.5:7001 ops=10.0.0.5:9101") == nil)
    }

    @Test("a fixed node may name its operations port: HOST:PORT/HTTPPORT/OPSPORT")
    func fixedNodes() throws {
        let node = try NodeEndpoint(parsing: "10.0.0.7:7001/8081/9101")
        #expect(node.operations?.description == "10.0.0.7:9101")
        #expect(try NodeEndpoint(parsing: "10.0.0.7:7001/8081").operations == nil)
        #expect(try NodeEndpoint(parsing: "10.0.0.7:7001").http.port == 8081)
        #expect(throws: BalancerConfigurationError.self) { try NodeEndpoint(parsing: "10.0.0.7:7001/8081/0") }
        #expect(throws: BalancerConfigurationError.self) { try NodeEndpoint(parsing: "10.0.0.7:7001/8081/x") }
        #expect(throws: BalancerConfigurationError.self) { try NodeEndpoint(parsing: "10.0.0.7:7001//9101") }
    }
}
