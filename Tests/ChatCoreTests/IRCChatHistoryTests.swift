import ChatCore
import Testing

/// CHATHISTORY as the chat's history reads, and their replies as batches, without a socket.
@Suite("IRC chathistory")
struct IRCChatHistoryTests {
    func line(_ text: String) -> IRCMessage { try! IRCMessage(parsing: text[...]) }

    /// alice, registered, with the capabilities given.
    func registered(_ capabilities: String) -> IRCSession {
        var session = IRCSession(serverName: "n1")
        _ = session.receive(line("CAP LS 302"))
        _ = session.receive(line("CAP REQ :\(capabilities)"))
        _ = session.receive(line("NICK alice"))
        _ = session.receive(line("USER a 0 * :A"))
        _ = session.receive(line("CAP END"))
        _ = session.observe(.welcome(name: "alice", room: nil, node: "n1", time: 0), requestID: nil)
        return session
    }

    func message(_ id: String, _ text: String) -> ChatMessage {
        ChatMessage(
            id: StreamID(id)!, room: RoomName(trusted: "dev"), from: "bob", text: text, isAction: false,
            time: 1_795_000_000_000)
    }

    @Test("each subcommand is one history read; limits are capped at 100; bad references and subcommands FAIL")
    func requests() {
        var session = registered("batch draft/chathistory server-time message-tags")
        func asked(_ text: String) -> ClientRequest? { session.receive(line(text)).requests.first?.request }
        #expect(asked("CHATHISTORY LATEST #dev * 500") == .history(room: "#dev", limit: 100, before: nil))
        #expect(asked("CHATHISTORY BEFORE #dev msgid=9-0 10") == .history(room: "#dev", limit: 10, before: "9-0"))
        #expect(
            asked("CHATHISTORY AFTER #dev msgid=9-0 10") == .history(room: "#dev", limit: 10, before: nil, after: "9-0")
        )
        #expect(
            asked("CHATHISTORY BEFORE #dev timestamp=2026-11-21T08:21:52.123Z 5")
                == .history(room: "#dev", limit: 5, before: "1795249312123-0"))
        #expect(
            asked("CHATHISTORY AFTER #dev timestamp=2026-11-21T08:21:52.123Z 5")
                == .history(room: "#dev", limit: 5, before: nil, after: "1795249312123-18446744073709551615"),
            "after a time: after every message of its millisecond")
        #expect(
            StreamID("1795249312123-18446744073709551615") == StreamID(millis: 1_795_249_312_123, sequence: .max),
            "and that bound reads back (the machine parses it again, as does the request id's LATEST bound)")
        #expect(
            asked("CHATHISTORY BETWEEN #dev msgid=9-0 msgid=3-0 10") == .history(room: "#dev", limit: 10, before: "9-0")
        )
        for bad in [
            "CHATHISTORY LATEST #dev msgid=nope 10", "CHATHISTORY BEFORE #dev * 10", "CHATHISTORY LATEST #dev * 0",
            "CHATHISTORY FROB #dev * 1", "CHATHISTORY AROUND #dev msgid=1-0 10", "CHATHISTORY LATEST #dev",
        ] {
            let output = session.receive(line(bad))
            #expect(output.requests.isEmpty && output.replies.first?.command == "FAIL", "\(bad)")
        }
        let direct = session.receive(line("CHATHISTORY LATEST bob * 10")).replies.map { $0.serialized() }
        #expect(
            direct.count == 2 && direct[0].hasPrefix(":n1 BATCH +") && direct[0].hasSuffix(" chathistory :bob"),
            "direct messages are not kept: an empty batch")
    }

    @Test("the reply is a chathistory batch of the messages within the request's bounds, with time and msgid")
    func replies() {
        var session = registered("batch draft/chathistory server-time message-tags")
        let output = session.receive(line("CHATHISTORY LATEST #dev msgid=2-0 10"))
        let id = output.requests.first?.id
        let page = [message("1-0", "old"), message("2-0", "seen"), message("3-0", "new")]
        let lines = IRCRenderer.lines(
            .history(room: RoomName(trusted: "dev"), messages: page), requestID: id, view: session.view, now: 7)
        #expect(lines.count == 3)
        #expect(lines.first?.serialized().hasSuffix(" chathistory :#dev") == true)
        let shown = lines[1].serialized()
        #expect(shown.hasPrefix("@batch=") && shown.contains(";time=") && shown.contains(";msgid=3-0 "), "\(shown)")
        #expect(shown.hasSuffix(":\(IRCRenderer.mask("bob")) PRIVMSG #dev :new"))
        #expect(lines[2].command == "BATCH" && lines[2].parameters.first?.hasPrefix("-") == true)

        let failed = IRCRenderer.lines(
            .error(ChatError(.notInRoom, "you are not in #ops")), requestID: id, view: session.view, now: 7)
        #expect(failed.first?.serialized() == ":n1 FAIL CHATHISTORY INVALID_TARGET LATEST #dev :you are not in #ops")
    }

    @Test("a JOIN replays recent messages (after NAMES) to a server-time client that does not fetch history itself")
    func historyOnJoin() {
        let dev = RoomName(trusted: "dev")
        let history = [
            ChatMessage(
                id: StreamID("1795000000000-0")!, room: dev, from: "bob", text: "earlier", isAction: false, time: 5)
        ]
        let plain = registered("server-time")
        let replayed = IRCRenderer.joinReplay(dev, history, view: plain.view, now: 0).map { $0.serialized() }
        #expect(
            replayed.count == 1 && replayed[0].hasPrefix("@time=2026-11-18T")
                && replayed[0].hasSuffix("PRIVMSG #dev :earlier"),
            "timed by its id, the store's clock: \(replayed)")
        let fetcher = registered("batch draft/chathistory server-time")
        #expect(IRCRenderer.joinReplay(dev, history, view: fetcher.view, now: 0).isEmpty, "it asks with CHATHISTORY")
        let untimed = registered("message-tags")
        #expect(IRCRenderer.joinReplay(dev, history, view: untimed.view, now: 0).isEmpty, "old lines would look new")
    }

    @Test("ISO 8601 times read back to the milliseconds written")
    func timestamps() {
        for millis: Millis in [0, 1_795_249_312_123, 951_782_400_000, 4_102_444_799_999] {
            #expect(TimeFormat.millis(iso8601: TimeFormat.iso8601(millis)) == millis)
        }
        #expect(TimeFormat.millis(iso8601: "2026-11-21T08:21:52Z") == 1_795_249_312_000)
        #expect(TimeFormat.millis(iso8601: "2026-11-21T08:21:52.5Z") == 1_795_249_312_500)
        for bad in [
            "", "2026-11-21", "2026-13-21T08:21:52Z", "2026-11-21T08:21:52.Z", "2026-11-21 08:21:52Z", "yesterday",
        ] {
            #expect(TimeFormat.millis(iso8601: bad) == nil, "\(bad)")
        }
    }
}
