import ChatCore
import ChatRedis
import NIOCore

/// Who may hold a name: a claim with its resume token or password (checked off the event loops, failures counted
/// and logged without the password), account changes, and holding a dropped session's name for its resume token.
extension SessionHandler {
    var hasher: PasswordHasher { node.hasher }

    /// Claims `name`: a resume with the hello's token, a registered name's password checked against its stored hash
    /// (then the claim again, with the hash it was checked against), or a guest's claim.
    func claim(_ name: UserName, login: Login, keeping: [RoomName]) -> EventLoopFuture<ClaimOutcome> {
        let resume = ResumeTokens.make()
        let now = WallClock.now()
        var attempt = ClaimAttempt(
            token: store.makeToken(), resumeHash: login.resume.map(ResumeTokens.hash),
            newResumeHash: ResumeTokens.hash(resume), passwordGiven: login.password != nil, keeping: keeping,
            address: clientIP ?? "", origin: machine.sessionID)
        let loop = hub.eventLoop
        return store.claimName(name, attempt, now: now).hop(to: loop).flatMap { reply in
            guard case .verify(let hash) = reply, let password = login.password else {
                return loop.makeSucceededFuture(self.outcome(reply, attempt: attempt, resume: resume, now: now))
            }
            return self.hasher.verify(password, against: hash, on: loop).flatMap { matches in
                guard matches else { return self.loginFailed(name).map { .wrongPassword } }
                attempt.verifiedHash = hash
                let checkedAt = WallClock.now()
                return self.store.claimName(name, attempt, now: checkedAt).hop(to: loop).map { reply in
                    // The account changed between the two steps: the password checked was its old one.
                    if case .verify = reply { return .wrongPassword }
                    return self.outcome(reply, attempt: attempt, resume: resume, now: checkedAt)
                }
            }
        }
    }

    /// `now`: the time the claim recorded, which a new session keeps as its start.
    private func outcome(_ reply: ClusterStore.ClaimReply, attempt: ClaimAttempt, resume: String, now: Millis)
        -> ClaimOutcome
    {
        switch reply {
        case .claimed: .granted(token: attempt.token, resume: resume, since: now)
        case .resumed(let since): .granted(token: attempt.token, resume: resume, since: since, resumed: true)
        case .held(let holder, let reconnecting): .held(by: holder, reconnecting: reconnecting)
        case .passwordRequired: .passwordRequired
        case .verify, .notRegistered: .wrongPassword
        case .locked(let seconds): .locked(retryAfterSeconds: seconds)
        }
    }

    /// Counted against the name and the address, and logged (never with the password).
    private func loginFailed(_ name: UserName) -> EventLoopFuture<Void> {
        node.metrics.loginFailures.increment()
        logger.notice(
            "failed login", metadata: ["session.name": "\(name.display)", "client.address": "\(remoteAddress)"])
        return store.loginFailed(name, address: clientIP ?? "").recover { _ in }.hop(to: hub.eventLoop)
    }

    func register(_ user: UserName, token: String, password: Password) -> EventLoopFuture<Void> {
        let loop = hub.eventLoop
        return hasher.hash(password, on: loop).flatMap { hash in
            self.store.setAccount(user, token: token, expected: nil, new: hash, now: WallClock.now())
        }.hop(to: loop).map {
            self.logger.info("name registered", metadata: ["session.name": "\(user.display)"])
        }
    }

    /// Changes the password (`new`), or, with nil, unregisters the name: either only with the current password.
    func changePassword(_ user: UserName, token: String, old: Password, new: Password?) -> EventLoopFuture<Void> {
        let loop = hub.eventLoop
        let refused = ChatError(.badPassword, "that is not the password of \(user.display)")
        return store.accountHash(user, address: clientIP ?? "").hop(to: loop).flatMap { stored in
            switch stored {
            case .none:
                return loop.makeFailedFuture(ChatError(.badRequest, "\(user.display) is not registered"))
            case .locked(let seconds):
                return loop.makeFailedFuture(
                    ChatError(.rateLimited, "too many wrong passwords for \(user.display); try again in \(seconds) s"))
            case .hash(let hash):
                return self.hasher.verify(old, against: hash, on: loop).flatMap { matches in
                    guard matches else { return self.loginFailed(user).flatMapThrowing { throw refused } }
                    guard let new else {
                        return self.store.setAccount(user, token: token, expected: hash, new: nil, now: WallClock.now())
                    }
                    return self.hasher.hash(new, on: loop).flatMap { newHash in
                        self.store.setAccount(user, token: token, expected: hash, new: newHash, now: WallClock.now())
                    }
                }
            }
        }.hop(to: loop)
    }
}
