import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// People protect themselves (docs/moderation.md, "Blocking people"): what a blocked person sends reaches nobody who
/// blocks them, on any node or client, live or in history, after a new login to a registered name; guests' direct
/// messages can be refused. Text, JSON and IRC (SILENCE, user mode +R), across two nodes.
@Suite("Blocking people", .serialized)
struct BlockingTests {
    @Test(
        "a block hides a person's room and direct messages on every node, in history, after a new login; /dms registered and +R refuse guests"
    )
    func blocking() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0", "--scrypt-cost", "ln=10,r=8,p=1"])
        let secret = "alice's password"
        var alice = try cluster[0].login("alice")
        try alice.send("/register \(secret)")
        try alice.expect("alice is registered")
        let eve = try cluster[1].loginJSON("eve")
        let carol = try cluster[1].ircLogin("carol")
        try carol.send("JOIN #lobby")
        try carol.expect(" 366 carol #lobby ")

        try alice.send("/block eve")
        try alice.expect("eve is blocked")
        try eve.sendJSON(["op": "say", "room": "lobby", "text": "spam one", "id": "s1"])
        _ = try eve.expectEvent("her own message") { $0["id"] as? String == "s1" }
        try carol.expect(":\(IRCRenderer.mask("eve")) PRIVMSG #lobby :spam one")
        // A direct message to alice: eve is not told it was dropped (blocking is not announced).
        try eve.sendJSON(["op": "msg", "to": "alice", "text": "psst", "id": "d1"])
        #expect(try eve.expectEvent(type: "direct")["id"] as? String == "d1")
        try alice.send("/ping")
        try alice.expect("* pong")
        #expect(!alice.received.contains { $0.contains("spam one") || $0.contains("psst") })
        // Nor an invitation; and history shows the message's place, not its text.
        try eve.sendJSON(["op": "join", "room": "trap"])
        _ = try eve.expectEvent(type: "joined")
        try eve.sendJSON(["op": "invite", "room": "trap", "name": "alice", "id": "i1"])
        _ = try eve.expectEvent("the invitation's reply") { $0["id"] as? String == "i1" }
        try alice.send("/history 10")
        try alice.expect("<eve> (a message from someone you block)")
        try alice.send("/blocks")
        try alice.expect("you block eve; anyone may send you direct messages")
        #expect(!alice.received.contains { $0.contains("spam one") || $0.contains("trap") }, "nothing of eve's")

        // A new login to the registered name, on the other node: the block holds.
        try alice.send("/quit")
        _ = alice.waitForClose()
        // Away, alice is nobody to write to, for eve as for anyone: the block does not show.
        _ = try eve.expectEvent("alice's quit") { $0["type"] as? String == "leave" && $0["name"] as? String == "alice" }
        try eve.sendJSON(["op": "msg", "to": "alice", "text": "still there?", "id": "d9"])
        #expect(try eve.expectEvent(type: "error")["code"] as? String == "no-such-user")
        alice = try cluster[1].connect("alice")
        try alice.expect("what is your name")
        try alice.send("alice")
        try alice.expect("! password-required")
        try alice.send(secret)
        try alice.expect("you joined #lobby")
        try eve.sendJSON(["op": "say", "room": "lobby", "text": "spam two", "id": "s2"])
        try carol.expect("PRIVMSG #lobby :spam two")
        try alice.send("/ping")
        try alice.expect("* pong")
        #expect(!alice.received.contains { $0.contains("spam") })

        // A guest's blocks are not the next guest's: whoever takes the name after starts with none.
        var gus = try cluster[0].login("gus")
        try gus.send("/block eve")
        try gus.expect("eve is blocked")
        try gus.send("/quit")
        _ = gus.waitForClose()
        gus = try cluster[0].login("gus")
        try gus.send("/blocks")
        try gus.expect("you block nobody")
        try eve.sendJSON(["op": "msg", "to": "gus", "text": "hi new gus", "id": "d5"])
        try gus.expect("*eve* hi new gus")

        // Refusing guests' direct messages: eve is told, and a registered name still gets through.
        try alice.send("/unblock eve")
        try alice.expect("eve is no longer blocked")
        try alice.send("/dms registered")
        try alice.expect("direct messages from guests are refused")
        try eve.sendJSON(["op": "msg", "to": "alice", "text": "hello?", "id": "d2"])
        let refused = try eve.expectEvent(type: "error")
        #expect(refused["code"] as? String == "registered-only" && refused["id"] as? String == "d2")
        try eve.sendJSON(["op": "say", "room": "lobby", "text": "in the room is fine", "id": "s3"])
        try alice.expect("<eve> in the room is fine")
        // An invitation is contact as a direct message is: a guest's is refused too, on JSON and IRC.
        try eve.sendJSON(["op": "invite", "room": "trap", "name": "alice", "id": "i2"])
        let uninvited = try eve.expectEvent(type: "error")
        #expect(uninvited["code"] as? String == "registered-only" && uninvited["id"] as? String == "i2")
        try carol.send("JOIN #trap")
        try carol.expect(" 366 carol #trap ")
        try carol.send("INVITE alice #trap")
        try carol.expect(" 486 carol alice :")
        #expect(!alice.drain(timeout: 0.3).contains { $0.contains("invites you") || $0.contains("#trap") })

        // IRC: user mode +R, SILENCE +nick and its list.
        try carol.send("MODE carol +iwR")
        try carol.expect(":carol MODE carol +R")
        try carol.send("MODE carol")
        try carol.expect(" 221 carol +iR")
        try eve.sendJSON(["op": "msg", "to": "carol", "text": "hi carol", "id": "d3"])
        #expect(try eve.expectEvent(type: "error")["code"] as? String == "registered-only")
        try carol.send("SILENCE +eve")
        try carol.expect("SILENCE +eve!*@*")
        try carol.send("SILENCE")
        try carol.expect(" 271 carol carol eve!*@*")
        try carol.expect(" 272 carol ")
        // Blocked and +R: eve's invitation is answered as anyone's is (as her direct message would be), so she
        // learns nothing; carol never sees it. A registered name's invitation reaches her.
        try eve.sendJSON(["op": "join", "room": "den"])
        _ = try eve.expectEvent(type: "joined")
        try eve.sendJSON(["op": "invite", "room": "den", "name": "carol", "id": "i3"])
        let answered = try eve.expectEvent("the invitation's reply") { $0["id"] as? String == "i3" }
        #expect(answered["type"] as? String == "ok", "\(answered)")
        try alice.send("/join garden")
        try alice.expect("you joined #garden")
        try alice.send("/invite carol garden")
        try carol.expect("INVITE carol #garden")
        try eve.sendJSON(["op": "say", "room": "lobby", "text": "spam three", "id": "s4"])
        try alice.expect("<eve> spam three")
        try carol.send("PING :after")
        try carol.expect("PONG")
        #expect(
            !carol.received.contains { $0.contains("spam three") || $0.contains("hi carol") || $0.contains("#den") })
    }
}
