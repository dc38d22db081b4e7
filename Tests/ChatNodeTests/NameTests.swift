import ChatTestSupport
import Foundation
import Testing

/// Names are unique across the cluster, and come free again when their holder goes, however it goes.
@Suite("Cluster-wide names", .serialized)
struct NameTests {
    @Test("50 connections racing for one name on three nodes: exactly one wins")
    func fiftyWayRace() throws {
        let cluster = try TestCluster(nodes: 3)
        let clients = try (0..<50).map { index in try cluster[index % 3].connect("racer\(index)") }
        for client in clients { try client.expect("what is your name") }
        for client in clients { try client.send("Zed") }
        var welcomed = 0
        var taken = 0
        for client in clients {
            let line = try client.expectLine("the claim's outcome") { $0.hasPrefix("* welcome") || $0.hasPrefix("!") }
            if line.hasPrefix("* welcome") { welcomed += 1 }
            if line.hasPrefix("! name-taken") { taken += 1 }
        }
        #expect(welcomed == 1)
        #expect(taken == 49)
    }

    @Test("names are case-insensitive, validated, and a refused name can be retried on the same connection")
    func nameRules() throws {
        let cluster = try TestCluster(nodes: 2)
        let holder = try cluster[0].login("Alice")
        defer { holder.close() }
        let other = try cluster[1].connect()
        try other.expect("what is your name")
        try other.send("alice")
        try other.expect("! name-taken")
        try other.send("no spaces allowed")
        try other.expect("! name-invalid")
        try other.send("Admin")
        try other.expect("! name-invalid")
        try other.send(String(repeating: "x", count: 33))
        try other.expect("! name-invalid")
        try other.send("Émile")
        try other.expect("* welcome Émile")
    }

    @Test("a name that looks like one in use is refused as taken, saying whom it looks like")
    func lookAlikeTaken() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        defer { alice.close() }
        let cocoa = try cluster[0].login("cocoa")
        defer { cocoa.close() }
        let impostor = try cluster[1].connect("impostor")
        try impostor.expect("what is your name")
        try impostor.send("\u{0441}\u{043E}\u{0441}\u{043E}\u{0430}")  // all Cyrillic, looks like cocoa
        _ = try impostor.expectLine("the refusal") { $0.hasPrefix("! name-taken") && $0.contains("looks like cocoa") }
        try impostor.send("\u{FF41}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}")  // fullwidth admin
        _ = try impostor.expectLine("reserved") { $0.hasPrefix("! name-invalid") }
        try impostor.send("\u{0430}lice")  // Cyrillic а with Latin lice
        _ = try impostor.expectLine("mixed scripts") { $0.hasPrefix("! name-invalid") && $0.contains("mix scripts") }
        try impostor.send("alice\u{FE0F}")
        _ = try impostor.expectLine("invisible") { $0.hasPrefix("! name-invalid") && $0.contains("invisible") }
        try impostor.send("mallory")
        try impostor.expect("welcome mallory")
        try impostor.send("hello bob \u{202E}reversed?")
        try alice.expectLine("the message, without its override") { $0.hasSuffix("<mallory> hello bob reversed?") }
    }

    @Test("a capital I for a small l: aIice is refused while alice is here, and while alice is registered")
    func capitalILooksLikeSmallL() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--scrypt-cost", "ln=10,r=8,p=1"])
        let alice = try cluster[0].login("alice9x")
        let impostor = try cluster[1].connect("impostor")
        try impostor.expect("what is your name")
        try impostor.send("aIice9x")  // capital i
        _ = try impostor.expectLine("the refusal") { $0.hasPrefix("! name-taken") && $0.contains("looks like alice9x") }
        // Registered and gone: still refused, as the registered name itself would ask for its password.
        try alice.send("/register correct horse")
        try alice.expect("is registered")
        try alice.send("/quit")
        _ = alice.waitForClose()
        try impostor.send("aIice9x")
        _ = try impostor.expectLine("the refusal") { $0.hasPrefix("! name-taken") && $0.contains("looks like alice9x") }
        // Names that only share letters are not look-alikes: ALICE9X is alice9x itself (its password), bob is free.
        try impostor.send("ALICE9X")
        try impostor.expect("password-required")
    }

    @Test("a name is free again as soon as its holder disconnects, and the room is told")
    func releasedOnDisconnect() throws {
        let cluster = try TestCluster(nodes: 2)
        let watcher = try cluster[1].login("watcher")
        let alice = try cluster[0].login("alice")
        try watcher.expect("alice joined #lobby")
        alice.close()
        try watcher.expect("alice left #lobby (disconnected)")
        _ = try cluster[1].login("alice")
    }

    @Test("kill -9 of a node: within claim-ttl + 5 s its users leave with one notice each and their names are free")
    func killedNodeIsCleanedUp() throws {
        let cluster = try TestCluster(nodes: 2)  // claim TTL 3 s
        let watcher = try cluster[1].login("watcher")
        try watcher.send("/join dev")
        try watcher.expect("you joined #dev")
        let doomed = try cluster[0].login("doomed")
        try doomed.send("/join dev")
        try doomed.expect("you joined #dev")
        try watcher.expect("doomed joined #dev")

        let killedAt = Date()
        cluster[0].kill9()
        var notices: [String] = []
        let deadline = killedAt.addingTimeInterval(3 + 5)
        while notices.count < 2, let line = watcher.readLine(timeout: max(0, deadline.timeIntervalSinceNow)) {
            if line.contains("doomed left") { notices.append(line) }
        }
        #expect(notices.count == 2, "one notice per room: \(notices)")
        #expect(notices.allSatisfy { $0.contains("(connection lost)") })
        #expect(Date().timeIntervalSince(killedAt) < 8)
        #expect(watcher.drain(timeout: 1.5).filter { $0.contains("doomed left") }.isEmpty, "no duplicate notices")

        try watcher.send("/who dev")
        try watcher.expect("1 person in #dev")
        _ = try cluster[1].login("doomed")
    }
}
