// One file because every store result is answered in one switch, whose cases are read against each other (a join
// is three results in a row; moderation replies repeat what the relay tells the room).
/// Store results, and the steps of naming and joining that they drive.
///
/// A join subscribes first, then records the membership, then reads the history: everything published after the
/// subscription is live (held back meanwhile), everything before it is in the history, and the overlap is removed
/// by message id when the held events are replayed. Nothing twice, nothing out of order.
extension SessionMachine {
    /// The result of an operation this machine asked for, with the id it was asked with.
    public mutating func completed(
        _ operation: StoreOperation, id: RequestID?, _ result: Result<StoreReply, any Error>, now: SessionClock
    ) -> [SessionAction] {
        if operation.holdsInput { isWaiting = false }
        let actions = handleCompletion(operation, id: id, result, now: now)
        if actions.contains(where: \.holdsInput) { isWaiting = true }
        return actions
    }

    private mutating func handleCompletion(
        _ operation: StoreOperation, id: RequestID?, _ result: Result<StoreReply, any Error>, now: SessionClock
    ) -> [SessionAction] {
        if case .claim(let name, _, _) = operation { return claimed(name, id: id, result, now: now) }
        // The acknowledgement of a message, the commonest completion by far, changes nothing in the session: it is
        // answered without taking the session out of the state and putting it back (a copy of every field).
        if case .publish(let message) = operation,
            case .success(.published(let messageID, let confirmed, let replyTo)) = result, relay.isActive
        {
            return Self.acknowledged(message.stored(as: messageID, replyTo: replyTo), confirmed: confirmed, id: id)
        }
        if case .checkPassword = operation, !isClosing {
            switch result {
            case .success: return [.send(.ok("password accepted"), id: id)]
            case .failure(let error): return [.send(.error(Self.storeError(error)), id: id)]
            }
        }
        if case .listenToUser = operation, case .failure(let error) = result, active != nil {
            // Without its direct-message channel the session is not whole: say why, and give up the name.
            return [.send(.error(Self.storeError(error)), id: id)] + close(.disconnected)
        }
        if case .rename = operation, case .failure(let error) = result, var session = active {
            if let refusal = error as? ChatError, refusal.code != .redisUnavailable {
                // Refused before anything moved (the claim is the first step, and refuses whole).
                session.renaming = nil
                state = .active(session)
                return [.send(.error(refusal), id: id)]
            }
            // The store failed midway: both names may hold parts of the session. It ends, releasing both.
            let failure = ChatError(.redisUnavailable, "your name change failed midway; reconnect to pick a name")
            return [.send(.error(failure), id: id)] + close(.nameLost)
        }
        if case .closing = state { return acknowledgementWhileClosing(operation, id: id, result) }
        guard var session = active else { return [] }
        defer { state = .active(session) }
        let answer: StoreReply
        switch result {
        case .success(let value): answer = value
        case .failure(let error): return failed(operation, id: id, error: error, session: &session)
        }
        switch (operation, answer) {
        case (.listenToUser, _):
            // A resumed session first collects the direct messages that waited for it.
            if session.resumed { return [.perform(.takeHeldDirects, id: id)] }
            return welcome(id: id, session: &session)
        case (.takeHeldDirects, .directs(let directs)):
            return welcome(id: id, directs: directs, session: &session)
        case (.register, _):
            // The session set the password: it is the account's, as a login with it would be.
            session.grant.isRegistered = true
            return [
                .send(
                    .ok("\(session.user.display) is registered: from now on it takes this password, on every node"),
                    id: id)
            ]
        case (.changePassword, _):
            return [.send(.ok("password changed"), id: id)]
        case (.unregister, _):
            session.grant.isRegistered = false
            // Only when a reload listed the name while its unregistering was under way (a listed name's is refused).
            let wasOperator = session.grant.isServerOperator
            session.grant.isServerOperator = false
            return [
                .send(.ok("\(session.user.display) is a guest name again: anyone may take it once you leave"), id: id)
            ] + (wasOperator ? [.send(.serverOperatorEnded, id: nil)] : [])
        case (.subscribe(let room), _):
            guard let join = session.joining, join.room == room else { return [] }
            return [.perform(.recordJoin(room, key: join.key), id: id)]
        case (.recordJoin(let room, _), _):
            guard var join = session.joining, join.room == room else { return [] }
            join.recorded = true
            session.joining = join
            return [.perform(readHistory(for: join, session: session), id: id)]
        case (
            .readHistory(let room, let after, let count, _),
            .joinRead(let read, let maxDeleted, let keptFrom, let topic, let changes, let unread)
        ):
            guard let join = session.joining, join.room == room else { return [] }
            session.joining = nil
            if !session.rooms.contains(room) { session.rooms.append(room) }
            session.current = room
            let direction: HistoryPaging.Direction = after == nil ? .backward : .forward
            let (page, more) = paging.page(read, wanted: count - 1, direction: direction)
            let gap = after.flatMap { gapNotice(room, after: $0, maxDeleted: maxDeleted, keptFrom: keptFrom) }
            let joined = ChatEvent.youJoined(room: room, history: page, more: after != nil && more)
            // The topic follows the join, so a client that shows one per room clears it on `joined` and sets it
            // here; a room without one sends nothing.
            let topicShown: [SessionAction] = topic.map { [.send(.topic(room: room, $0), id: id)] } ?? []
            // What was done meanwhile to messages the client already had (a resume's): after them, as it happened.
            let changed = Self.replayed(changes, upTo: more ? page.last?.id : nil)
            // Where it was read up to (IRC's MARKREAD comes after the JOIN whether or not there is one).
            var marker = unread ?? ReadMarker(room: room, id: session.grant.readMarkers[room])
            marker.afterJoin = true
            // The person's other connections (a registered name may have several) join it too.
            let shared: [SessionAction] =
                join.shared || join.isCatchUp || !session.grant.isRegistered
                ? [] : [.perform(.shareJoin(room), id: nil)]
            return (gap.map { [$0] } ?? []) + [.send(joined, id: id)] + changed + [.send(.readMarker(marker), id: id)]
                + topicShown + shared
                + [.replayHeld(room, after: page.last?.id)] + nextRestore(session: &session)
        case (.recordLeave(let room, let message), _):
            let shared: [SessionAction] = session.grant.isRegistered ? [.perform(.shareLeave(room), id: nil)] : []
            return [.send(.youLeft(room: room, message: message), id: id)] + shared
        case (.publish(let message), .published(let messageID, let confirmed, let replyTo)):
            return Self.acknowledged(message.stored(as: messageID, replyTo: replyTo), confirmed: confirmed, id: id)
        case (.markRead(let room, let marked), let reply):
            // The store's word is the marker: another device may have moved it further meanwhile.
            let stored: StreamID? = if case .marked(let kept?) = reply { kept } else { nil }
            let newest = max(session.grant.readMarkers[room] ?? .zero, stored ?? marked)
            session.grant.readMarkers[room] = newest
            return [.send(.readMarker(ReadMarker(room: room, id: newest)), id: id)]
        case (.changeMessage, .changed(let change, let confirmed)):
            let warning = ChatError(
                .unconfirmed,
                "that change was made, but Redis's replicas did not confirm it in time: a failover now may undo it")
            return [.send(.messageChanged(change), id: id)] + (confirmed ? [] : [.send(.error(warning), id: id)])
        case (.changeMessage(_, _, let action, _, _, _), _):
            // Nothing to change: the reaction was there already, or was not there to take back.
            let said =
                switch action {
                case .react(let emoji): "you had reacted \(emoji) to that message already"
                case .unreact(let emoji): "you had not reacted \(emoji) to that message"
                default: "nothing changed"
                }
            return [.send(.ok(said), id: id)]
        case (.sendDirect(let message, _), .delivered):
            return reply(ChatError(.noSuchUser, "nobody called '\(message.to)' is connected"), id)
        case (.sendDirect(let message, _), .directSent(let away)):
            // IRC's 301 comes before the message's own reply (its echo), as servers send it; never for a notice,
            // which nothing answers automatically.
            let told = message.isNotice ? nil : away
            return (told.map { [.send(.recipientAway(name: message.to, text: $0), id: id)] } ?? [])
                + [.send(.direct(message), id: id)]
        case (.readTopic(let room), .topic(let topic)):
            return [.send(.topic(room: room, topic), id: id)]
        case (.setTopic(let room, let topic), _):
            // The setter's own change: the relay skips it, as it skips the session's own messages.
            return [.send(.topicChanged(room: room, topic), id: id)]
        case (.setPresence(let away), _):
            return [.send(.ok(away.map { "you are marked away: \($0)" } ?? "you are back"), id: id)]
        case (.who(let room, let listing), .members(let page)):
            // Every member listed cost the store a lookup: past the first page's worth, paid in tokens, one per 500
            // (IRC's NAMES and WHO list up to `maximumListed` in one reply; a client autojoining twenty big
            // channels waits seconds for it, not minutes).
            if listing == .everyone, page.members.count > MemberListing.pageSize {
                let extra = (page.members.count - MemberListing.pageSize + 499) / 500
                bucket.charge(Double(extra), nowNanos: now.uptimeNanos)
            }
            return [.send(.who(room: room, members: page.members, total: page.total, next: page.next), id: id)]
        case (.listRooms, .rooms(let all)):
            // A secret room is not listed to people outside it, nor counted for them.
            let rooms = all.filter { !$0.secret || session.rooms.contains($0.room) }
            let listed =
                rooms.count > settings.limits.maximumListedRooms
                ? rooms.sorted { $0.members > $1.members }.prefix(settings.limits.maximumListedRooms).sorted {
                    $0.room < $1.room
                }
                : rooms
            let summaries = listed.map {
                RoomSummary(room: $0.room, members: $0.members, joined: session.rooms.contains($0.room))
            }
            return [.send(.rooms(summaries, current: session.current, total: rooms.count), id: id)]
        case (.history(let room, let count, _), .messages(let read)):
            let (page, more) = paging.page(read, wanted: count - 1, direction: .backward)
            return [.send(.history(room: room, messages: page, more: more), id: id)]
        case (
            .historyAfter(let room, let after, let count), .page(let read, let maxDeleted, let keptFrom, let changes)
        ):
            let (page, more) = paging.page(read, wanted: count - 1, direction: .forward)
            // Told with the request's id: it belongs to this reply (IRC's CHATHISTORY keeps it out of its batch).
            let gap =
                gapNotice(room, after: after, maxDeleted: maxDeleted, keptFrom: keptFrom, id: id).map { [$0] } ?? []
            return gap + [.send(.history(room: room, messages: page, more: more), id: id)]
                + Self.replayed(changes, upTo: more ? page.last?.id : nil)
        case (.online, .online(let users)):
            return [.send(.online(users), id: id)]
        case (.forgetMine, .forgotten(let count)):
            return [.send(.forgotten(count: count), id: id)]
        case (.search(let search, _, _, _, _), .found(let found, let more)):
            return [.send(.searchResults(SearchResults(of: search, found: found, more: more)), id: id)]
        case (.seen(let name), .seen(let record)):
            return [.send(.seen(record ?? .never(name: name.display), now: now.wall), id: id)]
        // Moderation: the room hears it through the relay; the operator, whose own events the relay skips, is
        // answered with the same events.
        case (.moderate(let room, let changes, let reason, _), .moderated(let removed)):
            let me = session.user.display
            let kick = removed.map {
                [SessionAction.send(.kicked(room: room, name: $0, by: me, reason: reason, time: now.wall), id: id)]
            }
            return [.send(.modeChanged(room: room, by: me, changes: changes, time: now.wall), id: id)] + (kick ?? [])
        case (.kick(let room, let target, let reason), .moderated(let removed)):
            let name = removed ?? target.display
            return [
                .send(.kicked(room: room, name: name, by: session.user.display, reason: reason, time: now.wall), id: id)
            ]
        case (.readSettings(let room), .settings(var settings)):
            // The key is the members' to know, as IRC shows it.
            if settings.key != nil, !session.rooms.contains(room) { settings.key = "*" }
            return [.send(.roomSettings(room: room, settings), id: id)]
        case (.readBans(let room), .bans(let bans)):
            return [.send(.bans(room: room, bans), id: id)]
        case (.invite(let room, let target), .delivered(let recorded)):
            // An operator's invitation lets its person in; a member's only tells them.
            let text =
                recorded
                ? "\(target.display) is invited to #\(room) for an hour"
                : "\(target.display) is told you invite them to #\(room)"
            return [.send(.ok(text), id: id)]
        case (.registerRoom(_, .info, _), .registration(let registration)):
            return [.send(.roomRegistration(registration), id: id)]
        case (.registerRoom(let room, _, _), .registered(let owner, let previous)):
            let event = ChatEvent.roomRegistered(
                room: room, owner: owner, previous: previous, by: session.user.display, time: now.wall)
            return [.send(event, id: id)]
        case (.operate, .networkBans(let bans)):
            return [.send(.networkBans(bans), id: id)]
        case (.operate, .audit(let entries)):
            return [.send(.auditLog(entries), id: id)]
        case (.operate(let action, _), _):
            return [.send(.ok(action.doneText), id: id)]
        case (.readMOTD, .motd(let text)):
            return [.send(.motd(text), id: id)]
        case (.awaitRelay, _):
            return [.send(.pong, id: id)]
        case (.publishTags(let message, _), .delivered(false)):
            return reply(ChatError(.noSuchUser, "nobody called '\(message.to ?? "")' is connected"), id)
        case (.publishTags(let message, _), _):
            return [.send(.tagMessage(message), id: id)]
        case (.setBot(let on), _):
            session.isBot = on
            return [.send(.ok(on ? "you are marked a bot" : "you are no longer marked a bot"), id: id)]
        case (.rename(let from, let to, _), _):
            session.user = to
            session.renaming = nil
            return [.send(.renamed(room: nil, from: from.display, to: to.display, time: now.wall), id: id)]
        case (.readCounts, .counts(let counts)):
            return [.send(.counts(counts), id: id)]
        case (.block(let name, true), _):
            return [.send(.ok("\(name.display) is blocked: their messages no longer reach you"), id: id)]
        case (.block(let name, false), _):
            return [.send(.ok("\(name.display) is no longer blocked"), id: id)]
        case (.readBlocks, .blocks(let names, let registeredOnly)):
            return [.send(.blocks(names: names, registeredOnly: registeredOnly), id: id)]
        case (.setDirectMessages(let registeredOnly), _):
            let text =
                registeredOnly
                ? "direct messages from guests are refused; registered names may still write to you"
                : "anyone may send you direct messages"
            return [.send(.ok(text), id: id)]
        default:
            // Typing, a rolled-back join, or a reply that does not fit its operation: nothing to tell.
            return []
        }
    }

    /// A message's acknowledgement; one the replicas did not confirm in time (`--ack-replicas`) is followed by an
    /// `unconfirmed` error with the same request id. The message stays sent: it was delivered and is in the
    /// history, so a client must not send it again; it only may not survive a failover.
    /// Changes read with a page, to messages the client had before it: those up to the page's last message when more
    /// pages follow (the next page brings the rest). Sent as the live events they were (no request id: to IRC a
    /// change with one is its actor's own echo).
    static func replayed(_ changes: [MessageChange], upTo end: StreamID?) -> [SessionAction] {
        changes.filter { change in end.map { change.id <= $0 } ?? true }.map { .send(.messageChanged($0), id: nil) }
    }

    static func acknowledged(_ message: ChatMessage, confirmed: Bool, id: RequestID?) -> [SessionAction] {
        let sent: SessionAction = .send(.sent(message), id: id)
        guard !confirmed else { return [sent] }
        let warning = ChatError(
            .unconfirmed,
            "message \(message.id) in \(message.room.value) was delivered, but Redis's replicas did not confirm it in "
                + "time: a failover now may lose it from the history (do not send it again)")
        return [sent, .send(.error(warning), id: id)]
    }

    /// A message sent just before `quit` (or the end of a script's input) is still acknowledged, or its failure
    /// told, while the connection is open: a program learns whether its last message was stored.
    private func acknowledgementWhileClosing(
        _ operation: StoreOperation, id: RequestID?, _ result: Result<StoreReply, any Error>
    ) -> [SessionAction] {
        switch (operation, result) {
        case (.publish(let message), .success(.published(let messageID, let confirmed, let replyTo))):
            return Self.acknowledged(message.stored(as: messageID, replyTo: replyTo), confirmed: confirmed, id: id)
        case (.sendDirect(let message, _), .success(.directSent)):
            return [.send(.direct(message), id: id)]
        case (.sendDirect(let message, _), .success(.delivered)):
            return reply(ChatError(.noSuchUser, "nobody called '\(message.to)' is connected"), id)
        case (.publish, .failure(let error)), (.sendDirect, .failure(let error)):
            return [.send(.error(Self.storeError(error)), id: id)]
        default:
            return []
        }
    }

    /// `welcome`, the direct messages that waited for a resumed session, why some rooms of the hello will not be
    /// rejoined, and the first of those that will.
    private func welcome(id: RequestID?, directs: [DirectMessage] = [], session: inout ActiveSession) -> [SessionAction]
    {
        let welcome = ChatEvent.welcome(
            name: session.user.display, room: session.restoreQueue.last?.room, node: settings.nodeID,
            time: session.since, resume: session.resumeToken)
        // The message of the day once, after `welcome` (IRC's 375-376 or 422 end the registration burst).
        let motd = session.grant.motd
        session.grant.motd = nil
        session.welcomed = true
        let operatorNotice: [SessionAction] = session.grant.isServerOperator ? [.send(.serverOperator, id: id)] : []
        return [.send(welcome, id: id), .send(.motd(motd, atLogin: true), id: id)] + operatorNotice
            + directs.map { .send(.direct($0), id: nil) }
            + session.refusals.map { .send(.error($0), id: id) } + nextRestore(session: &session)
    }

    // MARK: Naming

    private mutating func claimed(
        _ name: UserName, id: RequestID?, _ result: Result<StoreReply, any Error>, now: SessionClock
    ) -> [SessionAction] {
        let outcome: ClaimOutcome
        switch result {
        case .success(.claimed(let value)): outcome = value
        case .success: outcome = .held(by: nil)
        case .failure(let error):
            // With a password in flight, text mode's next line is the password again, never a name: a password
            // retyped after "try again" must not become somebody's public name.
            if case .naming(let naming) = state {
                state = naming.login.password == nil ? .unnamed : .awaitingPassword(naming.withoutPassword)
            }
            let refusal = Self.storeError(error)
            // Kept off the network, or a suspended name: told why, and the connection ends.
            if refusal.code == .banned || refusal.code == .suspended {
                return [.send(.error(refusal), id: id)] + close(.disconnected)
            }
            return [.send(.error(refusal), id: id)]
        }
        guard case .naming(let naming) = state else {
            // The client left while the claim was in flight: give the name straight back, or, when the claim
            // took over a session, keep it held for the client that is reconnecting (its old token is used up).
            guard case .granted(let token, _, _, let resumed, _) = outcome else { return [] }
            return [
                .end(
                    EndedSession(
                        user: name, token: token, reason: .disconnected, since: now.wall, rooms: [],
                        holdsName: resumed && holdsNamesOnDrop))
            ]
        }
        state = .unnamed
        let display = name.display
        switch outcome {
        case .granted(let token, let resume, let since, let resumed, let grant):
            let since = since ?? now.wall
            var restore = naming.restore
            if let shared = grant.sharedRooms {
                // One more connection of a person connected elsewhere: in all their rooms (the lobby only when the
                // hello listed none and they are in none).
                if !naming.listedRooms, !shared.isEmpty { restore = [] }
                let sharedSet = Set(shared)
                for index in restore.indices where sharedSet.contains(restore[index].room) {
                    restore[index].shared = true
                }
                let listed = Set(restore.map(\.room))
                restore += shared.filter { !listed.contains($0) }.map {
                    RoomRestore(room: $0, since: nil, shared: true)
                }
            }
            var session = ActiveSession(
                user: name, token: token, resumeToken: resume, resumed: resumed, since: since,
                lastActive: now.wall, away: nil, rooms: [], current: nil, joining: nil, restoreQueue: restore,
                refusals: naming.refusals, lastTyping: [:], keptRooms: resumed ? Set(naming.restore.map(\.room)) : [])
            session.grant = grant
            state = .active(session)
            return [.started(name, at: since), .perform(.listenToUser(name), id: id)]
        case .held(let holder, let reconnecting):
            if let holder, holder != display {
                return reply(
                    ChatError(.nameTaken, "'\(display)' looks like \(holder), who is here; pick another name"), id)
            }
            if reconnecting {
                return reply(
                    ChatError(.nameTaken, "'\(display)' is held for its owner, who is reconnecting; pick another name"),
                    id)
            }
            return reply(ChatError(.nameTaken, "'\(display)' is taken; pick another name"), id)
        case .passwordRequired:
            state = .awaitingPassword(naming.withoutPassword)
            guard naming.login.password == nil else {
                return reply(ChatError(.badPassword, "'\(display)' is not registered with that password"), id)
            }
            return reply(ChatError(.passwordRequired, "'\(display)' is registered: send its password"), id)
        case .wrongPassword:
            // The password is asked for again (text mode: the next line); another name needs a new connection.
            state = .awaitingPassword(naming.withoutPassword)
            return reply(ChatError(.badPassword, "'\(display)' is not registered with that password; try again"), id)
        case .crowded(let connections):
            let error = ChatError(
                .tooManyConnections,
                "'\(display)' is connected from \(connections) places, as many as this server allows; close one first")
            return reply(error, id)
        case .locked(let seconds):
            // Closed: whatever the client sends next (a password typed again) must go nowhere.
            let error = ChatError(
                .rateLimited, "too many failed logins for '\(display)' or from your address; try again in \(seconds) s")
            return [.send(.error(error), id: id)] + close(.disconnected)
        }
    }

    // MARK: Joins

    func startJoin(_ target: RoomRestore, id: RequestID?, session: inout ActiveSession) -> [SessionAction] {
        let isCatchUp = session.rooms.contains(target.room)
        // A resumed session's rooms are members already (the takeover kept them): a failed rejoin must undo that.
        let join = PendingJoin(
            room: target.room, since: target.since, requestID: id, isCatchUp: isCatchUp,
            recorded: session.keptRooms.remove(target.room) != nil, key: target.key, shared: target.shared)
        session.joining = join
        return [.perform(isCatchUp ? readHistory(for: join, session: session) : .subscribe(target.room), id: id)]
    }

    private func readHistory(for join: PendingJoin, session: ActiveSession) -> StoreOperation {
        let limits = settings.limits
        let wanted = join.since == nil ? limits.historyOnJoin : limits.historyPageMessages
        return .readHistory(
            join.room, after: join.since, count: paging.readCount(wanted),
            unreadAfter: session.grant.readMarkers[join.room])
    }

    /// Told before a page read after `after` when the room's stream has trimmed (or lost) messages after it: the
    /// client learns that what it shows has a hole, instead of moving past it without a word.
    private func gapNotice(
        _ room: RoomName, after: StreamID, maxDeleted: StreamID?, keptFrom: StreamID?, id: RequestID? = nil
    ) -> SessionAction? {
        let trimmed = keptFrom.map { $0 > after } ?? false
        let deleted = maxDeleted.map { $0 > after } ?? false
        guard trimmed || deleted else { return nil }
        return .send(.gap(room: room, after: after, lost: true, oldest: keptFrom), id: id)
    }

    /// After `welcome`, and after each of its joins, the next room `hello` asked for.
    private func nextRestore(session: inout ActiveSession) -> [SessionAction] {
        guard !session.restoreQueue.isEmpty else { return [] }
        let next = session.restoreQueue.removeFirst()
        guard !session.rooms.contains(next.room) || next.since != nil else { return nextRestore(session: &session) }
        return startJoin(next, id: nil, session: &session)
    }

    // MARK: Failures

    private func failed(
        _ operation: StoreOperation, id: RequestID?, error: any Error, session: inout ActiveSession
    )
        -> [SessionAction]
    {
        let told: SessionAction = .send(.error(Self.storeError(error)), id: id)
        switch operation {
        case .subscribe(let room), .recordJoin(let room, _), .readHistory(let room, _, _, _):
            guard let join = session.joining, join.room == room else { return [told] }
            session.joining = nil
            if join.isCatchUp {
                // The live events still go out; only the catch-up failed.
                return [.replayHeld(room, after: nil), told] + nextRestore(session: &session)
            }
            var actions: [SessionAction] = [.stopListening(room)]
            if join.recorded, !join.shared { actions.append(.perform(.rollbackJoin(room), id: nil)) }
            return actions + [told] + nextRestore(session: &session)
        case .publishTyping, .shareJoin, .shareLeave, .rollbackJoin:
            return []
        case .takeHeldDirects:
            // The session is whole without them; they wait in the store until they expire.
            return welcome(id: id, session: &session) + [told]
        default:
            return [told]
        }
    }

    /// What a client is told when the store failed: its own error when it is a chat error, else that the store is
    /// unreachable.
    public static func storeError(_ error: any Error) -> ChatError {
        (error as? ChatError)
            ?? ChatError(.redisUnavailable, "the chat store is unreachable right now; try again shortly")
    }
}
