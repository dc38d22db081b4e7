import ChatCore
import NIOCore
import RedisClient

/// What the server's operators do (docs/moderation.md, "Server operators"), for a session and the admin API alike.
/// Each action is a fixed number of commands, whatever the size of the cluster: a kill or a suspension is told on
/// the person's channel, a network change or an announcement on the one channel every node listens on, and a
/// room's closing on its channel; the nodes do the rest for their own sessions.
extension ChatStore {
    /// Network bans a deployment keeps at most: each node checks every login against all of them, in memory.
    public static let maximumNetworkBans = 500

    /// Carries out an operator's action. `by` is who is shown doing it (a name, or `OperatorRequest.serverActor`);
    /// `auditActor` who the audit log says did it. Reads answer `.networkBans` or `.audit`; the rest `.done`.
    public func operate(
        _ action: OperatorAction, by: String, auditActor: String? = nil, now: Millis
    )
        -> EventLoopFuture<StoreReply>
    {
        let done = perform(action, by: by, now: now)
        guard let name = action.auditName else { return done }
        return done.flatMap { reply in
            audit(
                AuditEntry(
                    time: now, actor: auditActor ?? by, action: name, target: action.auditTarget,
                    detail: action.auditDetail)
            ).map { reply }
        }
    }

    private func perform(_ action: OperatorAction, by: String, now: Millis) -> EventLoopFuture<StoreReply> {
        switch action {
        case .kill(let user, let reason):
            let notice = RelayCodec.encode(
                RelayEnvelope(event: .removed(name: user.display, by: by, reason: reason, time: now)))
            return redis.send("SPUBLISH", ChatKeys.userChannel(user.key), notice).flatMapThrowing { listeners in
                guard (listeners.int ?? 0) > 0 else {
                    throw ChatError(.noSuchUser, "nobody called \(user.display) is connected")
                }
                return .done
            }
        case .suspend(let user, let until, let reason):
            let why = reason.map { "suspended: \($0)" } ?? "suspended"
            let notice = RelayCodec.encode(
                RelayEnvelope(event: .removed(name: user.display, by: by, reason: why, time: now)))
            let entry = [String(until ?? 0), by, reason ?? ""].joined(separator: "\n")
            return redis.run(
                OperatorScripts.suspend, keys: [ChatKeys.account(user.key)],
                arguments: [entry, ChatKeys.userChannel(user.key), notice]
            ).flatMapThrowing { suspended in
                guard suspended.int == 1 else {
                    throw ChatError(
                        .noSuchUser, "\(user.display) is not a registered name (to disconnect a guest: kill)")
                }
                return .done
            }
        case .unsuspend(let user):
            return redis.run(
                OperatorScripts.unsuspend, keys: [ChatKeys.account(user.key)],
                arguments: [String(bounds.accountLifetimeSeconds)]
            ).flatMapThrowing { removed in
                guard removed.int == 1 else { throw ChatError(.badRequest, "\(user.display) is not suspended") }
                return .done
            }
        case .ban(let mask, let until, let reason):
            let entry = [String(until ?? 0), by, String(now), reason ?? ""].joined(separator: "\n")
            return redis.run(
                OperatorScripts.addNetworkBan, keys: [ChatKeys.networkBans],
                arguments: [mask.text, entry, String(Self.maximumNetworkBans), String(now)]
            ).flatMap { added in
                guard added.int == 1 else {
                    return eventLoop.makeFailedFuture(
                        ChatError(.listFull, "the network keeps at most \(Self.maximumNetworkBans) bans"))
                }
                return announceNetworkChange(now: now)
            }
        case .unban(let mask):
            return redis.send("HDEL", ChatKeys.networkBans, mask.text).flatMap { removed in
                guard removed.int == 1 else {
                    return eventLoop.makeFailedFuture(ChatError(.badRequest, "\(mask.text) is not banned"))
                }
                return announceNetworkChange(now: now)
            }
        case .bans:
            return networkBans(now: now).map { .networkBans($0) }
        case .announce(let text, let operatorsOnly):
            let notice = RelayCodec.encode(
                RelayEnvelope(event: .announcement(from: by, text: text, time: now, operatorsOnly: operatorsOnly)))
            return redis.send("SPUBLISH", ChatKeys.networkChannel, notice).map { _ in .done }
        case .setMOTD(let text):
            let written =
                text.isEmpty ? redis.send("DEL", ChatKeys.motd) : redis.send("SET", ChatKeys.motd, text)
            return written.flatMap { _ in announceNetworkChange(now: now) }
        case .closeRoom(let room, let reason):
            let notice = RelayCodec.encode(
                RelayEnvelope(event: .roomClosed(room: room, by: by, reason: reason, time: now)))
            return redis.run(
                OperatorScripts.closeRoom,
                keys: [
                    ChatKeys.members(room), ChatKeys.history(room), ChatKeys.topic(room), ChatKeys.roles(room),
                    ChatKeys.rules(room), ChatKeys.bans(room), ChatKeys.changes(room), ChatKeys.changeIndex(room),
                ],
                arguments: [ChatKeys.roomChannel(room), notice]
            ).flatMap { members in
                // One pipelined write per member (each person's keys are on their own shard): out of their rooms,
                // so that a resume does not bring the room back.
                let forgotten = Self.strings(members).map {
                    redis.send("SREM", ChatKeys.sessionRooms($0), room.value).map { _ in }
                }
                return EventLoopFuture.andAllComplete(forgotten, on: eventLoop).flatMap {
                    unlistIfEmpty(room).and(unindexIfVacant(room, now: now)).map { _ in .done }
                }
            }
        case .audit(let count, let room):
            return auditLog(count: count, room: room).map { .audit($0) }
        }
    }

    /// Tells every node the network's bans or message of the day changed: each reads them again (`NetworkRules`).
    private func announceNetworkChange(now: Millis) -> EventLoopFuture<StoreReply> {
        let notice = RelayCodec.encode(RelayEnvelope(event: .networkChanged(time: now)))
        return redis.send("SPUBLISH", ChatKeys.networkChannel, notice).map { _ in .done }
    }

    /// The network's bans in force, oldest first.
    public func networkBans(now: Millis) -> EventLoopFuture<[RoomBan]> {
        redis.send("HGETALL", ChatKeys.networkBans).map { Self.networkBans(from: $0, now: now) }
    }

    /// The bans in force in an HGETALL of `ChatKeys.networkBans`, oldest first (the balancer reads them too).
    public static func networkBans(from reply: RedisValue, now: Millis) -> [RoomBan] {
        let entries = Self.strings(reply)
        return stride(from: 0, to: entries.count - 1, by: 2).compactMap { index -> RoomBan? in
            let fields = entries[index + 1].split(separator: "\n", omittingEmptySubsequences: false).map(
                String.init)
            guard fields.count == 4, let lapse = Millis(fields[0]), lapse == 0 || lapse > now else { return nil }
            return RoomBan(
                mask: entries[index], by: fields[1], time: Millis(fields[2]) ?? 0, until: lapse == 0 ? nil : lapse,
                reason: fields[3].isEmpty ? nil : fields[3])
        }.sorted { $0.time < $1.time }
    }

    /// Whether the session holding `user` under `token` logged in with the account's password (or resumed one that
    /// did): what makes a listed name a server operator, and never a guest who took the name while it was free.
    /// The account must still exist: one unregistered since is nobody's to operate. A confirmed operator's account
    /// stops expiring (PERSIST), so it cannot lapse into a name a stranger registers (unregistering one is refused
    /// by the node).
    public func confirmOperator(_ user: UserName, token: String) -> EventLoopFuture<Bool> {
        redis.send("HMGET", ChatKeys.session(user.key), "tok", "acct").and(
            redis.send("EXISTS", ChatKeys.account(user.key))
        ).flatMap { session, account in
            let fields = (session.array ?? []).map(\.string)
            guard fields.count == 2, fields[0] == token, fields[1] == "1", account.int == 1 else {
                return eventLoop.makeSucceededFuture(false)
            }
            // Marked on the session, for what IRC's WHO and WHOIS show (`*`, 313).
            return redis.send("PERSIST", ChatKeys.account(user.key)).and(
                redis.run(OperatorScripts.markOperator, keys: [ChatKeys.session(user.key)], arguments: [token, "1"])
            ).map { _ in true }
        }
    }

    /// Unmarks the session of `user` holding `token` as an operator's (a reload took the name off the list, or it
    /// was unregistered), and lets its account expire again as any other's does (`confirmOperator` stopped that).
    public func endOperator(_ user: UserName, token: String) -> EventLoopFuture<Void> {
        redis.run(OperatorScripts.markOperator, keys: [ChatKeys.session(user.key)], arguments: [token, "0"]).and(
            redis.send("EXPIRE", ChatKeys.account(user.key), String(bounds.accountLifetimeSeconds))
        ).map { _ in }
    }

    /// Marks the session of `user` holding `token` a bot's, or not (what WHO and WHOIS show).
    public func setBot(_ user: UserName, token: String, on: Bool) -> EventLoopFuture<Void> {
        redis.run(OperatorScripts.markBot, keys: [ChatKeys.session(user.key)], arguments: [token, on ? "1" : "0"])
            .map { _ in }
    }

    /// Takes a closed room out of a person's rooms (its own keys are gone already).
    public func forgetRoom(_ room: RoomName, user: UserName) -> EventLoopFuture<Void> {
        redis.send("SREM", ChatKeys.sessionRooms(user.key), room.value).map { _ in }
    }

    /// One connected person, as the admin API lists them.
    public struct SessionSummary: Sendable {
        public var name: String
        public var node: String
        public var since: Millis
        /// The address group they connected from (an IPv4 address, or an IPv6 /64).
        public var address: String
        public var away: String?
    }

    /// Sessions in the cluster, a page at a time: one node process's at a time, in pages of at most 100 read with
    /// SSCAN, so a page costs a bounded pipeline whatever the cluster's size. `cursor` is the previous page's
    /// `next` (`<incarnation>:<scan cursor>`); nil starts over. The next cursor is nil after the last page.
    public func sessions(cursor: String?) -> EventLoopFuture<(sessions: [SessionSummary], next: String?)> {
        redis.send("SMEMBERS", ChatKeys.incarnations).flatMap { reply in
            let incarnations = Self.strings(reply).sorted()
            var index = 0
            var scan = "0"
            if let cursor, let colon = cursor.lastIndex(of: ":") {
                let incarnation = String(cursor[..<colon])
                scan = String(cursor[cursor.index(after: colon)...])
                index = incarnations.firstIndex(where: { $0 >= incarnation }) ?? incarnations.count
                if index < incarnations.count, incarnations[index] != incarnation { scan = "0" }
            }
            guard index < incarnations.count else { return eventLoop.makeSucceededFuture(([], nil)) }
            let incarnation = incarnations[index]
            return redis.send("SSCAN", ChatKeys.incarnationUsers(incarnation), scan, "COUNT", "100").flatMap { page in
                let parts = page.array ?? []
                let nextScan = parts.first?.string ?? "0"
                let keys = parts.count > 1 ? Self.strings(parts[1]) : []
                let reads = keys.map { key in
                    redis.send("HMGET", ChatKeys.session(key), "name", "node", "since", "addr", "away", "inc")
                }
                return EventLoopFuture.whenAllSucceed(reads, on: eventLoop).map { rows in
                    let sessions = rows.compactMap { row -> SessionSummary? in
                        let fields = (row.array ?? []).map(\.string)
                        // An entry too many in the user set (a session that moved or ended) is not listed.
                        guard fields.count == 6, let name = fields[0], fields[5] == incarnation else { return nil }
                        return SessionSummary(
                            name: name, node: fields[1] ?? "", since: fields[2].flatMap { Millis($0) } ?? 0,
                            address: fields[3] ?? "", away: fields[4].flatMap { $0.isEmpty ? nil : $0 })
                    }
                    let next: String?
                    if nextScan != "0" {
                        next = "\(incarnation):\(nextScan)"
                    } else if index + 1 < incarnations.count {
                        next = "\(incarnations[index + 1]):0"
                    } else {
                        next = nil
                    }
                    return (sessions, next)
                }
            }
        }
    }

    /// What a person set for themselves.
    public struct Preferences: Sendable {
        /// Blocked people: user key -> name as typed.
        public var blocked: [String: String] = [:]
        public var refusesGuests = false
        /// A registered name's read markers (`ChatKeys.readMarkers`).
        public var readMarkers: [RoomName: StreamID] = [:]
        /// When a registered name's account was made (what tells it from one registered again under the name).
        public var accountCreated = ""

        public init() {}
    }

    /// Whether the session logged in with the account's password, and the person's preferences
    /// (`OperatorScripts.loginState`): for a login with a password or a resume; a guest's plain claim has neither.
    public func loginState(
        _ user: UserName, token: String
    )
        -> EventLoopFuture<(registered: Bool, preferences: Preferences)>
    {
        redis.run(
            OperatorScripts.loginState,
            keys: [
                ChatKeys.session(user.key), ChatKeys.preferences(user.key), ChatKeys.readMarkers(user.key),
                ChatKeys.account(user.key),
            ],
            arguments: [token, String(bounds.accountLifetimeSeconds)]
        ).map { reply in
            let parts = reply.array ?? []
            let registered = parts.first?.string == "1"
            let fields = parts.count > 1 ? Self.strings(parts[1]) : []
            var preferences = Preferences()
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                let field = fields[index]
                if field.hasPrefix("b:") {
                    preferences.blocked[String(field.dropFirst(2))] = fields[index + 1]
                } else if field == "dms" {
                    preferences.refusesGuests = fields[index + 1] == "registered"
                }
            }
            preferences.accountCreated = parts.count > 3 ? parts[3].string ?? "" : ""
            let markers = parts.count > 2 ? Self.strings(parts[2]) : []
            for index in stride(from: 0, to: markers.count - 1, by: 2) {
                guard let room = try? RoomName(validating: markers[index]), let id = StreamID(markers[index + 1]) else {
                    continue
                }
                preferences.readMarkers[room] = id
            }
            return (registered, preferences)
        }
    }

    /// Blocks or unblocks `target` for `user`; a registered name keeps it for its account's lifetime, a guest a
    /// day from the last change.
    public func block(_ target: UserName, by user: UserName, on: Bool) -> EventLoopFuture<Void> {
        redis.run(
            OperatorScripts.block, keys: [ChatKeys.preferences(user.key), ChatKeys.account(user.key)],
            arguments: [
                on ? "1" : "0", target.key, target.display, String(ClientRequest.maximumBlocks),
                String(bounds.accountLifetimeSeconds),
            ]
        ).flatMapThrowing { reply in
            guard reply.int == 1 else {
                throw ChatError(
                    .listFull, "you block \(ClientRequest.maximumBlocks) people already; unblock some first")
            }
        }
    }

    /// Refuses (or takes again) guests' direct messages; kept as blocks are.
    public func setDirectMessages(_ user: UserName, registeredOnly: Bool) -> EventLoopFuture<Void> {
        let key = ChatKeys.preferences(user.key)
        let written =
            registeredOnly ? redis.send("HSET", key, "dms", "registered") : redis.send("HDEL", key, "dms")
        return written.flatMap { _ in redis.send("EXISTS", ChatKeys.account(user.key)) }.flatMap { registered in
            redis.send("EXPIRE", key, registered.int == 1 ? String(bounds.accountLifetimeSeconds) : "86400")
        }.map { _ in }
    }

    /// Whether the name with this key is registered.
    public func isRegistered(key: String) -> EventLoopFuture<Bool> {
        redis.send("EXISTS", ChatKeys.account(key)).map { $0.int == 1 }
    }

    /// The message of the day; nil when none is set.
    public func motd() -> EventLoopFuture<String?> {
        redis.send("GET", ChatKeys.motd).map { $0.string }
    }

    /// Entries a room's audit log keeps, about.
    public static let roomAuditKept = 1000

    /// Adds to the server's audit log (about the newest `AuditEntry.maximumKept`), or, for a room moderator's
    /// action, to the room's (about `roomAuditKept`, expiring with the room's idle history).
    public func audit(_ entry: AuditEntry) -> EventLoopFuture<Void> {
        let room = entry.room.flatMap { try? RoomName(validating: $0) }
        let key = room.map(ChatKeys.roomAudit) ?? ChatKeys.audit
        let kept = room == nil ? AuditEntry.maximumKept : Self.roomAuditKept
        let added = redis.send(
            "XADD", key, "MAXLEN", "~", String(kept), "*", "ts", String(entry.time),
            "actor", entry.actor, "action", entry.action, "target", entry.target, "room", entry.room ?? "",
            "detail", entry.detail ?? "")
        guard room != nil else { return added.map { _ in } }
        return added.flatMap { _ in redis.send("EXPIRE", key, String(bounds.roomIdleSeconds)) }.map { _ in }
    }

    /// The newest `count` entries of the server's audit log, or of a room's, newest first.
    public func auditLog(count: Int, room: RoomName? = nil) -> EventLoopFuture<[AuditEntry]> {
        let key = room.map(ChatKeys.roomAudit) ?? ChatKeys.audit
        return redis.send("XREVRANGE", key, "+", "-", "COUNT", String(min(count, AuditEntry.maximumPage))).map {
            reply in
            (reply.array ?? []).compactMap { entry -> AuditEntry? in
                guard let parts = entry.array, parts.count == 2 else { return nil }
                let values = Self.strings(parts[1])
                var fields: [String: String] = [:]
                for index in stride(from: 0, to: values.count - 1, by: 2) { fields[values[index]] = values[index + 1] }
                guard let time = fields["ts"].flatMap({ Millis($0) }), let actor = fields["actor"],
                    let action = fields["action"]
                else { return nil }
                return AuditEntry(
                    time: time, actor: actor, action: action, target: fields["target"] ?? "",
                    room: fields["room"].flatMap { $0.isEmpty ? nil : $0 },
                    detail: fields["detail"].flatMap { $0.isEmpty ? nil : $0 })
            }
        }
    }
}
