import ChatCore
import Testing

/// labeled-response without a socket: how a command's lines are held and sent back as one labeled response.
@Suite("IRC labeled responses")
struct IRCLabeledResponseTests {
    let dev = RoomName(trusted: "dev")

    func line(_ text: String) -> IRCMessage { try! IRCMessage(parsing: text[...]) }

    @Test("no line is ACK, one line carries the label, several are a labeled-response batch (nested batches kept)")
    func shapes() {
        var labels = IRCLabeledResponses(serverName: "n1")
        let none = labels.begin(label: "a1", replies: [], requests: [], batches: true)
        #expect(none.replies.map { $0.serialized() } == ["@label=a1 :n1 ACK"])
        let one = labels.begin(label: "a2", replies: [line(":n1 PONG n1 :x")], requests: [], batches: true)
        #expect(one.replies.map { $0.serialized() } == ["@label=a2 :n1 PONG n1 :x"])

        let join = labels.begin(
            label: "a3", replies: [],
            requests: [(.join(room: "#dev", since: nil), IRCRenderer.Purpose.join.requestID("#dev"))],
            batches: true)
        #expect(join.replies.isEmpty, "held until the JOIN's NAMES")
        let (key, inner) = IRCLabeledResponses.split(join.requests[0].id)
        #expect(key != nil && inner == IRCRenderer.Purpose.join.requestID("#dev"))
        let names = labels.followUp([(.who(room: "dev"), IRCRenderer.Purpose.names.requestID)], key: key)
        let (namesKey, _) = IRCLabeledResponses.split(names[0].id)
        #expect(namesKey == key, "the NAMES belongs to the same response")
        // The JOIN's reply comes a round trip before its NAMES: the batch opens with it, lines go as they come.
        let first = labels.collect([line(":alice!~u@chat JOIN #dev")], key: key!, final: true, batches: true).map {
            $0.serialized()
        }
        #expect(
            first == [
                "@label=a3 :n1 BATCH +labeled\(key!) :labeled-response",
                "@batch=labeled\(key!) :alice!~u@chat JOIN :#dev",
            ])
        let topic = labels.collect([line(":n1 332 alice #dev :topic")], key: key!, final: false, batches: true)
        #expect(topic.map { $0.serialized() } == ["@batch=labeled\(key!) :n1 332 alice #dev :topic"])
        let rest = labels.collect(
            [
                line(":n1 353 alice = #dev :alice"), line(":n1 366 alice #dev :End"),
                line("@batch=h1 :bob!~u@chat PRIVMSG #dev :old"),
            ],
            key: key!, final: true, batches: true
        ).map { $0.serialized() }
        #expect(rest[2] == "@batch=h1 :bob!~u@chat PRIVMSG #dev :old", "a line of its own batch stays in it")
        #expect(rest.last == ":n1 BATCH :-labeled\(key!)")

        // A response that is whole at once goes as one batch.
        let chathistory = labels.begin(
            label: "a4", replies: [],
            requests: [(.history(room: "#dev", limit: 2, before: nil), IRCRenderer.Purpose.chathistory.requestID)],
            batches: true)
        let (historyKey, _) = IRCLabeledResponses.split(chathistory.requests[0].id)
        let page = labels.collect(
            [line(":n1 BATCH +h chathistory #dev"), line(":n1 BATCH -h")], key: historyKey!, final: true, batches: true)
        #expect(page.map { $0.serialized() }.first == "@label=a4 :n1 BATCH +labeled :labeled-response")
        #expect(page.count == 4)
    }

    @Test("the events that end a request, and those that come before its last word")
    func finality() {
        #expect(IRCLabeledResponses.isFinal(.youJoined(room: dev, history: []), purpose: .join))
        #expect(!IRCLabeledResponses.isFinal(.topic(room: dev, nil), purpose: .join), "the topic after a JOIN's reply")
        #expect(IRCLabeledResponses.isFinal(.topic(room: dev, nil), purpose: .topic), "the answer to TOPIC")
        #expect(
            !IRCLabeledResponses.isFinal(.gap(room: dev, after: .zero, lost: true, oldest: nil), purpose: .chathistory))
        #expect(IRCLabeledResponses.isFinal(.error(ChatError(.notInRoom, "x")), purpose: .join))
    }
}
