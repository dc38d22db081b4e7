import ChatCore
import Testing

/// A join shows nothing twice and nothing out of order: live events held while the history is read, replayed
/// without what the history had, and late live copies of history dropped.
@Suite("Join replay")
struct JoinReplayTests {
    let dev = RoomName(trusted: "dev")
    let ops = RoomName(trusted: "ops")

    func message(_ id: String, in room: RoomName? = nil) -> RelayEnvelope {
        RelayEnvelope(
            event: .message(
                ChatMessage(
                    id: StreamID(id)!, room: room ?? dev, from: "bob", text: "m\(id)", isAction: false, time: 1)))
    }

    func texts(_ events: [RelayEnvelope]) -> [String] {
        events.map {
            switch $0.event {
            case .message(let message): message.text
            case .joined(_, let name, _, _): "\(name) joined"
            default: "other"
            }
        }
    }

    @Test("held events come back in order, without the messages the history showed")
    func heldThenReplayed() {
        var replay = JoinReplay<RelayEnvelope>()
        let join = RelayEnvelope(event: .joined(room: dev, name: "carol", time: 1))
        let shown = [message("4-0"), join, message("5-0"), message("6-0")].filter { replay.admits($0, route: .hold) }
        #expect(shown.isEmpty, "nothing is shown while the history is read")
        let replayed = replay.replay(dev, after: StreamID("5-0"))
        #expect(texts(replayed) == ["carol joined", "m6-0"])
        let again = replay.replay(dev, after: nil)
        #expect(again.isEmpty, "replayed once")
    }

    @Test("a live copy of a message the history had is dropped until a newer message passes it")
    func lateCopiesDropped() {
        var replay = JoinReplay<RelayEnvelope>()
        _ = replay.replay(dev, after: StreamID("5-0"))
        let live = [message("4-0"), message("5-0"), message("1-0", in: ops), message("6-0"), message("3-0")]
        let shown = live.map { replay.admits($0, route: .deliver) }
        // 4 and 5 were in the history; another room is not affected; 6 passes the history, and from there on the
        // room is delivered as it comes.
        #expect(shown == [false, false, true, true, true])
    }

    @Test("a room stopped (a leave, a failed join) keeps nothing; skipped events are never shown")
    func forgetAndSkip() {
        var replay = JoinReplay<RelayEnvelope>()
        _ = replay.admits(message("4-0"), route: .hold)
        replay.forget(dev)
        let afterForget = replay.replay(dev, after: nil)
        #expect(afterForget.isEmpty)
        let skipped = replay.admits(message("7-0"), route: .skip)
        #expect(!skipped)
        _ = replay.admits(message("8-0"), route: .hold)
        replay.forgetAll()
        let afterEnd = replay.replay(dev, after: nil)
        #expect(afterEnd.isEmpty)
    }
}
