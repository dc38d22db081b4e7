/// A message of client-only tags (IRC's TAGMSG): a typing notice, a reaction, a reply marker, to a room or a person,
/// relayed live like typing and never stored. IRC clients with `message-tags` get it as TAGMSG; the other clients
/// see what they understand of it (`+typing` as typing).
public struct TagMessage: Equatable, Sendable {
    /// The room it is for, or nil for a direct one (to `to`).
    public var room: RoomName?
    public var to: String?
    public var from: String
    public var tags: [ClientTag]
    /// Unique in the cluster (the session's id and a count): IRC's `msgid`, which replies and reactions name.
    public var id: String
    public var time: Millis

    public init(room: RoomName?, to: String? = nil, from: String, tags: [ClientTag], id: String, time: Millis) {
        self.room = room
        self.to = to
        self.from = from
        self.tags = tags
        self.id = id
        self.time = time
    }

    /// The client tags relayed (IRCv3's `typing`, `draft/react`, `draft/reply`; `CLIENTTAGDENY` lists the rest as
    /// denied): what people act on across protocols, and nothing a client could fill the others' memory with.
    public static let relayedKeys: Set<String> = ["+typing", "+draft/react", "+draft/unreact", "+draft/reply"]
    /// Each value, at most (a reaction is an emoji or a short word, a reply a msgid).
    public static let maximumValueBytes = 64

    /// The relayed tags of what a client sent, bounded; nil when none is left.
    public static func relayed(_ tags: [(key: String, value: String?)]) -> [ClientTag]? {
        var kept: [ClientTag] = []
        for (key, value) in tags where relayedKeys.contains(key) && !kept.contains(where: { $0.key == key }) {
            let bounded = value.map { Sanitizer.prefix(Sanitizer.clean($0), bytes: maximumValueBytes) }
            kept.append(ClientTag(key: key, value: bounded.flatMap { $0.isEmpty ? nil : $0 }))
        }
        return kept.isEmpty ? nil : kept
    }

    /// The `+typing` state it says, if any (`active`, `paused`, `done`).
    public var typing: String? { tags.first { $0.key == "+typing" }.map { $0.value ?? "active" } }

    /// The tags as IRC writes them (`+typing=active;+draft/react=👍`), for the relay.
    public var encodedTags: String {
        IRCMessage(tags: tags.map { ($0.key, $0.value) }, command: "TAGMSG").serialized().dropFirst()
            .prefix { $0 != " " }.description
    }

    /// Tags written by `encodedTags`, read back.
    public static func decodeTags(_ text: String) -> [ClientTag]? {
        guard let message = try? IRCMessage(parsing: "@\(text) TAGMSG"[...]) else { return nil }
        return relayed(message.tags)
    }
}

/// One client-only tag: its key with the `+`, and its value (nil: present without one).
public struct ClientTag: Equatable, Sendable {
    public var key: String
    public var value: String?

    public init(key: String, value: String?) {
        self.key = key
        self.value = value
    }
}
