import ChatCore
import NIOCore
import RedisClient

/// Room moderation (docs/moderation.md): each action is one script on the room's tag (`ModerationScripts`), which
/// checks the actor's role and applies the change in one step; what concerns a person (their rooms, their
/// channel) is sent around it, as joins and leaves do. Every action costs a fixed number of round trips, whatever
/// the size of the room.
extension ChatStore {
    /// A script's refusal (`not-operator`, `banned`...) as the client's error; nil for any other error.
    public static func refusal(_ error: any Error) -> ChatError? { ChatScripts.chatError(error) }

    /// Applies an operator's changes, all or none, and tells the room (an address ban only to its setter, who
    /// gets the event as a reply). With `removing` (a ban by name), that member is also taken out of the room,
    /// and out of their session's rooms so that a resume does not bring them back. Returns the removed member's
    /// name as they hold it, or nil when nobody was removed.
    public func moderate(
        _ room: RoomName, actor: UserName, changes: [RoomModeChange], reason: String?, removing: UserName?,
        now: Millis, origin: String
    ) -> EventLoopFuture<String?> {
        let shown = changes.filter(\.isPublic)
        let notice =
            shown.isEmpty
            ? ""
            : RelayCodec.encode(
                RelayEnvelope(
                    event: .modeChanged(room: room, by: actor.display, changes: shown, time: now), origin: origin))
        // When each account given a role was made: a registered room keeps the role in its list for that account.
        let grantedKeys = changes.compactMap { change -> String? in
            guard case .role(_, let name, true) = change else { return nil }
            return (try? UserName(validating: name))?.key
        }
        let stamps = EventLoopFuture.whenAllSucceed(
            grantedKeys.map { key in
                redis.send("HGET", ChatKeys.account(key), "created").map { (key, $0.string ?? "") }
            }, on: eventLoop
        ).map { Dictionary($0, uniquingKeysWith: { first, _ in first }) }
        return displayName(of: removing).and(stamps).flatMap { held, stamps in
            let removedName = held ?? removing?.display
            let kickNotice =
                removedName.map { name in
                    RelayCodec.encode(
                        RelayEnvelope(
                            event: .kicked(room: room, name: name, by: actor.display, reason: reason, time: now),
                            origin: origin))
                } ?? ""
            let parameters = ModerationScripts.ModerateParameters(
                membersKey: ChatKeys.members(room), rolesKey: ChatKeys.roles(room), rulesKey: ChatKeys.rules(room),
                bansKey: ChatKeys.bans(room), actor: actor.key, roomIdleTTL: bounds.roomIdleSeconds,
                channel: ChatKeys.roomChannel(room), notice: notice, removing: removing?.key ?? "",
                kickNotice: kickNotice,
                changes: changes.flatMap {
                    Self.scriptFields($0, by: actor, reason: reason, now: now, accounts: stamps)
                })
            return redis.run(ModerationScripts.moderate, parameters).flatMap { removed -> EventLoopFuture<String?> in
                guard removed.int == 1, let removing else { return eventLoop.makeSucceededFuture(nil) }
                return redis.send("SREM", ChatKeys.sessionRooms(removing.key), room.value).map { _ in removedName }
            }
        }
    }

    /// Removes a member; the room (the member too) is told. Returns the name they hold, as they typed it.
    public func kick(
        _ room: RoomName, actor: UserName, target: UserName, reason: String?, now: Millis, origin: String
    ) -> EventLoopFuture<String> {
        displayName(of: target).flatMap { held in
            let name = held ?? target.display
            let notice = RelayCodec.encode(
                RelayEnvelope(
                    event: .kicked(room: room, name: name, by: actor.display, reason: reason, time: now),
                    origin: origin))
            return redis.run(
                ModerationScripts.kick,
                .init(
                    membersKey: ChatKeys.members(room), rolesKey: ChatKeys.roles(room),
                    rulesKey: ChatKeys.rules(room), bansKey: ChatKeys.bans(room), historyKey: ChatKeys.history(room),
                    topicKey: ChatKeys.topic(room), actor: actor.key, target: target.key, name: name,
                    channel: ChatKeys.roomChannel(room),
                    notice: notice, room: room.value)
            ).flatMap { left -> EventLoopFuture<String> in
                // Out of the session's rooms too: a client resuming later must not rejoin a room it was kicked from.
                let forgotten = redis.send("SREM", ChatKeys.sessionRooms(target.key), room.value).map { _ in }
                let upkeep =
                    left.int == -2
                    ? unlistIfEmpty(room).and(unindexIfVacant(room, now: now)).map { _ in }
                    : eventLoop.makeSucceededVoidFuture()
                return forgotten.and(upkeep).map { _ in name }
            }
        }
    }

    /// The room's settings; anyone may look (IRC shows a channel's modes to people outside it).
    public func roomSettings(_ room: RoomName) -> EventLoopFuture<RoomSettings> {
        redis.send("HMGET", ChatKeys.rules(room), "i", "m", "t", "R", "s", "k", "l").map { reply in
            let fields = (reply.array ?? []).map(\.string)
            guard fields.count == 7 else { return RoomSettings() }
            let flags: [RoomFlag] = [.inviteOnly, .moderated, .topicLocked, .registeredOnly, .secret]
            return RoomSettings(
                flags: Set(zip(flags, fields).compactMap { $0.1 == nil ? nil : $0.0 }),
                key: fields[5], limit: fields[6].flatMap { Int($0) })
        }
    }

    /// The room's bans, then its mutes (as `m:NAME!*@*`), for an operator; lapsed ones are left out.
    public func bans(_ room: RoomName, actor: UserName, now: Millis) -> EventLoopFuture<[RoomBan]> {
        redis.run(
            ModerationScripts.bans, keys: [ChatKeys.roles(room), ChatKeys.bans(room), ChatKeys.rules(room)],
            arguments: [actor.key]
        ).map { reply in
            let entries = Self.strings(reply)
            return stride(from: 0, to: entries.count - 1, by: 2).compactMap { index -> RoomBan? in
                let fields = entries[index + 1].split(separator: "\n", omittingEmptySubsequences: false).map(
                    String.init)
                let isMute = entries[index].hasPrefix("mute:")
                // A ban: until, nick, host, address, by, time, reason. A mute: until, by, reason, name.
                guard fields.count == (isMute ? 4 : 7), let lapse = Millis(fields[0]) else { return nil }
                guard lapse == 0 || lapse > now else { return nil }
                let reason = fields[isMute ? 2 : 6]
                return RoomBan(
                    mask: isMute ? "m:\(fields[3])!*@*" : entries[index], by: fields[isMute ? 1 : 4],
                    time: isMute ? 0 : Millis(fields[5]) ?? 0, until: lapse == 0 ? nil : lapse,
                    reason: reason.isEmpty ? nil : reason)
            }.sorted { ($0.mask.hasPrefix("m:") ? 1 : 0, $0.time) < ($1.mask.hasPrefix("m:") ? 1 : 0, $1.time) }
        }
    }

    /// Invites `target` (who must be connected) and tells them, on whatever node they are. Returns whether the
    /// invitation was recorded (an operator's, which lets them in for an hour past the room's settings and bans),
    /// or is only a word to them (anyone else's: `ModerationScripts.invite`).
    /// An invitation reaches someone as a direct message does, so whoever refuses guests' direct messages
    /// (`/dms registered`, IRC `+R`) refuses a guest's invitations too (`registered-only`; `actorRegistered`: the
    /// inviter is logged in to a registered name).
    public func invite(
        _ room: RoomName, actor: UserName, actorRegistered: Bool, target: UserName, now: Millis, origin: String
    ) -> EventLoopFuture<Bool> {
        let preferences = redis.send("HMGET", ChatKeys.preferences(target.key), "b:" + actor.key, "dms")
        return displayName(of: target).and(preferences).flatMap { held, preferences -> EventLoopFuture<Bool> in
            guard let name = held else {
                return eventLoop.makeFailedFuture(
                    ChatError(.noSuchUser, "nobody called \(target.display) is connected"))
            }
            // As `IdentityScripts.direct` does: someone blocked is never told more (their invitation goes on, and the
            // recipient's node drops it); only then is a guest refused.
            let fields = (preferences.array ?? []).map(\.string)
            if !actorRegistered, fields.count == 2, fields[0] == nil, fields[1] == "registered" {
                return eventLoop.makeFailedFuture(
                    ChatError(
                        .registeredOnly, "\(name) takes invitations and direct messages from registered names only"))
            }
            return redis.run(
                ModerationScripts.invite,
                .init(
                    membersKey: ChatKeys.members(room), rolesKey: ChatKeys.roles(room), rulesKey: ChatKeys.rules(room),
                    actor: actor.key, target: target.key, name: name, now: now,
                    expires: now + ModerationLimits.invitationMillis, roomIdleTTL: bounds.roomIdleSeconds,
                    room: room.value)
            ).flatMap { recorded in
                let notice = RelayCodec.encode(
                    RelayEnvelope(event: .invited(room: room, by: actor.display, time: now), origin: origin))
                return redis.send("SPUBLISH", ChatKeys.userChannel(target.key), notice).map { _ in recorded.int == 1 }
            }
        }
    }

    /// The name a connected person holds, as they typed it; nil when nobody holds it.
    private func displayName(of user: UserName?) -> EventLoopFuture<String?> {
        guard let user else { return eventLoop.makeSucceededFuture(nil) }
        return redis.send("HGET", ChatKeys.session(user.key), "name").map { $0.string }
    }

    /// A change as `ModerationScripts.moderate` takes it: six fields. `accounts`: when the accounts of the names
    /// given roles were made, by user key.
    static func scriptFields(
        _ change: RoomModeChange, by actor: UserName, reason: String?, now: Millis, accounts: [String: String] = [:]
    ) -> [String] {
        func key(_ name: String) -> String { (try? UserName(validating: name))?.key ?? name }
        let lapse = String(change.until ?? 0)
        switch change {
        case .role(let role, let name, let granted):
            return ["role", key(name), granted ? "1" : "0", role.letters, name, accounts[key(name)] ?? ""]
        case .flag(let flag, let on):
            return ["flag", String(flag.rawValue), on ? "1" : "0", "", "", ""]
        case .key(let value):
            return ["key", value ?? "", "", "", "", ""]
        case .limit(let value):
            return ["limit", value.map(String.init) ?? "", "", "", "", ""]
        case .ban(let mask, let on, _):
            let entry = [
                lapse, mask.nickGlob, mask.hostGlob ?? "", mask.addressPrefix ?? "", actor.display, String(now),
                reason ?? "",
            ]
            return ["ban", mask.text, on ? "1" : "0", entry.joined(separator: "\n"), "", ""]
        case .mute(let name, let on, _):
            let entry = [lapse, actor.display, reason ?? "", name]
            return ["mute", key(name), on ? "1" : "0", entry.joined(separator: "\n"), name, ""]
        }
    }
}
