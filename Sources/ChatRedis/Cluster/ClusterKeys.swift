import ChatCore

/// Every Redis key and channel the chat uses, in one place. See docs/architecture.md for what each holds.
public enum ClusterKeys {
    public static let prefix = "chat:"

    /// The name claim: a string holding its owner's token, with a TTL kept alive by the owner's node.
    public static func claim(_ user: String) -> String { "chat:name:\(user)" }
    /// The live session of a user: name, node, incarnation, since, active, away, token, the resume token's hash
    /// (`rtok`), and `held` (when its name is held for a reconnecting client, until when). Outlives the claim.
    public static func session(_ user: String) -> String { joined("chat:session:", user) }
    /// The rooms a user is in.
    public static func sessionRooms(_ user: String) -> String { "chat:session:\(user):rooms" }
    /// A registered name: name as registered, password hash (PHC string), created. Outlives every session.
    public static func account(_ user: String) -> String { "chat:account:\(user)" }
    /// Failed logins lately, for one name (`name:<key>`) or one address (`address:<ip>`): a counter with a TTL.
    public static func loginFailures(_ who: String) -> String { "chat:login-failures:\(who)" }
    /// Names registered in the last hour from one address group: a counter with a TTL.
    public static func registrations(_ address: String) -> String { "chat:registrations:\(address)" }
    /// Direct messages to a user whose name is held while their client reconnects, delivered on resume.
    public static func heldDirects(_ user: String) -> String { "chat:held-directs:\(user)" }
    /// When a user was last connected, for /seen. Outlives the session.
    public static func seen(_ user: String) -> String { "chat:seen:\(user)" }
    /// A room's members: user key -> incarnation of the node holding the session.
    public static func members(_ room: RoomName) -> String { joined("chat:members:{", room.value, "}") }
    /// A room's history, a capped stream whose ids are the message ids.
    public static func history(_ room: RoomName) -> String { joined("chat:history:{", room.value, "}") }
    /// A room's topic: `text`, `by`, `time`. Expires `--room-idle-days` after the last join, message or topic
    /// change in the room; a room created again starts without one.
    public static func topic(_ room: RoomName) -> String { joined("chat:topic:{", room.value, "}") }
    /// Rooms that have (or recently had) members, for /rooms.
    public static let rooms = "chat:rooms"
    /// A live node process: exists while the process heartbeats.
    public static func incarnation(_ id: String) -> String { "chat:incarnation:\(id)" }
    /// Rooms created in the current minute by one address or one person (`address:<ip>`, `user:<key>`).
    public static func roomCreations(_ who: String) -> String { "chat:room-creations:\(who)" }
    /// Every room with members or unexpired history, by its look (UTS #39 skeleton), scored by its last
    /// activity: what the room cap counts, and what tells a new room that looks like one in use.
    public static let roomActivity = "chat:room-activity"
    /// skeleton -> the room of that look, for the rooms in `roomActivity`.
    public static let roomLooks = "chat:room-looks"
    /// Everybody /seen remembers, scored by when they connected: the oldest go first past the cap.
    public static let seenIndex = "chat:seen-index"
    /// Users whose sessions an incarnation holds, so survivors can clean up after it dies.
    public static func incarnationUsers(_ id: String) -> String { "chat:incarnation:\(id):users" }
    /// Every incarnation that may still hold sessions.
    public static let incarnations = "chat:incarnations"

    /// Where a node process can be reached, "<node id> <chat host:port> <http host:port>", for the balancer's
    /// discovery; expires within 1.5 s of the node's last announcement.
    public static func endpoint(_ incarnation: String) -> String { "chat:endpoint:\(incarnation)" }
    /// Incarnations that have announced an endpoint (entries whose endpoint expired are removed by readers).
    public static let endpoints = "chat:endpoints"

    /// The pub/sub channel of a room.
    public static func roomChannel(_ room: RoomName) -> String { joined(roomChannelPrefix, room.value) }
    public static let roomChannelPrefix = "chat:room:"
    /// The pub/sub channel for direct messages to a user, subscribed by the node holding the user's session.
    public static func userChannel(_ user: String) -> String { "chat:user:\(user)" }

    /// One allocation of the right size: the keys of a room are built for every message, and interpolation
    /// allocates, then grows, each of them.
    @inline(__always)
    static func joined(_ head: String, _ middle: String, _ tail: String = "") -> String {
        var key = String()
        key.reserveCapacity(head.utf8.count + middle.utf8.count + tail.utf8.count)
        key += head
        key += middle
        key += tail
        return key
    }
}
