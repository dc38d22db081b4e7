import ChatTestSupport
import Foundation
import Testing

/// `--ack-replicas`: a sender is told its message is sent only once Redis's replicas have it, on a real Sentinel
/// deployment (a primary, a replica, three sentinels) whose replica is stopped and whose primary is then killed.
@Suite("acknowledgements that survive a failover (--ack-replicas)", .serialized)
struct ReplicaAcknowledgementTests {
    /// Says `text` in the lobby (as a JSON client); returns the codes of the errors that came with its
    /// acknowledgement.
    static func say(_ client: TestSocket, _ text: String) throws -> [String] {
        try client.sendJSON(["op": "say", "room": "lobby", "text": text, "id": text])
        _ = try client.expectEvent("the acknowledgement of \(text)") {
            $0["type"] as? String == "message" && $0["id"] as? String == text
        }
        return client.drain(timeout: 0.8).compactMap(TestSocket.json).filter {
            $0["type"] as? String == "error" && $0["id"] as? String == text
        }.compactMap { $0["code"] as? String }
    }

    @Test(
        "without --ack-replicas a message the primary acknowledged is lost when it dies before its replica has it; with it, that message's sender is warned (unconfirmed) and every message acknowledged without a warning survives the failover"
    )
    func acknowledgedMessagesSurviveFailover() throws {
        let redis = try RedisSentinelServers(replicas: 1)
        let primary = redis.dataPorts[0]
        let replica = redis.dataPorts[1]
        let plain = try NodeProcess(id: "plain", redisURL: redis.url, logDirectory: redis.directory)
        let acknowledged = try NodeProcess(
            id: "acked", redisURL: redis.url, logDirectory: redis.directory,
            extraArguments: ["--ack-replicas", "1", "--ack-timeout-ms", "300"])
        let alice = try plain.loginJSON("alice")
        let bob = try acknowledged.loginJSON("bob")

        // Replicated at once: no warning for either.
        #expect(try Self.say(alice, "plain-before") == [])
        #expect(try Self.say(bob, "acked-before") == [])

        // The replica stops and its link is cut (a hung machine): the primary still answers. (Stopped alone, the
        // replica would still find what the primary sent meanwhile in its socket's buffer when it carries on.)
        redis.pause(replica)
        try redis.cli(["CLIENT", "KILL", "TYPE", "replica"], port: primary)
        let asked = Date()
        #expect(try Self.say(alice, "plain-lost") == [], "acknowledged as usual: the primary has it")
        #expect(try Self.say(bob, "acked-warned") == ["unconfirmed"])
        #expect(Date().timeIntervalSince(asked) < 4)

        // The primary dies before the replica has them; the replica comes back and is promoted.
        redis.kill(primary)
        redis.resume(replica)
        #expect(eventually(timeout: 30, interval: 0.2) { (try? redis.primaryPort()) == replica })
        let history = try redis.cli(["XRANGE", "chat:history:{lobby}", "-", "+"], port: replica)
        #expect(history.contains("plain-before") && history.contains("acked-before"))
        // The reproduction: told it was sent, and gone.
        #expect(!history.contains("plain-lost"), "without WAIT the acknowledged message is lost with its primary")
        // Gone too, but its sender was told it might be.
        #expect(!history.contains("acked-warned"))

        // Once the nodes follow the new primary, messages flow again; with no replica left to confirm them (the
        // old primary is dead), each comes with its warning rather than not at all.
        #expect(
            eventually(timeout: 20, interval: 0.5) {
                (try? Self.say(bob, "acked-after-\(UUID().uuidString.prefix(4))")) == ["unconfirmed"]
            })
        _ = (plain, acknowledged, alice)
    }

    @Test(
        "on a Redis Cluster the wait goes to the shard that stored the message: its replica stopped, that room's senders are warned (JSON, text and IRC each in its way); back, they are not"
    )
    func clusterShardReplica() throws {
        let cluster = try RedisClusterServers(primaries: 3, replicasPerPrimary: 1)
        let node = try NodeProcess(
            id: "acked", redisURL: cluster.url, logDirectory: cluster.directory,
            extraArguments: ["--ack-replicas", "1", "--ack-timeout-ms", "300", "--irc-port", "0"])
        let bob = try node.loginJSON("bob")
        let carol = try node.login("carol")
        let dave = try node.ircLogin("dave", capabilities: ["echo-message"])
        try dave.send("JOIN #lobby")
        _ = try dave.expectLine("dave's NAMES") { $0.contains(" 366 dave #lobby ") }
        #expect(try Self.say(bob, "replicated") == [])
        let shard = try #require(try cluster.primaryPort(forKey: "chat:history:{lobby}"))
        let replica = try #require(try cluster.replicaPorts(ofPrimary: shard).first)
        cluster.pause(replica)
        #expect(try Self.say(bob, "replica-stopped") == ["unconfirmed"])
        try carol.send("typed while the replica is stopped")
        _ = try carol.expectLine("carol's warning") { $0.hasPrefix("! unconfirmed ") }
        try dave.send("PRIVMSG #lobby :from IRC while the replica is stopped")
        _ = try dave.expectLine("dave's echo") { $0.contains("PRIVMSG #lobby :from IRC") }
        _ = try dave.expectLine("dave's warning") { $0.contains(" NOTICE dave :unconfirmed: ") }
        cluster.resume(replica)
        #expect(
            eventually(timeout: 10, interval: 0.3) { (try? Self.say(bob, "back-\(UUID().uuidString.prefix(4))")) == [] }
        )
        _ = (node, carol, dave)
    }
}
