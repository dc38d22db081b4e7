import ChatCore
import Testing

/// IRC registration and commands without a socket: what each line asks of the chat, and what is answered at once.
@Suite("IRC session")
struct IRCSessionTests {
    func line(_ text: String) -> IRCMessage { try! IRCMessage(parsing: text[...]) }

    @Test("CAP negotiation holds the hello until CAP END; NICK and USER in either order")
    func registration() {
        var session = IRCSession(serverName: "n1")
        let listed = session.receive(line("CAP LS 302"))
        #expect(
            listed.replies.first?.serialized()
                == ":n1 CAP * LS :away-notify batch draft/chathistory echo-message extended-join labeled-response draft/account-registration draft/message-redaction draft/read-marker message-tags multi-prefix sasl=PLAIN server-time userhost-in-names"
        )
        #expect(session.receive(line("USER a 0 * :A")).requests.isEmpty)
        #expect(session.receive(line("NICK alice")).requests.isEmpty, "still negotiating")
        let acked = session.receive(line("CAP REQ :server-time echo-message"))
        #expect(acked.replies.first?.parameters == ["*", "ACK", "server-time echo-message"])
        #expect(session.receive(line("CAP REQ :unknown-cap")).replies.first?.parameters[1] == "NAK")
        let ended = session.receive(line("CAP END"))
        guard case .hello(let name, let rooms, _)? = ended.requests.first?.request else {
            Issue.record("no hello: \(ended.requests)")
            return
        }
        #expect(name == "alice" && rooms == [], "an IRC client starts in no channel")
        #expect(session.capabilities == ["server-time", "echo-message"])
        #expect(session.receive(line("JOIN #dev")).replies.first?.command == "451", "not registered until welcomed")
        _ = session.observe(.welcome(name: "alice", room: nil, node: "n1", time: 0), requestID: nil)
        #expect(session.registered)
    }

    @Test("PING without a token and USER with an empty real name are 461, as other servers answer")
    func missingParameters() {
        var session = IRCSession(serverName: "n1")
        #expect(session.receive(line("PING")).replies.map(\.command) == ["461"])
        #expect(session.receive(line("PING :t1")).replies.first?.parameters == ["n1", "t1"])
        #expect(
            session.receive(line("USER a 0 * :")).replies.first?.parameters == ["*", "USER", "Not enough parameters"])
        _ = session.receive(line("NICK alice"))
        #expect(
            session.receive(line("USER a 0 * :Alice")).requests.count == 1, "registered once the real name is given")
    }

    @Test("a refused nick lets the client try another; commands become requests with their purpose")
    func commands() {
        var session = IRCSession(serverName: "n1")
        _ = session.receive(line("NICK bob"))
        let first = session.receive(line("USER b 0 * :B"))
        #expect(first.requests.count == 1)
        _ = session.observe(.error(ChatError(.nameTaken, "taken")), requestID: IRCRenderer.Purpose.hello.requestID)
        let retried = session.receive(line("NICK bobby"))
        guard case .hello("bobby", _, _)? = retried.requests.first?.request else {
            Issue.record("no second hello: \(retried.requests)")
            return
        }
        _ = session.observe(.welcome(name: "bobby", room: nil, node: "n1", time: 0), requestID: nil)
        let joins = session.receive(line("JOIN #a,#b"))
        #expect(joins.requests.map(\.request) == [.join(room: "#a", since: nil), .join(room: "#b", since: nil)])
        #expect(IRCRenderer.Purpose.target(of: joins.requests.first?.id) == "#a", "a failed JOIN names its channel")
        #expect(
            session.receive(line("JOIN " + (1...51).map { "#r\($0)" }.joined(separator: ","))).replies.first?.command
                == "407")
        let action = session.receive(line("PRIVMSG #a :\u{1}ACTION waves\u{1}"))
        #expect(action.requests.first?.request == .say(room: "#a", text: "waves", isAction: true))
        #expect(session.receive(line("PRIVMSG bob :\u{1}VERSION\u{1}")).requests.isEmpty, "CTCP queries are dropped")
        #expect(session.receive(line("PRIVMSG carol :hi")).requests.first?.request == .direct(to: "carol", text: "hi"))
        let change = session.receive(line("NICK other"))
        #expect(change.requests.first?.request == .nick(name: "other"), "a nick change is the chat's name change")
        #expect(IRCRenderer.Purpose.target(of: change.requests.first?.id) == "other", "433 names the nick asked for")
        let names = session.observe(.youJoined(room: RoomName(trusted: "a"), history: []), requestID: nil)
        #expect(
            names.first?.request == .who(room: "a", listing: .everyone)
                && names.first?.id == IRCRenderer.Purpose.names.requestID)
        #expect(session.receive(line("JOIN 0")).requests.map(\.request) == [.leave(room: "a")])
    }

    @Test("events render as the lines IRC clients expect")
    func rendering() {
        let view = IRCView(serverName: "n1", nick: "alice", capabilities: ["server-time"])
        let message = ChatMessage(
            id: StreamID(millis: 1_000, sequence: 0), room: RoomName(trusted: "dev"), from: "bob", text: "hi there",
            isAction: false, time: 990)
        let lines = IRCRenderer.lines(.message(message), requestID: nil, view: view, now: 0)
        #expect(
            lines.map { $0.serialized() } == [
                "@time=1970-01-01T00:00:01.000Z :\(IRCRenderer.mask("bob")) PRIVMSG #dev :hi there"
            ],
            "timed by its id: the store's clock")
        let quit = IRCRenderer.lines(
            .left(room: RoomName(trusted: "dev"), name: "bob", reason: .disconnected, time: 0), requestID: nil,
            view: view, now: 0)
        #expect(quit.first?.command == "QUIT")
        let taken = IRCRenderer.lines(
            .error(ChatError(.nameTaken, "x")), requestID: nil,
            view: IRCView(serverName: "n1", nick: "*", attempted: "bob"), now: 0)
        #expect(taken.first?.parameters.prefix(2) == ["*", "bob"] && taken.first?.command == "433")
        let names = IRCRenderer.lines(
            .who(
                room: RoomName(trusted: "dev"),
                members: [RoomMember(name: "bob", presence: .online, idleMillis: 0, node: "n1")]),
            requestID: IRCRenderer.Purpose.names.requestID, view: view, now: 0)
        #expect(names.map(\.command) == ["353", "366"])
        // An INVITE's or a KICK's refusals name its nick and channel (`irc-invite:bob #dev`), never `*`; a
        // parameter that could not be a middle one still is.
        func refusal(_ code: ChatError.Code, _ purpose: IRCRenderer.Purpose, _ about: String) -> String? {
            IRCRenderer.lines(.error(ChatError(code, "x")), requestID: purpose.requestID(about), view: view, now: 0)
                .first.map { $0.serialized() }
        }
        #expect(refusal(.registeredOnly, .invite, "bob #dev")?.hasPrefix(":n1 486 alice bob :") == true)
        #expect(refusal(.noSuchUser, .invite, "bob #dev")?.hasPrefix(":n1 401 alice bob :") == true)
        #expect(refusal(.alreadyInRoom, .invite, "bob #dev")?.hasPrefix(":n1 443 alice bob #dev :") == true)
        #expect(refusal(.notOperator, .invite, "bob #dev")?.hasPrefix(":n1 482 alice #dev :") == true)
        #expect(refusal(.notInRoom, .kick, "#dev bob")?.hasPrefix(":n1 441 alice bob #dev :") == true)
        #expect(refusal(.notInRoom, .kick, "#dev :bob")?.hasPrefix(":n1 441 alice * #dev :") == true)
    }

    @Test("mIRC formatting is removed with its colour numbers; a message of nothing but codes is 412")
    func formatting() {
        #expect(
            IRCFormatting.strip("\u{2}bold\u{2} \u{3}04,12red on blue\u{3} \u{3}7orange \u{4}FF0000,00FF00hex\u{F}")
                == "bold red on blue orange hex")
        #expect(IRCFormatting.strip("\u{3},5 comma stays") == ",5 comma stays")
        var session = IRCSession(serverName: "n1")
        _ = session.receive(line("NICK a"))
        _ = session.receive(line("USER a 0 * :a"))
        _ = session.observe(.welcome(name: "a", room: nil, node: "n1", time: 0), requestID: nil)
        #expect(session.receive(line("PRIVMSG #x :\u{2}\u{3}04")).replies.first?.command == "412")
    }

    @Test("a text longer than an IRC line arrives as several PRIVMSGs of at most 512 bytes, cut between characters")
    func longTexts() {
        let view = IRCView(serverName: "n1", nick: "alice", capabilities: ["message-tags"])
        let text = String(repeating: "héllo wörld ", count: 170)  // about 2,400 bytes
        let message = ChatMessage(
            id: StreamID(millis: 9, sequence: 0), room: RoomName(trusted: "dev"), from: "bob", text: text,
            isAction: false, time: 0)
        let lines = IRCRenderer.lines(.message(message), requestID: nil, view: view, now: 0)
        #expect(lines.count > 4)
        for line in lines {
            var untagged = line
            untagged.tags = []
            #expect(untagged.serialized().utf8.count + 2 <= 512)
        }
        #expect(lines.map { $0.parameters[1] }.joined() == text, "nothing lost, nothing cut inside a character")
        #expect(lines.filter { $0.tags.contains { $0.key == "msgid" } }.count == 1, "the msgid once")
    }
}
