// One file because every store operation a session performs is one switch, from the machine's `StoreOperation` to the
// store's call and back to a `StoreReply`: reading it whole shows what each request costs Redis.

import ChatArchive
import ChatCore
import ChatStore
import ChatTracing
import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// Runs the store operations a session's machine asks for, against Redis (`ChatStore`) and the node's pub/sub
/// relay, and feeds each result back to the machine on the session's loop.
extension SessionHandler {
    func perform(_ operation: StoreOperation, id: RequestID?) {
        switch operation {
        case .publish: node.metrics.messagesIn.increment()
        case .sendDirect: node.metrics.directMessages.increment()
        default: break
        }
        let span = requestSpan(for: operation)
        run(operation, traced: span).hop(to: hub.eventLoop).assumeIsolated()
            .whenComplete { result in
                let result = result.mapError { Self.clientError($0) }
                if case .failure(let error) = result { self.logUnexpected(error, in: operation) }
                if case .success(.published(_, confirmed: false, _)) = result {
                    self.node.metrics.messagesUnconfirmed.increment()
                }
                self.apply(self.machine.completed(operation, id: id, result, now: Self.clock()))
                // After the answer is written: the request's span covers the whole of it.
                if let span { self.finish(span, result) }
                self.processInbox()
            }
    }

    /// `traced`: the request's span, when it is traced (`SessionHandler+Tracing.swift`).
    private func run(_ operation: StoreOperation, traced: Span?) -> EventLoopFuture<StoreReply> {
        let now = WallClock.now()
        // A page holds at most this much text: the store reads little more than that (`ChatStore.history`).
        let pageBytes = configuration.limits.historyPageBytes
        let check = node.historyCheck
        // Read from the machine's view: these run for every message (see `SessionMachine.View`).
        // A session's own claim token; operations that need it run only while it is active.
        let token = machine.view.token ?? ""
        let origin = machine.sessionID
        // Logins name their user; every other operation is the named session's own, and a session that lost its
        // name meanwhile (it closed while this waited its turn) gets none.
        switch (operation, machine.view.userName) {
        case (.claim(let name, let login, let keeping), _):
            inheritRateDebt()
            return claim(name, login: login, keeping: keeping).map { .claimed($0) }
        case (.checkPassword(let name, let password), _):
            return checkPassword(name, password: password).map { .done }
        case (_, nil):
            return hub.eventLoop.makeFailedFuture(SessionClosed())
        case (.takeHeldDirects, let user?):
            return store.takeHeldDirects(user, token: token).map { .directs($0) }
        case (.register(let password), let user?):
            return register(user, token: token, password: password).map { .done }
        case (.changePassword(let old, let new), let user?):
            return changePassword(user, token: token, old: old, new: new).map { .done }
        case (.unregister(let password), let user?):
            // The rooms the name owned become ordinary ones: a name unregistered owns nothing.
            let store = self.store
            return changePassword(user, token: token, old: password, new: nil).flatMap {
                store.giveUpRooms(of: user, now: WallClock.now(), origin: origin)
                    .and(store.forgetAccountState(of: user)).and(store.endOperator(user, token: token)).map { _ in }
            }.map { .done }
        case (.listenToUser(let name), _?):
            // One more connection of a person connected elsewhere hears the person's channel only from now: a
            // password change that closed the others in between is read from the list it was taken off.
            let attached = machine.active?.grant.sharedRooms != nil
            let store = self.store
            return listen(ChatKeys.userChannel(name.key)).flatMap {
                guard attached else { return self.hub.eventLoop.makeSucceededFuture(.done) }
                return store.isListed(name, connection: origin).hop(to: self.hub.eventLoop).map { listed in
                    if !listed { self.nameLost(token: token) }
                    return .done
                }
            }
        case (.subscribe(let room), _?):
            return listen(ChatKeys.roomChannel(room)).map { .done }
        case (.recordJoin(let room, let key), let user?):
            let roomList = node.roomList
            return store.join(
                room, user: user, token: token, now: now, origin: origin, address: addressGroup,
                addressBits: BanMask.addressBits(ofClient: clientIP), key: key, away: machine.view.away
            ).map {
                roomList.noteChange()
                return .done
            }
        case (.rollbackJoin(let room), let user?):
            return store.leave(room, user: user, token: token, reason: .left, now: now, origin: origin).map { .done }
        case (.recordLeave(let room, let message), let user?):
            let roomList = node.roomList
            return store.leave(
                room, user: user, token: token, reason: .left, now: now, origin: origin, message: message
            )
            .map {
                roomList.noteChange()
                return .done
            }
        case (.readHistory(let room, nil, let count, let marker), let user?):
            // The topic (and, for a name that keeps read markers, the unread count) are read beside the history, on
            // the same connection: no round trip more.
            return store.history(room, count: count, bytes: pageBytes).and(topic(room))
                .and(unread(room, after: marker, user: user)).map { read, unread in
                    let (messages, topic) = read
                    return .joinRead(
                        Self.shown(messages, in: room, check: check), maxDeleted: nil, keptFrom: nil, topic: topic,
                        unread: unread)
                }
        case (.readHistory(let room, .some(let after), let count, let marker), let user?):
            return store.page(room, after: after, limit: count, bytes: pageBytes).and(topic(room))
                .and(unread(room, after: marker, user: user)).map { read, unread in
                    let (page, topic) = read
                    return .joinRead(
                        Self.shown(page.messages, in: room, check: check), maxDeleted: page.maxDeleted,
                        keptFrom: page.keptFrom, topic: topic,
                        changes: Self.shown(page.changes, in: room, check: check),
                        unread: unread)
                }
        case (.markRead(let room, let id), let user?):
            return store.markRead(room, upTo: id, user: user, origin: origin).map { .marked($0) }
        case (.historyAfter(let room, let after, let count), _?):
            return store.page(room, after: after, limit: count, bytes: pageBytes).map { page in
                .page(
                    Self.shown(page.messages, in: room, check: check), maxDeleted: page.maxDeleted,
                    keptFrom: page.keptFrom, changes: Self.shown(page.changes, in: room, check: check))
            }
        case (.publish(let message), let user?):
            let upkeep = PublishUpkeep(
                renewsRoom: hub.roomUpkeep.renews(message.room, now: message.time),
                marksActive: activeMarks.marks(now: message.time))
            let publishing = publishSpan(in: traced, channel: ChatKeys.roomChannel(message.room))
            return store.publishMessage(
                message, user: user, origin: origin, upkeep: upkeep, trace: publishing?.context.traceparent
            ).map {
                .published($0.id, confirmed: $0.confirmed, replyTo: $0.replyTo)
            }.ended(publishing)
        case (.changeMessage(let room, let target, let action, let author, let time, let serverOperator), let user?):
            return store.changeMessage(
                in: room, target: target, action: action, user: user, author: author, now: time, origin: origin,
                serverOperator: serverOperator
            ).map { done in done.change.map { .changed($0, confirmed: done.confirmed) } ?? .done }
        case (.sendDirect(let message, let target), let user?):
            let publishing = publishSpan(in: traced, channel: ChatKeys.userChannel(target.key))
            return store.sendDirect(
                message, to: target.key, origin: origin,
                sender: (user.key, machine.view.isRegistered, machine.view.author),
                trace: publishing?.context.traceparent
            ).map { $0.delivered ? .directSent(recipientAway: $0.recipientAway) : .delivered(false) }
                .ended(publishing)
        case (.shareJoin(let room), let user?):
            return store.tellConnections(of: user.key, .joinedElsewhere(room: room), origin: origin).map { .done }
        case (.shareLeave(let room), let user?):
            return store.tellConnections(of: user.key, .leftElsewhere(room: room), origin: origin).map { .done }
        case (.publishTyping(let room), let user?):
            return store.publishTyping(room, user: user, now: now, origin: origin).map { .done }
        case (.setPresence(let away), let user?):
            let time = machine.view.lastActive ?? now
            return store.setPresence(user, away: away, now: time, origin: origin).map { .done }
        case (.readTopic(let room), _?):
            return topic(room).map { .topic($0) }
        case (.setTopic(let room, let topic), let user?):
            return store.setTopic(topic, in: room, user: user, origin: origin).map { .done }
        case (.moderate(let room, let changes, let reason, let removing), let user?):
            let roomList = node.roomList
            let line = ModerationText.modeLine(changes, showingKeys: false)
            let audited = AuditEntry(
                time: now, actor: user.display, action: "mode",
                target: ([line.modes] + line.arguments).joined(separator: " "),
                room: room.value, detail: reason)
            return store.moderate(
                room, actor: user, changes: changes, reason: reason, removing: removing, now: now, origin: origin
            ).map {
                self.audit(audited)
                // A room made secret (or no longer) is listed differently from now on, here at once.
                if changes.contains(where: { if case .flag(.secret, _) = $0 { true } else { false } }) {
                    roomList.noteChange()
                }
                return .moderated(removed: $0)
            }
        case (.kick(let room, let target, let reason), let user?):
            return store.kick(room, actor: user, target: target, reason: reason, now: now, origin: origin).map {
                self.audit(
                    AuditEntry(
                        time: now, actor: user.display, action: "kick", target: $0, room: room.value, detail: reason))
                return .moderated(removed: $0)
            }
        case (.readSettings(let room), _?):
            return store.roomSettings(room).map { .settings($0) }
        case (.readBans(let room), let user?):
            return store.bans(room, actor: user, now: now).map { .bans($0) }
        case (.invite(let room, let target), let user?):
            return store.invite(
                room, actor: user, actorRegistered: machine.view.isRegistered, target: target, now: now, origin: origin
            ).map { recorded in
                if recorded {
                    self.audit(
                        AuditEntry(
                            time: now, actor: user.display, action: "invite", target: target.display, room: room.value))
                }
                return .delivered(recorded)
            }
        case (.registerRoom(let room, .info, _), let user?):
            return store.registration(of: room, viewer: user).map { .registration($0) }
        case (.registerRoom(let room, let request, let asServerOperator), let user?):
            return store.changeRegistration(
                room, request, actor: user, unregistering: asServerOperator ? .serverOperator : .owner,
                address: addressGroup, now: now, origin: origin
            ).map { owner, previous in
                let action =
                    switch request {
                    case .register: "register"
                    case .transfer: "transfer"
                    default: "unregister"
                    }
                self.audit(
                    AuditEntry(
                        time: now, actor: user.display, action: action, target: owner ?? previous ?? "",
                        room: room.value))
                return .registered(owner: owner, previous: previous)
            }
        case (.operate(.ban(let mask, let until, let reason), _), let user?)
        where NetworkBans([RoomBan(mask: mask.text, by: "", time: 0, until: until, reason: reason)])
            .ban(for: user, address: clientIP, now: now) != nil:
            // Nobody locks themselves out by a typo in a range.
            return hub.eventLoop.makeFailedFuture(
                ChatError(.badRequest, "\(mask.text) matches you: a network ban would disconnect you too"))
        case (.operate(let action, let by), _?):
            let node = self.node
            return store.operate(action, by: by, now: now).map { reply in
                node.logOperatorAction(action, by: by)
                return reply
            }
        case (.readMOTD, _?):
            return hub.eventLoop.makeSucceededFuture(.motd(node.network.motd))
        case (.publishTags(let message, let target), let user?):
            return store.publishTags(
                message, to: target?.key, origin: origin, sender: (user.key, machine.view.isRegistered)
            ).map { $0 ? .done : .delivered(false) }
        case (.setBot(let on), let user?):
            return store.setBot(user, token: token, on: on).map { .done }
        case (.rename(let from, let to, let rooms), _?):
            return rename(from: from, to: to, rooms: rooms, now: now)
        case (.awaitRelay, _):
            // At most a second: a Redis that does not answer must not keep the pong (and what follows) waiting.
            let loop = hub.eventLoop
            let answered = loop.makePromise(of: StoreReply.self)
            let deadline = loop.scheduleTask(in: .seconds(1)) { answered.succeed(.done) }
            // Through the loop's queue even when the barrier completes on it (the subscriber's loop): the events
            // it handed this loop before completing are queued there, and must be written first.
            node.relay.barrier().whenComplete { _ in
                loop.execute {
                    deadline.cancel()
                    answered.succeed(.done)
                }
            }
            return answered.futureResult
        case (.readCounts, _?):
            return node.clusterCounts(on: hub.eventLoop).map { .counts($0) }
        case (.forgetRoom(let room), let user?):
            return store.forgetRoom(room, user: user).map { .done }
        case (.block(let target, let on), let user?):
            return store.block(target, by: user, on: on).map {
                self.preferences.blocked[target.key] = on ? target.display : nil
                return .done
            }
        case (.readBlocks, _?):
            let names = preferences.blocked.values.sorted { $0.lowercased() < $1.lowercased() }
            return hub.eventLoop.makeSucceededFuture(.blocks(names: names, registeredOnly: preferences.refusesGuests))
        case (.setDirectMessages(let registeredOnly), let user?):
            return store.setDirectMessages(user, registeredOnly: registeredOnly)
                .map {
                    self.preferences.refusesGuests = registeredOnly
                    return .done
                }
        case (.who(let room, let listing), _?):
            return node.memberListings.who(room, listing: listing).map { .members($0) }
        case (.listRooms, _?):
            return node.roomList.rooms().map { .rooms($0) }
        case (.history(let room, let count, let before), _?):
            return store.historyPage(room, count: count, before: before, bytes: pageBytes).flatMap { read in
                // Short of a page because the stream holds no more (it was trimmed, or expired): the archive has
                // what came before, and reads on from the oldest message Redis gave, so the seam has no duplicate.
                guard let archive = self.node.archive, read.messages.count < count, read.reachedStart else {
                    return self.store.eventLoop.makeSucceededFuture(read.messages)
                }
                let older = self.store.eventLoop.makePromise(of: [ChatMessage].self)
                let oldest = read.messages.first?.id ?? before
                older.completeWithTask {
                    try await archive.history(room: room.value, before: oldest, count: count - read.messages.count)
                }
                // The archive unreachable: what Redis holds is still a page.
                // The archive unreachable or busy: what Redis holds is still a page (the next one asks again); with
                // nothing from Redis either, the reader is told why rather than that the room has no more.
                return older.futureResult.map { $0 + read.messages }.flatMapErrorThrowing { error in
                    guard read.messages.isEmpty else { return read.messages }
                    throw Self.archiveError(error, doing: "read further back")
                }
            }.map { .messages(Self.shown($0, in: room, check: check)) }
        case (.seen(let name), _?):
            return store.seen(name.key, now: now).map { .seen($0) }
        case (.search(let search, let terms, let rooms, let before, let after), _?):
            guard let archive = node.archive else {
                return store.eventLoop.makeFailedFuture(ChatError(.noArchive, "this server keeps no archive"))
            }
            let found = store.eventLoop.makePromise(of: (found: [SearchHit], more: Bool).self)
            let logger = node.logger
            // The person's own direct messages are searched with their rooms, unless one room is asked for.
            let author = machine.view.author
            let query = ChatArchive.SearchQuery(
                terms: terms, rooms: rooms.map(\.value), author: search.room == nil && !author.isEmpty ? author : nil,
                from: search.from, before: before, after: after, limit: SearchRequest.pageSize,
                offset: (search.page - 1) * SearchRequest.pageSize)
            found.completeWithTask { try await archive.search(query) }
            return found.futureResult
                .flatMapErrorThrowing { error in
                    if !(error is ArchiveBusy) {
                        logger.warning(
                            "archive search failed", metadata: ["error": "\(ChatArchive.describe(error))"])
                    }
                    throw Self.archiveError(error, doing: "search")
                }
                .map { found in
                    .found(
                        check.withLockedValue { check in
                            found.found.filter { hit in
                                switch hit {
                                case .message(let message): check.problem(.message(message), in: message.room) == nil
                                case .direct(let direct, _): check.problem(.direct(direct), in: nil) == nil
                                }
                            }
                        }, more: found.more)
                }
        case (.forgetMine(let before), let user?):
            guard let archive = node.archive else {
                return store.eventLoop.makeFailedFuture(ChatError(.noArchive, "this server keeps no archive"))
            }
            let author = machine.view.author
            let forgotten = store.eventLoop.makePromise(of: Int.self)
            let logger = node.logger
            forgotten.completeWithTask { try await archive.forget(author: author, before: before) }
            return forgotten.futureResult.flatMapErrorThrowing { error in
                logger.warning(
                    "archive forget failed", metadata: ["error": "\(ChatArchive.describe(error))"])
                throw Self.archiveError(error, doing: "remove your messages")
            }.map { count in
                logger.info(
                    "archive: a person's messages removed at their asking",
                    metadata: ["user": "\(user.key)", "archive.removed": "\(count)"])
                return .forgotten(count)
            }
        case (.online(let names), _?):
            return store.online(names).map { .online($0) }
        }
    }

    /// History without the messages of people this person blocks (as live delivery leaves them out).
    func unblocked(_ messages: [ChatMessage]) -> [ChatMessage] {
        guard !preferences.blocked.isEmpty else { return messages }
        return messages.filter { !isBlocked(sender: $0.from) }
    }

    /// A room moderator's action, in the audit log and the node's log (the action is done: a failed write is not
    /// the operator's concern).
    func audit(_ entry: AuditEntry) {
        node.logger.notice(
            "moderation",
            metadata: [
                "moderation.actor": "\(entry.actor)", "moderation.action": "\(entry.action)",
                "moderation.target": "\(entry.target)", "moderation.room": "\(entry.room ?? "")",
            ])
        _ = store.audit(entry)
    }

    /// A store failure the client hears of only as "unreachable" although Redis answered: Redis refused the command
    /// or a script failed (a bug, or an ACL user without a permission). Logged, a few a second at most, since a
    /// failing script fails for everyone. Only the operation's kind: its arguments hold tokens and message text.
    private func logUnexpected(_ error: any Error, in operation: StoreOperation) {
        guard let redis = error as? RedisError, redis.code == .server || redis.code == .protocolViolation else {
            return
        }
        let log = node.unexpectedStoreErrorLog.admit()
        guard log.admitted else { return }
        node.logger.error(
            "Redis refused a store operation",
            metadata: [
                "store.operation": "\(String(describing: operation).prefix { $0 != "(" })",
                "redis.error": "\(redis.message.prefix(300))",
                "log.suppressed": "\(log.suppressed)",
            ])
    }

    /// The room's topic as a join or `/topic` shows it: one that no node would have stored is not shown, and a
    /// topic that cannot be read (a key of the wrong type, say) is no topic rather than a failed join.
    /// How many messages from others came after `marker` (nil: the name keeps no marker there, nothing is read);
    /// a failed count is no count, not a failed join.
    private func unread(_ room: RoomName, after marker: StreamID?, user: UserName) -> EventLoopFuture<ReadMarker?> {
        guard let marker else { return hub.eventLoop.makeSucceededFuture(nil) }
        return store.unreadCount(room, after: marker, skipping: user, author: machine.view.author).map {
            count, more in
            ReadMarker(room: room, id: marker, unread: count, more: more)
        }.recover { _ in nil }
    }

    private func topic(_ room: RoomName) -> EventLoopFuture<RoomTopic?> {
        store.topic(room).map { topic in topic.flatMap { $0.isStorable ? $0 : nil } }.recover { _ in nil }
    }

    /// History as read from Redis, without what no node would have stored (see `RelayCheck`; the relay logs
    /// such events as they are published). A page keeps its size limits: it can only get shorter.
    /// What of a page read from history may be shown (`RelayCheck`), with the node's memory of names and rooms
    /// already found valid: a page of 200 messages from 200 names costs hash lookups, not 200 Unicode analyses,
    /// from the second read on.
    static func shown(
        _ messages: [ChatMessage], in room: RoomName, check: NIOLockedValueBox<RelayCheck>
    ) -> [ChatMessage] {
        check.withLockedValue { check in messages.filter { check.problem(.message($0), in: room) == nil } }
    }

    /// What a session is told when the archive fails it: busy (too many reads on this node) is a rate limit;
    /// anything else (unreachable, a statement stopped at its time limit) is `no-archive`.
    static func archiveError(_ error: any Error, doing what: String) -> ChatError {
        if error is ArchiveBusy {
            return ChatError(.rateLimited, "the archive is busy; \(what) again in a moment")
        }
        return ChatError(.noArchive, "the archive cannot \(what) right now; try again later")
    }

    /// The changes read with a page, as the relay would have let them through.
    static func shown(
        _ changes: [MessageChange], in room: RoomName, check: NIOLockedValueBox<RelayCheck>
    ) -> [MessageChange] {
        check.withLockedValue { check in changes.filter { check.problem(.messageChanged($0), in: room) == nil } }
    }

    /// What the client is told of a store failure: Redis at its memory limit refuses writes with OOM, which is the
    /// store being full for this request (reads and everything already running go on).
    static func clientError(_ error: any Error) -> any Error {
        if let refusal = ChatStore.refusal(error) { return refusal }
        guard let redis = error as? RedisError, redis.code == .server, redis.message.hasPrefix("OOM") else {
            return error
        }
        return ChatError(.storeFull, "the chat store is full right now, so that was not saved; try again later")
    }

    /// Completes once Redis confirms the subscription, so nothing published afterwards can be missed.
    /// A name change: refused first from memory for a name the network bans or the deployment keeps for a server
    /// operator (who logs in to it); then the new name's direct messages are listened to before the store moves the
    /// session (none is missed), and the old name's no longer after.
    func rename(from: UserName, to: UserName, rooms: [RoomName], now: Millis) -> EventLoopFuture<StoreReply> {
        let loop = hub.eventLoop
        guard let token = machine.view.token else { return loop.makeFailedFuture(SessionClosed()) }
        let store = self.store
        let origin = machine.sessionID
        guard from.key != to.key else {
            return store.rename(from: from, to: to, token: token, rooms: rooms, now: now, origin: origin)
                .map { .done }
        }
        if let ban = node.network.ban(for: to, address: clientIP) {
            return loop.makeFailedFuture(NetworkBans.refusal(ban))
        }
        if configuration.operators.contains(to.key) {
            return loop.makeFailedFuture(
                ChatError(.nameTaken, "'\(to.display)' is a server operator's name: log in to it with its password"))
        }
        let oldChannel = ChatKeys.userChannel(from.key)
        let newChannel = ChatKeys.userChannel(to.key)
        return listen(newChannel).flatMap {
            store.rename(from: from, to: to, token: token, rooms: rooms, now: now, origin: origin)
        }.hop(to: loop).assumeIsolated().map { () -> StoreReply in
            guard self.machine.view.token == token else {
                // The session ended while its name changed: its end released the old name; the new one, claimed
                // after that perhaps, goes now (the release is guarded by the token: twice is harmless).
                self.stopListening(newChannel)
                _ = self.node.release(
                    PendingRelease(user: to, token: token, time: WallClock.now(), reason: .nameLost, origin: origin))
                return .done
            }
            self.stopListening(oldChannel)
            self.hub.named(self, key: to.key, previous: from.key)
            self.banIdentity = nil  // the network's bans are matched against the new name from now on
            self.logger.info(
                "session renamed", metadata: ["session.name": "\(to.display)", "session.previous": "\(from.display)"])
            return .done
        }.flatMapError { error in
            self.stopListening(newChannel)
            return loop.makeFailedFuture(error)
        }.nonisolated()
    }

    func listen(_ channel: String) -> EventLoopFuture<Void> {
        hub.listen(self, to: channel)
        return node.relay.attach(channel, hub: hub)
    }

    func stopListening(_ channel: String) {
        hub.stopListening(self, to: channel)
        node.relay.detach(channel, hub: hub)
    }
}

/// A session that closed while one of its requests was waiting on Redis.
struct SessionClosed: Error {}
