import ChatTestSupport
import Foundation
import Testing

/// Nodes and the balancer work as Redis ACL users that may do only what they need: the nodes the chat's keys and
/// channels without the dangerous commands, the balancer only the discovery keys. (docs/security.md has the lines.)
@Suite("Redis with ACL users", .serialized)
struct RedisACLTests {
    /// The ACL rules docs/security.md recommends.
    static let nodeRules = ["on", ">node-secret", "~chat:*", "&chat:*", "+@all", "-@dangerous", "+info"]
    static let balancerRules = [
        "on", ">lb-secret", "~chat:endpoint*", "~chat:network-bans", "resetchannels", "+smembers", "+get", "+hgetall",
        "+srem", "+ping",
        "+select", "+info", "+cluster|shards",
    ]

    @Test("a node and the balancer as restricted ACL users: people chat; the node's user cannot FLUSHALL or CONFIG")
    func restrictedUsers() throws {
        let cluster = try TestCluster(nodes: 0)
        let redis = cluster.redis
        _ = try redis.cli(["ACL", "SETUSER", "chat-node"] + Self.nodeRules)
        _ = try redis.cli(["ACL", "SETUSER", "chat-balancer"] + Self.balancerRules)
        let nodeURL = "redis://chat-node:node-secret@127.0.0.1:\(redis.port)"
        try cluster.addNode(id: "n1", extraArguments: ["--redis", nodeURL, "--proxy-protocol"])
        try cluster.addNode(id: "n2", extraArguments: ["--redis", nodeURL, "--proxy-protocol"])
        // The default user goes last: from here on, only the two users get in.
        _ = try redis.cli(["ACL", "SETUSER", "default", "off"])
        let balancer = try BalancerProcess(
            arguments: ["--redis", "redis://chat-balancer:lb-secret@127.0.0.1:\(redis.port)", "--send-proxy"],
            logDirectory: cluster.logDirectory)
        #expect(
            eventually(timeout: 10) { (try? balancer.nodes().count) == 2 }, "\(balancer.process.stderr().suffix(1500))")
        let (alice, aliceNode) = try balancer.login("alice")
        let (bob, bobNode) = try balancer.login("bob")
        #expect(aliceNode != bobNode)
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try alice.send("across nodes, as ACL users")
        _ = try bob.expectLine("alice's message") { $0.hasSuffix("<alice> across nodes, as ACL users") }

        let asNode = ["--user", "chat-node", "--pass", "node-secret", "--no-auth-warning"]
        #expect(try redis.cli(asNode + ["FLUSHALL"]).contains("NOPERM"))
        #expect(try redis.cli(asNode + ["CONFIG", "SET", "dir", "/tmp"]).contains("NOPERM"))
        #expect(try redis.cli(asNode + ["SET", "elsewhere", "1"]).contains("NOPERM"), "only the chat's keys")
        let asBalancer = ["--user", "chat-balancer", "--pass", "lb-secret", "--no-auth-warning"]
        #expect(
            try redis.cli(asBalancer + ["SET", "chat:endpoint:fake", "x"]).contains("NOPERM"), "cannot announce a node")
        #expect(
            try redis.cli(asBalancer + ["SPUBLISH", "chat:room:{dev}", "x"]).contains("NOPERM"),
            "cannot speak in a room")
        #expect(
            try redis.cli(asBalancer + ["GET", "chat:session:{alice}"]).contains("NOPERM"),
            "cannot read the chat's data")
        // INFO is all the status page needs of Redis, and the balancer's user has it.
        #expect(
            eventually(timeout: 5) {
                (try? HTTPGet.get(port: balancer.adminPort, path: "/status").body.contains(
                    #""reachable":true,"problem":null,"version":"#)) == true
            }, "the status page reads Redis as the balancer's user")
        #expect(
            try redis.cli(["PING"]).contains("NOAUTH") || redis.cli(["PING"]).contains("WRONGPASS"),
            "the default user is off")
    }

    @Test(
        "on a Redis Cluster, the same users: nodes chat across shards, the balancer discovers them and reads the slot map"
    )
    func restrictedUsersOnACluster() throws {
        let redis = try RedisClusterServers(primaries: 3)
        for port in redis.ports {
            _ = try redis.cli(["ACL", "SETUSER", "chat-node"] + Self.nodeRules, port: port)
            _ = try redis.cli(["ACL", "SETUSER", "chat-balancer"] + Self.balancerRules, port: port)
        }
        for port in redis.ports { _ = try redis.cli(["ACL", "SETUSER", "default", "off"], port: port) }
        let seeds = redis.seeds.joined(separator: ",")
        let nodes = try ["n1", "n2"].map { id in
            try NodeProcess(
                id: id, redisURL: "redis-cluster://chat-node:node-secret@\(seeds)", logDirectory: redis.directory,
                extraArguments: ["--proxy-protocol"])
        }
        let balancer = try BalancerProcess(
            arguments: ["--redis", "redis-cluster://chat-balancer:lb-secret@\(seeds)", "--send-proxy"],
            logDirectory: redis.directory)
        #expect(
            eventually(timeout: 10) { (try? balancer.nodes().count) == 2 }, "\(balancer.process.stderr().suffix(1500))")
        let (alice, aliceNode) = try balancer.login("alice")
        let (bob, bobNode) = try balancer.login("bob")
        #expect(aliceNode != bobNode)
        for room in ["dev", "ops", "ux"] {
            try alice.send("/join \(room)")
            try alice.expect("you joined #\(room)")
            try bob.send("/join \(room)")
            try bob.expect("you joined #\(room)")
            try alice.send("in \(room), as ACL users")
            _ = try bob.expectLine("alice's message in \(room)") { $0.hasSuffix("<alice> in \(room), as ACL users") }
        }
        let asBalancer = ["--user", "chat-balancer", "--pass", "lb-secret", "--no-auth-warning"]
        #expect(
            try redis.cli(asBalancer + ["GET", "chat:session:{alice}"]).contains("NOPERM"),
            "cannot read the chat's data")
        // The status page adds up every primary's INFO.
        #expect(
            eventually(timeout: 5) {
                let body = (try? HTTPGet.get(port: balancer.adminPort, path: "/status").body) ?? ""
                return body.contains(#""reachable":true"#) && body.contains(#""shards":3"#)
            }, "the status page reads every primary as the balancer's user")
        _ = nodes
    }

    @Test("a node whose Redis password is wrong stops at start and says why, instead of running unhealthy")
    func wrongPasswordStopsTheNode() throws {
        let redis = try RedisServer()
        _ = try redis.cli(["ACL", "SETUSER", "chat-node"] + Self.nodeRules)
        let node = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat-node",
            arguments: [
                "--host", "127.0.0.1", "--port", "0", "--http-port", "0", "--ops-port", "0",
                "--redis", "redis://chat-node:not-the-secret@127.0.0.1:\(redis.port)",
            ],
            logDirectory: redis.directory, name: "node-wrong-password")
        #expect(node.waitForExit(timeout: 15), "the node stopped")
        #expect(node.process.terminationStatus != 0)
        let said = node.stderr()
        #expect(said.contains("Redis refused this node") && said.contains("WRONGPASS"), "\(said.suffix(800))")
        #expect(!said.contains("not-the-secret"), "the password is not in the log")
    }

    @Test("nodes and the balancer reach Redis over TLS (rediss://); a node that does not trust its certificate stops")
    func redisOverTLS() throws {
        let certificates = try TestCertificates(directory: TestEnvironment.temporaryDirectory("redis-tls"))
        let redis = try RedisServer(tls: certificates)
        #expect(try redis.cli(["PING"]) == "PONG")
        let trusting = ["--redis", redis.url, "--redis-ca-file", certificates.caFile, "--proxy-protocol"]
        let cluster = try TestCluster(nodes: 0, redis: redis)
        try cluster.addNode(id: "n1", extraArguments: trusting)
        try cluster.addNode(id: "n2", extraArguments: trusting)
        let balancer = try BalancerProcess(
            arguments: ["--redis", redis.url, "--redis-ca-file", certificates.caFile, "--send-proxy"],
            logDirectory: cluster.logDirectory)
        #expect(
            eventually(timeout: 10) { (try? balancer.nodes().count) == 2 }, "\(balancer.process.stderr().suffix(1500))")
        let (alice, aliceNode) = try balancer.login("alice")
        let (bob, bobNode) = try balancer.login("bob")
        #expect(aliceNode != bobNode)
        try alice.send("through Redis over TLS")
        _ = try bob.expectLine("alice's message") { $0.hasSuffix("<alice> through Redis over TLS") }

        let untrusting = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat-node",
            arguments: [
                "--host", "127.0.0.1", "--port", "0", "--http-port", "0", "--ops-port", "0", "--redis", redis.url,
            ],
            logDirectory: redis.directory, name: "node-untrusting")
        #expect(untrusting.waitForExit(timeout: 15), "the node stopped")
        #expect(untrusting.stderr().contains("Redis refused this node"), "\(untrusting.stderr().suffix(800))")
    }
}
