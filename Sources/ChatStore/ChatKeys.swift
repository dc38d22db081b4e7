import ChatCore
import RedisClient

/// Every Redis key and channel the chat uses, in one place. See docs/architecture.md for what each holds.
///
/// Keys carry a hash tag (the part in braces, which alone decides a key's slot on a Redis Cluster): everything of
/// one room shares `{room}`, everything of one person `{user key}`, of one client address `{address}`, of one node
/// process `{incarnation}`. A script only ever touches one of these groups, so on a cluster it runs on the one
/// shard that owns it (docs/redis-cluster.md). Names cannot contain braces (`UserName.isAllowed`), so a tag ends
/// where the name ends.
public enum ChatKeys {
    public static let prefix = "chat:"

    // One person's keys: tag {user key}.

    /// The name claim: a string holding its owner's token, with a TTL kept alive by the owner's node.
    public static func claim(_ user: String) -> String { tagged("chat:name:", user) }
    /// The live session of a user: name, node, incarnation, since, active, away, token, the resume token's hash
    /// (`rtok`), `acct` (1 when it logged in with the account's password, or resumed such a session), `held`
    /// (when its name is held for a reconnecting client, until when), `real` (IRC's real name), `oper` (1 for a
    /// server operator) and `sid` (the connection's id, `SessionMachine.sessionID`; one of them while a registered
    /// name has several, `connections`). Outlives the claim.
    public static func session(_ user: String) -> String { tagged("chat:session:", user) }
    /// The rooms a user is in.
    public static func sessionRooms(_ user: String) -> String { tagged("chat:session:", user, ":rooms") }
    /// A registered name's connections while it has several (`IdentityScripts.claim`'s attach): connection id ->
    /// `incarnation node resume-token-hash`, one entry each, the session's own included; gone when one is left (then
    /// the session's own fields say it all).
    public static func connections(_ user: String) -> String { tagged("chat:session:", user, ":conns") }
    /// The resume tokens (their hashes) of a registered name's connections that dropped while others stayed: hash
    /// -> until when (milliseconds) it may come back as one more connection (`IdentityScripts.hold`).
    public static func droppedResumes(_ user: String) -> String { tagged("chat:session:", user, ":dropped") }
    /// A registered name: name as registered, password hash (PHC string), created, and `suspended` (until, by,
    /// reason, as lines; until 0: until lifted) while a server operator suspends it. Outlives every session.
    public static func account(_ user: String) -> String { tagged("chat:account:", user) }
    /// Failed logins lately for one name: a counter with a TTL.
    public static func loginFailures(name user: String) -> String { tagged("chat:login-failures:name:", user) }
    /// Direct messages to a user whose name is held while their client reconnects, delivered on resume.
    public static func heldDirects(_ user: String) -> String { tagged("chat:held-directs:", user) }
    /// The direct messages a user was sent that the archive does not have yet (a stream, with `--archive` only):
    /// the archiver reads it as it reads a room's and trims what it archived; it expires when nothing is sent for
    /// a while.
    public static func directLog(_ user: String) -> String { tagged("chat:dm-log:", user) }
    /// How many direct messages to the user were not logged because the log was full (a counter): a gap.
    public static func directLogLost(_ user: String) -> String { tagged("chat:dm-log:", user, ":lost") }
    /// When a user was last connected, for /seen and WHOWAS (name, connected, disconnected, node, real name).
    /// Outlives the session.
    public static func seen(_ user: String) -> String { tagged("chat:seen:", user) }
    /// The rooms one person created in the current minute (a set: making one room at once from many joins counts once).
    public static func roomCreations(user: String) -> String { tagged("chat:new-rooms:user:", user) }
    /// What a person set for themselves: `b:<user key>` -> the name as they typed it, for each person they block;
    /// `dms` = `registered` when they refuse guests' direct messages. A registered name's lives with the account; a
    /// guest's goes when a new guest takes the name (`OperatorScripts.loginState`).
    public static func preferences(_ user: String) -> String { tagged("chat:prefs:", user) }
    /// Where a registered name has read each room up to: room -> message id (`ReadMarker`), at most
    /// `ReadMarker.maximumRooms`; lives with the account, and goes when it is unregistered.
    public static func readMarkers(_ user: String) -> String { tagged("chat:read:", user) }
    /// The rooms a registered name owns (docs/moderation.md, "Registered rooms"), at most
    /// `RoomRegistrationLimits.roomsPerOwner`: counted before a registration, and given up with the account.
    public static func ownedRooms(_ user: String) -> String { tagged("chat:owned-rooms:", user) }
    /// The shard pub/sub channel for direct messages to a user, subscribed by the node holding the user's session.
    public static func userChannel(_ user: String) -> String { tagged("chat:user:", user) }

    // One client address's counters: tag {address}.

    /// What the last sessions from one address group spent of the line rate and had not earned back: the key's
    /// time to live, in milliseconds (its value means nothing).
    public static func rateDebt(address: String) -> String { tagged("chat:rate-debt:", address) }
    /// Failed logins lately from one address group: a counter with a TTL.
    public static func loginFailures(address: String) -> String { tagged("chat:login-failures:address:", address) }
    /// Names registered in the last hour from one address group: a counter with a TTL.
    public static func registrations(_ address: String) -> String { tagged("chat:registrations:", address) }
    /// The rooms created in the current minute from one address (a set, as for a person).
    public static func roomCreations(address: String) -> String { tagged("chat:new-rooms:address:", address) }

    // One room's keys: tag {room}.

    /// A room's members: user key -> the claim token of the session (it starts with the node's incarnation).
    public static func members(_ room: RoomName) -> String { tagged("chat:members:", room.value) }
    /// A room's history, a capped stream whose ids are the message ids.
    public static func history(_ room: RoomName) -> String { tagged("chat:history:", room.value) }
    /// What was done to a room's messages since they were said: message id -> its current state (edited text,
    /// edits, reactions; `MessageScripts`), and `_ndel`/`_maxdel`, what the chat deleted from the stream (so a
    /// resume does not take a delete for lost messages). Lives as the history does.
    public static func changes(_ room: RoomName) -> String { tagged("chat:changes:", room.value) }
    /// The ids of `changes`' records by their time (a sorted set): records of messages trimmed from the stream are
    /// found and dropped by it. Lives as `changes` does.
    public static func changeIndex(_ room: RoomName) -> String { tagged("chat:changed:", room.value) }
    /// A room's topic: `text`, `by`, `time`. Expires `--room-idle-days` after the last join, message or topic
    /// change in the room; a room created again starts without one.
    public static func topic(_ room: RoomName) -> String { tagged("chat:topic:", room.value) }
    /// A room's roles: user key -> their mode letters (`o`, `v`, `ov`). A member's go when they leave, and the
    /// whole key when the room empties, as IRC's channels lose their operators (docs/moderation.md).
    public static func roles(_ room: RoomName) -> String { tagged("chat:roles:", room.value) }
    /// A room's settings and per-person rules: flags `i` `m` `t` `R` `s`, key `k`, limit `l`, and `mute:<user>`
    /// and `invite:<user>` (until, by, reason, as lines); a registered room's `owner` (user, when their account was
    /// made, name, since) and its list, `access:<user>` (letters, when the account was made, name). Gone when the
    /// room empties, but the lobby's and a registered room's, which live a year past the owner's last join.
    public static func rules(_ room: RoomName) -> String { tagged("chat:rules:", room.value) }
    /// A room's bans: mask -> until, nick pattern, host pattern, address bits, by, time, reason (as lines). Gone
    /// when the room empties, but the lobby's.
    public static func bans(_ room: RoomName) -> String { tagged("chat:bans:", room.value) }
    /// A room's audit log: its moderators' actions (kicks, mode changes, operators' invitations), a stream capped
    /// near `ChatStore.roomAuditKept`, gone with the room's idle history. Apart from the server's (`audit`), so that
    /// nobody can push the server operators' entries out by moderating rooms of their own.
    public static func roomAudit(_ room: RoomName) -> String { tagged("chat:audit:", room.value) }
    /// The shard pub/sub channel of a room.
    public static func roomChannel(_ room: RoomName) -> String { tagged(roomChannelPrefix, room.value) }
    public static let roomChannelPrefix = "chat:room:"

    /// The room a room channel carries; nil for any other channel.
    public static func room(ofChannel channel: String) -> RoomName? {
        guard channel.hasPrefix(roomChannelPrefix) else { return nil }
        let tag = channel.utf8.dropFirst(roomChannelPrefix.utf8.count)
        guard tag.first == UInt8(ascii: "{"), tag.last == UInt8(ascii: "}"), tag.count > 2 else { return nil }
        return RoomName(trusted: String(Substring(tag.dropFirst().dropLast())))
    }

    // One node process's keys: tag {incarnation}.

    /// A live node process: exists while the process heartbeats.
    public static func incarnation(_ id: String) -> String { tagged("chat:incarnation:", id) }
    /// Users whose sessions an incarnation holds, so survivors can clean up after it dies.
    public static func incarnationUsers(_ id: String) -> String { tagged("chat:incarnation:", id, ":users") }
    /// Where a node process can be reached, "<node id> <chat host:port> <http host:port>", for the balancer's
    /// discovery; expires within 1.5 s of the node's last announcement.
    public static func endpoint(_ incarnation: String) -> String { tagged("chat:endpoint:", incarnation) }

    // Indexes over the whole chat, each one key (on a cluster, one shard's).

    /// Rooms that have (or recently had) members, for /rooms.
    public static let rooms = "chat:rooms"
    /// Every room with members or unexpired history, by its look (UTS #39 skeleton), scored by its last
    /// activity: what the room cap counts, and what tells a new room that looks like one in use. Shares its tag
    /// with `roomLooks`, which one script keeps in step with it (the tag has a colon, which no room name has).
    public static let roomActivity = "chat:room-activity:{:room-index}"
    /// skeleton -> the room of that look, for the rooms in `roomActivity`.
    public static let roomLooks = "chat:room-looks:{:room-index}"
    /// Everybody /seen remembers, scored by when they connected: the oldest go first past the cap.
    public static let seenIndex = "chat:seen-index"
    /// Every incarnation that may still hold sessions.
    public static let incarnations = "chat:incarnations"
    /// The most people connected at once that LUSERS has counted (a number; kept by `ChatStore.counts`).
    public static let peakPeople = "chat:peak-people"
    /// Incarnations that have announced an endpoint (entries whose endpoint expired are removed by readers).
    public static let endpoints = "chat:endpoints"

    // The archive's (docs/architecture.md, "The archive"), each one key.

    /// Rooms with messages or changes the archive may not have yet (a set): nodes add the rooms they published to,
    /// a tick at a time; the archiver takes them (SPOP).
    public static let archivePending = "chat:archive:pending"
    /// Users with direct messages the archive may not have yet (a sorted set of user keys, scored by when they
    /// were last marked): removed by the archiver only once it archived their log, and only when not marked again
    /// meanwhile, so a mark outlives an archiver killed or a lease lost mid-pass.
    public static let archivePendingDirects = "chat:archive:pending-dms"
    /// Which node archives: its token, with a time to live it renews (`IndexScripts.holdLease`).
    public static let archiverLease = "chat:archive:lease"

    // The server operators' (docs/moderation.md), each one key.

    /// Network bans: mask -> until, by, time, reason (as lines; until 0: until lifted). Every node keeps a copy in
    /// memory, read again when `networkChannel` says it changed; the balancer reads it for addresses.
    public static let networkBans = "chat:network-bans"
    /// The message of the day.
    public static let motd = "chat:motd"
    /// The server's audit log: server operators' and the admin API's actions, a stream capped near
    /// `AuditEntry.maximumKept` entries, each `ts actor action target room detail` (room moderators': `roomAudit`).
    public static let audit = "chat:audit"
    /// The shard pub/sub channel every node listens on: announcements, and word that the network's bans or
    /// message of the day changed.
    public static let networkChannel = "chat:network"

    /// `head{tag}tail` in one allocation of the right size: the keys of a room are built for every message, and
    /// interpolation allocates, then grows, each of them.
    @inline(__always)
    static func tagged(_ head: String, _ tag: String, _ tail: String = "") -> String {
        var key = String()
        key.reserveCapacity(head.utf8.count + tag.utf8.count + tail.utf8.count + 2)
        key += head
        key += "{"
        key += tag
        key += "}"
        key += tail
        return key
    }
}
