import ChatCore
import NIOCore
import RedisClient

/// Registered rooms (docs/moderation.md, "Registered rooms"): each change is one script on the room's tag
/// (`RegistrationScripts`); the owner's count of rooms, on the person's tag, is kept around it, and the room is
/// told after it. A fixed number of round trips, whatever the size of the room.
extension ChatStore {
    /// Who may give up a registration: its owner (the account), a server operator (any room), or the name's owner
    /// unregistering the name itself (their rooms, whatever account registered them: it is going).
    public enum Unregistering: String, Sendable {
        case owner = "0"
        case serverOperator = "1"
        case nameGoing = "2"
    }

    /// Registers the room to `actor` (its operator, logged in to a registered name; counted as a registration of
    /// `address`'s group, as a name is), gives it up, or gives it to another member. Returns the owner after and
    /// before, as the room is told.
    public func changeRegistration(
        _ room: RoomName, _ request: RoomRegistrationRequest, actor: UserName, unregistering: Unregistering = .owner,
        address: String = "", now: Millis, origin: String
    ) -> EventLoopFuture<(owner: String?, previous: String?)> {
        let changed: EventLoopFuture<(owner: String?, previous: String?)>
        switch request {
        case .register:
            changed = accountMade(actor.key).flatMap {
                account -> EventLoopFuture<(owner: String?, previous: String?)> in
                guard !account.isEmpty else {
                    return eventLoop.makeFailedFuture(
                        ChatError(.notRegistered, "a room belongs to a registered name: /register PASSWORD first"))
                }
                return countingRegistration(from: address) {
                    reserving(room, for: actor) {
                        redis.run(
                            RegistrationScripts.register,
                            keys: [
                                ChatKeys.members(room), ChatKeys.roles(room), ChatKeys.rules(room),
                                ChatKeys.bans(room), ChatKeys.topic(room),
                            ],
                            arguments: [
                                actor.key, account, actor.display, String(now), String(bounds.accountLifetimeSeconds),
                                room.value,
                            ])
                    }
                }.flatMap { _ in keepIndexed(room, now: now) }.map { (actor.display, nil) }
            }
        case .unregister:
            let account = unregistering == .owner ? accountMade(actor.key) : eventLoop.makeSucceededFuture("")
            changed = account.flatMap { account in
                redis.run(
                    RegistrationScripts.unregister,
                    keys: [
                        ChatKeys.members(room), ChatKeys.roles(room), ChatKeys.rules(room), ChatKeys.bans(room),
                        ChatKeys.topic(room), ChatKeys.history(room),
                    ],
                    arguments: [
                        actor.key, account, unregistering.rawValue,
                        String(bounds.roomIdleSeconds), room.value,
                    ])
            }.flatMap { reply in
                let fields = Self.strings(reply)
                guard fields.count == 3 else { return eventLoop.makeSucceededFuture((nil, nil)) }
                // Back to an ordinary room's place in the index: it ages from now (or goes, when vacant).
                let index: EventLoopFuture<Void> =
                    fields[2] == "1"
                    ? unlistIfEmpty(room).and(unindexIfVacant(room, now: now)).map { _ in }
                    : redis.send("ZADD", ChatKeys.roomActivity, "XX", String(now), room.look).map { _ in }
                return redis.send("SREM", ChatKeys.ownedRooms(fields[0]), room.value).and(index).map { _ in
                    (nil, fields[1])
                }
            }
        case .transfer(let name):
            guard let target = try? UserName(validating: name), target.key != actor.key else {
                return eventLoop.makeFailedFuture(ChatError(.badRequest, "give #\(room) to another person's name"))
            }
            let held = redis.send("HGET", ChatKeys.session(target.key), "name").map { $0.string ?? target.display }
            changed = accountMade(target.key).and(accountMade(actor.key)).and(held).flatMap { accounts, shown in
                reserving(room, for: target) {
                    redis.run(
                        RegistrationScripts.transfer,
                        keys: [ChatKeys.members(room), ChatKeys.roles(room), ChatKeys.rules(room)],
                        arguments: [
                            actor.key, accounts.1, target.key, accounts.0, shown, String(now), room.value,
                        ])
                }.flatMap { previous in
                    redis.send("SREM", ChatKeys.ownedRooms(actor.key), room.value).map { _ in
                        (shown, previous.string)
                    }
                }
            }
        case .info:
            return eventLoop.makeFailedFuture(ChatError(.badRequest, "room info changes nothing"))
        }
        return changed.flatMapError { error in
            eventLoop.makeFailedFuture(Self.refusal(error) ?? error)
        }.flatMap { owner, previous in
            let notice = RelayCodec.encode(
                RelayEnvelope(
                    event: .roomRegistered(room: room, owner: owner, previous: previous, by: actor.display, time: now),
                    origin: origin))
            return redis.send("SPUBLISH", ChatKeys.roomChannel(room), notice).map { _ in (owner, previous) }
        }
    }

    /// The room's registration as `/room info` shows it; its list only to a `viewer` who moderates the room.
    public func registration(of room: RoomName, viewer: UserName) -> EventLoopFuture<RoomRegistration> {
        redis.send("HGETALL", ChatKeys.rules(room)).and(redis.send("HGET", ChatKeys.roles(room), viewer.key)).map {
            rules, letters in
            let fields = Self.strings(rules)
            var registration = RoomRegistration(room: room)
            var access: [RoomAccess] = []
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                let entry = fields[index + 1].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                if fields[index] == "owner", entry.count == 4 {
                    registration.owner = entry[2]
                    registration.since = Millis(entry[3])
                } else if fields[index].hasPrefix("access:"), entry.count == 3 {
                    access.append(RoomAccess(name: entry[2], roles: RoomRoles(letters: entry[0])))
                }
            }
            if registration.owner != nil, RoomRoles(letters: letters.string ?? "").moderates {
                registration.access = access.sorted { $0.name.lowercased() < $1.name.lowercased() }
            }
            return registration
        }
    }

    /// Gives up the registrations of the rooms `user` owns (their account is going): each room becomes an
    /// ordinary one and is told so.
    public func giveUpRooms(of user: UserName, now: Millis, origin: String) -> EventLoopFuture<Void> {
        redis.send("SMEMBERS", ChatKeys.ownedRooms(user.key)).flatMap { reply in
            let rooms = Self.strings(reply).compactMap { try? RoomName(validating: $0) }
            let each = rooms.map { room in
                changeRegistration(room, .unregister, actor: user, unregistering: .nameGoing, now: now, origin: origin)
                    .map { _ in }.recover { _ in }
            }
            return EventLoopFuture.andAllSucceed(each, on: eventLoop).flatMap {
                redis.send("DEL", ChatKeys.ownedRooms(user.key)).map { _ in }
            }
        }
    }

    /// When the name's account was made; '' for a name nobody registered.
    private func accountMade(_ user: String) -> EventLoopFuture<String> {
        redis.send("HGET", ChatKeys.account(user), "created").map { $0.string ?? "" }
    }

    /// A registered room stays in the room index (what `--max-rooms` counts, and what keeps look-alike rooms out)
    /// as long as its registration lives: its activity is put that far ahead, which later activity never lowers
    /// (`ZADD GT`). Called at its registration and at each of its owner's joins.
    func keepIndexed(_ room: RoomName, now: Millis) -> EventLoopFuture<Void> {
        let until = now + Millis(bounds.accountLifetimeSeconds - bounds.roomIdleSeconds) * 1000
        return redis.send("ZADD", ChatKeys.roomActivity, "GT", String(until), room.look).map { _ in }
    }

    /// Runs `change` counted as one of the registrations `address`'s group may make an hour (names and rooms
    /// alike: each holds Redis for a year); a refused change is not counted.
    private func countingRegistration(
        from address: String, _ change: @escaping @Sendable () -> EventLoopFuture<RedisValue>
    ) -> EventLoopFuture<RedisValue> {
        guard !address.isEmpty else { return change() }
        let counter = ChatKeys.registrations(address)
        let perHour = bounds.registrationsPerHour
        return count(counter, by: 1, windowSeconds: 3600, limit: perHour).flatMap { counted in
            guard counted.counted else {
                return eventLoop.makeFailedFuture(
                    ChatError(.rateLimited, "at most \(perHour) names and rooms registered an hour from one address"))
            }
            return change().flatMapError { error in
                count(counter, by: -1, windowSeconds: 3600).flatMapThrowing { _ in throw error }
            }
        }
    }

    /// Runs `change` with `room` counted among `owner`'s rooms, within `RoomRegistrationLimits.roomsPerOwner`;
    /// a refused change takes the count back (unless the room was counted before it). At the cap, rooms the
    /// person no longer owns (closed, unregistered by a server operator, given up while the count was kept) are
    /// taken off the count first: at most the cap's worth of reads, only then.
    private func reserving(
        _ room: RoomName, for owner: UserName, _ change: @escaping @Sendable () -> EventLoopFuture<RedisValue>
    ) -> EventLoopFuture<RedisValue> {
        let owned = ChatKeys.ownedRooms(owner.key)
        let cap = RoomRegistrationLimits.roomsPerOwner
        let reserve = {
            redis.run(
                RegistrationScripts.reserve, keys: [owned],
                arguments: [room.value, String(cap), String(bounds.accountLifetimeSeconds)])
        }
        return reserve().flatMap { reserved -> EventLoopFuture<RedisValue> in
            guard reserved.int == 0 else { return eventLoop.makeSucceededFuture(reserved) }
            return forgetRoomsNotOwned(by: owner).flatMap { reserve() }
        }.flatMap { reserved -> EventLoopFuture<RedisValue> in
            guard reserved.int != 0 else {
                return eventLoop.makeFailedFuture(
                    ChatError(
                        .alreadyRegistered, "\(owner.display) owns \(cap) rooms already: one may own at most \(cap)"))
            }
            return change().flatMapError { error in
                guard reserved.int == 1 else { return eventLoop.makeFailedFuture(error) }
                return redis.send("SREM", owned, room.value).flatMapThrowing { _ in throw error }
            }
        }
    }

    /// Takes off `owner`'s count the rooms whose registration names somebody else, another account of the name,
    /// or nobody.
    private func forgetRoomsNotOwned(by owner: UserName) -> EventLoopFuture<Void> {
        let owned = ChatKeys.ownedRooms(owner.key)
        return redis.send("SMEMBERS", owned).and(accountMade(owner.key)).flatMap { reply, account in
            let checks = Self.strings(reply).map { name in
                redis.send("HGET", ChatKeys.rules(RoomName(trusted: name)), "owner").flatMap { entry in
                    let fields = (entry.string ?? "").split(separator: "\n", omittingEmptySubsequences: false)
                    guard fields.count < 2 || fields[0] != owner.key || fields[1] != account else {
                        return eventLoop.makeSucceededVoidFuture()
                    }
                    return redis.send("SREM", owned, name).map { _ in }
                }
            }
            return EventLoopFuture.andAllSucceed(checks, on: eventLoop)
        }
    }
}
