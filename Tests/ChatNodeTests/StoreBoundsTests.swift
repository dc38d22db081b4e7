import ChatTestSupport
import Foundation
import Testing

/// Nothing a client does grows Redis without bound: rooms are created at a limited rate and up to a cap, idle
/// history expires, and when Redis is at its memory limit a request is told so while everything else goes on.
@Suite("Redis memory bounds", .serialized)
struct StoreBoundsTests {
    @Test("new rooms: a few a minute per person and address, and no more than the cap; existing rooms always open")
    func roomCreation() throws {
        let cluster = try TestCluster(
            nodes: 1, nodeArguments: ["--room-creations-per-minute", "3", "--max-rooms", "6"])
        let alice = try cluster[0].login("alice")
        for room in ["r1", "r2", "r3"] {
            try alice.send("/join \(room)")
            try alice.expect("you joined #\(room)")
        }
        try alice.send("/join r4")
        _ = try alice.expectLine("the rate") { $0.hasPrefix("! rate-limited") && $0.contains("new rooms a minute") }
        // Another person from the same address is held by the address's count.
        let bob = try cluster[0].login("bob")
        try bob.send("/join r5")
        _ = try bob.expectLine("the address's rate") { $0.hasPrefix("! rate-limited") }
        try bob.send("/join r1")
        try bob.expect("you joined #r1")
        // The cap counts rooms with members or history: r1..r3 (the lobby too); with a fresh count, r6 and r7 fit,
        // r8 does not.
        _ = try cluster.redis.cli(["DEL", "chat:new-rooms:address:{127.0.0.1}", "chat:new-rooms:user:{bob}"])
        for room in ["r6", "r7"] {
            try bob.send("/join \(room)")
            try bob.expect("you joined #\(room)")
        }
        try bob.send("/join r8")
        _ = try bob.expectLine("the cap") { $0.hasPrefix("! store-full") }
    }

    @Test("a room joined and left without a word holds nothing and does not count against the cap")
    func vacantRoomsDoNotCount() throws {
        let cluster = try TestCluster(
            nodes: 1,
            nodeArguments: [
                "--room-creations-per-minute", "100", "--max-rooms", "4", "--rate-limit", "1000", "--rate-burst",
                "1000",
            ])
        let squatter = try cluster[0].login("squatter")
        for index in 1...10 {
            try squatter.send("/join empty\(index)")
            try squatter.expect("you joined #empty\(index)")
            try squatter.send("/leave empty\(index)")
            try squatter.expect("you left #empty\(index)")
        }
        // A room that was said something in keeps counting while its history lasts.
        try squatter.send("/join kept")
        try squatter.expect("you joined #kept")
        try squatter.send("hello, kept")
        #expect(eventually(timeout: 2) { (try? cluster.redis.cli(["EXISTS", "chat:history:{kept}"])) == "1" })
        try squatter.send("/leave kept")
        try squatter.expect("you left #kept")
        #expect(
            eventually(timeout: 2) { (try? cluster.redis.cli(["ZCARD", "chat:room-activity:{:room-index}"])) == "2" })
        // Someone else makes a real room: the cap (4: the lobby, #kept, and two more) has room for it.
        let alice = try cluster[0].login("alice")
        for room in ["real1", "real2"] {
            try alice.send("/join \(room)")
            try alice.expect("you joined #\(room)")
        }
        try alice.send("/join real3")
        _ = try alice.expectLine("the cap, now reached") { $0.hasPrefix("! store-full") }
    }

    @Test("an idle room's history expires by itself")
    func idleHistoryExpires() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--room-idle-days", "0.00002"])  // about 1.7 s
        let alice = try cluster[0].login("alice")
        try alice.send("/join quiet")
        try alice.expect("you joined #quiet")
        try alice.send("said once")
        #expect(eventually(timeout: 2) { (try? cluster.redis.cli(["EXISTS", "chat:history:{quiet}"])) == "1" })
        #expect(eventually(timeout: 6) { (try? cluster.redis.cli(["EXISTS", "chat:history:{quiet}"])) == "0" })
    }

    @Test("at Redis's memory limit a message is refused with store-full; connections, reads and direct messages go on")
    func memoryLimit() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        let alice = try cluster[0].loginJSON("alice")
        let bob = try cluster[0].login("bob")
        let used = try cluster.redis.cli(["MEMORY", "STATS"])  // warm up the command
        _ = used
        let info = try cluster.redis.cli(["INFO", "memory"])
        let current =
            info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
            .flatMap { Int($0.split(separator: ":")[1]) } ?? 0
        _ = try cluster.redis.cli(["CONFIG", "SET", "maxmemory", String(current + 300_000)])
        _ = try cluster.redis.cli(["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        defer { _ = try? cluster.redis.cli(["CONFIG", "SET", "maxmemory", "0"]) }
        let text = String(repeating: "m", count: 1900)
        var refused: [String: Any]?
        for index in 0..<2000 where refused == nil {
            try alice.sendJSON(["op": "say", "text": text, "id": "s\(index)"])
            let reply = try alice.expectEvent("the reply to \(index)") { $0["id"] as? String == "s\(index)" }
            if reply["type"] as? String == "error" { refused = reply }
        }
        let error = try #require(refused, "Redis never reached its limit")
        #expect(error["code"] as? String == "store-full")
        try alice.sendJSON(["op": "who", "id": "w"])
        _ = try alice.expectEvent("a read still works") { $0["id"] as? String == "w" && $0["type"] as? String == "who" }
        try alice.sendJSON(["op": "msg", "to": "bob", "text": "still here", "id": "d"])
        try bob.expectLine("the direct message") { $0.contains("*alice* still here") }
        try bob.send("/rooms")
        try bob.expect("room")
    }
}
