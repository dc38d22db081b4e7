import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// IRC as IRC clients and bots expect it (issue 29), line by line over real sockets against two real nodes and
/// Redis: what irctest and ngircd/InspIRCd/Ergo answer for WHO, WHOX, WHOIS, WHOWAS, LUSERS, NAMES, away replies,
/// 512-byte lines, UTF-8 and QUIT, with people on the other node and in the other protocols.
@Suite("IRC conformance", .serialized)
struct IRCConformanceTests {
    @Test("WHO, WHOX, WHOIS, WHOWAS, LUSERS and away replies tell of people on any node, as IRC servers answer")
    func whoIsWho() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].ircLogin("alice")
        let bob = try cluster[1].ircLogin("bob")
        let carol = try cluster[1].login("carol")
        let dana = try cluster[1].loginJSON("dana")
        let bobHost = IRCRenderer.host(of: "bob")
        for client in [alice, bob] {
            try client.send("JOIN #dev")
            _ = try client.expectLine("joined") { $0.contains(" 366 ") }
        }
        try bob.send("AWAY :at lunch")
        _ = try bob.expectLine("away") { $0.contains(" 306 bob ") }

        // WHO #chan: H/G, the prefix, and the real name after the hop count; 315 names the mask as given.
        try alice.send("WHO #DEV")
        let me = try alice.expectLine("alice's 352") { $0.contains(" 352 alice #dev ") && $0.contains(" alice H@ ") }
        #expect(me.hasSuffix(":0 alice on IRC"), "\(me)")
        let who = try alice.expectLine("bob's 352") { $0.contains(" 352 alice #dev ~u \(bobHost) ") }
        #expect(who.hasSuffix(" bob G :0 bob on IRC"), "\(who)")
        _ = try alice.expectLine("end") { $0.contains(" 315 alice #DEV :") }
        // WHO nick, and WHOX: the fields asked for in the specification's order, whatever order they were asked in.
        try alice.send("WHO bob %rnafhut,42")
        let whox = try alice.expectLine("354") { $0.contains(" 354 alice ") }
        #expect(whox.hasSuffix(" 354 alice 42 ~u \(bobHost) bob G 0 :bob on IRC"), "\(whox)")
        _ = try alice.expectLine("end") { $0.contains(" 315 alice bob :") }
        try alice.send("WHO b*")
        let masked = try alice.expectLine("a mask lists nobody") { $0.contains(" 315 alice b* :") }
        #expect(!alice.received.contains { $0.contains(" 352 alice * ") }, "\(masked)")
        try alice.send("WHO nobody")
        _ = try alice.expectLine("nobody") { $0.contains(" 315 alice nobody :") }

        // WHOIS: the real name, the away text, idle and signon; 301 again on a message to someone away.
        try alice.send("WHOIS bob")
        let user = try alice.expectLine("311") { $0.contains(" 311 alice bob ") }
        #expect(user.hasSuffix(" 311 alice bob ~u \(bobHost) * :bob on IRC"), "\(user)")
        _ = try alice.expectLine("301") { $0.hasSuffix(" 301 alice bob :at lunch") }
        _ = try alice.expectLine("317") { $0.contains(" 317 alice bob ") && $0.hasSuffix(":seconds idle, signon time") }
        _ = try alice.expectLine("318") { $0.contains(" 318 alice bob ") }
        try alice.send("PRIVMSG bob :are you there?")
        _ = try alice.expectLine("301 on a message") { $0.hasSuffix(" 301 alice bob :at lunch") }
        _ = try bob.expectLine("the message") { $0.hasSuffix("PRIVMSG bob :are you there?") }
        try dana.sendJSON(["op": "msg", "to": "bob", "text": "ping"])
        let away = try dana.expectEvent("recipient-away") { $0["type"] as? String == "recipient-away" }
        #expect(away["name"] as? String == "bob" && away["text"] as? String == "at lunch")
        try carol.send("/msg bob hello")
        try carol.expect("* bob is away: at lunch")
        try carol.send("/whois bob")
        try carol.expect("* bob (bob on IRC) is online now")
        try bob.send("AWAY")
        _ = try bob.expectLine("back") { $0.contains(" 305 bob ") }
        try alice.send("PRIVMSG bob :welcome back")
        _ = try bob.expectLine("the message") { $0.hasSuffix("PRIVMSG bob :welcome back") }
        try alice.send("PING :sync")
        _ = try alice.expectLine("pong") { $0.hasSuffix(":sync") }
        #expect(alice.received.filter { $0.contains(" 301 ") }.count == 2, "no 301 once bob is back")

        // Bot mode: a program says it is one; WHO shows B, WHOIS 335, text and JSON clients "bot".
        try bob.send("MODE bob +B")
        _ = try bob.expectLine("the mode") { $0.hasSuffix("MODE bob :+B") || $0.hasSuffix("MODE bob +B") }
        try alice.send("WHO bob")
        _ = try alice.expectLine("B in the flags") { $0.contains(" 352 alice * ") && $0.contains(" bob HB ") }
        try alice.send("WHOIS bob")
        _ = try alice.expectLine("335") { $0.contains(" 335 alice bob :") }
        try dana.sendJSON(["op": "who", "room": "dev"])
        let listing = try dana.expectEvent("who") { $0["type"] as? String == "who" }
        let members = listing["members"] as? [[String: Any]] ?? []
        #expect(members.first { $0["name"] as? String == "bob" }?["bot"] as? Bool == true, "\(members)")
        try carol.send("/bot on")
        try carol.expect("you are marked a bot")

        // LUSERS: everyone on both nodes (all invisible), the nodes as servers, this node's one client.
        try alice.send("LUSERS")
        let counts = try alice.expectLine("251") { $0.contains(" 251 alice ") }
        #expect(counts.hasSuffix(":There are 0 users and 4 invisible on 2 servers"), "\(counts)")
        _ = try alice.expectLine("254") { $0.contains(" 254 alice ") && $0.hasSuffix(":channels formed") }
        _ = try alice.expectLine("255") { $0.hasSuffix(" 255 alice :I have 1 clients and 1 servers") }
        _ = try alice.expectLine("265") { $0.contains(" 265 alice 1 1 :") }
        _ = try alice.expectLine("266") { $0.contains(" 266 alice 4 4 :") }
        try carol.send("/lusers")
        try carol.expect("* 4 people connected to 2 nodes")
        try dana.sendJSON(["op": "counts"])
        let json = try dana.expectEvent("counts") { $0["type"] as? String == "counts" }
        #expect(json["people"] as? Int == 4 && json["nodes"] as? Int == 2 && json["local"] as? Int == 3)

        // WHOWAS: the last connection of someone gone, with their real name; 406 for anyone else.
        try bob.send("QUIT :done")
        #expect(bob.waitForClose())
        try alice.send("WHOWAS bob")
        let was = try alice.expectLine("314") { $0.contains(" 314 alice bob ") }
        #expect(was.hasSuffix(" 314 alice bob ~u \(bobHost) * :bob on IRC"), "\(was)")
        _ = try alice.expectLine("312") { $0.contains(" 312 alice bob \(cluster[0].id) ") }
        _ = try alice.expectLine("369") { $0.contains(" 369 alice bob ") }
        try alice.send("WHOWAS zed")
        _ = try alice.expectLine("406") { $0.contains(" 406 alice zed ") }
        _ = try alice.expectLine("369") { $0.contains(" 369 alice zed ") }
        try alice.send("WHOWAS")
        _ = try alice.expectLine("461") { $0.contains(" 461 alice WHOWAS ") }

        // NAMES of a name no channel has, or of a channel nobody is in: 366 naming it as given, nothing before.
        try alice.send("NAMES invalid")
        let invalid = try alice.expectLine("366") { $0.contains(" 366 ") }
        #expect(invalid.contains(" 366 alice invalid :"), "\(invalid)")
        try alice.send("NAMES #nobody-here")
        let empty = try alice.expectLine("366") { $0.contains(" 366 ") }
        #expect(empty.contains(" 366 alice #nobody-here :"), "\(empty)")
    }

    @Test(
        "lines as IRC has them: relays within 512 bytes or a 417, invalid UTF-8 refused, labeled echoes, QUIT before the close"
    )
    func lines() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].ircLogin(
            "alice", capabilities: ["echo-message", "labeled-response", "batch", "userhost-in-names", "away-notify"])
        let bob = try cluster[1].ircLogin("bob")
        for client in [alice, bob] {
            try client.send("JOIN #dev")
            _ = try client.expectLine("joined") { $0.contains(" 366 ") }
        }
        try alice.send("NAMES #dev")
        _ = try alice.expectLine("userhost-in-names") {
            $0.contains(" 353 alice = #dev :") && $0.contains("@\(IRCRenderer.mask("alice"))")
                && $0.contains(IRCRenderer.mask("bob"))
        }

        // A text that fits the relayed line whole arrives whole, as one line of at most 512 bytes; one byte more is
        // 417 to the sender, and nothing reaches anyone.
        let overhead = ":\(IRCRenderer.mask("alice")) PRIVMSG bob :\r\n".utf8.count
        let fitting = String(repeating: "a", count: 512 - overhead)
        try alice.send("PRIVMSG bob :" + fitting)
        let whole = try bob.expectLine("the whole text") { $0.contains("PRIVMSG bob :") }
        #expect(whole.utf8.count + 2 == 512 && whole.hasSuffix(":" + fitting), "\(whole.utf8.count + 2) bytes")
        try alice.send("PRIVMSG bob :" + fitting + "b")
        _ = try alice.expectLine("417") { $0.contains(" 417 alice :") }
        try bob.send("PING :after")
        _ = try bob.expectLine("pong") { $0.hasSuffix(":after") }
        #expect(!bob.received.contains { $0.hasSuffix(fitting + "b") })

        // Not UTF-8: refused with FAIL, labeled when asked, and relayed to nobody.
        try alice.sendRaw(Array("@label=u1 PRIVMSG #dev :hi".utf8) + [0xAA] + Array("\r\n".utf8))
        let fail = try alice.expectLine("FAIL") { $0.contains("FAIL PRIVMSG INVALID_UTF8") }
        #expect(fail.hasPrefix("@label=u1 "), "\(fail)")
        let raw = try TestSocket(port: try #require(cluster[0].ircPort), name: "raw")
        try raw.send("NICK latin1")
        try raw.sendRaw(Array("USER u 0 * :i".utf8) + [0xE8] + Array("rc\r\n".utf8))
        _ = try raw.expectLine("FAIL USER") { $0.contains("FAIL USER INVALID_UTF8") }

        // labeled-response with echo-message: a message to a channel or a person is answered by its labeled echo,
        // one to oneself by two copies, one of them labeled; a TAGMSG (relayed to nobody yet) by ACK.
        try alice.send("@label=m1 PRIVMSG #dev :hello")
        _ = try alice.expectLine("echo") { $0.hasPrefix("@label=m1 :") && $0.hasSuffix(" PRIVMSG #dev :hello") }
        try alice.send("@label=m2 PRIVMSG bob :hi bob")
        _ = try alice.expectLine("echo") { $0.hasPrefix("@label=m2 :") && $0.hasSuffix(" PRIVMSG bob :hi bob") }
        try alice.send("@label=m3 PRIVMSG alice :note to self")
        try alice.send("PING :self")
        _ = try alice.expectLine("pong") { $0.hasSuffix(":self") }
        let copies = alice.received.filter { $0.hasSuffix(" PRIVMSG alice :note to self") }
        #expect(copies.count == 2 && copies.filter { $0.hasPrefix("@label=m3 ") }.count == 1, "\(copies)")
        try alice.send("@label=x1 FROBNICATE")
        _ = try alice.expectLine("421") { $0.hasPrefix("@label=x1 ") && $0.contains(" 421 alice FROBNICATE ") }

        // away-notify: someone away who joins is followed by their AWAY.
        try bob.send("AWAY :brb")
        try bob.send("PART #dev")
        try bob.send("JOIN #dev")
        _ = try alice.expectLine("the join") { $0.hasPrefix(":\(IRCRenderer.mask("bob")) JOIN #dev") }
        let awayAfterJoin = try alice.expectLine("the AWAY") { $0.contains(" AWAY ") || $0.contains(" PRIVMSG ") }
        #expect(awayAfterJoin == ":\(IRCRenderer.mask("bob")) AWAY :brb", "\(awayAfterJoin)")
        // A labeled message to someone away: the 301 and the echo, one labeled batch. A PING's token comes back
        // exactly, quotes and all.
        try alice.send("@label=a1 PRIVMSG bob :still there?")
        _ = try alice.expectLine("the batch") { $0.hasPrefix("@label=a1 ") && $0.contains(" BATCH +") }
        _ = try alice.expectLine("301 inside") { $0.hasPrefix("@batch=") && $0.hasSuffix(" 301 alice bob :brb") }
        _ = try alice.expectLine("echo inside") { $0.hasPrefix("@batch=") && $0.hasSuffix("PRIVMSG bob :still there?") }
        _ = try alice.expectLine("the end") { $0.contains(" BATCH -") }
        try alice.send("PING :a\"b\\c")
        _ = try alice.expectLine("pong") { $0.hasSuffix(" PONG \(cluster[0].id) :a\"b\\c") }
        try alice.send("WHO :x y")
        _ = try alice.expectLine("a mask with a space") { $0.hasSuffix(" 315 alice * :End of /WHO list") }

        // QUIT: the channel hears it before the quitter's socket closes, so a PING sent after the close is
        // answered after the QUIT.
        try bob.send("QUIT :bob out")
        _ = try bob.expectLine("ERROR") { $0.hasPrefix("ERROR :") }
        #expect(bob.waitForClose())
        try alice.send("PING :after-quit")
        let next = try alice.expectLine("the QUIT or the PONG") { $0.contains(" QUIT ") || $0.hasSuffix(":after-quit") }
        #expect(next.contains(":\(IRCRenderer.mask("bob")) QUIT :Quit: bob out"), "\(next)")
    }
}

/// NICK after registration: a cluster-wide claim of the new nick and release of the old, seen by every protocol.
@Suite("IRC nick changes", .serialized)
struct IRCNickChangeTests {
    @Test(
        "NICK changes a nick cluster-wide: 433 for one in use, nothing for the same, one NICK per client, every protocol told, the old nick free"
    )
    func nickChanges() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].ircLogin("alice")
        let bob = try cluster[1].ircLogin("bob")
        for client in [alice, bob] {
            try client.send("JOIN #dev,#ops")
            _ = try client.expectLine("joined") { $0.contains(" 366 ") && $0.contains("#ops") }
        }
        let carol = try cluster[1].login("carol")
        try carol.send("/join dev")
        try carol.expect("you joined #dev")
        let dana = try cluster[1].loginJSON("dana")
        try dana.sendJSON(["op": "join", "room": "dev"])
        _ = try dana.expectEvent(type: "joined")

        // In use (here or on the other node, any case): 433 naming it; the same nick again: nothing at all.
        try alice.send("NICK BOB")
        _ = try alice.expectLine("433") { $0.contains(" 433 alice BOB ") }
        try alice.send("NICK alice")
        try alice.send("PING :same")
        let same = try alice.expectLine("pong") { $0.hasSuffix(":same") || $0.contains(" NICK ") }
        #expect(same.hasSuffix(":same"), "\(same)")

        // Another case, then another nick: the client's own NICK line, and one for bob though he shares two
        // channels with her; text and JSON clients are told in the room.
        try alice.send("NICK Alice")
        _ = try alice.expectLine("own NICK") { $0 == ":\(IRCRenderer.mask("alice")) NICK :Alice" }
        _ = try bob.expectLine("NICK") { $0 == ":\(IRCRenderer.mask("alice")) NICK :Alice" }
        try alice.send("NICK alice2")
        _ = try alice.expectLine("own NICK") { $0 == ":\(IRCRenderer.mask("Alice")) NICK :alice2" }
        _ = try bob.expectLine("NICK") { $0 == ":\(IRCRenderer.mask("Alice")) NICK :alice2" }
        try bob.send("PING :after")
        _ = try bob.expectLine("pong") { $0.hasSuffix(":after") }
        #expect(bob.received.filter { $0.hasSuffix("NICK :alice2") }.count == 1, "one NICK for two shared channels")
        try carol.expect("#dev: Alice is now known as alice2")
        let renamed = try dana.expectEvent("renamed") {
            $0["type"] as? String == "renamed" && $0["to"] as? String == "alice2"
        }
        #expect(renamed["from"] as? String == "Alice" && renamed["room"] as? String == "dev")

        // The new nick is hers everywhere: her channel role, direct messages, WHOIS; the old one is free, and
        // WHOWAS remembers it.
        try alice.send("NAMES #dev")
        _ = try alice.expectLine("names") { $0.contains(" 353 alice2 = #dev :") && $0.contains("@alice2") }
        try carol.send("/msg alice2 found you")
        _ = try alice.expectLine("the DM") { $0.hasSuffix("PRIVMSG alice2 :found you") }
        try carol.send("/who dev")
        try carol.expect("alice2")
        try bob.send("WHOWAS Alice")
        _ = try bob.expectLine("314") { $0.contains(" 314 bob Alice ") }
        let newcomer = try cluster[1].ircLogin("alice")
        try newcomer.send("QUIT")

        // A text-mode user changes theirs with /nick, and an IRC client sees it.
        try carol.send("/nick carol2")
        try carol.expect("you are now known as carol2")
        _ = try alice.expectLine("carol's NICK") { $0 == ":\(IRCRenderer.mask("carol")) NICK :carol2" }

        // Muted in a channel: a new nick would shed the mute, so it is refused (435).
        try alice.send("MODE #ops +b m:bob")
        _ = try bob.expectLine("the mute") { $0.contains(" MODE #ops +b m:bob") }
        try bob.send("NICK bobby")
        _ = try bob.expectLine("435") { $0.contains(" 435 bob bobby ") }
        // Nor may a reaction say what the mute keeps him from saying.
        try bob.send("@+draft/react=boo TAGMSG #ops")
        _ = try bob.expectLine("404") { $0.contains(" 404 bob #ops ") }

        // A client that changes its nick and drops at once leaves neither name held.
        let ghost = try TestSocket(port: try #require(cluster[0].ircPort), name: "ghost")
        try ghost.send("NICK spook")
        try ghost.send("USER g 0 * :g")
        _ = try ghost.expectLine("welcome") { $0.contains(" 001 spook ") }
        try ghost.send("NICK ghost")
        ghost.close()
        var free = false
        for _ in 0..<20 where !free {
            let probe = try TestSocket(port: try #require(cluster[1].ircPort), name: "probe")
            try probe.send("NICK ghost")
            try probe.send("USER p 0 * :p")
            let line = try probe.expectLine("welcome or in use") { $0.contains(" 001 ") || $0.contains(" 433 ") }
            free = line.contains(" 001 ")
            probe.close()
            if !free { Thread.sleep(forTimeInterval: 0.25) }
        }
        #expect(free, "the new name is free again within seconds, not held for the claim's hour")

        // At most three tries a minute (BOB, Alice and alice2 were three): 438 past that, and the nick stays.
        try alice.send("NICK alice3")
        _ = try alice.expectLine("438") { $0.contains(" 438 alice2 alice3 ") }
    }
}

/// Registering one's nick from an IRC client: IRCv3 REGISTER and NickServ.
@Suite("IRC account registration", .serialized)
struct IRCAccountRegistrationTests {
    @Test("REGISTER and NickServ REGISTER make the nick a registered name; refusals are FAILs and NOTICEs")
    func register() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--irc-port", "0", "--scrypt-cost", "ln=10,r=8,p=1"])
        let raw = try TestSocket(port: try #require(cluster[0].ircPort), name: "early")
        try raw.send("NICK early")
        try raw.send("REGISTER * * early-password")
        _ = try raw.expectLine("not before registration") { $0.contains("FAIL REGISTER COMPLETE_CONNECTION_REQUIRED") }

        let alice = try cluster[0].ircLogin("alice", capabilities: ["draft/account-registration"])
        try alice.send("REGISTER bob * alice-password")
        _ = try alice.expectLine("the nick's") { $0.contains("FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK bob ") }
        try alice.send("REGISTER * * short")
        _ = try alice.expectLine("weak") { $0.contains("FAIL REGISTER WEAK_PASSWORD alice ") }
        try alice.send("REGISTER * * alice-password")
        _ = try alice.expectLine("success") { $0.hasSuffix(" REGISTER SUCCESS alice :Account created") }
        _ = try alice.expectLine("900") { $0.contains(" 900 alice \(IRCRenderer.mask("alice")) alice ") }
        try alice.send("REGISTER * * again-password")
        _ = try alice.expectLine("once") { $0.contains("FAIL REGISTER ALREADY_AUTHENTICATED") }

        let bob = try cluster[0].ircLogin("bob")
        try bob.send("PRIVMSG NickServ :REGISTER short")
        _ = try bob.expectLine("refused") {
            $0.hasPrefix(":\(IRCRenderer.nickServ) NOTICE bob :Registration failed") && $0.contains("8 bytes")
        }
        try bob.send("NS REGISTER bob-password")
        _ = try bob.expectLine("created") { $0 == ":\(IRCRenderer.nickServ) NOTICE bob :Account created" }
        try bob.send("NS IDENTIFY bob-password")
        _ = try bob.expectLine("where passwords go") { $0.contains("SASL") }

        // The nick is registered now: a connection without its password is asked for it.
        try alice.send("QUIT")
        #expect(alice.waitForClose())
        let again = try TestSocket(port: try #require(cluster[0].ircPort), name: "again")
        try again.send("NICK alice")
        try again.send("USER a 0 * :a")
        _ = try again.expectLine("password wanted") { $0.contains(" 464 ") }
    }
}

/// TAGMSG: client-only tags relayed live, with a msgid, and typing across protocols.
@Suite("IRC client tags", .serialized)
struct IRCClientTagTests {
    @Test(
        "TAGMSG relays typing, reactions and replies with a msgid to clients that take tags; typing crosses protocols")
    func tagMessages() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].ircLogin(
            "alice", capabilities: ["message-tags", "echo-message", "labeled-response", "batch"])
        let bob = try cluster[1].ircLogin("bob", capabilities: ["message-tags"])
        let carol = try cluster[1].ircLogin("carol")
        for client in [alice, bob, carol] {
            try client.send("JOIN #dev")
            _ = try client.expectLine("joined") { $0.contains(" 366 ") }
        }
        let dana = try cluster[1].loginJSON("dana")
        try dana.sendJSON(["op": "join", "room": "dev"])
        _ = try dana.expectEvent(type: "joined")
        let erin = try cluster[0].login("erin")
        try erin.send("/join dev")
        try erin.expect("you joined #dev")

        // A reaction to a message: relayed with a msgid, the echo carrying the same; denied tags dropped; a
        // client without message-tags gets nothing. (Kept with the message, too: see MessageActionTests.)
        try carol.send("PRIVMSG #dev :react to this")
        let reactedTo = try bob.expectLine("carol's message") { $0.hasSuffix("PRIVMSG #dev :react to this") }
        let saidID = try #require(
            reactedTo.split(separator: " ").first?.split(separator: ";").first { $0.contains("msgid=") }
                .map { String($0.split(separator: "=").last ?? "") })
        try alice.send("@+draft/react=👍;+draft/reply=\(saidID);+other=x TAGMSG #dev")
        let relayed = try bob.expectLine("the TAGMSG") { $0.contains(" TAGMSG #dev") }
        #expect(relayed.contains("+draft/react=👍") && relayed.contains("+draft/reply=\(saidID)"), "\(relayed)")
        #expect(!relayed.contains("+other") && relayed.contains(":\(IRCRenderer.mask("alice")) TAGMSG #dev"))
        let echo = try alice.expectLine("the echo") { $0.contains(" TAGMSG #dev") }
        func msgid(_ line: String) -> String? {
            line.split(separator: " ").first?.split(separator: ";").first {
                $0.hasPrefix("msgid=") || $0.hasPrefix("@msgid=")
            }
            .map { String($0.split(separator: "=").last ?? "") }
        }
        #expect(msgid(relayed) != nil && msgid(relayed) == msgid(echo), "\(relayed) / \(echo)")
        try carol.send("PING :sync")
        _ = try carol.expectLine("pong") { $0.hasSuffix(":sync") }
        #expect(!carol.received.contains { $0.contains("TAGMSG") }, "no tags for a client that did not ask for them")

        // Typing: an IRC client's reaches JSON and text clients; a JSON client's reaches IRC clients as a TAGMSG.
        try alice.send("@+typing=active TAGMSG #dev")
        let typing = try dana.expectEvent("tagmsg") {
            $0["type"] as? String == "tagmsg" && ($0["tags"] as? [String: Any])?["+typing"] != nil
        }
        #expect(
            (typing["tags"] as? [String: Any])?["+typing"] as? String == "active"
                && typing["from"] as? String == "alice")
        try erin.expect("alice is typing in #dev")
        try dana.sendJSON(["op": "typing", "room": "dev"])
        _ = try bob.expectLine("dana typing") {
            $0.hasPrefix("@+typing=active") && $0.contains(":\(IRCRenderer.mask("dana")) TAGMSG #dev")
        }

        // A bot's messages carry the `bot` tag (IRCv3 bot mode), and JSON's "bot", in the room and directly.
        try bob.send("MODE bob +B")
        _ = try bob.expectLine("the mode") { $0.contains("MODE bob") && $0.hasSuffix("+B") }
        try bob.send("PRIVMSG #dev :beep boop")
        let beep = try alice.expectLine("the bot's message") { $0.hasSuffix("PRIVMSG #dev :beep boop") }
        let tags = beep.split(separator: " ").first?.dropFirst().split(separator: ";").map(String.init) ?? []
        #expect(tags.contains("bot") && tags.contains { $0.hasPrefix("msgid=") }, "\(beep)")
        let said = try dana.expectEvent("the message") {
            $0["type"] as? String == "message" && $0["text"] as? String == "beep boop"
        }
        #expect(said["bot"] as? Bool == true)
        try bob.send("PRIVMSG alice :boop")
        let direct = try alice.expectLine("the bot's direct message") { $0.hasSuffix("PRIVMSG alice :boop") }
        #expect(direct.hasPrefix("@bot") || direct.contains(";bot"), "\(direct)")

        // To a person; labeled with nothing left to relay: ACK.
        try alice.send("@+draft/react=🎉 TAGMSG bob")
        _ = try bob.expectLine("a direct TAGMSG") { $0.contains("+draft/react=🎉") && $0.hasSuffix(" TAGMSG bob") }
        try alice.send("@label=t2;+other=1 TAGMSG #dev")
        _ = try alice.expectLine("ACK") { $0.hasPrefix("@label=t2 ") && $0.hasSuffix(" ACK") }
    }
}
