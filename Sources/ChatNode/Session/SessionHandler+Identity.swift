import ChatCore
import ChatStore
import Crypto
import NIOCore

/// Who may hold a name: a claim with its resume token or password (checked off the event loops, failures counted
/// and logged without the password), account changes, and holding a dropped session's name for its resume token.
extension SessionHandler {
    var hasher: PasswordHasher { node.hasher }
    /// Where this client's failed logins, registrations and password checks are counted.
    var addressGroup: String { ChatStore.addressGroup(clientIP) }

    /// Claims `name`: a resume with the hello's token, a registered name's password checked against its stored hash
    /// (then the claim again, with the hash it was checked against), or a guest's claim. Every step continues on
    /// the session's loop.
    /// A name or address the network bans is refused first, from memory; a granted claim is told whether the name
    /// is a server operator's and what the message of the day is.
    func claim(_ name: UserName, login: Login, keeping: [RoomName]) -> EventLoopFuture<ClaimOutcome> {
        if let ban = node.network.ban(for: name, address: clientIP) {
            logger.notice(
                "login refused: banned from the network",
                metadata: [
                    "session.name": "\(name.display)", "client.address": "\(remoteAddress)", "ban.mask": "\(ban.mask)",
                ])
            return hub.eventLoop.makeFailedFuture(NetworkBans.refusal(ban))
        }
        let loop = hub.eventLoop
        return claimName(name, login: login, keeping: keeping).flatMap { outcome in
            guard case .granted(let token, let resume, let since, let resumed, let claimed) = outcome else {
                return loop.makeSucceededFuture(outcome)
            }
            // One round trip for what a login with a password, or a resume, means beyond the name: registered or
            // not, the person's blocks. A guest's plain claim starts with neither (its claim deleted any), and
            // spends nothing more: connect storms are mostly that.
            let state =
                resumed || login.password != nil || claimed.sharedRooms != nil
                ? self.store.loginState(name, token: token).recover { _ in (false, ChatStore.Preferences()) }
                : loop.makeSucceededFuture((false, ChatStore.Preferences()))
            return state.hop(to: loop).flatMap { registered, preferences in
                self.preferences = preferences
                var grant = SessionGrant(
                    motd: self.node.network.motd, isRegistered: registered,
                    readMarkers: registered ? preferences.readMarkers : [:],
                    author: Self.authorID(
                        registered && !preferences.accountCreated.isEmpty
                            ? "account:\(name.key):\(preferences.accountCreated)" : "guest:\(claimed.author)"),
                    sharedRooms: claimed.sharedRooms)
                guard registered, self.configuration.operators.contains(name.key) else {
                    return loop.makeSucceededFuture(
                        .granted(token: token, resume: resume, since: since, resumed: resumed, grant: grant))
                }
                return self.store.confirmOperator(name, token: token).recover { _ in false }.hop(to: loop).map {
                    grant.isServerOperator = self.stillListed(confirmed: $0, name, token: token)
                    return .granted(token: token, resume: resume, since: since, resumed: resumed, grant: grant)
                }
            }
        }
    }

    /// `SessionGrant.author` from the identity it stands for: SHA-256, 128 bits of it in hex.
    static func authorID(_ identity: String) -> String {
        SHA256.hash(data: Array(identity.utf8)).prefix(16).map { byte in
            (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    private func claimName(_ name: UserName, login: Login, keeping: [RoomName]) -> EventLoopFuture<ClaimOutcome> {
        let resume = ResumeTokens.make()
        let now = WallClock.now()
        var attempt = ClaimAttempt(
            token: store.makeToken(), resumeHash: login.resume.map(ResumeTokens.hash),
            newResumeHash: ResumeTokens.hash(resume), passwordGiven: login.password != nil, keeping: keeping,
            address: addressGroup, origin: machine.sessionID)
        attempt.realName = login.realName ?? ""
        let loop = hub.eventLoop
        if login.password != nil, let checked = checkedLogin, checked.key == name.key {
            // Checked moments ago on this connection (SASL): claim with the hash it matched. That check was
            // uncounted when it succeeded (loginSucceeded), so the claim must not uncount it again.
            var checkedAttempt = attempt
            checkedAttempt.checkCounted = false
            return claimVerified(name, attempt: checkedAttempt, hash: checked.hash, resume: resume)
        }
        return store.claimName(name, attempt, now: now).hop(to: loop).assumeIsolated().flatMap { reply in
            guard case .verify(let hash, let nameCounted) = reply, let password = login.password else {
                return loop.makeSucceededFuture(self.outcome(reply, attempt: attempt, resume: resume, now: now))
            }
            var counted = attempt
            counted.nameCounted = nameCounted
            return self.verifyAndClaim(name, password: password, hash: hash, attempt: counted, resume: resume)
        }.nonisolated()
    }

    /// The second step of a registered name's login: the password against the stored hash (off the loop), then
    /// the claim with the hash it matched.
    private func verifyAndClaim(
        _ name: UserName, password: Password, hash: String, attempt: ClaimAttempt, resume: String
    ) -> EventLoopFuture<ClaimOutcome> {
        let loop = hub.eventLoop
        let check = hasher.verify(password, against: hash, on: loop, for: addressGroup)
        return uncountedIfNotMade(check, name, nameCounted: attempt.nameCounted).assumeIsolated().flatMap { matches in
            guard matches else {
                // Already counted by the claim, before the check was made.
                self.logFailedLogin(name)
                return loop.makeSucceededFuture(.wrongPassword)
            }
            return self.claimVerified(name, attempt: attempt, hash: hash, resume: resume)
        }.nonisolated()
    }

    /// A check counted in advance that the hasher refused (busy, or this address's checks already running) was
    /// never made: it is uncounted, so that honest retries cannot lock a name, or an address, out.
    private func uncountedIfNotMade(
        _ check: EventLoopFuture<Bool>, _ name: UserName, nameCounted: Bool
    )
        -> EventLoopFuture<Bool>
    {
        let loop = hub.eventLoop
        let store = self.store
        let group = addressGroup
        return check.flatMapError { error in
            store.loginSucceeded(name, address: group, nameCounted: nameCounted).recover { _ in }.hop(to: loop)
                .flatMapThrowing { throw error }
        }
    }

    /// The claim with the stored hash a password was checked against, which the claim script compares.
    private func claimVerified(
        _ name: UserName, attempt: ClaimAttempt, hash: String, resume: String
    )
        -> EventLoopFuture<ClaimOutcome>
    {
        var verified = attempt
        verified.verifiedHash = hash
        let checkedAt = WallClock.now()
        return store.claimName(name, verified, now: checkedAt).hop(to: hub.eventLoop).assumeIsolated().map { reply in
            // The account changed since the check: the password checked was its old one.
            if case .verify = reply { return .wrongPassword }
            return self.outcome(reply, attempt: verified, resume: resume, now: checkedAt)
        }.nonisolated()
    }

    private func outcome(
        _ reply: ChatStore.ClaimReply, attempt: ClaimAttempt, resume: String, now: Millis
    )
        -> ClaimOutcome
    {
        switch reply {
        // The guest identity an author check starts from (`SessionGrant.author`): the claim's token, kept by resumes.
        case .claimed:
            .granted(token: attempt.token, resume: resume, since: now, grant: SessionGrant(author: attempt.token))
        case .resumed(let since, let author):
            .granted(
                token: attempt.token, resume: resume, since: since, resumed: true, grant: SessionGrant(author: author))
        case .attached(let token, let since, let author, let rooms):
            .granted(
                token: token, resume: resume, since: since, grant: SessionGrant(author: author, sharedRooms: rooms))
        case .crowded(let connections): .crowded(connections: connections)
        case .held(let holder, let reconnecting): .held(by: holder, reconnecting: reconnecting)
        case .passwordRequired: .passwordRequired
        case .verify, .notRegistered: .wrongPassword
        case .locked(let seconds): .locked(retryAfterSeconds: seconds)
        }
    }

    /// A registered name's password checked before naming (IRC's SASL): counted as a failed login when wrong;
    /// when right, remembered for the claim that follows on this connection.
    func checkPassword(_ name: UserName, password: Password) -> EventLoopFuture<Void> {
        let loop = hub.eventLoop
        let refused = ChatError(.badPassword, "'\(name.display)' is not registered with that password")
        return store.accountHash(name, address: addressGroup).hop(to: loop).assumeIsolated().flatMap { stored in
            switch stored {
            case .none:
                self.logFailedLogin(name)
                return loop.makeFailedFuture(refused)
            case .locked(let seconds):
                return loop.makeFailedFuture(
                    ChatError(.rateLimited, "too many failed logins for '\(name.display)'; try again in \(seconds) s"))
            case .hash(let hash, let nameCounted):
                let check = self.hasher.verify(password, against: hash, on: loop, for: self.addressGroup)
                return self.uncountedIfNotMade(check, name, nameCounted: nameCounted).assumeIsolated()
                    .flatMap { matches in
                        // Counted as a failure before the check (accountHash); uncounted when right.
                        guard matches else {
                            self.logFailedLogin(name)
                            return loop.makeFailedFuture(refused)
                        }
                        self.checkedLogin = (name.key, hash)
                        return self.store.loginSucceeded(name, address: self.addressGroup, nameCounted: nameCounted)
                            .recover { _ in }.hop(to: loop)
                    }.nonisolated()
            }
        }.nonisolated()
    }

    /// Logged (never with the password) and counted in the metrics.
    private func logFailedLogin(_ name: UserName) {
        node.metrics.loginFailures.increment()
        logger.notice(
            "failed login", metadata: ["session.name": "\(name.display)", "client.address": "\(remoteAddress)"])
    }

    /// Checked (the name is ours, not registered yet, and the address may register another) before the password
    /// is hashed, so a refused registration costs no hashing.
    func register(_ user: UserName, token: String, password: Password) -> EventLoopFuture<Void> {
        let loop = hub.eventLoop
        let store = self.store
        let logger = self.logger
        let hasher = self.hasher
        let group = addressGroup
        return store.mayRegister(user, token: token, address: group).hop(to: loop).flatMap {
            hasher.hash(password, on: loop, for: group)
        }.flatMap { hash in
            store.setAccount(user, token: token, expected: nil, new: hash, now: WallClock.now(), address: group)
        }.hop(to: loop).map {
            logger.info("name registered", metadata: ["session.name": "\(user.display)"])
        }
    }

    /// A reload changed the operator list (`added` and `removed` keys): a session whose name left it stops operating
    /// at once (its WHO mark too); one whose name joined it operates from now on if its login would have made it an
    /// operator (with the password, the account still there: `confirmOperator`), as a new login would.
    func operatorsChanged(added: Set<String>, removed: Set<String>) {
        guard let user = machine.view.userName, let token = machine.view.token else { return }
        if removed.contains(user.key), machine.view.isServerOperator {
            apply(machine.serverOperator(false))
            logger.notice(
                "server operator no longer: the reloaded list leaves the name out",
                metadata: ["session.name": "\(user.display)"])
            store.endOperator(user, token: token).whenFailure { _ in }
        } else if added.contains(user.key), !machine.view.isServerOperator, machine.view.isRegistered {
            store.confirmOperator(user, token: token).recover { _ in false }.hop(to: hub.eventLoop).assumeIsolated()
                .whenSuccess { confirmed in
                    // Still this login, under this name, with its password (not renamed or unregistered since).
                    guard self.machine.view.token == token, self.machine.view.isRegistered,
                        self.machine.view.userName?.key == user.key,
                        self.stillListed(confirmed: confirmed, user, token: token)
                    else { return }
                    self.apply(self.machine.serverOperator(true))
                    self.logger.notice(
                        "server operator: the reloaded list adds the name",
                        metadata: ["session.name": "\(user.display)"])
                }
        }
    }

    /// Whether an operator check (`confirmOperator`) that passed still counts once back on the loop: the name is still
    /// listed. A reload that left it out during the round trip found no operator here to end, so the mark the check
    /// made (WHO's `*`) is taken off here.
    private func stillListed(confirmed: Bool, _ user: UserName, token: String) -> Bool {
        guard confirmed else { return false }
        guard configuration.operators.contains(user.key) else {
            store.endOperator(user, token: token).whenFailure { _ in }
            return false
        }
        return true
    }

    /// Changes the password (`new`), or, with nil, unregisters the name: either only with the current password.
    func changePassword(_ user: UserName, token: String, old: Password, new: Password?) -> EventLoopFuture<Void> {
        let loop = hub.eventLoop
        // A listed operator's account must not lapse into a name anyone can register (docs/security.md).
        if new == nil, configuration.operators.contains(user.key) {
            return loop.makeFailedFuture(
                ChatError(
                    .badRequest,
                    "\(user.display) is a server operator's name: the deployment must drop it from --operators first"))
        }
        let store = self.store
        let hasher = self.hasher
        let group = addressGroup
        let refused = ChatError(.badPassword, "that is not the password of \(user.display)")
        // The name's other connections close: whoever had the old password is out with it.
        let connection = (origin: machine.sessionID, resumeHash: ResumeTokens.hash(machine.view.resumeToken))
        return store.accountHash(user, address: group).hop(to: loop).assumeIsolated().flatMap { stored in
            switch stored {
            case .none:
                return loop.makeFailedFuture(ChatError(.badRequest, "\(user.display) is not registered"))
            case .locked(let seconds):
                return loop.makeFailedFuture(
                    ChatError(.rateLimited, "too many wrong passwords for \(user.display); try again in \(seconds) s"))
            case .hash(let hash, let nameCounted):
                let check = hasher.verify(old, against: hash, on: loop, for: group)
                return self.uncountedIfNotMade(check, user, nameCounted: nameCounted).assumeIsolated().flatMap {
                    matches in
                    guard matches else {
                        self.logFailedLogin(user)
                        return loop.makeFailedFuture(refused)
                    }
                    _ = store.loginSucceeded(user, address: group, nameCounted: nameCounted)
                    guard let new else {
                        return store.setAccount(
                            user, token: token, expected: hash, new: nil, now: WallClock.now(), connection: connection)
                    }
                    return hasher.hash(new, on: loop, for: group).flatMap { newHash in
                        store.setAccount(
                            user, token: token, expected: hash, new: newHash, now: WallClock.now(),
                            connection: connection)
                    }
                }.nonisolated()
            }
        }.nonisolated().hop(to: loop)
    }
}
