import ChatCore
import NIOCore
import RedisClient

// One file because a claim is one protocol: the script's answers (a replaced or taken-over session, a password to
// check) and what the store does after them (leaves, moves, the address's counters, the node's user set) must
// agree, as must the account and failed-login operations that count and uncount the same checks.

/// One claim attempt: what the node knows besides the name.
public struct ClaimAttempt: Sendable {
    /// The claim's token: what keep-alives and the release compare.
    public var token: String
    /// The hash of the resume token the hello brought, if any.
    public var resumeHash: String?
    /// The hash of the resume token this session will hand out in `welcome`.
    public var newResumeHash: String
    public var passwordGiven: Bool
    /// The account's stored hash, once the node has checked the password against it.
    public var verifiedHash: String?
    /// Rooms the client is about to rejoin: a resume keeps these memberships and leaves the others.
    public var keeping: [RoomName]
    /// The client's address group (`ChatStore.addressGroup`), for failed-login limits ('' when unknown: then
    /// only the name's limit applies).
    public var address: String
    /// The session that claims, so that the notice closing a resumed session's old connection skips this one.
    public var origin: String
    /// Whether the password check behind `verifiedHash` is still counted as a failure, for the claim to uncount;
    /// false when it was uncounted already (`loginSucceeded`, after a check made before the claim: SASL).
    public var checkCounted = true
    /// Whether that check was counted for the name at all (not for an address its owner logged in from).
    public var nameCounted = true
    /// What the person calls themselves (IRC's real name), kept with the session and /seen's record.
    public var realName = ""

    public init(
        token: String, resumeHash: String?, newResumeHash: String, passwordGiven: Bool, verifiedHash: String? = nil,
        keeping: [RoomName] = [], address: String, origin: String
    ) {
        self.token = token
        self.resumeHash = resumeHash
        self.newResumeHash = newResumeHash
        self.passwordGiven = passwordGiven
        self.verifiedHash = verifiedHash
        self.keeping = keeping
        self.address = address
        self.origin = origin
    }
}

/// Names and identity in Redis: claims (plain, resumed, by password), holding a dropped session's name, direct
/// messages, accounts and failed-login limits. See `IdentityScripts`.
extension ChatStore {
    public enum ClaimReply: Equatable, Sendable {
        case claimed
        /// Took over a session (by resume token, or a registered name's password): when that session began, and
        /// its author identity (`SessionGrant.author`), which the resume keeps.
        case resumed(since: Millis, author: String)
        /// One more connection of a registered name's live session: its claim token (the session's, shared by its
        /// connections), when it began, its author identity, and its rooms (memberships already).
        case attached(token: String, since: Millis, author: String, rooms: [RoomName])
        /// The name has as many connections as it may (`StoreBounds.connectionsPerName`).
        case crowded(connections: Int)
        /// Somebody holds the name, or one that looks like it: their name as typed, when known.
        case held(by: String?, reconnecting: Bool)
        case passwordRequired
        /// Registered: check the password against this hash, then claim again with it verified. `nameCounted`:
        /// the check was counted as a failure of the name (not from an address its owner logged in from).
        case verify(hash: String, nameCounted: Bool)
        case notRegistered
        case locked(retryAfterSeconds: Int)
    }

    /// A guest's plain claim: true when the name is now ours.
    public func claim(_ user: UserName, token: String, now: Millis, address: String) -> EventLoopFuture<Bool> {
        let attempt = ClaimAttempt(
            token: token, resumeHash: nil, newResumeHash: "", passwordGiven: false, address: address, origin: "")
        return claimName(user, attempt, now: now).map { $0 == .claimed }
    }

    /// Claims a name (see `IdentityScripts.claim`), then does what the claim means beyond the person's own keys,
    /// before answering, so that the client's next steps come after it: a replaced stale session's rooms are told
    /// it left, a taken-over session's kept memberships move to this incarnation and its other rooms are told it
    /// left, the incarnations' user sets follow, /seen's index is kept within its cap. Failed logins from the
    /// client's address are counted here too: a password check to be made is counted before it is made, against
    /// the address's limit (`locked` past it), and uncounted when the verified claim comes back.
    ///
    /// The user is put in this incarnation's user set before the claim, so that a node dying right after claiming
    /// leaves a session its reaper finds, and again after it (a release of an older session of the name on this
    /// node may have taken it out in between). A claim that does not succeed takes it out again if it added it,
    /// unless a session of the name is this incarnation's by then. An entry too many is harmless (the reaper checks
    /// the session's incarnation); one missing would hide a session from the reaper.
    public func claimName(_ user: UserName, _ attempt: ClaimAttempt, now: Millis) -> EventLoopFuture<ClaimReply> {
        let usersKey = ChatKeys.incarnationUsers(incarnation)
        return addressLocked(attempt).and(lookAlikeHolder(user, attempt)).flatMap {
            locked, lookAlike -> EventLoopFuture<ClaimReply> in
            if let locked { return eventLoop.makeSucceededFuture(locked) }
            if let lookAlike { return eventLoop.makeSucceededFuture(.held(by: lookAlike, reconnecting: false)) }
            return redis.send("SADD", usersKey, user.key).flatMap { added in
                claimScript(user, attempt, now: now).flatMap { reply -> EventLoopFuture<ClaimReply> in
                    switch reply {
                    case .claimed, .resumed, .attached:
                        return redis.send("SADD", usersKey, user.key).map { _ in reply }.recover { _ in reply }
                    default:
                        guard added.int == 1 else { return eventLoop.makeSucceededFuture(reply) }
                        // Nor while one of the name's several connections is here (a login attached meanwhile).
                        let holder = redis.send("HGET", ChatKeys.session(user.key), "inc")
                        let connections = redis.send("HVALS", ChatKeys.connections(user.key))
                        return holder.and(connections).flatMap { holder, connections in
                            let here = Self.strings(connections).contains { $0.hasPrefix(incarnation + " ") }
                            guard holder.string != incarnation, !here else {
                                return eventLoop.makeSucceededFuture(reply)
                            }
                            return redis.send("SREM", usersKey, user.key).map { _ in reply }
                        }.recover { _ in reply }
                    }
                }
            }
        }
    }

    /// Who holds or registered a name this one may be mistaken for (`UserName.lookAlikeKeys`: `aIice` while
    /// `alice` is here or registered), as they typed it; nil when nobody. Not one step with the claim (the keys
    /// are other people's, on other shards): two look-alikes claimed in the same moment both get through. A resume
    /// is not checked: the session is the client's already; nor is a registered name, which is its owner's.
    private func lookAlikeHolder(_ user: UserName, _ attempt: ClaimAttempt) -> EventLoopFuture<String?> {
        let keys = attempt.resumeHash == nil ? user.lookAlikeKeys.sorted() : []
        guard !keys.isEmpty else { return eventLoop.makeSucceededFuture(nil) }
        // A registered name is its owner's whatever else looks like it: registering `lvan` cannot lock `Ivan`'s
        // owner out.
        return redis.send("EXISTS", ChatKeys.account(user.key)).flatMap { registered in
            guard registered.int != 1 else { return eventLoop.makeSucceededFuture(nil) }
            return lookAlikeHolder(of: keys)
        }
    }

    func lookAlikeHolder(of keys: [String]) -> EventLoopFuture<String?> {
        let lookups = keys.map { key in
            redis.send("EXISTS", ChatKeys.claim(key)).and(redis.send("HGET", ChatKeys.session(key), "name"))
                .and(redis.send("HGET", ChatKeys.account(key), "name"))
                .map { held, account -> String? in
                    if held.0.int == 1 { return held.1.string ?? key }
                    return account.string
                }
        }
        return EventLoopFuture.whenAllSucceed(lookups, on: eventLoop).map { $0.compactMap { $0 }.first }
    }

    /// A password check from an address past its limit is refused before anything is counted for the name: else a
    /// locked-out client could still keep somebody's name locked by guessing at it.
    private func addressLocked(_ attempt: ClaimAttempt) -> EventLoopFuture<ClaimReply?> {
        guard attempt.passwordGiven, attempt.verifiedHash == nil, !attempt.address.isEmpty else {
            return eventLoop.makeSucceededFuture(nil)
        }
        let counter = ChatKeys.loginFailures(address: attempt.address)
        return redis.send("GET", counter).and(redis.send("TTL", counter)).map { count, ttl in
            guard let failures = count.string.flatMap({ Int($0) }), failures >= bounds.loginFailuresPerAddress else {
                return nil
            }
            return .locked(retryAfterSeconds: max(Int(ttl.int ?? 1), 1))
        }
    }

    private func claimScript(_ user: UserName, _ attempt: ClaimAttempt, now: Millis) -> EventLoopFuture<ClaimReply> {
        let key = user.key
        let parameters = IdentityScripts.ClaimParameters(
            claimKey: ChatKeys.claim(key), sessionKey: ChatKeys.session(key),
            sessionRoomsKey: ChatKeys.sessionRooms(key), seenKey: ChatKeys.seen(key),
            accountKey: ChatKeys.account(key), nameFailuresKey: ChatKeys.loginFailures(name: key),
            heldDirectsKey: ChatKeys.heldDirects(key), preferencesKey: ChatKeys.preferences(key),
            ownedRoomsKey: ChatKeys.ownedRooms(key), connectionsKey: ChatKeys.connections(key),
            droppedResumesKey: ChatKeys.droppedResumes(key), token: attempt.token,
            name: user.display,
            incarnation: incarnation, node: nodeID, now: now, claimTTL: nameTTLSeconds, addressGroup: attempt.address,
            sessionTTL: sessionTTLSeconds, seenTTL: bounds.seenSeconds, resumeHash: attempt.resumeHash,
            verifiedHash: attempt.verifiedHash, passwordGiven: attempt.passwordGiven,
            failuresPerName: bounds.loginFailuresPerName, userChannel: ChatKeys.userChannel(key),
            newResumeHash: attempt.newResumeHash, origin: attempt.origin,
            failureWindow: bounds.loginFailureWindowSeconds, accountLifetime: bounds.accountLifetimeSeconds,
            uncountsCheck: attempt.checkCounted && attempt.nameCounted, realName: attempt.realName,
            connectionsPerName: bounds.connectionsPerName, connectionSeniority: bounds.connectionSenioritySeconds,
            keeping: attempt.keeping.map(\.value))
        return redis.run(IdentityScripts.claim, parameters).flatMap { reply -> EventLoopFuture<ClaimReply> in
            let fields = Self.strings(reply)
            switch fields.first {
            case "claimed" where fields.count >= 3:
                let replaced = fields[1]
                let rooms = fields.dropFirst(3).map(RoomName.init(trusted:))
                let left = leaveRooms(rooms, user: key, holder: replaced, now: now) { room in
                    RelayCodec.encode(
                        RelayEnvelope(event: .left(room: room, name: fields[2], reason: .connectionLost, time: now)))
                }
                let seen = noteSeen(key, connected: now)
                return uncountVerified(attempt).and(left).and(seen).and(
                    moveUser(key, from: Self.incarnation(of: replaced))
                )
                .map { _ in .claimed }.recover { _ in .claimed }
            case "resumed" where fields.count >= 6:
                let since = Millis(fields[1]) ?? now
                let (previous, name, keptCount, author) = (fields[2], fields[3], Int(fields[4]) ?? 0, fields[5])
                let rooms = fields.dropFirst(6).map(RoomName.init(trusted:))
                let kept = rooms.prefix(keptCount).map { room in
                    redis.run(
                        RoomScripts.setMember, keys: [ChatKeys.members(room)],
                        arguments: [key, previous, attempt.token])
                }
                let left = leaveRooms(Array(rooms.dropFirst(keptCount)), user: key, holder: previous, now: now) {
                    room in
                    RelayCodec.encode(
                        RelayEnvelope(event: .left(room: room, name: name, reason: .connectionLost, time: now)))
                }
                return uncountVerified(attempt).and(EventLoopFuture.andAllSucceed(kept, on: eventLoop)).and(left)
                    .and(moveUser(key, from: Self.incarnation(of: previous)))
                    .map { _ in .resumed(since: since, author: author) }
                    .recover { _ in .resumed(since: since, author: author) }
            case "attached" where fields.count >= 5:
                let attached = ClaimReply.attached(
                    token: fields[1], since: Millis(fields[2]) ?? now, author: fields[3],
                    rooms: fields.dropFirst(5).map(RoomName.init(trusted:)))
                return uncountVerified(attempt).map { attached }.recover { _ in attached }
            case "crowded" where fields.count == 2:
                let crowded = ClaimReply.crowded(connections: Int(fields[1]) ?? 0)
                return uncountVerified(attempt).map { crowded }.recover { _ in crowded }
            case "held" where fields.count == 3:
                let held = ClaimReply.held(by: fields[1].isEmpty ? nil : fields[1], reconnecting: fields[2] == "1")
                return uncountVerified(attempt).map { held }.recover { _ in held }
            case "password": return eventLoop.makeSucceededFuture(.passwordRequired)
            case "verify" where fields.count == 3:
                let nameCounted = fields[2] == "1"
                return countCheck(user, address: attempt.address, nameCounted: nameCounted).map {
                    $0 ?? .verify(hash: fields[1], nameCounted: nameCounted)
                }
            case "wrong": return eventLoop.makeSucceededFuture(.notRegistered)
            case "locked" where fields.count == 2:
                return eventLoop.makeSucceededFuture(.locked(retryAfterSeconds: Int(fields[1]) ?? 1))
            case "suspended" where fields.count == 2:
                return eventLoop.makeFailedFuture(Self.suspension(user, entry: fields[1]))
            default:
                return eventLoop.makeFailedFuture(RedisError(.protocolViolation, "the claim script answered \(fields)"))
            }
        }
    }

    /// What a login to a suspended name is told: until when, and why.
    static func suspension(_ user: UserName, entry: String) -> ChatError {
        let fields = entry.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let lapse = fields.first.flatMap { Millis($0) } ?? 0
        var text =
            "\(user.display) is suspended " + (lapse == 0 ? "until lifted" : "until \(TimeFormat.dateTime(lapse))")
        if fields.count > 2, !fields[2].isEmpty { text += ": \(fields[2])" }
        return ChatError(.suspended, text)
    }

    /// The incarnation a claim token belongs to (tokens are `<incarnation>:<random>`); '' for none.
    static func incarnation(of token: String) -> String {
        String(token.prefix { $0 != ":" })
    }

    /// The user's session is now this incarnation's (in whose user set it already is): no longer in the set of the
    /// incarnation it came from ('' for none).
    private func moveUser(_ user: String, from previous: String) -> EventLoopFuture<Void> {
        guard !previous.isEmpty, previous != incarnation else { return eventLoop.makeSucceededVoidFuture() }
        return redis.send("SREM", ChatKeys.incarnationUsers(previous), user).map { _ in }
    }

    /// /seen's index gets the user; those it forgets past its cap lose their records (unless they connected again
    /// since).
    func noteSeen(_ user: String, connected: Millis) -> EventLoopFuture<Void> {
        redis.run(
            IndexScripts.noteSeen, keys: [ChatKeys.seenIndex],
            arguments: [user, String(connected), String(bounds.maxSeenRecords)]
        ).flatMap { reply in
            let forgotten = Self.strings(reply)
            let deletions = stride(from: 0, to: forgotten.count - 1, by: 2).map { index in
                redis.run(
                    SessionScripts.forgetSeen, keys: [ChatKeys.seen(forgotten[index])],
                    arguments: [forgotten[index + 1]])
            }
            return EventLoopFuture.andAllSucceed(deletions, on: eventLoop)
        }
    }

    /// A password check the claim counted for the name is counted for the address too, against its own limit.
    /// Past it, the check is not made: uncounted for the name (if it was counted there), and `locked`.
    private func countCheck(_ user: UserName, address: String, nameCounted: Bool) -> EventLoopFuture<ClaimReply?> {
        guard !address.isEmpty else { return eventLoop.makeSucceededFuture(nil) }
        return count(
            ChatKeys.loginFailures(address: address), by: 1, windowSeconds: bounds.loginFailureWindowSeconds,
            limit: bounds.loginFailuresPerAddress
        ).flatMap { result in
            guard !result.counted else { return eventLoop.makeSucceededFuture(nil) }
            let locked = ClaimReply.locked(retryAfterSeconds: result.retryAfterSeconds)
            guard nameCounted else { return eventLoop.makeSucceededFuture(locked) }
            return count(
                ChatKeys.loginFailures(name: user.key), by: -1, windowSeconds: bounds.loginFailureWindowSeconds
            )
            .map { _ in locked }
        }
    }

    /// A verified claim came back: the check counted in advance for the address was right, uncounted (the claim
    /// script uncounted the name's).
    private func uncountVerified(_ attempt: ClaimAttempt) -> EventLoopFuture<Void> {
        guard attempt.verifiedHash != nil, attempt.checkCounted, !attempt.address.isEmpty else {
            return eventLoop.makeSucceededVoidFuture()
        }
        return count(
            ChatKeys.loginFailures(address: attempt.address), by: -1, windowSeconds: bounds.loginFailureWindowSeconds
        )
        .map { _ in }
    }

    /// Where failed logins and registrations are counted for a client (`AddressGroup`).
    public static func addressGroup(_ ip: String?) -> String { AddressGroup.of(ip) }

    /// Keeps a dropped session's name (and rooms) for its resume token for the grace period; false when the
    /// session was no longer this one.
    /// One of several connections of a registered name is let go instead (false: nothing to hold).
    public func hold(_ user: UserName, token: String, now: Millis, origin: String) -> EventLoopFuture<Bool> {
        redis.run(
            IdentityScripts.hold,
            keys: [
                ChatKeys.claim(user.key), ChatKeys.session(user.key), ChatKeys.connections(user.key),
                ChatKeys.droppedResumes(user.key),
            ],
            arguments: [token, String(bounds.resumeGraceSeconds), String(now), origin]
        ).map { $0.int == 1 }
    }

    /// Returns false when nobody by that name is connected anywhere; a message to a name held for its reconnecting
    /// owner waits for the resume.
    /// `sender`: the sender's key, and whether they are logged in to a registered name, for the recipient's blocks
    /// and refusal of guests, and their identity (`SessionGrant.author`) for the archive. Fails with
    /// `registered-only` when the recipient refuses guests and the sender is one.
    ///
    /// With an archive (`archiveMarks`), the recipient is marked for the archiver (`ChatKeys.archivePendingDirects`)
    /// twice: before the message (sent ahead of it, not waited for: a node killed right after the message leaves
    /// the mark made; the archiver removes a mark only once it is two seconds old, by when the message it
    /// announced is logged), and after it, a tick later.
    /// `trace`: the message's `traceparent`, for the node that fans it out to continue.
    public func sendDirect(
        _ message: DirectMessage, to user: String, origin: String,
        sender: (key: String, registered: Bool, author: String), trace: String? = nil
    ) -> EventLoopFuture<(delivered: Bool, recipientAway: String?)> {
        let payload = RelayCodec.encode(RelayEnvelope(event: .direct(message), origin: origin))
        let marks = archiveMarks
        if let marks {
            // Not waited for; should it fail, the mark after the message (a tick later) stands for it.
            _ = markDirectsForArchive([user]).recover { _ in marks.noteDirect(to: user) }
        }
        let delivery = redis.run(
            IdentityScripts.direct,
            keys: [
                ChatKeys.session(user), ChatKeys.heldDirects(user), ChatKeys.preferences(user),
                ChatKeys.directLog(user), ChatKeys.account(user), ChatKeys.directLogLost(user),
            ],
            arguments: [
                ChatKeys.userChannel(user), payload, String(max(bounds.resumeGraceSeconds, 1) * 2),
                String(bounds.heldDirectsAtMost), sender.key, sender.registered ? "1" : "0", "",
                marks == nil ? "0" : String(bounds.directLogAtMost), sender.author, String(bounds.directLogSeconds),
                user, Self.plainTrace(trace),
            ]
        )
        if let marks { delivery.whenSuccess { _ in marks.noteDirect(to: user) } }
        return delivery.flatMapThrowing { reply in
            let fields = reply.array ?? []
            let status = fields.first?.int ?? 0
            guard status != -1 else {
                throw ChatError(
                    .registeredOnly, "\(message.to) takes direct messages from registered names only (register yours)")
            }
            let away = fields.count > 1 ? fields[1].string ?? "" : ""
            return (status == 1, away.isEmpty ? nil : Sanitizer.prefix(away, bytes: Presence.maximumAwayBytes))
        }.flatMap { (sent: (delivered: Bool, recipientAway: String?)) in
            // A registered sender's other connections show it as sent by them (IRC's echo-message, across devices).
            guard sent.delivered, sender.registered, sender.key != user else {
                return eventLoop.makeSucceededFuture(sent)
            }
            return tellConnections(of: sender.key, .direct(message), origin: origin).map { sent }.recover { _ in sent }
        }
    }

    /// Whether `connection` is still one of the person's several (`ChatKeys.connections`), or the session's own.
    public func isListed(_ user: UserName, connection: String) -> EventLoopFuture<Bool> {
        redis.send("HEXISTS", ChatKeys.connections(user.key), connection)
            .and(redis.send("HGET", ChatKeys.session(user.key), "sid"))
            .map { listed, own in listed.int == 1 || own.string == connection }
    }

    /// Tells the person's other connections (a registered name may have several: `IdentityScripts.claim`) what
    /// this one did, on the person's channel; `origin`, this connection, skips it.
    public func tellConnections(of user: String, _ event: ChatEvent, origin: String) -> EventLoopFuture<Void> {
        let payload = RelayCodec.encode(RelayEnvelope(event: event, origin: origin))
        return redis.send("SPUBLISH", ChatKeys.userChannel(user), payload).map { _ in }
    }

    /// The direct messages that waited for a resumed session; its name stops being held.
    public func takeHeldDirects(_ user: UserName, token: String) -> EventLoopFuture<[DirectMessage]> {
        redis.run(
            IdentityScripts.takeHeldDirects, keys: [ChatKeys.session(user.key), ChatKeys.heldDirects(user.key)],
            arguments: [token]
        ).map { reply in
            (reply.array ?? []).compactMap { value in
                guard case .bulk(let payload) = value, case .direct(let direct)? = RelayCodec.decode(payload)?.event
                else { return nil }
                return direct
            }
        }
    }

    public enum AccountHash: Equatable, Sendable {
        case none
        /// `nameCounted`: the check to be made was counted as a failure of the name (see `ClaimReply.verify`).
        case hash(String, nameCounted: Bool)
        case locked(retryAfterSeconds: Int)
    }

    /// A registered name's stored hash, to check a password against (unless failed logins lock it). The check is
    /// counted in advance for the name (unless the address is one its owner logged in from) and for the address
    /// (see `claimName`).
    public func accountHash(_ user: UserName, address: String) -> EventLoopFuture<AccountHash> {
        redis.run(
            IdentityScripts.accountHash,
            keys: [ChatKeys.account(user.key), ChatKeys.loginFailures(name: user.key)],
            arguments: [String(bounds.loginFailuresPerName), String(bounds.loginFailureWindowSeconds), address]
        ).flatMap { reply in
            let fields = Self.strings(reply)
            let answer: AccountHash =
                switch fields.first {
                case "hash" where fields.count == 3: .hash(fields[1], nameCounted: fields[2] == "1")
                case "locked" where fields.count == 2: .locked(retryAfterSeconds: Int(fields[1]) ?? 1)
                default: .none
                }
            guard case .hash(_, let nameCounted) = answer else { return eventLoop.makeSucceededFuture(answer) }
            return countCheck(user, address: address, nameCounted: nameCounted).map { locked in
                if case .locked(let seconds)? = locked { return .locked(retryAfterSeconds: seconds) }
                return answer
            }
        }
    }

    /// A password check that was counted in advance (`accountHash`, or a claim's `verify`) was right, or was never
    /// made (the hasher was busy): uncounted for the address, and for the name if it was counted there.
    public func loginSucceeded(_ user: UserName, address: String, nameCounted: Bool = true) -> EventLoopFuture<Void> {
        let window = bounds.loginFailureWindowSeconds
        let name =
            nameCounted
            ? count(ChatKeys.loginFailures(name: user.key), by: -1, windowSeconds: window).map { _ in }
            : eventLoop.makeSucceededVoidFuture()
        guard !address.isEmpty else { return name }
        return name.and(count(ChatKeys.loginFailures(address: address), by: -1, windowSeconds: window)).map { _ in }
    }

    /// Whether the session holding `token` may register its name now (counted against its address group);
    /// refusals are `ChatError`s. Checked before the password is hashed.
    public func mayRegister(_ user: UserName, token: String, address: String) -> EventLoopFuture<Void> {
        redis.run(
            IdentityScripts.mayRegister, keys: [ChatKeys.account(user.key), ChatKeys.claim(user.key)],
            arguments: [token]
        ).flatMapErrorThrowing { error in
            throw ChatScripts.chatError(error) ?? error
        }.flatMap { _ -> EventLoopFuture<Void> in
            guard !address.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
            let perHour = bounds.registrationsPerHour
            return count(ChatKeys.registrations(address), by: 1, windowSeconds: 3600, limit: perHour)
                .flatMapThrowing { result in
                    guard result.counted else {
                        throw ChatError(.rateLimited, "at most \(perHour) names registered an hour from one address")
                    }
                }
        }
    }

    /// Registers (`expected` nil), re-hashes, or removes (`new` nil) the account of the name `token` holds, if its
    /// stored hash is still `expected`. Refusals are `ChatError`s. A change made by `connection` (its id and its
    /// resume token's hash) closes the name's other connections.
    public func setAccount(
        _ user: UserName, token: String, expected: String?, new: String?, now: Millis, address: String = "",
        connection: (origin: String, resumeHash: String)? = nil
    ) -> EventLoopFuture<Void> {
        redis.run(
            IdentityScripts.setAccount,
            .init(
                accountKey: ChatKeys.account(user.key), claimKey: ChatKeys.claim(user.key),
                sessionKey: ChatKeys.session(user.key), connectionsKey: ChatKeys.connections(user.key),
                droppedResumesKey: ChatKeys.droppedResumes(user.key), userChannel: ChatKeys.userChannel(user.key),
                origin: connection?.origin ?? "", resumeHash: connection?.resumeHash ?? "", incarnation: incarnation,
                node: nodeID, token: token,
                expectedHash: expected, newHash: new, name: user.display, now: now,
                lifetime: bounds.accountLifetimeSeconds, addressGroup: address)
        ).flatMapErrorThrowing { error in
            throw ChatScripts.chatError(error) ?? error
        }.map { _ in }
    }
}
