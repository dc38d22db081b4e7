import ChatCore
import Foundation
import Testing

@Suite("Text commands")
struct TextCommandTests {
    @Test(
        "commands parse into requests",
        arguments: [
            ("hello there", ClientRequest.say(room: nil, text: "hello there", isAction: false)),
            ("//not a command", .say(room: nil, text: "/not a command", isAction: false)),
            ("/join dev", .join(room: "dev", since: nil)),
            ("/JOIN #dev 1-0", .join(room: "#dev", since: "1-0")),
            ("/leave", .leave(room: nil)),
            ("/leave dev", .leave(room: "dev")),
            ("/rooms", .rooms),
            ("/who", .who(room: nil)),
            ("/who dev", .who(room: "dev")),
            ("/msg bob  hi  there", .direct(to: "bob", text: "hi  there")),
            ("/me waves", .say(room: nil, text: "waves", isAction: true)),
            ("/away", .away(nil)),
            ("/away gone fishing", .away("gone fishing")),
            ("/back", .back),
            ("/history", .history(room: nil, limit: nil, before: nil)),
            ("/history 5", .history(room: nil, limit: 5, before: nil)),
            ("/seen alice", .seen(name: "alice")),
            ("/help", .help),
            ("/quit", .quit()),
            ("/quit gone fishing", .quit(message: "gone fishing")),
            ("/leave dev see you", .leave(room: "dev", message: "see you")),
        ])
    func parses(_ line: String, _ expected: ClientRequest) throws {
        #expect(try TextCommandParser.parse(line) == expected)
    }

    @Test(
        "bad commands get clear errors",
        arguments: [
            ("/dance", "unknown-command"), ("/msg bob", "bad-request"), ("/join", "bad-request"),
            ("/history x", "bad-request"), ("/me", "bad-request"),
        ])
    func errors(_ line: String, _ code: String) {
        do {
            _ = try TextCommandParser.parse(line)
            Issue.record("\(line) parsed")
        } catch {
            #expect(error.code.rawValue == code)
        }
    }
}

@Suite("JSON requests")
struct JSONRequestTests {
    @Test("a request keeps its id as JSON, string or number")
    func ids() throws {
        let text = JSONRequestParser.parse(#"{"op":"say","text":"hi","id":"a\"b"}"#)
        #expect(text.id?.json == #""a\"b""#)
        #expect(try text.request.get() == .say(room: nil, text: "hi", isAction: false))
        let number = JSONRequestParser.parse(#"{"op":"join","room":"dev","since":"5-1","id":42}"#)
        #expect(number.id?.json == "42")
        #expect(try number.request.get() == .join(room: "dev", since: "5-1"))
    }

    @Test("malformed requests are bad-request, keeping the id when it can be read")
    func malformed() {
        func failure(_ line: String) -> ChatError? {
            if case .failure(let error) = JSONRequestParser.parse(line).request { return error }
            return nil
        }
        #expect(JSONRequestParser.parse("{nope").id == nil)
        #expect(failure("{nope")?.code == .badRequest)
        #expect(JSONRequestParser.parse(#"{"op":"say","text":5,"id":7}"#).id?.json == "7")
        #expect(failure(#"{"op":"say","text":5,"id":7}"#)?.code == .badRequest)
        #expect(failure(#"{"op":"msg","to":"bob"}"#)?.message.contains("text") == true)
        #expect(failure(#"{"op":"fly"}"#)?.code == .unknownCommand)
    }

    @Test("a typed line as a command: parsed as text mode parses it, in the client's current room")
    func command() throws {
        func parsed(_ line: String) throws -> ClientRequest { try JSONRequestParser.parse(line).request.get() }
        #expect(
            try parsed(#"{"op":"command","text":"hello there","room":"dev"}"#)
                == .say(room: "dev", text: "hello there", isAction: false))
        #expect(
            try parsed(#"{"op":"command","text":"//slash","room":"dev"}"#)
                == .say(room: "dev", text: "/slash", isAction: false))
        #expect(
            try parsed(#"{"op":"command","text":"/me waves","room":"dev"}"#)
                == .say(room: "dev", text: "waves", isAction: true))
        #expect(
            try parsed(#"{"op":"command","text":"/join ops 5-0","room":"dev"}"#) == .join(room: "ops", since: "5-0"))
        #expect(try parsed(#"{"op":"command","text":"/leave","room":"dev"}"#) == .leave(room: "dev"))
        #expect(try parsed(#"{"op":"command","text":"/who lobby","room":"dev"}"#) == .who(room: "lobby"))
        #expect(try parsed(#"{"op":"command","text":"/msg bob hi"}"#) == .direct(to: "bob", text: "hi"))
        if case .failure(let error) = JSONRequestParser.parse(#"{"op":"command","text":"/fly","id":"u1"}"#).request {
            #expect(error.code == .unknownCommand)
        } else {
            Issue.record("an unknown command is refused")
        }
    }
}

@Suite("Rendering")
struct RenderingTests {
    let time: Millis = 1_795_250_095_979  // 2026-11-21 08:34:55.979 UTC
    var message: ChatMessage {
        ChatMessage(
            id: StreamID("1-0")!, room: RoomName(trusted: "lobby"), from: "alice", text: "hi \"you\"", isAction: false,
            time: time)
    }

    @Test("text lines: time, room, <name>, text verbatim; notices start with '* ', errors with '! '")
    func text() {
        #expect(
            TextRenderer.render(.message(message), viewer: "bob", now: time)
                == "[08:34:55] #lobby <alice> hi \"you\"\r\n")
        var action = message
        action.isAction = true
        action.text = "waves"
        #expect(TextRenderer.lines(.message(action), viewer: nil, now: time) == ["[08:34:55] #lobby * alice waves"])
        #expect(
            TextRenderer.lines(
                .left(room: RoomName(trusted: "dev"), name: "bob", reason: .connectionLost, time: time), viewer: nil,
                now: time)
                == ["* [08:34:55] bob left #dev (connection lost)"])
        #expect(
            TextRenderer.lines(.error(ChatError(.nameTaken, "taken")), viewer: nil, now: time) == ["! name-taken taken"]
        )
        let direct = DirectMessage(from: "alice", to: "bob", text: "psst", time: time)
        #expect(TextRenderer.lines(.direct(direct), viewer: "bob", now: time) == ["[08:34:55] *alice* psst"])
        #expect(TextRenderer.lines(.direct(direct), viewer: "Alice", now: time) == ["[08:34:55] -> *bob* psst"])
        #expect(
            TextRenderer.lines(.welcome(name: "alice", room: .lobby, node: "n1", time: time), viewer: nil, now: time)[0]
                .hasPrefix("* welcome alice"))
    }

    @Test("JSON events carry type, time, the request id and the message id, and parse back")
    func json() throws {
        let line = JSONRenderer.render(.message(message), requestID: RequestID(json: "9"), now: 0)
        #expect(line.hasSuffix("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "message")
        #expect(object["time"] as? Int == Int(time))
        #expect(object["id"] as? Int == 9)
        #expect(object["msgid"] as? String == "1-0")
        #expect(object["text"] as? String == "hi \"you\"")
        let error = JSONRenderer.render(.error(ChatError(.rateLimited, "slow\ndown")), now: time)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(error.utf8)) as? [String: Any])
        #expect(parsed["code"] as? String == "rate-limited")
        #expect(parsed["message"] as? String == "slow\ndown")
    }

    @Test("JSON strings escape quotes, backslashes and controls")
    func escaping() throws {
        let quoted = JSONWriter.quoted("a\"b\\c\n\u{1}é")
        #expect(quoted == #""a\"b\\c\n\u0001é""#)
    }

    @Test("times and durations")
    func times() {
        #expect(TimeFormat.clock(time) == "08:34:55")
        #expect(TimeFormat.dateTime(time) == "2026-11-21 08:34:55 UTC")
        #expect(TimeFormat.dateTime(0) == "1970-01-01 00:00:00 UTC")
        #expect(TimeFormat.dateTime(951_782_400_000) == "2000-02-29 00:00:00 UTC")
        #expect(TimeFormat.duration(3_723_000) == "1h 2m")
        #expect(TimeFormat.duration(45_000) == "45s")
        #expect(TimeFormat.duration(0) == "0s")
        #expect(TimeFormat.duration(90_061_000) == "1d 1h")
    }
}

@Suite("Relay payloads")
struct RelayCodecTests {
    @Test(
        "every relayed event survives the trip through Redis",
        arguments: [
            ChatEvent.joined(room: RoomName(trusted: "dev"), name: "Émile", time: 5),
            .left(room: RoomName(trusted: "dev"), name: "bob", reason: .quit, time: 6),
            .presence(room: RoomName(trusted: "dev"), name: "bob", presence: .away("out \"now\""), time: 7),
            .presence(room: RoomName(trusted: "dev"), name: "bob", presence: .online, time: 8),
            .typing(room: RoomName(trusted: "dev"), name: "bob", time: 9),
            .direct(DirectMessage(from: "a", to: "b", text: "line\nbreak", time: 9)),
            .message(
                ChatMessage(
                    id: StreamID("10-2")!, room: RoomName(trusted: "r"), from: "a", text: "t", isAction: true, time: 10)
            ),
            .message(
                ChatMessage(
                    id: StreamID("10-3")!, room: RoomName(trusted: "r"), from: "a", text: "n", isAction: false,
                    time: 10, isNotice: true)),
            .direct(DirectMessage(from: "a", to: "b", text: "n", time: 9, isNotice: true)),
            .topicChanged(room: RoomName(trusted: "dev"), RoomTopic(text: "t", by: "bob", time: 11)),
        ])
    func roundTrip(_ event: ChatEvent) throws {
        let envelope = RelayEnvelope(event: event, origin: "inc/1")
        let decoded = RelayCodec.decode(Array(RelayCodec.encode(envelope).utf8))
        #expect(decoded == envelope)
    }

    @Test("a message is published framed as `<id> <json>`; history keeps the JSON and reads it with its entry's id")
    func messageFrame() throws {
        let outgoing = OutgoingMessage(
            room: RoomName(trusted: "lobby"), from: "a", text: "hi", isAction: false, time: 3)
        let body = RelayCodec.messageBody(outgoing, origin: "s")
        let id = try #require(StreamID("3-0"))
        let framed = "3-0 " + body
        #expect(RelayCodec.encode(RelayEnvelope(event: .message(outgoing.stored(as: id)), origin: "s")) == framed)
        #expect(
            RelayCodec.decode(Array(framed.utf8))
                == RelayEnvelope(event: .message(outgoing.stored(as: id)), origin: "s"))
        // A history read: the stream keeps the JSON alone, and the id comes from the entry.
        let entryID = try #require(StreamID("4-1"))
        #expect(RelayCodec.decode(Array(body.utf8), entryID: entryID)?.event == .message(outgoing.stored(as: entryID)))
        #expect(RelayCodec.decode(Array(body.utf8)) == nil, "a message without any id is refused")
    }

    @Test("unknown kinds and garbage are skipped, not fatal")
    func unknown() {
        #expect(RelayCodec.decode(Array(#"{"k":"future-thing","ts":1}"#.utf8)) == nil)
        #expect(RelayCodec.decode(Array("garbage".utf8)) == nil)
    }

    @Test("a trace context is read when it is a string and ignored otherwise: the event is never lost for it")
    func traceContext() throws {
        let traced = #"5-0 {"k":"msg","room":"lobby","from":"alice","text":"hi","ts":1,"tp":"00-ab-cd-01"}"#
        #expect(try #require(RelayCodec.decode(Array(traced.utf8))).traceParent == "00-ab-cd-01")
        for shape in [#"5"#, #"{"v":2}"#, #"["x"]"#, "true", "null"] {
            let payload = #"5-0 {"k":"msg","room":"lobby","from":"alice","text":"hi","ts":1,"tp":"# + shape + "}"
            let envelope = try #require(RelayCodec.decode(Array(payload.utf8)), "\(shape)")
            #expect(envelope.traceParent == nil && envelope.streamID == StreamID("5-0"))
        }
        let direct = RelayEnvelope(
            event: .direct(DirectMessage(from: "a", to: "b", text: "x", isAction: false, time: 1)),
            traceParent: "00-ab-cd-01")
        #expect(RelayCodec.decode(Array(RelayCodec.encode(direct).utf8)) == direct)
    }

    @Test("stream ids compare numerically")
    func streamIDs() throws {
        #expect(try #require(StreamID("9-0")) < #require(StreamID("10-0")))
        #expect(try #require(StreamID("10-1")) > #require(StreamID("10-0")))
        #expect(StreamID("nope") == nil)
        #expect(StreamID("1-18446744073709551615") == StreamID(millis: 1, sequence: .max), "Redis's largest sequence")
        #expect(StreamID("18446744073709551615-0") == StreamID(millis: .max, sequence: 0))
        for broken in [
            "", "-", "5", "5-", "-5", "5--1", "5-1-2", "+5-1", "5-0x1", "18446744073709551616-0",
            "1-18446744073709551616", "99999999999999999999999-0",
        ] {
            #expect(StreamID(broken) == nil, "\(broken)")
        }
        #expect(StreamID("1795000000000-42") == StreamID(millis: 1_795_000_000_000, sequence: 42))
        #expect(StreamID(bytes: Array("7-3 {".utf8).prefix(3)) == StreamID(millis: 7, sequence: 3))
    }
}

@Suite("The client side of the JSON protocol")
struct ClientCodecTests {
    static let dev = RoomName(trusted: "dev")
    static let message = ChatMessage(
        id: StreamID("5-1")!, room: dev, from: "Zoë", text: "say \"hi\"\n😀", isAction: true, time: 5)

    @Test(
        "every event the server renders decodes back to itself",
        arguments: [
            ChatEvent.welcome(name: "alice", room: .lobby, node: "n1", time: 7),
            .welcome(name: "alice", room: nil, node: "n1", time: 7),
            .youJoined(room: dev, history: [message], more: true),
            .history(room: dev, messages: [message], more: true),
            .gap(room: dev, after: StreamID("4-0")!, lost: true, oldest: StreamID("5-1")!),
            .gap(room: dev, after: StreamID("4-0")!, lost: false, oldest: nil),
            .message(message),
            .direct(DirectMessage(from: "a", to: "b", text: "psst", isAction: false, time: 8)),
            .joined(room: dev, name: "bob", time: 9),
            .left(room: dev, name: "bob", reason: .connectionLost, time: 10),
            .presence(room: dev, name: "bob", presence: .away("lunch"), time: 11),
            .presence(room: dev, name: "bob", presence: .online, time: 11),
            .typing(room: dev, name: "bob", time: 11),
            .youJoined(room: dev, history: [message]),
            .youLeft(room: dev),
            .history(room: dev, messages: [message, message]),
            .rooms([RoomSummary(room: dev, members: 3, joined: true)], current: dev, total: 1),
            .rooms([RoomSummary(room: dev, members: 3, joined: false)], current: nil, total: 4000),
            .who(
                room: dev, members: [RoomMember(name: "bob", presence: .away(""), idleMillis: 1500, node: "n2")],
                total: 1),
            .who(
                room: dev, members: [RoomMember(name: "bob", presence: .online, idleMillis: 0, node: "n2")], total: 240,
                next: "97"),
            .seen(.offline(name: "bob", connectedAt: 1, disconnectedAt: 2), now: 12),
            .seen(.online(name: "bob", since: 1, node: "n1"), now: 12),
            .seen(.never(name: "bob"), now: 12),
            .message(
                ChatMessage(
                    id: StreamID("7-1")!, room: dev, from: "bot", text: "build passed", isAction: false, time: 7,
                    isNotice: true)),
            .direct(DirectMessage(from: "bot", to: "bob", text: "psst", time: 8, isNotice: true)),
            .online([OnlineUser(name: "bob"), OnlineUser(name: "Carol", isAway: true)]),
            .online([]),
            .topic(room: dev, RoomTopic(text: "ship it", by: "bob", time: 13)),
            .topicChanged(room: dev, RoomTopic(text: "", by: "bob", time: 14)),
            .help, .ok("done"), .pong, .bye("quit"), .serverOperator, .serverOperatorEnded,
            .error(ChatError(.nameTaken, "the name bob is taken")),
        ])
    func roundTrip(_ event: ChatEvent) throws {
        let line = JSONRenderer.object(event, requestID: RequestID(json: "\"r1\""), now: 12)
        let decoded = try #require(JSONEventDecoder.decode(line))
        #expect(decoded.event == event)
        #expect(decoded.requestID == "\"r1\"")
    }

    @Test("lines that are not events decode to nothing")
    func junk() {
        #expect(JSONEventDecoder.decode("* hello, this is node n1.") == nil)
        #expect(JSONEventDecoder.decode(#"{"type":"from-the-future"}"#) == nil)
        #expect(JSONEventDecoder.decode(#"{"type":"message","room":"dev"}"#) == nil)
    }

    @Test(
        "every request a client encodes parses back to itself on the server",
        arguments: [
            ClientRequest.hello(name: "alice"), .say(room: "dev", text: "a \"quoted\" line", isAction: false),
            .say(room: nil, text: "waves", isAction: true), .join(room: "dev", since: "1-2"), .leave(room: nil),
            .rooms, .who(room: "dev"), .direct(to: "bob", text: "hi"), .away("lunch"), .away(nil), .back,
            .history(room: "dev", limit: 5, before: "9-0"), .seen(name: "bob"), .help, .quit(),
            .quit(message: "bye all"), .leave(room: "dev", message: "later"), .ping,
            .typing(room: "dev"), .typing(room: nil),
        ])
    func requests(_ request: ClientRequest) throws {
        let parsed = JSONRequestParser.parse(JSONRequestEncoder.object(request, id: "x"))
        #expect(try parsed.request.get() == request)
        #expect(parsed.id == RequestID(json: "\"x\""))
    }
}

/// The requests and wire forms of replies, reactions, edits and deletes (issue 30), as each client sends them.
@Suite("Acting on messages: parsing")
struct MessageActionParsingTests {
    let id = StreamID("1795250096010-0")!

    @Test("text commands name messages by author, by id, or one's own newest")
    func textCommands() throws {
        #expect(
            try TextCommandParser.parse("/reply bob sounds good")
                == .reply(room: nil, to: .latest(from: "bob"), text: "sounds good"))
        #expect(try TextCommandParser.parse("/react 👍") == .actOn(room: nil, target: .latest(from: nil), .react("👍")))
        #expect(
            try TextCommandParser.parse("/unreact 👍 \(id)") == .actOn(room: nil, target: .id(id), .unreact("👍")))
        #expect(
            try TextCommandParser.parse("/edit fixed it") == .actOn(room: nil, target: .ownLatest, .edit("fixed it")))
        #expect(try TextCommandParser.parse("/edit \(id) fixed") == .actOn(room: nil, target: .id(id), .edit("fixed")))
        #expect(
            try TextCommandParser.parse("/delete") == .actOn(room: nil, target: .ownLatest, .delete(reason: nil)))
        #expect(
            try TextCommandParser.parse("/delete spammer off topic")
                == .actOn(room: nil, target: .latest(from: "spammer"), .delete(reason: "off topic")))
        #expect(throws: ChatError.self) { try TextCommandParser.parse("/reply bob") }
    }

    @Test("JSON requests, and the terminal client's encoding of the text commands, agree")
    func json() throws {
        let request = { (line: String) throws(ChatError) in try JSONRequestParser.parse(line).request.get() }
        #expect(
            try request(#"{"op":"say","room":"dev","text":"yes","reply":"\#(id)"}"#)
                == .reply(room: "dev", to: .id(id), text: "yes"))
        #expect(
            try request(#"{"op":"react","msgid":"\#(id)","emoji":"🎉"}"#)
                == .actOn(room: nil, target: .id(id), .react("🎉")))
        #expect(try request(#"{"op":"edit","text":"x"}"#) == .actOn(room: nil, target: .ownLatest, .edit("x")))
        #expect(throws: ChatError.self) { try request(#"{"op":"react","msgid":"yesterday","emoji":"🎉"}"#) }
        for typed in ["/reply bob sounds good", "/react 👍 bob", "/edit fixed", "/delete \(id) spam"] {
            let parsed = try TextCommandParser.parse(typed)
            #expect(try request(JSONRequestEncoder.object(parsed)) == parsed, "\(typed)")
        }
        #expect(throws: ChatError.self) { try MessageActions.validatedReaction("two words") }
        #expect(throws: ChatError.self) { try MessageActions.validatedReaction(String(repeating: "😀", count: 9)) }
    }

    @Test("the relay carries replies and changes, and reads back what it wrote")
    func relay() {
        var reply = ChatMessage(id: id, room: .lobby, from: "bob", text: "yes", isAction: false, time: 5)
        reply.annotations.replyTo = MessageReference(id: StreamID("1-0")!, from: "alice", snippet: "ok?")
        let change = MessageChange(
            id: StreamID("1795250096011-0")!, room: .lobby, target: id, by: "carol", kind: .reacted("👍"), time: 6,
            targetFrom: "bob", targetSnippet: "yes")
        for event in [ChatEvent.message(reply), .messageChanged(change)] {
            let payload = RelayCodec.encode(RelayEnvelope(event: event, origin: "s1"))
            #expect(RelayCodec.decode(Array(payload.utf8)) == RelayEnvelope(event: event, origin: "s1"), "\(payload)")
            var check = RelayCheck()
            #expect(check.problem(event, in: .lobby) == nil)
        }
    }
}
