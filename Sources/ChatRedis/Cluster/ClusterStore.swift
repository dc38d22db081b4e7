import ChatCore
import NIOCore

// One file because these operations share the store's settings (TTLs, bounds, incarnation) and its reply
// decoding; names and identity are in ClusterStore+Identity.swift.

/// What the node keeps about one of its sessions, as written to Redis on claim and on every keep-alive.
public struct SessionRecord: Sendable {
    public var user: UserName
    public var token: String
    public var since: Millis
    public var lastActive: Millis
    public var away: String?
    public var rooms: [RoomName]
    public var address: String

    public init(
        user: UserName, token: String, since: Millis, lastActive: Millis, away: String?, rooms: [RoomName],
        address: String
    ) {
        self.user = user
        self.token = token
        self.since = since
        self.lastActive = lastActive
        self.away = away
        self.rooms = rooms
        self.address = address
    }
}

/// What keeps Redis's memory bounded whatever clients do: rooms and their history go after being idle, rooms are
/// created at a limited rate and up to a cap, and /seen keeps a bounded number of people.
public struct StoreBounds: Sendable {
    /// A room's history (and the room, once empty) goes this long after its last message or join.
    public var roomIdleSeconds = 7 * 24 * 3600
    /// Rooms that may exist at once (with members, or with history not yet expired).
    public var maxRooms = 10_000
    /// New rooms one client address, and one person, may create per minute.
    public var roomCreationsPerMinute = 10
    /// People /seen remembers; past it, those seen longest ago are forgotten first.
    public var maxSeenRecords = 100_000
    public var seenSeconds = 30 * 24 * 3600
    /// Failed logins allowed per name, and per client address, in `loginFailureWindowSeconds`; past them, logins
    /// for that name (or from that address) are refused until the window ends, even with the right password.
    public var loginFailuresPerName = 10
    public var loginFailuresPerAddress = 30
    public var loginFailureWindowSeconds = 300
    /// How long a dropped connection's name is held for its resume token (0: released at once).
    public var resumeGraceSeconds = 15
    /// Direct messages kept for a held name.
    public var heldDirectsAtMost = 100
    /// An account nobody has logged in to (or changed) for this long is deleted, so registered names cannot be
    /// squatted forever nor pile up without bound.
    public var accountLifetimeSeconds = 365 * 24 * 3600
    /// Names one client address (an IPv6 /64) may register per hour.
    public var registrationsPerHour = 5

    public init() {}
}

/// A page of a room's history read after an id.
public struct StoredPage: Sendable {
    public var envelopes: [RelayEnvelope]
    /// The newest id deleted by hand (XDEL); nil when none was.
    public var maxDeleted: StreamID?
    /// When trimming removed messages: the oldest kept, everything before it is gone. Nil when none was trimmed.
    public var keptFrom: StreamID?

    public var messages: [ChatMessage] {
        envelopes.compactMap { if case .message(let message) = $0.event { message } else { nil } }
    }
}

/// The chat's shared state in Redis, as typed operations. Every future completes on the client's event loop;
/// callers hop back to their own.
public struct ClusterStore: Sendable {
    /// Rooms with more people than this announce no joins, leaves or away changes (see `ClusterScripts`).
    public static let quietRoomSize = ClusterScripts.quietRoomSize

    public let redis: RedisClient
    /// This node process; a restarted node is a new incarnation, so survivors can tell the dead one's sessions.
    public let incarnation: String
    public let nodeID: String
    /// How long a node's heartbeat lasts: when it lapses, survivors reap the node's names and rooms. This, not the
    /// claims' own expiry, is how fast a dead node's users are gone.
    public let claimTTLSeconds: Int
    /// The claims' and session records' own expiry: a safety net for when no node is left to reap, refreshed per
    /// session only every third of it, so idle sessions cost Redis almost nothing (their node's heartbeat keeps
    /// them alive).
    public let nameTTLSeconds: Int
    public let historyLength: Int
    /// What keeps Redis's memory bounded (see `StoreBounds`).
    public var bounds = StoreBounds()
    /// Sessions outlive their claim and their node's heartbeat, so that when a node dies a survivor still finds
    /// whom it held and in which rooms, and can announce that they left.
    public var sessionTTLSeconds: Int { nameTTLSeconds * 2 + 10 }

    public static let scripts = ClusterScripts.all

    public init(
        redis: RedisClient, incarnation: String, nodeID: String, claimTTLSeconds: Int, historyLength: Int,
        nameTTLSeconds: Int = 3600
    ) {
        self.nameTTLSeconds = max(nameTTLSeconds, claimTTLSeconds)
        self.redis = redis
        self.incarnation = incarnation
        self.nodeID = nodeID
        self.claimTTLSeconds = claimTTLSeconds
        self.historyLength = historyLength
    }

    /// A fresh token for a claim. It starts with the incarnation so the reaper can tell which claims a dead node held.
    public func makeToken() -> String {
        "\(incarnation):\(UInt64.random(in: 0...UInt64.max))"
    }

    // MARK: Names and sessions

    /// True while the session is ours. With `restore`, a claim that Redis lost is taken again.
    public func keepAlive(_ record: SessionRecord, restore: Bool) -> EventLoopFuture<Bool> {
        let key = record.user.key
        return redis.run(
            ClusterScripts.keepAlive,
            keys: [
                ClusterKeys.claim(key), ClusterKeys.session(key), ClusterKeys.sessionRooms(key),
                ClusterKeys.incarnationUsers(incarnation),
            ],
            arguments: [
                record.token, record.user.display, incarnation, nodeID, String(record.since),
                String(record.lastActive), record.away ?? "", String(nameTTLSeconds), restore ? "1" : "0",
                record.address, String(sessionTTLSeconds),
            ] + record.rooms.map(\.value)
        ).map { $0.int == 1 }
    }

    /// `message`: what the user said on quitting, in every room's leave notice.
    public func release(
        _ user: UserName, token: String, now: Millis, reason: LeaveReason, origin: String, message: String? = nil
    ) -> EventLoopFuture<Void> {
        redis.run(
            ClusterScripts.release,
            keys: [
                ClusterKeys.claim(user.key), ClusterKeys.session(user.key), ClusterKeys.sessionRooms(user.key),
                ClusterKeys.incarnationUsers(incarnation), ClusterKeys.seen(user.key),
            ],
            arguments: [token, user.display, incarnation, String(now), reason.rawValue, origin, message ?? ""]
        ).map { _ in }
    }

    // MARK: Rooms

    /// Joins, creating the room if it does not exist, within the creation rate and the room cap (`ChatError`s
    /// `rate-limited` and `store-full` otherwise). `address` is the client's IP, whose creations are counted.
    public func join(_ room: RoomName, user: UserName, now: Millis, origin: String, address: String = "")
        -> EventLoopFuture<Void>
    {
        let notice = RelayCodec.encode(
            RelayEnvelope(event: .joined(room: room, name: user.display, time: now), origin: origin))
        // The same notice for a registered name (the script knows which it is): IRC's extended-join shows it.
        let registeredNotice = RelayCodec.encode(
            RelayEnvelope(event: .joined(room: room, name: user.display, time: now, registered: true), origin: origin))
        return redis.run(
            ClusterScripts.join,
            keys: [
                ClusterKeys.members(room), ClusterKeys.sessionRooms(user.key), ClusterKeys.history(room),
                ClusterKeys.roomCreations("address:" + address), ClusterKeys.roomCreations("user:" + user.key),
                ClusterKeys.topic(room), ClusterKeys.account(user.key),
            ],
            arguments: [
                user.key, incarnation, room.value, String(sessionTTLSeconds), notice, String(bounds.maxRooms),
                String(bounds.roomCreationsPerMinute), String(now), String(bounds.roomIdleSeconds), room.look,
                registeredNotice,
            ]
        ).flatMapErrorThrowing { error in
            throw ClusterScripts.chatError(error) ?? error
        }.map { _ in }
    }

    public func leave(
        _ room: RoomName, user: UserName, reason: LeaveReason, now: Millis, origin: String, message: String? = nil
    ) -> EventLoopFuture<Void> {
        let notice = RelayCodec.encode(
            RelayEnvelope(
                event: .left(room: room, name: user.display, reason: reason, time: now, message: message), origin: origin))
        return redis.run(
            ClusterScripts.leave,
            keys: [ClusterKeys.members(room), ClusterKeys.sessionRooms(user.key)],
            arguments: [user.key, room.value, notice, incarnation]
        ).map { _ in }
    }

    /// Appends to history and publishes, in one script that assigns the id; returns the id.
    public func publishMessage(
        _ message: OutgoingMessage, user: UserName, origin: String, upkeep: PublishUpkeep = .all
    ) -> EventLoopFuture<StreamID> {
        redis.run(
            ClusterScripts.publishMessage,
            keys: [ClusterKeys.history(message.room), ClusterKeys.session(user.key), ClusterKeys.topic(message.room)],
            arguments: [
                ClusterKeys.roomChannel(message.room), RelayCodec.messageBody(message, origin: origin),
                String(historyLength), String(message.time), String(bounds.roomIdleSeconds),
                upkeep.renewsRoom ? "1" : "", upkeep.renewsRoom ? message.room.look : "", upkeep.marksActive ? "1" : "",
            ]
        ).flatMapThrowing { reply in
            guard let id = reply.string.flatMap(StreamID.init) else {
                throw RedisError(.protocolViolation, "the publish script gave no message id")
            }
            return id
        }
    }

    /// Best effort and not kept: a typing notice that is lost is followed by the message or by the next notice.
    /// Quiet rooms (more than `quietRoomSize` people) get none.
    public func publishTyping(_ room: RoomName, user: UserName, now: Millis, origin: String) -> EventLoopFuture<Void> {
        let payload = RelayCodec.encode(RelayEnvelope(event: .typing(room: room, name: user.display, time: now), origin: origin))
        return redis.run(ClusterScripts.typing, keys: [ClusterKeys.members(room)], arguments: [ClusterKeys.roomChannel(room), payload])
            .map { _ in }
    }

    public func setPresence(_ user: UserName, away: String?, now: Millis, origin: String) -> EventLoopFuture<Void> {
        redis.run(
            ClusterScripts.presence,
            keys: [ClusterKeys.session(user.key), ClusterKeys.sessionRooms(user.key)],
            arguments: [away ?? "", user.display, String(now), origin]
        ).map { _ in }
    }

    // MARK: Queries

    public func who(_ room: RoomName, now: Millis) -> EventLoopFuture<[RoomMember]> {
        redis.run(ClusterScripts.who, keys: [ClusterKeys.members(room)], arguments: [room.value]).map { reply in
            let fields = (reply.array ?? []).map { $0.string ?? "" }
            return stride(from: 0, to: fields.count - 4, by: 5).map { index in
                let away = fields[index + 1]
                return RoomMember(
                    name: fields[index], presence: away.isEmpty ? .online : .away(away),
                    idleMillis: max(0, now - (Millis(fields[index + 2]) ?? now)), node: fields[index + 3],
                    reconnecting: !fields[index + 4].isEmpty)
            }.sorted { $0.name.lowercased() < $1.name.lowercased() }
        }
    }

    public func rooms() -> EventLoopFuture<[(RoomName, Int)]> {
        redis.run(ClusterScripts.rooms, keys: [], arguments: []).map { reply in
            let fields = reply.array ?? []
            return stride(from: 0, to: fields.count - 1, by: 2).compactMap { index in
                guard let room = fields[index].string, let count = fields[index + 1].int else { return nil }
                return (RoomName(trusted: room), Int(count))
            }.sorted { $0.0 < $1.0 }
        }
    }

    public func seen(_ user: String) -> EventLoopFuture<SeenRecord?> {
        redis.run(ClusterScripts.seen, keys: [ClusterKeys.seen(user), ClusterKeys.session(user)], arguments: [])
            .map { reply in
                let fields = reply.array ?? []
                guard fields.count == 6, let name = fields[0].string else { return nil }
                let connected = Millis(fields[1].string ?? "") ?? 0
                if fields[4].int == 1 {
                    return .online(name: name, since: connected, node: fields[3].string ?? "", reconnecting: fields[5].int == 1)
                }
                guard let disconnected = Millis(fields[2].string ?? "") else {
                    // Connected once, but its node died before anyone recorded the end: the best known is "online".
                    return .online(name: name, since: connected, node: fields[3].string ?? "")
                }
                return .offline(name: name, connectedAt: connected, disconnectedAt: disconnected)
            }
    }

    /// Which of these users have a session now (one held for a reconnecting client counts), with their names as
    /// they typed them and whether they are away: one HMGET each, pipelined on the one connection.
    public func online(_ users: [UserName]) -> EventLoopFuture<[OnlineUser]> {
        let lookups = users.map { user in
            redis.send("HMGET", ClusterKeys.session(user.key), "name", "away").map { reply -> OnlineUser? in
                let fields = reply.array ?? []
                guard let name = fields.first?.string else { return nil }
                return OnlineUser(name: name, isAway: fields.count > 1 && fields[1].string?.isEmpty == false)
            }
        }
        return EventLoopFuture.whenAllSucceed(lookups, on: redis.eventLoop).map { $0.compactMap { $0 } }
    }

    /// The last `count` messages, or those before `before`, oldest first.
    public func history(_ room: RoomName, count: Int, before: StreamID? = nil) -> EventLoopFuture<[ChatMessage]> {
        let end = before.map { "(\($0)" } ?? "+"
        return redis.send("XREVRANGE", ClusterKeys.history(room), end, "-", "COUNT", String(count)).map { reply in
            Self.messages(from: reply).reversed()
        }
    }

    /// Messages after `id` (at most `limit`), oldest first, with who sent each (so a node catching up can still
    /// skip a session's own), and what the stream says it no longer keeps: what a reconnecting client or node
    /// missed, and whether some of it is gone.
    public func page(_ room: RoomName, after id: StreamID, limit: Int) -> EventLoopFuture<StoredPage> {
        let key = ClusterKeys.history(room)
        let entries = redis.send("XRANGE", key, "(\(id)", "+", "COUNT", String(limit)).map(Self.envelopes)
        // A room whose stream does not exist (never written, or expired) answers XINFO with an error: it keeps
        // nothing, and says nothing of what it lost.
        let info = redis.send("XINFO", "STREAM", key).map(Self.streamInfo).recover { _ in StreamInfo() }
        return entries.and(info).map { entries, info in
            StoredPage(envelopes: entries, maxDeleted: info.maxDeleted, keptFrom: info.keptFrom)
        }
    }

    /// From XINFO STREAM (Redis 7): the newest id deleted with XDEL (`max-deleted-entry-id`; trimming does not set
    /// it), and, when trimming removed entries (more were added than are left), the oldest one kept: trimming
    /// removes the oldest first, so everything before it is gone.
    static func streamInfo(_ reply: RedisValue) -> StreamInfo {
        let fields = reply.array ?? []
        var length: Int64 = 0
        var added: Int64 = 0
        var first: StreamID?
        var last: StreamID?
        var info = StreamInfo()
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            let value = fields[index + 1]
            switch fields[index].string {
            case "length": length = value.int ?? 0
            case "entries-added": added = value.int ?? 0
            case "last-generated-id": last = value.string.flatMap(StreamID.init)
            case "max-deleted-entry-id": info.maxDeleted = value.string.flatMap(StreamID.init).flatMap { $0 == .zero ? nil : $0 }
            case "first-entry": first = value.array?.first?.string.flatMap(StreamID.init)
            default: break
            }
        }
        if added > length { info.keptFrom = first ?? last.map { StreamID(millis: $0.millis, sequence: $0.sequence + 1) } }
        return info
    }

    struct StreamInfo: Sendable {
        var maxDeleted: StreamID?
        var keptFrom: StreamID?
    }

    static func messages(from reply: RedisValue) -> [ChatMessage] {
        envelopes(from: reply).compactMap { if case .message(let message) = $0.event { message } else { nil } }
    }

    static func envelopes(from reply: RedisValue) -> [RelayEnvelope] {
        (reply.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let fields = parts[1].array, fields.count >= 2,
                case .bulk(let payload) = fields[1]
            else { return nil }
            return RelayCodec.decode(payload, entryID: parts[0].string.flatMap(StreamID.init))
        }
    }

    // MARK: Node liveness

    /// Marks this incarnation alive for one claim TTL.
    public func heartbeat(now: Millis) -> EventLoopFuture<Void> {
        let key = ClusterKeys.incarnation(incarnation)
        let set = redis.send("SET", key, nodeID, "EX", String(claimTTLSeconds))
        let add = redis.send("SADD", ClusterKeys.incarnations, incarnation)
        return set.and(add).map { _ in }
    }

    /// Cleans up after dead incarnations, at most `batch` users per call, so one script never holds Redis for long
    /// however big the dead node was; returns how many users it cleaned up and whether more remain.
    public func reap(now: Millis, batch: Int = 200) -> EventLoopFuture<(cleaned: Int, more: Bool)> {
        redis.run(ClusterScripts.reap, keys: [], arguments: [String(now), String(batch)]).map { reply in
            let fields = reply.array ?? []
            return (Int(fields.first?.int ?? 0), fields.count > 1 && fields[1].int == 1)
        }
    }

    // MARK: Discovery

    public func announceEndpoint(_ value: String, lifetime: TimeAmount) -> EventLoopFuture<Void> {
        let set = redis.send(
            "SET", ClusterKeys.endpoint(incarnation), value, "PX", String(lifetime.nanoseconds / 1_000_000))
        let add = redis.send("SADD", ClusterKeys.endpoints, incarnation)
        return set.and(add).map { _ in }
    }

    public func withdrawEndpoint() -> EventLoopFuture<Void> {
        let delete = redis.send("DEL", ClusterKeys.endpoint(incarnation))
        let remove = redis.send("SREM", ClusterKeys.endpoints, incarnation)
        return delete.and(remove).map { _ in }
    }

    /// A node shutting down cleanly forgets itself, after it has released its sessions.
    public func deregister() -> EventLoopFuture<Void> {
        let delete = redis.send("DEL", ClusterKeys.incarnation(incarnation), ClusterKeys.incarnationUsers(incarnation))
        let remove = redis.send("SREM", ClusterKeys.incarnations, incarnation)
        return delete.and(remove).map { _ in }
    }
}
