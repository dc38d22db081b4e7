import ChatTestSupport
import Foundation
import Testing

/// The chat on a Sentinel-managed Redis (`redis-sentinel://`): a primary, a replica and three sentinels, all real.
@Suite("the chat on Redis Sentinel", .serialized)
struct RedisSentinelChatTests {
    @Test(
        "kill -9 of the primary while a room is busy: the sentinels promote the replica, the nodes follow it, the room chats again within 10 s, and no acknowledged message is missing from history or any client"
    )
    func failoverUnderLoad() throws {
        let redis = try RedisSentinelServers(replicas: 1)
        let nodes = try ["n1", "n2"].map { id in
            try NodeProcess(
                id: id, redisURL: redis.url, logDirectory: redis.directory,
                extraArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        }
        let room = "busy"
        let (sender, listeners) = try RedisClusterChatTests.busyRoom(nodes, room)
        let primary = try #require(try redis.primaryPort())
        #expect(primary == redis.dataPorts[0])
        let flow = try RedisClusterChatTests.flow(from: sender) { redis.kill(primary) }
        let resumed = try #require(flow.resumedAfter, "chat never resumed")
        #expect(resumed < 10, "resumed after \(resumed) s")
        print(
            "sentinel failover under load: chat resumed \(resumed) s after the kill; \(flow.refused.count) refused meanwhile, \(flow.acknowledged.count) acknowledged"
        )
        let promoted = try #require(try redis.primaryPort())
        #expect(promoted != primary, "the sentinels name the replica now")
        let history = try redis.cli(["XRANGE", "chat:history:{\(room)}", "-", "+"], port: promoted)
        try RedisClusterChatTests.checkNothingLost(flow, room: room, history: history, clients: listeners)
        // A newcomer on either node is served by the new primary.
        let late = try nodes[1].login("late")
        try late.send("/join \(room)")
        try late.expect("you joined #\(room)")
        _ = nodes
    }
}
