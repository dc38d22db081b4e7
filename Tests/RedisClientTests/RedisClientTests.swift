import ChatTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisClient
import Testing

/// The client and subscriber against a real redis-server.
@Suite("Redis client against a real Redis", .serialized)
struct RedisClientTests {
    let logger = Logger(label: "test")

    func makeClient(
        _ redis: RedisServer, scripts: [RedisScript] = [], commandTimeout: TimeAmount = .seconds(3),
        onConnected: @escaping @Sendable (Bool) -> Void = { _ in },
        onFlush: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws -> RedisClient {
        let client = RedisClient(
            address: try RedisAddress(url: redis.url), eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
            scripts: scripts, commandTimeout: commandTimeout, logger: logger, onConnected: onConnected,
            onFlush: onFlush)
        client.start()
        guard eventually(timeout: 5, { client.isConnected }) else { throw HarnessError("client never connected") }
        return client
    }

    @Test("replies of every type come back as values; error replies as failures")
    func replies() async throws {
        let redis = try RedisServer()
        let client = try makeClient(redis)
        #expect(try await client.send("SET", "k", "v").get() == .simple("OK"))
        #expect(try await client.send("GET", "k").get() == .bulk(Array("v".utf8)))
        #expect(try await client.send("GET", "missing").get() == .null)
        #expect(try await client.send("RPUSH", "l", "a", "b").get() == .integer(2))
        #expect(try await client.send("LRANGE", "l", "0", "-1").get().array?.compactMap(\.string) == ["a", "b"])
        await #expect(throws: RedisError.self) { try await client.send("INCR", "k").get() }
        await client.stop()
    }

    @Test("many concurrent commands are pipelined, and each gets its own reply in order")
    func pipelining() async throws {
        let redis = try RedisServer()
        let largest = NIOLockedValueBox(0)
        let client = try makeClient(redis, onFlush: { size in largest.withLockedValue { $0 = max($0, size) } })
        let futures = (0..<5000).map { _ in client.send("INCR", "counter").map { $0.int } }
        let results = try await EventLoopFuture.whenAllSucceed(futures, on: client.eventLoop).get()
        #expect(results == (1...5000).map { Int64($0) })
        #expect(largest.withLockedValue { $0 } > 100, "commands queued together went out in one flush")
        await client.stop()
    }

    @Test("a busy Redis that keeps answering is alive however long commands queue; one that stops answering is dropped")
    func busyIsNotDead() async throws {
        // A connect storm queues thousands of claims at once: the last waits its turn far longer than the command
        // timeout while Redis answers the others. That used to drop the connection and fail everything queued.
        let redis = try RedisServer()
        let connects = NIOLockedValueBox(0)
        let client = try makeClient(
            redis, commandTimeout: .milliseconds(300), onConnected: { _ in connects.withLockedValue { $0 += 1 } })
        // A thousand commands at once, each a few milliseconds of Redis's time and 8 KB long: Redis reads 16 KB of
        // them at a time, runs those and answers, so answers come every few milliseconds, but the last command waits
        // its turn for seconds (2.5 s here), far past the timeout.
        let busy = "for i = 1, 300000 do end return 1"
        let padding = String(repeating: "x", count: 8000)
        let replies = (1...1000).map { _ in client.send("EVAL", busy, "0", padding) }
        for reply in replies { #expect(try await reply.get() == .integer(1)) }
        #expect(connects.withLockedValue { $0 } == 1, "the connection was never dropped")

        // Hung: nothing answers at all. The command fails within about the timeout, and the client reconnects
        // once Redis is back.
        redis.pause()
        let asked = Date()
        await #expect(throws: RedisError.self) { try await client.send("GET", "k").get() }
        #expect(Date().timeIntervalSince(asked) < 2)
        redis.resume()
        #expect(eventually(timeout: 5) { client.isConnected && connects.withLockedValue { $0 } == 2 })
        #expect(try await client.send("PING").get() == .simple("PONG"))
        await client.stop()
    }

    @Test(
        "acknowledged writes share one WAIT per round trip; with the replica stopped each is told it has none within about the timeout, and commands on other connections do not wait"
    )
    func replicaAcknowledgements() async throws {
        let servers = try RedisSentinelServers(replicas: 1)
        let primary = "redis://127.0.0.1:\(servers.dataPorts[0])"
        let increment = RedisScript(name: "increment", source: "return redis.call('INCR', KEYS[1])")
        func connect() throws -> RedisClient {
            let client = RedisClient(
                address: try RedisAddress(url: primary), eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
                scripts: [increment], logger: logger)
            client.start()
            guard eventually(timeout: 5, { client.isConnected }) else { throw HarnessError("never connected") }
            return client
        }
        let writes = try connect()
        let others = try connect()
        let wanted = ReplicaAcknowledgement(replicas: 1, timeout: .milliseconds(500))
        func waits() throws -> Int {
            let stats = try servers.cli(["INFO", "commandstats"], port: servers.dataPorts[0])
            let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_wait:") } ?? ""
            return Int(line.split(separator: ",").first?.split(separator: "=").last ?? "0") ?? 0
        }

        let replies = (0..<2000).map { _ in
            writes.run(increment, keys: ["counter"], arguments: [], acknowledgedBy: wanted)
        }
        var counts: [Int64] = []
        for reply in replies {
            let acknowledged = try await reply.get()
            #expect(acknowledged.replicas == 1)
            counts.append(acknowledged.reply.int ?? -1)
        }
        #expect(counts == (1...2000).map { Int64($0) })
        let batched = try waits()
        #expect(batched >= 1 && batched < 200, "2,000 writes took \(batched) WAITs")
        print("2,000 acknowledged writes at once: \(batched) WAITs")

        // The replica stops: every write is told "no replica" after about the timeout, together, not one after
        // another; the other connection is not held up meanwhile.
        servers.pause(servers.dataPorts[1])
        var paused = true
        defer { if paused { servers.resume(servers.dataPorts[1]) } }
        let asked = Date()
        let stalled = (0..<50).map { _ in
            writes.run(increment, keys: ["counter"], arguments: [], acknowledgedBy: wanted)
        }
        let pinged = Date()
        #expect(try await others.send("PING").get() == .simple("PONG"))
        #expect(Date().timeIntervalSince(pinged) < 0.3)
        for reply in stalled { #expect(try await reply.get().replicas == 0) }
        let waited = Date().timeIntervalSince(asked)
        #expect(waited >= 0.45 && waited < 1.6, "waited \(waited) s for 50 writes")
        #expect(writes.isConnected, "a timed-out WAIT is not a dead connection")

        // Known short, the next writes are not held behind a WAIT each (which would delay them, not only their
        // acknowledgement): they are told at once, a probe looking again at most once a second.
        let next = Date()
        for _ in 0..<20 {
            #expect(
                try await writes.run(increment, keys: ["counter"], arguments: [], acknowledgedBy: wanted).get().replicas
                    == 0)
        }
        #expect(
            Date().timeIntervalSince(next) < 0.5, "20 writes one after another took \(Date().timeIntervalSince(next)) s"
        )
        servers.resume(servers.dataPorts[1])
        paused = false
        var back = false
        let deadline = Date().addingTimeInterval(5)
        while !back, Date() < deadline {
            back =
                try await writes.run(increment, keys: ["counter"], arguments: [], acknowledgedBy: wanted).get()
                .replicas == 1
            if !back { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(back, "once the replica is back, writes are confirmed again")
        await writes.stop()
        await others.stop()
    }

    @Test("a script runs by SHA and survives SCRIPT FLUSH")
    func scripts() async throws {
        let redis = try RedisServer()
        let echo = RedisScript(name: "echo", source: "return ARGV[1] .. KEYS[1]")
        let client = try makeClient(redis, scripts: [echo])
        #expect(try await client.run(echo, keys: ["k"], arguments: ["a"]).get().string == "ak")
        _ = try await client.send("SCRIPT", "FLUSH").get()
        #expect(try await client.run(echo, keys: ["k"], arguments: ["b"]).get().string == "bk")
        await client.stop()
    }

    @Test("while Redis is down commands fail at once; after it returns the client reconnects by itself")
    func reconnects() async throws {
        let redis = try RedisServer()
        let reconnected = NIOLockedValueBox(false)
        let client = try makeClient(
            redis, onConnected: { again in if again { reconnected.withLockedValue { $0 = true } } })
        redis.kill()
        #expect(eventually(timeout: 5) { !client.isConnected })
        let started = Date()
        await #expect(throws: RedisError.self) { try await client.send("PING").get() }
        #expect(Date().timeIntervalSince(started) < 0.5, "no waiting while disconnected")
        try redis.start()
        #expect(eventually(timeout: 3) { client.isConnected && reconnected.withLockedValue { $0 } })
        #expect(try await client.send("PING").get() == .simple("PONG"))
        #expect(client.reconnectCount == 1)
        await client.stop()
    }

    @Test("a subscription is confirmed before it is relied on, and restored after Redis restarts")
    func subscriber() async throws {
        let redis = try RedisServer()
        let publisher = try makeClient(redis)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let subscriber = RedisSubscriber(address: try RedisAddress(url: redis.url), eventLoop: loop, logger: logger)
        let received = NIOLockedValueBox<[String]>([])
        let resubscribed = NIOLockedValueBox<[String]>([])
        try await loop.submit {
            subscriber.onMessages = { batch in
                received.withLockedValue { $0 += batch.map { String(decoding: $0.payload, as: UTF8.self) } }
            }
            subscriber.onResubscribed = { name in resubscribed.withLockedValue { $0.append(name) } }
        }.get()
        subscriber.start()
        #expect(eventually(timeout: 5) { subscriber.isConnected })
        try await loop.flatSubmit { subscriber.subscribe("room") }.get()
        #expect(try await publisher.send("PUBLISH", "room", "one").get() == .integer(1))
        #expect(eventually(timeout: 2) { received.withLockedValue { $0 } == ["one"] })

        try redis.restart()
        #expect(eventually(timeout: 5) { resubscribed.withLockedValue { $0 } == ["room"] })
        #expect(eventually(timeout: 5) { publisher.isConnected })
        #expect(try await publisher.send("PUBLISH", "room", "two").get() == .integer(1))
        #expect(eventually(timeout: 2) { received.withLockedValue { $0 } == ["one", "two"] })

        loop.execute { subscriber.unsubscribe("room") }
        #expect(
            eventually(timeout: 2) { (try? publisher.send("PUBSUB", "NUMSUB", "room").wait())?.array?.last?.int == 0 })
        try await subscriber.stop().get()
        await publisher.stop()
    }
}
