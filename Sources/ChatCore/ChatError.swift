/// An error a client is told about, as `! <code> <explanation>` in text mode or `{"type":"error",...}` in JSON mode.
public struct ChatError: Error, Equatable, Sendable {
    /// The stable, machine-readable part. Clients branch on it; the explanation is for people.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let nameTaken = Code(rawValue: "name-taken")
        /// The message a reply, reaction, edit or delete names is not in the room's history (never was, deleted,
        /// or older than the room keeps).
        public static let noSuchMessage = Code(rawValue: "no-such-message")
        /// Only its author edits a message; only its author or the room's operators delete it.
        public static let notYours = Code(rawValue: "not-yours")
        /// The message holds all the reactions (or edits) it may (`MessageActions`).
        public static let messageFull = Code(rawValue: "message-full")
        public static let nameInvalid = Code(rawValue: "name-invalid")
        public static let nameLost = Code(rawValue: "name-lost")
        public static let serverFull = Code(rawValue: "server-full")
        public static let tooManyConnections = Code(rawValue: "too-many-connections")
        /// A newer login of the registered name took this connection's place at its connection limit: a client
        /// does not reconnect by itself after it (two clients would take turns).
        public static let replaced = Code(rawValue: "replaced")
        public static let lineTooLong = Code(rawValue: "line-too-long")
        public static let messageTooLong = Code(rawValue: "message-too-long")
        public static let rateLimited = Code(rawValue: "rate-limited")
        public static let unknownCommand = Code(rawValue: "unknown-command")
        public static let badRequest = Code(rawValue: "bad-request")
        public static let noSuchUser = Code(rawValue: "no-such-user")
        public static let notInRoom = Code(rawValue: "not-in-room")
        public static let roomInvalid = Code(rawValue: "room-invalid")
        public static let tooManyRooms = Code(rawValue: "too-many-rooms")
        public static let redisUnavailable = Code(rawValue: "redis-unavailable")
        public static let slowConsumer = Code(rawValue: "slow-consumer")
        public static let serverShutdown = Code(rawValue: "server-shutdown")
        public static let registrationTimeout = Code(rawValue: "registration-timeout")
        /// The store refuses to grow: Redis is at its memory limit, or the cluster has as many rooms as it allows.
        public static let storeFull = Code(rawValue: "store-full")
        /// The name is registered: send its password (text mode: on the next line; JSON: `hello` with `password`).
        public static let passwordRequired = Code(rawValue: "password-required")
        /// The password is wrong, or the name is not registered with one.
        public static let badPassword = Code(rawValue: "bad-password")
        /// Not an error in the request: a message was stored and delivered (its acknowledgement came just before),
        /// but the replicas the deployment asks for did not confirm it in time (`--ack-replicas`), so a failover
        /// now may lose it from the history. Sending it again would deliver it twice.
        public static let unconfirmed = Code(rawValue: "unconfirmed")
        /// The server keeps no archive (`--archive`), so there is nothing to search; or it is unreachable now.
        public static let noArchive = Code(rawValue: "no-archive")

        // Room moderation (docs/moderation.md).
        /// Only the room's operators may do that.
        public static let notOperator = Code(rawValue: "not-operator")
        /// A ban in the room matches the name or the address.
        public static let banned = Code(rawValue: "banned")
        /// The room is invite-only and nobody invited you.
        public static let inviteOnly = Code(rawValue: "invite-only")
        /// The room has a key, and the join gave none or another.
        public static let badKey = Code(rawValue: "bad-key")
        /// The room is at its member limit.
        public static let roomFull = Code(rawValue: "room-full")
        /// Only registered names may join the room.
        public static let registeredOnly = Code(rawValue: "registered-only")
        /// Muted in the room, or it is moderated and you have no voice.
        public static let cannotSpeak = Code(rawValue: "cannot-speak")
        /// A mode letter the server does not know.
        public static let unknownMode = Code(rawValue: "unknown-mode")
        /// The room's ban list (or its invitations and mutes) holds as many as it may.
        public static let listFull = Code(rawValue: "list-full")
        /// The person is in the room already (an invitation).
        public static let alreadyInRoom = Code(rawValue: "already-in-room")
        // Registered rooms (docs/moderation.md, "Registered rooms").
        /// Only the room's owner may do that (or: the owner is out of an operator's reach).
        public static let notOwner = Code(rawValue: "not-owner")
        /// A room belongs to a registered name, and the room (or the person) is not one; or the room is not registered.
        public static let notRegistered = Code(rawValue: "not-registered")
        /// The room is registered already, or its owner owns as many rooms as one may.
        public static let alreadyRegistered = Code(rawValue: "already-registered")

        // Server operators (docs/moderation.md, "Server operators").
        /// Only the server's operators may do that.
        public static let notServerOperator = Code(rawValue: "not-server-operator")
        /// A server operator disconnected you (a kill, a suspension, a network ban); the message says who and why.
        public static let removed = Code(rawValue: "removed")
        /// The registered name is suspended: no login until the time the message gives.
        public static let suspended = Code(rawValue: "suspended")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
