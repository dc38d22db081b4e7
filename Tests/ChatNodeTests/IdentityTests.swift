import ChatTestSupport
import Foundation
import Testing

/// Registered names and resume tokens, on real nodes and a real Redis: who may hold a name, and how a dropped
/// client gets its own back.
@Suite("Identity: registered names and resume tokens", .serialized)
struct IdentityTests {
    /// Cheap hashes: these tests are about who gets a name, not about the hash's cost (docs/benchmarks.md is).
    static let fastHashing = ["--scrypt-cost", "ln=10,r=8,p=1"]

    @Test("register, log in on another node with the right and the wrong password, change it, remove it")
    func accountLifecycle() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: Self.fastHashing)
        let secret = "correct horse battery"
        let alice = try cluster[0].login("alice")
        try alice.send("/register \(secret)")
        try alice.expect("* alice is registered")
        try alice.send("/quit")
        _ = alice.waitForClose()

        // Text mode on the other node: the name, then the password on the next line.
        let wrong = try cluster[1].connect()
        try wrong.expect("what is your name")
        try wrong.send("alice")
        try wrong.expect("! password-required")
        try wrong.send("not the password")
        try wrong.expect("! bad-password")
        // The next line is the password again, never a name (a retyped password must not become a nickname).
        try wrong.send(secret)
        try wrong.expect("* welcome alice")
        // A guest cannot take it in another case either: it is registered, whatever the case.
        let other = try cluster[0].connect()
        try other.expect("what is your name")
        try other.send("ALICE")
        try other.expect("! password-required")
        other.close()

        // JSON: hello with the password; a wrong one is refused, the right one welcomed.
        try wrong.send("/quit")
        _ = wrong.waitForClose()
        let program = try cluster[0].connect()
        try program.sendJSON(["op": "hello", "name": "alice", "password": "nope nope", "id": 1])
        let refused = try program.expectEvent(type: "error")
        #expect(refused["code"] as? String == "bad-password")
        try program.sendJSON(["op": "hello", "name": "alice", "id": 2])
        #expect(try program.expectEvent(type: "error")["code"] as? String == "password-required")
        try program.sendJSON(["op": "hello", "name": "alice", "password": secret, "id": 3])
        _ = try program.expectEvent(type: "welcome")

        // Change it (the old one must be right), then remove the registration.
        try program.sendJSON(["op": "password", "old": "wrong old one", "new": "another secret", "id": 4])
        #expect(try program.expectEvent(type: "error")["code"] as? String == "bad-password")
        try program.sendJSON(["op": "password", "old": secret, "new": "another secret", "id": 5])
        _ = try program.expectEvent("password changed") { ($0["text"] as? String) == "password changed" }
        try program.sendJSON(["op": "quit"])
        _ = program.waitForClose()
        let changed = try cluster[1].connect()
        try changed.sendJSON(["op": "hello", "name": "alice", "password": secret])
        #expect(try changed.expectEvent(type: "error")["code"] as? String == "bad-password")
        try changed.sendJSON(["op": "hello", "name": "alice", "password": "another secret"])
        _ = try changed.expectEvent(type: "welcome")
        try changed.sendJSON(["op": "unregister", "password": "another secret"])
        _ = try changed.expectEvent("unregistered") { ($0["text"] as? String ?? "").contains("guest name again") }
        try changed.sendJSON(["op": "quit"])
        _ = changed.waitForClose()
        // A guest now, for anyone.
        let guest = try cluster[0].login("alice")
        guest.close()

        // The passwords are in no log line and in no Redis value.
        let logs = cluster.nodes.map { $0.process.stdout() + $0.process.stderr() }.joined()
        for password in [secret, "another secret", "not the password", "nope nope", "wrong old one"] {
            #expect(!logs.contains(password), "a log line holds a password")
        }
        #expect(logs.contains("failed login"), "failed logins are logged")
        let everything = try Self.redisDump(cluster.redis)
        for password in [secret, "another secret"] { #expect(!everything.contains(password)) }
    }

    @Test("failed logins are limited per name: past the limit even the right password waits")
    func failedLoginsAreLimited() throws {
        let cluster = try TestCluster(
            nodes: 1, nodeArguments: Self.fastHashing + ["--login-failures", "3,100", "--proxy-protocol"])
        let owner = try cluster[0].connect(from: "198.51.100.20", "carol")
        try owner.sendJSON(["op": "hello", "name": "carol"])
        _ = try owner.expectEvent(type: "welcome")
        try owner.sendJSON(["op": "register", "password": "carols password"])
        _ = try owner.expectEvent(type: "ok")
        try owner.sendJSON(["op": "quit"])
        _ = owner.waitForClose()
        // From elsewhere: where the owner registered, the name's limit does not apply (LockoutTests).
        let guesser = try cluster[0].connect(from: "203.0.113.20")
        for guess in ["guess one", "guess two", "guess three"] {
            try guesser.sendJSON(["op": "hello", "name": "carol", "password": guess])
            #expect(try guesser.expectEvent(type: "error")["code"] as? String == "bad-password")
        }
        try guesser.sendJSON(["op": "hello", "name": "carol", "password": "carols password"])
        let locked = try guesser.expectEvent(type: "error")
        #expect(locked["code"] as? String == "rate-limited")
        #expect((locked["message"] as? String ?? "").contains("too many failed logins"))
    }

    @Test("a dropped user's name is held: a takeover fails, and their client resumes with its token and gets the DMs")
    func resumeAfterDrop() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: Self.fastHashing + ["--resume-grace", "20"])
        let watcher = try cluster[1].login("watcher")
        let alice = try cluster[0].connect("alice")
        try alice.sendJSON(["op": "hello", "name": "alice"])
        let welcome = try alice.expectEvent(type: "welcome")
        let token = try #require(welcome["resume"] as? String)
        #expect(token.count >= 22, "at least 128 bits")
        _ = try alice.expectEvent(type: "joined")
        try watcher.expect("alice joined #lobby")

        // Her connection drops: no /quit. Once her node has seen it, who shows her as reconnecting...
        alice.close()
        let held = eventually(timeout: 5) {
            (try? watcher.send("/who")) != nil
                && watcher.drain(timeout: 0.3).contains { $0.contains("alice") && $0.contains("(reconnecting)") }
        }
        #expect(held, "who shows alice as reconnecting")
        // ...nobody else can take the name meanwhile...
        let mallory = try cluster[1].connect("mallory")
        try mallory.expect("what is your name")
        try mallory.send("alice")
        _ = try mallory.expectLine("refused") { $0.hasPrefix("! name-taken") && $0.contains("reconnecting") }
        // ...and /seen says so, and a direct message to her waits for her.
        try watcher.send("/seen alice")
        try watcher.expect("alice lost their connection a moment ago")
        try watcher.send("/msg alice are you there?")
        try watcher.expect("-> *alice* are you there?")

        // Her client comes back (another node) with its token: the name at once, the DM, the room, no leave.
        let back = try cluster[1].connect("alice again")
        let started = Date()
        try back.sendJSON(["op": "hello", "name": "alice", "resume": token, "rooms": [["room": "lobby"]]])
        let resumed = try back.expectEvent(type: "welcome")
        #expect(Date().timeIntervalSince(started) < 1, "resumed within a second")
        #expect(resumed["time"] as? Int == welcome["time"] as? Int, "the session keeps its entry time")
        let direct = try back.expectEvent(type: "direct")
        #expect(direct["text"] as? String == "are you there?")
        _ = try back.expectEvent(type: "joined")
        let quiet = watcher.drain(timeout: 1)
        #expect(!quiet.contains { $0.contains("alice left") || $0.contains("alice joined") }, "\(quiet)")
        try watcher.send("/who")
        try watcher.expectLine("alice here again") {
            $0.contains("alice") && $0.contains("online") && !$0.contains("reconnecting")
        }
        // The old token was used up: the next resume needs the new welcome's token.
        #expect(resumed["resume"] as? String != token)
    }

    @Test("a client whose old connection still looks open resumes anyway, and the old one is closed as name-lost")
    func resumeWhileOldConnectionOpen() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: Self.fastHashing)
        let old = try cluster[0].connect("old")
        try old.sendJSON(["op": "hello", "name": "dora"])
        let token = try #require(try old.expectEvent(type: "welcome")["resume"] as? String)
        _ = try old.expectEvent(type: "joined")
        let new = try cluster[1].connect("new")
        try new.sendJSON(["op": "hello", "name": "dora", "resume": token])
        _ = try new.expectEvent(type: "welcome")
        let lost = try old.expectEvent(type: "error")
        #expect(lost["code"] as? String == "name-lost")
        #expect(old.waitForClose())
        // A stolen-looking token does nothing: a wrong one is just a plain claim of a taken name.
        let thief = try cluster[0].connect("thief")
        try thief.sendJSON(["op": "hello", "name": "dora", "resume": String(repeating: "A", count: 32)])
        #expect(try thief.expectEvent(type: "error")["code"] as? String == "name-taken")
    }

    @Test("/quit releases the name at once; a drop releases it when the grace period ends, with the leave notice then")
    func quitReleasesDropHolds() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: Self.fastHashing + ["--resume-grace", "2"])
        let watcher = try cluster[1].login("watcher")
        let quitter = try cluster[0].login("quitter")
        try quitter.send("/quit")
        try watcher.expect("quitter left #lobby (quit)")
        _ = try cluster[1].login("quitter")

        let dropper = try cluster[0].login("dropper")
        try watcher.expect("dropper joined #lobby")
        dropper.close()
        let taker = try cluster[1].connect()
        try taker.expect("what is your name")
        try taker.send("dropper")
        try taker.expect("! name-taken")
        try watcher.send("/msg dropper for your eyes only")
        try watcher.expect("-> *dropper*")
        try watcher.expect("dropper left #lobby (disconnected)", timeout: 6)
        // The message that waited for dropper went with the hold: whoever takes the name now cannot read it.
        #expect(try cluster.redis.keys("chat:held-directs:*").isEmpty)
        try taker.send("dropper")
        try taker.expect("* welcome dropper")
        #expect(!taker.drain(timeout: 1).contains { $0.contains("for your eyes only") })
    }

    /// Every key and value in Redis, as text.
    static func redisDump(_ redis: RedisServer) throws -> String {
        var all = ""
        for key in try redis.keys("*") {
            let type = try redis.cli(["TYPE", key])
            let read: [String] =
                switch type {
                case "string": ["GET", key]
                case "hash": ["HGETALL", key]
                case "list": ["LRANGE", key, "0", "-1"]
                case "set": ["SMEMBERS", key]
                case "zset": ["ZRANGE", key, "0", "-1"]
                case "stream": ["XRANGE", key, "-", "+"]
                default: ["TYPE", key]
                }
            all += key + "\n" + (try redis.cli(read)) + "\n"
        }
        return all
    }
}
