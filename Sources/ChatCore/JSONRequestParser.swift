import Foundation

/// The `id` a JSON request carries, kept as the JSON text it arrived as (a string or a number) so the reply repeats
/// it exactly.
public struct RequestID: Equatable, Hashable, Sendable {
    public let json: String
    public init(json: String) { self.json = json }
}

/// Parses one JSON-lines request, such as `{"op":"say","room":"lobby","text":"hi","id":7}`.
public enum JSONRequestParser {
    public static func parse(_ line: String) -> (request: Result<ClientRequest, ChatError>, id: RequestID?) {
        // Nearly every request is a flat object (say, typing, pong...): read by FlatJSON over the bytes. What is not
        // (hello's rooms, online's names) or does not fit goes the general way, which also finds the id of a
        // malformed request.
        if let fields = FlatJSON.parse(line.utf8), let wire = WireRequest(flat: fields) {
            return (Result { () throws(ChatError) in try wire.request() }, wire.id?.requestID)
        }
        let data = Data(line.utf8)
        let decoder = JSONDecoder()
        guard let wire = try? decoder.decode(WireRequest.self, from: data) else {
            // Still answer with the id when only another field was malformed.
            let id = (try? decoder.decode(OnlyID.self, from: data))?.id?.requestID
            return (
                .failure(
                    ChatError(.badRequest, "each line must be one JSON object with fields of the documented types")), id
            )
        }
        return (Result { () throws(ChatError) in try wire.request() }, wire.id?.requestID)
    }

    private struct OnlyID: Decodable { var id: WireID? }

    private enum WireID: Decodable {
        case text(String)
        case integer(Int64)
        case number(Double)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else if let integer = try? container.decode(Int64.self) {
                self = .integer(integer)
            } else {
                self = .number(try container.decode(Double.self))
            }
        }

        var requestID: RequestID {
            switch self {
            case .text(let text): RequestID(json: JSONWriter.quoted(text))
            case .integer(let integer): RequestID(json: String(integer))
            case .number(let number): RequestID(json: number.isFinite ? "\(number)" : "null")
            }
        }
    }

    private struct WireRoom: Decodable {
        var room: String
        var since: String?
    }

    /// A message id as the client gave it.
    static func messageID(_ raw: String, _ field: String) throws(ChatError) -> StreamID {
        guard let id = StreamID(raw) else {
            throw ChatError(.badRequest, "\"\(field)\" is a message id, such as \"1700000000000-0\"")
        }
        return id
    }

    private struct WireRequest: Decodable {
        var op: String?
        var id: WireID?
        var name: String?
        var room: String?
        var text: String?
        var to: String?
        var since: String?
        var rooms: [WireRoom]?
        var before: String?
        var after: String?
        var limit: Int?
        var password: String?
        var resume: String?
        var old: String?
        var new: String?
        var names: [String]?
        /// `msg` with `"action": true`: a `/me` in private.
        var action: Bool?
        /// `forget`: must be true (it cannot be undone).
        var confirm: Bool?
        /// `join`: the room's key.
        var key: String?
        /// `mode`: IRC's mode letters (`+ov`) and their arguments.
        var modes: String?
        var args: [String]?
        /// `ban`, `mute`: how long (`10m`, `2h`, `7d`).
        var duration: String?
        /// `say`, `me`: the id of the message answered.
        var reply: String?
        /// `react`, `unreact`, `edit`, `delete`: the message acted on.
        var msgid: String?
        var emoji: String?
        /// Instead of `msgid`: the newest message from this name.
        var of: String?
        /// `say` instead of `reply`: the newest message from this name (empty: the newest message).
        var replyTo: String?
        /// `search`: only messages from this name, and which page of results.
        var from: String?
        var page: Int?

        enum CodingKeys: String, CodingKey {
            case op, id, name, room, text, to, since, rooms, before, after, limit, password, resume, old, new, names
            case action, confirm, key, modes, args, duration, reply, msgid, emoji, of, from, page
            case replyTo = "reply-to"
        }

        /// The request from a flat object, or nil when a field is nested or of another type than JSONDecoder
        /// would take (the general path then decides).
        init?(flat fields: [String: FlatJSON.Value]) {
            var failed = false
            func string(_ key: String) -> String? {
                switch fields[key] {
                case nil, .null: return nil
                case .string(let value): return value
                default:
                    failed = true
                    return nil
                }
            }
            op = string("op")
            name = string("name")
            room = string("room")
            text = string("text")
            to = string("to")
            since = string("since")
            before = string("before")
            after = string("after")
            password = string("password")
            resume = string("resume")
            old = string("old")
            new = string("new")
            key = string("key")
            modes = string("modes")
            duration = string("duration")
            reply = string("reply")
            msgid = string("msgid")
            emoji = string("emoji")
            of = string("of")
            replyTo = string("reply-to")
            from = string("from")
            switch fields["id"] {
            case nil, .null: id = nil
            case .string(let value): id = .text(value)
            case .number(_, let integer?): id = .integer(integer)
            case .number(let value, nil): id = .number(value)
            default: return nil
            }
            switch fields["limit"] {
            case nil, .null: limit = nil
            case .number(_, let integer?) where Int64(Int.min) <= integer && integer <= Int64(Int.max):
                limit = Int(integer)
            default: return nil
            }
            switch fields["page"] {
            case nil, .null: page = nil
            case .number(_, let integer?) where Int64(Int.min) <= integer && integer <= Int64(Int.max):
                page = Int(integer)
            default: return nil
            }
            switch fields["action"] {
            case nil, .null: action = nil
            case .bool(let value): action = value
            default: return nil
            }
            switch fields["confirm"] {
            case nil, .null: confirm = nil
            case .bool(let value): confirm = value
            default: return nil
            }
            guard !failed, fields["rooms"] == nil, fields["names"] == nil, fields["args"] == nil else { return nil }
            rooms = nil
            names = nil
            args = nil
        }

        func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

        func parsedDuration() throws(ChatError) -> Millis? {
            try duration.map { text throws(ChatError) in
                guard let millis = ModerationDuration.parse(text) else {
                    throw ChatError(
                        .badRequest, "\"duration\" is like \"90s\", \"10m\", \"2h\" or \"7d\" (at most a year)")
                }
                return millis
            }
        }

        func request() throws(ChatError) -> ClientRequest {
            guard let op else { throw ChatError(.badRequest, "a request needs an \"op\"") }
            func required(_ value: String?, _ key: String) throws(ChatError) -> String {
                guard let value, !value.isEmpty else { throw ChatError(.badRequest, "\"\(op)\" needs \"\(key)\"") }
                return value
            }
            /// The message `msgid` names, or the newest from `of`, or `fallback`.
            func messageTarget(otherwise fallback: MessageTarget) throws(ChatError) -> MessageTarget {
                if let msgid { return .id(try JSONRequestParser.messageID(msgid, "msgid")) }
                if let of, !of.isEmpty { return .latest(from: of) }
                return fallback
            }
            switch op {
            case "hello":
                // A malformed resume token is not ours: it is ignored, and the name is claimed as without one.
                let login = Login(
                    password: try password.map { text throws(ChatError) in try Password(given: text) },
                    resume: resume.flatMap { Login.isWellFormedResumeToken($0) ? $0 : nil })
                return .hello(
                    name: try required(name, "name"), rooms: rooms?.map { RoomResume(room: $0.room, since: $0.since) },
                    login: login)
            case "register": return .register(try Password(new: try required(password, "password")))
            case "password":
                return .changePassword(
                    old: try Password(given: try required(old, "old")), new: try Password(new: try required(new, "new"))
                )
            case "unregister": return .unregister(try Password(given: try required(password, "password")))
            case "say", "me":
                let said = try required(text, "text")
                let isAction = op == "me"
                if let reply {
                    return .reply(
                        room: room, to: .id(try JSONRequestParser.messageID(reply, "reply")), text: said,
                        isAction: isAction)
                }
                if let replyTo {
                    let target: MessageTarget = replyTo.isEmpty ? .latest(from: nil) : .latest(from: replyTo)
                    return .reply(room: room, to: target, text: said, isAction: isAction)
                }
                return .say(room: room, text: said, isAction: isAction)
            case "react", "unreact":
                let emoji = try required(emoji, "emoji")
                let target = try messageTarget(otherwise: .latest(from: nil))
                return .actOn(room: room, target: target, op == "react" ? .react(emoji) : .unreact(emoji))
            case "read": return .markRead(room: room, id: msgid)
            case "edit":
                return .actOn(
                    room: room, target: try messageTarget(otherwise: .ownLatest), .edit(try required(text, "text")))
            case "delete":
                let reason = text.flatMap { $0.isEmpty ? nil : $0 }
                return .actOn(room: room, target: try messageTarget(otherwise: .ownLatest), .delete(reason: reason))
            case "join": return .join(room: try required(room, "room"), since: since, key: key)
            case "leave": return .leave(room: room, message: text.flatMap { $0.isEmpty ? nil : $0 })
            case "rooms": return .rooms
            case "who": return .who(room: room, listing: .page(after: after))
            case "msg":
                return .direct(to: try required(to, "to"), text: try required(text, "text"), isAction: action ?? false)
            case "notice":
                // To a room (`room`) or a person (`to`).
                let target: String
                if let room {
                    target = room.hasPrefix("#") ? room : "#" + room
                } else {
                    target = try required(to, "to")
                }
                return .notice(to: target, text: try required(text, "text"))
            case "away": return .away(text)
            case "back": return .back
            case "topic": return .topic(room: room, text: text)
            case "history":
                if let limit, limit <= 0 { throw ChatError(.badRequest, "\"limit\" must be positive") }
                if before != nil, after != nil {
                    throw ChatError(.badRequest, "\"history\" takes \"before\" or \"after\", not both")
                }
                return .history(room: room, limit: limit, before: before, after: after)
            case "seen": return .seen(name: try required(name, "name"))
            case "search":
                if before != nil, after != nil {
                    throw ChatError(.badRequest, "\"search\" takes \"before\" or \"after\", not both")
                }
                return .search(
                    SearchRequest(
                        text: try required(text, "text"), room: nonEmpty(room), from: nonEmpty(from),
                        before: nonEmpty(before), after: nonEmpty(after), page: page ?? 1))
            case "forget":
                guard confirm == true else {
                    throw ChatError(
                        .badRequest, "\"forget\" removes every message you sent: it needs \"confirm\": true")
                }
                return .forgetMine
            case "online":
                guard let names, !names.isEmpty else { throw ChatError(.badRequest, "\"online\" needs \"names\"") }
                return .online(names: names)
            case "typing": return .typing(room: room)
            case "help": return .help
            case "quit": return .quit(message: text.flatMap { $0.isEmpty ? nil : $0 })
            case "ping": return .ping
            case "pong": return .pong
            case "mode":
                guard let modes, !modes.isEmpty else { return .mode(room: room, .show) }
                return .mode(room: room, try RoomModeRequest.parse(modes, arguments: args ?? []))
            case "kick": return .kick(room: room, name: try required(name, "name"), reason: nonEmpty(text))
            case "ban", "mute":
                let duration = try parsedDuration()
                let target = try required(name, "name")
                return op == "ban"
                    ? .ban(room: room, target: target, duration: duration, reason: nonEmpty(text))
                    : .mute(room: room, name: target, duration: duration, reason: nonEmpty(text))
            case "unban":
                return .mode(room: room, .change([.ban(try BanMask(parsing: try required(name, "name")), on: false)]))
            case "unmute":
                let name = try BanMask.mutedName(try required(name, "name"))
                return .mode(room: room, .change([.mute(name: name, on: false)]))
            case "bans": return .mode(room: room, .bans)
            case "invite": return .invite(room: room, name: try required(name, "name"))
            // Registered rooms (docs/moderation.md): ChanServ's REGISTER, UNREGISTER, TRANSFER and INFO.
            case "room-register": return .room(room: room, .register)
            case "room-unregister": return .room(room: room, .unregister)
            case "room-transfer": return .room(room: room, .transfer(to: try required(name, "name")))
            case "room-info": return .room(room: room, .info)
            case "block": return .block(name: try required(name, "name"))
            case "unblock": return .unblock(name: try required(name, "name"))
            case "blocks": return .blocks
            case "dms":
                switch try required(text, "text") {
                case "registered": return .directMessages(registeredOnly: true)
                case "everyone": return .directMessages(registeredOnly: false)
                default: throw ChatError(.badRequest, "\"dms\" takes \"text\": \"registered\" or \"everyone\"")
                }
            case "counts": return .counts
            case "nick": return .nick(name: try required(name, "name"))
            case "tagmsg":
                // `text` holds the client tags as IRC writes them: `+typing=active;+draft/react=👍`.
                guard let tags = TagMessage.decodeTags(try required(text, "text")) else {
                    throw ChatError(
                        .badRequest, "\"tagmsg\" relays +typing, +draft/react and +draft/reply, written as IRC tags")
                }
                return .tagMessage(to: try required(to, "to"), tags: tags)
            case "bot":
                switch text ?? "on" {
                case "on": return .bot(on: true)
                case "off": return .bot(on: false)
                default: throw ChatError(.badRequest, "\"bot\" takes \"text\": \"on\" or \"off\"")
                }
            case "motd":
                // With `text`, a server operator sets it ("" clears it).
                guard let text else { return .motd }
                return .operate(.setMOTD(text: text))
            // Server operators (docs/moderation.md).
            case "kill": return .operate(.kill(name: try required(name, "name"), reason: nonEmpty(text)))
            case "suspend":
                return .operate(
                    .suspend(name: try required(name, "name"), duration: try parsedDuration(), reason: nonEmpty(text)))
            case "unsuspend": return .operate(.unsuspend(name: try required(name, "name")))
            case "network-ban":
                return .operate(
                    .ban(mask: try required(name, "name"), duration: try parsedDuration(), reason: nonEmpty(text)))
            case "network-unban": return .operate(.unban(mask: try required(name, "name")))
            case "network-bans": return .operate(.bans)
            case "announce": return .operate(.announce(text: try required(text, "text")))
            case "wallops": return .operate(.wallops(text: try required(text, "text")))
            case "close-room": return .operate(.closeRoom(room: try required(room, "room"), reason: nonEmpty(text)))
            case "audit":
                if let limit, limit <= 0 { throw ChatError(.badRequest, "\"limit\" must be positive") }
                return .operate(.audit(count: limit, room: room))
            case "command":
                // A line as a person typed it, parsed as text mode parses it, so no client needs a parser of its
                // own: `room` is the client's current room, where the command applies unless it names another.
                return try TextCommandParser.parse(try required(text, "text")).defaultingRoom(to: room)
            default: throw ChatError(.unknownCommand, "unknown op \"\(op)\"")
            }
        }
    }
}
