/// What people do to a room message once it is said: answer it, react to it, edit it, delete it
/// (docs/protocol.md, "Acting on messages"). Each is kept in the room's history stream as an entry of its own, after
/// the message, so live delivery, a resume and a node's catch-up carry it in order like any message; a history read
/// returns each message as it stands now (its current text, its reactions), so a late joiner needs none of them.

/// The message a reply answers, as clients show it above the reply: its author and the start of its text.
public struct MessageReference: Equatable, Sendable {
    public var id: StreamID
    /// Nil when the message is no longer in the room's history (deleted, or older than it keeps).
    public var from: String?
    /// The start of its text (at most `MessageActions.snippetBytes`), nil with `from`.
    public var snippet: String?

    public init(id: StreamID, from: String? = nil, snippet: String? = nil) {
        self.id = id
        self.from = from
        self.snippet = snippet
    }
}

/// One emoji (or short word) people reacted to a message with, and who, in the order they did.
public struct Reaction: Equatable, Sendable {
    public var emoji: String
    public var names: [String]

    public init(emoji: String, names: [String]) {
        self.emoji = emoji
        self.names = names
    }
}

/// Someone acted on a message of a room: the event everyone in the room gets, and the actor's reply.
public struct MessageChange: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The message's text is now this.
        case edited(String)
        /// The message is gone from the room's history, for everyone.
        case deleted
        case reacted(String)
        case unreacted(String)
    }

    /// The change's own id in the room's stream (a resume continues after it like after a message).
    public var id: StreamID
    public var room: RoomName
    /// The message acted on.
    public var target: StreamID
    /// Who acted (for a delete, the author or one of the room's operators).
    public var by: String
    public var kind: Kind
    public var time: Millis
    /// The message's author and the start of its text (never for a delete): what a text-mode line names.
    public var targetFrom: String?
    public var targetSnippet: String?
    /// Why a message was deleted, when its deleter said (IRC's REDACT carries it); never kept.
    public var reason: String?

    /// The word the relay payload and the store use for its kind (`MessageAction.operation`).
    public var operation: String {
        switch kind {
        case .edited: "edit"
        case .deleted: "delete"
        case .reacted: "react"
        case .unreacted: "unreact"
        }
    }

    /// The new text, or the emoji.
    public var value: String? {
        switch kind {
        case .edited(let text): text
        case .deleted: nil
        case .reacted(let emoji), .unreacted(let emoji): emoji
        }
    }

    public init(
        id: StreamID, room: RoomName, target: StreamID, by: String, kind: Kind, time: Millis,
        targetFrom: String? = nil, targetSnippet: String? = nil
    ) {
        self.id = id
        self.room = room
        self.target = target
        self.by = by
        self.kind = kind
        self.time = time
        self.targetFrom = targetFrom
        self.targetSnippet = targetSnippet
    }
}

/// Which message a request acts on: one named by its id (JSON clients, the page, IRC's tags), or, for people typing
/// commands who see no ids, the newest one of the room's recent messages (theirs, or someone's).
public enum MessageTarget: Equatable, Sendable {
    case id(StreamID)
    /// The newest message of the room (nil name), or the newest from `name`.
    case latest(from: String?)
    /// The newest message the actor sent.
    case ownLatest

    /// How the store's scripts take it: the id, `~` for one's own newest, `~name`, or empty for the newest.
    public var scriptSpec: String {
        switch self {
        case .id(let id): return id.description
        case .ownLatest: return "~"
        case .latest(nil): return ""
        case .latest(let name?): return "~" + name
        }
    }

    /// From what a command gives: an id if it is one, otherwise a name.
    public init(naming text: String) {
        if let id = StreamID(text) { self = .id(id) } else { self = .latest(from: text) }
    }
}

/// Where a person has read a room up to (IRCv3's read-marker), kept for a registered name on every device; `unread`:
/// after a join, how many messages from others came after it (at most `maximumCounted`, `more` past that).
public struct ReadMarker: Equatable, Sendable {
    public var room: RoomName
    /// Nil: nothing read there yet.
    public var id: StreamID?
    public var unread: Int?
    /// `unread` may be short: more than it were counted, or the count stopped in a stretch of changes.
    public var more: Bool
    /// Told after a join (not asked for): a room never read has nothing to tell a program then.
    public var afterJoin = false

    /// Unread messages are counted up to this many ("99+"): a count costs a bounded read of the room's stream.
    public static let maximumCounted = 99
    /// Rooms whose markers a name keeps: past this, the oldest marker goes.
    public static let maximumRooms = 200

    public init(room: RoomName, id: StreamID?, unread: Int? = nil, more: Bool = false) {
        self.room = room
        self.id = id
        self.unread = unread
        self.more = more
    }

    /// The marker told after a join.
    public static func afterJoining(
        _ room: RoomName, id: StreamID?, unread: Int? = nil, more: Bool = false
    )
        -> ReadMarker
    {
        var marker = ReadMarker(room: room, id: id, unread: unread, more: more)
        marker.afterJoin = true
        return marker
    }
}

/// What a request does to the message it names.
public enum MessageAction: Equatable, Sendable {
    case react(String)
    case unreact(String)
    case edit(String)
    /// `reason`: said to IRC clients with the redaction; nothing keeps it.
    case delete(reason: String?)

    /// The word the store's scripts and the relay payload use.
    public var operation: String {
        switch self {
        case .react: "react"
        case .unreact: "unreact"
        case .edit: "edit"
        case .delete: "delete"
        }
    }
}

public enum MessageActions {
    /// A reaction is one emoji or a short word: at most this many bytes, no spaces.
    public static let maximumReactionBytes = 32
    /// Different reactions one message holds (Slack's limit is 50 a message, Discord's 20).
    public static let maximumDistinctReactions = 20
    /// Reactions one person puts on one message.
    public static let maximumReactionsPerPerson = 5
    /// Reactions one message holds in all, so one message's record stays a few KiB however big its room.
    public static let maximumReactions = 100
    /// Times one message may be edited.
    public static let maximumEdits = 20
    /// How much of an answered or reacted-to message travels with the reply or the reaction.
    public static let snippetBytes = 120
    /// How many of a room's newest entries are looked through for "the newest message from NAME".
    public static let latestSearchDepth = 50

    /// A reaction as the client sent it, checked: one line of visible text without spaces, within the limit.
    public static func validatedReaction(_ raw: String) throws(ChatError) -> String {
        guard !raw.isEmpty else { throw ChatError(.badRequest, "a reaction needs an emoji") }
        guard raw.utf8.count <= maximumReactionBytes else {
            throw ChatError(
                .badRequest, "a reaction is one emoji or a short word (at most \(maximumReactionBytes) bytes)")
        }
        guard Sanitizer.clean(raw) == raw,
            !raw.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "," || $0 == ";" })
        else { throw ChatError(.badRequest, "a reaction has no spaces, commas or control characters") }
        return raw
    }

    /// The start of a message's text for a reply or reaction line: at most `snippetBytes`, whole characters.
    public static func snippet(_ text: String) -> String {
        guard text.utf8.count > snippetBytes else { return text }
        var result = ""
        var bytes = 0
        for character in text {
            bytes += character.utf8.count
            guard bytes <= snippetBytes - 3 else { break }
            result.append(character)
        }
        return result + "…"
    }
}
