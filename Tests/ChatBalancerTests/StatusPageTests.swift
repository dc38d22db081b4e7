import ChatTestSupport
import Foundation
import Testing

@testable import ChatBalancer

#if canImport(Glibc)
import Glibc
#endif

/// The balancer's status page in a real headless Chromium against Redis, two nodes and the balancer, while
/// chat-bench sends a known load; and the Grafana dashboard's queries against what the processes export.
@Suite("The status page and the dashboards", .serialized)
struct StatusPageTests {
    /// The sum of `name` over a node's /metrics now.
    func metric(_ node: NodeProcess, _ name: String) throws -> Double {
        let body = try HTTPGet.get(port: node.opsPort, path: "/metrics").body
        return try #require(PrometheusText(body).total(name), "\(name) missing from \(node.id)'s /metrics")
    }

    func value(_ browser: WebDriver, _ css: String) throws -> Double? {
        let script = "const e = document.querySelector(\(Self.jsString(css))); return e ? e.dataset.value : null"
        guard let text = try browser.execute(script) as? String else { return nil }
        return Double(text)
    }

    static func jsString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    @Test(
        "it shows what the nodes' /metrics say under a known load, a killed node as down within 2 s, at desktop and phone width"
    )
    func liveFigures() throws {
        let setup = try BalancedCluster(nodes: 2)
        let browser = try WebDriver(logDirectory: setup.cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(setup.balancer.adminPort)/")
        for node in setup.cluster.nodes {
            try browser.waitForText("[data-node=\"\(node.id)\"] [data-field=\"state\"]") { $0.contains("up") }
        }
        try browser.waitForText("#redis-version") { $0.contains("7.") }
        try browser.waitForText("#redis-nodes") { $0 == "2 of 2 up" }

        // 20 clients in one room, 50 messages a second from 5 of them: each message reaches the 19 others.
        let bench = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat-bench",
            arguments: [
                "run", "--target", "127.0.0.1:\(setup.balancer.port)", "--clients", "20", "--rooms", "1", "--senders",
                "5",
                "--rate", "50", "--duration", "12",
            ],
            logDirectory: setup.cluster.logDirectory, name: "bench")
        defer { bench.stop() }
        // Every client connected and the sending steady.
        #expect(eventually(timeout: 20) { ((try? value(browser, "#cluster-clients")) ?? 0) == 20 })
        Thread.sleep(forTimeInterval: 3)

        // Clients: what the page says each node has is what the node says, read within the page's refresh.
        for node in setup.cluster.nodes {
            let connected = try metric(node, "chat_connections")
            #expect(
                eventually(timeout: 3) {
                    (try? value(browser, "[data-node=\"\(node.id)\"] [data-field=\"clients\"]")) == connected
                },
                "\(node.id) has \(connected) connections")
        }
        // Rates: measured from the nodes' counters over 3 s by the test, against the page's.
        let nodes = setup.cluster.nodes
        let started = Date()
        let inBefore = try nodes.map { try metric($0, "chat_messages_in_total") }
        let outBefore = try nodes.map { try metric($0, "chat_messages_out_total") }
        Thread.sleep(forTimeInterval: 3)
        let seconds = Date().timeIntervalSince(started)
        let inRates = try zip(nodes, inBefore).map { (try metric($0, "chat_messages_in_total") - $1) / seconds }
        let outRates = try zip(nodes, outBefore).map { (try metric($0, "chat_messages_out_total") - $1) / seconds }
        let messages = try #require(try value(browser, "#cluster-messages"))
        let deliveries = try #require(try value(browser, "#cluster-deliveries"))
        let measuredMessages = inRates.reduce(0, +)
        let measuredDeliveries = outRates.reduce(0, +)
        #expect(abs(measuredMessages - 50) < 12, "the load is 50 messages/s; the nodes counted \(measuredMessages)")
        #expect(
            abs(messages - measuredMessages) < 0.3 * measuredMessages,
            "page \(messages) msgs/s, nodes \(measuredMessages)")
        #expect(
            abs(deliveries - measuredDeliveries) < 0.3 * measuredDeliveries,
            "page \(deliveries)/s, nodes \(measuredDeliveries)")
        #expect(measuredDeliveries > 15 * measuredMessages, "each message reaches 19 people")
        for (node, rate) in zip(nodes, outRates) {
            let shown = try #require(try value(browser, "[data-node=\"\(node.id)\"] [data-field=\"messagesOut\"]"))
            #expect(abs(shown - rate) < 0.35 * rate + 5, "\(node.id): page \(shown)/s, node \(rate)/s")
        }
        #expect((try value(browser, "[data-node=\"n1\"] [data-field=\"memory\"]")) ?? 0 > 1_000_000)
        #expect((try value(browser, "#redis-commands")) ?? 0 > 50, "every message is at least one Redis command")

        let artifacts = TestEnvironment.packageDirectory + "/.build/test-artifacts"
        try browser.resize(width: 1280, height: 900)
        try browser.screenshot(to: artifacts + "/status-page.png")
        try browser.resize(width: 390, height: 844)
        Thread.sleep(forTimeInterval: 0.5)
        try browser.screenshot(to: artifacts + "/status-page-phone.png")
        let overflow = try browser.execute("return document.documentElement.scrollWidth - window.innerWidth") as? Int
        #expect(overflow ?? 1 <= 0, "nothing wider than a phone's screen (\(String(describing: overflow)) px too wide)")
        try browser.resize(width: 1280, height: 900)

        // kill -9: the page says so within 2 s.
        let victim = setup.cluster[0]
        let killed = Date()
        victim.kill9()
        try browser.waitForText("[data-node=\"\(victim.id)\"] [data-field=\"state\"]", timeout: 2) {
            $0.contains("down")
        }
        let noticed = Date().timeIntervalSince(killed)
        #expect(noticed <= 2, "shown as down after \(noticed) s")
        try browser.waitForText("#problem") { $0.contains("down") }
        let log = browser.consoleLog()
        #expect(!log.contains("SEVERE"), "\(log)")
    }

    @Test(
        "the page says so when Redis cannot be read, when the nodes reconnected to it, and when the balancer stops answering"
    )
    func unreachableParts() throws {
        let setup = try BalancedCluster(nodes: 1)
        let browser = try WebDriver(logDirectory: setup.cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(setup.balancer.adminPort)/")
        try browser.waitForText("#redis-version") { $0.contains("7.") }
        setup.cluster.redis.kill()
        try browser.waitForText("#problem", timeout: 5) { $0.contains("Redis") }
        // Back: the nodes reconnect, and the page says how long ago that was (the restart the nodes saw).
        try setup.cluster.redis.start()
        try browser.waitForText("#redis-reconnect", timeout: 20) { $0.hasSuffix("ago") }
        try browser.waitForText("#redis-state") { $0 == "reachable" }
        setup.balancer.process.signal(SIGKILL)
        try browser.waitForText("#problem", timeout: 5) { $0.contains("balancer") }
    }

    @Test("a node shut down gracefully leaves the page; one killed stays, as down, without figures")
    func departures() throws {
        let setup = try BalancedCluster(nodes: 3)
        func status() -> [String: Any] {
            let body = (try? HTTPGet.get(port: setup.balancer.adminPort, path: "/status").body) ?? "{}"
            return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
        func nodes() -> [String: [String: Any]] {
            let list = status()["nodes"] as? [[String: Any]] ?? []
            return Dictionary(list.map { ($0["node"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        }
        #expect(eventually(timeout: 5) { nodes().values.filter { $0["reachable"] as? Bool == true }.count == 3 })
        setup.cluster[1].terminate()
        setup.cluster[2].kill9()
        #expect(eventually(timeout: 10) { nodes()["n2"] == nil }, "drained and gone: \(nodes().keys.sorted())")
        let killed = try #require(nodes()["n3"])
        #expect(killed["state"] as? String == "down")
        #expect(killed["reachable"] as? Bool == false)
        #expect(killed["clients"] is NSNull)
        let cluster = status()["cluster"] as? [String: Any] ?? [:]
        #expect(cluster["nodes"] as? Int == 2 && cluster["nodesUp"] as? Int == 1, "\(cluster)")
    }

    /// Every metric name a dashboard query uses, and what the processes export: read from a real node's and a real
    /// balancer's /metrics, so metrics added at scrape time (process_*, balancer_redis_*) count too.
    @Test("every query in the Grafana dashboard names a metric the node or the balancer exports")
    func dashboardQueries() throws {
        let setup = try BalancedCluster(nodes: 1)
        // Redis's figures appear once the balancer has read INFO (within a second).
        #expect(
            eventually(timeout: 5) {
                (try? HTTPGet.get(port: setup.balancer.adminPort, path: "/metrics").body.contains(
                    "balancer_redis_memory_used_bytes")) == true
            })
        var exported = Set<String>()
        for body in [
            try HTTPGet.get(port: setup.cluster[0].opsPort, path: "/metrics").body,
            try HTTPGet.get(port: setup.balancer.adminPort, path: "/metrics").body,
        ] {
            for sample in PrometheusText(body).samples { exported.insert(String(sample.name)) }
        }
        #expect(exported.contains("chat_fanout_latency_seconds_bucket"))
        #expect(exported.contains("process_cpu_seconds_total"))
        #expect(exported.contains("balancer_redis_memory_used_bytes"))
        #expect(exported.contains("chat_node_info"))

        let root = TestEnvironment.packageDirectory
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: root + "/deploy/grafana/dashboards/chat-cluster.json")))
        var expressions: [String] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, inner) in object {
                    if key == "expr", let text = inner as? String { expressions.append(text) } else { walk(inner) }
                }
            } else if let array = value as? [Any] {
                for inner in array { walk(inner) }
            }
        }
        walk(dashboard)
        #expect(expressions.count >= 12, "the page's panels: \(expressions.count) queries")
        let name = try Regex("(chat|balancer|process)_[a-z_]+")
        var used = Set<String>()
        for expression in expressions {
            for match in expression.matches(of: name) { used.insert(String(expression[match.range])) }
        }
        #expect(!used.isEmpty)
        let missing = used.subtracting(exported).sorted()
        #expect(missing.isEmpty, "queried but not exported: \(missing)")

        // Prometheus scrapes the ports compose gives the nodes' operations and the balancer's admin.
        let scrape = try String(contentsOfFile: root + "/deploy/prometheus/prometheus.yml", encoding: .utf8)
        #expect(scrape.contains("9101") && scrape.contains("balancer:9000"))
    }
}
