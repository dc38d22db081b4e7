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
            label: "a3", replies: [], requests: [(.join(room: "#dev", since: nil), IRCRenderer.Purpose.join.requestID("#dev"))],
            batches: true)
        #expect(join.replies.isEmpty, "held until the JOIN's NAMES")
        let (key, inner) = IRCLabeledResponses.split(join.requests[0].id)
        #expect(key != nil && inner == IRCRenderer.Purpose.join.requestID("#dev"))
        let names = labels.followUp([(.who(room: "dev"), IRCRenderer.Purpose.names.requestID)], key: key)
        let (namesKey, _) = IRCLabeledResponses.split(names[0].id)
        #expect(namesKey == key, "the NAMES belongs to the same response")
        #expect(labels.collect([line(":alice!~u@chat JOIN #dev")], key: key!, final: true, batches: true).isEmpty)
        #expect(labels.collect([line(":n1 332 alice #dev :topic")], key: key!, final: false, batches: true).isEmpty)
        let whole = labels.collect(
            [line(":n1 353 alice = #dev :alice"), line(":n1 366 alice #dev :End"),
             line("@batch=h1 :bob!~u@chat PRIVMSG #dev :old")],
            key: key!, final: true, batches: true
        ).map { $0.serialized() }
        // (serialized() puts a colon before every last parameter; the node's wire form drops it for tokens.)
        #expect(whole.first == "@label=a3 :n1 BATCH +labeled5 :labeled-response")
        #expect(whole[1] == "@batch=labeled5 :alice!~u@chat JOIN :#dev")
        #expect(whole[5] == "@batch=h1 :bob!~u@chat PRIVMSG #dev :old", "a line of its own batch stays in it")
        #expect(whole.last == ":n1 BATCH :-labeled5")
    }

    @Test("the events that end a request, and those that come before its last word")
    func finality() {
        #expect(IRCLabeledResponses.isFinal(.youJoined(room: dev, history: [])))
        #expect(!IRCLabeledResponses.isFinal(.topic(room: dev, nil)))
        #expect(!IRCLabeledResponses.isFinal(.gap(room: dev, after: .zero, lost: true, oldest: nil)))
        #expect(IRCLabeledResponses.isFinal(.error(ChatError(.notInRoom, "x"))))
    }
}
