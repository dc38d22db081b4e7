// One file because every test here runs the same two-node cluster with a listed operator, one power each, and
// reads as docs/moderation.md's "Server operators" and docs/admin-api.md do.
import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// Server operators and the admin API across two nodes: what the operator, the person acted on and everyone else
/// see, in text mode, JSON and IRC.
@Suite("Server operators and the admin API", .serialized)
struct ServerOperatorTests {
    static let secret = "operator password 1"
    static let token = String(repeating: "0123456789abcdef", count: 4)

    /// Two nodes listing `opal` (registered by the tests) and `mallory` (never registered) as operators, with
    /// cheap password hashes, IRC and the admin API; `proxied`: every client connects with a PROXY header (as from
    /// a balancer), so tests can pick their addresses.
    static func cluster(proxied: Bool = false) throws -> TestCluster {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("admin-token-\(UUID().uuidString)")
        try (token + "\n").write(to: file, atomically: true, encoding: .utf8)
        return try TestCluster(
            nodes: 2,
            nodeArguments: [
                "--scrypt-cost", "ln=10,r=8,p=1", "--operators", "opal, mallory", "--admin-token-file", file.path,
                "--irc-port", "0",
            ] + (proxied ? ["--proxy-protocol"] : []))
    }

    /// Registers `name`, then logs in again with the password on `node` (a registered name operates only so).
    static func registeredLogin(
        _ cluster: TestCluster, _ name: String, node: Int = 0, from address: String? = nil
    ) throws -> TestSocket {
        let first = try address.map { try login(cluster, node: node, from: $0, name) } ?? cluster[node].login(name)
        try first.send("/register \(secret)")
        try first.expect("\(name) is registered")
        try first.send("/quit")
        _ = first.waitForClose()
        let client = try address.map { try cluster[node].connect(from: $0, name) } ?? cluster[node].connect(name)
        try client.expect("what is your name")
        try client.send(name)
        try client.expect("! password-required")
        try client.send(secret)
        try client.expect("* welcome \(name)")
        return client
    }

    /// A text client at `address` (as a trusted proxy says), named `name`.
    static func login(_ cluster: TestCluster, node: Int, from address: String, _ name: String) throws -> TestSocket {
        let client = try cluster[node].connect(from: address, name)
        try client.expect("what is your name")
        try client.send(name)
        try client.expect("* welcome \(name)")
        return client
    }

    static func admin(
        _ cluster: TestCluster, _ method: String, _ path: String, _ body: [String: Any]? = nil
    )
        throws -> (status: Int, object: [String: Any])
    {
        let json = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let reply = try HTTPRequest.send(port: cluster[0].opsPort, method: method, path: path, token: token, json: json)
        return (reply.status, HTTPRequest.object(reply.body))
    }

    @Test(
        "a listed registered name operates once logged in; a guest under a listed name does not; announcements, WALLOPS and the MOTD reach every protocol on both nodes"
    )
    func operatorsAnnouncementsAndMOTD() throws {
        let cluster = try Self.cluster()
        let opal = try Self.registeredLogin(cluster, "opal")
        try opal.expect("you are one of this server's operators")
        // mallory is listed but not registered: a guest who takes the name operates nothing.
        let mallory = try cluster[1].login("mallory")
        try mallory.send("/announce free pizza")
        try mallory.expect("! not-server-operator")
        let bob = try cluster[1].login("bob")
        let carol = try cluster[1].loginJSON("carol")
        let dave = try cluster[0].ircLogin("dave")
        try dave.send("OPER dave password")
        try dave.expect(" 491 dave ")
        try dave.send("KILL bob :bye")
        try dave.expect(" 481 dave ")

        try opal.send("/announce maintenance at noon")
        try opal.expect("announced to everyone connected")
        try bob.expect("announcement from opal to everyone: maintenance at noon")
        let announced = try carol.expectEvent(type: "announcement")
        #expect(announced["from"] as? String == "opal" && announced["text"] as? String == "maintenance at noon")
        try dave.expectLine("a NOTICE to $*") {
            $0.hasSuffix(":\(IRCRenderer.mask("opal")) NOTICE $* :maintenance at noon")
        }

        // WALLOPS reaches the operators only.
        try opal.send("/wallops who broke the build")
        try opal.expect("announcement from opal to the operators: who broke the build")
        #expect(!bob.drain().contains { $0.contains("who broke the build") })

        // The message of the day: at every login after, on every node and protocol; /motd shows it.
        try opal.send("/motd Be kind. The rules: https://example.org/rules")
        try opal.expect("the message of the day is set")
        // Nodes read it again when told; a login right after may come before that, so a moment is allowed.
        #expect(eventually(timeout: 5) { (try? Self.motdShown(cluster)) == true })
        let erin = try cluster[1].loginJSON("erin")
        try erin.sendJSON(["op": "motd", "id": "m"])
        #expect(
            try erin.expectEvent(type: "motd")["text"] as? String == "Be kind. The rules: https://example.org/rules")
        let frank = try cluster[0].ircLogin("frank")
        try frank.send("MOTD")
        try frank.expect(" 375 frank ")
        try frank.expect(" 372 frank :- Be kind.")
        try frank.expect(" 376 frank ")
        try opal.send("/motd -delete")
        try opal.expect("the message of the day is cleared")
        // The other node reads it again when told: within a moment, /motd there says there is none.
        #expect(
            eventually(timeout: 5) {
                (try? bob.send("/motd")) != nil
                    && bob.drain(timeout: 0.3).contains { $0.contains("no message of the day") }
            })
    }

    /// Whether a new text login on the second node is shown the message of the day.
    static func motdShown(_ cluster: TestCluster) throws -> Bool {
        let lines = try newcomer(cluster)
        return lines.contains { $0.contains("message of the day:") }
            && lines.contains { $0.contains("Be kind. The rules") }
    }

    /// What a text login under a fresh name on the second node (from `address`, through a PROXY header) is told
    /// in its first half second.
    static func newcomer(_ cluster: TestCluster, from address: String? = nil) throws -> [String] {
        let client = try address.map { try cluster[1].connect(from: $0, "newcomer") } ?? cluster[1].connect("newcomer")
        try client.expect("what is your name")
        try client.send("newcomer\(Int.random(in: 1000...9999))")
        return client.drain(timeout: 0.5)
    }

    @Test(
        "a kill disconnects on the other node and says so to the rooms; a suspension refuses the password until lifted")
    func killAndSuspend() throws {
        let cluster = try Self.cluster()
        let opal = try Self.registeredLogin(cluster, "opal")
        let rita = try Self.registeredLogin(cluster, "rita", node: 1)
        let bob = try cluster[1].login("bob")
        let dave = try cluster[0].ircLogin("dave")
        try dave.send("JOIN #lobby")
        try dave.expect(" 366 dave #lobby ")

        try opal.send("/kill bob flooding")
        try opal.expect("bob is disconnected")
        try bob.expect("! removed disconnected by opal: flooding")
        #expect(bob.waitForClose())
        try dave.expectLine("bob quits, saying why") {
            $0.contains(":\(IRCRenderer.mask("bob")) QUIT :Killed (by opal: flooding)")
        }
        try opal.send("/kill bob")
        try opal.expect("! no-such-user")

        // A suspension: rita is disconnected, and her right password is refused, with the reason and the end.
        try opal.send("/suspend rita 2h spam links")
        try opal.expect("rita is suspended until")
        try rita.expect("! removed disconnected by opal: suspended: spam links")
        #expect(rita.waitForClose())
        let again = try cluster[0].connect("rita")
        try again.sendJSON(["op": "hello", "name": "rita", "password": Self.secret])
        let refused = try again.expectEvent(type: "error")
        #expect(refused["code"] as? String == "suspended")
        #expect(
            (refused["message"] as? String ?? "").contains("until")
                && (refused["message"] as? String ?? "").hasSuffix(": spam links"))
        #expect(again.waitForClose(), "a refused login ends the connection")
        // A guest name cannot be suspended (a kill frees it); lifting works once.
        try opal.send("/suspend bob")
        try opal.expect("! no-such-user")
        try opal.send("/unsuspend rita")
        try opal.expect("rita may log in again")
        try opal.send("/unsuspend rita")
        try opal.expect("! bad-request")
        let back = try cluster[1].connect("rita")
        try back.sendJSON(["op": "hello", "name": "rita", "password": Self.secret])
        _ = try back.expectEvent(type: "welcome")
    }

    @Test(
        "a network ban by name or address disconnects at once on every node and refuses logins there; the operator cannot ban itself"
    )
    func networkBans() throws {
        let cluster = try Self.cluster(proxied: true)
        let opal = try Self.registeredLogin(cluster, "opal", from: "192.0.2.10")
        let eve = try Self.login(cluster, node: 1, from: "192.0.2.20", "eve")
        let troll = try Self.login(cluster, node: 1, from: "198.51.100.7", "troll")
        let bystander = try Self.login(cluster, node: 0, from: "192.0.2.30", "bystander")

        // By name: eve goes, on the other node; her name is refused on both, in any case.
        try opal.send("/netban eve 1d ban evasion")
        try opal.expect("eve!*@* is banned from the network until")
        try eve.expect("! removed disconnected by opal: banned from the network: ban evasion")
        #expect(eve.waitForClose())
        for node in 0..<2 {
            let retry = try cluster[node].connect(from: "192.0.2.21", "eve")
            try retry.expect("what is your name")
            try retry.send("EVE")
            try retry.expect("! banned you are banned from this network until")
            #expect(retry.waitForClose())
        }

        // By range: whoever is at that address goes, and no name gets in from there on either node.
        try opal.send("/netban *!*@198.51.100.0/24 botnet")
        try opal.expect("is banned from the network")
        try troll.expect("! removed")
        #expect(troll.waitForClose())
        let other = try cluster[0].connect(from: "198.51.100.200", "other")
        try other.expect("what is your name")
        try other.send("innocent")
        try other.expect("! banned you are banned from this network: botnet")
        // Others are untouched, and the operator cannot ban its own address.
        try bystander.send("/ping")
        try bystander.expect("* pong")
        try opal.send("/netban *!*@192.0.2.0/24")
        try opal.expect("! bad-request *!*@192.0.2.0/24 matches you")
        try opal.send("/netbans")
        try opal.expectLine("the range's ban") {
            $0.contains("*!*@198.51.100.0/24  by opal") && $0.hasSuffix(": botnet")
        }
        try opal.send("/unnetban *!*@198.51.100.0/24")
        try opal.expect("no longer banned")
        #expect(eventually(timeout: 5) { (try? Self.loginSucceeds(cluster, from: "198.51.100.200")) == true })
        _ = bystander
    }

    static func loginSucceeds(_ cluster: TestCluster, from address: String) throws -> Bool {
        try newcomer(cluster, from: address).contains { $0.hasPrefix("* welcome") }
    }

    @Test(
        "closing a room takes everyone out on every node and purges its history; the audit log has every action, in the admin API too"
    )
    func closeRoomAndAudit() throws {
        let cluster = try Self.cluster()
        let opal = try Self.registeredLogin(cluster, "opal")
        let alice = try cluster[0].login("alice")
        let carol = try cluster[1].loginJSON("carol")
        let dave = try cluster[1].ircLogin("dave")
        try alice.send("/join spam")
        try alice.expect("you joined #spam")
        try carol.sendJSON(["op": "join", "room": "spam"])
        _ = try carol.expectEvent(type: "joined")
        try dave.send("JOIN #spam")
        try dave.expect(" 366 dave #spam ")
        try alice.send("/kick carol off topic")
        _ = try carol.expectEvent(type: "kicked")
        try carol.sendJSON(["op": "join", "room": "spam"])
        _ = try carol.expectEvent(type: "joined")
        try alice.send("buy cheap watches")
        try dave.expect("buy cheap watches")

        try opal.send("/closeroom spam scam")
        try opal.expect("#spam is closed")
        try alice.expect("opal closed #spam (scam): everyone is out")
        let closed = try carol.expectEvent(type: "room-closed")
        #expect(closed["room"] as? String == "spam" && closed["reason"] as? String == "scam")
        try dave.expectLine("a KICK from the channel") { $0.contains(" KICK #spam dave :room closed: scam") }
        try alice.send("/leave spam")
        try alice.expect("! not-in-room")
        // Back in, the history is gone.
        try alice.send("/join spam")
        try alice.expect("you joined #spam")
        try alice.send("/history 10")
        #expect(!alice.drain().contains { $0.contains("cheap watches") })

        // The audit logs: the server's has the closing, the room's its kick (and the mode changes); operators only.
        try opal.send("/audit 5")
        try opal.expectLine("the closing") { $0.contains("opal close-room #spam: scam") }
        try opal.send("/audit #spam 5")
        try opal.expectLine("the kick") { $0.contains("alice kick carol in #spam: off topic") }
        try alice.send("/audit")
        try alice.expect("! not-server-operator")
        let (status, audit) = try Self.admin(cluster, "GET", "/admin/audit?count=10")
        let actions = (audit["entries"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
        #expect(status == 200 && actions.first == "close-room" && !actions.contains("kick"))
        let roomLog = try Self.admin(cluster, "GET", "/admin/audit?room=spam").object["entries"] as? [[String: Any]]
        #expect(roomLog?.first?["action"] as? String == "kick" && roomLog?.first?["actor"] as? String == "alice")
    }

    @Test(
        "the admin API: a token from a file, on the operations port only; sessions, rooms, disconnect, bans, announce")
    func adminAPI() throws {
        let cluster = try Self.cluster()
        let bob = try cluster[1].login("bob")
        let carol = try cluster[0].loginJSON("carol")
        let dora = try cluster[1].login("dora")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")

        // Without the token, or with another, nothing; nothing on the public port at all.
        let ops = cluster[0].opsPort
        #expect(try HTTPRequest.send(port: ops, method: "GET", path: "/admin/sessions").status == 401)
        #expect(
            try HTTPRequest.send(
                port: ops, method: "GET", path: "/admin/sessions", token: String(Self.token.reversed())
            )
            .status == 401)
        #expect(
            try HTTPRequest.send(port: cluster[0].httpPort, method: "GET", path: "/admin/sessions", token: Self.token)
                .status == 404)

        let (listed, sessions) = try Self.admin(cluster, "GET", "/admin/sessions")
        var names = Set((sessions["sessions"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        var next = sessions["next"] as? String
        while let cursor = next {
            let page = try Self.admin(cluster, "GET", "/admin/sessions?cursor=\(cursor)").object
            names.formUnion((page["sessions"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
            next = page["next"] as? String
        }
        #expect(listed == 200 && names == ["bob", "carol", "dora"], "both nodes' sessions, page by page")
        let rooms = try Self.admin(cluster, "GET", "/admin/rooms").object["rooms"] as? [[String: Any]] ?? []
        #expect(rooms.contains { $0["room"] as? String == "dev" && $0["members"] as? Int == 1 })

        let (announced, _) = try Self.admin(cluster, "POST", "/admin/announce", ["text": "restart in 5 minutes"])
        #expect(announced == 200)
        try bob.expect("announcement from server to everyone: restart in 5 minutes")
        #expect(try carol.expectEvent(type: "announcement")["from"] as? String == "server")

        let (disconnected, reply) = try Self.admin(
            cluster, "POST", "/admin/disconnect", ["name": "bob", "reason": "test"])
        #expect(disconnected == 200 && reply["ok"] as? Bool == true)
        try bob.expect("! removed disconnected by server: test")
        // Once bob's node has let go of his channel, nobody is there to disconnect.
        #expect(
            eventually(timeout: 5) {
                (try? Self.admin(cluster, "POST", "/admin/disconnect", ["name": "bob"]).status) == 404
            })
        #expect(try Self.admin(cluster, "POST", "/admin/bans", ["mask": "*!*@*"]).status == 400)
        #expect(try Self.admin(cluster, "POST", "/admin/bans", ["mask": "carol", "duration": "1h"]).status == 200)
        #expect(try carol.expectEvent(type: "error")["code"] as? String == "removed")
        let bans = try Self.admin(cluster, "GET", "/admin/bans").object["bans"] as? [[String: Any]] ?? []
        #expect(bans.first?["mask"] as? String == "carol!*@*" && bans.first?["by"] as? String == "server")
        let audit = try Self.admin(cluster, "GET", "/admin/audit").object["entries"] as? [[String: Any]] ?? []
        #expect(audit.first?["actor"] as? String == "admin API" && audit.first?["action"] as? String == "network-ban")
        // What the API is given is cleaned as a client's request is: no escape sequence reaches anyone.
        #expect(try Self.admin(cluster, "POST", "/admin/announce", ["text": "\u{1B}[2Jclean\u{7}"]).status == 200)
        try dora.expect("announcement from server to everyone: clean")
        #expect(try Self.admin(cluster, "POST", "/admin/nothing", [:]).status == 404)
        #expect(try Self.admin(cluster, "GET", "/admin/announce").status == 405)
    }

    @Test(
        "the balancer refuses connections from a banned address on every port before a node sees them; lifted, it lets them in"
    )
    func balancerRefusesBannedAddresses() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("admin-token-\(UUID().uuidString)")
        try Self.token.write(to: file, atomically: true, encoding: .utf8)
        let balanced = try BalancedCluster(
            nodes: 2, nodeArguments: ["--admin-token-file", file.path, "--irc-port", "0"],
            balancerArguments: ["--irc-port", "0"])
        let (already, _) = try balanced.balancer.login("already")
        // Every test client is 127.0.0.1: ban it through the admin API (which no ban can lock out).
        let banned = try HTTPRequest.send(
            port: balanced.cluster[0].opsPort, method: "POST", path: "/admin/bans", token: Self.token,
            json: #"{"mask":"*!*@127.0.0.1","duration":"1h","reason":"test"}"#)
        #expect(banned.status == 200)
        try already.expect("! removed disconnected by server: banned from the network: test")
        // The balancer reads the list every 2 s: within a few, a new connection is refused at once, in its protocol.
        #expect(
            eventually(timeout: 6) {
                guard let client = try? balanced.balancer.connect("refused") else { return false }
                return client.drain(timeout: 0.5).contains { $0.hasPrefix("! banned you are banned from this network") }
            })
        let irc = try TestSocket(port: balanced.balancer.ircPort!, name: "irc")
        try irc.expect("ERROR :Closing Link: you are banned from this network")
        #expect(irc.waitForClose())
        let lifted = try HTTPRequest.send(
            port: balanced.cluster[0].opsPort, method: "POST", path: "/admin/unban", token: Self.token,
            json: #"{"mask":"*!*@127.0.0.1"}"#)
        #expect(lifted.status == 200)
        #expect(eventually(timeout: 6) { (try? balanced.balancer.login("welcome-back")) != nil })
    }
}
