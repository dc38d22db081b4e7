import ChatCore
import Testing

/// Room topics: what the machine asks of the store, what it tells the client, and how each protocol shows it.
@Suite("Room topics")
struct TopicTests {
    let base = SessionMachineTests()
    let lobby = RoomName.lobby
    let dev = SessionMachineTests.dev
    let topic = RoomTopic(text: "release on Friday", by: "bob", time: 1_795_000_000_000)

    @Test("a join shows the room's topic right after its reply; a room without one sends nothing more")
    func topicOnJoin() {
        var session = base.named()
        _ = base.request(&session, .join(room: "dev", since: nil), id: "j")
        _ = base.complete(&session, .subscribe(dev), .done, id: "j")
        _ = base.complete(&session, .recordJoin(dev), .done, id: "j")
        let joined = base.complete(
            &session, .readHistory(dev, after: nil, count: 21),
            .joinRead([], maxDeleted: nil, keptFrom: nil, topic: topic),
            id: "j")
        let id = RequestID(json: "\"j\"")
        #expect(
            joined == [
                .send(.youJoined(room: dev, history: []), id: id),
                .send(.readMarker(ReadMarker.afterJoining(dev, id: nil)), id: id),
                .send(.topic(room: dev, topic), id: id),
                .replayHeld(dev, after: nil),
            ])
    }

    @Test("/topic reads anywhere, sets only in a room one is in, within 390 bytes, and answers the setter itself")
    func settingAndReading() {
        var session = base.named()
        #expect(base.request(&session, .topic(room: "dev", text: nil)) == [.perform(.readTopic(dev), id: nil)])
        _ = base.complete(&session, .readTopic(dev), .topic(nil))
        #expect(base.errorCodes(base.request(&session, .topic(room: "dev", text: "mine now"))) == [.notInRoom])
        let long = String(repeating: "x", count: RoomTopic.maximumBytes + 1)
        #expect(base.errorCodes(base.request(&session, .topic(room: nil, text: long))) == [.messageTooLong])
        let set = base.request(&session, .topic(room: nil, text: "welcome all"))
        let wanted = RoomTopic(text: "welcome all", by: "Alice", time: base.now.wall)
        #expect(set == [.perform(.setTopic(lobby, wanted), id: nil)])
        #expect(
            base.complete(&session, .setTopic(lobby, wanted), .done) == [
                .send(.topicChanged(room: lobby, wanted), id: nil)
            ])
        // Everyone else hears of it through the room's channel; this session's own copy is skipped.
        #expect(
            session.relay.route(RelayEnvelope(event: .topicChanged(room: lobby, wanted), origin: session.sessionID))
                == .skip)
        #expect(
            session.relay.route(RelayEnvelope(event: .topicChanged(room: lobby, wanted), origin: "other")) == .deliver)
    }

    @Test("each protocol shows a topic, its change and its absence in its own words")
    func rendering() {
        #expect(
            TextRenderer.lines(.topic(room: dev, topic), viewer: "Alice", now: 0).first?.hasPrefix(
                "* topic of #dev: release on Friday  (set by bob") == true)
        #expect(TextRenderer.lines(.topic(room: dev, nil), viewer: "Alice", now: 0) == ["* #dev has no topic"])
        let cleared = RoomTopic(text: "", by: "bob", time: 0)
        #expect(
            TextRenderer.lines(.topicChanged(room: dev, cleared), viewer: "Alice", now: 0).first?.hasSuffix(
                "bob cleared the topic of #dev") == true)

        let json = JSONRenderer.render(.topicChanged(room: dev, topic), now: 0)
        #expect(JSONEventDecoder.decode(json)?.event == .topicChanged(room: dev, topic))
        #expect(
            JSONEventDecoder.decode(JSONRenderer.render(.topic(room: dev, topic), now: 0))?.event
                == .topic(room: dev, topic))
        #expect(
            JSONEventDecoder.decode(JSONRenderer.render(.topic(room: dev, nil), now: 0))?.event
                == .topic(room: dev, nil))

        let view = IRCView(serverName: "irc.test", nick: "alice")
        let shown = IRCRenderer.lines(.topic(room: dev, topic), requestID: nil, view: view, now: 0).map {
            $0.serialized()
        }
        #expect(
            shown == [":irc.test 332 alice #dev :release on Friday", ":irc.test 333 alice #dev bob :1795000000"],
            "(the wire form drops that colon, see IRCMode.wire)")
        let asked = IRCRenderer.Purpose.topic.requestID("#dev")
        #expect(
            IRCRenderer.lines(.topic(room: dev, nil), requestID: asked, view: view, now: 0).map { $0.serialized() } == [
                ":irc.test 331 alice #dev :No topic is set"
            ])
        #expect(
            IRCRenderer.lines(.topic(room: dev, nil), requestID: nil, view: view, now: 0).isEmpty,
            "a JOIN without a topic says nothing")
        let changed = IRCRenderer.lines(.topicChanged(room: dev, topic), requestID: nil, view: view, now: 0).map {
            $0.serialized()
        }
        #expect(changed == [":\(IRCRenderer.mask("bob")) TOPIC #dev :release on Friday"])
    }

    @Test("a topic crosses nodes as a relay event, and one no node would store is dropped")
    func relay() {
        let envelope = RelayEnvelope(event: .topicChanged(room: dev, topic), origin: "n1/3")
        #expect(RelayCodec.decode(Array(RelayCodec.encode(envelope).utf8)) == envelope)
        var check = RelayCheck()
        #expect(check.problem(envelope.event, in: dev) == nil)
        #expect(check.problem(envelope.event, in: lobby) != nil)
        let long = RoomTopic(text: String(repeating: "x", count: 391), by: "bob", time: 0)
        #expect(check.problem(.topicChanged(room: dev, long), in: dev) != nil)
        let escape = RoomTopic(text: "\u{1b}[2Jgotcha", by: "bob", time: 0)
        #expect(check.problem(.topicChanged(room: dev, escape), in: dev) != nil)
    }

    @Test("text mode: /topic shows, /topic TEXT sets, /topic -delete clears; JSON op topic")
    func parsing() throws {
        #expect(try TextCommandParser.parse("/topic") == .topic(room: nil, text: nil))
        #expect(try TextCommandParser.parse("/topic ship it") == .topic(room: nil, text: "ship it"))
        #expect(try TextCommandParser.parse("/topic -delete") == .topic(room: nil, text: ""))
        let request = ClientRequest.topic(room: "dev", text: "ship it")
        #expect(try JSONRequestParser.parse(JSONRequestEncoder.object(request, id: nil)).request.get() == request)
    }
}
