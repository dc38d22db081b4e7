/// An event as it travels between nodes through Redis pub/sub, and, for chat messages, as it is kept in a room's
/// history stream. `origin` names the session that caused it, so that session's node can skip its own events.
public struct RelayEnvelope: Equatable, Sendable {
    public var event: ChatEvent
    public var origin: String?
    /// The trace the event is part of (a W3C `traceparent`), when the node that published it traces it: the nodes
    /// fanning it out continue that trace. Never stored: a message's comes with the published copy only
    /// (`RoomScripts.tracedCopy`).
    public var traceParent: String?

    public init(event: ChatEvent, origin: String? = nil, traceParent: String? = nil) {
        self.event = event
        self.origin = origin
        self.traceParent = traceParent
    }

    /// Its id in a room's stream, for what a room's stream holds (a message, a change to one).
    public var streamID: StreamID? {
        switch event {
        case .message(let message): message.id
        case .messageChanged(let change): change.id
        default: nil
        }
    }
}

/// The relay payload, encoded and decoded here only.
///
/// A payload is one flat JSON object with a kind `k`. A chat message's JSON has no id: the publish script
/// (`RoomScripts.publishMessage`) appends it to the room's stream, whose entry id becomes the message's id, and
/// publishes it framed as `<stream id> <json>`; a history read frames nothing and passes the entry's id instead
/// (`decode(_:entryID:)`). So a message read back from history and one received live decode alike, with the same
/// id, and no script edits JSON text. (Leave notices for sessions whose node died are written by the scripts with
/// cjson, in the same flat shape; see `ChatScripts`.)
public enum RelayCodec {
    /// A chat message's JSON, without its id: what the publish script frames with the id it assigns.
    public static func messageBody(_ message: OutgoingMessage, origin: String?) -> String {
        var json = JSONWriter()
        json.field("k", "msg")
        json.field("room", message.room.value)
        json.field("from", message.from)
        json.field("text", message.text)
        if message.isAction { json.field("act", true) }
        if message.isNotice { json.field("notice", true) }
        if message.isBot { json.field("bot", true) }
        json.field("ts", message.time)
        if let origin { json.field("sid", origin) }
        if let author = message.author { json.field("au", author) }
        return json.finish()
    }

    /// The whole payload of any relayed event: for a message, the frame the publish script would write.
    public static func encode(_ envelope: RelayEnvelope) -> String {
        var json = JSONWriter()
        switch envelope.event {
        case .message(let message):
            var outgoing = OutgoingMessage(
                room: message.room, from: message.from, text: message.text, isAction: message.isAction,
                time: message.time)
            outgoing.isNotice = message.isNotice
            outgoing.isBot = message.isBot
            var body = messageBody(outgoing, origin: envelope.origin)
            if let reply = message.annotations.replyTo {
                // As the reply script writes it: the answered message's id, and live, its author and start.
                body.removeLast()
                var extra = JSONWriter()
                extra.field("re", reply.id.description)
                if let from = reply.from { extra.field("rf", from) }
                if let snippet = reply.snippet { extra.field("rt", snippet) }
                body += "," + extra.finish().dropFirst()
            }
            return "\(message.id) " + body
        case .messageChanged(let change):
            json.field("k", "chg")
            json.field("op", change.operation)
            json.field("room", change.room.value)
            json.field("from", change.by)
            json.field("msg", change.target.description)
            if let value = change.value ?? change.reason { json.field("text", value) }
            json.field("ts", change.time)
            if let from = change.targetFrom { json.field("rf", from) }
            if let snippet = change.targetSnippet { json.field("rt", snippet) }
            if let origin = envelope.origin { json.field("sid", origin) }
            return "\(change.id) " + json.finish()
        case .direct(let direct):
            json.field("k", "dm")
            json.field("from", direct.from)
            json.field("to", direct.to)
            json.field("text", direct.text)
            if direct.isAction { json.field("act", true) }
            if direct.isNotice { json.field("notice", true) }
            if direct.isBot { json.field("bot", true) }
            json.field("ts", direct.time)
        case .joined(let room, let name, let time, let registered):
            json.field("k", "join")
            json.field("room", room.value)
            json.field("name", name)
            json.field("ts", time)
            if registered { json.field("acct", true) }
        case .left(let room, let name, let reason, let time, let message):
            json.field("k", "leave")
            json.field("room", room.value)
            json.field("name", name)
            json.field("reason", reason.rawValue)
            json.field("ts", time)
            if let message { json.field("msg", message) }
        case .tagMessage(let message):
            json.field("k", "tags")
            if let room = message.room { json.field("room", room.value) }
            json.field("from", message.from)
            if let to = message.to { json.field("to", to) }
            json.field("text", message.encodedTags)
            json.field("msg", message.id)
            json.field("ts", message.time)
        case .readMarker(let marker):
            json.field("k", "read")
            json.field("room", marker.room.value)
            if let id = marker.id { json.field("msg", id.description) }
            json.field("ts", 0)
        case .renamed(let room, let from, let to, let time):
            json.field("k", "nick")
            if let room { json.field("room", room.value) }
            json.field("from", from)
            json.field("to", to)
            json.field("ts", time)
        case .presence(let room, let name, let presence, let time):
            json.field("k", "presence")
            json.field("room", room.value)
            json.field("name", name)
            if case .away(let text) = presence { json.field("away", text) }
            json.field("ts", time)
        case .topicChanged(let room, let topic):
            json.field("k", "topic")
            json.field("room", room.value)
            json.field("name", topic.by)
            json.field("text", topic.text)
            json.field("ts", topic.time)
        case .typing(let room, let name, let time):
            json.field("k", "typing")
            json.field("room", room.value)
            json.field("name", name)
            json.field("ts", time)
        case .kicked(let room, let name, let by, let reason, let time):
            json.field("k", "kick")
            json.field("room", room.value)
            json.field("name", name)
            json.field("from", by)
            if let reason { json.field("msg", reason) }
            json.field("ts", time)
        case .modeChanged(let room, let by, let changes, let time):
            // IRC's mode line (`+ob-l alice *!*@192.0.2.7`) and, per change, when it lapses (0: never).
            let line = ModerationText.modeLine(changes, showingKeys: true)
            json.field("k", "mode")
            json.field("room", room.value)
            json.field("from", by)
            json.field("text", ([line.modes] + line.arguments).joined(separator: " "))
            json.field("until", changes.map { String($0.until ?? 0) }.joined(separator: " "))
            json.field("ts", time)
        case .invited(let room, let by, let time):
            json.field("k", "invite")
            json.field("room", room.value)
            json.field("from", by)
            json.field("ts", time)
        case .announcement(let from, let text, let time, let operatorsOnly):
            json.field("k", "announce")
            json.field("from", from)
            json.field("text", text)
            if operatorsOnly { json.field("ops", true) }
            json.field("ts", time)
        case .removed(let name, let by, let reason, let time):
            json.field("k", "removed")
            json.field("name", name)
            json.field("from", by)
            if let reason { json.field("msg", reason) }
            json.field("ts", time)
        case .roomRegistered(let room, let owner, let previous, let by, let time):
            json.field("k", "registered")
            json.field("room", room.value)
            if let owner { json.field("name", owner) }
            if let previous { json.field("to", previous) }
            json.field("from", by)
            json.field("ts", time)
        case .roomClosed(let room, let by, let reason, let time):
            json.field("k", "close")
            json.field("room", room.value)
            json.field("from", by)
            if let reason { json.field("msg", reason) }
            json.field("ts", time)
        case .networkChanged(let time):
            json.field("k", "network")
            json.field("ts", time)
        case .joinedElsewhere(let room):
            json.field("k", "joined-elsewhere")
            json.field("room", room.value)
            json.field("ts", 0)
        case .leftElsewhere(let room):
            json.field("k", "left-elsewhere")
            json.field("room", room.value)
            json.field("ts", 0)
        default:
            preconditionFailure("only relayed events are encoded for Redis, not \(envelope.event)")
        }
        if let origin = envelope.origin { json.field("sid", origin) }
        if let trace = envelope.traceParent { json.field("tp", trace) }
        return json.finish()
    }

    /// Nil for a payload this version does not understand: a newer node's event kind is skipped, not a crash.
    /// `entryID` is the stream entry's id, for history written before messages carried their frame (as is an `id`
    /// field in the JSON, which nodes before the frame published).
    public static func decode(_ payload: some Collection<UInt8>, entryID: StreamID? = nil) -> RelayEnvelope? {
        // Over contiguous bytes, in code compiled for them: the generic path (this module is not inlined into the
        // node's) allocated for every byte it looked at, about a third of a flooded node's mallocs.
        if let envelope = payload.withContiguousStorageIfAvailable({ decode(bytes: $0, entryID: entryID) }) {
            return envelope
        }
        return Array(payload).withUnsafeBufferPointer { decode(bytes: $0, entryID: entryID) }
    }

    private static func decode(bytes payload: UnsafeBufferPointer<UInt8>, entryID: StreamID?) -> RelayEnvelope? {
        let (framedID, body) = splitFrame(payload)
        guard let fields = FlatJSON.parse(body), let wire = Wire(fields) else { return nil }
        let event: ChatEvent
        switch wire.k {
        case "msg":
            guard let id = framedID ?? entryID, let room = wire.room,
                let from = wire.from, let text = wire.text
            else { return nil }
            var message = ChatMessage(
                id: id, room: RoomName(trusted: room), from: from, text: text, isAction: wire.act ?? false,
                time: wire.ts, isNotice: wire.notice ?? false, isBot: wire.bot ?? false)
            if let answered = wire.re.flatMap(StreamID.init) {
                message.annotations.replyTo = MessageReference(id: answered, from: wire.rf, snippet: wire.rt)
            }
            event = .message(message)
        case "chg":
            guard let id = framedID ?? entryID, let room = wire.room, let by = wire.from,
                let target = wire.msg.flatMap(StreamID.init), let operation = wire.op
            else { return nil }
            let kind: MessageChange.Kind
            switch (operation, wire.text) {
            case ("edit", let text?): kind = .edited(text)
            case ("delete", _): kind = .deleted
            case ("react", let emoji?): kind = .reacted(emoji)
            case ("unreact", let emoji?): kind = .unreacted(emoji)
            default: return nil
            }
            var change = MessageChange(
                id: id, room: RoomName(trusted: room), target: target, by: by, kind: kind, time: wire.ts,
                targetFrom: wire.rf, targetSnippet: wire.rt)
            if case .deleted = kind { change.reason = wire.text }
            event = .messageChanged(change)
        case "dm":
            guard let from = wire.from, let to = wire.to, let text = wire.text else { return nil }
            event = .direct(
                DirectMessage(
                    from: from, to: to, text: text, isAction: wire.act ?? false, time: wire.ts,
                    isNotice: wire.notice ?? false, isBot: wire.bot ?? false))
        case "join":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .joined(room: RoomName(trusted: room), name: name, time: wire.ts, registered: wire.acct ?? false)
        case "leave":
            guard let room = wire.room, let name = wire.name else { return nil }
            let reason = wire.reason.flatMap(LeaveReason.init(rawValue:)) ?? .left
            event = .left(room: RoomName(trusted: room), name: name, reason: reason, time: wire.ts, message: wire.msg)
        case "presence":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .presence(
                room: RoomName(trusted: room), name: name, presence: wire.away.map(Presence.away) ?? .online,
                time: wire.ts)
        case "tags":
            guard let from = wire.from, let id = wire.msg, let tags = wire.text.flatMap(TagMessage.decodeTags) else {
                return nil
            }
            event = .tagMessage(
                TagMessage(
                    room: wire.room.map(RoomName.init(trusted:)), to: wire.to, from: from, tags: tags, id: id,
                    time: wire.ts))
        case "read":
            guard let room = wire.room, let id = wire.msg.flatMap(StreamID.init) else { return nil }
            event = .readMarker(ReadMarker(room: RoomName(trusted: room), id: id))
        case "nick":
            guard let room = wire.room, let from = wire.from, let to = wire.to else { return nil }
            event = .renamed(room: RoomName(trusted: room), from: from, to: to, time: wire.ts)
        case "typing":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .typing(room: RoomName(trusted: room), name: name, time: wire.ts)
        case "topic":
            guard let room = wire.room, let name = wire.name else { return nil }
            event = .topicChanged(
                room: RoomName(trusted: room), RoomTopic(text: wire.text ?? "", by: name, time: wire.ts))
        case "resumed":
            guard let name = wire.name else { return nil }
            event = .resumedElsewhere(
                name: name, connection: wire.to, why: wire.msg.flatMap(SessionReplacement.init(rawValue:)) ?? .resumed)
        case "joined-elsewhere":
            guard let room = wire.room else { return nil }
            event = .joinedElsewhere(room: RoomName(trusted: room))
        case "left-elsewhere":
            guard let room = wire.room else { return nil }
            event = .leftElsewhere(room: RoomName(trusted: room))
        case "kick":
            guard let room = wire.room, let name = wire.name, let by = wire.from else { return nil }
            event = .kicked(room: RoomName(trusted: room), name: name, by: by, reason: wire.msg, time: wire.ts)
        case "mode":
            guard let room = wire.room, let by = wire.from, let line = wire.text,
                let changes = ModerationText.changes(modeLine: line, until: wire.until ?? "")
            else { return nil }
            event = .modeChanged(room: RoomName(trusted: room), by: by, changes: changes, time: wire.ts)
        case "invite":
            guard let room = wire.room, let by = wire.from else { return nil }
            event = .invited(room: RoomName(trusted: room), by: by, time: wire.ts)
        case "announce":
            guard let from = wire.from, let text = wire.text else { return nil }
            event = .announcement(from: from, text: text, time: wire.ts, operatorsOnly: wire.ops ?? false)
        case "removed":
            guard let name = wire.name, let by = wire.from else { return nil }
            event = .removed(name: name, by: by, reason: wire.msg, time: wire.ts)
        case "network":
            event = .networkChanged(time: wire.ts)
        case "registered":
            // `name`: the owner now (none: unregistered); `to`: the owner before.
            guard let room = wire.room, let by = wire.from else { return nil }
            event = .roomRegistered(
                room: RoomName(trusted: room), owner: wire.name, previous: wire.to, by: by, time: wire.ts)
        case "close":
            guard let room = wire.room, let by = wire.from else { return nil }
            event = .roomClosed(room: RoomName(trusted: room), by: by, reason: wire.msg, time: wire.ts)
        default:
            return nil
        }
        return RelayEnvelope(event: event, origin: wire.sid, traceParent: wire.tp)
    }

    /// `<stream id> <json>` -> (id, json); a payload that starts with `{` has no id.
    private static func splitFrame(_ payload: UnsafeBufferPointer<UInt8>) -> (StreamID?, UnsafeBufferPointer<UInt8>) {
        guard let first = payload.first, first != UInt8(ascii: "{"),
            let space = payload.firstIndex(of: UInt8(ascii: " "))
        else { return (nil, payload) }
        let id = StreamID(bytes: UnsafeBufferPointer(rebasing: payload[..<space]))
        return (id, UnsafeBufferPointer(rebasing: payload[(space + 1)...]))
    }

    /// The payload's fields, as the nodes write them. Built as JSONDecoder would decode it: a field of the wrong type
    /// refuses the whole payload, a null one is absent, an unknown one is ignored, and `ts` is required.
    private struct Wire {
        var k: String
        var room: String?
        var from: String?
        var to: String?
        var name: String?
        var text: String?
        var act: Bool?
        var notice: Bool?
        var msg: String?
        var acct: Bool?
        var reason: String?
        var away: String?
        var until: String?
        var ops: Bool?
        var bot: Bool?
        var ts: Millis
        var sid: String?
        /// A reply's answered message (id, author, start of its text); a change's target's author and text.
        var re: String?
        var rf: String?
        var rt: String?
        /// A change's kind (`MessageAction.operation`).
        var op: String?
        var tp: String?

        init?(_ fields: [String: FlatJSON.Value]) {
            /// Absent or null: nil; a string: it; anything else refuses the payload (`.some(nil)` is the refusal).
            func string(_ key: String) -> String?? {
                switch fields[key] {
                case nil, .null: return .some(nil)
                case .string(let value): return .some(value)
                default: return nil
                }
            }
            func bool(_ key: String) -> Bool?? {
                switch fields[key] {
                case nil, .null: return .some(nil)
                case .bool(let value): return .some(value)
                default: return nil
                }
            }
            guard case .string(let kind)? = fields["k"], case .number(_, let integer?)? = fields["ts"],
                let room = string("room"), let from = string("from"), let to = string("to"),
                let name = string("name"), let text = string("text"), let act = bool("act"),
                let notice = bool("notice"),
                let msg = string("msg"), let acct = bool("acct"), let reason = string("reason"),
                let away = string("away"), let until = string("until"),
                let sid = string("sid"), let ops = bool("ops"), let bot = bool("bot"),
                let re = string("re"), let rf = string("rf"), let rt = string("rt"), let op = string("op")
            else { return nil }
            (self.re, self.rf, self.rt, self.op) = (re, rf, rt, op)
            // Leniently: a trace context of another shape (a later version's) leaves the event untraced, not lost.
            if case .string(let trace)? = fields["tp"] { tp = trace }
            self.until = until
            self.ops = ops
            self.bot = bot
            (k, ts) = (kind, integer)
            (self.room, self.from, self.to, self.name, self.text) = (room, from, to, name, text)
            (self.act, self.notice, self.msg, self.acct, self.reason, self.away, self.sid) = (
                act, notice, msg, acct, reason, away, sid
            )
        }
    }
}
