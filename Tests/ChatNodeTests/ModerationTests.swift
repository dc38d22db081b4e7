// One file because every test here runs the same two-node cluster through the same room, one moderation feature
// each, and reads as the guide (docs/moderation.md) does.
import ChatTestSupport
import Foundation
import Testing

/// Room moderation across two nodes (docs/moderation.md): what the operator, the person moderated and the others
/// see, in text mode, JSON and IRC.
@Suite("Room moderation", .serialized)
struct ModerationTests {
    @Test("the first into a room is its operator; a kick removes on every node; only operators kick; a kick is no ban")
    func operatorsAndKicks() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("bob")
        let carol = try cluster[1].loginJSON("carol")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try carol.sendJSON(["op": "join", "room": "dev"])
        _ = try carol.expectEvent(type: "joined")

        try bob.send("/who dev")
        try bob.expectLine("alice is operator") { $0.contains("@alice  online") }
        try bob.expectLine("bob is a member") { $0.contains("bob  online") }
        try carol.sendJSON(["op": "who", "room": "dev", "id": "w"])
        let who = try carol.expectEvent(type: "who")
        let roles = (who["members"] as? [[String: Any]] ?? []).map {
            ($0["name"] as? String ?? "", $0["role"] as? String)
        }
        #expect(roles.first { $0.0 == "alice" }?.1 == "operator" && roles.first { $0.0 == "bob" }?.1 == nil)

        // A member who is not an operator is refused.
        try bob.send("/kick alice")
        try bob.expect("! not-operator")
        try carol.sendJSON(["op": "kick", "room": "dev", "name": "alice", "id": "k"])
        let refused = try carol.expectEvent(type: "error")
        #expect(refused["code"] as? String == "not-operator" && refused["id"] as? String == "k")

        // The operator on node 1 kicks bob on node 2: bob, carol and alice all see it, and bob is out.
        try alice.send("/kick bob spamming")
        try alice.expect("alice removed bob from #dev (spamming)")
        try bob.expect("alice removed you from #dev (spamming)")
        let kicked = try carol.expectEvent(type: "kicked")
        #expect(kicked["name"] as? String == "bob" && kicked["by"] as? String == "alice")
        #expect(kicked["reason"] as? String == "spamming")
        try bob.send("/leave dev")
        try bob.expect("! not-in-room")
        try alice.send("/who dev")
        try alice.expect("2 people in #dev")
        // Kicking is not banning: bob may come back.
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try alice.send("/kick nobody-here")
        try alice.expect("! not-in-room")

        // Operator is granted and taken; the room is told.
        try alice.send("/op bob")
        try bob.expect("#dev: alice gave operator to bob")
        let mode = try carol.expectEvent(type: "mode")
        let change = (mode["changes"] as? [[String: Any]])?.first
        #expect(change?["mode"] as? String == "+o" && change?["name"] as? String == "bob")
        try bob.send("/kick carol")
        _ = try carol.expectEvent(type: "kicked")
    }

    @Test("a ban removes by name, holds on every node, after a new login and for another name from a banned address")
    func bans() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        var bob = try cluster[1].login("bob")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")

        try alice.send("/ban bob 10m flooding")
        try alice.expect("#dev: alice banned bob!*@* for 10m")
        try bob.expect("alice removed you from #dev (flooding)")
        try bob.send("/join dev")
        try bob.expect("! banned you are banned from #dev: flooding")
        // On another connection, on the other node, with the name in another case: still banned.
        try bob.send("/quit")
        _ = bob.waitForClose()  // the name is free once the quit has closed the connection, not before
        bob = try cluster[0].login("BOB")
        try bob.send("/join dev")
        try bob.expect("! banned")
        // The ban list is the operators'.
        try bob.send("/bans dev")
        try bob.expect("! not-in-room")
        try alice.send("/bans")
        try alice.expect("bans and mutes in #dev:")
        try alice.expectLine("bob's ban") { $0.contains("bob!*@*  by alice") && $0.hasSuffix(": flooding") }
        // Lifted, bob comes back.
        try alice.send("/unban bob")
        try alice.expect("lifted the ban on bob!*@*")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")

        // An address ban keeps out any name from that address (every test client is 127.0.0.1); it is not
        // announced to the room, and does not remove those already in.
        try alice.send("/ban *!*@127.0.0.0/8 abuse from the lab")
        try alice.expect("banned *!*@127.0.0.0/8")
        #expect(!bob.drain().contains { $0.contains("127.0.0.0") }, "an address ban is told to its setter only")
        let mallory = try cluster[1].login("mallory")
        try mallory.send("/join dev")
        try mallory.expect("! banned")
        try bob.send("in still")
        try alice.expectLine("bob still speaks") { $0.hasSuffix("<BOB> in still") }
        // A mask that would ban everyone is refused.
        try alice.send("/ban *!*@*")
        try alice.expect("! bad-request")
        try alice.send("/unban *!*@127.0.0.0/8")
        try alice.expect("lifted the ban")

        // A mask of many stars against a long name costs a moment, not the shard: globs are matched in linear
        // time (a Lua pattern of 49 `.*` would backtrack for hours).
        let stars = String(repeating: "*a", count: 49) + "*b"
        try alice.send("/ban \(stars)")
        try alice.expect("banned \(stars)")
        let long = try cluster[1].login(String(repeating: "a", count: 32))
        let started = Date()
        try long.send("/join dev")
        try long.expect("you joined #dev")
        #expect(Date().timeIntervalSince(started) < 2)
        // Bans by name cover look-alikes whose keys differ: a capital I looks like a small l.
        try alice.send("/ban carla")
        try alice.expect("banned carla!*@*")
        let lookAlike = try cluster[1].login("carIa")
        try lookAlike.send("/join dev")
        try lookAlike.expect("! banned")
        // Nobody kicks themselves: that is /leave.
        try alice.send("/kick alice")
        try alice.expect("! bad-request")
    }

    @Test("a muted person stays and cannot speak; a moderated room hears only voice and operators")
    func mutesAndModeration() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].loginJSON("bob")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        try bob.sendJSON(["op": "join", "room": "dev"])
        _ = try bob.expectEvent(type: "joined")

        try alice.send("/mute bob 5m calm down")
        try alice.expect("#dev: alice muted bob for 5m")
        let muted = try bob.expectEvent(type: "mode")
        #expect((muted["changes"] as? [[String: Any]])?.first?["mute"] as? Bool == true)
        try bob.sendJSON(["op": "say", "room": "dev", "text": "can I speak?", "id": "s"])
        let refused = try bob.expectEvent(type: "error")
        #expect(refused["code"] as? String == "cannot-speak" && refused["id"] as? String == "s")
        #expect(!alice.drain().contains { $0.contains("can I speak") })
        try alice.send("/unmute bob")
        _ = try bob.expectEvent(type: "mode")
        try bob.sendJSON(["op": "say", "room": "dev", "text": "thanks"])
        try alice.expectLine("bob speaks again") { $0.hasSuffix("<bob> thanks") }

        try alice.send("/mode +m")
        try alice.expect("#dev: alice made #dev moderated")
        try bob.sendJSON(["op": "say", "room": "dev", "text": "hello?", "id": "m"])
        #expect(try bob.expectEvent(type: "error")["code"] as? String == "cannot-speak")
        try alice.send("/voice bob")
        _ = try bob.expectEvent(type: "mode")
        try bob.sendJSON(["op": "say", "room": "dev", "text": "voiced now"])
        try alice.expectLine("bob speaks with voice") { $0.hasSuffix("<bob> voiced now") }
        try alice.send("/mode")
        try alice.expect("#dev: moderated")
    }

    @Test("invite-only with invitations across nodes, a key, a member limit, registered names only, a locked topic")
    func roomSettings() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("bob")
        let carol = try cluster[1].login("carol")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")

        try alice.send("/mode +i")
        try alice.expect("made #dev invite-only")
        try bob.send("/join dev")
        try bob.expect("! invite-only")
        try alice.send("/invite bob")
        try alice.expect("bob is invited to #dev for an hour")
        try bob.expect("alice invites you to #dev: /join #dev")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try bob.send("/invite carol")
        try bob.expect("! not-operator")
        try alice.send("/mode -i+k s3cret")
        try alice.expect("set a key on #dev")
        try carol.send("/join dev")
        try carol.expect("! bad-key")
        try carol.send("/join dev wrong")
        try carol.expect("! bad-key")
        try carol.send("/join dev s3cret")
        try carol.expect("you joined #dev")
        try carol.send("/leave dev")
        try carol.expect("you left #dev")

        try alice.send("/mode -k+l 2")
        try alice.expect("limited #dev to 2 members")
        try carol.send("/join dev")
        try carol.expect("! room-full")
        try alice.send("/mode -l+R")
        try alice.expect("made #dev registered-only")
        try carol.send("/join dev")
        try carol.expect("! registered-only")

        try alice.send("/mode -R+t")
        try alice.expect("made #dev topic-locked")
        try bob.send("/join dev")
        try bob.send("/topic mine now")
        try bob.expect("! not-operator")
        try alice.send("/topic the real topic")
        try bob.expect("alice set the topic of #dev: the real topic")
        try alice.send("/mode")
        try alice.expect("#dev: topic-locked")

        // A secret room is listed to its members only.
        try alice.send("/mode +s")
        try alice.expect("made #dev secret")
        Thread.sleep(forTimeInterval: 3.2)  // another node's room list is read again within 3 s
        try carol.send("/rooms")
        try carol.expect("1 room:")
        #expect(!carol.drain().contains { $0.contains("#dev") })
        try bob.send("/rooms")
        try bob.expect("#dev (2 people")
    }

    @Test("IRC: PREFIX and CHANMODES, @ in NAMES, MODE +o/+b/324/367, KICK and INVITE lines, 482/474/404 refusals")
    func ircModeration() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let op = try cluster[0].ircLogin("opal", capabilities: ["multi-prefix"])
        let guest = try cluster[1].ircLogin("gus")
        let nc = try cluster[1].login("ned")
        try op.send("JOIN #dev")
        _ = try op.expectLine("op's NAMES") { $0.contains(" 353 opal = #dev :@opal") }
        try guest.send("JOIN #dev")
        _ = try guest.expectLine("NAMES with the operator's @") {
            $0.contains(" 353 gus = #dev :") && $0.contains("@opal")
        }
        try nc.send("/join dev")
        try nc.expect("you joined #dev")

        try guest.send("MODE #dev +m")
        _ = try guest.expectLine("482") { $0.contains(" 482 gus #dev ") }
        try op.send("MODE #dev +o gus")
        _ = try guest.expectLine("MODE line") { $0.hasSuffix("MODE #dev +o gus") && $0.hasPrefix(":opal!") }
        try nc.expect("#dev: opal gave operator to gus")
        try op.send("MODE #dev -o+b gus ned!*@*")
        _ = try guest.expectLine("-o+b") { $0.hasSuffix("MODE #dev -o+b gus ned!*@*") }
        try op.send("MODE #dev")
        _ = try op.expectLine("324") { $0.contains(" 324 opal #dev +n") }
        try op.send("MODE #dev b")
        _ = try op.expectLine("367") { $0.contains(" 367 opal #dev ned!*@* opal ") }
        _ = try op.expectLine("368") { $0.contains(" 368 opal #dev ") }
        // An IRC ban does not remove (irssi's /kickban kicks after it); KICK does.
        try op.send("KICK #dev ned :bye now")
        _ = try guest.expectLine("KICK line") { $0.contains("KICK #dev ned :bye now") }
        try nc.expect("opal removed you from #dev (bye now)")
        try nc.send("/join dev")
        try nc.expect("! banned")
        let newcomer = try cluster[1].ircLogin("nell")
        try op.send("MODE #dev +i")
        _ = try guest.expectLine("+i") { $0.hasSuffix("MODE #dev +i") }
        try newcomer.send("JOIN #dev")
        _ = try newcomer.expectLine("473") { $0.contains(" 473 nell #dev ") }
        try op.send("INVITE nell #dev")
        _ = try op.expectLine("341") { $0.contains(" 341 opal nell #dev") }
        _ = try newcomer.expectLine("INVITE") { $0.contains("INVITE nell #dev") && $0.hasPrefix(":opal!") }
        try newcomer.send("JOIN #dev")
        _ = try newcomer.expectLine("joined") { $0.contains("JOIN #dev") && $0.hasPrefix(":nell!") }
        try op.send("MODE #dev +b m:nell")
        _ = try newcomer.expectLine("mute") { $0.hasSuffix("MODE #dev +b m:nell!*@*") }
        try newcomer.send("PRIVMSG #dev :hello?")
        _ = try newcomer.expectLine("404") { $0.contains(" 404 nell #dev ") }
    }

    @Test("two operators on two nodes ban at once: both bans hold; an emptied room keeps no roles, settings or bans")
    func concurrentAndEmptied() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("bob")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try alice.send("/op bob")
        try bob.expect("alice gave operator to bob")
        for index in 0..<10 {
            try alice.send("/ban from-alice-\(index)")
            try bob.send("/ban from-bob-\(index)")
        }
        for _ in 0..<20 { try alice.expect("banned from-") }
        try alice.send("/bans")
        try alice.expect("bans and mutes in #dev:")
        let listed = alice.drain().filter { $0.contains("!*@*  by ") }
        #expect(listed.count == 20, "every ban from both nodes is kept: \(listed)")
        try alice.send("/mode +it")
        try alice.expect("invite-only")
        try alice.send("/leave dev")
        try bob.send("/leave dev")
        try bob.expect("you left #dev")
        Thread.sleep(forTimeInterval: 0.3)
        for pattern in ["chat:roles:*", "chat:rules:*", "chat:bans:*"] {
            #expect(try cluster.redis.keys(pattern).isEmpty, "\(pattern) outlives the room")
        }
        // The next one in finds an open room, and is its operator.
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try bob.send("/mode")
        try bob.expect("#dev has no settings")
        try bob.send("/who dev")
        try bob.expectLine("bob is operator") { $0.contains("@bob  online") }
    }
}
