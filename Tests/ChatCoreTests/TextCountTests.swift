import ChatCore
import Testing

@Suite("Counts in text mode")
struct TextCountTests {
    static let dev = RoomName(trusted: "dev")
    static let message = ChatMessage(
        id: StreamID("1-0")!, room: dev, from: "alice", text: "hi", isAction: false, time: 0)
    static let bob = RoomMember(name: "bob", presence: .online, idleMillis: 0, node: "n1")

    func lines(_ event: ChatEvent) -> [String] { TextRenderer.lines(event, viewer: nil, now: 0) }

    @Test("one room, one person: singular")
    func singularRooms() {
        let rooms = [RoomSummary(room: Self.dev, members: 1, joined: true)]
        #expect(lines(.rooms(rooms, current: Self.dev)) == ["* 1 room:", "*   #dev (1 person, current)"])
        #expect(lines(.who(room: Self.dev, members: [Self.bob])).first == "* 1 person in #dev:")
    }

    @Test("two rooms, two people, no people: plural")
    func pluralRooms() {
        let rooms = [
            RoomSummary(room: .lobby, members: 2, joined: false), RoomSummary(room: Self.dev, members: 0, joined: true),
        ]
        #expect(
            lines(.rooms(rooms, current: nil)) == [
                "* 2 rooms:", "*   #lobby (2 people)", "*   #dev (0 people, joined)",
            ])
        #expect(lines(.who(room: Self.dev, members: [Self.bob, Self.bob])).first == "* 2 people in #dev:")
    }

    @Test("one message of history is singular, two are plural")
    func messages() {
        #expect(lines(.history(room: Self.dev, messages: [Self.message])).first == "* the last 1 message of #dev:")
        #expect(
            lines(.history(room: Self.dev, messages: [Self.message, Self.message])).first
                == "* the last 2 messages of #dev:")
        #expect(
            lines(.youJoined(room: Self.dev, history: [Self.message])).first
                == "* you joined #dev; it is your current room. the last 1 message:")
        #expect(
            lines(.youJoined(room: Self.dev, history: [Self.message, Self.message])).first
                == "* you joined #dev; it is your current room. the last 2 messages:")
    }
}
