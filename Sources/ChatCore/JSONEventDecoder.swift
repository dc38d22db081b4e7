import Foundation

/// Reads the events `JSONRenderer` writes back into `ChatEvent`s, for clients. Unknown event types and malformed
/// lines give nil: a client skips what a newer server says that it does not understand.
public enum JSONEventDecoder {
    public struct Decoded: Equatable, Sendable {
        public var event: ChatEvent
        /// The `id` of the request this event answers, as JSON (a quoted string or a number).
        public var requestID: String?
        /// The event's `time`.
        public var time: Millis
    }

    public static func decode(_ line: some StringProtocol) -> Decoded? {
        guard let data = line.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let type = object["type"] as? String
        else { return nil }
        let fields = Fields(object)
        let time = fields.int("time") ?? 0
        guard let event = event(type, fields, time: time) else { return nil }
        let requestID: String? =
            switch object["id"] {
            case let text as String: JSONWriter.quoted(text)
            case let number as NSNumber: number.stringValue
            default: nil
            }
        return Decoded(event: event, requestID: requestID, time: time)
    }

    /// Typed access to one JSON object's fields.
    struct Fields {
        let object: [String: Any]
        init(_ object: [String: Any]) { self.object = object }
        func string(_ key: String) -> String? { object[key] as? String }
        func int(_ key: String) -> Int64? { (object[key] as? NSNumber)?.int64Value }
        func bool(_ key: String) -> Bool { (object[key] as? NSNumber)?.boolValue ?? false }
        func has(_ key: String) -> Bool { object[key] != nil }
        func room(_ key: String = "room") -> RoomName? { string(key).map(RoomName.init(trusted:)) }
        func objects(_ key: String) -> [Fields] {
            ((object[key] as? [Any]) ?? []).compactMap { ($0 as? [String: Any]).map(Fields.init) }
        }
        var presence: Presence { string("state") == "away" ? .away(string("away") ?? "") : .online }
    }

    static func message(_ fields: Fields) -> ChatMessage? {
        guard let id = fields.string("msgid").flatMap(StreamID.init), let room = fields.room(),
            let from = fields.string("from"),
            let text = fields.string("text")
        else { return nil }
        var message = ChatMessage(
            id: id, room: room, from: from, text: text, isAction: fields.bool("action"), time: fields.int("time") ?? 0,
            isNotice: fields.bool("notice"), isBot: fields.bool("bot"))
        var annotations = MessageAnnotations()
        if let reply = fields.objects("reply").first ?? (fields.object["reply"] as? [String: Any]).map(Fields.init),
            let answered = reply.string("msgid").flatMap(StreamID.init)
        {
            annotations.replyTo = MessageReference(
                id: answered, from: reply.string("from"), snippet: reply.string("text"))
        }
        annotations.edited = fields.int("edited")
        annotations.reactions = fields.objects("reactions").compactMap { reaction in
            reaction.string("emoji").map {
                Reaction(emoji: $0, names: (reaction.object["names"] as? [Any] ?? []).compactMap { $0 as? String })
            }
        }
        message.annotations = annotations
        return message
    }

    /// `edited`, `deleted`, `reacted`, `unreacted`.
    static func change(_ type: String, _ fields: Fields, time: Millis) -> ChatEvent? {
        guard let room = fields.room(), let target = fields.string("msgid").flatMap(StreamID.init),
            let by = fields.string("from"), let id = fields.string("change").flatMap(StreamID.init)
        else { return nil }
        let kind: MessageChange.Kind
        switch type {
        case "edited":
            guard let text = fields.string("text") else { return nil }
            kind = .edited(text)
        case "deleted": kind = .deleted
        case "reacted", "unreacted":
            guard let emoji = fields.string("emoji") else { return nil }
            kind = type == "reacted" ? .reacted(emoji) : .unreacted(emoji)
        default: return nil
        }
        return .messageChanged(
            MessageChange(
                id: id, room: room, target: target, by: by, kind: kind, time: time, targetFrom: fields.string("author"))
        )
    }

    static func event(_ type: String, _ fields: Fields, time: Millis) -> ChatEvent? {
        switch type {
        case "greeting":
            return fields.string("server").map { .greeting(server: $0) }
        case "welcome":
            guard let name = fields.string("name"), let node = fields.string("node") else { return nil }
            return .welcome(name: name, room: fields.room(), node: node, time: time, resume: fields.string("resume"))
        case "message":
            return message(fields).map(ChatEvent.message)
        case "direct":
            guard let from = fields.string("from"), let to = fields.string("to"), let text = fields.string("text")
            else { return nil }
            return .direct(
                DirectMessage(
                    from: from, to: to, text: text, isAction: fields.bool("action"), time: time,
                    isNotice: fields.bool("notice")))
        case "join":
            guard let room = fields.room(), let name = fields.string("name") else { return nil }
            return .joined(room: room, name: name, time: time, registered: fields.bool("registered"))
        case "leave":
            guard let room = fields.room(), let name = fields.string("name") else { return nil }
            return .left(
                room: room, name: name, reason: LeaveReason(rawValue: fields.string("reason") ?? "") ?? .left,
                time: time,
                message: fields.string("message"))
        case "presence":
            guard let room = fields.room(), let name = fields.string("name") else { return nil }
            return .presence(room: room, name: name, presence: fields.presence, time: time)
        case "renamed":
            guard let from = fields.string("from"), let to = fields.string("to") else { return nil }
            return .renamed(room: fields.room(), from: from, to: to, time: time)
        case "typing":
            guard let room = fields.room(), let name = fields.string("name") else { return nil }
            return .typing(room: room, name: name, time: time)
        case "read":
            guard let room = fields.room() else { return nil }
            return .readMarker(
                ReadMarker(
                    room: room, id: fields.string("msgid").flatMap(StreamID.init),
                    unread: fields.int("unread").map(Int.init),
                    more: fields.bool("more")))
        case "edited", "deleted", "reacted", "unreacted":
            return change(type, fields, time: time)
        case "tagmsg":
            // What the terminal client shows of client tags: someone typing (an IRC client's `+typing`).
            let tags = (fields.object["tags"] as? [String: Any]) ?? [:]
            guard let room = fields.room(), let name = fields.string("from"), tags["+typing"] as? String == "active"
            else { return nil }
            return .typing(room: room, name: name, time: time)
        case "joined":
            guard let room = fields.room() else { return nil }
            return .youJoined(
                room: room, history: fields.objects("history").compactMap(message), more: fields.bool("more"))
        case "left":
            return fields.room().map { .youLeft(room: $0) }
        case "topic":
            guard let room = fields.room() else { return nil }
            guard let by = fields.string("by") else { return .topic(room: room, nil) }
            let topic = RoomTopic(text: fields.string("text") ?? "", by: by, time: time)
            return fields.bool("changed") ? .topicChanged(room: room, topic) : .topic(room: room, topic)
        case "history":
            guard let room = fields.room() else { return nil }
            return .history(
                room: room, messages: fields.objects("messages").compactMap(message), more: fields.bool("more"))
        case "search":
            return .searchResults(
                SearchResults(
                    text: fields.string("text") ?? "", room: fields.string("room"), from: fields.string("from"),
                    page: Int(clamping: fields.int("page") ?? 1),
                    found: fields.objects("messages").compactMap { found in
                        guard found.string("type") == "direct" else { return message(found).map(SearchHit.message) }
                        guard case .direct(let direct)? = event("direct", found, time: found.int("time") ?? 0) else {
                            return nil
                        }
                        return .direct(direct, sent: found.bool("sent"))
                    }, more: fields.bool("more")))
        case "forgotten":
            return .forgotten(count: Int(clamping: fields.int("count") ?? 0))
        case "gap":
            guard let room = fields.room(), let after = fields.string("after").flatMap(StreamID.init) else {
                return nil
            }
            return .gap(
                room: room, after: after, lost: fields.bool("lost"),
                oldest: fields.string("oldest").flatMap(StreamID.init))
        case "rooms":
            let rooms = fields.objects("rooms").compactMap { entry in
                entry.room().map {
                    RoomSummary(room: $0, members: Int(entry.int("members") ?? 0), joined: entry.bool("joined"))
                }
            }
            return .rooms(rooms, current: fields.room("current"), total: fields.int("count").map { Int($0) })
        case "who":
            guard let room = fields.room() else { return nil }
            let members = fields.objects("members").compactMap { entry in
                entry.string("name").map {
                    RoomMember(
                        name: $0, presence: entry.presence, idleMillis: entry.int("idle") ?? 0,
                        node: entry.string("node") ?? "", reconnecting: entry.bool("reconnecting"),
                        roles: RoomRoles(word: entry.string("role")))
                }
            }
            return .who(
                room: room, members: members, total: fields.int("count").map { Int($0) }, next: fields.string("next"))
        case "seen":
            guard let name = fields.string("name") else { return nil }
            switch fields.string("state") {
            case "online", "reconnecting":
                let record = SeenRecord.online(
                    name: name, since: fields.int("since") ?? 0, node: fields.string("node") ?? "",
                    reconnecting: fields.string("state") == "reconnecting",
                    details: PersonDetails(realName: fields.string("realname"), away: fields.string("away")))
                return .seen(record, now: time)
            case "offline":
                return .seen(
                    .offline(
                        name: name, connectedAt: fields.int("connected") ?? 0,
                        disconnectedAt: fields.int("disconnected") ?? 0), now: time)
            default: return .seen(.never(name: name), now: time)
            }
        case "recipient-away":
            guard let name = fields.string("name") else { return nil }
            return .recipientAway(name: name, text: fields.string("text") ?? "away")
        case "online":
            return .online(
                fields.objects("users").compactMap { entry in
                    entry.string("name").map { OnlineUser(name: $0, isAway: entry.bool("away")) }
                })
        case "kicked":
            guard let room = fields.room(), let name = fields.string("name"), let by = fields.string("by") else {
                return nil
            }
            return .kicked(room: room, name: name, by: by, reason: fields.string("reason"), time: time)
        case "mode":
            guard let room = fields.room(), let by = fields.string("by") else { return nil }
            // Each change as IRC would write it, then read as a relayed mode line is.
            var modes = ""
            var arguments: [String] = []
            var until: [String] = []
            for change in fields.objects("changes") {
                guard let mode = change.string("mode"), mode.count == 2 else { return nil }
                modes += mode
                if change.bool("mute"), let name = change.string("name") {
                    arguments.append("m:\(name)!*@*")
                } else if let argument = change.string("name") ?? change.string("mask") ?? change.string("key")
                    ?? change.int("limit").map(String.init)
                {
                    arguments.append(argument)
                } else if mode == "-k" {
                    arguments.append("*")
                }
                until.append(String(change.int("until") ?? 0))
            }
            guard
                let changes = ModerationText.changes(
                    modeLine: ([modes] + arguments).joined(separator: " "), until: until.joined(separator: " "))
            else { return nil }
            return .modeChanged(room: room, by: by, changes: changes, time: time)
        case "settings":
            guard let room = fields.room() else { return nil }
            let words = (fields.object["flags"] as? [String]) ?? []
            let flags = Set(RoomFlag.allCases.filter { words.contains($0.word) })
            return .roomSettings(
                room: room,
                RoomSettings(flags: flags, key: fields.string("key"), limit: fields.int("limit").map { Int($0) }))
        case "bans":
            guard let room = fields.room() else { return nil }
            return .bans(
                room: room,
                fields.objects("bans").compactMap { entry in
                    entry.string("mask").map {
                        RoomBan(
                            mask: $0, by: entry.string("by") ?? "", time: entry.int("time") ?? 0,
                            until: entry.int("until"), reason: entry.string("reason"))
                    }
                })
        case "invited":
            guard let room = fields.room(), let by = fields.string("by") else { return nil }
            return .invited(room: room, by: by, time: time)
        case "room-registered":
            guard let room = fields.room(), let by = fields.string("by") else { return nil }
            return .roomRegistered(
                room: room, owner: fields.string("owner"), previous: fields.string("previous"), by: by, time: time)
        case "room-info":
            guard let room = fields.room() else { return nil }
            let access =
                fields.has("access")
                ? fields.objects("access").compactMap { entry in
                    entry.string("name").map { RoomAccess(name: $0, roles: RoomRoles(word: entry.string("role"))) }
                } : nil
            return .roomRegistration(
                RoomRegistration(room: room, owner: fields.string("owner"), since: fields.int("since"), access: access))
        case "announcement":
            guard let from = fields.string("from"), let text = fields.string("text") else { return nil }
            return .announcement(from: from, text: text, time: time, operatorsOnly: fields.bool("operators"))
        case "server-operator": return .serverOperator
        case "server-operator-ended": return .serverOperatorEnded
        case "blocks":
            return .blocks(
                names: (fields.object["names"] as? [String]) ?? [], registeredOnly: fields.string("dms") == "registered"
            )
        case "motd": return .motd(fields.string("text"))
        case "counts":
            func count(_ key: String) -> Int { Int(fields.int(key) ?? 0) }
            return .counts(
                ServerCounts(
                    people: count("people"), nodes: count("nodes"), rooms: count("rooms"), local: count("local"),
                    localPeak: count("local-peak"), peak: count("peak")))
        case "room-closed":
            guard let room = fields.room(), let by = fields.string("by") else { return nil }
            return .roomClosed(room: room, by: by, reason: fields.string("reason"), time: time)
        case "network-bans":
            return .networkBans(
                fields.objects("bans").compactMap { entry in
                    entry.string("mask").map {
                        RoomBan(
                            mask: $0, by: entry.string("by") ?? "", time: entry.int("time") ?? 0,
                            until: entry.int("until"), reason: entry.string("reason"))
                    }
                })
        case "audit":
            return .auditLog(
                fields.objects("entries").compactMap { entry in
                    guard let time = entry.int("time"), let actor = entry.string("actor"),
                        let action = entry.string("action")
                    else { return nil }
                    return AuditEntry(
                        time: time, actor: actor, action: action, target: entry.string("target") ?? "",
                        room: entry.string("room"), detail: entry.string("detail"))
                })
        case "help": return .help
        case "ok": return .ok(fields.string("text") ?? "")
        case "pong": return .pong
        case "ping": return .ping
        case "bye": return .bye(fields.string("reason") ?? "")
        case "error":
            return .error(
                ChatError(ChatError.Code(rawValue: fields.string("code") ?? "error"), fields.string("message") ?? ""))
        default: return nil
        }
    }
}
