import ChatTestSupport
import Foundation
import RedisClient
import Testing

/// The chat on a real Redis Cluster (redis-server --cluster-enabled, joined by redis-cli --cluster create), with
/// rooms chosen so that each primary serves one: every path that crosses from a person's shard to a room's, or
/// from one node to another through a shard, is used.
@Suite("the chat on a Redis Cluster", .serialized)
struct RedisClusterChatTests {
    /// One room per primary (the room's keys and channel share its tag, so its members hash names the shard).
    static func roomsOnEveryShard(_ redis: RedisClusterServers) throws -> [String] {
        var byPort: [Int: String] = [:]
        for index in 0..<500 where byPort.count < redis.primaries {
            let room = "room\(index)"
            if let port = try redis.primaryPort(forKey: "chat:members:{\(room)}"), byPort[port] == nil {
                byPort[port] = room
            }
        }
        return byPort.values.sorted()
    }

    @Test(
        "two nodes on three primaries: rooms on every shard, unique names, direct messages, presence, who, history, rooms, and a killed node's users cleaned up"
    )
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

/// Messages sent into a busy room while its shard is disrupted, and what each client got.
extension RedisClusterChatTests {
    struct Flow {
        /// Texts whose sender got the echo: stored in history and published.
        var acknowledged: [String] = []
        /// Texts refused with an error (Redis unavailable meanwhile): not acknowledged, so a client resends.
        var refused: [String] = []
        /// When the first message after the disruption began was acknowledged.
        var resumedAfter: TimeInterval?
    }

    /// Sends `m0`, `m1`, ... into the sender's current room, one at a time, each waiting for its echo or its
    /// error; `disrupt` starts (on its own thread) before message `disruptAt`, and sending goes on until it has
    /// finished and `afterwards` more messages were acknowledged.
    static func flow(
        from sender: TestSocket, disruptAt: Int = 50, afterwards: Int = 50, limit: TimeInterval = 40,
        disrupt: @escaping @Sendable () throws -> Void
    ) throws -> Flow {
        var flow = Flow()
        let done = NSCondition()
        nonisolated(unsafe) var finished = false
        nonisolated(unsafe) var disruptionError: (any Error)?
        var disruptedAt: Date?
        var ackedSinceDone = 0
        let deadline = Date().addingTimeInterval(limit)
        var index = 0
        while Date() < deadline {
            if index == disruptAt {
                disruptedAt = Date()
                Thread.detachNewThread {
                    do { try disrupt() } catch { disruptionError = error }
                    done.lock()
                    finished = true
                    done.unlock()
                }
            }
            let text = "m\(index)"
            try sender.sendJSON(["op": "say", "text": text, "id": text])
            let reply = try sender.expectEvent(timeout: 8, "the reply to \(text)") { $0["id"] as? String == text }
            if reply["type"] as? String == "message" {
                flow.acknowledged.append(text)
                if let disruptedAt, flow.resumedAfter == nil, index > disruptAt {
                    flow.resumedAfter = Date().timeIntervalSince(disruptedAt)
                }
                done.lock()
                if finished { ackedSinceDone += 1 }
                done.unlock()
            } else {
                flow.refused.append(
                    "\(text) (\(reply["code"] as? String ?? "?"): \(reply["message"] as? String ?? ""))")
                Thread.sleep(forTimeInterval: 0.05)
            }
            if ackedSinceDone >= afterwards { break }
            index += 1
            Thread.sleep(forTimeInterval: 0.005)
        }
        if let disruptionError { throw disruptionError }
        return flow
    }

    /// The message texts a client received, in order, until nothing more arrives for `quiet` seconds.
    static func received(by client: TestSocket, quiet: Double = 3) -> [String] {
        client.drain(timeout: quiet).compactMap { line in
            guard let event = TestSocket.json(line), event["type"] as? String == "message" else { return nil }
            return event["text"] as? String
        }
    }

    /// Every acknowledged message is in the room's history and reached every client exactly once; every client is
    /// still connected.
    static func checkNothingLost(
        _ flow: Flow, room: String, history: String, clients: [(String, TestSocket)]
    ) throws {
        #expect(flow.acknowledged.count > 50, "messages flowed: \(flow.acknowledged.count) acknowledged")
        let stored = Set(
            history.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("{"), let event = TestSocket.json(String(line)) else { return nil }
                return event["text"] as? String
            })
        let missing = flow.acknowledged.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "acknowledged but not in history: \(missing)")
        for (name, client) in clients {
            let got = received(by: client)
            var seen: [String: Int] = [:]
            for text in got { seen[text, default: 0] += 1 }
            let lost = flow.acknowledged.filter { seen[$0] == nil }
            let twice = seen.filter { $0.value > 1 }.keys.sorted()
            #expect(lost.isEmpty, "\(name) never got \(lost)")
            #expect(twice.isEmpty, "\(name) got twice \(twice)")
            try client.sendJSON(["op": "ping", "id": "still-there"])
            _ = try client.expectEvent("\(name) still connected") { $0["id"] as? String == "still-there" }
        }
    }

    /// A sender on node 1 and listeners on both nodes, all in `room`.
    static func busyRoom(_ nodes: [NodeProcess], _ room: String) throws -> (TestSocket, [(String, TestSocket)]) {
        let sender = try nodes[0].loginJSON("sender")
        let near = try nodes[0].loginJSON("near")
        let far = try nodes[1].loginJSON("far")
        for client in [near, far, sender] {
            try client.sendJSON(["op": "join", "room": room, "id": "j"])
            _ = try client.expectEvent("joined \(room)") {
                $0["type"] as? String == "joined" && $0["room"] as? String == room
            }
        }
        return (sender, [("near (same node)", near), ("far (other node)", far)])
    }

    @Test(
        "kill -9 of the primary serving a busy room: its replica takes over, the room chats again within 10 s, and no acknowledged message is missing from history or any client"
    )
    func failoverUnderLoad() throws {
        let chat = try ChatOnRedisCluster(
            nodes: 2, replicasPerPrimary: 1, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        let room = "busy"
        let primary = try #require(try chat.redis.primaryPort(forKey: "chat:history:{\(room)}"))
        let (sender, listeners) = try Self.busyRoom(chat.nodes, room)
        let redis = chat.redis
        let flow = try Self.flow(from: sender) { redis.kill(primary) }
        let resumed = try #require(flow.resumedAfter, "chat never resumed")
        #expect(resumed < 10, "resumed after \(resumed) s")
        print(
            "failover under load: chat resumed \(resumed) s after the kill; \(flow.refused.count) refused meanwhile, \(flow.acknowledged.count) acknowledged"
        )
        let history = try chat.redis.cli(
            ["XRANGE", "chat:history:{\(room)}", "-", "+"], port: chat.redis.ports.first { $0 != primary })
        try Self.checkNothingLost(flow, room: room, history: history, clients: listeners)
    }

    @Test(
        "a busy room's slot moved to another primary with redis-cli --cluster reshard while messages flow: nothing lost, nothing twice, nobody disconnected"
    )
    func reshardUnderLoad() throws {
        let chat = try ChatOnRedisCluster(nodes: 2, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        // reshard moves the lowest slots of its source first: a room in slot 0 is the one slot moved.
        let room = try #require(
            (0..<200_000).lazy.map { "busy\($0)" }.first { HashSlot(key: "chat:history:{\($0)}").value == 0 })
        let source = try #require(try chat.redis.primaryPort(forKey: "chat:history:{\(room)}"))
        let target = try #require(chat.redis.ports.first { $0 != source })
        let (sender, listeners) = try Self.busyRoom(chat.nodes, room)
        let redis = chat.redis
        let (from, to) = (try redis.nodeID(port: source), try redis.nodeID(port: target))
        let flow = try Self.flow(from: sender) {
            let output = try redis.cli(
                [
                    "--cluster", "reshard", "127.0.0.1:\(source)", "--cluster-from", from, "--cluster-to", to,
                    "--cluster-slots", "1", "--cluster-yes",
                ], port: source)
            guard output.contains("Moving slot 0 ") else {
                throw HarnessError("reshard did not move slot 0: \(output.suffix(1500))")
            }
        }
        #expect(
            try redis.primaryPort(forKey: "chat:history:{\(room)}") == target, "the room now lives on another primary")
        #expect(flow.refused.isEmpty, "no message refused during the move: \(flow.refused)")
        let history = try redis.cli(["XRANGE", "chat:history:{\(room)}", "-", "+"], port: target)
        try Self.checkNothingLost(flow, room: room, history: history, clients: listeners)
    }
}
