import ChatTestSupport
import Endpoints
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import RedisClient

/// The slot-routing client against real Redis Clusters on loopback: commands and scripts land on the shard that
/// owns their keys, nothing is lost or doubled while a slot moves, and a killed primary's replica takes over.
@Suite("Redis Cluster client", .serialized)
struct RedisClusterClientTests {
    func connect(_ cluster: RedisClusterServers, scripts: [RedisScript] = []) async throws -> RedisClusterClient {
        let client = RedisClusterClient(
            seeds: [HostPort(host: "127.0.0.1", port: cluster.ports[0])],
            template: try RedisAddress(url: "redis://\(cluster.seeds[0])"),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(), scripts: scripts, logger: Logger(label: "test"))
        client.start()
        guard eventually(timeout: 10, { client.isConnected }) else {
            throw HarnessError("never connected to every primary")
        }
        return client
    }

    @Test("commands and scripts go to the shard that owns their keys; a room's keys stay together")
    func routing() async throws {
        let cluster = try RedisClusterServers(primaries: 3)
        let script = RedisScript(
            name: "pair",
            source:
                "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('GET', KEYS[2])"
        )
        let client = try await connect(cluster, scripts: [script])
        defer { Task { await client.stop() } }
        #expect(client.slotMap?.shards.count == 3)
        var shardsUsed = Set<Int>()
        for index in 0..<60 {
            let key = "chat:test:\(index)"
            #expect(try await client.send("SET", key, "v\(index)").get() == .simple("OK"))
            #expect(try await client.send("GET", key).get().string == "v\(index)")
            let slot = HashSlot(key: key)
            let port = try #require(client.slotMap?.shard(for: slot)?.primary?.address.port)
            shardsUsed.insert(port)
        }
        #expect(shardsUsed.count == 3, "keys spread over every shard")
        for room in ["dev", "ops", "lobby", "x", "yy"] {
            let reply = try await client.run(
                script, keys: ["chat:history:{\(room)}", "chat:topic:{\(room)}"], arguments: [room]
            ).get()
            #expect(reply.string == room)
        }
        // Keys of two slots in one script: Redis refuses it, and the client says so rather than guessing.
        do {
            _ = try await client.run(script, keys: ["chat:a:{one}", "chat:b:{two}"], arguments: ["x"]).get()
            Issue.record("a script across two slots ran")
        } catch let error as RedisError {
            #expect(error.message.contains("CROSSSLOT") || error.message.contains("different slot"), "\(error)")
        }
    }

    @Test("a slot moved to another shard while commands flow: every command lands once, none fails")
    func reshardWhileWriting() async throws {
        let cluster = try RedisClusterServers(primaries: 3)
        let client = try await connect(cluster)
        defer { Task { await client.stop() } }
        // Counters on a hundred keys of one tag: one slot, which is then moved with its keys.
        let tag = "room42"
        let slot = HashSlot(key: "{\(tag)}")
        let map = try #require(client.slotMap)
        let from = try #require(map.shard(for: slot)?.primary)
        let to = try #require(map.shards.compactMap(\.primary).first { $0 != from })
        let sent = NIOLockedValueBox(0)
        let failures = NIOLockedValueBox<[String]>([])
        let writer = Task {
            var round = 0
            while !Task.isCancelled, round < 400 {
                var futures: [EventLoopFuture<RedisValue>] = []
                for index in 0..<25 { futures.append(client.send("INCR", "counter:{\(tag)}:\(index)")) }
                for future in futures {
                    do {
                        _ = try await future.get()
                        sent.withLockedValue { $0 += 1 }
                    } catch {
                        failures.withLockedValue { $0.append("\(error)") }
                    }
                }
                round += 1
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        // The steps redis-cli --cluster reshard takes, for one slot: importing, migrating, MIGRATE, then the owner.
        let fromPort = from.address.port
        let toPort = to.address.port
        _ = try cluster.cli(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", from.id], port: toPort)
        _ = try cluster.cli(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", to.id], port: fromPort)
        while true {
            let keys = try cluster.cli(["CLUSTER", "GETKEYSINSLOT", "\(slot)", "10"], port: fromPort)
                .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            if keys.isEmpty { break }
            _ = try cluster.cli(["MIGRATE", "127.0.0.1", "\(toPort)", "", "0", "5000", "KEYS"] + keys, port: fromPort)
            try await Task.sleep(for: .milliseconds(20))
        }
        for port in cluster.ports { _ = try cluster.cli(["CLUSTER", "SETSLOT", "\(slot)", "NODE", to.id], port: port) }
        await writer.value
        #expect(failures.withLockedValue { $0 }.isEmpty, "\(failures.withLockedValue { $0.prefix(5) })")
        var total = 0
        for index in 0..<25 {
            total += Int(try await client.send("GET", "counter:{\(tag)}:\(index)").get().int ?? 0)
        }
        #expect(total == sent.withLockedValue { $0 }, "every acknowledged INCR counted once")
        #expect(total == 400 * 25)
        let moved = try #require(client.slotMap?.shard(for: slot)?.primary)
        #expect(moved.address.port == toPort, "the map follows the move")
    }

    @Test("a killed primary: its replica is promoted and commands reach it again within seconds")
    func failover() async throws {
        let cluster = try RedisClusterServers(primaries: 3, replicasPerPrimary: 1)
        let client = try await connect(cluster)
        defer { Task { await client.stop() } }
        // Replicas report `online` once their first sync is done, a moment after the cluster is formed.
        for _ in 0..<100 {
            if let map = try? await client.refresh().get(), map.shards.allSatisfy({ $0.replicas.count == 1 }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let key = "chat:history:{failover}"
        #expect(try await client.send("SET", key, "before").get() == .simple("OK"))
        let old = try #require(client.slotMap?.shard(for: HashSlot(key: key))?.primary)
        // Written to the replica too before the primary goes: the replica's offset has reached the primary's.
        #expect(
            eventually(timeout: 5) {
                let info = (try? cluster.cli(["INFO", "replication"], port: old.address.port)) ?? ""
                let lines = info.split(whereSeparator: \.isNewline)
                guard
                    let master = lines.first(where: { $0.hasPrefix("master_repl_offset:") })?.split(separator: ":")
                        .last,
                    let replica = lines.first(where: { $0.hasPrefix("slave0:") })
                else { return false }
                return replica.contains("offset=\(master),")
            })
        cluster.kill(old.address.port)
        let killed = Date()
        var recovered: Double?
        while Date().timeIntervalSince(killed) < 20 {
            if (try? await client.send("SET", key, "after").get()) == .simple("OK") {
                recovered = Date().timeIntervalSince(killed)
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let seconds = try #require(recovered, "no write succeeded within 20 s of the primary's death")
        #expect(seconds < 10, "took \(seconds) s (cluster-node-timeout is 2 s)")
        let promoted = try #require(client.slotMap?.shard(for: HashSlot(key: key))?.primary)
        #expect(promoted.address != old.address)
        #expect(try await client.send("GET", key).get().string == "after")
    }

    @Test("MOVED and ASK replies are read; anything else is not a redirect")
    func redirects() {
        #expect(RedisClusterClient.slot(of: RedisCommand("GET", "{a}b")) == HashSlot(key: "a"))
        #expect(
            RedisClusterClient.slot(of: RedisCommand("EVALSHA", "abc", "2", "k{r}", "t{r}", "x")) == HashSlot(key: "r"))
        #expect(RedisClusterClient.slot(of: RedisCommand("EVALSHA", "abc", "0", "x")) == nil)
        #expect(RedisClusterClient.slot(of: RedisCommand("PING")) == nil)
        let moved = Redirect("MOVED 3999 127.0.0.1:6381")
        #expect(moved?.moved == true && moved?.slot == 3999 && moved?.target == HostPort(host: "127.0.0.1", port: 6381))
        #expect(Redirect("ASK 3999 [::1]:6381")?.moved == false)
        #expect(Redirect("ASK 3999 [::1]:6381")?.target.host == "::1")
        for nonsense in [
            "MOVED", "MOVED 16384 127.0.0.1:1", "MOVED x 127.0.0.1:1", "MOVED 1 :6381", "ERR MOVED 1 a:1",
            "MOVED 1 a:0",
        ] {
            #expect(Redirect(nonsense) == nil, "\(nonsense)")
        }
    }
}
