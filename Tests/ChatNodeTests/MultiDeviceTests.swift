import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// One registered name connected from several places at once (issue 30), over real sockets against real nodes and
/// Redis: every connection gets the rooms and direct messages, sees what the others sent, follows their joins and
/// leaves and read markers; the limit holds; one connection's quit, drop or node's death leaves the others whole.
@Suite("One person on many devices", .serialized)
struct MultiDeviceTests {
    /// Registers `name` on `node` and leaves; answers the password.
    static func register(_ name: String, on node: NodeProcess) throws -> String {
        let password = "\(name)'s secret"
        let client = try node.loginJSON(name)
        try client.sendJSON(["op": "register", "password": password, "id": 2])
        _ = try client.expectEvent(type: "ok")
        try client.sendJSON(["op": "quit"])
        _ = client.waitForClose()
        return password
    }

    /// Logs `name` in with its password on `node`; answers the connection and the rooms it was put in.
    static func device(
        _ name: String, password: String, on node: NodeProcess, label: String, rooms: Int = 1
    ) throws -> TestSocket {
        let client = try node.connect(label)
        try client.sendJSON(["op": "hello", "name": name, "password": password, "id": 1])
        _ = try client.expectEvent(type: "welcome")
        for _ in 0..<rooms { _ = try client.expectEvent(type: "joined") }
        return client
    }

    @Test(
        "connections of one registered name on several nodes: each gets every room message and DM, sees the others', follows their joins, leaves and read markers; the limit holds; a quit or a dead node leaves the others whole, and the last one's death frees the name"
    )
    func twoDevices() throws {
        let cluster = try TestCluster(
            nodes: 3,
            nodeArguments: [
                "--scrypt-cost", "ln=10,r=8,p=1", "--connections-per-name", "2", "--connection-seniority", "0",
                "--irc-port", "0",
            ])
        let password = try Self.register("alice", on: cluster[0])
        let laptop = try Self.device("alice", password: password, on: cluster[0], label: "laptop")
        try laptop.sendJSON(["op": "join", "room": "team", "id": 2])
        _ = try laptop.expectEvent(type: "joined")
        let bob = try cluster[0].login("bob")
        try bob.send("/join team")
        try bob.expect("you joined #team")

        // The phone logs in on the other node: the laptop stays, and the phone is in both rooms, quietly.
        var phone = try cluster[1].connect("phone")
        try phone.sendJSON(["op": "hello", "name": "alice", "password": password, "id": 1])
        let phoneResume = try #require(try phone.expectEvent(type: "welcome")["resume"] as? String)
        _ = try phone.expectEvent(type: "joined")
        _ = try phone.expectEvent(type: "joined")
        #expect(!laptop.drain(timeout: 0.3).contains { $0.contains("name-lost") }, "the laptop keeps its session")
        #expect(bob.drain(timeout: 0.2).filter { $0.contains("alice joined") }.isEmpty, "no second join notice")

        // Everything in the rooms reaches both; what one says, the other sees as said by alice.
        try bob.send("hello alice")
        for device in [laptop, phone] {
            _ = try device.expectEvent("bob's message") { $0["text"] as? String == "hello alice" }
        }
        try laptop.sendJSON(["op": "say", "text": "from the laptop", "id": 3])
        _ = try laptop.expectEvent("acknowledged") { $0["type"] as? String == "message" && $0["id"] as? Int == 3 }
        let seen = try phone.expectEvent("the laptop's message") { $0["text"] as? String == "from the laptop" }
        #expect(seen["from"] as? String == "alice", "\(seen)")
        try bob.expect("<alice> from the laptop")

        // Direct messages: to alice, both get it; from alice, the other shows it as sent.
        try bob.send("/msg alice psst")
        for device in [laptop, phone] {
            _ = try device.expectEvent("bob's DM") {
                $0["type"] as? String == "direct" && $0["text"] as? String == "psst"
            }
        }
        try phone.sendJSON(["op": "msg", "to": "bob", "text": "from the phone", "id": 4])
        let sent = try laptop.expectEvent("the phone's DM") {
            $0["type"] as? String == "direct" && $0["text"] as? String == "from the phone"
        }
        #expect(sent["from"] as? String == "alice" && sent["to"] as? String == "bob", "\(sent)")
        try bob.expect("from the phone")

        // A join on one is a join on both; a leave too.
        try phone.sendJSON(["op": "join", "room": "plans", "id": 5])
        _ = try phone.expectEvent(type: "joined")
        let followed = try laptop.expectEvent(type: "joined")
        #expect(followed["room"] as? String == "plans", "\(followed)")
        try laptop.sendJSON(["op": "leave", "room": "team", "id": 6])
        let own = try laptop.expectEvent(type: "left")
        let left = try phone.expectEvent(type: "left")
        #expect(
            left["room"] as? String == "team" && Set(left.keys) == Set(own.keys).subtracting(["id"]),
            "as its own leave: \(left), \(own)")
        try bob.expect("alice left #team")
        try bob.send("still there?")
        #expect(!phone.drain(timeout: 0.5).contains { $0.contains("still there?") }, "out of #team on the phone too")

        // Reading on one moves the other's marker.
        try bob.send("/join lobby")
        try bob.send("one for the lobby")
        let unread = try laptop.expectEvent("in the lobby") { $0["text"] as? String == "one for the lobby" }
        _ = try phone.expectEvent("in the lobby") { $0["text"] as? String == "one for the lobby" }
        let id = try #require(unread["msgid"] as? String)
        try laptop.sendJSON(["op": "read", "room": "lobby", "msgid": id, "id": 7])
        let marker = try phone.expectEvent("the laptop's marker") { $0["type"] as? String == "read" }
        #expect(marker["msgid"] as? String == id && marker["room"] as? String == "lobby", "\(marker)")

        // The phone's connection drops: it comes back with its resume token alone, and nobody is told anything.
        phone.close()
        phone = try cluster[1].connect("phone again")
        try phone.sendJSON(["op": "hello", "name": "alice", "resume": phoneResume, "id": 1])
        _ = try phone.expectEvent(type: "welcome")
        _ = try phone.expectEvent(type: "joined")
        _ = try phone.expectEvent(type: "joined")
        #expect(!bob.drain(timeout: 0.3).contains { $0.contains("alice") }, "nothing told of the phone's drop")
        #expect(!laptop.received.contains { $0.contains("name-lost") })

        // The limit: a third login takes the oldest connection's place (the laptop is told, and closed); the name
        // never has more than two, and nobody else is told anything.
        let third = try Self.device("alice", password: password, on: cluster[1], label: "third", rooms: 2)
        let replaced = try laptop.expectEvent(type: "error")
        #expect(replaced["code"] as? String == "replaced", "\(replaced)")
        #expect(laptop.waitForClose())

        // The third quits: the phone stays, nobody is told alice left, and she is still online.
        try third.sendJSON(["op": "quit"])
        _ = third.waitForClose()
        try bob.send("/whois alice")
        try bob.expect("alice")
        #expect(!bob.drain(timeout: 0.5).contains { $0.contains("alice left") || $0.contains("alice quit") })
        try bob.send("/msg alice only the phone now")
        _ = try phone.expectEvent("the DM") { $0["text"] as? String == "only the phone now" }

        // An IRC client logs in with the password beside the phone: in her rooms at once, the phone's messages as
        // her own (echo-message's form), its direct messages shown to the phone as sent.
        let irc = try TestSocket(port: try #require(cluster[0].ircPort), name: "irc-alice")
        try irc.send("PASS :\(password)")
        try irc.send("NICK alice")
        try irc.send("USER alice 0 * :Alice")
        _ = try irc.expectLine("welcome") { $0.contains(" 001 alice ") }
        // In both rooms once each JOIN's names are listed (what is said before that is the history of the join).
        var joined: Set<String> = []
        while joined.count < 2 {
            let names = try irc.expectLine("the rooms' names") { $0.contains(" 366 alice ") }
            joined.insert(String(names.split(separator: " ")[3]))
        }
        #expect(joined == ["#lobby", "#plans"])
        try phone.sendJSON(["op": "say", "room": "lobby", "text": "from the phone", "id": 9])
        _ = try irc.expectLine("the phone's message") {
            $0.hasPrefix(":alice!") && $0.hasSuffix("PRIVMSG #lobby :from the phone")
        }
        try irc.send("PRIVMSG bob :from irc")
        let fromIRC = try phone.expectEvent("the IRC client's DM") { $0["text"] as? String == "from irc" }
        #expect(fromIRC["from"] as? String == "alice" && fromIRC["to"] as? String == "bob", "\(fromIRC)")
        try irc.send("QUIT :bye")
        _ = irc.waitForClose()
        #expect(!bob.drain(timeout: 0.3).contains { $0.contains("alice left") }, "the phone stays")

        // A second connection on node 2, then node 1 (the phone's) is killed: node 2's keeps the name and the
        // rooms past the reaper (claim TTL 3 s), and nobody is told alice left (the claim's token is node 0's).
        let again = try Self.device("alice", password: password, on: cluster[2], label: "tablet", rooms: 2)
        cluster[1].kill9()
        // Reaped once the list of her connections is gone (one left: the session's own fields say it all).
        let redis = try TestSocket(port: cluster.redis.port, name: "redis")
        #expect(
            eventually(timeout: 10) {
                (try? redis.send("EXISTS chat:session:{alice}:conns")) != nil && redis.readLine(timeout: 1) == ":0"
            })
        #expect(!bob.drain(timeout: 0.5).contains { $0.contains("alice left") }, "\(bob.received.suffix(5))")
        try again.sendJSON(["op": "say", "room": "lobby", "text": "still mine", "id": 8])
        _ = try again.expectEvent("acknowledged") { $0["type"] as? String == "message" && $0["id"] as? Int == 8 }
        try bob.expect("<alice> still mine")
        #expect(!again.received.contains { $0.contains("name-lost") })

        // Node 2 dies too: now alice is gone (her rooms are told), and her name is free for her password at once.
        cluster[2].kill9()
        _ = try bob.expectLine("alice's departure", where: { $0.contains("alice left") }, timeout: 12)
        let back = try Self.device("alice", password: password, on: cluster[0], label: "back")

        // Whoever else had the password is out with it when she changes it: her other connection is closed, and
        // its resume token does not bring it back.
        let other = try cluster[0].connect("other")
        try other.sendJSON(["op": "hello", "name": "alice", "password": password, "id": 1])
        let otherResume = try #require(try other.expectEvent(type: "welcome")["resume"] as? String)
        let departures = bob.received.filter { $0.contains("alice left") }.count
        try back.sendJSON(["op": "password", "old": password, "new": "a new secret", "id": 2])
        _ = try back.expectEvent(type: "ok")
        let lost = try other.expectEvent(type: "error")
        #expect(lost["code"] as? String == "name-lost", "\(lost)")
        #expect(other.waitForClose())
        let retry = try cluster[0].connect("other again")
        try retry.sendJSON(["op": "hello", "name": "alice", "resume": otherResume, "id": 1])
        let asked = try retry.expectEvent(type: "error")
        #expect(asked["code"] as? String == "password-required", "\(asked)")
        try back.sendJSON(["op": "say", "room": "lobby", "text": "mine alone", "id": 3])
        try bob.expect("<alice> mine alone")
        #expect(bob.received.filter { $0.contains("alice left") }.count == departures, "nobody was told anything")
    }

    /// The terminal client's room bar: the screen's first line.
    static func bar(_ screen: String) -> String { String(screen.split(separator: "\n").first ?? "") }

    @Test(
        "one registered name in Chromium on one node and in the terminal client (tmux) on the other: both get every room message and DM, see what the other sent, follow its joins, and agree on unread counts after one reads"
    )
    func pageAndTerminal() throws {
        let cluster = try TestCluster(
            nodes: 2,
            nodeArguments: [
                "--scrypt-cost", "ln=10,r=8,p=1", "--connections-per-name", "2",
            ])
        let password = try Self.register("dana", on: cluster[0])
        let bob = try cluster[0].login("bob")

        let browser = try WebDriver(logDirectory: cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(cluster[0].httpPort)/")
        try browser.type("dana", into: "#name")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#login-error") { $0.contains("registered") }
        try browser.type(password, into: "#password")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#status") { $0.contains("dana on node") }

        let passwordFile = cluster.logDirectory + "/dana.password"
        try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let tmux = try Tmux(
            command: "env TERM=screen LANG=C.UTF-8 \(TestEnvironment.binDirectory)/chat --name dana "
                + "--server 127.0.0.1:\(cluster[1].port) --password-file \(passwordFile) 2>\(cluster.logDirectory)/chat-dana.log",
            columns: 100, rows: 30)
        try tmux.waitFor("the terminal client in the lobby") { $0.contains("connected to n") && $0.contains("#lobby") }
        #expect(try browser.text("#status").contains("dana on node"), "the page keeps its session")

        // The terminal joins #dev: the page is in it too, without leaving the room it shows.
        try tmux.type("/join dev")
        try tmux.press("Enter")
        try tmux.waitFor("#dev in the bar") { Self.bar($0).contains("#dev") }
        try browser.waitForText("#rooms") { $0.contains("#dev") }
        #expect(try browser.text("#room-title") == "#lobby")
        try tmux.press("C-n")
        try tmux.waitFor("the lobby on screen") { $0.contains("People (2)") }

        // What one says, the other shows as dana's; and bob's messages reach both.
        try browser.say("from the page")
        try tmux.waitFor("the page's message") { $0.contains("<dana> from the page") }
        _ = try bob.expectLine("the page's message") { $0.hasSuffix("<dana> from the page") }
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try tmux.type("from the terminal")
        try tmux.press("Enter")
        _ = try bob.expectLine("the terminal's message") { $0.hasSuffix("<dana> from the terminal") }

        // Direct messages: bob's reach both; what the terminal sends, the page shows as sent.
        try bob.send("/msg dana for both of you")
        try tmux.waitFor("bob's DM") { $0.contains("for both of you") }
        try browser.waitForText("#log") { $0.contains("for both of you") }
        try tmux.type("/msg bob privately, from the terminal")
        try tmux.press("Enter")
        _ = try bob.expectLine("the DM") { $0.contains("privately, from the terminal") }
        try browser.waitForText("#log") { $0.contains("→ bob: privately, from the terminal") }

        // Both look at the lobby while bob writes in #dev: one unread there on both. The page reads #dev: the
        // terminal's count goes too.
        try bob.send("news in dev")
        let counted = try tmux.waitFor("one unread in #dev") { $0.contains("#dev (1)") }
        #expect(counted.contains("#lobby"))
        try browser.waitForText("#rooms") { $0.contains("#dev1") }
        _ = try browser.execute(
            "[...document.querySelectorAll('#rooms button')].find((b) => b.textContent.startsWith('#dev')).click()")
        try browser.waitForText("#log") { $0.contains("news in dev") }
        try tmux.waitFor("#dev read on the other device") { Self.bar($0).contains("#dev") && !$0.contains("#dev (") }

        #expect(!browser.consoleLog().contains("SEVERE"), "\(browser.consoleLog())")

        // A third login, past this deployment's limit of two while both are under a minute old, is refused; the
        // two stay. (Taking the oldest one's place is in `twoDevices`.)
        let third = try cluster[1].connect("third")
        try third.sendJSON(["op": "hello", "name": "dana", "password": password, "id": 1])
        let refused = try third.expectEvent(type: "error")
        #expect(refused["code"] as? String == "too-many-connections", "\(refused)")
        try bob.send("/msg dana still both?")
        try tmux.waitFor("the DM after the refusal") { $0.contains("still both?") }
        try browser.waitForText("#log") { $0.contains("still both?") }
    }
}
