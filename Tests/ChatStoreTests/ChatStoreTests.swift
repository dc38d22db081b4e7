import ChatCore
import ChatStore
import ChatTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisClient
import Testing

/// The Lua scripts against a real Redis: the guarantees the cluster relies on, tested one step at a time.
@Suite("The chat's state in Redis", .serialized)
struct ChatStoreTests {
    let logger = Logger(label: "test")
    let alice = try! UserName(validating: "Alice")
    let dev = RoomName(trusted: "dev")

    func store(_ redis: RedisServer, incarnation: String, ttl: Int = 30) throws -> ChatStore {
        let client = RedisClient(
            address: try RedisAddress(url: redis.url), eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
            scripts: ChatStore.scripts, logger: logger)
        client.start()
        guard eventually(timeout: 5, { client.isConnected }) else { throw HarnessError("no connection") }
        return ChatStore(
            redis: client, incarnation: incarnation, nodeID: "node-\(incarnation)", claimTTLSeconds: ttl,
            historyLength: 100)
    }

    /// Everything published on a room's channel, as decoded events.
    func listen(
        _ redis: RedisServer, to room: RoomName
    ) async throws -> (RedisSubscriber, NIOLockedValueBox<[ChatEvent]>) {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let subscriber = RedisSubscriber(
            address: try RedisAddress(url: redis.url), eventLoop: loop, logger: logger, sharded: true)
        let events = NIOLockedValueBox<[ChatEvent]>([])
        try await loop.submit {
            subscriber.onMessages = { batch in
                events.withLockedValue { $0 += batch.compactMap { RelayCodec.decode($0.payload)?.event } }
            }
        }.get()
        subscriber.start()
        guard eventually(timeout: 5, { subscriber.isConnected }) else { throw HarnessError("no subscriber") }
        try await loop.flatSubmit { subscriber.subscribe(ChatKeys.roomChannel(room)) }.get()
        return (subscriber, events)
    }

    func leaves(_ events: NIOLockedValueBox<[ChatEvent]>) -> [LeaveReason] {
        events.withLockedValue { $0 }.compactMap { if case .left(_, _, let reason, _, _) = $0 { reason } else { nil } }
    }

    @Test("a claim is exclusive and case-insensitive; a stale release cannot free a newer holder's name")
    func claimsAndTokens() async throws {
        let redis = try RedisServer()
        let nodeA = try store(redis, incarnation: "a")
        let nodeB = try store(redis, incarnation: "b")
        let first = nodeA.makeToken()
        #expect(try await nodeA.claim(alice, token: first, now: 1, address: "x").get())
        #expect(
            try await !nodeB.claim(try UserName(validating: "alice"), token: nodeB.makeToken(), now: 2, address: "y")
                .get())
        try await nodeA.release(alice, token: first, now: 3, reason: .quit, origin: "s").get()
        let second = nodeB.makeToken()
        #expect(try await nodeB.claim(alice, token: second, now: 4, address: "y").get())
        // The first session's release arrives again (a retry after a timeout): it must change nothing.
        try await nodeA.release(alice, token: first, now: 5, reason: .quit, origin: "s").get()
        #expect(
            try await nodeB.keepAlive(
                SessionRecord(user: alice, token: second, since: 4, lastActive: 4, away: nil, rooms: [], address: "y"),
                restore: false
            ).get())
        let seen = try await nodeA.seen("alice", now: 9).get()
        #expect(
            seen
                == .online(
                    name: "Alice", since: 4, node: "node-b", details: PersonDetails(idleMillis: 5)),
            "the newer holder's session, idle since its last activity")
    }

    @Test("a keep-alive fails once the claim is gone or taken; a restore takes back only a claim that is gone")
    func keepAliveAndRestore() async throws {
        let redis = try RedisServer()
        let node = try store(redis, incarnation: "a")
        let token = node.makeToken()
        #expect(try await node.claim(alice, token: token, now: 1, address: "x").get())
        try await node.join(dev, user: alice, token: token, now: 1, origin: "s").get()
        let record = SessionRecord(
            user: alice, token: token, since: 1, lastActive: 2, away: "lunch", rooms: [dev], address: "x")
        #expect(try await node.keepAlive(record, restore: false).get())

        _ = try await node.redis.send("FLUSHALL").get()  // Redis lost everything (a restart without persistence)
        #expect(try await !node.keepAlive(record, restore: false).get())
        #expect(try await node.keepAlive(record, restore: true).get())
        let members = try await node.who(dev, now: 3).get().members
        #expect(members == [RoomMember(name: "Alice", presence: .away("lunch"), idleMillis: 1, node: "node-a")])

        _ = try await node.redis.send("SET", ChatKeys.claim("alice"), "someone-else").get()
        #expect(try await !node.keepAlive(record, restore: true).get())
    }

    @Test("fifty joins making one new room at once from one address count as one room made; the limit counts rooms")
    func newRoomsCountedByName() async throws {
        let redis = try RedisServer()
        var node = try store(redis, incarnation: "a")
        node.bounds.roomCreationsPerMinute = 2
        let people = try (0..<50).map { try UserName(validating: "joiner\($0)") }
        // All at once, as a connect storm's clients behind one address do: each finds the room missing and asks to
        // make it. Counted per join, all but the first two were refused.
        let joining = node
        let joins = people.map { person in
            joining.join(
                RoomName(trusted: "storm"), user: person, token: "a:\(person.key)", now: 1, origin: "s",
                address: "10.0.0.1")
        }
        for join in joins { try await join.get() }
        #expect(
            try redis.cli(["HLEN", "chat:members:{storm}"]).trimmingCharacters(in: .whitespacesAndNewlines) == "50")
        // One more new room fits the limit of two; the third is refused, for the address and the person alike.
        try await node.join(
            RoomName(trusted: "second"), user: people[0], token: "a:x", now: 2, origin: "s", address: "10.0.0.1"
        ).get()
        await #expect(throws: ChatError.self) {
            try await node.join(
                RoomName(trusted: "third"), user: people[1], token: "a:y", now: 3, origin: "s", address: "10.0.0.1"
            ).get()
        }
        // A person at their own limit, from an address with room to spare, is refused too; and a refused join
        // takes back only what it counted itself: a room another join of that address counted a moment ago (and
        // is making) stays counted, or refusals would hand out free rooms.
        let solo = try UserName(validating: "solo")
        for (index, room) in ["q1", "q2"].enumerated() {
            try await node.join(
                RoomName(trusted: room), user: solo, token: "a:solo", now: 4, origin: "s",
                address: "10.0.0.\(index + 2)"
            ).get()
        }
        _ = try redis.cli(["SADD", "chat:new-rooms:address:{10.0.0.4}", "made"])
        do {
            try await node.join(
                RoomName(trusted: "made"), user: solo, token: "a:solo", now: 6, origin: "s", address: "10.0.0.4"
            ).get()
            Issue.record("a person past their limit made a room")
        } catch let error as ChatError {
            #expect(error.code == .rateLimited)
        }
        let kept = try redis.cli(["SMEMBERS", "chat:new-rooms:address:{10.0.0.4}"])
        #expect(kept.contains("made"), "the other join's count is kept: \(kept)")
    }

    @Test("a dead node's users leave each room once, and only one survivor does it")
    func reaping() async throws {
        let redis = try RedisServer()
        let (subscriber, events) = try await listen(redis, to: dev)
        let dying = try store(redis, incarnation: "dead", ttl: 1)
        let survivor = try store(redis, incarnation: "alive")
        try await dying.heartbeat(now: 0).get()
        let token = dying.makeToken()
        #expect(try await dying.claim(alice, token: token, now: 1, address: "x").get())
        try await dying.join(dev, user: alice, token: token, now: 1, origin: "s").get()
        #expect(try await survivor.reap(now: 2).get().cleaned == 0, "a live node is left alone")

        _ = try await survivor.redis.send("DEL", ChatKeys.incarnation("dead")).get()  // its heartbeat expired
        #expect(try await survivor.reap(now: 3).get().cleaned == 1)
        #expect(try await survivor.reap(now: 4).get().cleaned == 0)
        #expect(eventually(timeout: 2) { leaves(events) == [.connectionLost] })
        #expect(try await survivor.who(dev, now: 5).get().members.isEmpty)
        #expect(try await survivor.claim(alice, token: survivor.makeToken(), now: 6, address: "y").get())
        try await subscriber.stop().get()
    }

    @Test("a room with more people than ChatStore.quietRoomSize announces no joins and leaves")
    func quietRooms() async throws {
        let redis = try RedisServer()
        let (subscriber, events) = try await listen(redis, to: dev)
        let node = try store(redis, incarnation: "a")
        let size = ChatStore.quietRoomSize
        let people = try (0...size + 1).map { try UserName(validating: "p\($0)") }
        func token(_ person: UserName) -> String { "a:\(person.key)" }
        for person in people { try await node.join(dev, user: person, token: token(person), now: 1, origin: "s").get() }
        func notices() -> (joins: Int, leaves: Int) {
            let all = events.withLockedValue { $0 }
            return (
                all.filter { if case .joined = $0 { true } else { false } }.count,
                all.filter { if case .left = $0 { true } else { false } }.count
            )
        }
        #expect(eventually(timeout: 5) { notices().joins == size }, "only the first \(size) joins are told")
        try await node.leave(
            dev, user: people[size + 1], token: token(people[size + 1]), reason: .left, now: 2, origin: "s"
        ).get()
        try await node.leave(dev, user: people[size], token: token(people[size]), reason: .left, now: 3, origin: "s")
            .get()
        // Back at quietRoomSize people: the room speaks again, so the second leave is told and the first is not.
        #expect(eventually(timeout: 5) { notices().leaves == 1 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(notices().joins == size && notices().leaves == 1)
        // Typing notices follow the same rule: told at quietRoomSize people, not above.
        try await node.publishTyping(dev, user: people[0], now: 4, origin: "s").get()
        try await node.join(dev, user: people[size], token: token(people[size]), now: 5, origin: "s").get()
        try await node.publishTyping(dev, user: people[1], now: 6, origin: "s").get()
        try await Task.sleep(for: .milliseconds(200))
        let typists = events.withLockedValue { $0 }.compactMap {
            if case .typing(_, let name, _) = $0 { name } else { nil }
        }
        #expect(typists == [people[0].display])
        try await subscriber.stop().get()
    }

    @Test("a big dead node is reaped in bounded batches, every user once, and its names come free")
    func reapInBatches() async throws {
        let redis = try RedisServer()
        let dying = try store(redis, incarnation: "big", ttl: 3)
        let survivor = try store(redis, incarnation: "alive", ttl: 3)
        var names: [UserName] = []
        for index in 0..<5 {
            let name = try UserName(validating: "user\(index)")
            names.append(name)
            #expect(try await dying.claim(name, token: dying.makeToken(), now: 1, address: "x").get())
        }
        try await dying.heartbeat(now: 1).get()
        try await survivor.heartbeat(now: 1).get()
        _ = try await dying.redis.send("DEL", ChatKeys.incarnation("big")).get()  // its heartbeat lapsed
        var steps: [Int] = []
        var more = true
        while more {
            let step = try await survivor.reap(now: 2, batch: 2).get()
            steps.append(step.cleaned)
            more = step.more
        }
        #expect(steps == [2, 2, 1])
        for name in names {
            #expect(
                try await survivor.claim(name, token: survivor.makeToken(), now: 3, address: "y").get(),
                "\(name) is free")
        }
    }

    /// Alice registered from `first` (connection a1), then logged in with her password from `second` (b1): her
    /// claim's token, made by `first`, and the second login's reply.
    func registeredOnTwoNodes(_ first: ChatStore, _ second: ChatStore) async throws -> (String, ChatStore.ClaimReply) {
        func attempt(_ store: ChatStore, origin: String, verified: String?) -> ClaimAttempt {
            ClaimAttempt(
                token: store.makeToken(), resumeHash: nil, newResumeHash: "resume-\(origin)",
                passwordGiven: verified != nil, verifiedHash: verified, address: "x", origin: origin)
        }
        let registering = attempt(first, origin: "a1", verified: nil)
        #expect(try await first.claimName(alice, registering, now: 1).get() == .claimed)
        try await first.setAccount(alice, token: registering.token, expected: nil, new: "hash", now: 1).get()
        let reply = try await second.claimName(alice, attempt(second, origin: "b1", verified: "hash"), now: 2).get()
        return (registering.token, reply)
    }

    @Test(
        "a registered name's second connection on another node keeps the session when the first quits and the node that made its claim dies; the last one's node dying frees it"
    )
    func connectionsOutliveTheNodeThatMadeTheClaim() async throws {
        let redis = try RedisServer()
        let first = try store(redis, incarnation: "first")
        let second = try store(redis, incarnation: "second")
        let survivor = try store(redis, incarnation: "survivor")
        // A password login from the other node: one more connection, under the first's token.
        let (token, reply) = try await registeredOnTwoNodes(first, second)
        #expect(reply == .attached(token: token, since: 1, author: token, rooms: []))
        try await first.release(alice, token: token, now: 3, reason: .quit, origin: "a1").get()
        #expect(try await first.redis.send("HGET", ChatKeys.session(alice.key), "inc").get().string == "second")

        // The node that made the claim dies: its reaper leaves the session and the claim to the second node.
        for store in [first, second, survivor] { try await store.heartbeat(now: 4).get() }
        _ = try await first.redis.send("DEL", ChatKeys.incarnation("first")).get()
        _ = try await survivor.reap(now: 5).get()
        let record = SessionRecord(
            user: alice, token: token, since: 1, lastActive: 5, away: nil, rooms: [], address: "x",
            connection: "b1")
        #expect(try await second.keepAlive(record, restore: false).get(), "the claim is still the session's")

        // The second node dies too: the name is free.
        _ = try await first.redis.send("DEL", ChatKeys.incarnation("second")).get()
        _ = try await survivor.reap(now: 6).get()
        #expect(try await survivor.redis.send("EXISTS", ChatKeys.claim(alice.key)).get().int == 0)
        #expect(try await survivor.redis.send("EXISTS", ChatKeys.session(alice.key)).get().int == 0)
    }

    @Test(
        "two connections of a name that Redis forgot (a restart) are listed again by their keep-alives; one no longer listed loses the name"
    )
    func connectionsListedAgainAfterRedisLostThem() async throws {
        let redis = try RedisServer()
        let first = try store(redis, incarnation: "first")
        let second = try store(redis, incarnation: "second")
        let (token, reply) = try await registeredOnTwoNodes(first, second)
        guard case .attached = reply else {
            Issue.record("not attached")
            return
        }
        func record(_ connection: String) -> SessionRecord {
            SessionRecord(
                user: alice, token: token, since: 1, lastActive: 3, away: nil, rooms: [dev], address: "x",
                connection: connection)
        }
        // A stranger to the list, under the same token, is no connection of the name.
        #expect(try await second.keepAlive(record("c1"), restore: false).get() == false)

        _ = try await first.redis.send("FLUSHALL").get()
        #expect(try await first.keepAlive(record("a1"), restore: true).get())
        #expect(try await second.keepAlive(record("b1"), restore: true).get())
        let listed = try await first.redis.send("HKEYS", ChatKeys.connections(alice.key)).get()
        #expect(Set((listed.array ?? []).compactMap(\.string)) == ["a1", "b1"])
        // Either one's going leaves the other the session.
        try await first.release(alice, token: token, now: 4, reason: .quit, origin: "a1").get()
        #expect(try await second.keepAlive(record("b1"), restore: false).get())
        try await second.release(alice, token: token, now: 5, reason: .quit, origin: "b1").get()
        #expect(try await first.redis.send("EXISTS", ChatKeys.claim(alice.key)).get().int == 0)
    }

    @Test("/seen is bounded: past its cap, whoever connected longest ago is forgotten first")
    func seenIsBounded() async throws {
        let redis = try RedisServer()
        var node = try store(redis, incarnation: "a")
        node.bounds.maxSeenRecords = 2
        for (index, raw) in ["first", "second", "third"].enumerated() {
            let name = try UserName(validating: raw)
            #expect(try await node.claim(name, token: node.makeToken(), now: Int64(index + 1), address: "x").get())
        }
        let first = ChatKeys.seen(try UserName(validating: "first").key)
        let third = ChatKeys.seen(try UserName(validating: "third").key)
        #expect(try await node.redis.send("EXISTS", first).get().int == 0, "the oldest is forgotten")
        #expect(try await node.redis.send("EXISTS", third).get().int == 1)
        #expect(try await node.redis.send("ZCARD", ChatKeys.seenIndex).get().int == 2)
    }

    @Test("claiming a name whose dead holder was not reaped yet still tells its rooms, once")
    func claimOverUnreapedSession() async throws {
        let redis = try RedisServer()
        let (subscriber, events) = try await listen(redis, to: dev)
        let dying = try store(redis, incarnation: "dead")
        let other = try store(redis, incarnation: "other")
        let token = dying.makeToken()
        #expect(try await dying.claim(alice, token: token, now: 1, address: "x").get())
        try await dying.join(dev, user: alice, token: token, now: 1, origin: "s").get()
        _ = try await other.redis.send("DEL", ChatKeys.claim("alice")).get()  // the claim expired first

        #expect(try await other.claim(alice, token: other.makeToken(), now: 2, address: "y").get())
        #expect(eventually(timeout: 2) { leaves(events) == [.connectionLost] })
        #expect(try await other.who(dev, now: 3).get().members.isEmpty, "the old membership is gone")
        #expect(try await other.reap(now: 4).get().cleaned == 0, "nothing is announced twice")
        try await subscriber.stop().get()
    }

    @Test("history is live order with one id per message; resume returns exactly what came after an id")
    func history() async throws {
        let redis = try RedisServer()
        let node = try store(redis, incarnation: "a")
        #expect(try await node.claim(alice, token: node.makeToken(), now: 1, address: "x").get())
        var ids: [StreamID] = []
        for index in 1...5 {
            let message = OutgoingMessage(
                room: dev, from: alice.display, text: "m\(index)", isAction: false, time: Int64(index))
            ids.append(try await node.publishMessage(message, user: alice, origin: "s").get().id)
        }
        #expect(ids == ids.sorted() && Set(ids).count == 5, "ids only grow, even within one millisecond")
        #expect(try await node.history(dev, count: 3).get().map(\.text) == ["m3", "m4", "m5"])
        #expect(try await node.history(dev, count: 10, before: ids[2]).get().map(\.text) == ["m1", "m2"])
        let resumed = try await node.page(dev, after: ids[1], limit: 100).get().messages
        #expect(resumed.map(\.id) == Array(ids[2...]))
        // Someone deletes the newest entry by hand: the next message still gets an id after every earlier one.
        _ = try await node.redis.send("XDEL", ChatKeys.history(dev), ids[4].description).get()
        let message = OutgoingMessage(room: dev, from: alice.display, text: "m6", isAction: false, time: 6)
        #expect(try await node.publishMessage(message, user: alice, origin: "s").get().id > ids[4])
    }

    @Test("a message reads the same from history and from the channel, with the id XADD gave it")
    func onePayload() async throws {
        let redis = try RedisServer()
        let node = try store(redis, incarnation: "a")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let subscriber = RedisSubscriber(
            address: try RedisAddress(url: redis.url), eventLoop: loop, logger: logger, sharded: true)
        let payloads = NIOLockedValueBox<[[UInt8]]>([])
        try await loop.submit {
            subscriber.onMessages = { batch in payloads.withLockedValue { $0 += batch.map { Array($0.payload) } } }
        }.get()
        subscriber.start()
        #expect(eventually(timeout: 5) { subscriber.isConnected })
        try await loop.flatSubmit { subscriber.subscribe(ChatKeys.roomChannel(dev)) }.get()

        let message = OutgoingMessage(room: dev, from: "Alice", text: "caf\u{e9} \"quoted\"", isAction: true, time: 42)
        let id = try await node.publishMessage(message, user: alice, origin: "inc/7").get().id
        #expect(eventually(timeout: 2) { payloads.withLockedValue { $0.count } == 1 })
        let published = try #require(payloads.withLockedValue { $0.first })
        #expect(published.starts(with: Array("\(id) {".utf8)), "the channel's payload is framed with the id")
        let stored = try await node.redis.send("XRANGE", ChatKeys.history(dev), "-", "+").get()
        #expect(stored.array?.first?.array?[0].string == id.description, "the entry's id is the message's id")
        let expected = RelayEnvelope(event: .message(message.stored(as: id)), origin: "inc/7")
        #expect(RelayCodec.decode(published) == expected)
        #expect(
            try await node.history(dev, count: 5).get() == [message.stored(as: id)], "history decodes the same message")
        try await subscriber.stop().get()
    }

    @Test("a message always renews its history's expiry; the room and the sender's activity only when asked")
    func publishUpkeep() async throws {
        let redis = try RedisServer()
        let node = try store(redis, incarnation: "a")
        #expect(try await node.claim(alice, token: node.makeToken(), now: 1, address: "x").get())
        let history = ChatKeys.history(dev)
        func activeField() async throws -> String? {
            try await node.redis.send("HGET", ChatKeys.session(alice.key), "active").get().string
        }
        func activity() async throws -> String? {
            try await node.redis.send("ZSCORE", ChatKeys.roomActivity, dev.look).get().string
        }
        let quiet = PublishUpkeep(renewsRoom: false, marksActive: false)
        let first = OutgoingMessage(room: dev, from: alice.display, text: "one", isAction: false, time: 5_000)
        _ = try await node.publishMessage(first, user: alice, origin: "s", upkeep: quiet).get()
        let ttl = try await node.redis.send("TTL", history).get().int ?? -1
        #expect(ttl > 0, "a new stream gets its expiry even without upkeep")
        #expect(try await activeField() == "1", "not marked active: the claim's time stays")
        #expect(try await activity() == nil)

        let second = OutgoingMessage(room: dev, from: alice.display, text: "two", isAction: false, time: 9_000)
        _ = try await node.publishMessage(second, user: alice, origin: "s", upkeep: .all).get()
        #expect(try await activeField() == "9000")
        #expect(try await activity() == "9000")
        // A reaped session is not brought back by a message's upkeep.
        _ = try await node.redis.send("DEL", ChatKeys.session(alice.key)).get()
        _ = try await node.publishMessage(second, user: alice, origin: "s", upkeep: .all).get()
        #expect(try await node.redis.send("EXISTS", ChatKeys.session(alice.key)).get().int == 0)
    }
}
