import ChatTestSupport
import Logging
import NIOPosix
import RedisClient
import Testing

/// The Redis Cluster groundwork, checked against real cluster-enabled redis-server processes: slots computed as
/// Redis computes them, and the slot map read from a real cluster's `CLUSTER SHARDS`.
@Suite("Redis Cluster slots and shards", .serialized)
struct RedisClusterMapTests {
    @Test("hash slots match Redis's own CLUSTER KEYSLOT, hash tags included")
    func slotsMatchRedis() throws {
        let cluster = try RedisClusterServers(primaries: 3)
        let keys = [
            "", "a", "foo", "chat:history:{dev}", "chat:topic:{dev}", "chat:room:{dev}", "{dev}", "{}", "{}x", "x{}y",
            "{a}{b}", "a{b", "a}b{c}", "{{x}}", "chat:session:alice", "chat:endpoints", "ü{ñ}", "\u{1F600}",
            String(repeating: "k", count: 300),
        ]
        for key in keys {
            let redis = try cluster.cli(["CLUSTER", "KEYSLOT", key])
            #expect(String(HashSlot(key: key).value) == redis, "key \(key)")
        }
        // A room's keys share its tag, so one script may touch them together.
        #expect(HashSlot(key: "chat:history:{dev}") == HashSlot(key: "chat:topic:{dev}"))
        #expect(HashSlot(key: "{dev}") != HashSlot(key: "{ops}"))
    }

    @Test("the slot map of a real 3-primary, 3-replica cluster: every slot owned, replicas beside primaries")
    func slotMapFromCluster() async throws {
        let cluster = try RedisClusterServers(primaries: 3, replicasPerPrimary: 1)
        let client = RedisClient(
            address: try RedisAddress(url: "redis://\(cluster.seeds[0])"),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
            logger: Logger(label: "test"))
        client.start()
        defer { Task { await client.stop() } }
        #expect(eventually(timeout: 5) { client.isConnected })
        // Replicas report `online` once their first sync is done, a moment after the cluster is formed.
        var reply = RedisValue.null
        for _ in 0..<100 {
            reply = try await client.send("CLUSTER", "SHARDS").get()
            if let map = SlotMap(shardsReply: reply), map.shards.allSatisfy({ $0.replicas.count == 1 }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let map = try #require(SlotMap(shardsReply: reply), "\(reply)")
        #expect(map.shards.count == 3)
        #expect(map.coversEverySlot)
        #expect(map.shards.allSatisfy { $0.primary != nil && $0.replicas.count == 1 })
        let ports = Set(map.shards.flatMap { $0.nodes.map(\.address.port) })
        #expect(ports == Set(cluster.ports))
        // Each key's shard is the one Redis itself sends it to.
        for room in ["dev", "ops", "lobby", "random", "x"] {
            let key = "chat:history:{\(room)}"
            let owner = try #require(map.shard(for: HashSlot(key: key))?.primary)
            let direct = try cluster.cli(["SET", key, "1"], port: owner.address.port)
            #expect(direct == "OK", "\(key) at \(owner)")
        }
        #expect(SlotMap(shardsReply: .array([.simple("nonsense")])) == nil)
        #expect(SlotMap(shardsReply: .null) == nil)
    }
}
