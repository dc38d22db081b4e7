import ChatTestSupport
import Foundation
import Testing

/// The chat on a real Redis Cluster (redis-server --cluster-enabled, joined by redis-cli --cluster create), with
/// rooms chosen so that each primary serves one: every path that crosses from a person's shard to a room's, or
/// from one node to another through a shard, is used.
@Suite("the chat on a Redis Cluster", .serialized)
struct RedisClusterChatTests {
    /// One room per primary (the room's keys and channel share its tag, so its members hash names the shard).
    static func roomsOnEveryShard(_ redis: RedisClusterServers) throws -> [String] {
        var byPort: [Int: String] = [:]
        for index in 0..<500 where byPort.count < redis.ports.count {
            let room = "room\(index)"
            if let port = try redis.primaryPort(forKey: "chat:members:{\(room)}"), byPort[port] == nil {
                byPort[port] = room
            }
        }
        return byPort.values.sorted()
    }

    @Test("two nodes on three primaries: rooms on every shard, unique names, direct messages, presence, who, history, rooms, and a killed node's users cleaned up")
    func chatAcrossShards() throws {
        let chat = try ChatOnRedisCluster(nodes: 2)
        let rooms = try Self.roomsOnEveryShard(chat.redis)
        try #require(rooms.count == 3, "rooms on every shard: \(rooms)")
        let alice = try chat[0].login("alice")
        let bob = try chat[1].login("bob")

        let imposter = try chat[1].connect("imposter")
        try imposter.send("ALICE")
        try imposter.expect("! name-taken")

        for room in rooms {
            try bob.send("/join \(room)")
            try bob.expect("you joined #\(room)")
            try alice.send("/join \(room)")
            try alice.expect("you joined #\(room)")
            try bob.expect("alice joined #\(room)")
            try alice.send("hello \(room)")
            try bob.expectLine("alice's message in \(room)") { $0.hasSuffix("#\(room) <alice> hello \(room)") }
        }

        try alice.send("/msg bob psst")
        try bob.expectLine("the direct message") { $0.hasSuffix("*alice* psst") }
        try alice.send("/msg nobody-here hello?")
        try alice.expect("! no-such-user")

        try bob.send("/away lunch")
        try bob.expect("you are marked away")
        try alice.expectLine("bob away") { $0.hasSuffix("bob is away: lunch") }
        try alice.send("/who \(rooms[1])")
        try alice.expect("2 people in #\(rooms[1])")
        try alice.expectLine("alice online") { $0.contains("alice  online") }
        try alice.expectLine("bob away") { $0.contains("bob  away: lunch") }

        let carol = try chat.addNode(id: "n3").login("carol")
        try carol.send("/join \(rooms[2])")
        try carol.expect("you joined #\(rooms[2])")
        try carol.send("/history 1")
        try carol.expectLine("the room's last message, from another node") { $0.hasSuffix("<alice> hello \(rooms[2])") }
        try carol.send("/rooms")
        for room in rooms { try carol.expect("#\(room) (") }

        try alice.send("/leave \(rooms[0])")
        try alice.expect("you left #\(rooms[0])")
        try bob.expectLine("alice's leave") { $0.hasSuffix("alice left #\(rooms[0])") }

        // kill -9 of bob's node: a survivor announces bob's departure in each of his rooms, once, and frees his name.
        let killedAt = Date()
        chat[1].kill9()
        var notices: Set<String> = []
        let deadline = killedAt.addingTimeInterval(3 + 5)
        while notices.count < 3, let line = alice.readLine(timeout: max(0, deadline.timeIntervalSinceNow)) {
            if line.contains("bob left"), line.contains("(connection lost)") { notices.insert(line) }
        }
        #expect(notices.count == 3, "lobby and the two rooms alice is still in: \(notices)")
        #expect(alice.drain(timeout: 1.5).filter { $0.contains("bob left") }.isEmpty, "no duplicate notices")
        _ = try chat[0].login("bob")
    }
}
