import Foundation

/// An event as it travels between nodes through Redis pub/sub (and, for chat messages, as it is kept in a room's
/// history stream). `origin` names the session that caused it, so its own node can skip it in text mode or attach
/// the request id in JSON mode.
public struct RelayEnvelope: Equatable, Sendable {
    public var event: ChatEvent
    public var origin: String?
    public var requestID: RequestID?

    public init(event: ChatEvent, origin: String? = nil, requestID: RequestID? = nil) {
        self.event = event
        self.origin = origin
        self.requestID = requestID
    }
}

/// The payload format on Redis channels: one flat JSON object with a kind `k`. The Lua scripts write the same shape
/// (the message script prepends `"id"`; the reaper builds leave notices with cjson), so it stays plain JSON.
public enum RelayCodec {
    /// A chat message before Redis has given it an id; the publish script inserts `"id":"<stream id>"`.
    public static func encodeMessage(
        room: RoomName, from: String, text: String, isAction: Bool, time: Millis, origin: String?,
        requestID: RequestID?
    ) -> String {
        var json = JSONWriter()
        json.field("k", "msg")
        json.field("room", room.value)
        json.field("from", from)
        json.field("text", text)
        if isAction { json.field("act", true) }
        json.field("ts", time)
        if let origin { json.field("sid", origin) }
        if let requestID { json.field("rid", requestID.json) }
        return json.finish()
    }

    public static func encode(_ envelope: RelayEnvelope) -> String {
        var json = JSONWriter()
        switch envelope.event {
        case .message(let message):
            json.field("id", message.id)
            json.field("k", "msg")
            json.field("room", message.room.value)
            json.field("from", message.from)
            json.field("text", message.text)
            if message.isAction { json.field("act", true) }
            json.field("ts", message.time)
        case .direct(let direct):
            json.field("k", "dm")
            json.field("from", direct.from)
            json.field("to", direct.to)
            json.field("text", direct.text)
            if direct.isAction { json.field("act", true) }
            json.field("ts", direct.time)
        case .joined(let room, let name, let time):
            json.field("k", "join")
            json.field("room", room.value)
            json.field("name", name)
            json.field("ts", time)
        case .left(let room, let name, let reason, let time):
            json.field("k", "leave")
            json.field("room", room.value)
            json.field("name", name)
            json.field("reason", reason.rawValue)
            json.field("ts", time)
        case .presence(let room, let name, let presence, let time):
            json.field("k", "presence")
            json.field("room", room.value)
            json.field("name", name)
            if case .away(let text) = presence { json.field("away", text) }
            json.field("ts", time)
        case .typing(let room, let name, let time):
            json.field("k", "typing")
            json.field("room", room.value)
            json.field("name", name)
            json.field("ts", time)
        default:
            preconditionFailure("only relayed events are encoded for Redis, not \(envelope.event)")
        }
        if let origin = envelope.origin { json.field("sid", origin) }
        if let requestID = envelope.requestID { json.field("rid", requestID.json) }
        return json.finish()
    }

    /// Nil for a payload this version does not understand: a newer node's event kind is skipped, not a crash.
    public static func decode(_ payload: some Collection<UInt8>, streamID: String? = nil) -> RelayEnvelope? {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(payload)) else { return nil }
        let event: ChatEvent
        switch wire.k {
        case "msg":
            guard let id = streamID ?? wire.id, let room = wire.room, let from = wire.from, let text = wire.text
            else { return nil }
            event = .message(
                ChatMessage(
                    id: id, room: RoomName(trusted: room), from: from, text: text, isAction: wire.act ?? false,
                    time: wire.ts))
        case "dm":
            guard let from = wire.from, let to = wire.to, let text = wire.text else { return nil }
            event = .direct(DirectMessage(from: from, to: to, text: text, isAction: wire.act ?? false, time: wire.ts))
        case "join":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .joined(room: RoomName(trusted: room), name: name, time: wire.ts)
        case "leave":
            guard let room = wire.room, let name = wire.name else { return nil }
            let reason = wire.reason.flatMap(LeaveReason.init(rawValue:)) ?? .left
            event = .left(room: RoomName(trusted: room), name: name, reason: reason, time: wire.ts)
        case "presence":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .presence(
                room: RoomName(trusted: room), name: name, presence: wire.away.map(Presence.away) ?? .online,
                time: wire.ts)
        case "typing":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .typing(room: RoomName(trusted: room), name: name, time: wire.ts)
        default:
            return nil
        }
        return RelayEnvelope(event: event, origin: wire.sid, requestID: wire.rid.map(RequestID.init(json:)))
    }

    private struct Wire: Decodable {
        var k: String
        var id: String?
        var room: String?
        var from: String?
        var to: String?
        var name: String?
        var text: String?
        var act: Bool?
        var reason: String?
        var away: String?
        var ts: Millis
        var sid: String?
        /// The request id as raw JSON text: decoded as the JSON string that `encodeMessage` wrote.
        var rid: String?
    }
}
