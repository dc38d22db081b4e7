import ChatTestSupport
import Foundation
import Testing

/// Registered rooms across two nodes (docs/moderation.md, "Registered rooms"): what the owner, its operators, a
/// newcomer to the empty room and an IRC client see, in text mode, JSON and IRC.
@Suite("Registered rooms", .serialized)
struct RegisteredRoomTests {
    @Test(
        "an operator with a registered name registers a room; while empty it keeps its key and nobody else becomes its operator; its owner and listed operators get their roles back at their joins; only the owner grants operator; nobody kicks the owner; ownership moves and goes"
    )
    func registeredRoom() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].login("alice")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        // A guest owns nothing.
        try alice.send("/room register")
        try alice.expect("! not-registered")
        try alice.send("/register secret-alice-1")
        try alice.expect("alice is registered")
        try alice.send("/room register")
        try alice.expect("alice registered #dev: alice owns it")

        let bob = try cluster[1].login("bob")
        try bob.send("/register secret-bob-1")
        try bob.expect("bob is registered")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        let carol = try cluster[1].loginJSON("carol")
        try carol.sendJSON(["op": "join", "room": "dev"])
        _ = try carol.expectEvent(type: "joined")
        let erin = try cluster[1].ircLogin("erin", capabilities: ["multi-prefix"])
        try erin.send("JOIN #dev")
        try erin.expectLine("the owner in NAMES") { $0.contains(" 353 erin ") && $0.contains("~@alice") }

        // The owner makes bob an operator; bob may give voice, not operator, and may not kick the owner.
        try alice.send("/op bob")
        try bob.expect("#dev: alice gave operator to bob")
        try bob.send("/op carol")
        try bob.expect("! not-owner")
        try bob.send("/kick alice")
        try bob.expect("! not-owner")
        try bob.send("/voice carol")
        try alice.expect("#dev: bob gave voice to carol")
        try alice.send("/mode +k sesame")
        try bob.expect("#dev: alice set a key on #dev")

        // Everyone sees who owns it; its operators also see whose roles it keeps (bob's: carol is a guest).
        try carol.sendJSON(["op": "room-info", "room": "dev", "id": "i"])
        let info = try carol.expectEvent(type: "room-info")
        #expect(info["owner"] as? String == "alice" && info["access"] == nil)
        try bob.send("/room info")
        try bob.expect("#dev is registered to alice")
        try bob.expect("bob: operator")
        try erin.send("PRIVMSG ChanServ :INFO #dev")
        try erin.expectLine("ChanServ's answer") { $0.hasPrefix(":ChanServ!") && $0.contains("Founder: alice") }
        try erin.send("CS REGISTER #dev")
        try erin.expectLine("ChanServ's refusal") {
            $0.hasPrefix(":ChanServ!") && $0.contains("belongs to a registered name")
        }

        // Everyone leaves; the room keeps its key, and a newcomer to the empty room is nobody's operator.
        for client in [alice, bob] { try client.send("/leave dev") }
        try carol.sendJSON(["op": "leave", "room": "dev"])
        try erin.send("PART #dev")
        try alice.expect("you left #dev")
        try bob.expect("you left #dev")
        let dave = try cluster[0].login("dave")
        try dave.send("/join dev")
        try dave.expect("! bad-key")
        try dave.send("/join dev sesame")
        try dave.expect("you joined #dev")
        try dave.send("/mode +i")
        try dave.expect("! not-operator")

        // The listed operator gets the role back at their join (with the key); the owner comes in past the key.
        try bob.send("/join dev sesame")
        try dave.expect("#dev: server gave operator to bob")
        try alice.send("/join dev")
        try dave.expect("#dev: server gave owner to alice, gave operator to alice")
        try erin.send("JOIN #dev sesame")
        try erin.expectLine("the owner in NAMES") { $0.contains(" 353 erin ") && $0.contains("~@alice") }

        // Taken off the list while away, bob is an ordinary member at his next join.
        try bob.send("/leave dev")
        try alice.send("/deop bob")
        try alice.expect("#dev: alice took operator from bob")
        try bob.send("/join dev sesame")
        try dave.expect("bob joined #dev")
        try dave.send("/who dev")
        try dave.expectLine("bob without a role") { $0.contains("  bob  online") }

        // The owner gives the room to bob, who gives it up: an ordinary room again.
        try alice.send("/room transfer bob")
        try dave.expect("alice gave #dev to bob: it was alice's")
        try erin.expectLine("the owner's mode moving") { $0.contains("MODE #dev -q+qo alice bob bob") }
        try dave.send("/who dev")
        try dave.expectLine("alice operates it") { $0.contains("@alice  online") }
        try dave.expectLine("bob owns it") { $0.contains("~bob  online") }
        #expect(try cluster.redis.cli(["SCARD", "chat:owned-rooms:{bob}"]) == "1")
        #expect(try cluster.redis.cli(["SCARD", "chat:owned-rooms:{alice}"]) == "0")
        // The owner is the account, not the name: an account made again under the name (after a lapse) owns nothing.
        let made = try cluster.redis.cli(["HGET", "chat:account:{bob}", "created"])
        _ = try cluster.redis.cli(["HSET", "chat:account:{bob}", "created", "1"])
        try bob.send("/room unregister")
        try bob.expect("! not-owner")
        _ = try cluster.redis.cli(["HSET", "chat:account:{bob}", "created", made])
        try bob.send("/room unregister")
        try dave.expect("bob unregistered #dev: it is an ordinary room again")
        try alice.send("/room info")
        try alice.expect("#dev is not registered")
    }
}
