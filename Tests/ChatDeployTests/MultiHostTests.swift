import ChatTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What compose would do, on one machine: Redis, two nodes and the balancer each on a host of its own (a network
/// namespace with its own address on a bridge), and clients on another. Nothing assumes 127.0.0.1.
@Suite(
    "Several hosts", .serialized,
    .enabled(if: TestNetwork.isSupported, "needs root and network namespaces; skipped where they cannot be created"))
struct MultiHostTests {
    @Test("clients on their own host chat across nodes; a node whose link is cut is dropped and its names expire")
    func multiHost() throws {
        let network = try TestNetwork()
        let logs = TestEnvironment.temporaryDirectory("multihost")
        let redisHost = try network.addHost("redis")
        let node1Host = try network.addHost("node1")
        _ = try network.addHost("node2")
        let balancerHost = try network.addHost("lb")
        _ = try network.addHost("clients")

        guard let redisServer = TestEnvironment.findExecutable("redis-server") else {
            throw HarnessError("redis-server is not installed (Debian package 'redis-server')")
        }
        let bin = TestEnvironment.binDirectory
        let redis = try network.start(
            "redis", redisServer,
            [
                "--bind", redisHost, "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no",
                "--dir", logs,
            ],
            logDirectory: logs, name: "redis")
        defer { redis.signal(SIGKILL) }
        // Nodes listen on every address and advertise their own, found from their interface.
        var nodeProcesses: [TestProcess] = []
        defer { for node in nodeProcesses { node.signal(SIGKILL) } }
        for name in ["node1", "node2"] {
            nodeProcesses.append(
                try network.start(
                    name, bin + "/chat-node",
                    [
                        "--host", "0.0.0.0", "--redis", "redis://\(redisHost):6379", "--node-id", name,
                        "--proxy-protocol",
                        "--claim-ttl", "3", "--trusted-proxies", balancerHost,
                    ],
                    logDirectory: logs, name: name))
        }
        let balancer = try network.start(
            "lb", bin + "/chat-balancer",
            ["--host", "0.0.0.0", "--admin-host", "0.0.0.0", "--redis", "redis://\(redisHost):6379", "--send-proxy"],
            logDirectory: logs, name: "balancer")
        defer { balancer.signal(SIGKILL) }

        /// The balancer's /nodes, read from the clients' host: "name@address" of the nodes in `states`.
        func nodes(_ states: Set<String>) -> [String] {
            let body =
                (try? network.within("clients") { try HTTPGet.get(host: balancerHost, port: 9000, path: "/nodes").body })
                ?? ""
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            return ((object?["nodes"] as? [[String: Any]]) ?? []).compactMap { node in
                states.contains(node["state"] as? String ?? "") ? "\(node["node"]!)@\(node["address"]!)" : nil
            }.sorted()
        }
        let ready = eventually(timeout: 20) { nodes(["up"]).count == 2 }
        #expect(
            ready,
            "balancer: \(balancer.stderr().suffix(1500))\nnode1: \(nodeProcesses.first?.stderr().suffix(1500) ?? "")")
        guard ready else { return }
        #expect(
            nodes(["up"]) == ["node1@\(node1Host):7001", "node2@\(network.address("node2")):7001"],
            "nodes advertise their own addresses")

        // Two people, one on each node, through the balancer.
        let (alice, bob) = try network.within("clients") { () -> (TestSocket, TestSocket) in
            (
                try TestSocket(host: balancerHost, port: 7000, name: "alice"),
                try TestSocket(host: balancerHost, port: 7000, name: "bob")
            )
        }
        let aliceNode = try alice.expect("this is swift-redis-chat node")
        let bobNode = try bob.expect("this is swift-redis-chat node")
        #expect(aliceNode != bobNode, "round-robin put them on different nodes")
        try alice.send("alice")
        try alice.expect("* welcome alice")
        try bob.send("bob")
        try bob.expect("* welcome bob")
        try alice.send("hello across hosts")
        try bob.expectLine("alice's message") { $0.hasSuffix("<alice> hello across hosts") }

        // Unplug the host of whoever is on node1.
        let (victim, survivor) = aliceNode.contains("node node1") ? ("alice", bob) : ("bob", alice)
        let cutAt = Date()
        try network.cut("node1")
        #expect(
            eventually(timeout: 2) { nodes(["up"]) == ["node2@\(network.address("node2")):7001"] },
            "node1 out of rotation within 2 s")
        // The victim's node can no longer heartbeat: within the claim TTL its name is free again and the room is told.
        try survivor.expectLine(
            "the leave notice", where: { $0.contains("\(victim) left #lobby (connection lost)") }, timeout: 3 + 5)
        let reclaimed = try network.within("clients") { try TestSocket(host: balancerHost, port: 7000, name: "again") }
        try reclaimed.expect("this is swift-redis-chat node node2")
        try reclaimed.send(victim)
        try reclaimed.expect("* welcome \(victim)")
        #expect(Date().timeIntervalSince(cutAt) < 3 + 5)
    }
}
