import ChatCore
import NIOCore
import RedisClient

/// Replies, reactions, edits and deletes of a room's messages (`MessageScripts`), one room's tag each.
extension ChatStore {
    /// A message answering another: stored with the answered message's id, published with its author and start.
    /// Waits for the replicas `acknowledgedMessages` asks for, as any message does.
    func publishReply(
        _ message: OutgoingMessage, user: UserName, origin: String, renewsRoom: Bool, trace: String = ""
    ) -> EventLoopFuture<PublishedMessage> {
        let room = message.room
        let parameters = MessageScripts.ReplyParameters(
            historyKey: ChatKeys.history(room), topicKey: ChatKeys.topic(room), rolesKey: ChatKeys.roles(room),
            rulesKey: ChatKeys.rules(room), changesKey: ChatKeys.changes(room),
            changeIndexKey: ChatKeys.changeIndex(room), channel: ChatKeys.roomChannel(room),
            body: RelayCodec.messageBody(message, origin: origin), maxLength: historyLength,
            roomIdleTTL: bounds.roomIdleSeconds, user: user.key, now: message.time,
            spec: message.replyTo?.scriptSpec ?? "", author: message.author ?? "", room: room.value,
            renewsTopic: renewsRoom, trace: trace)
        let script = MessageScripts.publishReply
        let keys = script.keys(parameters)
        let arguments = script.arguments(parameters)
        let reply: EventLoopFuture<(RedisValue, Bool)>
        if let acknowledged = acknowledgedMessages {
            reply = acknowledged.redis.run(
                script.script, keys: keys, arguments: arguments, acknowledgedBy: acknowledged.wanted
            ).map { ($0.reply, $0.isAcknowledged(by: acknowledged.wanted)) }
        } else {
            reply = redis.run(script.script, keys: keys, arguments: arguments).map { ($0, true) }
        }
        return reply.flatMapErrorThrowing { error in throw ChatScripts.chatError(error) ?? error }
            .flatMapThrowing { value, confirmed in
                let parts = value.array ?? []
                guard parts.count == 4, let id = parts[0].string.flatMap(StreamID.init) else {
                    throw RedisError(.protocolViolation, "the reply script gave no message id")
                }
                // The answered message was gone: said as a plain message.
                guard let answered = parts[1].string.flatMap(StreamID.init) else {
                    return PublishedMessage(id: id, confirmed: confirmed)
                }
                let from = parts[2].string ?? ""
                return PublishedMessage(
                    id: id, confirmed: confirmed,
                    replyTo: MessageReference(
                        id: answered, from: from.isEmpty ? nil : from, snippet: from.isEmpty ? nil : parts[3].string))
            }
    }

    /// Reacts to, edits or deletes a message; nil when nothing changed (a reaction already there, or one taken
    /// back that was not).
    /// `confirmed`: the replicas `acknowledgedMessages` asks for had it (always, when it asks for none).
    public func changeMessage(
        in room: RoomName, target: MessageTarget, action: MessageAction, user: UserName, author: String, now: Millis,
        origin: String, serverOperator: Bool = false
    ) -> EventLoopFuture<(change: MessageChange?, confirmed: Bool)> {
        let value: String
        switch action {
        case .react(let emoji), .unreact(let emoji): value = emoji
        case .edit(let text): value = text
        case .delete(let reason): value = reason ?? ""
        }
        let parameters = MessageScripts.ChangeParameters(
            historyKey: ChatKeys.history(room), changesKey: ChatKeys.changes(room),
            changeIndexKey: ChatKeys.changeIndex(room), rolesKey: ChatKeys.roles(room),
            rulesKey: ChatKeys.rules(room), channel: ChatKeys.roomChannel(room), operation: action.operation,
            spec: target.scriptSpec, value: value, user: user.key, name: user.display, author: author, now: now,
            maxLength: historyLength, roomIdleTTL: bounds.roomIdleSeconds, origin: origin, room: room.value,
            serverOperator: serverOperator)
        let script = MessageScripts.changeMessage
        // A change is waited for as a message is, by the replicas the deployment asks for: a delete confirmed to
        // its author must not come back after a failover.
        let keys = script.keys(parameters)
        let arguments = script.arguments(parameters)
        let reply =
            acknowledgedMessages.map { acknowledged in
                acknowledged.redis.run(
                    script.script, keys: keys, arguments: arguments, acknowledgedBy: acknowledged.wanted
                ).map { ($0.reply, $0.isAcknowledged(by: acknowledged.wanted)) }
            } ?? redis.run(script.script, keys: keys, arguments: arguments).map { ($0, true) }
        if let marks = archiveMarks { reply.whenSuccess { _ in marks.note(room) } }
        return
            reply
            .flatMapErrorThrowing { error in throw ChatScripts.chatError(error) ?? error }
            .flatMapThrowing { reply, confirmed in
                let parts = reply.array ?? []
                guard parts.count == 6, let target = parts[1].string.flatMap(StreamID.init) else {
                    throw RedisError(.protocolViolation, "the change script answered \(reply)")
                }
                guard let id = parts[0].string.flatMap(StreamID.init) else { return (nil, confirmed) }
                let done = parts[5].string ?? ""
                var reason: String?
                let kind: MessageChange.Kind
                switch (action, parts[4].string) {
                case (.react, _): kind = .reacted(done)
                case (.unreact, _): kind = .unreacted(done)
                case (.edit, _): kind = .edited(done)
                // A delete that named a reaction of one's own took it back.
                case (.delete, "unreact"): kind = .unreacted(done)
                case (.delete(let said), _):
                    kind = .deleted
                    reason = said
                }
                let from = parts[2].string ?? ""
                let snippet = parts[3].string ?? ""
                var change = MessageChange(
                    id: id, room: room, target: target, by: user.display,
                    kind: kind, time: now, targetFrom: from.isEmpty ? nil : from,
                    targetSnippet: snippet.isEmpty ? nil : snippet)
                change.reason = reason
                return (change, confirmed)
            }
    }
}

/// Read markers (`ReadMarker`): a registered name's, on its own tag; counted against a room's stream on its tag.
extension ChatStore {
    /// Moves `user`'s marker in `room` forward to `id` and tells the name's other connections (its channel, with
    /// `origin`, so this one skips it).
    /// Answers the marker as it stands (nil when none is kept).
    public func markRead(
        _ room: RoomName, upTo id: StreamID, user: UserName, origin: String
    )
        -> EventLoopFuture<StreamID?>
    {
        let payload = RelayCodec.encode(
            RelayEnvelope(event: .readMarker(ReadMarker(room: room, id: id)), origin: origin))
        return redis.run(
            OperatorScripts.markRead, keys: [ChatKeys.readMarkers(user.key), ChatKeys.account(user.key)],
            arguments: [
                room.value, id.description, String(bounds.accountLifetimeSeconds), String(ReadMarker.maximumRooms),
                ChatKeys.userChannel(user.key), payload,
            ]
        ).map { $0.string.flatMap(StreamID.init) }
    }

    /// Messages in `room` after `id` from anyone but `user`, counted up to `ReadMarker.maximumCounted` (`more`: there
    /// are more, or too many changes to tell), reading at most twice that many entries.
    public func unreadCount(
        _ room: RoomName, after id: StreamID, skipping user: UserName, author: String = ""
    )
        -> EventLoopFuture<(count: Int, more: Bool)>
    {
        redis.run(
            MessageScripts.countUnread, keys: [ChatKeys.history(room)],
            arguments: [
                id.description, JSONWriter.quoted(user.display), String(ReadMarker.maximumCounted), author,
            ]
        ).map { reply in
            let parts = reply.array ?? []
            return (Int(parts.first?.int ?? 0), parts.count > 1 && parts[1].int == 1)
        }
    }

    /// An unregistered name keeps no read markers, and its session is a guest's from now on (a resume of it must
    /// not pass for the account's).
    public func forgetAccountState(of user: UserName) -> EventLoopFuture<Void> {
        let markers = redis.send("DEL", ChatKeys.readMarkers(user.key))
        let session = redis.run(
            OperatorScripts.markGuest, keys: [ChatKeys.session(user.key)], arguments: [])
        return markers.and(session).map { _ in }
    }
}
