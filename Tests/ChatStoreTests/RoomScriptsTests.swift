import Testing

@testable import ChatStore

/// What the store sends Redis without the declared scripts' own encoding must still match their declarations.
@Suite("Room scripts")
struct RoomScriptsTests {
    @Test("a message's keys and arguments, written out for speed, are in publishMessage's declared order")
    func publishEncoding() {
        let parameters = RoomScripts.PublishParameters(
            historyKey: "h", topicKey: "t", rolesKey: "r", rulesKey: "u", changesKey: "x", changeIndexKey: "y",
            channel: "c", body: "{}",
            maxLength: 1000,
            roomIdleTTL: 604_800, renewsTopic: true, user: "alice", now: 1_795_000_000_000)
        let encoded = parameters.encoded
        #expect(encoded.keys == RoomScripts.publishMessage.keys(parameters))
        #expect(encoded.arguments == RoomScripts.publishMessage.arguments(parameters))
    }

    @Test("only a traceparent's characters reach the scripts that splice a trace into JSON")
    func plainTraces() {
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        #expect(ChatStore.plainTrace(traceparent) == traceparent)
        #expect(ChatStore.plainTrace(traceparent + "-" + String(repeating: "a", count: 72)).utf8.count == 128)
        for refused in [
            nil, "", String(traceparent.dropLast()), traceparent + "-" + String(repeating: "a", count: 73),
            traceparent.uppercased(), String(traceparent.dropLast()) + "\"", String(traceparent.dropLast()) + "\\",
            String(traceparent.dropLast()) + "}",
        ] {
            #expect(ChatStore.plainTrace(refused).isEmpty, "\(refused ?? "nil")")
        }
    }
}
