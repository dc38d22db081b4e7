import ChatTestSupport
import Foundation
import Testing

/// scripts/migrate-redis-keys.sh on the keys a version before hash-tagged keys left: what must outlive the
/// upgrade (registered names, /seen, history, topics, the room index) does, and nothing stale is left behind.
@Suite("migrating Redis keys from the untagged layout")
struct KeyMigrationTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    @Test("registered names log in with their passwords, /seen, history and topics are kept, stale sessions are gone")
    func upgrade() throws {
        let redis = try RedisServer()
        do {
            // What the old version would have stored, made by today's node and then given the old names.
            let cluster = try TestCluster(nodes: 1, nodeArguments: IdentityTests.fastHashing, redis: redis)
            let alice = try cluster[0].login("alice")
            try alice.send("/register correct horse battery")
            try alice.expect("* alice is registered")
            try alice.send("/join dev")
            try alice.expect("you joined #dev")
            try alice.send("/topic the old days")
            try alice.expect("the old days")
            try alice.send("said before the upgrade")
            let bob = try cluster[0].login("bob")
            try bob.send("/quit")
            #expect(bob.waitForClose())
            try alice.send("/quit")
            #expect(alice.waitForClose())
            #expect(eventually(timeout: 3) { (try? redis.cli(["EXISTS", "chat:name:{alice}"])) == "0" })
        }
        for (new, old) in [
            ("chat:account:{alice}", "chat:account:alice"), ("chat:seen:{alice}", "chat:seen:alice"),
            ("chat:seen:{bob}", "chat:seen:bob"), ("chat:room-activity:{:room-index}", "chat:room-activity"),
            ("chat:room-looks:{:room-index}", "chat:room-looks"),
        ] {
            #expect(try redis.cli(["RENAME", new, old]) == "OK", "\(new)")
        }
        // A node that died with the old version: its claim, session, membership and heartbeat set.
        for command in [
            ["SET", "chat:name:carol", "dead:1"], ["HSET", "chat:session:carol", "name", "carol", "inc", "dead"],
            ["SADD", "chat:session:carol:rooms", "dev"], ["HSET", "chat:members:{dev}", "carol", "dead"],
            ["SADD", "chat:incarnations", "dead"], ["SADD", "chat:incarnation:dead:users", "carol"],
            ["SADD", "chat:rooms", "dev"],
        ] { _ = try redis.cli(command) }

        // Somebody registered "dave" under the new version before the migration, and the old version had a "dave".
        _ = try redis.cli(["HSET", "chat:account:dave", "name", "dave", "hash", "old"])
        _ = try redis.cli(["HSET", "chat:account:{dave}", "name", "dave", "hash", "new"])

        let script = Self.repositoryRoot.appendingPathComponent("scripts/migrate-redis-keys.sh").path
        // A node still heartbeating: refused, nothing touched.
        _ = try redis.cli(["SET", "chat:incarnation:{alive}", "n9"])
        let refused = try Self.run(script, ["-p", String(redis.port)])
        #expect(refused.contains("nodes are running"), "\(refused)")
        #expect(try redis.cli(["EXISTS", "chat:account:alice"]) == "1")
        _ = try redis.cli(["DEL", "chat:incarnation:{alive}"])

        let output = try Self.run(script, ["-p", String(redis.port)])
        #expect(output.contains("5 keys renamed"), "\(output)")
        #expect(output.contains("chat:account:dave"), "\(output)")
        #expect(
            try redis.keys("chat:*").sorted() == [
                "chat:account:dave", "chat:account:{alice}", "chat:account:{dave}", "chat:history:{dev}",
                "chat:room-activity:{:room-index}", "chat:room-looks:{:room-index}", "chat:seen-index",
                "chat:seen:{alice}",
                "chat:seen:{bob}", "chat:topic:{dev}",
            ])
        #expect(
            try redis.cli(["HGET", "chat:account:{dave}", "hash"]) == "new", "the newer registration is not overwritten"
        )
        #expect(
            try Self.run(script, ["-p", String(redis.port)]).contains("0 keys renamed"),
            "a second run changes nothing kept")

        let cluster = try TestCluster(nodes: 1, nodeArguments: IdentityTests.fastHashing, redis: redis)
        let alice = try cluster[0].connect()
        try alice.sendJSON(["op": "hello", "name": "alice", "id": 1])
        #expect(try alice.expectEvent(type: "error")["code"] as? String == "password-required", "still registered")
        try alice.sendJSON(["op": "hello", "name": "alice", "password": "correct horse battery", "id": 2])
        _ = try alice.expectEvent(type: "welcome")
        try alice.sendJSON(["op": "join", "room": "dev", "id": 3])
        let joined = try alice.expectEvent("joined dev") {
            $0["type"] as? String == "joined" && $0["room"] as? String == "dev"
        }
        let texts = (joined["history"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        #expect(texts.contains("said before the upgrade"))
        let topic = try alice.expectEvent(type: "topic")
        #expect(topic["text"] as? String == "the old days")
        let watcher = try cluster[0].login("watcher")
        try watcher.send("/seen bob")
        try watcher.expectLine("bob was seen") { $0.contains("bob") && !$0.contains("never") }
        try watcher.send("/who dev")
        try watcher.expect("1 person in #dev")
    }

    static func run(_ script: String, _ arguments: [String]) throws -> String {
        try TestEnvironment.output(of: "/bin/bash", [script] + arguments)
    }
}
