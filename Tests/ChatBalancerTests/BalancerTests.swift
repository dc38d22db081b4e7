import ChatBench
import ChatCore
import ChatTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Balancer in front of the cluster", .serialized)
struct BalancerTests {
    @Test("30 clients land 10 per node, and a message from any of them reaches all")
    func roundRobin() throws {
        let setup = try BalancedCluster(nodes: 3)
        var clients: [TestSocket] = []
        var perNode: [String: Int] = [:]
        for index in 0..<30 {
            let (client, node) = try setup.balancer.login("user\(index)")
            clients.append(client)
            perNode[node, default: 0] += 1
        }
        #expect(perNode == ["n1": 10, "n2": 10, "n3": 10])
        let nodes = try setup.balancer.nodes()
        #expect(nodes.values.map(\.connected).sorted() == [10, 10, 10])
        for node in setup.cluster.nodes {
            let body = try node.health().body
            #expect(body.contains("\"clients\":10"), "\(node.id): \(body)")
        }
        _ = clients.map { $0.drain(timeout: 0.05) }
        try clients[7].send("hello everyone")
        for (index, client) in clients.enumerated() where index != 7 {
            try client.expectLine("the message") { $0.hasSuffix("<user7> hello everyone") }
        }
    }

    @Test("kill -9 of a node: new clients keep getting in, and it leaves the rotation within 2 s")
    func deadNode() throws {
        let setup = try BalancedCluster(nodes: 3)
        setup.cluster[1].kill9()
        let killedAt = Date()
        for index in 0..<9 {
            let (_, node) = try setup.balancer.login("after\(index)")
            #expect(node != "n2")
        }
        #expect(
            eventually(timeout: 2 - Date().timeIntervalSince(killedAt)) {
                let nodes = (try? setup.balancer.nodes()) ?? [:]
                return nodes["n2"] == nil || nodes["n2"]?.state == "down"
            })
    }

    @Test("a new node gets clients within 2 s of starting")
    func newNode() throws {
        let setup = try BalancedCluster(nodes: 2)
        let started = Date()
        try setup.cluster.addNode(id: "n3", extraArguments: ["--proxy-protocol"])
        var landed = false
        var held: [TestSocket] = []
        var index = 0
        while !landed, Date().timeIntervalSince(started) < 2 {
            let (client, node) = try setup.balancer.login("new\(index)")
            held.append(client)
            landed = node == "n3"
            index += 1
            usleep(50_000)
        }
        #expect(landed, "n3 got a client within 2 s of starting")
    }

    @Test("with --log-format json both servers write every log line as one JSON object a log pipeline can read")
    func jsonLogs() throws {
        let setup = try BalancedCluster(
            nodes: 1, nodeArguments: ["--log-format", "json"], balancerArguments: ["--log-format", "json"])
        let (client, _) = try setup.balancer.login("logged")
        try client.send("/quit")
        for (name, process) in [("node", setup.cluster[0].process), ("balancer", setup.balancer.process)] {
            #expect(eventually(timeout: 5) { process.stderr().contains("\"message\":\"listening\"") })
            let lines = process.stderr().split(separator: "\n")
            #expect(lines.count >= 2, "\(name): \(lines)")
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] is String && object?["message"] is String, "\(name): \(line)")
                #expect((object?["time"] as? String)?.hasSuffix("Z") == true, "\(name): \(line)")
            }
            let listening = lines.lazy.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["message"] as? String == "listening" }
            #expect(listening?["listen.chat"] is String, "metadata as fields of their own: \(listening ?? [:])")
        }
    }

    @Test(
        "the balancer's /health says its version and nodes; /readyz is 503 while it drains, /livez 200 throughout"
    )
    func balancerHealth() throws {
        let setup = try BalancedCluster(nodes: 1)
        let health = try HTTPGet.get(port: setup.balancer.adminPort, path: "/health")
        let object = try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any]
        #expect(health.status == 200)
        #expect(object?["version"] as? String == ChatVersion.number && object?["nodesUp"] as? Int == 1, "\(health)")
        #expect(try HTTPGet.get(port: setup.balancer.adminPort, path: "/readyz").body.hasPrefix("ready"))
        // A client still connected keeps the balancer draining after SIGTERM (up to --drain-seconds).
        let (held, _) = try setup.balancer.login("held")
        setup.balancer.terminate()
        #expect(
            eventually(timeout: 5) {
                (try? HTTPGet.get(port: setup.balancer.adminPort, path: "/readyz").body)?.hasPrefix(
                    "not ready: draining") == true
            })
        #expect(try HTTPGet.get(port: setup.balancer.adminPort, path: "/livez").status == 200)
        #expect(try HTTPGet.get(port: setup.balancer.adminPort, path: "/health").status == 503)
        try held.send("/quit")
    }

    @Test("SIGTERM on a node: the balancer stops sending it clients before it closes, and nobody is refused")
    func drainingNode() throws {
        let setup = try BalancedCluster(nodes: 3)
        let (resident, residentNode) = try setup.balancer.login("resident")
        let draining = setup.cluster.nodes.first { $0.id == residentNode }!
        draining.terminate()
        // Out of a Kubernetes Service's endpoints as out of discovery, and alive the while.
        #expect(
            eventually(timeout: 0.8) {
                (try? HTTPGet.get(port: draining.opsPort, path: "/readyz").body)?.hasPrefix("not ready: draining")
                    == true
            })
        #expect((try? HTTPGet.get(port: draining.opsPort, path: "/livez").status) == 200)
        try resident.expect("! server-shutdown")
        var landedOnDraining = 0
        for index in 0..<15 {
            let (_, node) = try setup.balancer.login("during\(index)")
            if node == residentNode { landedOnDraining += 1 }
            usleep(50_000)
        }
        // The node withdraws from discovery and keeps accepting 1 s; the balancer reads discovery every 250 ms.
        #expect(landedOnDraining <= 1, "\(landedOnDraining) clients landed on the draining node")
        #expect(draining.process.waitForExit(timeout: 10))
    }

    @Test("the node sees the real client address through the PROXY header, and refuses connections without one")
    func proxyProtocol() throws {
        let setup = try BalancedCluster(nodes: 1)
        let (client, _) = try setup.balancer.login("proxied")
        let port = client.localPort
        #expect(setup.cluster[0].process.stderr().contains("client.address=127.0.0.1:\(port) "))
        try client.send("/seen proxied")
        try client.expect("proxied is online now")

        let direct = try setup.cluster[0].connect("direct")
        try direct.send("no header here")
        #expect(direct.waitForClose())
        #expect(direct.received.isEmpty)
        #expect(
            eventually(timeout: 2) {
                setup.cluster[0].process.stderr().contains("rejected a connection without a valid PROXY header")
            })
    }

    @Test("the per-address limit counts the real client, not the balancer")
    func perAddressLimit() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--proxy-protocol", "--max-clients-per-address", "2"])
        let balancer = try BalancerProcess(
            arguments: ["--redis", cluster.redis.url, "--send-proxy"], logDirectory: cluster.logDirectory)
        #expect(eventually(timeout: 5) { (try? balancer.nodes().count) == 1 })
        let first = try balancer.login("one").client
        let second = try balancer.login("two").client
        let third = try balancer.connect("three")
        try third.expect("! too-many-connections too many connections from 127.0.0.1")
        #expect(third.waitForClose())
        first.close()
        #expect(eventually(timeout: 3) { (try? balancer.login("four")) != nil })
        second.close()
    }

    @Test("a client that writes and half-closes at once still has every line handled")
    func immediateHalfClose() throws {
        let setup = try BalancedCluster(nodes: 2)
        let (listener, _) = try setup.balancer.login("listener")
        let script = try setup.balancer.connect("script")
        try script.send("scripted")
        try script.send("hello from a script")
        script.shutdownWrite()
        try listener.expectLine("the scripted message") { $0.hasSuffix("<scripted> hello from a script") }
        try listener.expect("scripted left #lobby (disconnected)")
        #expect(script.waitForClose())
    }

    @Test("a Redis restart does not empty the balancer: clients keep landing on nodes")
    func redisRestart() throws {
        let setup = try BalancedCluster(nodes: 2)
        setup.cluster.redis.kill()
        usleep(500_000)
        try setup.cluster.redis.start()
        let started = Date()
        var refused: [String] = []
        while Date().timeIntervalSince(started) < 3 {
            let client = try setup.balancer.connect()
            let first = client.readLine(timeout: 3) ?? "(nothing)"
            if !first.contains("this is swift-redis-chat node") { refused.append(first) }
            client.close()
            usleep(100_000)
        }
        #expect(refused.isEmpty, "\(refused)")
        #expect(eventually(timeout: 3) { (try? setup.balancer.login("after-restart")) != nil })
    }

    @Test("HTTP through the balancer reaches a node's page, never its /health or /metrics")
    func httpSide() throws {
        let setup = try BalancedCluster(nodes: 2)
        let page = try HTTPGet.get(port: setup.balancer.httpPort, path: "/")
        #expect(page.status == 200 && page.body.contains("<html"))
        #expect(try HTTPGet.get(port: setup.balancer.httpPort, path: "/health").status == 404)
        #expect(try HTTPGet.get(port: setup.balancer.httpPort, path: "/metrics").status == 404)
    }

    @Test("listening on every address, the balancer still keeps /nodes and /metrics on loopback")
    func adminOnLoopback() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--proxy-protocol"])
        let balancer = try BalancerProcess(
            arguments: ["--redis", cluster.redis.url, "--send-proxy", "--host", "0.0.0.0"],
            logDirectory: cluster.logDirectory)
        let line = balancer.process.stdout()
        #expect(line.contains("chat=0.0.0.0:") && line.contains("admin=127.0.0.1:"), "\(line)")
    }

    @Test("one address holds at most its share of the balancer's connections, chat and HTTP together")
    func balancerPerAddressLimit() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--proxy-protocol"])
        let balancer = try BalancerProcess(
            arguments: ["--redis", cluster.redis.url, "--send-proxy", "--max-connections-per-address", "3"],
            logDirectory: cluster.logDirectory)
        #expect(eventually(timeout: 5) { (try? balancer.nodes().count) == 1 })
        let held = try (0..<2).map { try balancer.login("held\($0)").client }
        let web = try TestSocket(port: balancer.httpPort, name: "keep-alive http")
        try web.sendRaw(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        _ = try web.expectLine("the page") { $0.contains("200") }
        let refused = try balancer.connect("fourth")
        _ = try refused.expectLine("the refusal") { $0.hasPrefix("! too-many-connections") }
        #expect(refused.waitForClose())
        web.close()
        #expect(eventually(timeout: 3) { (try? balancer.login("after")) != nil }, "a slot comes free with a close")
        for client in held { client.close() }
    }

    @Test("an address that opens connections too fast is told so; one at the sustained rate is not")
    func balancerConnectRate() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--proxy-protocol"])
        let balancer = try BalancerProcess(
            arguments: ["--redis", cluster.redis.url, "--send-proxy", "--connect-rate-per-address", "5,10"],
            logDirectory: cluster.logDirectory)
        #expect(eventually(timeout: 5) { (try? balancer.nodes().count) == 1 })
        // Twenty connect-and-close at once: the burst (10) gets through, the rest are refused at the balancer.
        var refused = 0
        for index in 0..<20 {
            let client = try balancer.connect("storm \(index)")
            if let line = client.readLine(timeout: 2), line.hasPrefix("! too-many-connections too many new connections")
            {
                refused += 1
            }
            client.close()
        }
        #expect((9...11).contains(refused), "\(refused) of 20 refused")
        // At the sustained rate, every one gets through.
        Thread.sleep(forTimeInterval: 2.2)
        for index in 0..<5 {
            let client = try balancer.connect("paced \(index)")
            try client.expect("what is your name")
            client.close()
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    @Test("a WebSocket through the balancer counts and logs as its real client, by the PROXY header on the HTTP side")
    func webSocketRealAddress() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--proxy-protocol", "--max-clients-per-address", "1"])
        let balancer = try BalancerProcess(
            arguments: ["--redis", cluster.redis.url, "--send-proxy"], logDirectory: cluster.logDirectory)
        #expect(eventually(timeout: 5) { (try? balancer.nodes().count) == 1 })
        let first = try TestWebSocket(port: balancer.httpPort)
        try first.sendText(#"{"op":"hello","name":"webby"}"#)
        _ = try first.expectEvent(type: "welcome")
        // The node logs the session at the browser's own address and port, which only the PROXY header told it.
        let clientAddress = "127.0.0.1:\(first.socket.localPort)"
        #expect(
            eventually(timeout: 2) {
                cluster[0].process.stderr().contains("session.name=webby")
                    && cluster[0].process.stderr().contains(clientAddress)
            })
        let second = try TestWebSocket(port: balancer.httpPort)
        let refusal = try second.expectEvent(type: "error")
        #expect(refusal["code"] as? String == "too-many-connections")
        #expect(
            (refusal["message"] as? String ?? "").contains("127.0.0.1"),
            "counted by the client's address, not the balancer's")
    }
}

@Suite("Balancer on its own", .serialized)
struct BalancerEdgeTests {
    @Test("with no node up, a client gets one line, no-node-available, and is closed")
    func noNode() throws {
        let directory = TestEnvironment.temporaryDirectory("balancer")
        let deadPort = try TestEnvironment.freePort()
        let balancer = try BalancerProcess(
            arguments: ["--nodes", "127.0.0.1:\(deadPort)/\(deadPort)"], logDirectory: directory)
        let client = try balancer.connect()
        try client.expect("! no-node-available")
        #expect(client.waitForClose())
    }

    @Test("a client that stops reading does not make the balancer's memory grow")
    func slowReaderBoundedMemory() throws {
        let firehose = try Firehose()
        let directory = TestEnvironment.temporaryDirectory("balancer")
        let balancer = try BalancerProcess(
            arguments: ["--nodes", "127.0.0.1:\(firehose.port)/\(firehose.port)"], logDirectory: directory)
        let before = balancer.residentKiB
        let client = try balancer.connect("sleeper", receiveBuffer: 65536)
        // The node side would send 512 MiB if it could.
        usleep(3_000_000)
        let after = balancer.residentKiB
        let sent = firehose.sent
        #expect(after - before < 32 * 1024, "balancer grew by \(after - before) KiB")
        #expect(sent < 64 << 20, "backpressure held the sender to \(sent) bytes")
        client.close()
    }

    @Test("bad command lines get clear errors")
    func badArguments() throws {
        let directory = TestEnvironment.temporaryDirectory("balancer")
        for (arguments, message) in [
            (["--nodes", "nonsense"], "is not HOST:PORT"),
            ([String](), "--nodes HOST:PORT"),
            (["--nodes", "127.0.0.1:7001", "--redis", "redis://127.0.0.1"], "not both"),
        ] {
            let process = try TestProcess(
                executable: TestEnvironment.binDirectory + "/chat-balancer", arguments: arguments,
                logDirectory: directory, name: "bad")
            #expect(process.waitForExit(timeout: 10))
            #expect(process.process.terminationStatus != 0)
            #expect(process.stderr().contains(message), "\(arguments): \(process.stderr())")
        }
    }

    @Test("a port in use is a clear error, not a hang")
    func portInUse() throws {
        let directory = TestEnvironment.temporaryDirectory("balancer")
        let first = try BalancerProcess(arguments: ["--nodes", "127.0.0.1:1"], logDirectory: directory, name: "first")
        let process = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat-balancer",
            arguments: ["--host", "127.0.0.1", "--port", String(first.port), "--nodes", "127.0.0.1:1"],
            logDirectory: directory, name: "second")
        #expect(process.waitForExit(timeout: 10))
        #expect(process.process.terminationStatus != 0)
        #expect(process.stderr().contains("cannot listen"))
    }

    @Test("SIGTERM: no new connections, open ones carry on, then it exits")
    func gracefulShutdown() throws {
        let setup = try BalancedCluster(nodes: 1)
        let (client, _) = try setup.balancer.login("stayer")
        setup.balancer.terminate()
        #expect(eventually(timeout: 3) { !TestSocket.canConnect(port: setup.balancer.port) })
        try client.send("/who")
        try client.expect("1 person in #lobby")
        #expect(setup.balancer.process.isRunning)
        client.close()
        #expect(setup.balancer.process.waitForExit(timeout: 5))
    }
}

/// A backend that writes as fast as the connection takes, counting what it managed to send.
final class Firehose: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let counter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add(_ bytes: Int) {
            lock.lock()
            value += bytes
            lock.unlock()
        }
        var total: Int {
            lock.lock()
            defer { lock.unlock() }
            return value
        }
    }

    var sent: Int { counter.total }

    init() throws {
        port = try TestEnvironment.freePort()
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw HarnessError("firehose cannot listen") }
        let server = listener
        let counter = self.counter
        let thread = Thread {
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
            while true {
                let connection = accept(server, nil, nil)
                guard connection >= 0 else { return }
                // Probes connect and leave; the client connection is the one that stays.
                var total = 0
                while total < 512 << 20 {
                    let written = chunk.withUnsafeBytes {
                        send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    if written <= 0 { break }
                    total += written
                    counter.add(written)
                }
                close(connection)
            }
        }
        thread.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

@Suite("chat-bench against a real cluster", .serialized)
struct BenchToolTests {
    @Test("it connects its clients, sends at the asked rate, and counts every delivery")
    func smallRun() throws {
        let setup = try BalancedCluster(nodes: 2)
        let directory = setup.cluster.logDirectory
        let nodePids = setup.cluster.nodes.map { "\($0.id)=\($0.process.pid)" }.joined(separator: ",")
        let bench = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat-bench",
            arguments: [
                "--target", "127.0.0.1:\(setup.balancer.port)", "--clients", "20", "--rooms", "2", "--senders", "4",
                "--rate", "20", "--duration", "2", "--measure", nodePids,
            ],
            logDirectory: directory, name: "bench")
        #expect(bench.waitForExit(timeout: 60))
        #expect(bench.process.terminationStatus == 0, "\(bench.stderr())")
        let table = bench.stdout()
        // 20 clients in 2 rooms: each message reaches the 9 others in its room.
        let row = table.split(separator: "\n").first { $0.hasPrefix("| 20 | 2 |") } ?? ""
        let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(cells.count >= 11, "\(table)")
        let counts =
            cells.count > 3
            ? cells[3].split(separator: "/").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 } : []
        #expect(counts.count == 2 && counts[0] == counts[1] && counts[0] > 0, "delivered / expected: \(row)")
        #expect(table.contains("| n1 |") && table.contains("| n2 |"))
        #expect(!table.contains("lost:"))
    }

    /// Runs chat-bench against `setup` and returns its stdout, expecting success.
    func bench(_ setup: BalancedCluster, _ arguments: [String], name: String) throws -> String {
        let bench = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat-bench",
            arguments: ["run", "--target", "127.0.0.1:\(setup.balancer.port)"] + arguments,
            logDirectory: setup.cluster.logDirectory, name: name)
        #expect(bench.waitForExit(timeout: 60))
        #expect(bench.process.terminationStatus == 0, "\(bench.stderr())")
        return bench.stdout()
    }

    @Test("text-mode clients, the flood and the connect storm measure what they say, and the report shows it")
    func otherScenarios() throws {
        let setup = try BalancedCluster(nodes: 2)
        let records = setup.cluster.logDirectory + "/records.jsonl"
        let text = try bench(
            setup,
            [
                "--mode", "text", "--clients", "10", "--senders", "2", "--rate", "10", "--duration", "1",
                "--record", records, "--group", "clients",
            ], name: "bench-text")
        let row = text.split(separator: "\n").first { $0.hasPrefix("| 10 | 1 |") } ?? ""
        let counts = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(
            counts.count > 3
                && counts[3].split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }.count == 2, "\(text)"
        )
        #expect(!text.contains("lost:"), "\(text)")

        // Every flood message is acknowledged (own copy back) and reaches the other person in its room.
        let flood = try bench(
            setup,
            [
                "--scenario", "flood", "--clients", "4", "--rooms", "2", "--duration", "1",
                "--record", records, "--group", "flood",
            ], name: "bench-flood")
        #expect(!flood.contains("lost:") && !flood.contains("| 4 | 2 | 0 |"), "\(flood)")

        let storm = try bench(
            setup, ["--scenario", "connect-storm", "--clients", "50", "--record", records, "--group", "storm"],
            name: "bench-storm")
        #expect(storm.contains("| 50 |"), "\(storm)")

        let report = BenchmarkReport(records: try BenchmarkReport.load(jsonLines: records)).markdown(
            plotDirectory: "bench")
        #expect(report.contains("### Latency against clients"), "\(report)")
        #expect(
            report.contains("### Connect storm") && report.contains("### Messages one node gets into Redis"),
            "\(report)")
        #expect(
            report.contains("    chat-bench run --target 127.0.0.1:\(setup.balancer.port) --mode text"),
            "the command is shown: \(report)")
    }
}
