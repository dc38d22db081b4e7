import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// Replies, reactions, edits and deletes (issue 30), over real sockets against two real nodes and Redis: what a JSON
/// program, a person on nc and an IRCv3 client see of each other's, live, in a late joiner's history and after a
/// resume, and what is refused.
@Suite("Acting on messages", .serialized)
struct MessageActionTests {
    @Test("replies, reactions, edits and deletes reach JSON, text and IRC clients on both nodes; history keeps them")
    func actOnMessages() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let alice = try cluster[0].loginJSON("alice")
        let bob = try cluster[1].login("bob")
        let carol = try cluster[1].ircLogin(
            "carol", capabilities: ["message-tags", "echo-message", "draft/message-redaction"])
        try carol.send("JOIN #lobby")
        _ = try carol.expectLine("joined") { $0.contains(" 366 ") }

        try alice.sendJSON(["op": "say", "text": "hello from alice", "id": 2])
        let said = try alice.expectEvent("the acknowledgement") { $0["type"] as? String == "message" }
        let first = try #require(said["msgid"] as? String)
        try bob.expect("<alice> hello from alice")
        _ = try carol.expectLine("alice's message") {
            $0.contains("msgid=\(first)") && $0.hasSuffix("PRIVMSG #lobby :hello from alice")
        }

        // A reply, by name from text mode: everyone sees whom it answers.
        try bob.send("/reply alice hi back")
        let reply = try alice.expectEvent("bob's reply") {
            $0["type"] as? String == "message" && $0["from"] as? String == "bob"
        }
        let answered = reply["reply"] as? [String: Any]
        #expect(answered?["msgid"] as? String == first, "\(reply)")
        #expect(answered?["from"] as? String == "alice" && answered?["text"] as? String == "hello from alice")
        let replyID = try #require(reply["msgid"] as? String)
        _ = try carol.expectLine("the reply tag") {
            $0.contains("+draft/reply=\(first)") && $0.hasSuffix("PRIVMSG #lobby :hi back")
        }
        // From IRC, the reply tag; from JSON, `reply`.
        try carol.send("@+draft/reply=\(replyID) PRIVMSG #lobby :welcome both")
        let ircReply = try alice.expectEvent("carol's reply") { $0["from"] as? String == "carol" }
        #expect((ircReply["reply"] as? [String: Any])?["from"] as? String == "bob", "\(ircReply)")
        try bob.expect("<carol> (replying to bob: hi back) welcome both")

        // Reactions: IRC's TAGMSG, JSON's react; text mode names the message.
        try carol.send("@+draft/react=👍;+draft/reply=\(first) TAGMSG #lobby")
        let reacted = try alice.expectEvent("carol's reaction") { $0["type"] as? String == "reacted" }
        #expect(reacted["emoji"] as? String == "👍" && reacted["from"] as? String == "carol", "\(reacted)")
        #expect(reacted["msgid"] as? String == first && reacted["author"] as? String == "alice")
        try bob.expect("carol reacted 👍 to alice's message: hello from alice")
        _ = try carol.expectLine("the echo") { $0.contains("+draft/react=👍") && $0.contains("TAGMSG #lobby") }
        try alice.sendJSON(["op": "react", "msgid": first, "emoji": "🎉", "id": 3])
        _ = try alice.expectEvent("the acknowledgement") { $0["type"] as? String == "reacted" && $0["id"] as? Int == 3 }
        _ = try carol.expectLine("alice's reaction") { $0.contains("+draft/react=🎉") && $0.contains(":alice!") }
        try bob.send("/react 😀 alice")
        _ = try alice.expectEvent("bob's reaction") {
            $0["type"] as? String == "reacted" && $0["emoji"] as? String == "😀"
        }
        try bob.send("/unreact 😀 alice")
        _ = try alice.expectEvent("taken back") {
            $0["type"] as? String == "unreacted" && $0["emoji"] as? String == "😀"
        }
        _ = try carol.expectLine("taken back, on IRC") { $0.contains("+draft/unreact=😀") }

        // An edit: the author's only.
        try alice.sendJSON(["op": "edit", "msgid": first, "text": "hello from alice, edited", "id": 4])
        _ = try alice.expectEvent("the acknowledgement") { $0["type"] as? String == "edited" && $0["id"] as? Int == 4 }
        try bob.expect("alice edited their message, now: hello from alice, edited")
        _ = try carol.expectLine("the edit") {
            $0.contains("+draft/edit=\(first)") && $0.hasSuffix("PRIVMSG #lobby :hello from alice, edited")
        }
        try bob.send("/edit \(first) mine now")
        try bob.expect("! not-yours only its author edits a message")

        // Refused, changing nothing: a message that is not there, a reaction that is no emoji, a room one is not in.
        try alice.sendJSON(["op": "react", "msgid": "1-0", "emoji": "👍", "id": 5])
        let missing = try alice.expectEvent("refused") { $0["type"] as? String == "error" && $0["id"] as? Int == 5 }
        #expect(missing["code"] as? String == "no-such-message", "\(missing)")
        try alice.sendJSON(["op": "react", "msgid": first, "emoji": String(repeating: "x", count: 40), "id": 6])
        let long = try alice.expectEvent("refused") { $0["type"] as? String == "error" && $0["id"] as? Int == 6 }
        #expect(long["code"] as? String == "bad-request", "\(long)")
        try alice.sendJSON(["op": "react", "room": "elsewhere", "msgid": first, "emoji": "👍", "id": 7])
        let outside = try alice.expectEvent("refused") { $0["type"] as? String == "error" && $0["id"] as? Int == 7 }
        #expect(outside["code"] as? String == "not-in-room", "\(outside)")
        try carol.send("REDACT #lobby \(first) :not mine")
        _ = try carol.expectLine("forbidden") { $0.contains("FAIL REDACT REDACT_FORBIDDEN #lobby \(first) ") }

        // A late joiner on the other node sees the messages as they stand: edited, with reactions and replies.
        let dana = try cluster[1].connect("dana")
        try dana.sendJSON(["op": "hello", "name": "dana", "id": 1])
        let welcome = try dana.expectEvent(type: "welcome")
        let resume = try #require(welcome["resume"] as? String)
        let joined = try dana.expectEvent(type: "joined")
        let history = joined["history"] as? [[String: Any]] ?? []
        let original = try #require(history.first { $0["msgid"] as? String == first }, "\(history)")
        #expect(original["text"] as? String == "hello from alice, edited" && original["edited"] != nil)
        let reactions = original["reactions"] as? [[String: Any]] ?? []
        #expect(reactions.map { $0["emoji"] as? String } == ["👍", "🎉"], "\(reactions)")
        #expect(reactions.first?["names"] as? [String] == ["carol"] && reactions.first?["count"] as? Int == 1)
        let answer = try #require(history.first { $0["msgid"] as? String == replyID })
        #expect((answer["reply"] as? [String: Any])?["text"] as? String == "hello from alice, edited", "\(answer)")
        let lastSeen = try #require(history.last?["msgid"] as? String)

        // Dana's connection drops; meanwhile alice deletes her message. The resume tells dana it is gone.
        dana.close()
        try alice.sendJSON(["op": "delete", "msgid": first, "id": 8])
        _ = try alice.expectEvent("the acknowledgement") { $0["type"] as? String == "deleted" && $0["id"] as? Int == 8 }
        try bob.expect("alice deleted their message")
        _ = try carol.expectLine("the redaction") {
            $0.contains(":alice!") && $0.contains(" REDACT #lobby ") && $0.hasSuffix(first)
        }
        let back = try cluster[1].connect("dana again")
        try back.sendJSON([
            "op": "hello", "name": "dana", "resume": resume, "rooms": [["room": "lobby", "since": lastSeen]], "id": 1,
        ])
        _ = try back.expectEvent(type: "welcome")
        let rejoined = try back.expectEvent(type: "joined")
        #expect((rejoined["history"] as? [Any])?.isEmpty == true, "\(rejoined)")
        let gone = try back.expectEvent(type: "deleted")
        #expect(gone["msgid"] as? String == first && gone["from"] as? String == "alice", "\(gone)")
        #expect(!back.received.contains { $0.contains("\"type\":\"gap\"") }, "a delete is no lost message")

        // History after the delete: the message is gone for everyone, the reply says so.
        try back.sendJSON(["op": "history", "room": "lobby", "id": 2])
        let page = try back.expectEvent(type: "history")
        let messages = page["messages"] as? [[String: Any]] ?? []
        #expect(!messages.contains { $0["msgid"] as? String == first }, "\(messages)")
        let orphan = try #require(messages.first { $0["msgid"] as? String == replyID })
        let orphaned = orphan["reply"] as? [String: Any]
        #expect(orphaned?["msgid"] as? String == first && orphaned?["from"] == nil, "\(orphan)")
        try bob.send("/history")
        try bob.expect("<bob> (replying to a message no longer here) hi back")
    }

    @Test(
        "reactions are bounded per person and rate-limited like messages; one's own newest is edited and deleted by name"
    )
    func reactionLimits() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--rate-limit", "20", "--rate-burst", "10"])
        let alice = try cluster[0].loginJSON("alice")
        let bob = try cluster[0].login("bob")
        try alice.sendJSON(["op": "say", "text": "react to me", "id": 2])
        let said = try alice.expectEvent("the acknowledgement") { $0["type"] as? String == "message" }
        let target = try #require(said["msgid"] as? String)
        let emojis = ["😀", "😁", "😂", "🤣", "😃", "😄"]
        for emoji in emojis { try bob.send("/react \(emoji)") }
        try bob.expect("! message-full you put at most 5 reactions on one message")
        #expect(bob.drain().filter { $0.contains(" reacted ") }.count <= 5)
        // A flood of reactions runs into the rate limit, as a flood of messages does.
        for _ in 0..<30 { try bob.send("/unreact 😀") }
        try bob.expect("! rate-limited")
        Thread.sleep(forTimeInterval: 0.6)
        // Text mode's own newest: /edit and /delete without an id.
        try bob.send("my typo")
        _ = try alice.expectEvent("bob's message") {
            $0["type"] as? String == "message" && $0["text"] as? String == "my typo"
        }
        try bob.send("/edit my fix")
        let edited = try alice.expectEvent("the edit") { $0["type"] as? String == "edited" }
        #expect(edited["text"] as? String == "my fix" && edited["from"] as? String == "bob", "\(edited)")
        try bob.send("/delete")
        _ = try alice.expectEvent("the delete") { $0["type"] as? String == "deleted" && $0["from"] as? String == "bob" }
        try alice.sendJSON(["op": "history", "room": "lobby", "id": 3])
        let page = try alice.expectEvent(type: "history")
        let texts = (page["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        #expect(texts == ["react to me"], "\(texts)")
        _ = target
    }
    @Test(
        "authors are sessions, not names; only a registered room's operators delete others'; pages count messages, not changes"
    )
    func authorsAndPages() throws {
        let cluster = try TestCluster(
            nodes: 2, nodeArguments: ["--irc-port", "0", "--rate-limit", "50", "--rate-burst", "50"])
        let alice = try cluster[0].loginJSON("alice")
        try alice.sendJSON(["op": "join", "room": "den", "id": 1])
        _ = try alice.expectEvent(type: "joined")
        var ids: [String] = []
        for text in ["one", "two", "three", "four"] {
            try alice.sendJSON(["op": "say", "room": "den", "text": text, "id": text])
            let said = try alice.expectEvent("acknowledged") {
                $0["type"] as? String == "message" && $0["id"] as? String == text
            }
            ids.append(try #require(said["msgid"] as? String))
            // Changes between the messages: a page of history counts messages, whatever lies between them.
            for emoji in ["😀", "😁", "😂"] {
                try alice.sendJSON(["op": "react", "room": "den", "msgid": ids.last!, "emoji": emoji])
            }
        }
        try alice.sendJSON(["op": "history", "room": "den", "after": ids[0], "limit": 2, "id": 9])
        let page = try alice.expectEvent("a page") { $0["type"] as? String == "history" && $0["id"] as? Int == 9 }
        let texts = (page["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        #expect(texts == ["two", "three"] && page["more"] as? Bool == true, "\(page)")

        // A program's tagmsg reaction is a reaction like any other: kept, and seen by every client.
        try alice.sendJSON(["op": "tagmsg", "to": "#den", "text": "+draft/react=🎉;+draft/reply=\(ids[0])", "id": 10])
        _ = try alice.expectEvent("kept") { $0["type"] as? String == "reacted" && $0["emoji"] as? String == "🎉" }

        // alice leaves; someone else takes the name: what she said is not theirs to edit.
        try alice.sendJSON(["op": "quit"])
        _ = alice.waitForClose()
        let mallory = try cluster[1].loginJSON("alice")
        try mallory.sendJSON(["op": "join", "room": "den", "id": 2])
        _ = try mallory.expectEvent(type: "joined")
        try mallory.sendJSON(["op": "edit", "room": "den", "msgid": ids[0], "text": "forged", "id": 3])
        let forged = try mallory.expectEvent("refused") { $0["type"] as? String == "error" && $0["id"] as? Int == 3 }
        #expect(forged["code"] as? String == "not-yours", "\(forged)")
        // The first comer of an emptied unregistered room is its operator, but may not wipe its history.
        try mallory.sendJSON(["op": "delete", "room": "den", "msgid": ids[1], "id": 4])
        let wiped = try mallory.expectEvent("refused") { $0["type"] as? String == "error" && $0["id"] as? Int == 4 }
        #expect(wiped["code"] as? String == "not-yours", "\(wiped)")

        // A reply to a message gone meanwhile is said anyway, as a plain message.
        let carol = try cluster[1].ircLogin(
            "carol", capabilities: ["message-tags", "echo-message", "draft/message-redaction"])
        try carol.send("JOIN #den")
        _ = try carol.expectLine("joined") { $0.contains(" 366 ") }
        try carol.send("@+draft/reply=1-0 PRIVMSG #den :still said")
        let plain = try mallory.expectEvent("carol's message") { $0["from"] as? String == "carol" }
        #expect(plain["text"] as? String == "still said" && plain["reply"] == nil, "\(plain)")
        // IRC: REDACT of one's own reaction's msgid takes the reaction back.
        try carol.send("@+draft/react=👍;+draft/reply=\(ids[2]) TAGMSG #den")
        let reaction = try carol.expectLine("the echo") { $0.contains("+draft/react=👍") }
        let reactionID = try #require(
            reaction.split(separator: ";").first { $0.hasPrefix("msgid=") }.map {
                String($0.dropFirst(6).prefix { $0 != " " })
            })
        try carol.send("REDACT #den \(reactionID)")
        let undone = try mallory.expectEvent("taken back") { $0["type"] as? String == "unreacted" }
        #expect(undone["msgid"] as? String == ids[2] && undone["emoji"] as? String == "👍", "\(undone)")
    }

    @Test("a registered name's read marker is kept across logins and nodes, with the unread count; IRC's MARKREAD")
    func readMarkers() throws {
        let cluster = try TestCluster(
            nodes: 2, nodeArguments: ["--irc-port", "0", "--scrypt-cost", "ln=10,r=8,p=1"])
        let reader = try cluster[0].loginJSON("reader")
        try reader.sendJSON(["op": "register", "password": "reader's secret", "id": 2])
        _ = try reader.expectEvent(type: "ok")
        try reader.sendJSON(["op": "quit"])
        _ = reader.waitForClose()
        /// Logs in with the password on `node`, in the lobby.
        func login(on node: Int) throws -> TestSocket {
            let client = try cluster[node].connect("reader")
            try client.sendJSON(["op": "hello", "name": "reader", "password": "reader's secret", "id": 1])
            _ = try client.expectEvent(type: "welcome")
            _ = try client.expectEvent(type: "joined")
            return client
        }
        let first = try login(on: 1)
        let bob = try cluster[0].loginJSON("bob")
        var ids: [String] = []
        for text in ["one", "two", "three"] {
            try bob.sendJSON(["op": "say", "text": text, "id": text])
            let said = try bob.expectEvent("acknowledged") { $0["type"] as? String == "message" }
            ids.append(try #require(said["msgid"] as? String))
            _ = try first.expectEvent("delivered") { $0["text"] as? String == text }
        }
        // Asking where a room never marked is read up to is answered (with no msgid).
        try bob.sendJSON(["op": "read", "room": "lobby", "id": "ask"])
        let asked = try bob.expectEvent("the answer") {
            $0["type"] as? String == "read" && $0["id"] as? String == "ask"
        }
        #expect(asked["msgid"] == nil, "\(asked)")
        try first.sendJSON(["op": "say", "text": "mine", "id": 3])
        _ = try first.expectEvent("mine") { $0["type"] as? String == "message" && $0["id"] as? Int == 3 }
        try first.sendJSON(["op": "read", "room": "lobby", "msgid": ids[1], "id": 4])
        let marked = try first.expectEvent("the marker") { $0["type"] as? String == "read" && $0["id"] as? Int == 4 }
        #expect(marked["msgid"] as? String == ids[1], "\(marked)")
        // Backwards is refused quietly: the answer is the marker as it stands.
        try first.sendJSON(["op": "read", "room": "lobby", "msgid": ids[0], "id": 5])
        let kept = try first.expectEvent("the marker") { $0["type"] as? String == "read" && $0["id"] as? Int == 5 }
        #expect(kept["msgid"] as? String == ids[1])
        try first.sendJSON(["op": "quit"])
        _ = first.waitForClose()
        try bob.sendJSON(["op": "say", "text": "four", "id": 6])
        _ = try bob.expectEvent("acknowledged") { $0["type"] as? String == "message" && $0["id"] as? Int == 6 }

        // The next login, on the other node: the marker, and what came after it from others (three, four).
        let again = try cluster[0].connect("reader again")
        try again.sendJSON(["op": "hello", "name": "reader", "password": "reader's secret", "id": 1])
        _ = try again.expectEvent(type: "welcome")
        _ = try again.expectEvent(type: "joined")
        let read = try again.expectEvent(type: "read")
        #expect(read["msgid"] as? String == ids[1] && read["unread"] as? Int == 2, "\(read)")

        // IRC (draft/read-marker): MARKREAD after a JOIN, `*` for never; set forward, asked, refused for a nick.
        let carol = try cluster[1].ircLogin("carol", capabilities: ["draft/read-marker"])
        try carol.send("JOIN #lobby")
        _ = try carol.expectLine("never read") {
            $0.hasSuffix("MARKREAD #lobby *") || $0.hasSuffix("MARKREAD #lobby :*")
        }
        try carol.send("MARKREAD #lobby timestamp=2026-01-01T00:00:00.500Z")
        _ = try carol.expectLine("set") { $0.hasSuffix("MARKREAD #lobby :timestamp=2026-01-01T00:00:00.500Z") }
        try carol.send("MARKREAD #lobby timestamp=2025-01-01T00:00:00.000Z")
        _ = try carol.expectLine("kept") { $0.hasSuffix("MARKREAD #lobby :timestamp=2026-01-01T00:00:00.500Z") }
        try carol.send("MARKREAD bob timestamp=2026-01-01T00:00:00.500Z")
        _ = try carol.expectLine("a nick") { $0.contains("FAIL MARKREAD INVALID_PARAMS bob ") }
    }
}
