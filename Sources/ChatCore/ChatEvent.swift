// One file because these are one vocabulary: every event a client can be told and the values they carry
// (messages and what they gathered, members, rooms, counts), which every renderer and the relay codec switch over.

/// Milliseconds since the Unix epoch, UTC: the one time unit on the wire and in Redis.
public typealias Millis = Int64

/// A chat message as everybody sees it. `id` is its Redis stream id: unique, ordered, the same on every node, and
/// what a client gives back to resume after a reconnect.
public struct ChatMessage: Equatable, Sendable {
    public var id: StreamID
    public var room: RoomName
    public var from: String
    public var text: String
    /// `/me waves`: shown as an action, not as speech.
    public var isAction: Bool
    public var time: Millis
    /// An IRC NOTICE: said, but never to be answered automatically (bots answer PRIVMSGs, never NOTICEs, so two
    /// bots cannot loop). IRC clients get it as a NOTICE; the others show it as a notice.
    public var isNotice: Bool
    /// Sent by a program that says it is one (bot mode): IRC clients get the `bot` tag on it.
    public var isBot: Bool
    /// What happened to it since (edits, reactions) and what it answers: boxed, since most messages have none and
    /// the fan-out copies messages around.
    private var boxedAnnotations: AnnotationBox?

    /// The message it answers, its reactions, when it was last edited (see `MessageActions`).
    public var annotations: MessageAnnotations {
        get { boxedAnnotations?.value ?? MessageAnnotations() }
        set { boxedAnnotations = newValue.isEmpty ? nil : AnnotationBox(newValue) }
    }

    /// The annotations when there are any (no copy made for the many messages without).
    public var annotationsIfAny: MessageAnnotations? { boxedAnnotations?.value }

    public init(
        id: StreamID, room: RoomName, from: String, text: String, isAction: Bool, time: Millis, isNotice: Bool = false,
        isBot: Bool = false
    ) {
        self.id = id
        self.room = room
        self.from = from
        self.text = text
        self.isAction = isAction
        self.time = time
        self.isNotice = isNotice
        self.isBot = isBot
    }
}

/// What a message has gathered since it was said, and what it answers.
public struct MessageAnnotations: Equatable, Sendable {
    /// The message this one answers.
    public var replyTo: MessageReference?
    /// When its author last edited it (its text is the edited one).
    public var edited: Millis?
    public var reactions: [Reaction]

    public init(replyTo: MessageReference? = nil, edited: Millis? = nil, reactions: [Reaction] = []) {
        self.replyTo = replyTo
        self.edited = edited
        self.reactions = reactions
    }

    public var isEmpty: Bool { replyTo == nil && edited == nil && reactions.isEmpty }
}

final class AnnotationBox: Equatable, Sendable {
    let value: MessageAnnotations
    init(_ value: MessageAnnotations) { self.value = value }
    static func == (lhs: AnnotationBox, rhs: AnnotationBox) -> Bool { lhs.value == rhs.value }
}

public struct DirectMessage: Equatable, Sendable {
    public var from: String
    public var to: String
    public var text: String
    public var isAction: Bool
    public var time: Millis
    /// An IRC NOTICE (see `ChatMessage.isNotice`).
    public var isNotice: Bool
    /// From a bot (see `ChatMessage.isBot`).
    public var isBot: Bool

    public init(
        from: String, to: String, text: String, isAction: Bool = false, time: Millis, isNotice: Bool = false,
        isBot: Bool = false
    ) {
        self.from = from
        self.to = to
        self.text = text
        self.isAction = isAction
        self.time = time
        self.isNotice = isNotice
        self.isBot = isBot
    }
}

public enum Presence: Equatable, Sendable {
    case online
    case away(String)

    /// An away text's limit (IRC's AWAYLEN, as InspIRCd has it): `who` lists every member with theirs, so one
    /// member's text must stay a small part of any page of it.
    public static let maximumAwayBytes = 200
}

/// One entry of `/who`.
public struct RoomMember: Equatable, Sendable {
    public var name: String
    public var presence: Presence
    /// Milliseconds since the member last said something (or connected).
    public var idleMillis: Millis
    public var node: String
    /// Their connection dropped a moment ago and their name is held for them while their client reconnects.
    public var reconnecting: Bool
    /// Operator, voice, or neither, in this room.
    public var roles: RoomRoles
    /// What IRC's WHO shows besides: the real name, the account, the server operator's `*`.
    public var realName: String?
    public var registered: Bool
    public var serverOperator: Bool
    /// A program that says it is one (IRC's bot mode, `/bot on`).
    public var bot: Bool

    public init(
        name: String, presence: Presence, idleMillis: Millis, node: String, reconnecting: Bool = false,
        roles: RoomRoles = [], realName: String? = nil, registered: Bool = false, serverOperator: Bool = false,
        bot: Bool = false
    ) {
        self.bot = bot
        self.name = name
        self.presence = presence
        self.idleMillis = idleMillis
        self.node = node
        self.reconnecting = reconnecting
        self.roles = roles
        self.realName = realName
        self.registered = registered
        self.serverOperator = serverOperator
    }
}

/// Which of a room's members a `who` lists. A room can hold thousands, and every listed member costs a lookup in
/// the store and a line in the reply, so one request lists a page (the first, or the one after the cursor a reply
/// gave), and IRC's NAMES and WHO, which have no paging, list everyone up to `maximumListed`, paying for the size
/// in rate-limit tokens.
public enum MemberListing: Equatable, Sendable {
    case page(after: String?)
    case everyone

    public static let firstPage = MemberListing.page(after: nil)
    /// Members a page holds, about (the store pages as Redis's HSCAN does, by a hint). With away texts bounded, a
    /// full page rendered as JSON with every character escaped stays below 100 KiB.
    public static let pageSize = 100
    /// At most this many are listed to IRC (Twitch's IRC lists at most 1000 names too); the count says how many
    /// there are.
    public static let maximumListed = 1000
}

/// One page of a room's members, as the store read them.
public struct MemberPage: Equatable, Sendable {
    public var members: [RoomMember]
    /// Members in the room, listed or not.
    public var total: Int
    /// Where the next page starts, if there is one (opaque: given back in the next `who`).
    public var next: String?

    public init(members: [RoomMember], total: Int, next: String? = nil) {
        self.members = members
        self.total = total
        self.next = next
    }
}

public struct RoomSummary: Equatable, Sendable {
    public var room: RoomName
    public var members: Int
    public var joined: Bool

    public init(room: RoomName, members: Int, joined: Bool) {
        self.room = room
        self.members = members
        self.joined = joined
    }
}

/// A room's topic: one line anybody in the room may set, shown on joining it (IRC's TOPIC).
public struct RoomTopic: Equatable, Sendable {
    /// At most this many bytes (IRC's TOPICLEN, as Ergo and Solanum have it).
    public static let maximumBytes = 390

    /// Empty when the topic was cleared.
    public var text: String
    /// Who set it, as they typed their name.
    public var by: String
    public var time: Millis

    public init(text: String, by: String, time: Millis) {
        self.text = text
        self.by = by
        self.time = time
    }

    /// Whether a node could have stored it: clean text within the limit, set by a name someone can hold. What is
    /// read back from Redis is checked with this, as relayed events are (see `RelayCheck`).
    public var isStorable: Bool {
        guard text.utf8.count <= Self.maximumBytes, Sanitizer.clean(text, keepingIRCFormatting: true) == text,
            let name = try? UserName(validating: by)
        else { return false }
        return name.display == by
    }
}

/// Somebody connected now, as `online` lists them.
public struct OnlineUser: Equatable, Sendable {
    public var name: String
    public var isAway: Bool

    public init(name: String, isAway: Bool = false) {
        self.name = name
        self.isAway = isAway
    }
}

/// What `/seen NAME` knows.
public enum SeenRecord: Equatable, Sendable {
    /// Connected now; `reconnecting` while their name is held for their client after a dropped connection.
    case online(name: String, since: Millis, node: String, reconnecting: Bool = false, details: PersonDetails = .init())
    /// `realName`: what they called themselves then (IRC's WHOWAS shows it).
    case offline(name: String, connectedAt: Millis, disconnectedAt: Millis, realName: String? = nil)
    case never(name: String)
}

/// The cluster's size as LUSERS tells it: everyone connected to any node (a name held for a reconnecting client
/// counts), the nodes alive, the rooms with people, and this node's share; peaks since each count began (this
/// node's since it started, the cluster's since its Redis did).
public struct ServerCounts: Equatable, Sendable {
    public var people: Int
    public var nodes: Int
    public var rooms: Int
    public var local: Int
    public var localPeak: Int
    public var peak: Int

    public init(people: Int, nodes: Int, rooms: Int, local: Int, localPeak: Int, peak: Int) {
        self.people = people
        self.nodes = nodes
        self.rooms = rooms
        self.local = local
        self.localPeak = localPeak
        self.peak = peak
    }
}

/// What IRC's WHOIS and WHO show of a connected person beyond their name, read with their session.
public struct PersonDetails: Equatable, Sendable {
    /// What they call themselves (IRC's real name, from USER); nil when they gave none.
    public var realName: String?
    public var away: String?
    /// Logged in to a registered name (IRC's account).
    public var registered: Bool
    public var serverOperator: Bool
    /// A program that says it is one (IRC's bot mode, `/bot on`).
    public var bot: Bool
    /// Milliseconds since they last said something (or connected).
    public var idleMillis: Millis?

    public init(
        realName: String? = nil, away: String? = nil, registered: Bool = false, serverOperator: Bool = false,
        bot: Bool = false, idleMillis: Millis? = nil
    ) {
        self.realName = realName
        self.away = away
        self.registered = registered
        self.serverOperator = serverOperator
        self.bot = bot
        self.idleMillis = idleMillis
    }
}

/// Why somebody left a room; shown in the leave notice.
public enum LeaveReason: String, Equatable, Sendable {
    /// What one may say on leaving (a PART or QUIT message) is at most this long, as a topic.
    public static let maximumMessageBytes = 390

    case left
    case quit
    /// The client closed its connection without /quit.
    case disconnected
    /// Its node died; a surviving node said so.
    case connectionLost = "connection lost"
    case nameLost = "name lost"
    case slowConsumer = "slow consumer"
    case serverShutdown = "server shutdown"
    /// A client that answers pings stopped answering: its host or network is gone.
    case pingTimeout = "ping timeout"
    /// A server operator disconnected them (a kill, a suspension, a network ban).
    case removed = "removed by an operator"
}

/// Everything a client can be told. Both protocol modes render the same events; see `TextRenderer` and
/// `JSONRenderer`.
public enum ChatEvent: Equatable, Sendable {
    /// Asks a text-mode client for its name.
    case greeting(server: String)
    /// The name is yours. `room` is where plain lines will go once the rooms `hello` asked for are joined (the
    /// lobby unless it listed others; nil when it listed none). `resume` is the token that gets this name back at
    /// once after a dropped connection (in the next `hello`); `time` is when the session began, which a resumed
    /// session keeps.
    case welcome(name: String, room: RoomName?, node: String, time: Millis, resume: String? = nil)
    case message(ChatMessage)
    /// The acknowledgement of one's own message, once stored: the message everyone else gets, with its id.
    case sent(ChatMessage)
    /// Someone reacted to, edited or deleted a message of a room (`MessageActions`); to the actor, the reply to
    /// doing it. Indirect: a change is larger than a message, and every event would otherwise be as large (the
    /// fan-out copies events around for every member).
    indirect case messageChanged(MessageChange)
    /// Where you have read a room up to: after your join (with how many are unread), the reply to marking it, and
    /// when another of your devices moves it. `id` nil: nothing read there yet (IRC's `MARKREAD #room *`).
    case readMarker(ReadMarker)
    case direct(DirectMessage)
    /// `registered`: the name is a registered one (its holder gave its password): IRC's extended-join shows the
    /// account.
    case joined(room: RoomName, name: String, time: Millis, registered: Bool = false)
    /// `message`: what they said on leaving (IRC's PART and QUIT reasons, `/leave ROOM TEXT`, `/quit TEXT`).
    case left(room: RoomName, name: String, reason: LeaveReason, time: Millis, message: String? = nil)
    case presence(room: RoomName, name: String, presence: Presence, time: Millis)
    /// Somebody is typing in a room (JSON clients only: nc users would see a line per pause in typing).
    case typing(room: RoomName, name: String, time: Millis)
    /// The reply to one's own join: the room is now current, with the history that goes with it. `more`: a
    /// resume's page, with newer messages still to fetch (`history` with `after` the last one).
    case youJoined(room: RoomName, history: [ChatMessage], more: Bool = false)
    /// `message`: what one said on leaving, repeated to oneself (IRC clients show their own PART reason).
    case youLeft(room: RoomName, message: String? = nil)
    /// The room's topic as it is (nil: none): after one's own join, and the reply to asking for it.
    case topic(room: RoomName, RoomTopic?)
    /// Somebody set (or, with an empty text, cleared) the room's topic; the setter's own reply too.
    case topicChanged(room: RoomName, RoomTopic)
    /// A page of history; `more`: further messages lie beyond it, in the direction it was read.
    case history(room: RoomName, messages: [ChatMessage], more: Bool = false)
    /// Messages after `after` in `room` are not all here: fetch `history` after it. `lost`: some were trimmed
    /// from the room's history and are gone for good (`oldest` is the oldest still kept).
    case gap(room: RoomName, after: StreamID, lost: Bool, oldest: StreamID?)
    /// Rooms with people in them (sorted by name): the busiest `ProtocolLimits.maximumListedRooms` of `total`.
    case rooms([RoomSummary], current: RoomName?, total: Int? = nil)
    /// A page of the room's members (sorted by name within it); `total`: how many there are in all; `next`: the
    /// cursor of the next page, if any.
    case who(room: RoomName, members: [RoomMember], total: Int? = nil, next: String? = nil)
    case seen(SeenRecord, now: Millis)
    /// A page of what a search found, best first.
    case searchResults(SearchResults)
    /// The reply to `forgetMine`: how many of one's messages left the archive.
    case forgotten(count: Int)
    /// Client-only tags to a room or a person (IRC's TAGMSG); to its sender, the reply to sending it.
    case tagMessage(TagMessage)
    /// Someone in `room` changed their name (IRC's NICK); `room` nil: the reply to the renaming session itself.
    case renamed(room: RoomName?, from: String, to: String, time: Millis)
    /// How many people, nodes and rooms there are (IRC's LUSERS).
    case counts(ServerCounts)
    /// The person a direct message was just sent to is away (IRC's 301): sent before the message's own reply.
    case recipientAway(name: String, text: String)
    /// Which of the names asked about are connected now (IRC's ISON and USERHOST), in the order asked.
    case online([OnlineUser])
    case help
    /// Acknowledges a request that has no other reply (/away, /back, a direct message in text mode has its own).
    case ok(String)
    case pong
    /// The server asks a silent client whether it is still there; a client that answers pings (JSON modes) replies
    /// with a `pong` request, or anything else.
    case ping
    case bye(String)
    case error(ChatError)
    /// Between nodes only, never shown: the session holding `name` was resumed by another connection (with its
    /// resume token), so the one still open somewhere is closed with `name-lost`: `connection` (one of a
    /// registered name's several, by its `SessionMachine.sessionID`), or, when nil, every other; `why` says what
    /// the connection is told.
    case resumedElsewhere(name: String, connection: String?, why: SessionReplacement = .resumed)
    /// Between nodes only, never shown: another connection of the person (a registered name may have several)
    /// joined `room`, on the person's channel; the others join it too.
    case joinedElsewhere(room: RoomName)
    /// Between nodes only, never shown: another connection of the person left `room` (said on the person's channel
    /// too, as a big room's leave notice is not sent).
    case leftElsewhere(room: RoomName)
    /// An operator (`by`) removed `name` from the room; everyone in it is told, `name` too, who is out of it.
    case kicked(room: RoomName, name: String, by: String, reason: String?, time: Millis)
    /// An operator changed the room's roles, settings, bans or mutes (address bans are told to their setter only).
    case modeChanged(room: RoomName, by: String, changes: [RoomModeChange], time: Millis)
    /// The room's settings: the reply to asking for them.
    case roomSettings(room: RoomName, RoomSettings)
    /// The room's bans and mutes (mutes as `m:NAME!*@*`): the reply to asking for them, operators only.
    case bans(room: RoomName, [RoomBan])
    /// `by` invites you to `room` (for an hour: it lets you past invite-only, a key, a limit and bans).
    case invited(room: RoomName, by: String, time: Millis)
    /// The room was registered to `owner`, given from `previous` to `owner`, or (nil `owner`) unregistered, by `by`
    /// (the owner, or a server operator). Everyone in the room is told; IRC sees the owner's `+q` move.
    case roomRegistered(room: RoomName, owner: String?, previous: String?, by: String, time: Millis)
    /// The room's registration: the reply to asking for it.
    case roomRegistration(RoomRegistration)

    // Server operators (docs/moderation.md, "Server operators").
    /// A server operator's word to everyone (`operatorsOnly`: to the operators connected, IRC's WALLOPS).
    case announcement(from: String, text: String, time: Millis, operatorsOnly: Bool = false)
    /// Between nodes, on a person's channel: a server operator (`by`) disconnected `name` (a kill, a suspension,
    /// a network ban). The session is told why and closed; its rooms see it quit.
    case removed(name: String, by: String, reason: String?, time: Millis)
    /// Between nodes only, never shown: the network's bans or message of the day changed. Each node reads them again
    /// and checks its sessions against the bans it did not have (`NetworkRules`), so the word carries nothing more.
    case networkChanged(time: Millis)
    /// The network's bans: the reply to asking for them, server operators only.
    case networkBans([RoomBan])
    /// The newest entries of the audit log, newest first: server operators only.
    case auditLog([AuditEntry])
    /// A server operator (`by`) closed the room: everyone is out of it, and its history is gone.
    case roomClosed(room: RoomName, by: String, reason: String?, time: Millis)
    /// The names you block, as you typed them, and whether guests' direct messages are refused: the reply to asking.
    case blocks(names: [String], registeredOnly: Bool)
    /// You are one of the server's operators: told once, after `welcome`, or when a reload of the deployment's list
    /// adds your name while you are logged in with its password.
    case serverOperator
    /// A reload of the deployment's operator list left your name out: you are no longer one of the server's operators.
    case serverOperatorEnded
    /// The message of the day (nil: none), after `welcome` (`atLogin`) and when asked.
    case motd(String?, atLogin: Bool = false)
}
