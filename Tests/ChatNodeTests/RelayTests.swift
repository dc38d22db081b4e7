import ChatTestSupport
import Foundation
import Testing

/// People on different nodes chat as if on one server.
@Suite("Relay across nodes", .serialized)
struct RelayTests {
    @Test("a room message reaches people on every node, and not its sender in text mode")
    func roomMessageCrossesNodes() throws {
        let cluster = try TestCluster(nodes: 3)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("bob")
        let carol = try cluster[2].login("carol")
        try alice.expect("carol joined #lobby")

        try alice.send("hello from node one")
        try bob.expectLine("alice's message") { $0.hasSuffix("#lobby <alice> hello from node one") }
        try carol.expectLine("alice's message") { $0.hasSuffix("#lobby <alice> hello from node one") }
        #expect(!alice.drain().contains { $0.contains("hello from node one") })
    }

    @Test("typing notices reach JSON clients on other nodes, not the typist, not text mode, at most one per 2 s")
    func typingNotices() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].loginJSON("alice")
        let bob = try cluster[1].loginJSON("bob")
        let carol = try cluster[1].login("carol")
        try alice.sendJSON(["op": "typing", "room": "lobby"])
        let notice = try bob.expectEvent(type: "typing")
        #expect(notice["room"] as? String == "lobby" && notice["name"] as? String == "alice")
        // A burst within the interval is dropped; a message still goes through at once.
        for _ in 0..<5 { try alice.sendJSON(["op": "typing"]) }
        try alice.sendJSON(["op": "say", "text": "done typing"])
        _ = try bob.expectEvent("alice's message") { $0["type"] as? String == "message" }
        #expect(!bob.drain().contains { $0.contains("\"typing\"") }, "the burst was not relayed")
        #expect(!alice.drain().contains { $0.contains("\"typing\"") }, "the typist is not told about itself")
        #expect(!carol.drain().contains { $0.contains("is typing") }, "nc users do not get typing lines")
        // In a room one is not in: an error with the code.
        try alice.sendJSON(["op": "typing", "room": "elsewhere", "id": "t"])
        let error = try alice.expectEvent(type: "error")
        #expect(error["code"] as? String == "not-in-room" && error["id"] as? String == "t")
    }

    @Test("a join with since of a room one is already in replays what came after it (a reconnect's lobby)")
    func catchUpInJoinedRoom() throws {
        let cluster = try TestCluster(nodes: 2)
        let reader = try cluster[0].loginJSON("reader")
        let writer = try cluster[1].login("writer")
        var ids: [String] = []
        for index in 0..<25 {
            Thread.sleep(forTimeInterval: 0.11)  // within the rate limit (10 a second)
            try writer.send("message \(index)")
            let event = try reader.expectEvent("message \(index)") {
                $0["type"] as? String == "message" && $0["text"] as? String == "message \(index)"
            }
            ids.append(event["msgid"] as? String ?? "")
        }
        try reader.sendJSON(["op": "join", "room": "lobby", "since": ids[1], "id": "r"])
        let reply = try reader.expectEvent("the catch-up") {
            $0["type"] as? String == "joined" && $0["id"] as? String == "r"
        }
        let texts = (reply["history"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        #expect(texts == (2..<25).map { "message \($0)" }, "everything after the id, more than the 20 of a plain join")
    }

    @Test("joins and leaves of another room are seen on every node")
    func joinAndLeaveEvents() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("bob")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try alice.send("/join dev")
        try alice.expect("you joined #dev")
        try bob.expect("alice joined #dev")
        #expect(!alice.drain().contains { $0.contains("alice joined") }, "nobody is told of their own join")
        try alice.send("in dev now")
        try bob.expectLine("message in dev") { $0.hasSuffix("#dev <alice> in dev now") }
        try alice.send("/leave dev")
        try alice.expect("you left #dev")
        try bob.expectLine("leave notice") { $0.hasSuffix("alice left #dev") }
        try alice.send("/quit")
        try bob.expect("alice left #lobby (quit)")
    }

    @Test("direct messages cross nodes; an unknown name gets no-such-user")
    func directMessages() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("Bob")
        try alice.send("/msg bob psst")
        try bob.expectLine("the direct message") { $0.hasSuffix("*alice* psst") }
        try alice.expectLine("the echo") { $0.hasSuffix("-> *bob* psst") }
        try alice.send("/msg nobody-here hello?")
        try alice.expect("! no-such-user")
    }

    @Test("/who lists members on every node with their away state")
    func whoAcrossNodes() throws {
        let cluster = try TestCluster(nodes: 2)
        let alice = try cluster[0].login("alice")
        let bob = try cluster[1].login("bob")
        try bob.send("/away lunch")
        try bob.expect("you are marked away")
        try alice.expect("bob is away: lunch")
        try alice.send("/who")
        try alice.expect("2 people in #lobby")
        try alice.expectLine("alice online") { $0.contains("alice  online") }
        try alice.expectLine("bob away") { $0.contains("bob  away: lunch") }
        try bob.send("/back")
        try alice.expect("bob is back")
    }

    @Test(
        "hello with rooms: back in exactly those rooms on another node, each missed message once, the last room current"
    )
    func resumeInHello() throws {
        let cluster = try TestCluster(nodes: 2)
        let writer = try cluster[1].login("writer")
        try writer.send("/join dev")
        try writer.expect("you joined #dev")
        let first = try cluster[0].loginJSON("reader")
        try first.sendJSON(["op": "join", "room": "dev"])
        _ = try first.expectEvent(type: "joined")
        try writer.send("seen before")
        let seen = try first.expectEvent("the message before the drop") { $0["text"] as? String == "seen before" }
        first.close()
        try writer.expect("reader left #dev")
        for text in ["missed one", "missed two"] {
            Thread.sleep(forTimeInterval: 0.11)  // within the rate limit
            try writer.send(text)
        }

        let again = try cluster[1].connect("reader again")
        try again.sendJSON([
            "op": "hello", "name": "reader", "id": "h",
            "rooms": [["room": "lobby"], ["room": "dev", "since": seen["msgid"] as! String]],
        ])
        let welcome = try again.expectEvent(type: "welcome")
        #expect(welcome["room"] as? String == "dev" && welcome["id"] as? String == "h")
        let lobby = try again.expectEvent(type: "joined")
        #expect(lobby["room"] as? String == "lobby")
        let dev = try again.expectEvent(type: "joined")
        #expect(dev["room"] as? String == "dev")
        #expect(
            (dev["history"] as? [[String: Any]])?.compactMap { $0["text"] as? String } == ["missed one", "missed two"])
        try writer.send("live after")
        _ = try again.expectEvent("the live message") { $0["text"] as? String == "live after" }
        try again.sendJSON(["op": "say", "text": "to the current room", "id": "s"])
        let ack = try again.expectEvent("the acknowledgement") { $0["id"] as? String == "s" }
        #expect(ack["room"] as? String == "dev", "the last listed room is current")
        #expect(!again.drain().contains { $0.contains("missed") }, "nothing twice")

        // A hello that lists no room joins none; a bad entry costs only its room, with an error that says why.
        let bare = try cluster[0].connect("no rooms")
        try bare.sendJSON(["op": "hello", "name": "carol", "rooms": [] as [Any]])
        #expect(try bare.expectEvent(type: "welcome")["room"] == nil)
        #expect(!bare.drain().contains { $0.contains("\"joined\"") }, "not even the lobby")
        let bad = try cluster[0].connect("bad entry")
        try bad.sendJSON([
            "op": "hello", "name": "dave", "rooms": [["room": "ops", "since": "yesterday"], ["room": "dev"]],
        ])
        _ = try bad.expectEvent(type: "welcome")
        let refused = try bad.expectEvent(type: "error")
        #expect(refused["code"] as? String == "bad-request" && (refused["message"] as? String ?? "").contains("ops"))
        #expect(try bad.expectEvent(type: "joined")["room"] as? String == "dev")
    }

    @Test("joining shows recent history; a join with the last seen id gets exactly what was missed")
    func historyAndResume() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        let writer = try cluster[0].loginJSON("writer")
        var ids: [String] = []
        for index in 1...25 {
            try writer.sendJSON(["op": "say", "text": "message \(index)", "id": "m\(index)"])
            let own = try writer.expectEvent("own message \(index)") {
                $0["type"] as? String == "message" && $0["id"] as? String == "m\(index)"
            }
            ids.append(own["msgid"] as! String)
        }

        // A newcomer on the other node sees the last 20, oldest first, with the same ids.
        let reader = try cluster[1].connect("reader")
        try reader.sendJSON(["op": "hello", "name": "reader"])
        let joined = try reader.expectEvent(type: "joined")
        let history = (joined["history"] as! [[String: Any]])
        #expect(history.count == 20)
        #expect(history.map { $0["text"] as! String } == (6...25).map { "message \($0)" })
        #expect(history.map { $0["msgid"] as! String } == Array(ids[5...]))

        // Resume: from the id of message 22, exactly 23, 24, 25.
        try reader.sendJSON(["op": "join", "room": "resume-room"])
        _ = try reader.expectEvent(type: "joined")
        try reader.sendJSON(["op": "leave", "room": "lobby"])
        _ = try reader.expectEvent(type: "left")
        try reader.sendJSON(["op": "join", "room": "lobby", "since": ids[21]])
        let resumed = try reader.expectEvent(type: "joined")
        let missed = (resumed["history"] as! [[String: Any]]).map { $0["text"] as! String }
        #expect(missed == ["message 23", "message 24", "message 25"])

        // /history N in text mode.
        let person = try cluster[1].login("person")
        try person.send("/history 3")
        try person.expect("the last 3 messages of #lobby")
        try person.expectLine("message 23") { $0.hasSuffix("<writer> message 23") }
    }

    @Test("JSON mode: replies repeat the request id, errors carry codes, every event has a type and time")
    func jsonProtocol() throws {
        let cluster = try TestCluster(nodes: 1)
        let client = try cluster[0].connect("json")
        try client.sendJSON(["op": "hello", "name": "server", "id": "h1"])
        let refused = try client.expectEvent(type: "error")
        #expect(refused["code"] as? String == "name-invalid")
        #expect(refused["id"] as? String == "h1")
        try client.sendJSON(["op": "hello", "name": "jay", "id": 2])
        let welcome = try client.expectEvent(type: "welcome")
        #expect(welcome["id"] as? Int == 2)
        #expect(welcome["time"] is Int)
        try client.send("{not json")
        #expect(try client.expectEvent(type: "error")["code"] as? String == "bad-request")
        try client.sendJSON(["op": "fly", "id": 3])
        #expect(try client.expectEvent(type: "error")["code"] as? String == "unknown-command")
        try client.sendJSON(["op": "say", "room": "elsewhere", "text": "hi", "id": 4])
        let notIn = try client.expectEvent(type: "error")
        #expect(notIn["code"] as? String == "not-in-room")
        #expect(notIn["id"] as? Int == 4)
        try client.sendJSON(["op": "rooms", "id": 5])
        let rooms = try client.expectEvent(type: "rooms")
        #expect((rooms["rooms"] as? [[String: Any]])?.first?["room"] as? String == "lobby")
        try client.sendJSON(["op": "seen", "name": "jay", "id": 6])
        #expect(try client.expectEvent(type: "seen")["state"] as? String == "online")

        // A join with something that is not a message id is refused before anything is joined.
        try client.sendJSON(["op": "join", "room": "ops", "since": "yesterday", "id": 7])
        let badSince = try client.expectEvent(type: "error")
        #expect(badSince["code"] as? String == "bad-request")
        #expect(badSince["id"] as? Int == 7)
        try client.sendJSON(["op": "who", "room": "ops", "id": 8])
        #expect((try client.expectEvent(type: "who")["members"] as? [Any])?.isEmpty == true)

        // A message said just before leaving is still acknowledged, with its id.
        try client.sendJSON(["op": "join", "room": "dev", "id": 9])
        _ = try client.expectEvent(type: "joined")
        try client.sendJSON(["op": "say", "room": "dev", "text": "bye all", "id": 10])
        try client.sendJSON(["op": "leave", "room": "dev", "id": 11])
        let ack = try client.expectEvent("the ack") { $0["type"] as? String == "message" }
        #expect(ack["id"] as? Int == 10)
        #expect(ack["msgid"] is String)
        _ = try client.expectEvent(type: "left")

        // A direct message to oneself is delivered and acknowledged.
        try client.sendJSON(["op": "msg", "to": "JAY", "text": "note to self", "id": 12])
        let note = try client.expectEvent(type: "direct")
        #expect(note["id"] as? Int == 12)
    }

    @Test("a rate-limited JSON request is refused with its id")
    func rateLimitedJSONKeepsID() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--rate-limit", "1", "--rate-burst", "2"])
        let client = try cluster[0].loginJSON("quick")
        for index in 0..<4 { try client.sendJSON(["op": "ping", "id": index]) }
        let refused = try client.expectEvent("a rate-limited error") { $0["code"] as? String == "rate-limited" }
        #expect(refused["id"] as? Int == 1 || refused["id"] as? Int == 2 || refused["id"] as? Int == 3)
    }

    @Test("an event in Redis that no node would publish (a reserved or look-alike name, another room's) is dropped")
    func forgedEventsAreDropped() throws {
        let cluster = try TestCluster(nodes: 1)
        let watcher = try cluster[0].login("watcher")
        func publish(_ channel: String, _ payload: String) throws {
            _ = try cluster.redis.cli(["SPUBLISH", channel, payload])
        }
        // Forged, and shown: Redis is trusted for what a node could have published (a valid name, the right room).
        try publish(
            "chat:room:{lobby}", #"9999999999000-0 {"k":"msg","room":"lobby","from":"carol","text":"plausible","ts":1}"#
        )
        try watcher.expect("<carol> plausible")
        // Dropped: a reserved name, a look-alike mixing scripts, an event for another room, a name with a newline.
        try publish(
            "chat:room:{lobby}",
            #"9999999999001-0 {"k":"msg","room":"lobby","from":"admin","text":"send me your password","ts":1}"#)
        try publish(
            "chat:room:{lobby}",
            #"9999999999002-0 {"k":"msg","room":"lobby","from":"wаtcher","text":"it is me","ts":1}"#)
        try publish(
            "chat:room:{lobby}", #"9999999999003-0 {"k":"msg","room":"ops","from":"carol","text":"wrong room","ts":1}"#)
        try publish("chat:room:{lobby}", #"{"k":"join","room":"lobby","name":"eve\n* watcher left","ts":1}"#)
        try publish(
            "chat:room:{lobby}",
            #"9999999999004-0 {"k":"msg","room":"lobby","from":"carol","text":"still here","ts":1}"#)
        try watcher.expect("<carol> still here")
        let seen = watcher.received.joined(separator: "\n")
        for forged in ["send me your password", "it is me", "wrong room", "eve"] {
            #expect(!seen.contains(forged), "\(forged) was shown")
        }
        let metrics = try HTTPGet.get(port: cluster[0].opsPort, path: "/metrics").body
        #expect(
            metrics.contains("chat_relayed_events_dropped_total 4"),
            "\(metrics.split(separator: "\n").filter { $0.contains("dropped") })")
        #expect(cluster[0].process.stderr().contains("dropped an event from Redis"))
    }
}
