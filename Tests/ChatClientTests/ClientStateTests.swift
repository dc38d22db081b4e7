import ChatClient
import ChatCore
import Testing

/// The terminal client's state driven by the events a server sends, as JSON lines, without a terminal or socket.
@Suite("Terminal client state")
struct ClientStateTests {
    let lobby = RoomName.lobby
    let dev = RoomName(trusted: "dev")

    /// What the server would send, through the real renderer and decoder.
    func event(_ event: ChatEvent, id: String? = nil, now: Millis = 1_000) -> JSONEventDecoder.Decoded {
        let line = JSONRenderer.object(event, requestID: id.map { RequestID(json: JSONWriter.quoted($0)) }, now: now)
        return JSONEventDecoder.decode(line)!
    }

    func message(_ id: String, _ room: RoomName, from: String, _ text: String) -> ChatMessage {
        ChatMessage(
            id: StreamID(id)!, room: room, from: from, text: text, isAction: false,
            time: Millis(id.split(separator: "-")[0])!)
    }

    /// alice, welcomed, in the lobby (with two messages of history) and in dev.
    func aliceInTwoRooms() -> ClientState {
        var state = ClientState(name: "alice")
        #expect(state.connectionOpened() == [Outgoing(.hello(name: "alice"))])
        _ = state.receive(event(.welcome(name: "alice", room: lobby, node: "n1", time: 1)))
        let history = [message("100-0", lobby, from: "bob", "morning"), message("101-0", lobby, from: "carol", "hi")]
        #expect(
            state.receive(event(.youJoined(room: lobby, history: history))) == [
                Outgoing(.who(room: "lobby"), id: Outgoing.automatic)
            ])
        #expect(state.submit("/join dev", now: 2) == .send([Outgoing(.join(room: "dev", since: nil))]))
        _ = state.receive(event(.youJoined(room: dev, history: [])))
        return state
    }

    @Test("replies, reactions and edits show on their message; a delete removes it; each change applies once")
    func messageChanges() {
        var state = aliceInTwoRooms()
        var reply = message("102-0", lobby, from: "dave", "me too")
        reply.annotations.replyTo = MessageReference(id: StreamID("101-0")!, from: "carol", snippet: "hi")
        _ = state.receive(event(.message(reply)))
        #expect(state.views[lobby]?.lines.last?.text == "↳ carol: hi │ me too")
        func change(_ id: String, _ target: String, by: String, _ kind: MessageChange.Kind) -> MessageChange {
            MessageChange(id: StreamID(id)!, room: lobby, target: StreamID(target)!, by: by, kind: kind, time: 5_000)
        }
        for _ in 0..<2 {
            _ = state.receive(event(.messageChanged(change("103-0", "100-0", by: "carol", .reacted("👍")))))
        }
        _ = state.receive(event(.messageChanged(change("104-0", "100-0", by: "dave", .reacted("👍")))))
        _ = state.receive(event(.messageChanged(change("105-0", "100-0", by: "bob", .edited("good morning")))))
        #expect(state.views[lobby]?.lines.first?.text == "good morning (edited)  👍 2")
        _ = state.receive(event(.messageChanged(change("106-0", "100-0", by: "dave", .unreacted("👍")))))
        #expect(state.views[lobby]?.lines.first?.text == "good morning (edited)  👍 1")
        _ = state.receive(event(.messageChanged(change("107-0", "101-0", by: "carol", .deleted))))
        #expect(state.views[lobby]?.lines.map(\.id) == [StreamID("100-0"), StreamID("102-0")])
        // A resume continues after the newest change seen, not before it.
        #expect(state.views[lobby]?.resumeFrom == StreamID("107-0"))
    }

    @Test("read markers: the room on screen is marked read once a second; unread counts come from the server's marker")
    func readMarkers() {
        var state = aliceInTwoRooms()
        state.select(lobby)
        #expect(
            state.tick(now: 10_000) == [
                Outgoing(.markRead(room: "lobby", id: "101-0"), id: Outgoing.automatic)
            ])
        #expect(state.tick(now: 10_100) == [], "nothing newer, and at most once a second")
        _ = state.receive(event(.message(message("102-0", lobby, from: "bob", "more"))))
        #expect(state.tick(now: 10_500) == [])
        #expect(state.tick(now: 11_100) == [Outgoing(.markRead(room: "lobby", id: "102-0"), id: Outgoing.automatic)])
        // Another device read dev up to its newest: nothing unread there any more; a join's count is the server's.
        _ = state.receive(event(.message(message("103-0", dev, from: "bob", "in dev"))))
        #expect(state.views[dev]?.unread == 1)
        _ = state.receive(event(.readMarker(ReadMarker(room: dev, id: StreamID("103-0")))))
        #expect(state.views[dev]?.unread == 0)
        _ = state.receive(event(.readMarker(ReadMarker(room: dev, id: StreamID("103-0"), unread: 7))))
        #expect(state.views[dev]?.unread == 7)
    }

    @Test("a newer login of the name took this connection's place: the client stays closed and says why")
    func replacedStaysClosed() {
        var state = aliceInTwoRooms()
        _ = state.receive(
            event(.error(ChatError(.replaced, "a newer login of your name took this connection's place"))))
        #expect(state.status == .closed("replaced: a newer login of your name took this connection's place"))
        #expect(state.views[state.current!]?.lines.last?.text.contains("newer login") == true)
    }

    @Test("scrolling back past the oldest line asks for the page before it, once at a time, until none is left")
    func olderHistory() {
        var state = aliceInTwoRooms()
        #expect(
            state.olderHistory(of: lobby) == [
                Outgoing(.history(room: "lobby", limit: 50, before: "100-0"), id: Outgoing.older)
            ])
        #expect(state.olderHistory(of: lobby).isEmpty, "one page at a time")
        let older = [message("98-0", lobby, from: "bob", "before"), message("99-0", lobby, from: "carol", "that")]
        _ = state.receive(event(.history(room: lobby, messages: older), id: Outgoing.older))
        #expect(state.views[lobby]?.lines.map(\.text) == ["before", "that", "morning", "hi"])
        #expect(state.views[lobby]?.unread == 0)
        #expect(state.olderHistory(of: lobby).first?.request == .history(room: "lobby", limit: 50, before: "98-0"))
        let shown = state.views[lobby]?.lines.count
        _ = state.receive(event(.history(room: lobby, messages: []), id: Outgoing.older))
        #expect(state.views[lobby]?.lines.count == shown, "no 'no messages' line for an empty older page")
        #expect(state.olderHistory(of: lobby).isEmpty, "none older left")
    }

    @Test("joining rooms: the bar keeps join order, a joined room becomes current, history is shown")
    func rooms() {
        let state = aliceInTwoRooms()
        #expect(state.status == .connected(node: "n1"))
        #expect(state.rooms == [lobby, dev])
        #expect(state.current == dev)
        #expect(state.views[lobby]?.lines.map(\.text) == ["morning", "hi"])
    }

    @Test("topics: the one after a join shows once and heads the room; a change is a notice; a resume sets it quietly")
    func topics() {
        var state = aliceInTwoRooms()
        let topic = RoomTopic(text: "ship it", by: "bob", time: 3_000)
        _ = state.receive(event(.topic(room: dev, topic)))
        #expect(state.views[dev]?.topic == topic)
        #expect(state.views[dev]?.lines.last?.text.contains("topic of #dev: ship it") == true)
        _ = state.receive(event(.topicChanged(room: dev, RoomTopic(text: "", by: "carol", time: 4_000))))
        #expect(state.views[dev]?.topic == nil)
        #expect(state.views[dev]?.lines.last?.text == "carol cleared the topic")
        _ = state.receive(event(.topicChanged(room: dev, topic)))
        let shown = state.views[dev]?.lines.count

        // The connection drops and comes back: dev is rejoined, its topic arrives again and is not shown again.
        state.connectionLost(reason: "reset", retryInSeconds: 1)
        _ = state.connectionOpened()
        _ = state.receive(event(.welcome(name: "alice", room: dev, node: "n2", time: 1)))
        _ = state.receive(event(.youJoined(room: dev, history: [])))
        _ = state.receive(event(.topic(room: dev, topic)))
        #expect(state.views[dev]?.topic == topic)
        #expect(state.views[dev]?.lines.count == shown)
    }

    @Test("unread counts: others' messages in rooms not shown count; own messages and the shown room do not")
    func unread() {
        var state = aliceInTwoRooms()
        _ = state.receive(event(.message(message("200-0", lobby, from: "bob", "one"))))
        _ = state.receive(event(.message(message("201-0", lobby, from: "bob", "two"))))
        _ = state.receive(event(.message(message("202-0", dev, from: "bob", "here"))))
        _ = state.receive(event(.message(message("203-0", lobby, from: "alice", "mine"))))
        #expect(state.views[lobby]?.unread == 2)
        #expect(state.views[dev]?.unread == 0)
        state.selectRoom(offset: 1)  // dev -> lobby (wraps)
        #expect(state.current == lobby && state.views[lobby]?.unread == 0)
    }

    @Test("messages are kept in stream-id order and never twice, whatever order they arrive in")
    func orderAndDuplicates() {
        var state = aliceInTwoRooms()
        for id in ["300-0", "302-0", "301-0", "302-0", "300-0", "301-1"] {
            _ = state.receive(event(.message(message(id, dev, from: "bob", "m\(id)"))))
        }
        #expect(state.views[dev]?.lines.compactMap(\.id).map(\.description) == ["300-0", "301-0", "301-1", "302-0"])
        #expect(state.views[dev]?.lastMessageID?.description == "302-0")
    }

    @Test(
        "a reconnect's hello names every room with its last message, the current one last, and gets exactly what was missed"
    )
    func resume() {
        var state = aliceInTwoRooms()
        _ = state.receive(event(.message(message("400-0", dev, from: "bob", "before"))))
        state.connectionLost(reason: "the connection closed", retryInSeconds: 0.3)
        #expect(state.status == .reconnecting(reason: "the connection closed", retryInSeconds: 0.3))
        #expect(
            state.connectionOpened() == [
                Outgoing(
                    .hello(
                        name: "alice",
                        rooms: [RoomResume(room: "lobby", since: "101-0"), RoomResume(room: "dev", since: "400-0")]))
            ])
        #expect(
            state.receive(event(.welcome(name: "alice", room: dev, node: "n2", time: 5))).isEmpty, "nothing to undo")
        #expect(state.isResuming)
        _ = state.receive(event(.youJoined(room: lobby, history: [message("401-0", lobby, from: "bob", "missed")])))
        _ = state.receive(event(.youJoined(room: dev, history: [message("402-0", dev, from: "bob", "gap")])))
        #expect(!state.isResuming)
        #expect(state.views[dev]?.lines.filter { $0.id != nil }.map(\.text) == ["before", "gap"])
        #expect(state.views[lobby]?.lines.map(\.text) == ["morning", "hi", "missed"])
        #expect(state.current == dev, "the room being read stays current")
        #expect(state.rooms == [lobby, dev])
    }

    @Test("a client that had left the lobby does not ask for it back; one that left every room asks for none")
    func resumeWithoutLobby() {
        var state = aliceInTwoRooms()
        _ = state.receive(event(.youLeft(room: lobby)))
        #expect(state.rooms == [dev])
        state.connectionLost(reason: "gone", retryInSeconds: 1)
        #expect(
            state.connectionOpened() == [Outgoing(.hello(name: "alice", rooms: [RoomResume(room: "dev", since: nil)]))])
        _ = state.receive(event(.youLeft(room: dev)))
        state.connectionLost(reason: "gone", retryInSeconds: 1)
        #expect(state.connectionOpened() == [Outgoing(.hello(name: "alice", rooms: []))])
    }

    @Test("lost before the first join: the lobby again; rooms past one line's worth are joined after the welcome")
    func resumeEdges() {
        var early = ClientState(name: "alice")
        _ = early.connectionOpened()
        _ = early.receive(event(.welcome(name: "alice", room: lobby, node: "n1", time: 1)))
        early.connectionLost(reason: "gone", retryInSeconds: 1)
        #expect(early.connectionOpened() == [Outgoing(.hello(name: "alice"))])

        var busy = ClientState(name: "alice")
        _ = busy.connectionOpened()
        _ = busy.receive(event(.welcome(name: "alice", room: lobby, node: "n1", time: 1)))
        let names = (0..<50).map { RoomName(trusted: String(repeating: "ж", count: 30) + String(format: "%02d", $0)) }
        for room in names { _ = busy.receive(event(.youJoined(room: room, history: []), id: "u")) }
        busy.connectionLost(reason: "gone", retryInSeconds: 1)
        let hello = busy.connectionOpened()
        guard case .hello(_, let listed?, _) = hello.first?.request else {
            Issue.record("no rooms in \(hello)")
            return
        }
        #expect(JSONRequestEncoder.object(hello[0].request).utf8.count <= 4096, "one line the server takes")
        #expect(listed.last?.room == busy.current?.value, "the current room is listed, last")
        let after = busy.receive(event(.welcome(name: "alice", room: names.last, node: "n2", time: 2)))
        #expect(after.count + listed.count == 50, "every other room is joined after the welcome")
        #expect(after.allSatisfy { $0.id == Outgoing.automatic })
    }

    @Test("a resume's pages are read on one after another; a gap still kept is read, a lost one is told")
    func resumePages() {
        var state = aliceInTwoRooms()
        let page = [message("500-0", dev, from: "bob", "one"), message("501-0", dev, from: "bob", "two")]
        #expect(
            state.receive(event(.youJoined(room: dev, history: page, more: true))).contains(
                Outgoing(.history(room: "dev", limit: nil, before: nil, after: "501-0"), id: Outgoing.page)))
        let last = [message("502-0", dev, from: "bob", "three")]
        #expect(state.receive(event(.history(room: dev, messages: last, more: false), id: Outgoing.page)).isEmpty)
        #expect(state.views[dev]?.lines.filter { $0.id != nil }.map(\.text).suffix(3) == ["one", "two", "three"])
        #expect(
            state.receive(event(.gap(room: dev, after: StreamID("502-0")!, lost: false, oldest: nil))) == [
                Outgoing(.history(room: "dev", limit: nil, before: nil, after: "502-0"), id: Outgoing.page)
            ])
        _ = state.receive(event(.gap(room: dev, after: StreamID("502-0")!, lost: true, oldest: nil)))
        #expect(state.views[dev]?.lines.last?.text == "some earlier messages are no longer available")
    }

    @Test("a reconnect in the middle of a catch-up resumes where the pages got to, not after a newer live message")
    func reconnectMidCatchUp() {
        var state = aliceInTwoRooms()
        let page = [message("500-0", dev, from: "bob", "one")]
        _ = state.receive(event(.youJoined(room: dev, history: page, more: true)))
        _ = state.receive(event(.message(message("900-0", dev, from: "bob", "live, much later"))))
        state.connectionLost(reason: "gone", retryInSeconds: 1)
        guard case .hello(_, let rooms?, _) = state.connectionOpened().first?.request else {
            Issue.record("no rooms in hello")
            return
        }
        #expect(rooms.first { $0.room == "dev" }?.since == "500-0", "the unread middle is asked for again")
    }

    @Test("a taken name is asked for again; after a reconnect our own name is waited for first")
    func names() {
        var state = ClientState(name: "alice")
        _ = state.connectionOpened()
        _ = state.receive(event(.error(ChatError(.nameTaken, "alice is taken"))))
        #expect(state.status == .choosingName(reason: "alice is taken"))
        #expect(state.submit("alicia", now: 1) == .send([Outgoing(.hello(name: "alicia"))]))
        _ = state.receive(event(.welcome(name: "alicia", room: lobby, node: "n1", time: 2)))
        _ = state.receive(event(.youJoined(room: lobby, history: [])))

        state.connectionLost(reason: "gone", retryInSeconds: 1)
        _ = state.connectionOpened()
        _ = state.receive(event(.error(ChatError(.nameTaken, "alicia is taken")), now: 10_000))
        if case .reconnecting = state.status {
        } else {
            Issue.record("expected to wait for the name, got \(state.status)")
        }
        #expect(state.tick(now: 10_500).isEmpty)
        #expect(state.tick(now: 11_000) == [Outgoing(.hello(name: "alicia", rooms: [RoomResume(room: "lobby")]))])
        // Somebody else really has it: after the wait, the user is asked.
        _ = state.receive(
            event(.error(ChatError(.nameTaken, "alicia is taken")), now: 10_000 + ClientState.reclaimMillis))
        #expect(state.status == .choosingName(reason: "alicia is taken"))
    }

    @Test(
        "typed lines: messages go to the current room; commands are the text mode's; direct messages and mentions stand out"
    )
    func typing() {
        var state = aliceInTwoRooms()
        #expect(
            state.submit("hello all", now: 3)
                == .send([Outgoing(.say(room: "dev", text: "hello all", isAction: false))]))
        #expect(
            state.submit("/me waves", now: 3) == .send([Outgoing(.say(room: "dev", text: "waves", isAction: true))]))
        #expect(state.submit("/msg bob psst", now: 3) == .send([Outgoing(.direct(to: "bob", text: "psst"))]))
        #expect(state.submit("/quit", now: 3) == .quit())
        #expect(state.submit("/quit off to bed", now: 3) == .quit(message: "off to bed"))
        _ = state.submit("/frobnicate", now: 3)
        #expect(state.views[dev]?.lines.last?.kind == .error)
        _ = state.receive(event(.direct(DirectMessage(from: "bob", to: "alice", text: "hey", time: 4))))
        #expect(state.views[dev]?.lines.last?.kind == .direct(outgoing: false))
        _ = state.receive(event(.message(message("500-0", dev, from: "bob", "ping Alice?"))))
        #expect(state.views[dev]?.lines.last?.kind == .message(own: false, mentionsMe: true))
    }

    @Test("typing: others' notices show for a few seconds and end with their message; ours are sent now and then")
    func typingNotices() {
        var state = aliceInTwoRooms()
        _ = state.receive(event(.typing(room: dev, name: "Bob", time: 10_000)))
        _ = state.receive(event(.typing(room: dev, name: "alice", time: 10_000)))
        #expect(state.typingNames(in: dev, now: 11_000) == ["Bob"])
        #expect(state.typingNames(in: dev, now: 10_000 + ClientState.typingShownMillis).isEmpty)
        _ = state.receive(event(.message(message("10001-0", dev, from: "Bob", "there"))))
        #expect(state.typingNames(in: dev, now: 11_000).isEmpty)
        #expect(state.inputChanged("h", now: 20_000) == [Outgoing(.typing(room: "dev"), id: Outgoing.automatic)])
        #expect(state.inputChanged("he", now: 21_000).isEmpty)
        #expect(state.inputChanged("/jo", now: 30_000).isEmpty, "commands are not typing")
        #expect(state.inputChanged("hel", now: 20_000 + ClientState.typingSendMillis).count == 1)
    }

    @Test("the people pane follows who, joins, leaves and away")
    func people() {
        var state = aliceInTwoRooms()
        _ = state.receive(
            event(
                .who(
                    room: dev,
                    members: [
                        RoomMember(name: "alice", presence: .online, idleMillis: 0, node: "n1"),
                        RoomMember(name: "Bob", presence: .away("lunch"), idleMillis: 5000, node: "n2"),
                    ]), id: Outgoing.automatic))
        #expect(state.views[dev]?.sortedMembers.map(\.name) == ["alice", "Bob"])
        #expect(state.views[dev]?.lines.isEmpty == true, "an automatic refresh prints nothing")
        _ = state.receive(event(.joined(room: dev, name: "carol", time: 6)))
        _ = state.receive(event(.left(room: dev, name: "Bob", reason: .quit, time: 7)))
        #expect(state.views[dev]?.sortedMembers.map(\.name) == ["alice", "carol"])
        #expect(state.views[dev]?.lines.map(\.kind) == [.notice, .notice])
        #expect(state.knownNames.contains("carol"))
    }
}
