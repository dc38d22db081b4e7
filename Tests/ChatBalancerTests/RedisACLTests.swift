import ChatTestSupport
import Foundation
import Testing

/// Nodes and the balancer work as Redis ACL users that may do only what they need: the nodes the chat's keys and
/// channels without the dangerous commands, the balancer only the discovery keys. (docs/security.md has the lines.)
@Suite("Redis with ACL users", .serialized)
struct RedisACLTests {
    /// The ACL rules docs/security.md recommends.
    static let nodeRules = ["on", ">node-secret", "~chat:*", "&chat:*", "+@all", "-@dangerous", "+info"]
    static let balancerRules = ["on", ">lb-secret", "~chat:endpoint*", "resetchannels", "+smembers", "+mget", "+srem", "+ping", "+select"]

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
        #expect(eventually(timeout: 10) { (try? balancer.nodes().count) == 2 }, "\(balancer.process.stderr().suffix(1500))")
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
        #expect(try redis.cli(asBalancer + ["SET", "chat:endpoint:fake", "x"]).contains("NOPERM"), "cannot announce a node")
        #expect(try redis.cli(asBalancer + ["PUBLISH", "chat:room:dev", "x"]).contains("NOPERM"), "cannot speak in a room")
        #expect(try redis.cli(["PING"]).contains("NOAUTH") || redis.cli(["PING"]).contains("WRONGPASS"), "the default user is off")
    }
}
