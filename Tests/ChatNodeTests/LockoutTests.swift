import ChatTestSupport
import Foundation
import Testing

/// Who can lock whom out of a registered name, or out of logging in at all: strangers' guesses lock strangers, not
/// the owner at an address they logged in from; a check that was never made counts for nothing; what a neighbour
/// behind the same address does without any hashing costs the others nothing.
@Suite("Lockouts: guessing locks the guesser, not the owner", .serialized)
struct LockoutTests {
    static let arguments = ["--proxy-protocol", "--scrypt-cost", "ln=10,r=8,p=1"]
    static let owner = "198.51.100.7"
    static let stranger = "203.0.113.66"

    /// Registers `name` with `password` from `address`, then quits.
    static func register(_ name: String, _ password: String, from address: String, on node: NodeProcess) throws {
        let client = try node.connect(from: address, name)
        try client.sendJSON(["op": "hello", "name": name])
        _ = try client.expectEvent(type: "welcome")
        try client.sendJSON(["op": "register", "password": password])
        _ = try client.expectEvent(type: "ok")
        try client.sendJSON(["op": "quit"])
        _ = client.waitForClose()
    }

    /// A `hello` with a password on a new connection from `address`: the event that answers it.
    static func login(
        _ name: String, _ password: String, from address: String, on node: NodeProcess
    ) throws
        -> [String: Any]
    {
        let client = try node.connect(from: address, name)
        try client.sendJSON(["op": "hello", "name": name, "password": password])
        let answer = try client.expectEvent("welcome or error") {
            ["welcome", "error"].contains($0["type"] as? String)
        }
        try? client.sendJSON(["op": "quit"])
        return answer
    }

    @Test("ten wrong passwords from a stranger lock the name for strangers, not for its owner at home")
    func strangerCannotLockOwnerOut() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: Self.arguments)
        try Self.register("keeper9x", "the right one", from: Self.owner, on: cluster[0])
        let guesser = try cluster[0].connect(from: Self.stranger, "guesser")
        for guess in 1...10 {
            try guesser.sendJSON(["op": "hello", "name": "keeper9x", "password": "guess \(guess)"])
            #expect(try guesser.expectEvent(type: "error")["code"] as? String == "bad-password")
        }
        // Strangers are locked out, even with the right password...
        let elsewhere = try Self.login("keeper9x", "the right one", from: "192.0.2.200", on: cluster[0])
        #expect(elsewhere["code"] as? String == "rate-limited", "\(elsewhere)")
        // ...the owner, where they registered, is not.
        let home = try Self.login("keeper9x", "the right one", from: Self.owner, on: cluster[0])
        #expect(home["type"] as? String == "welcome", "\(home)")
    }

    @Test("checks refused because the hasher is busy are not counted: honest retries lock nobody out")
    func busyRefusalsAreNotFailures() throws {
        let cluster = try TestCluster(
            nodes: 1,
            nodeArguments: [
                // A hash slow enough (about 0.1 s) that the checks overlap.
                "--proxy-protocol", "--scrypt-cost", "ln=14,r=8,p=2", "--password-checks-per-address", "1",
                "--login-failures", "3,100",
            ])
        try Self.register("retry9x", "patience", from: Self.owner, on: cluster[0])
        // Another user at the stranger's address keeps its one check slot busy, changing their password over and
        // over (twenty changes sent at once, each a check and a hash)...
        let hog = try cluster[0].connect(from: Self.stranger, "hog")
        try hog.sendJSON(["op": "hello", "name": "hog9x"])
        _ = try hog.expectEvent(type: "welcome")
        try hog.sendJSON(["op": "register", "password": "first one"])
        _ = try hog.expectEvent(type: "ok")
        for change in 0..<20 {
            let (old, new) = change % 2 == 0 ? ("first one", "second one") : ("second one", "first one")
            try hog.sendJSON(["op": "password", "old": old, "new": new])
        }
        // ...while retry9x, travelling, logs in from there with the right password, again and again.
        var refusedAsBusy = 0
        for _ in 0..<20 {
            let answer = try Self.login("retry9x", "patience", from: Self.stranger, on: cluster[0])
            if (answer["message"] as? String ?? "").contains("checks running already") { refusedAsBusy += 1 }
            #expect(answer["code"] as? String != "bad-password")
            if answer["type"] as? String == "welcome" || refusedAsBusy >= 6 { break }
            usleep(50_000)
        }
        #expect(refusedAsBusy >= 3, "checks were refused as busy: \(refusedAsBusy)")
        // A third address, never seen: the name is not locked.
        let answer = try Self.login("retry9x", "patience", from: "192.0.2.201", on: cluster[0])
        #expect(answer["type"] as? String == "welcome", "\(answer)")
    }

    @Test("passwords for names nobody registered check nothing and lock nobody behind the same address")
    func unregisteredNamesCostNothing() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: Self.arguments)
        try Self.register("natuser9x", "shared address", from: "192.0.2.202", on: cluster[0])
        let prankster = try cluster[0].connect(from: Self.owner, "prankster")
        for index in 1...31 {
            usleep(110_000)  // within the line rate
            try prankster.sendJSON(["op": "hello", "name": "nobody\(index)x", "password": "whatever"])
            #expect(try prankster.expectEvent(type: "error")["code"] as? String == "bad-password")
        }
        // Another person behind the same address logs in at once.
        let answer = try Self.login("natuser9x", "shared address", from: Self.owner, on: cluster[0])
        #expect(answer["type"] as? String == "welcome", "\(answer)")
    }
}
