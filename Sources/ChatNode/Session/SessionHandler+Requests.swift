import ChatCore
import ChatRedis
import NIOCore

/// The requests, one method each. Each returns a future when it waits on Redis (the session takes no further line
/// until it completes) or nil when it is done.
extension SessionHandler {
    func dispatch(_ request: ClientRequest, id: RequestID?) -> EventLoopFuture<Void>? {
        switch request {
        case .help:
            reply(.help, id: id)
            return nil
        case .ping:
            reply(.pong, id: id)
            return nil
        case .quit:
            reply(.bye("see you"), id: id)
            close(reason: .quit)
            return nil
        case .hello(let name):
            return hello(name, id: id)
        default:
            break
        }
        guard phase == .active, let user else {
            reply(.error(ChatError(.badRequest, "pick a name first")), id: id)
            return nil
        }
        // Idle time is about the person: polls a client makes by itself (who, rooms...) and typing do not count.
        switch request {
        case .say, .join, .leave, .direct, .away, .back: lastActive = WallClock.now()
        default: break
        }
        switch request {
        case .say(let room, let text, let isAction): return say(text, in: room, isAction: isAction, user: user, id: id)
        case .join(let room, let since): return join(room, since: since, user: user, id: id)
        case .leave(let room): return leave(room, user: user, id: id)
        case .rooms: return listRooms(id: id)
        case .who(let room): return who(room, id: id)
        case .direct(let to, let text): return direct(text, to: to, user: user, id: id)
        case .away(let text): return setAway(text ?? "away", user: user, id: id)
        case .back: return setAway(nil, user: user, id: id)
        case .history(let room, let limit, let before): return history(room, limit: limit, before: before, id: id)
        case .seen(let name): return seen(name, id: id)
        case .typing(let room): return typing(in: room, user: user, id: id)
        case .hello, .help, .ping, .quit: return nil
        }
    }

    /// Reports a failed Redis step to the client with the right code.
    func fail(_ error: any Error, id: RequestID?) {
        if let error = error as? ChatError {
            reply(.error(error), id: id)
        } else {
            reply(.error(ChatError(.redisUnavailable, "the chat store is unreachable right now; try again shortly")), id: id)
        }
    }

    private func onLoop<Value: Sendable>(_ future: EventLoopFuture<Value>) -> EventLoopFuture<Value>.Isolated {
        future.hop(to: hub.eventLoop).assumeIsolated()
    }

    /// Runs `body` on the session's loop with the result, reports a failure, and returns the completion future.
    private func finish<Value: Sendable>(
        _ future: EventLoopFuture<Value>, id: RequestID?, _ body: @escaping (Value) -> Void
    ) -> EventLoopFuture<Void> {
        onLoop(future).map { value in
            body(value)
        }.flatMapErrorThrowing { error in
            self.fail(error, id: id)
        }.nonisolated()
    }

    // MARK: Name

    private func hello(_ raw: String, id: RequestID?) -> EventLoopFuture<Void>? {
        guard phase == .naming else {
            reply(.error(ChatError(.badRequest, "you are already \(user?.display ?? "named")")), id: id)
            return nil
        }
        let name: UserName
        do { name = try UserName(validating: raw) } catch {
            reply(.error(error), id: id)
            return nil
        }
        phase = .claiming
        let token = store.makeToken()
        let now = WallClock.now()
        let claimed = onLoop(store.claim(name, token: token, now: now, address: remoteAddress))
        return claimed.flatMap { won -> EventLoopFuture<Void> in
            guard self.phase == .claiming else {
                // The client left while we claimed: give the name straight back.
                if won {
                    _ = self.store.release(name, token: token, now: now, reason: .disconnected, origin: self.sessionID)
                }
                return self.hub.eventLoop.makeSucceededVoidFuture()
            }
            guard won else {
                self.phase = .naming
                self.node.metrics.claimFailures.increment()
                self.reply(.error(ChatError(.nameTaken, "'\(name.display)' is taken; pick another name")), id: id)
                return self.hub.eventLoop.makeSucceededVoidFuture()
            }
            return self.activate(name, token: token, now: now, id: id)
        }.flatMapErrorThrowing { error in
            if self.phase == .claiming { self.phase = .naming }
            self.fail(error, id: id)
        }.nonisolated()
    }

    private func activate(_ name: UserName, token: String, now: Millis, id: RequestID?) -> EventLoopFuture<Void> {
        user = name
        self.token = token
        since = now
        lastActive = now
        phase = .active
        hub.named(self, key: name.key)
        node.metrics.sessions.increment()
        logger.info(
            "session started",
            metadata: [
                "session.name": "\(name.display)", "client.address": "\(remoteAddress)", "node.id": "\(node.nodeID)",
                "session.entry": "\(TimeFormat.dateTime(now))",
            ])
        return onLoop(listen(ClusterKeys.userChannel(name.key))).flatMap { _ -> EventLoopFuture<Void> in
            // The client may have gone meanwhile; teardown has released everything, so join nothing.
            guard self.phase == .active else { return self.hub.eventLoop.makeSucceededVoidFuture() }
            self.reply(.welcome(name: name.display, room: .lobby, node: self.node.nodeID, time: now), id: id)
            return self.joinRoom(.lobby, since: nil, user: name, id: nil)
        }.flatMapErrorThrowing { error in
            // Without its direct-message channel the session is not whole: give up the name and say why.
            self.fail(error, id: id)
            self.close(reason: .disconnected)
        }.nonisolated()
    }

    // MARK: Rooms

    private func resolveRoom(_ raw: String?, id: RequestID?) -> RoomName? {
        guard let raw else {
            guard let current else {
                reply(.error(ChatError(.notInRoom, "you are in no room; /join one first")), id: id)
                return nil
            }
            return current
        }
        do { return try RoomName(validating: raw) } catch {
            reply(.error(error), id: id)
            return nil
        }
    }

    private func say(_ text: String, in rawRoom: String?, isAction: Bool, user: UserName, id: RequestID?)
        -> EventLoopFuture<Void>?
    {
        guard let room = resolveRoom(rawRoom, id: id) else { return nil }
        guard rooms.contains(room) else {
            reply(.error(ChatError(.notInRoom, "you are not in #\(room); /join it first")), id: id)
            return nil
        }
        guard text.utf8.count <= configuration.limits.maximumMessageBytes else {
            reply(.error(ChatError(.messageTooLong, "messages are limited to \(configuration.limits.maximumMessageBytes) bytes")), id: id)
            return nil
        }
        node.metrics.messagesIn.increment()
        // Not waited for: one session's messages keep their order on the one Redis connection, and the next line
        // need not wait a round trip. In JSON mode Redis's reply (the message id) becomes the acknowledgement: the
        // same message event everyone gets, with the request id. Text mode shows people nothing they typed.
        let time = lastActive
        onLoop(
            store.publishMessage(
                room, from: user, text: text, isAction: isAction, now: time, origin: sessionID, requestID: id)
        ).whenComplete { result in
            switch result {
            case .success(let messageID):
                guard self.mode == .json else { return }
                let message = ChatMessage(
                    id: messageID, room: room, from: user.display, text: text, isAction: isAction, time: time)
                self.reply(.message(message), id: id)
            case .failure(let error):
                self.fail(error, id: id)
            }
        }
        return nil
    }

    func join(_ raw: String, since: String?, user: UserName, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let room = resolveRoom(raw, id: id) else { return nil }
        if let since, StreamID(since) == nil {
            reply(.error(ChatError(.badRequest, "'\(since)' is not a message id (they look like 1795250096010-0)")), id: id)
            return nil
        }
        if rooms.contains(room) {
            current = room
            guard let since else {
                reply(.ok("#\(room) is now your current room"), id: id)
                return nil
            }
            return catchUp(room, after: since, id: id)
        }
        guard rooms.count < configuration.limits.maximumRoomsPerSession else {
            reply(.error(ChatError(.tooManyRooms, "at most \(configuration.limits.maximumRoomsPerSession) rooms at once; /leave one first")), id: id)
            return nil
        }
        return joinRoom(room, since: since, user: user, id: id)
    }

    /// Subscribe first, then record the membership and read history: everything published after the subscription
    /// is live, everything before is in the history, and the overlap is removed by message id.
    func joinRoom(_ room: RoomName, since: String?, user: UserName, id: RequestID?) -> EventLoopFuture<Void> {
        let channel = ClusterKeys.roomChannel(room)
        joining[room] = []
        let now = WallClock.now()
        let limits = configuration.limits
        var joined = false
        let history = onLoop(listen(channel)).flatMap { _ -> EventLoopFuture<Void> in
            guard self.phase == .active else { return self.hub.eventLoop.makeFailedFuture(SessionClosed()) }
            return self.store.join(room, user: user, now: now, origin: self.sessionID)
        }.flatMap { _ -> EventLoopFuture<[ChatMessage]> in
            joined = true
            guard self.phase == .active else { return self.hub.eventLoop.makeFailedFuture(SessionClosed()) }
            return since.map { self.store.history(room, after: $0, limit: limits.maximumResume) }
                ?? self.store.history(room, count: limits.historyOnJoin)
        }
        return history.map { messages in
            guard self.joining[room] != nil, self.phase == .active else { return }
            self.rooms.append(room)
            self.current = room
            self.deliverJoined(room, history: messages, id: id)
        }.flatMapErrorThrowing { error in
            // Teardown already detached and released everything when the session closed mid-join.
            guard self.joining.removeValue(forKey: room) != nil, self.phase == .active else { return }
            self.stopListening(channel)
            if joined {
                _ = self.store.leave(room, user: user, reason: .left, now: WallClock.now(), origin: self.sessionID)
            }
            self.fail(error, id: id)
        }.nonisolated()
    }

    /// The reply to a join: the history, then the live events held back while it was read, minus those the
    /// history already had. Nothing twice, nothing out of order.
    private func deliverJoined(_ room: RoomName, history messages: [ChatMessage], id: RequestID?) {
        let buffered = joining.removeValue(forKey: room) ?? []
        reply(.youJoined(room: room, history: messages), id: id)
        let seen = messages.last.flatMap { StreamID($0.id) }
        let allocator = context.channel.allocator
        for event in buffered {
            if case .message(let message) = event.envelope.event, let seen, let messageID = StreamID(message.id),
                messageID <= seen
            {
                continue
            }
            _ = write(event, allocator: allocator)
        }
        flush()
    }

    /// A join with `since` of a room the session is already in: a client resuming after a reconnect, whose room
    /// the server re-joined by itself (the lobby) with only its last messages. Replays what came after `since`,
    /// holding live events back meanwhile, as a first join does.
    private func catchUp(_ room: RoomName, after since: String, id: RequestID?) -> EventLoopFuture<Void> {
        joining[room] = []
        let limit = configuration.limits.maximumResume
        return onLoop(store.history(room, after: since, limit: limit)).map { messages in
            guard self.joining[room] != nil, self.phase == .active else { return }
            self.deliverJoined(room, history: messages, id: id)
        }.flatMapErrorThrowing { error in
            guard let buffered = self.joining.removeValue(forKey: room), self.phase == .active else { return }
            // The live events still go out; only the catch-up failed.
            let allocator = self.context.channel.allocator
            for event in buffered { _ = self.write(event, allocator: allocator) }
            self.flush()
            self.fail(error, id: id)
        }.nonisolated()
    }

    private func leave(_ raw: String?, user: UserName, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let room = resolveRoom(raw, id: id) else { return nil }
        guard let index = rooms.firstIndex(of: room) else {
            reply(.error(ChatError(.notInRoom, "you are not in #\(room)")), id: id)
            return nil
        }
        rooms.remove(at: index)
        if current == room { current = rooms.last }
        stopListening(ClusterKeys.roomChannel(room))
        let left = store.leave(room, user: user, reason: .left, now: WallClock.now(), origin: sessionID)
        return finish(left, id: id) { _ in self.reply(.youLeft(room: room), id: id) }
    }

    private func listRooms(id: RequestID?) -> EventLoopFuture<Void> {
        finish(store.rooms(), id: id) { rooms in
            let summaries = rooms.map { RoomSummary(room: $0.0, members: $0.1, joined: self.rooms.contains($0.0)) }
            self.reply(.rooms(summaries, current: self.current), id: id)
        }
    }

    private func who(_ raw: String?, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let room = resolveRoom(raw, id: id) else { return nil }
        return finish(store.who(room, now: WallClock.now()), id: id) { members in
            self.reply(.who(room: room, members: members), id: id)
        }
    }

    private func history(_ raw: String?, limit: Int?, before: String?, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let room = resolveRoom(raw, id: id) else { return nil }
        guard rooms.contains(room) else {
            reply(.error(ChatError(.notInRoom, "you are not in #\(room); /join it to read its history")), id: id)
            return nil
        }
        if let before, StreamID(before) == nil {
            reply(.error(ChatError(.badRequest, "'\(before)' is not a message id")), id: id)
            return nil
        }
        let count = min(limit ?? configuration.limits.historyOnJoin, configuration.limits.maximumHistory)
        return finish(store.history(room, count: count, before: before), id: id) { messages in
            self.reply(.history(room: room, messages: messages), id: id)
        }
    }

    // MARK: People

    private func direct(_ text: String, to raw: String, user: UserName, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let target = try? UserName(validating: raw) else {
            reply(.error(ChatError(.noSuchUser, "nobody called '\(raw)' is connected")), id: id)
            return nil
        }
        guard text.utf8.count <= configuration.limits.maximumMessageBytes else {
            reply(.error(ChatError(.messageTooLong, "messages are limited to \(configuration.limits.maximumMessageBytes) bytes")), id: id)
            return nil
        }
        let message = DirectMessage(from: user.display, to: target.display, text: text, time: lastActive)
        node.metrics.directMessages.increment()
        return finish(store.sendDirect(message, to: target.key, origin: sessionID), id: id) { delivered in
            guard delivered else {
                self.reply(.error(ChatError(.noSuchUser, "nobody called '\(target.display)' is connected")), id: id)
                return
            }
            self.reply(.direct(message), id: id)
        }
    }

    /// Relays "typing" to the room, at most once per `typingInterval`: clients send it on keystrokes and the
    /// extra ones are dropped here, silently, so a chatty client costs the cluster nothing more. No reply.
    private func typing(in rawRoom: String?, user: UserName, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let room = resolveRoom(rawRoom, id: id) else { return nil }
        guard rooms.contains(room) else {
            reply(.error(ChatError(.notInRoom, "you are not in #\(room); /join it first")), id: id)
            return nil
        }
        let now = NIODeadline.now()
        if let last = lastTypingNotice[room], now - last < Self.typingInterval { return nil }
        lastTypingNotice[room] = now
        _ = store.publishTyping(room, user: user, now: WallClock.now(), origin: sessionID)
        return nil
    }

    private func setAway(_ text: String?, user: UserName, id: RequestID?) -> EventLoopFuture<Void> {
        away = text
        let update = store.setPresence(user, away: text, now: lastActive, origin: sessionID)
        return finish(update, id: id) { _ in
            self.reply(.ok(text.map { "you are marked away: \($0)" } ?? "you are back"), id: id)
        }
    }

    private func seen(_ raw: String, id: RequestID?) -> EventLoopFuture<Void>? {
        guard let name = try? UserName(validating: raw) else {
            reply(.seen(.never(name: raw), now: WallClock.now()), id: id)
            return nil
        }
        return finish(store.seen(name.key), id: id) { record in
            self.reply(.seen(record ?? .never(name: name.display), now: WallClock.now()), id: id)
        }
    }
}

/// A session that closed while one of its requests was waiting on Redis.
struct SessionClosed: Error {}
