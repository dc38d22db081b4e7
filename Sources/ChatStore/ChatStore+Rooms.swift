import ChatCore
import NIOCore
import RedisClient

// One file (about 400 lines) because a room's operations share its keys, scripts and ordering rules, which each
// method explains against the others.
// Rooms: joining (and admitting new rooms), leaving, messages, notices and the queries over them. Each room's
// own work is one script on the room's tag; what it means for the person (their rooms) and for the indexes (the
// room list, the rooms' activity and looks) is sent around it, in the order each method explains.
extension ChatStore {
    /// Joins, creating the room if it does not exist, within the creation rate and the room cap (`ChatError`s
    /// `rate-limited` and `store-full` otherwise). `address` is the client's IP, whose creations are counted.
    ///
    /// The room goes into the session's rooms first (so a node dying midway leaves a membership its reaper finds),
    /// then the membership and the join notice, then the room list (after the membership: see `unlistIfEmpty`). A
    /// new room is admitted (`admit`) between the first refusal of the room's script and its second attempt; a
    /// refused room goes from the session's rooms again.
    /// `token`: the session's claim token, which its membership records (and every leave is guarded by).
    /// `addressBits` and the host IRC shows for the name (`IRCRenderer.host(of:)`) are what the room's bans are
    /// matched against; `key` is the key the join gave. A refusal by the room's settings or bans is a `ChatError` (`banned`, `invite-only`...).
    public func join(
        _ room: RoomName, user: UserName, token: String, now: Millis, origin: String, address: String = "",
        addressBits: String = "", key: String? = nil, away: String? = nil
    )
        -> EventLoopFuture<Void>
    {
        let userKey = user.key
        let sessionRooms = ChatKeys.sessionRooms(userKey)
        return redis.run(
            SessionScripts.enterRoom, keys: [sessionRooms, ChatKeys.account(userKey)],
            arguments: [room.value, String(sessionTTLSeconds)]
        ).flatMap { reply -> EventLoopFuture<Bool> in
            // When the name's account was made ('' for a guest). IRC's extended-join shows whether it is registered.
            let account = reply.string ?? ""
            let registered = !account.isEmpty
            let notice = RelayCodec.encode(
                RelayEnvelope(
                    event: .joined(room: room, name: user.display, time: now, registered: registered),
                    origin: origin))
            let enter = { @Sendable (admitted: Bool) in
                redis.run(
                    RoomScripts.join,
                    .init(
                        membersKey: ChatKeys.members(room), historyKey: ChatKeys.history(room),
                        topicKey: ChatKeys.topic(room), rolesKey: ChatKeys.roles(room), rulesKey: ChatKeys.rules(room),
                        bansKey: ChatKeys.bans(room), user: userKey,
                        lookAlikes: user.lookAlikeKeys.sorted().joined(separator: " "), token: token, room: room.value,
                        roomIdleTTL: bounds.roomIdleSeconds, notice: notice, admitted: admitted,
                        channel: ChatKeys.roomChannel(room), registered: registered, account: account,
                        registrationTTL: bounds.accountLifetimeSeconds, addressBits: addressBits,
                        shownHost: IRCRenderer.host(of: user.display), givenKey: key ?? "", now: now))
            }
            // A registered room's roles for this person, told to the room after the join notice (IRC: the server's
            // MODE after JOIN, as ChanServ's auto-op), unless the join was not told either. The owner's join keeps
            // the room in the index for the registration's life.
            let told = { @Sendable (joined: RedisValue) -> EventLoopFuture<Void> in
                guard case .bulk = joined, let reply = joined.string, !reply.isEmpty else {
                    return eventLoop.makeSucceededVoidFuture()
                }
                let letters = reply.hasPrefix("-") ? String(reply.dropFirst()) : reply
                let indexed =
                    letters.contains("q") ? keepIndexed(room, now: now) : eventLoop.makeSucceededVoidFuture()
                guard !reply.hasPrefix("-") else { return indexed }
                let changes = RoomRoles(letters: letters).individually.map {
                    RoomModeChange.role($0, name: user.display, granted: true)
                }
                let notice = RelayCodec.encode(
                    RelayEnvelope(
                        event: .modeChanged(room: room, by: OperatorRequest.serverActor, changes: changes, time: now)))
                return redis.send("SPUBLISH", ChatKeys.roomChannel(room), notice).and(indexed).map { _ in }
            }
            return enter(false).flatMap { joined -> EventLoopFuture<Bool> in
                if case .bulk = joined { return told(joined).map { false } }
                guard joined.int != 1 else { return eventLoop.makeSucceededFuture(false) }
                return admit(room, user: user, now: now, address: address).flatMap { enter(true) }.flatMap {
                    told($0).map { true }
                }
            }
        }.flatMap { created -> EventLoopFuture<Void> in
            // The member is in: what follows is upkeep of indexes (maybe on other shards), and its failure must not
            // tell the client the join failed. A new room's activity and look were recorded when it was admitted;
            // an existing room's are renewed; a room missing from the list is listed again by its next join.
            let activity =
                created
                ? eventLoop.makeSucceededFuture(RedisValue.integer(1)) : recordActivity(room, now: now, checking: false)
            let listed = redis.send("SADD", ChatKeys.rooms, room.value)
            // Someone away is told to the room as away right after their join (IRC's away-notify sends their AWAY
            // after the JOIN), so nobody takes them for present.
            let presence = away.map { text in
                let event = ChatEvent.presence(room: room, name: user.display, presence: .away(text), time: now)
                return announce(RelayCodec.encode(RelayEnvelope(event: event, origin: origin)), in: room)
            }
            return activity.and(listed).and(presence ?? eventLoop.makeSucceededVoidFuture()).map { _ in }.recover { _ in
            }
        }.flatMapError { error -> EventLoopFuture<Void> in
            guard let refusal = (error as? ChatError) ?? ChatScripts.chatError(error) else {
                return eventLoop.makeFailedFuture(error)
            }
            return redis.send("SREM", sessionRooms, room.value).flatMapThrowing { _ in throw refusal }
        }
    }

    /// Whether a room that does not exist yet may be made now: the address's and the person's new rooms this
    /// minute are counted, by name (thousands joining a new room at once, a connect storm, all find it missing and
    /// all ask to make it: that is one room), then the room cap and look-alikes are checked as its look is
    /// recorded, in one step on the index. Whatever refuses, the room is taken back out of the counts this join
    /// added it to.
    private func admit(_ room: RoomName, user: UserName, now: Millis, address: String) -> EventLoopFuture<Void> {
        let counters = [ChatKeys.roomCreations(address: address), ChatKeys.roomCreations(user: user.key)]
        let limit = bounds.roomCreationsPerMinute
        let counted = counters.map { countRoom(room, in: $0, by: 1, limit: limit) }
        return EventLoopFuture.whenAllSucceed(counted, on: eventLoop).flatMap { results in
            let recorded: EventLoopFuture<RedisValue> =
                results.allSatisfy(\.counted)
                ? recordActivity(room, now: now, checking: true).flatMapErrorThrowing { error in
                    throw ChatScripts.chatError(error) ?? error
                }
                : eventLoop.makeFailedFuture(
                    ChatError(.rateLimited, "at most \(limit) new rooms a minute; join one that exists"))
            return recorded.map { _ in }.flatMapError { error in
                // Only what this join added: a room counted already was made by another join, which keeps it.
                let undo = zip(counters, results).filter { $0.1.added }.map {
                    countRoom(room, in: $0.0, by: -1, limit: limit)
                }
                return EventLoopFuture.andAllComplete(undo, on: eventLoop).flatMapThrowing { throw error }
            }
        }
    }

    /// Counts `room` as made (`by` 1) or takes it back (-1) in a minute's set of new rooms (`IndexScripts.countRoom`).
    private func countRoom(
        _ room: RoomName, in counter: String, by step: Int, limit: Int
    ) -> EventLoopFuture<(counted: Bool, added: Bool)> {
        redis.run(IndexScripts.countRoom, keys: [counter], arguments: [room.value, String(step), "60", String(limit)])
            .map { reply in (reply.array?.first?.int == 1, reply.array?.dropFirst().first?.int == 1) }
    }

    /// The room's activity and look in the index (`IndexScripts.admitRoom`); `checking` admits a new room.
    private func recordActivity(_ room: RoomName, now: Millis, checking: Bool) -> EventLoopFuture<RedisValue> {
        redis.run(IndexScripts.admitRoom, admission(room, now: now, checking: checking))
    }

    /// What `IndexScripts.admitRoom` is told of a room.
    func admission(_ room: RoomName, now: Millis, checking: Bool) -> IndexScripts.AdmitRoomParameters {
        .init(
            activityKey: ChatKeys.roomActivity, looksKey: ChatKeys.roomLooks, now: now,
            roomIdleTTL: bounds.roomIdleSeconds, look: room.look, room: room.value, maxRooms: bounds.maxRooms,
            checksNewRoom: checking)
    }

    /// Counts one more (`by` 1) or one less (-1) on a windowed counter (`IndexScripts.count`).
    func count(
        _ counter: String, by step: Int, windowSeconds: Int, limit: Int? = nil
    )
        -> EventLoopFuture<(counted: Bool, retryAfterSeconds: Int)>
    {
        redis.run(
            IndexScripts.count, keys: [counter],
            arguments: [String(step), String(windowSeconds), limit.map(String.init) ?? ""]
        ).map { reply in
            let fields = reply.array ?? []
            return (fields.first?.int == 1, Int(fields.count > 1 ? fields[1].int ?? 1 : 1))
        }
    }

    /// Leaves a room, if this session (`token`) still holds the membership (a reaped node's late /leave must not
    /// announce a second departure). The room goes from the session's rooms after the membership, so a reaper
    /// never misses one.
    public func leave(
        _ room: RoomName, user: UserName, token: String, reason: LeaveReason, now: Millis, origin: String,
        message: String? = nil
    ) -> EventLoopFuture<Void> {
        let notice = RelayCodec.encode(
            RelayEnvelope(
                event: .left(room: room, name: user.display, reason: reason, time: now, message: message),
                origin: origin))
        return leaveRooms([room], user: user.key, holder: token, now: now) { _ in notice }.flatMap {
            redis.send("SREM", ChatKeys.sessionRooms(user.key), room.value).map { _ in }
        }
    }

    /// Appends to history and publishes, in one script that assigns the id; returns the id, and whether the
    /// replicas `acknowledgedMessages` asks for have it (always, when it asks for none). The upkeep a message
    /// asks for is sent right behind it and not waited for: the room's activity (an index) and the sender's last
    /// active time (the person's record) may live on other shards, and a message is not delayed by either.
    /// `trace`: the message's `traceparent`, for the published copy only (the nodes fanning it out continue it).
    public func publishMessage(
        _ message: OutgoingMessage, user: UserName, origin: String, upkeep: PublishUpkeep = .all, trace: String? = nil
    ) -> EventLoopFuture<PublishedMessage> {
        let published: EventLoopFuture<PublishedMessage>
        let trace = Self.plainTrace(trace)
        if message.replyTo != nil {
            published = publishReply(message, user: user, origin: origin, renewsRoom: upkeep.renewsRoom, trace: trace)
        } else {
            published = publishPlain(message, user: user, origin: origin, renewsRoom: upkeep.renewsRoom, trace: trace)
        }
        if upkeep.renewsRoom {
            // An idle room's history goes by itself; the room counts as active for the cap meanwhile. Its bans
            // live as long (the script renews its roles and rules; bans are renewed here, off the message's path),
            // never shorter than they are (a registered room's live a year: GT).
            _ = redis.send("ZADD", ChatKeys.roomActivity, "GT", String(message.time), message.room.look)
            _ = redis.send(
                "EXPIRE", ChatKeys.bans(message.room),
                String(bounds.roomIdleSeconds + PublishUpkeep.renewalIntervalSeconds), "GT")
        }
        if upkeep.marksActive {
            _ = redis.run(
                SessionScripts.markActive, keys: [ChatKeys.session(user.key)], arguments: [String(message.time)])
        }
        if let marks = archiveMarks {
            let room = message.room
            published.whenSuccess { _ in marks.note(room) }
        }
        return published
    }

    private func publishPlain(
        _ message: OutgoingMessage, user: UserName, origin: String, renewsRoom: Bool, trace: String
    ) -> EventLoopFuture<PublishedMessage> {
        let parameters = RoomScripts.PublishParameters(
            historyKey: ChatKeys.history(message.room), topicKey: ChatKeys.topic(message.room),
            rolesKey: ChatKeys.roles(message.room), rulesKey: ChatKeys.rules(message.room),
            changesKey: ChatKeys.changes(message.room), changeIndexKey: ChatKeys.changeIndex(message.room),
            channel: ChatKeys.roomChannel(message.room),
            body: RelayCodec.messageBody(message, origin: origin), maxLength: historyLength,
            roomIdleTTL: bounds.roomIdleSeconds, renewsTopic: renewsRoom, user: user.key, now: message.time,
            trace: trace)
        // One future per message on the default path, as before acknowledgements could wait for replicas.
        let published: EventLoopFuture<PublishedMessage>
        let (keys, arguments) = parameters.encoded
        let script = RoomScripts.publishMessage.script
        if let acknowledged = acknowledgedMessages {
            published = acknowledged.redis.run(
                script, keys: keys, arguments: arguments, acknowledgedBy: acknowledged.wanted
            ).flatMapThrowing { try Self.published($0.reply, confirmed: $0.isAcknowledged(by: acknowledged.wanted)) }
        } else {
            published = redis.run(script, keys: keys, arguments: arguments).flatMapThrowing {
                try Self.published($0, confirmed: true)
            }
        }
        return published
    }

    /// A trace context as the scripts may splice it into JSON unescaped (`RoomScripts.tracedCopy`): a `traceparent`'s
    /// characters only (lower-case hex and dashes, 55 to 128 of them); anything else is no trace ('').
    static func plainTrace(_ trace: String?) -> String {
        guard let trace, (55...128).contains(trace.utf8.count),
            trace.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D })
        else { return "" }
        return trace
    }

    private static func published(_ reply: RedisValue, confirmed: Bool) throws -> PublishedMessage {
        guard let id = reply.string.flatMap(StreamID.init) else {
            throw RedisError(.protocolViolation, "the publish script gave no message id")
        }
        return PublishedMessage(id: id, confirmed: confirmed)
    }

    /// Best effort and not kept: a typing notice that is lost is followed by the message or by the next notice.
    /// Quiet rooms (more than `quietRoomSize` people) get none.
    public func publishTyping(_ room: RoomName, user: UserName, now: Millis, origin: String) -> EventLoopFuture<Void> {
        let payload = RelayCodec.encode(
            RelayEnvelope(event: .typing(room: room, name: user.display, time: now), origin: origin))
        return announce(payload, in: room)
    }

    /// Client-only tags (IRC's TAGMSG) to a room's members, or to a person as a direct message goes (their blocks
    /// and `/dms registered` hold; queued while their name is held): never stored. False when nobody holds the name.
    public func publishTags(
        _ message: TagMessage, to user: String?, origin: String, sender: (key: String, registered: Bool)
    ) -> EventLoopFuture<Bool> {
        let payload = RelayCodec.encode(RelayEnvelope(event: .tagMessage(message), origin: origin))
        guard let user else {
            guard let room = message.room else { return eventLoop.makeSucceededFuture(false) }
            let typingAlone = message.tags.allSatisfy { $0.key == "+typing" }
            return redis.run(
                RoomScripts.announceTags, keys: [ChatKeys.members(room), ChatKeys.roles(room), ChatKeys.rules(room)],
                arguments: [
                    ChatKeys.roomChannel(room), payload, sender.key, String(message.time), typingAlone ? "1" : "0",
                ]
            ).flatMapErrorThrowing { error in throw ChatScripts.chatError(error) ?? error }.map { _ in true }
        }
        // Never queued for a name held while its client reconnects: tags are live or nothing.
        return redis.run(
            IdentityScripts.direct,
            keys: [ChatKeys.session(user), ChatKeys.heldDirects(user), ChatKeys.preferences(user)],
            arguments: [
                ChatKeys.userChannel(user), payload, String(max(bounds.resumeGraceSeconds, 1) * 2),
                String(bounds.heldDirectsAtMost), sender.key, sender.registered ? "1" : "0", "live",
            ]
        ).flatMapThrowing { reply in
            let status = reply.array?.first?.int ?? 0
            guard status != -1 else {
                throw ChatError(.registeredOnly, "\(message.to ?? "") takes messages from registered names only")
            }
            return status == 1
        }
    }

    private func announce(_ payload: String, in room: RoomName) -> EventLoopFuture<Void> {
        redis.run(
            RoomScripts.announce, keys: [ChatKeys.members(room)], arguments: [ChatKeys.roomChannel(room), payload]
        )
        .map { _ in }
    }

    /// Sets or clears away, then tells every room the user is in (but quiet ones).
    public func setPresence(_ user: UserName, away: String?, now: Millis, origin: String) -> EventLoopFuture<Void> {
        redis.run(
            SessionScripts.presence,
            keys: [ChatKeys.session(user.key), ChatKeys.sessionRooms(user.key)],
            arguments: [away ?? "", String(now)]
        ).flatMap { reply in
            let notices = Self.strings(reply).map { name in
                let room = RoomName(trusted: name)
                let presence: Presence = away.map { .away($0) } ?? .online
                let event = ChatEvent.presence(room: room, name: user.display, presence: presence, time: now)
                return announce(RelayCodec.encode(RelayEnvelope(event: event, origin: origin)), in: room)
            }
            return EventLoopFuture.andAllSucceed(notices, on: eventLoop)
        }
    }

    // MARK: Queries

    /// A page of a room's members with their session fields, one lookup per member listed, pipelined. The page is
    /// read with HSCAN, so one request costs the store about a page's worth of work however big the room is. A
    /// small hash (Redis keeps up to 512 entries as one listpack) answers whole to one HSCAN: its entries are
    /// sorted and listed a page at a time, so the cursor is HSCAN's and how many of that reading's entries were
    /// listed already (`<scan>-<skip>`). IRC's `everyone` reads on to `MemberListing.maximumListed`.
    ///
    /// An entry whose session has another token is not shown; if that session is in the room, the entry is moved
    /// to it (a takeover whose move failed, or is on its way: the move is guarded, so doing it twice is harmless);
    /// if not, it is a replaced session's, whose leave is on its way. An entry whose session has ended is a
    /// departure never announced (its leave failed, or the release that is ending it is under way): once the node
    /// that held it is gone and the session has been gone a few seconds (/seen's record says when), it is
    /// announced, under the name /seen knows, and removed, only if it still names that session.
    public func who(_ room: RoomName, listing: MemberListing = .firstPage, now: Millis) -> EventLoopFuture<MemberPage> {
        let members = ChatKeys.members(room)
        let read: EventLoopFuture<(entries: [String], next: String?)>
        switch listing {
        case .page(let after):
            let (scan, skip) = Self.memberCursor(after)
            read = scanMembers(members, from: scan, wanted: MemberListing.pageSize, readOn: false).map { read in
                // Sorted by user, so that the next reading from the same cursor skips the same entries.
                let pairs = stride(from: 0, to: read.entries.count - 1, by: 2)
                    .map { (read.entries[$0], read.entries[$0 + 1]) }.sorted { $0.0 < $1.0 }
                let page = pairs.dropFirst(skip).prefix(MemberListing.pageSize)
                let listed = skip + page.count
                let next = listed < pairs.count ? "\(scan)-\(listed)" : read.next.map { "\($0)-0" }
                return (page.flatMap { [$0.0, $0.1] }, next)
            }
        case .everyone:
            read = scanMembers(members, from: "0", wanted: MemberListing.maximumListed, readOn: true)
        }
        return read.and(redis.send("HLEN", members)).flatMap { read, count in
            let entries = read.entries
            let users = stride(from: 0, to: entries.count - 1, by: 2).map { entries[$0] }
            let lookups = stride(from: 0, to: entries.count - 1, by: 2).map { index in
                member(entries[index], holder: entries[index + 1], in: room, now: now)
            }
            // The page's roles in one more command, pipelined with the lookups.
            let roles: EventLoopFuture<[String?]> =
                users.isEmpty
                ? eventLoop.makeSucceededFuture([])
                : redis.send(RedisCommand(["HMGET", ChatKeys.roles(room)] + users)).map {
                    ($0.array ?? []).map(\.string)
                }
            return EventLoopFuture.whenAllSucceed(lookups, on: eventLoop).and(roles).map { found, roles in
                let withRoles = zip(found, roles + Array(repeating: nil, count: max(0, found.count - roles.count)))
                    .compactMap { member, letters -> RoomMember? in
                        guard var member else { return nil }
                        member.roles = RoomRoles(letters: letters ?? "")
                        return member
                    }
                let listed = withRoles.sorted { $0.name.lowercased() < $1.name.lowercased() }
                return MemberPage(members: listed, total: max(Int(count.int ?? 0), listed.count), next: read.next)
            }
        }
    }

    /// A `who` cursor (`<scan>-<skip>`, see `who`): HSCAN's cursor and how many entries of its reading to skip.
    static func memberCursor(_ cursor: String?) -> (scan: String, skip: Int) {
        let parts = (cursor ?? "").split(separator: "-", maxSplits: 1).map(String.init)
        guard parts.count == 2, UInt64(parts[0]) != nil, let skip = Int(parts[1]), skip >= 0 else { return ("0", 0) }
        return (parts[0], skip)
    }

    /// HSCAN from `cursor` for about `wanted` entries (field, value, field, value...); with `readOn`, scans on
    /// until it has them or the hash ends. The next cursor is nil at the end.
    private func scanMembers(
        _ key: String, from cursor: String, wanted: Int, readOn: Bool, read: [String] = []
    )
        -> EventLoopFuture<(entries: [String], next: String?)>
    {
        let count = max(1, wanted - read.count / 2)
        return redis.send("HSCAN", key, cursor, "COUNT", String(count)).flatMap { reply in
            let parts = reply.array ?? []
            let next = parts.first?.string.flatMap { $0 == "0" ? nil : $0 }
            let entries = read + (parts.count > 1 ? Self.strings(parts[1]) : [])
            guard readOn, let next, entries.count / 2 < wanted else {
                return eventLoop.makeSucceededFuture((entries, next))
            }
            return scanMembers(key, from: next, wanted: wanted, readOn: true, read: entries)
        }
    }

    /// One member's session fields, or nil when the entry is not a live session's (see `who`).
    private func member(_ user: String, holder: String, in room: RoomName, now: Millis) -> EventLoopFuture<RoomMember?>
    {
        redis.send(
            "HMGET", ChatKeys.session(user), "name", "away", "active", "node", "tok", "held", "real", "acct", "oper",
            "bot"
        )
        .map { reply -> RoomMember? in
            let fields = (reply.array ?? []).map(\.string)
            guard fields.count == 10, let name = fields[0] else {
                _ = announceDeparture(of: user, holder: holder, from: room, now: now)
                return nil
            }
            guard let token = fields[4], token == holder else {
                if let token = fields[4] { _ = adopt(user, holder: holder, token: token, in: room) }
                return nil
            }
            // Bounded where it is set; cut here too, so a page stays small whatever Redis holds.
            let away = Sanitizer.prefix(fields[1] ?? "", bytes: Presence.maximumAwayBytes)
            return RoomMember(
                name: name, presence: away.isEmpty ? .online : .away(away),
                idleMillis: max(0, now - (fields[2].flatMap { Millis($0) } ?? now)), node: fields[3] ?? "",
                reconnecting: fields[5].map { !$0.isEmpty } ?? false,
                realName: fields[6].flatMap {
                    $0.isEmpty ? nil : Sanitizer.prefix($0, bytes: Login.maximumRealNameBytes)
                }, registered: fields[7] == "1", serverOperator: fields[8] == "1", bot: fields[9] == "1")
        }
    }

    /// A membership left by a session that has ended, announced and removed, only once the node that held it is
    /// gone (its heartbeat lapsed: a live node ends its own sessions, with their own notices, or restores a session
    /// record Redis lost) and the session did not end moments ago (a reaper may still be leaving its rooms).
    private func announceDeparture(
        of user: String, holder: String, from room: RoomName, now: Millis
    )
        -> EventLoopFuture<Void>
    {
        let alive = redis.send("EXISTS", ChatKeys.incarnation(Self.incarnation(of: holder)))
        let seen = redis.send("HMGET", ChatKeys.seen(user), "name", "disconnected")
        return alive.and(seen).flatMap { alive, reply in
            guard alive.int == 0 else { return eventLoop.makeSucceededVoidFuture() }
            let fields = (reply.array ?? []).map(\.string)
            let disconnected = fields.count > 1 ? fields[1].flatMap { Millis($0) } : nil
            if let disconnected, now - disconnected < 10_000 { return eventLoop.makeSucceededVoidFuture() }
            let name = fields.first.flatMap { $0 } ?? user
            let notice = RelayCodec.encode(
                RelayEnvelope(event: .left(room: room, name: name, reason: .connectionLost, time: now)))
            return leaveRooms([room], user: user, holder: holder, now: now) { _ in notice }
        }
    }

    /// A membership under an older token of a session that is in the room: moved to the session's token.
    private func adopt(_ user: String, holder: String, token: String, in room: RoomName) -> EventLoopFuture<Void> {
        redis.send("SISMEMBER", ChatKeys.sessionRooms(user), room.value).flatMap { member in
            guard member.int == 1 else { return eventLoop.makeSucceededVoidFuture() }
            return redis.run(RoomScripts.setMember, keys: [ChatKeys.members(room)], arguments: [user, holder, token])
                .map { _ in }
        }
    }

    /// Rooms with their member counts and whether they are secret (`+s`), two commands per room, pipelined; rooms
    /// found empty go from the list.
    public func rooms() -> EventLoopFuture<[(RoomName, Int, secret: Bool)]> {
        redis.send("SMEMBERS", ChatKeys.rooms).flatMap { reply in
            let counts = Self.strings(reply).map { name in
                let room = RoomName(trusted: name)
                let secret = redis.send("HEXISTS", ChatKeys.rules(room), "s")
                return redis.send("HLEN", ChatKeys.members(room)).and(secret).map {
                    count, secret -> (RoomName, Int, secret: Bool)? in
                    guard let count = count.int, count > 0 else {
                        _ = unlistIfEmpty(room)
                        return nil
                    }
                    return (room, Int(count), secret: secret.int == 1)
                }
            }
            return EventLoopFuture.whenAllSucceed(counts, on: eventLoop).map { rooms in
                rooms.compactMap { $0 }.sorted { $0.0 < $1.0 }
            }
        }
    }

    /// `now`: for how long a connected person has been idle.
    public func seen(_ user: String, now: Millis = 0) -> EventLoopFuture<SeenRecord?> {
        redis.run(SessionScripts.seen, keys: [ChatKeys.seen(user), ChatKeys.session(user)], arguments: [])
            .map { reply in
                let fields = reply.array ?? []
                guard fields.count == 12, let name = fields[0].string else { return nil }
                let connected = Millis(fields[1].string ?? "") ?? 0
                func text(_ index: Int, bytes: Int) -> String? {
                    // Bounded where they are set; cut here too, whatever Redis holds.
                    let value = Sanitizer.prefix(fields[index].string ?? "", bytes: bytes)
                    return value.isEmpty ? nil : value
                }
                let realName = text(6, bytes: Login.maximumRealNameBytes)
                if fields[4].int == 1 {
                    let active = Millis(fields[10].string ?? "")
                    let details = PersonDetails(
                        realName: realName, away: text(7, bytes: Presence.maximumAwayBytes),
                        registered: fields[8].string == "1", serverOperator: fields[9].string == "1",
                        bot: fields[11].string == "1", idleMillis: active.map { max(0, now - $0) })
                    return .online(
                        name: name, since: connected, node: fields[3].string ?? "", reconnecting: fields[5].int == 1,
                        details: details)
                }
                guard let disconnected = Millis(fields[2].string ?? "") else {
                    // Connected once, but its node died before anyone recorded the end: the best known is "online".
                    return .online(name: name, since: connected, node: fields[3].string ?? "")
                }
                return .offline(name: name, connectedAt: connected, disconnectedAt: disconnected, realName: realName)
            }
    }

    /// The cluster's size for LUSERS: the people each live node holds (SCARD of its users), the live nodes, the
    /// listed rooms, and the peak of people, raised to this count if it is higher. Two commands per node, pipelined:
    /// a cost that grows with the nodes, not the people.
    public func counts(local: Int, localPeak: Int) -> EventLoopFuture<ServerCounts> {
        redis.send("SMEMBERS", ChatKeys.incarnations).flatMap { reply in
            let perNode = Self.strings(reply).prefix(1000).map { incarnation in
                redis.send("EXISTS", ChatKeys.incarnation(incarnation))
                    .and(redis.send("SCARD", ChatKeys.incarnationUsers(incarnation)))
                    .map { alive, people in alive.int == 1 ? Int(people.int ?? 0) : nil }
            }
            let rooms = redis.send("SCARD", ChatKeys.rooms).map { Int($0.int ?? 0) }
            return EventLoopFuture.whenAllSucceed(perNode, on: eventLoop).and(rooms).flatMap { nodes, rooms in
                let alive = nodes.compactMap { $0 }
                let people = alive.reduce(0, +)
                return redis.run(SessionScripts.raisePeak, keys: [ChatKeys.peakPeople], arguments: [String(people)])
                    .map { peak in
                        ServerCounts(
                            people: people, nodes: alive.count, rooms: rooms, local: local, localPeak: localPeak,
                            peak: max(people, Int(peak.int ?? 0)))
                    }
            }
        }
    }

    /// Which of these users have a session now (one held for a reconnecting client counts), with their names as
    /// they typed them and whether they are away: one HMGET each, pipelined.
    public func online(_ users: [UserName]) -> EventLoopFuture<[OnlineUser]> {
        let lookups = users.map { user in
            redis.send("HMGET", ChatKeys.session(user.key), "name", "away").map { reply -> OnlineUser? in
                let fields = reply.array ?? []
                guard let name = fields.first?.string else { return nil }
                return OnlineUser(name: name, isAway: fields.count > 1 && fields[1].string?.isEmpty == false)
            }
        }
        return EventLoopFuture.whenAllSucceed(lookups, on: eventLoop).map { $0.compactMap { $0 } }
    }
}

/// A room message stored and published: its id in the room's history, and whether as many replicas as the
/// deployment asks for (`ChatStore.acknowledgedMessages`) had it when its sender was told. Unconfirmed, only the
/// primary is known to have it: it was delivered, and a failover now may take it out of the history.
public struct PublishedMessage: Sendable, Equatable {
    public var id: StreamID
    public var confirmed: Bool
    /// A reply's answered message, as the store found it.
    public var replyTo: MessageReference?

    public init(id: StreamID, confirmed: Bool, replyTo: MessageReference? = nil) {
        self.id = id
        self.confirmed = confirmed
        self.replyTo = replyTo
    }
}
