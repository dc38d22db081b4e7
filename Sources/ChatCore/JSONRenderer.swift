// One file because the JSON protocol's events are one table: every event's fields side by side, checked against
// docs/protocol.md's list of events, which they must match name for name.

/// Renders events as JSON lines for programs. Every event has `type` and `time` (milliseconds since the epoch,
/// UTC); a reply repeats the request's `id`. Chat messages carry their stream id as `msgid`.
public enum JSONRenderer {
    /// The event as one line. Built in place: appending the newline to the finished object made a second string.
    public static func render(_ event: ChatEvent, requestID: RequestID? = nil, now: Millis) -> String {
        writer(event, requestID: requestID, now: now).finish(line: true)
    }

    /// Events JSON clients are not sent: no message of the day at login when there is none.
    public static func isSilent(_ event: ChatEvent) -> Bool {
        if case .motd(let text, true) = event { return text?.isEmpty ?? true }
        // After a join, a room never read has no marker to tell a program (IRC clients are told `*`).
        if case .readMarker(let marker) = event { return marker.id == nil && marker.afterJoin }
        return false
    }

    public static func object(_ event: ChatEvent, requestID: RequestID?, now: Millis) -> String {
        writer(event, requestID: requestID, now: now).finish()
    }

    private static func writer(_ event: ChatEvent, requestID: RequestID?, now: Millis) -> JSONWriter {
        // Room for the whole object from the start (a message's text is most of it): no regrowth while writing.
        let text: Int =
            switch event {
            case .message(let message), .sent(let message): message.text.utf8.count + message.from.utf8.count
            case .direct(let direct): direct.text.utf8.count + direct.from.utf8.count + direct.to.utf8.count
            default: 0
            }
        var json = JSONWriter(capacity: 160 + text + text / 8)
        func header(_ type: String, time: Millis? = nil) {
            json.field("type", type)
            json.field("time", time ?? now)
            if let requestID { json.field("id", rawJSON: requestID.json) }
        }
        switch event {
        case .greeting(let server):
            header("greeting")
            json.field("server", server)
        case .welcome(let name, let room, let node, let time, let resume):
            header("welcome", time: time)
            json.field("name", name)
            if let room { json.field("room", room.value) }
            json.field("node", node)
            if let resume { json.field("resume", resume) }
        case .message(let message), .sent(let message):
            header("message", time: message.time)
            writeMessageFields(message, into: &json)
        case .direct(let direct):
            header("direct", time: direct.time)
            json.field("from", direct.from)
            json.field("to", direct.to)
            json.field("text", IRCFormatting.strip(direct.text))
            if direct.isAction { json.field("action", true) }
            if direct.isNotice { json.field("notice", true) }
            if direct.isBot { json.field("bot", true) }
        case .joined(let room, let name, let time, let registered):
            header("join", time: time)
            json.field("room", room.value)
            json.field("name", name)
            if registered { json.field("registered", true) }
        case .left(let room, let name, let reason, let time, let message):
            header("leave", time: time)
            json.field("room", room.value)
            json.field("name", name)
            json.field("reason", reason.rawValue)
            if let message { json.field("message", IRCFormatting.strip(message)) }
        case .presence(let room, let name, let presence, let time):
            header("presence", time: time)
            json.field("room", room.value)
            json.field("name", name)
            writePresence(presence, into: &json)
        case .renamed(let room, let from, let to, let time):
            header("renamed", time: time)
            if let room { json.field("room", room.value) }
            json.field("from", from)
            json.field("to", to)
        case .tagMessage(let message):
            header("tagmsg", time: message.time)
            if let room = message.room { json.field("room", room.value) }
            if let to = message.to { json.field("to", to) }
            json.field("from", message.from)
            json.field("msgid", message.id)
            var tags = JSONWriter()
            for tag in message.tags {
                if let value = tag.value { tags.field(tag.key, value) } else { tags.field(tag.key, true) }
            }
            json.field("tags", rawJSON: tags.finish())
        case .messageChanged(let change):
            switch change.kind {
            case .edited(let text):
                header("edited", time: change.time)
                json.field("text", IRCFormatting.strip(text))
            case .deleted: header("deleted", time: change.time)
            case .reacted(let emoji):
                header("reacted", time: change.time)
                json.field("emoji", emoji)
            case .unreacted(let emoji):
                header("unreacted", time: change.time)
                json.field("emoji", emoji)
            }
            json.field("room", change.room.value)
            json.field("msgid", change.target.description)
            json.field("from", change.by)
            if let author = change.targetFrom { json.field("author", author) }
            json.field("change", change.id.description)
        case .readMarker(let marker):
            header("read")
            json.field("room", marker.room.value)
            if let id = marker.id { json.field("msgid", id.description) }
            if let unread = marker.unread { json.field("unread", unread) }
            if marker.more { json.field("more", true) }
        case .typing(let room, let name, let time):
            header("typing", time: time)
            json.field("room", room.value)
            json.field("name", name)
        case .youJoined(let room, let history, let more):
            header("joined")
            json.field("room", room.value)
            json.array("history", history.map(messageObject))
            if more { json.field("more", true) }
        case .online(let users):
            header("online")
            json.array(
                "users",
                users.map { user in
                    var entry = JSONWriter()
                    entry.field("name", user.name)
                    if user.isAway { entry.field("away", true) }
                    return entry.finish()
                })
        case .youLeft(let room, _):
            header("left")
            json.field("room", room.value)
        case .topic(let room, let topic):
            header("topic", time: topic?.time)
            json.field("room", room.value)
            json.field("text", IRCFormatting.strip(topic?.text ?? ""))
            if let topic { json.field("by", topic.by) }
        case .topicChanged(let room, let topic):
            header("topic", time: topic.time)
            json.field("room", room.value)
            json.field("text", IRCFormatting.strip(topic.text))
            json.field("by", topic.by)
            json.field("changed", true)
        case .history(let room, let messages, let more):
            header("history")
            json.field("room", room.value)
            json.array("messages", messages.map(messageObject))
            if more { json.field("more", true) }
        case .searchResults(let results):
            header("search")
            json.field("text", results.text)
            if let room = results.room { json.field("room", room) }
            if let from = results.from { json.field("from", from) }
            json.field("page", results.page)
            json.array(
                "messages",
                results.found.map { hit in
                    switch hit {
                    case .message(let message):
                        return messageObject(message)
                    case .direct(let direct, let sent):
                        var object = writer(.direct(direct), requestID: nil, now: direct.time)
                        if sent { object.field("sent", true) }
                        return object.finish()
                    }
                })
            if results.more { json.field("more", true) }
        case .forgotten(let count):
            header("forgotten")
            json.field("count", count)
        case .gap(let room, let after, let lost, let oldest):
            header("gap")
            json.field("room", room.value)
            json.field("after", after.description)
            if lost { json.field("lost", true) }
            if let oldest { json.field("oldest", oldest.description) }
        case .rooms(let rooms, let current, let total):
            header("rooms")
            if let current { json.field("current", current.value) }
            json.field("count", total ?? rooms.count)
            json.array(
                "rooms",
                rooms.map { summary in
                    var room = JSONWriter()
                    room.field("room", summary.room.value)
                    room.field("members", summary.members)
                    room.field("joined", summary.joined)
                    return room.finish()
                })
        case .who(let room, let members, let total, let next):
            header("who")
            json.field("room", room.value)
            json.field("count", total ?? members.count)
            if let next { json.field("next", next) }
            json.array(
                "members",
                members.map { member in
                    var entry = JSONWriter()
                    entry.field("name", member.name)
                    writePresence(member.presence, into: &entry)
                    entry.field("idle", member.idleMillis)
                    entry.field("node", member.node)
                    if member.reconnecting { entry.field("reconnecting", true) }
                    if member.bot { entry.field("bot", true) }
                    if let role = member.roles.word { entry.field("role", role) }
                    return entry.finish()
                })
        case .seen(let record, _):
            header("seen")
            switch record {
            case .online(let name, let since, let node, let reconnecting, let details):
                json.field("name", name)
                json.field("state", reconnecting ? "reconnecting" : "online")
                json.field("since", since)
                json.field("node", node)
                if let realName = details.realName { json.field("realname", realName) }
                if let away = details.away { json.field("away", away) }
                if details.bot { json.field("bot", true) }
            case .offline(let name, let connectedAt, let disconnectedAt, _):
                json.field("name", name)
                json.field("state", "offline")
                json.field("connected", connectedAt)
                json.field("disconnected", disconnectedAt)
            case .never(let name):
                json.field("name", name)
                json.field("state", "never")
            }
        case .recipientAway(let name, let text):
            header("recipient-away")
            json.field("name", name)
            json.field("text", text)
        case .help:
            header("help")
            json.array("lines", TextCommandParser.helpLines.map(JSONWriter.quoted))
        case .ok(let text):
            header("ok")
            json.field("text", text)
        case .pong:
            header("pong")
        case .ping:
            header("ping")
        case .bye(let reason):
            header("bye")
            json.field("reason", reason)
        case .error(let error):
            header("error")
            json.field("code", error.code.rawValue)
            json.field("message", error.message)
        case .resumedElsewhere(let name, _, _):
            header("resumed")
            json.field("name", name)
        case .joinedElsewhere(let room):
            header("joined-elsewhere")
            json.field("room", room.value)
        case .leftElsewhere(let room):
            header("left-elsewhere")
            json.field("room", room.value)
        case .kicked(let room, let name, let by, let reason, let time):
            header("kicked", time: time)
            json.field("room", room.value)
            json.field("name", name)
            json.field("by", by)
            if let reason { json.field("reason", IRCFormatting.strip(reason)) }
        case .modeChanged(let room, let by, let changes, let time):
            header("mode", time: time)
            json.field("room", room.value)
            json.field("by", by)
            json.array("changes", changes.map { modeChangeObject($0, room: room, now: time) })
        case .roomSettings(let room, let settings):
            header("settings")
            json.field("room", room.value)
            json.array(
                "flags", RoomFlag.allCases.filter { settings.flags.contains($0) }.map { JSONWriter.quoted($0.word) })
            if let key = settings.key { json.field("key", key) }
            if let limit = settings.limit { json.field("limit", limit) }
            json.field("modes", settings.modeString(showingKey: false).modes)
        case .bans(let room, let bans):
            header("bans")
            json.field("room", room.value)
            json.array("bans", bans.map(Self.banObject))
        case .invited(let room, let by, let time):
            header("invited", time: time)
            json.field("room", room.value)
            json.field("by", by)
        case .roomRegistered(let room, let owner, let previous, let by, let time):
            header("room-registered", time: time)
            json.field("room", room.value)
            if let owner { json.field("owner", owner) }
            if let previous { json.field("previous", previous) }
            json.field("by", by)
        case .roomRegistration(let registration):
            header("room-info")
            json.field("room", registration.room.value)
            if let owner = registration.owner { json.field("owner", owner) }
            if let since = registration.since { json.field("since", since) }
            if let access = registration.access {
                json.array(
                    "access",
                    access.map { entry in
                        var object = JSONWriter()
                        object.field("name", entry.name)
                        if let role = entry.roles.word { object.field("role", role) }
                        return object.finish()
                    })
            }
        case .announcement(let from, let text, let time, let operatorsOnly):
            header("announcement", time: time)
            json.field("from", from)
            json.field("text", IRCFormatting.strip(text))
            if operatorsOnly { json.field("operators", true) }
        case .removed(let name, let by, let reason, let time):
            header("removed", time: time)
            json.field("name", name)
            json.field("by", by)
            if let reason { json.field("reason", IRCFormatting.strip(reason)) }
        case .networkChanged(let time):
            header("network-changed", time: time)
        case .serverOperator:
            header("server-operator")
        case .serverOperatorEnded:
            header("server-operator-ended")
        case .blocks(let names, let registeredOnly):
            header("blocks")
            json.array("names", names.map(JSONWriter.quoted))
            json.field("dms", registeredOnly ? "registered" : "everyone")
        case .roomClosed(let room, let by, let reason, let time):
            header("room-closed", time: time)
            json.field("room", room.value)
            json.field("by", by)
            if let reason { json.field("reason", IRCFormatting.strip(reason)) }
        case .networkBans(let bans):
            header("network-bans")
            json.array("bans", bans.map(Self.banObject))
        case .auditLog(let entries):
            header("audit")
            json.array("entries", entries.map(Self.auditObject))
        case .motd(let text, _):
            header("motd")
            if let text, !text.isEmpty { json.field("text", IRCFormatting.strip(text)) }
        case .counts(let counts):
            header("counts")
            json.field("people", counts.people)
            json.field("nodes", counts.nodes)
            json.field("rooms", counts.rooms)
            json.field("local", counts.local)
            json.field("local-peak", counts.localPeak)
            json.field("peak", counts.peak)
        }
        return json
    }

    /// An audit log entry: `{"time":...,"actor":"alice","action":"kick","target":"bob","room":"dev","detail":"..."}`.
    public static func auditObject(_ entry: AuditEntry) -> String {
        var object = JSONWriter()
        object.field("time", entry.time)
        object.field("actor", entry.actor)
        object.field("action", entry.action)
        object.field("target", entry.target)
        if let room = entry.room { object.field("room", room) }
        if let detail = entry.detail { object.field("detail", IRCFormatting.strip(detail)) }
        return object.finish()
    }

    /// A room's or the network's ban: `{"mask":"bob!*@*","by":"alice","time":...,"until":...,"reason":"..."}`.
    public static func banObject(_ ban: RoomBan) -> String {
        var entry = JSONWriter()
        entry.field("mask", ban.mask)
        entry.field("by", ban.by)
        entry.field("time", ban.time)
        if let until = ban.until { entry.field("until", until) }
        if let reason = ban.reason { entry.field("reason", IRCFormatting.strip(reason)) }
        return entry.finish()
    }

    /// `{"mode":"+o","name":"bob","text":"gave operator to bob"}`: IRC's sign and letter, what it applies to,
    /// when it lapses, and the sentence text mode shows.
    static func modeChangeObject(_ change: RoomModeChange, room: RoomName, now: Millis) -> String {
        var entry = JSONWriter()
        let (sign, letter, _) = change.irc
        entry.field("mode", "\(sign)\(letter)")
        switch change {
        case .role(_, let name, _), .mute(let name, _, _): entry.field("name", name)
        case .ban(let mask, _, _): entry.field("mask", mask.text)
        case .key(let key?): entry.field("key", key)
        case .limit(let limit?): entry.field("limit", limit)
        case .flag(let flag, _): entry.field("flag", flag.word)
        default: break
        }
        if case .mute = change { entry.field("mute", true) }
        if let until = change.until { entry.field("until", until) }
        entry.field("text", ModerationText.describe(change, room: room, now: now))
        return entry.finish()
    }

    static func messageObject(_ message: ChatMessage) -> String {
        var json = JSONWriter()
        json.field("type", "message")
        json.field("time", message.time)
        writeMessageFields(message, into: &json)
        return json.finish()
    }

    static func writeMessageFields(_ message: ChatMessage, into json: inout JSONWriter) {
        json.field("msgid", message.id.description)
        json.field("room", message.room.value)
        json.field("from", message.from)
        // IRC formatting codes are for IRC clients: programs and pages get the text without them.
        json.field("text", IRCFormatting.strip(message.text))
        if message.isAction { json.field("action", true) }
        if message.isNotice { json.field("notice", true) }
        if message.isBot { json.field("bot", true) }
        guard let annotations = message.annotationsIfAny else { return }
        if let reply = annotations.replyTo {
            var answered = JSONWriter()
            answered.field("msgid", reply.id.description)
            if let from = reply.from { answered.field("from", from) }
            if let snippet = reply.snippet { answered.field("text", IRCFormatting.strip(snippet)) }
            json.field("reply", rawJSON: answered.finish())
        }
        if let edited = annotations.edited { json.field("edited", edited) }
        if !annotations.reactions.isEmpty {
            json.array(
                "reactions",
                annotations.reactions.map { reaction in
                    var object = JSONWriter()
                    object.field("emoji", reaction.emoji)
                    object.field("count", reaction.names.count)
                    object.array("names", reaction.names.map { JSONWriter.quoted($0) })
                    return object.finish()
                })
        }
    }

    static func writePresence(_ presence: Presence, into json: inout JSONWriter) {
        switch presence {
        case .online:
            json.field("state", "online")
        case .away(let text):
            json.field("state", "away")
            json.field("away", text)
        }
    }
}
