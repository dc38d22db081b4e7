import ChatCore
import NIOCore

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
    /// The client's address group (`ClusterStore.addressGroup`), for failed-login limits ('' when unknown: then
    /// only the name's limit applies).
    public var address: String
    /// The session that claims, so that the notice closing a resumed session's old connection skips this one.
    public var origin: String

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
extension ClusterStore {
    public enum ClaimReply: Equatable, Sendable {
        case claimed
        /// Took over a session (by resume token, or a registered name's password): when that session began.
        case resumed(since: Millis)
        /// Somebody holds the name, or one that looks like it: their name as typed, when known.
        case held(by: String?, reconnecting: Bool)
        case passwordRequired
        /// Registered: check the password against this hash, then claim again with it verified.
        case verify(hash: String)
        case notRegistered
        case locked(retryAfterSeconds: Int)
    }

    /// A guest's plain claim: true when the name is now ours.
    public func claim(_ user: UserName, token: String, now: Millis, address: String) -> EventLoopFuture<Bool> {
        let attempt = ClaimAttempt(
            token: token, resumeHash: nil, newResumeHash: "", passwordGiven: false, address: address, origin: "")
        return claimName(user, attempt, now: now).map { $0 == .claimed }
    }

    public func claimName(_ user: UserName, _ attempt: ClaimAttempt, now: Millis) -> EventLoopFuture<ClaimReply> {
        redis.run(
            IdentityScripts.claim,
            keys: [
                ClusterKeys.claim(user.key), ClusterKeys.session(user.key), ClusterKeys.sessionRooms(user.key),
                ClusterKeys.incarnationUsers(incarnation), ClusterKeys.seen(user.key), ClusterKeys.account(user.key),
                ClusterKeys.loginFailures("name:" + user.key), ClusterKeys.loginFailures("address:" + attempt.address),
            ],
            arguments: [
                attempt.token, user.display, incarnation, nodeID, String(now), String(nameTTLSeconds), attempt.address,
                String(sessionTTLSeconds), String(bounds.seenSeconds), String(bounds.maxSeenRecords),
                attempt.resumeHash ?? "", attempt.verifiedHash ?? "", attempt.passwordGiven ? "1" : "0",
                String(bounds.loginFailuresPerName), String(bounds.loginFailuresPerAddress), attempt.newResumeHash,
                attempt.origin, String(bounds.loginFailureWindowSeconds), String(bounds.accountLifetimeSeconds),
            ] + attempt.keeping.map(\.value)
        ).flatMapThrowing { reply in
            let fields = (reply.array ?? []).map { $0.string ?? $0.int.map(String.init) ?? "" }
            switch fields.first {
            case "claimed": return .claimed
            case "resumed": return .resumed(since: fields.count > 1 ? Millis(fields[1]) ?? now : now)
            case "held" where fields.count == 3:
                return .held(by: fields[1].isEmpty ? nil : fields[1], reconnecting: fields[2] == "1")
            case "password": return .passwordRequired
            case "verify" where fields.count == 2: return .verify(hash: fields[1])
            case "wrong": return .notRegistered
            case "locked" where fields.count == 2: return .locked(retryAfterSeconds: Int(fields[1]) ?? 1)
            default: throw RedisError(.protocolViolation, "the claim script answered \(fields)")
            }
        }
    }

    /// Where failed logins and registrations are counted for a client: its IPv4 address, or the /64 of its IPv6
    /// address (one host usually holds a whole /64, so counting single addresses would count nothing).
    public static func addressGroup(_ ip: String?) -> String {
        guard let ip, !ip.isEmpty else { return "" }
        guard ip.contains(":"), let address = try? SocketAddress(ipAddress: ip, port: 0), case .v6(let v6) = address
        else { return ip }
        let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0.prefix(8)) }
        return bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined() + "::/64"
    }

    /// Keeps a dropped session's name (and rooms) for its resume token for the grace period; false when the
    /// session was no longer this one.
    public func hold(_ user: UserName, token: String, now: Millis) -> EventLoopFuture<Bool> {
        redis.run(
            IdentityScripts.hold, keys: [ClusterKeys.claim(user.key), ClusterKeys.session(user.key)],
            arguments: [token, String(bounds.resumeGraceSeconds), String(now)]
        ).map { $0.int == 1 }
    }

    /// Returns false when nobody by that name is connected anywhere; a message to a name held for its reconnecting
    /// owner waits for the resume.
    public func sendDirect(_ message: DirectMessage, to user: String, origin: String) -> EventLoopFuture<Bool> {
        let payload = RelayCodec.encode(RelayEnvelope(event: .direct(message), origin: origin))
        return redis.run(
            IdentityScripts.direct, keys: [ClusterKeys.session(user), ClusterKeys.heldDirects(user)],
            arguments: [
                ClusterKeys.userChannel(user), payload, String(max(bounds.resumeGraceSeconds, 1) * 2),
                String(bounds.heldDirectsAtMost),
            ]
        ).map { $0.int == 1 }
    }

    /// The direct messages that waited for a resumed session; its name stops being held.
    public func takeHeldDirects(_ user: UserName, token: String) -> EventLoopFuture<[DirectMessage]> {
        redis.run(
            IdentityScripts.takeHeldDirects, keys: [ClusterKeys.session(user.key), ClusterKeys.heldDirects(user.key)],
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
        case hash(String)
        case locked(retryAfterSeconds: Int)
    }

    /// A registered name's stored hash, to check a password against (unless failed logins lock it).
    public func accountHash(_ user: UserName, address: String) -> EventLoopFuture<AccountHash> {
        redis.run(
            IdentityScripts.accountHash,
            keys: [
                ClusterKeys.account(user.key), ClusterKeys.loginFailures("name:" + user.key),
                ClusterKeys.loginFailures("address:" + address),
            ],
            arguments: [
                String(bounds.loginFailuresPerName), String(bounds.loginFailuresPerAddress), address,
                String(bounds.loginFailureWindowSeconds),
            ]
        ).map { reply in
            let fields = (reply.array ?? []).map { $0.string ?? $0.int.map(String.init) ?? "" }
            switch fields.first {
            case "hash" where fields.count == 2: return .hash(fields[1])
            case "locked" where fields.count == 2: return .locked(retryAfterSeconds: Int(fields[1]) ?? 1)
            default: return .none
            }
        }
    }

    /// A password check that `accountHash` counted in advance was right.
    public func loginSucceeded(_ user: UserName, address: String) -> EventLoopFuture<Void> {
        redis.run(
            IdentityScripts.loginSucceeded,
            keys: [ClusterKeys.loginFailures("name:" + user.key), ClusterKeys.loginFailures("address:" + address)],
            arguments: [address]
        ).map { _ in }
    }

    /// Whether the session holding `token` may register its name now (counted against its address group);
    /// refusals are `ChatError`s. Checked before the password is hashed.
    public func mayRegister(_ user: UserName, token: String, address: String) -> EventLoopFuture<Void> {
        redis.run(
            IdentityScripts.mayRegister,
            keys: [ClusterKeys.account(user.key), ClusterKeys.claim(user.key), ClusterKeys.registrations(address)],
            arguments: [token, String(bounds.registrationsPerHour), address]
        ).flatMapErrorThrowing { error in
            throw ClusterScripts.chatError(error) ?? error
        }.map { _ in }
    }

    /// Registers (`expected` nil), re-hashes, or removes (`new` nil) the account of the name `token` holds, if its
    /// stored hash is still `expected`. Refusals are `ChatError`s.
    public func setAccount(_ user: UserName, token: String, expected: String?, new: String?, now: Millis)
        -> EventLoopFuture<Void>
    {
        redis.run(
            IdentityScripts.setAccount, keys: [ClusterKeys.account(user.key), ClusterKeys.claim(user.key)],
            arguments: [token, expected ?? "", new ?? "", user.display, String(now), String(bounds.accountLifetimeSeconds)]
        ).flatMapErrorThrowing { error in
            throw ClusterScripts.chatError(error) ?? error
        }.map { _ in }
    }
}
