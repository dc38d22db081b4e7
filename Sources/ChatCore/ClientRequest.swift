/// What a client asks for, whichever mode it speaks. Text commands and JSON requests both parse into this.
public enum ClientRequest: Equatable, Sendable {
    /// Picks a name (the first line in text mode; `{"op":"hello"}` in JSON mode). `rooms` lists the rooms to be in
    /// (a reconnecting client's, each with the last message id it saw there); nil means the lobby. `login` carries
    /// a registered name's password and the resume token of the client's previous connection.
    case hello(name: String, rooms: [RoomResume]? = nil, login: Login = Login())
    /// Text mode's answer to `password-required`: the line after the name, taken whole as the password.
    case password(Password)
    /// Registers the name the session holds: from now on it takes this password, on every node.
    case register(Password)
    case changePassword(old: Password, new: Password)
    /// Makes a registered name a guest name again.
    case unregister(Password)
    /// Checks a registered name's password before naming (IRC's SASL PLAIN): answered `ok` or `bad-password`, and
    /// the `hello` that follows with the same name and password claims it without checking it again.
    case authenticate(name: String, password: Password)
    /// A message to a room; nil means the current room.
    case say(room: String?, text: String, isAction: Bool)
    /// A message to a room that answers one of its messages (IRC's `+draft/reply`).
    case reply(room: String?, to: MessageTarget, text: String, isAction: Bool = false)
    /// Marks a room read up to the message `id` (IRC's MARKREAD); nil `id`: asks where the marker is.
    case markRead(room: String?, id: String?)
    /// Reacts to, edits or deletes a message of a room (docs/protocol.md, "Acting on messages").
    case actOn(room: String?, target: MessageTarget, MessageAction)
    /// `key`: the room's key, when it has one (IRC's `+k`).
    case join(room: String, since: String?, key: String? = nil)
    /// `message`: what to say on leaving (IRC's PART reason), shown in the leave notice.
    case leave(room: String?, message: String? = nil)
    case rooms
    case who(room: String?, listing: MemberListing = .firstPage)
    /// `isAction`: a `/me` in private (IRC's CTCP ACTION to a nick).
    case direct(to: String, text: String, isAction: Bool = false)
    /// A notice (IRC's NOTICE) to a room (`#room`) or a person: said like a message, marked so that no program
    /// answers it automatically.
    case notice(to: String, text: String)
    case away(String?)
    case back
    /// The room's topic (nil room: the current one): shows it when `text` is nil, sets it otherwise, clears it
    /// when `text` is empty. Any member of the room may set it.
    case topic(room: String?, text: String?)
    /// The last `limit` messages of a room, or those before `before`, or those after `after` (a resume's next
    /// page), oldest first. The reply is a page: at most `historyPageMessages` and `historyPageBytes`.
    case history(room: String?, limit: Int?, before: String?, after: String? = nil)
    case seen(name: String)
    /// Searches the archive (`--archive`) in the rooms one is in; the reply is a page of `SearchResults`.
    case search(SearchRequest)
    /// Removes from the archive every message one sent (in rooms, and direct), up to now; the reply is
    /// `forgotten`. Messages the rooms' recent history (Redis) still holds stay there until it trims them.
    case forgetMine
    /// Which of these names are connected now, anywhere (at most `maximumOnlineNames`; IRC's ISON).
    case online(names: [String])
    /// "I am typing in this room" (nil: the current one). Relayed to the room's JSON clients as a `typing` event,
    /// at most once per `typingInterval` per room; no reply unless it fails.
    case typing(room: String?)
    case help
    /// `message`: what to say on leaving (IRC's QUIT reason), shown in every room's leave notice.
    case quit(message: String? = nil)
    case ping
    /// The answer to the server's `ping`: proof of life, nothing more (no reply).
    case pong

    // Room moderation (docs/moderation.md); nil room: the current one.
    /// The room's settings or ban list, or an operator's changes to its roles, settings, bans and mutes, in IRC's
    /// mode syntax (`/mode +o bob`, `/op bob`, `/unban bob`...).
    case mode(room: String?, RoomModeRequest)
    /// An operator removes `name` from the room, saying why; they may come back unless banned.
    case kick(room: String?, name: String, reason: String? = nil)
    /// An operator bans `target` (a name, removed from the room too if in it, or a mask) for `duration`
    /// milliseconds (nil: until unbanned).
    case ban(room: String?, target: String, duration: Millis? = nil, reason: String? = nil)
    /// An operator mutes `name` for `duration` milliseconds (nil: until unmuted): they stay, and cannot speak.
    case mute(room: String?, name: String, duration: Millis? = nil, reason: String? = nil)
    /// Invites `name` to the room (only an operator may, when it is invite-only).
    case invite(room: String?, name: String)
    /// Registers the room (its operator, logged in to a registered name, becomes its owner), gives it up or away,
    /// or shows its registration (docs/moderation.md, "Registered rooms").
    case room(room: String?, RoomRegistrationRequest)

    /// A server operator's request (docs/moderation.md, "Server operators"): refused to everyone else.
    case operate(OperatorRequest)
    /// The message of the day.
    case motd
    /// How many people, nodes and rooms the cluster has (IRC's LUSERS).
    case counts
    /// Client-only tags to a room (`#room`) or a person (IRC's TAGMSG: typing, a reaction, a reply marker).
    case tagMessage(to: String, tags: [ClientTag])
    /// Says the session is a program, or no longer (IRC's bot mode, `MODE nick +B`): WHO and WHOIS show it.
    case bot(on: Bool)
    /// Changes the session's name (IRC's NICK): claimed cluster-wide, the old one given up, every room told.
    case nick(name: String)

    // People protect themselves (docs/moderation.md, "Blocking people").
    /// `name`'s direct messages and room messages no longer reach you, on any node or client.
    case block(name: String)
    case unblock(name: String)
    /// Who you block, and whether you take direct messages from guests.
    case blocks
    /// `registeredOnly`: direct messages from guests are refused (IRC's user mode `+R`).
    case directMessages(registeredOnly: Bool)
}

/// A room `hello` asks to be in, as the client sent it (validated by the session).
public struct RoomResume: Equatable, Sendable {
    public var room: String
    /// The last message id the client saw in the room: what came after it is replayed.
    public var since: String?

    public init(room: String, since: String? = nil) {
        self.room = room
        self.since = since
    }
}

/// Limits that keep one client from hurting the others. Every one is a node option.
public struct ProtocolLimits: Sendable {
    /// A longer line is refused with `line-too-long` and discarded up to its newline.
    public var maximumLineBytes: Int = 4096
    /// A longer message text is refused with `message-too-long`.
    public var maximumMessageBytes: Int = 2048
    public var historyOnJoin: Int = 20
    public var maximumHistory: Int = 200
    /// A page of history (a resume's, or one `history` reply) holds at most this many messages...
    public var historyPageMessages: Int = 200
    /// ...and at most about this many bytes of message text, so that a page, even rendered as JSON with every
    /// character escaped, stays well inside the outbound limit (1 MiB by default) that drops slow readers.
    public var historyPageBytes: Int = 128 * 1024
    public var maximumRoomsPerSession: Int = 50
    /// `/rooms` (IRC's LIST) lists the busiest this many, so its reply stays far inside the outbound limit however
    /// many rooms a deployment allows (`--max-rooms`).
    public var maximumListedRooms: Int = 2000

    public init() {}
}

extension ClientRequest {
    /// Names one `online` request may ask about: what an IRC line holds, so one request costs a bounded pipeline.
    public static let maximumOnlineNames = 32
    /// People one name may block (IRC's `SILENCE=`).
    public static let maximumBlocks = 500

    /// The request with `room` filled in where it names none (say, me, leave, who, history, typing, topic).
    public func defaultingRoom(to room: String?) -> ClientRequest {
        guard let room else { return self }
        switch self {
        case .say(nil, let text, let isAction): return .say(room: room, text: text, isAction: isAction)
        case .reply(nil, let target, let text, let isAction):
            return .reply(room: room, to: target, text: text, isAction: isAction)
        case .actOn(nil, let target, let action): return .actOn(room: room, target: target, action)
        case .markRead(nil, let id): return .markRead(room: room, id: id)
        case .leave(nil, let message): return .leave(room: room, message: message)
        case .who(nil, let listing): return .who(room: room, listing: listing)
        case .history(nil, let limit, let before, let after):
            return .history(room: room, limit: limit, before: before, after: after)
        case .typing(nil): return .typing(room: room)
        case .topic(nil, let text): return .topic(room: room, text: text)
        case .mode(nil, let request): return .mode(room: room, request)
        case .kick(nil, let name, let reason): return .kick(room: room, name: name, reason: reason)
        case .ban(nil, let target, let duration, let reason):
            return .ban(room: room, target: target, duration: duration, reason: reason)
        case .mute(nil, let name, let duration, let reason):
            return .mute(room: room, name: name, duration: duration, reason: reason)
        case .invite(nil, let name): return .invite(room: room, name: name)
        case .room(nil, let request): return .room(room: room, request)
        default: return self
        }
    }
}
