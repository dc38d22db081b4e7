import ChatCore
import NIOCore
import RedisClient

// The store's settings and its session and node lifecycle, in one file because the release, the reaper and the
// keep-alive share the TTLs, the incarnation and the guarded leave (`leaveRooms`); rooms are in
// ChatStore+Rooms.swift, history in ChatStore+History.swift, names and identity in ChatStore+Identity.swift.

/// What the node keeps about one of its sessions, as written to Redis on claim and on every keep-alive.
public struct SessionRecord: Sendable {
    public var user: UserName
    public var token: String
    public var since: Millis
    public var lastActive: Millis
    public var away: String?
    public var rooms: [RoomName]
    public var address: String
    /// The connection's id (`SessionMachine.sessionID`): a session put back after Redis lost it names it, so
    /// that another connection's release cannot end it.
    public var connection: String

    public init(
        user: UserName, token: String, since: Millis, lastActive: Millis, away: String?, rooms: [RoomName],
        address: String, connection: String = ""
    ) {
        self.connection = connection
        self.user = user
        self.token = token
        self.since = since
        self.lastActive = lastActive
        self.away = away
        self.rooms = rooms
        self.address = address
    }
}

/// A connection for writes whose callers wait for replicas, and what they wait for.
public struct AcknowledgedWrites: Sendable {
    public var redis: any RedisConnection
    public var wanted: ReplicaAcknowledgement

    public init(redis: any RedisConnection, wanted: ReplicaAcknowledgement) {
        self.redis = redis
        self.wanted = wanted
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
    /// Connections one registered name may have at once (on any nodes); 1: a login takes the session over, as a
    /// guest's resume does.
    public var connectionsPerName = 5
    /// How long a connection of a registered name at its limit has lasted before a newer login may take its place
    /// (two clients that reconnect by themselves do not take turns).
    public var connectionSenioritySeconds = 60
    /// Direct messages kept for a held name.
    public var heldDirectsAtMost = 100
    /// With an archive: direct messages to one person kept in Redis until the archive has them
    /// (`ChatKeys.directLog`; past that, while the archive is down, they are delivered but not archived, and
    /// counted as a gap), and how long that log lives after the last one.
    public var directLogAtMost = 1000
    public var directLogSeconds = 3 * 24 * 3600
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

    /// Where the page was read from: changes to messages at or before it are what a client that had those
    /// messages needs (`changes`); later messages come as they stand.
    public var after: StreamID?

    public init(envelopes: [RelayEnvelope], maxDeleted: StreamID?, keptFrom: StreamID?, after: StreamID? = nil) {
        self.envelopes = envelopes
        self.maxDeleted = maxDeleted
        self.keptFrom = keptFrom
        self.after = after
    }

    public var messages: [ChatMessage] {
        envelopes.compactMap { if case .message(let message) = $0.event { message } else { nil } }
    }

    /// What was done meanwhile to messages the reader already had (at or before `after`), in order.
    public var changes: [MessageChange] {
        envelopes.compactMap {
            guard case .messageChanged(let change) = $0.event, let after, change.target <= after else { return nil }
            return change
        }
    }
}

/// The chat's shared state in Redis, as typed operations. Every future completes on the connection's event loop;
/// callers hop back to their own.
///
/// Every script touches one hash tag (one room, one person, one node process, one address, or one index), so the
/// same operations run on one Redis and on a Redis Cluster. An operation that spans a person and their rooms is a
/// sequence: the person's script decides and answers the rooms concerned, then each room's script follows, each
/// guarded by the incarnation it expects, so a step that comes late or twice changes nothing
/// (docs/redis-cluster.md says what each such sequence gives up against one atomic script, and why it is safe).
public struct ChatStore: Sendable {
    /// Rooms with more people than this are quiet: joins, leaves and away changes are not announced in them
    /// (`who` still lists everyone). Nobody reads hundreds of join lines a second, and announcing every join
    /// to everyone costs O(people²): it was what limited a storm of logins into one lobby (docs/benchmarks.md).
    /// Slack hides join messages in large channels and ircu's +D delays them, for the same reason. The room
    /// scripts (`RoomScripts`) count the members and decide.
    public static let quietRoomSize = 200

    public let redis: any RedisConnection
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
    /// Where room messages go when their senders are told of them only once replicas have them (`--ack-replicas`),
    /// on a connection of their own: WAIT holds up every command behind it on its connection. Nil: a sender is
    /// told once the primary has the message.
    public var acknowledgedMessages: AcknowledgedWrites?
    /// With an archive (`--archive`): the rooms this node published to, for the archiver (`ChatStore+Archive`).
    public var archiveMarks: ArchiveMarks?
    /// Sessions outlive their claim and their node's heartbeat, so that when a node dies a survivor still finds
    /// whom it held and in which rooms, and can announce that they left.
    public var sessionTTLSeconds: Int { nameTTLSeconds * 2 + 10 }

    public static let scripts = ChatScripts.all

    public init(
        redis: any RedisConnection, incarnation: String, nodeID: String, claimTTLSeconds: Int, historyLength: Int,
        nameTTLSeconds: Int = 3600
    ) {
        self.nameTTLSeconds = max(nameTTLSeconds, claimTTLSeconds)
        self.redis = redis
        self.incarnation = incarnation
        self.nodeID = nodeID
        self.claimTTLSeconds = claimTTLSeconds
        self.historyLength = historyLength
    }

    /// The loop the store's replies complete on.
    public var eventLoop: any EventLoop { redis.eventLoop }

    /// A fresh token for a claim. It starts with the incarnation so the reaper can tell which claims a dead node held.
    public func makeToken() -> String {
        "\(incarnation):\(UInt64.random(in: 0...UInt64.max))"
    }

    // MARK: Names and sessions

    /// True while the session is ours. With `restore` (Redis lost its data: a restart, a failover), a claim that
    /// Redis lost is taken again, and so are the session's memberships (never over one another node holds now),
    /// and the room list after them. A plain refresh leaves memberships alone: a leave in flight would otherwise be
    /// undone by it.
    public func keepAlive(_ record: SessionRecord, restore: Bool) -> EventLoopFuture<Bool> {
        let key = record.user.key
        let rooms = record.rooms.map(\.value)
        return redis.run(
            SessionScripts.keepAlive,
            .init(
                claimKey: ChatKeys.claim(key), sessionKey: ChatKeys.session(key),
                sessionRoomsKey: ChatKeys.sessionRooms(key), connectionsKey: ChatKeys.connections(key),
                token: record.token, connection: record.connection, name: record.user.display,
                incarnation: incarnation, node: nodeID, since: record.since, active: record.lastActive,
                away: record.away, claimTTL: nameTTLSeconds, restore: restore, addressGroup: record.address,
                sessionTTL: sessionTTLSeconds, rooms: rooms)
        ).flatMap { reply -> EventLoopFuture<Bool> in
            guard reply.int == 1 else { return eventLoop.makeSucceededFuture(false) }
            let registered = redis.send("SADD", ChatKeys.incarnationUsers(incarnation), key)
            guard restore else { return registered.map { _ in true } }
            let memberships = record.rooms.map { room in
                redis.run(RoomScripts.setMember, keys: [ChatKeys.members(room)], arguments: [key, "*", record.token])
            }
            let listed = EventLoopFuture.andAllSucceed(memberships, on: eventLoop).flatMap {
                () -> EventLoopFuture<Void> in
                rooms.isEmpty
                    ? eventLoop.makeSucceededVoidFuture()
                    : redis.send(RedisCommand(["SADD", ChatKeys.rooms] + rooms)).map { _ in }
            }
            return listed.and(registered).map { _ in true }
        }
    }

    /// Ends a session (or, of a registered name connected from several places, only this connection, `origin`:
    /// see `SessionScripts.endSession`): its claim and record go, each only while it still holds `token` (a retried or late release
    /// never touches a newer session of the same name), so the name is free at once; then every room it was in is
    /// told it left (`message`: what the user said on quitting), each leave guarded by the token, so a newer session
    /// of the name, even one on this node, keeps its own memberships.
    public func release(
        _ user: UserName, token: String, now: Millis, reason: LeaveReason, origin: String, message: String? = nil
    ) -> EventLoopFuture<Void> {
        let key = user.key
        return redis.run(
            SessionScripts.endSession,
            keys: [
                ChatKeys.claim(key), ChatKeys.session(key), ChatKeys.sessionRooms(key),
                ChatKeys.heldDirects(key), ChatKeys.seen(key), ChatKeys.connections(key),
            ],
            arguments: [token, String(now), origin]
        ).flatMap { reply -> EventLoopFuture<Void> in
            let fields = Self.strings(reply)
            guard fields.first == "ended" else { return eventLoop.makeSucceededVoidFuture() }
            let rooms = fields.dropFirst().map(RoomName.init(trusted:))
            let left = leaveRooms(rooms, user: key, holder: token, now: now) { room in
                RelayCodec.encode(
                    RelayEnvelope(
                        event: .left(room: room, name: user.display, reason: reason, time: now, message: message),
                        origin: origin))
            }
            let unregistered = redis.send("SREM", ChatKeys.incarnationUsers(incarnation), key)
            return left.and(unregistered).map { _ in }
        }
    }

    /// Ends `user`'s membership of each room where the session `holder` (its claim token) still holds it, each with
    /// its notice (unless the room is quiet); a room left empty goes from the room list, and one left vacant (no
    /// history either) from the room cap's count too.
    func leaveRooms(
        _ rooms: [RoomName], user: String, holder: String, now: Millis, notice: (RoomName) -> String
    ) -> EventLoopFuture<Void> {
        guard !holder.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        let leaves = rooms.map { room in
            redis.run(
                RoomScripts.leave,
                .init(
                    membersKey: ChatKeys.members(room), historyKey: ChatKeys.history(room),
                    topicKey: ChatKeys.topic(room), rolesKey: ChatKeys.roles(room), rulesKey: ChatKeys.rules(room),
                    bansKey: ChatKeys.bans(room), user: user, token: holder, channel: ChatKeys.roomChannel(room),
                    notice: notice(room), room: room.value)
            ).flatMap { left -> EventLoopFuture<Void> in
                switch left.int {
                case 0: unlistIfEmpty(room)
                case -2: unlistIfEmpty(room).and(unindexIfVacant(room, now: now)).map { _ in }
                default: eventLoop.makeSucceededVoidFuture()
                }
            }
        }
        return EventLoopFuture.andAllSucceed(leaves, on: eventLoop)
    }

    /// Takes an emptied room off the room list. The list is another key than the room's members (on a cluster,
    /// maybe on another shard), so this cannot be one step with a join: it removes the room, looks at the members
    /// again, and lists the room again if somebody joined meanwhile. A join lists its room only after writing its
    /// membership, so either that second look sees the member or the join's listing comes after the removal.
    func unlistIfEmpty(_ room: RoomName) -> EventLoopFuture<Void> {
        redis.send("SREM", ChatKeys.rooms, room.value).flatMap { _ in
            redis.send("HLEN", ChatKeys.members(room))
        }.flatMap { members -> EventLoopFuture<Void> in
            guard (members.int ?? 0) > 0 else { return eventLoop.makeSucceededVoidFuture() }
            return redis.send("SADD", ChatKeys.rooms, room.value).map { _ in }
        }
    }

    /// Takes a vacant room (no members, no history) out of the room cap's count: joined and left without a word,
    /// it holds nothing, and must not count against `--max-rooms` for the rest of its idle days. As with the room
    /// list, the index is another key (maybe another shard): after the removal the room is looked at again, and a
    /// room somebody made again meanwhile is counted again (its join's admission had recorded it before our
    /// removal, or it sees it gone and records it itself).
    func unindexIfVacant(_ room: RoomName, now: Millis) -> EventLoopFuture<Void> {
        redis.run(
            IndexScripts.forgetRoom, keys: [ChatKeys.roomActivity, ChatKeys.roomLooks],
            arguments: [room.look, room.value]
        )
        .flatMap { _ in
            redis.send("EXISTS", ChatKeys.members(room)).and(redis.send("EXISTS", ChatKeys.history(room)))
        }.flatMap { members, history -> EventLoopFuture<Void> in
            guard (members.int ?? 0) > 0 || (history.int ?? 0) > 0 else { return eventLoop.makeSucceededVoidFuture() }
            return redis.run(
                IndexScripts.admitRoom, admission(room, now: now, checking: false)
            ).map { _ in }
        }
    }

    // MARK: Node liveness

    /// Marks this incarnation alive for one claim TTL.
    public func heartbeat(now: Millis) -> EventLoopFuture<Void> {
        let key = ChatKeys.incarnation(incarnation)
        let set = redis.send("SET", key, nodeID, "EX", String(claimTTLSeconds))
        let add = redis.send("SADD", ChatKeys.incarnations, incarnation)
        return set.and(add).map { _ in }
    }

    /// Cleans up after incarnations whose heartbeat has lapsed, at most `batch` users per call, so no step holds
    /// Redis for long however big the dead node was; returns how many users it cleaned up and whether more remain.
    /// Each user's rooms are left before the session goes, each leave guarded by the session's token, so when
    /// several survivors reap at once every departure is announced once; a user is taken off the dead
    /// incarnation's set only after that, so a survivor that stops midway leaves the user, whole, for the next.
    public func reap(now: Millis, batch: Int = 200) -> EventLoopFuture<(cleaned: Int, more: Bool)> {
        redis.send("SMEMBERS", ChatKeys.incarnations).flatMap { reply in
            reapIncarnations(Self.strings(reply)[...], now: now, budget: batch, cleaned: 0)
        }
    }

    private func reapIncarnations(
        _ incarnations: ArraySlice<String>, now: Millis, budget: Int, cleaned: Int
    ) -> EventLoopFuture<(cleaned: Int, more: Bool)> {
        guard let dead = incarnations.first else { return eventLoop.makeSucceededFuture((cleaned, false)) }
        guard budget > 0 else { return eventLoop.makeSucceededFuture((cleaned, true)) }
        let rest = incarnations.dropFirst()
        return redis.send("EXISTS", ChatKeys.incarnation(dead)).flatMap { alive in
            guard alive.int == 0 else { return reapIncarnations(rest, now: now, budget: budget, cleaned: cleaned) }
            let usersKey = ChatKeys.incarnationUsers(dead)
            return redis.send("SRANDMEMBER", usersKey, String(budget)).flatMap { reply in
                let users = Self.strings(reply)
                let done = users.map { reapUser($0, of: dead, now: now) }
                return EventLoopFuture.whenAllSucceed(done, on: eventLoop).flatMap { ended in
                    let cleanedNow = cleaned + ended.filter { $0 }.count
                    let removed =
                        users.isEmpty
                        ? eventLoop.makeSucceededFuture(RedisValue.integer(0))
                        : redis.send(RedisCommand(["SREM", usersKey] + users))
                    return removed.flatMap { _ in redis.send("SCARD", usersKey) }.flatMap { left in
                        guard left.int == 0 else { return eventLoop.makeSucceededFuture((cleanedNow, true)) }
                        // Nothing left of it: forgotten. (A dead incarnation adds no users.)
                        return redis.send("DEL", usersKey).and(redis.send("SREM", ChatKeys.incarnations, dead))
                            .flatMap { _ in
                                reapIncarnations(rest, now: now, budget: budget - users.count, cleaned: cleanedNow)
                            }
                    }
                }
            }
        }
    }

    /// One user of a dead incarnation: its rooms told it left, then its session ended (if still that
    /// incarnation's). True when this call ended it.
    private func reapUser(_ user: String, of dead: String, now: Millis) -> EventLoopFuture<Bool> {
        redis.run(
            SessionScripts.reapedSession,
            keys: [
                ChatKeys.claim(user), ChatKeys.session(user), ChatKeys.sessionRooms(user), ChatKeys.connections(user),
            ],
            arguments: [dead]
        ).flatMap { reply in
            let fields = Self.strings(reply)
            guard fields.count >= 2 else { return eventLoop.makeSucceededFuture(false) }
            let (name, token) = (fields[0], fields[1])
            let rooms = fields.dropFirst(2).map(RoomName.init(trusted:))
            return leaveRooms(rooms, user: user, holder: token, now: now) { room in
                RelayCodec.encode(
                    RelayEnvelope(event: .left(room: room, name: name, reason: .connectionLost, time: now)))
            }.flatMap {
                redis.run(
                    SessionScripts.endReapedSession,
                    keys: [
                        ChatKeys.session(user), ChatKeys.sessionRooms(user), ChatKeys.heldDirects(user),
                        ChatKeys.seen(user),
                    ],
                    arguments: [dead, String(now)])
            }.map { $0.int == 1 }
        }
    }

    // MARK: Discovery

    public func announceEndpoint(_ value: String, lifetime: TimeAmount) -> EventLoopFuture<Void> {
        let set = redis.send(
            "SET", ChatKeys.endpoint(incarnation), value, "PX", String(lifetime.nanoseconds / 1_000_000))
        let add = redis.send("SADD", ChatKeys.endpoints, incarnation)
        return set.and(add).map { _ in }
    }

    public func withdrawEndpoint() -> EventLoopFuture<Void> {
        let delete = redis.send("DEL", ChatKeys.endpoint(incarnation))
        let remove = redis.send("SREM", ChatKeys.endpoints, incarnation)
        return delete.and(remove).map { _ in }
    }

    /// A node shutting down cleanly forgets itself, after it has released its sessions.
    public func deregister() -> EventLoopFuture<Void> {
        let delete = redis.send("DEL", ChatKeys.incarnation(incarnation), ChatKeys.incarnationUsers(incarnation))
        let remove = redis.send("SREM", ChatKeys.incarnations, incarnation)
        return delete.and(remove).map { _ in }
    }

    /// A reply's elements as strings (integers written out); none for anything but an array.
    static func strings(_ reply: RedisValue) -> [String] {
        (reply.array ?? []).map { $0.string ?? $0.int.map(String.init) ?? "" }
    }
}
