import ChatCore
import NIOCore
import RedisClient

/// Name changes (IRC's NICK, `/nick`): see `RenameScripts` for the steps and why they are in that order.
extension ChatStore {
    /// The session of `from` (holding `token`) takes the name `to`, moves its memberships in `rooms` to it (each
    /// room told with a `renamed` notice from `origin`) and gives `from` up. The same name in another case only
    /// changes how it is written. Refused (a `ChatError`) when `to` is registered, held, or looks like a name
    /// someone holds or registered (`name-taken`), or while the person is muted in one of the rooms
    /// (`cannot-speak`: a new name must not shed a mute).
    public func rename(
        from: UserName, to: UserName, token: String, rooms: [RoomName], now: Millis, origin: String
    ) -> EventLoopFuture<Void> {
        let notice = { (room: RoomName) in
            RelayCodec.encode(
                RelayEnvelope(
                    event: .renamed(room: room, from: from.display, to: to.display, time: now), origin: origin))
        }
        guard from.key != to.key else {
            return redis.run(
                RenameScripts.renameCase, keys: [ChatKeys.session(from.key), ChatKeys.seen(from.key)],
                arguments: [token, to.display]
            ).flatMap { _ in
                let told = rooms.map { room in
                    redis.send("SPUBLISH", ChatKeys.roomChannel(room), notice(room)).map { _ in }
                }
                return EventLoopFuture.andAllSucceed(told, on: eventLoop)
            }
        }
        let lookAlikes = to.lookAlikeKeys.subtracting([from.key]).sorted()
        return lookAlikeHolder(of: lookAlikes).and(mutedIn(rooms, user: from.key, now: now)).flatMap {
            holder, muted -> EventLoopFuture<Void> in
            if let holder {
                return eventLoop.makeFailedFuture(
                    ChatError(.nameTaken, "'\(to.display)' looks too much like '\(holder)', which is in use"))
            }
            if let muted {
                return eventLoop.makeFailedFuture(
                    ChatError(.cannotSpeak, "you are muted in #\(muted): a new name would not shed it"))
            }
            return claimRenamed(from: from, to: to, token: token, rooms: rooms, now: now)
        }.flatMap {
            let moves = rooms.map { room in
                redis.run(
                    RenameScripts.moveMember,
                    keys: [ChatKeys.members(room), ChatKeys.roles(room), ChatKeys.rules(room)],
                    arguments: [from.key, to.key, token, ChatKeys.roomChannel(room), notice(room)]
                ).map { _ in }
            }
            return EventLoopFuture.andAllSucceed(moves, on: eventLoop)
        }.flatMap {
            redis.run(
                RenameScripts.releaseRenamed,
                keys: [
                    ChatKeys.claim(from.key), ChatKeys.session(from.key), ChatKeys.sessionRooms(from.key),
                    ChatKeys.heldDirects(from.key), ChatKeys.seen(from.key), ChatKeys.preferences(from.key),
                ],
                arguments: [token, String(now)]
            ).and(redis.send("SREM", ChatKeys.incarnationUsers(incarnation), from.key))
                .and(noteSeen(to.key, connected: now)).map { _ in }
        }
    }

    /// The new name claimed with the old session's record, rooms and blocks (read first: they are on the old
    /// name's shard).
    private func claimRenamed(
        from: UserName, to: UserName, token: String, rooms: [RoomName], now: Millis
    ) -> EventLoopFuture<Void> {
        let session = redis.send(
            "HMGET", ChatKeys.session(from.key), "tok", "since", "active", "addr", "rtok", "real", "away", "bot", "au")
        let preferences = redis.send("HGETALL", ChatKeys.preferences(from.key))
            .and(redis.send("PTTL", ChatKeys.preferences(from.key)))
        return session.and(preferences).flatMap { session, preferences in
            let fields = (session.array ?? []).map { $0.string ?? "" }
            guard fields.count == 9, fields[0] == token else {
                return eventLoop.makeFailedFuture(ChatError(.nameLost, "your session is no longer in the store"))
            }
            let pairs = Self.strings(preferences.0)
            let arguments =
                [
                    token, to.display, incarnation, nodeID, fields[1], fields[2], fields[3], fields[4], fields[5],
                    fields[6], String(nameTTLSeconds), String(sessionTTLSeconds), String(bounds.seenSeconds),
                    String(now), String(max(0, preferences.1.int ?? 0)), String(pairs.count / 2),
                ] + pairs + rooms.map(\.value) + [fields[8], fields[7] == "1" ? "1" : "0"]
            let keys = [
                ChatKeys.claim(to.key), ChatKeys.session(to.key), ChatKeys.sessionRooms(to.key), ChatKeys.seen(to.key),
                ChatKeys.account(to.key), ChatKeys.preferences(to.key),
            ]
            // In the incarnation's users first, so a node dying right after the claim leaves it to its reaper.
            let users = ChatKeys.incarnationUsers(incarnation)
            return redis.send("SADD", users, to.key).flatMap { added in
                redis.run(RenameScripts.claimRenamed, keys: keys, arguments: arguments).flatMap { reply in
                    guard reply.string != "ok" else { return eventLoop.makeSucceededVoidFuture() }
                    let refusal =
                        reply.string == "registered"
                        ? ChatError(
                            .nameTaken, "'\(to.display)' is registered: log in to it with its password to be it")
                        : ChatError(.nameTaken, "'\(to.display)' is in use")
                    // Not ours after all: out of this node's users again, unless it was there before.
                    let undo =
                        added.int == 1
                        ? redis.send("SREM", users, to.key).map { _ in } : eventLoop.makeSucceededVoidFuture()
                    return undo.flatMapThrowing { throw refusal }
                }
            }
        }
    }

    /// The first of the rooms where the person is muted now, if any.
    private func mutedIn(_ rooms: [RoomName], user: String, now: Millis) -> EventLoopFuture<RoomName?> {
        let reads = rooms.map { room in
            redis.send("HGET", ChatKeys.rules(room), "mute:" + user).map { reply -> RoomName? in
                guard let entry = reply.string else { return nil }
                let until = Millis(entry.prefix { $0 != "\n" }) ?? 0
                return until == 0 || until > now ? room : nil
            }
        }
        return EventLoopFuture.whenAllSucceed(reads, on: eventLoop).map { $0.compactMap { $0 }.first }
    }
}
