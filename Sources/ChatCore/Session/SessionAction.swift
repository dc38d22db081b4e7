/// What the session state machine asks its shell to do. The shell (a NIO handler on the node) carries each action
/// out in order and feeds the results of store operations back as `SessionMachine.completed(_:_:now:)`.
public enum SessionAction: Equatable, Sendable {
    /// Tell this client something; `id` repeats the request's id in the reply.
    case send(ChatEvent, id: RequestID?)
    /// Run one operation against the shared store; its result comes back through `completed` with the same id,
    /// the request's, which the reply repeats.
    case perform(StoreOperation, id: RequestID?)
    /// Stop relaying this room's events to the session, and drop any held back for it.
    case stopListening(RoomName)
    /// The room's join or catch-up is answered: deliver the live events held back meanwhile, except messages with
    /// an id at or before `after` (the history already had those).
    case replayHeld(RoomName, after: StreamID?)
    /// The session has its name: index it by user (for keep-alives), count it, log its entry.
    case started(UserName, at: Millis)
    /// Close the connection once what was sent so far has gone out.
    case close(LeaveReason)
    /// The request was not taken: the client is over its rate and asked to be slowed down rather than refused
    /// (IRC's "fake lag"). Give it again after `nanoseconds`, before anything that came after it.
    case retry(after: UInt64)
    /// The connection is gone and the session was named: stop listening everywhere and give the name and the
    /// rooms back in the store, telling the rooms why.
    case end(EndedSession)
}

/// A named session that is over: what its release needs.
public struct EndedSession: Equatable, Sendable {
    public var user: UserName
    public var token: String
    public var reason: LeaveReason
    /// What the user said on quitting (`/quit TEXT`, IRC's QUIT reason), for the leave notices.
    public var message: String?
    public var since: Millis
    /// Every room the session listened to, including one whose join was still under way.
    public var rooms: [RoomName]
    /// The connection dropped (no /quit): the name and the rooms are held for the resume token's holder for a
    /// grace period, and released only when it passes without a resume.
    public var holdsName: Bool
    /// A name change was under way: the new name may hold some of the session (its claim, some rooms), and is
    /// released too.
    public var renaming: UserName?

    public init(
        user: UserName, token: String, reason: LeaveReason, since: Millis, rooms: [RoomName], holdsName: Bool = false,
        message: String? = nil, renaming: UserName? = nil
    ) {
        self.renaming = renaming
        self.user = user
        self.token = token
        self.reason = reason
        self.message = message
        self.since = since
        self.rooms = rooms
        self.holdsName = holdsName
    }
}

/// One operation on the cluster's shared state (Redis, on the node). Each has one kind of `StoreReply`.
public enum StoreOperation: Equatable, Sendable {
    /// Claim the name, with the hello's password or resume token; replies `.claimed(ClaimOutcome)`. A resume
    /// keeps the memberships of `keeping` (the rooms the client is about to rejoin) and leaves the others.
    case claim(UserName, login: Login = Login(), keeping: [RoomName] = [])
    /// After a resume: the direct messages that arrived while the name was held. Replies `.directs`.
    case takeHeldDirects
    /// Register the session's name with this password (hashed by the store). Replies `.done`.
    case register(Password)
    /// Replies `.done`, or fails with `bad-password`.
    case changePassword(old: Password, new: Password)
    /// Replies `.done`, or fails with `bad-password`.
    case unregister(Password)
    /// Checks a registered name's password without claiming it. Replies `.done`, or fails with `bad-password`.
    case checkPassword(UserName, Password)
    /// Listen for direct messages to this user; completes once the subscription is confirmed. Replies `.done`.
    case listenToUser(UserName)
    /// Listen to the room's channel; completes once the subscription is confirmed. Replies `.done`.
    case subscribe(RoomName)
    /// Record the membership and announce the join, if the room's settings and bans let the session in (`key`:
    /// the one the join gave). Replies `.done`.
    case recordJoin(RoomName, key: String? = nil)
    /// Undo `recordJoin` after a join that failed later; its result is not waited for.
    case rollbackJoin(RoomName)
    /// For a join: messages after `after` (at most `count`), or the last `count` when `after` is nil, and the
    /// room's topic. Replies `.joinRead`.
    /// `unreadAfter`: the session's read marker in the room, after which messages from others are counted.
    case readHistory(RoomName, after: StreamID?, count: Int, unreadAfter: StreamID? = nil)
    /// Moves the person's read marker in the room forward (a registered name's, kept and told to its other
    /// connections). Replies `.done`.
    case markRead(RoomName, StreamID)
    /// Leave the room in the store, announcing it. Replies `.done`.
    case recordLeave(RoomName, message: String? = nil)
    /// Reacts to, edits or deletes a message of the room, as `author` (`SessionGrant.author`). Replies
    /// `.changed`.
    /// `serverOperator`: the actor is one of the server's operators, who may delete any message.
    case changeMessage(
        RoomName, MessageTarget, MessageAction, author: String, time: Millis, serverOperator: Bool = false)
    /// Store and publish a room message (with `replyTo`, the answered message is found and named). Replies
    /// `.published(id)`.
    case publish(OutgoingMessage)
    /// Publish a direct message to whoever holds the name. Replies `.directSent`, or `.delivered(false)` when
    /// nobody holds it.
    case sendDirect(DirectMessage, to: UserName)
    /// Best effort "typing" notice; not waited for. Replies `.done`.
    case publishTyping(RoomName)
    /// Tell the person's other connections (a registered name may have several) that this one joined the room,
    /// so that they join it too; not waited for. Replies `.done`.
    case shareJoin(RoomName)
    /// The same for leaving it (a big room's leave notice, which the others would otherwise hear, is not sent).
    case shareLeave(RoomName)
    /// Set (or, with nil, clear) away and tell the user's rooms. Replies `.done`.
    case setPresence(away: String?)
    /// Replies `.topic`.
    case readTopic(RoomName)
    /// Store the room's topic (an empty text clears it) and tell the room. Replies `.done`.
    case setTopic(RoomName, RoomTopic)
    /// Replies `.members`.
    case who(RoomName, MemberListing)
    /// Replies `.rooms`.
    case listRooms
    /// The last `count` messages before `before` (or the newest). Replies `.messages`.
    case history(RoomName, count: Int, before: StreamID?)
    /// At most `count` messages after `after`, oldest first. Replies `.page`.
    case historyAfter(RoomName, after: StreamID, count: Int)
    /// Replies `.seen`.
    case seen(UserName)
    /// Searches the archive for `terms` (a tsquery, `SearchTerms.query`) in `rooms`, which the session is in.
    /// Replies `.found`.
    case search(SearchRequest, terms: String, rooms: [RoomName], before: StreamID?, after: StreamID?)
    /// Removes from the archive the messages the session's author sent before `before`. Replies `.forgotten`.
    case forgetMine(before: Millis)
    /// Replies `.online`: those of the names whose sessions exist now.
    case online([UserName])
    /// Room moderation (docs/moderation.md), each refused unless the session is an operator of the room.
    /// Apply `changes` at once, or none, and tell the room; with `removing`, also kick that member (a ban by
    /// name). Replies `.moderated(removed:)`.
    case moderate(RoomName, [RoomModeChange], reason: String? = nil, removing: UserName? = nil)
    /// Remove a member, telling the room why. Replies `.moderated(removed: true)`.
    case kick(RoomName, UserName, reason: String?)
    /// Replies `.settings`.
    case readSettings(RoomName)
    /// The bans and mutes (operators only). Replies `.bans`.
    case readBans(RoomName)
    /// Let a person in for an hour, past invite-only, a key, a limit and bans, and tell them. Replies `.done`.
    case invite(RoomName, UserName)
    /// Register the room, give it up or away (`asServerOperator`: a server operator unregisters it whoever owns it).
    /// Replies `.done`; `.info` replies `.registration`.
    case registerRoom(RoomName, RoomRegistrationRequest, asServerOperator: Bool = false)
    /// A server operator's action, by the session's person (who the machine checked is one). Replies `.done`,
    /// `.networkBans` or `.audit`.
    case operate(OperatorAction, by: String)
    /// The message of the day, as the node has it. Replies `.motd`.
    case readMOTD
    /// Waits until every event published before now has reached this node's sessions: a ping's pong comes after
    /// them (IRC bots and tests take a PONG for "everything sent before has arrived"). Replies `.done`.
    case awaitRelay
    /// The cluster's people, nodes and rooms, and this node's people. Replies `.counts`.
    case readCounts
    /// Client-only tags, to a room (its channel) or a person (their channel, as a direct message is: blocks and
    /// `/dms registered` hold). Replies `.done`, or `.delivered(false)` when nobody holds the name.
    case publishTags(TagMessage, to: UserName?)
    /// Marks the session a bot's, or not. Replies `.done`.
    case setBot(Bool)
    /// The session's person takes the name `to` (claimed cluster-wide unless it is `from` in another case), their
    /// rooms move to it and are told, and `from` is given up. Replies `.done`.
    case rename(from: UserName, to: UserName, rooms: [RoomName])
    /// Takes a room out of the session's rooms in the store (a server operator closed it). No reply.
    case forgetRoom(RoomName)
    /// Blocks or unblocks a person for this name, kept while the name is registered (a guest's, for the session).
    /// Replies `.done`.
    case block(UserName, on: Bool)
    /// Replies `.blocks`.
    case readBlocks
    /// Replies `.done`.
    case setDirectMessages(registeredOnly: Bool)

    /// Whether the session takes its next request only after this completes. A message does not wait: one
    /// session's messages keep their order on the one Redis connection, and the next line need not wait a round
    /// trip. A typing notice and the undoing of a failed join are fire-and-forget.
    public var holdsInput: Bool {
        switch self {
        case .publish, .publishTyping, .shareJoin, .shareLeave, .rollbackJoin, .forgetRoom: false
        default: true
        }
    }
}

/// A room message before the store has given it its id.
public struct OutgoingMessage: Equatable, Sendable {
    public var room: RoomName
    public var from: String
    public var text: String
    public var isAction: Bool
    public var time: Millis
    public var isNotice = false
    public var isBot = false
    /// Who may edit and delete it later (`SessionGrant.author`), kept with it and never shown.
    public var author: String?
    /// The message it answers.
    public var replyTo: MessageTarget?

    public init(room: RoomName, from: String, text: String, isAction: Bool, time: Millis) {
        self.room = room
        self.from = from
        self.text = text
        self.isAction = isAction
        self.time = time
    }

    /// The message as everyone sees it, once stored under `id` (a reply with the message it answers).
    public func stored(as id: StreamID, replyTo: MessageReference? = nil) -> ChatMessage {
        var message = ChatMessage(
            id: id, room: room, from: from, text: text, isAction: isAction, time: time, isNotice: isNotice, isBot: isBot
        )
        if let replyTo { message.annotations.replyTo = replyTo }
        return message
    }
}

/// The result of a store operation, by the operation's kind.
public enum StoreReply: Sendable {
    case done
    case claimed(ClaimOutcome)
    case directs([DirectMessage])
    /// `confirmed`: as many replicas as the deployment asks for had it (always, when it asks for none).
    /// `replyTo`: the message a reply answers, as the store found it.
    case published(StreamID, confirmed: Bool, replyTo: MessageReference? = nil)
    /// `confirmed`: as for `published`.
    case changed(MessageChange, confirmed: Bool = true)
    /// A read marker as the store keeps it (nil: it keeps none).
    case marked(StreamID?)
    case delivered(Bool)
    /// A direct message went out (or was queued for a reconnecting client); the recipient's away text, if away.
    case directSent(recipientAway: String?)
    case messages([ChatMessage])
    /// Messages read after an id, with what the room's stream knows of what it no longer keeps: the newest id
    /// deleted by hand, and, when trimming removed the oldest messages, the oldest one kept.
    /// `changes`: what was done since `after` to messages at or before it (the client has them as they were).
    case page([ChatMessage], maxDeleted: StreamID?, keptFrom: StreamID?, changes: [MessageChange] = [])
    /// What a join reads: its history (with `page`'s knowledge of what the stream lost, when read after an id)
    /// and the room's topic.
    case joinRead(
        [ChatMessage], maxDeleted: StreamID?, keptFrom: StreamID?, topic: RoomTopic?, changes: [MessageChange] = [],
        unread: ReadMarker? = nil)
    case topic(RoomTopic?)
    case members(MemberPage)
    /// Every room with members; `secret` ones (`+s`) are listed only to their members.
    case rooms([(room: RoomName, members: Int, secret: Bool)])
    case seen(SeenRecord?)
    case online([OnlineUser])
    /// A page of search results, best first, and whether more lie on the next.
    case found([SearchHit], more: Bool)
    case forgotten(Int)
    /// `removed`: a member was kicked too (with the name they hold, as they typed it).
    case moderated(removed: String?)
    case settings(RoomSettings)
    case bans([RoomBan])
    case registration(RoomRegistration)
    /// A room's registration changed: its owner now (nil: none) and before.
    case registered(owner: String?, previous: String?)
    case networkBans([RoomBan])
    case audit([AuditEntry])
    case blocks(names: [String], registeredOnly: Bool)
    case motd(String?)
    case counts(ServerCounts)
}

/// What became of a claim.
public enum ClaimOutcome: Equatable, Sendable {
    /// The name is the session's, under `token`. `resume` is the token `welcome` hands the client. `since` is when
    /// the session began as the store recorded it (the claim's time; a resumed session's own); `resumed` when the
    /// claim took over a held (or still open) session, by resume token or password.
    case granted(
        token: String, resume: String, since: Millis? = nil, resumed: Bool = false, grant: SessionGrant = .init())
    /// Somebody holds the name, or one that looks like it: their name as they typed it, when known, and whether
    /// it is held for them while they reconnect.
    case held(by: String?, reconnecting: Bool = false)
    /// The name is registered and the hello brought no password.
    case passwordRequired
    /// The password is wrong, or the name is not registered and a password was given.
    case wrongPassword
    /// Too many failed logins for this name or from this address lately.
    case locked(retryAfterSeconds: Int)
    /// The registered name is connected from as many places as it may be.
    case crowded(connections: Int)
}

/// What the node adds to a granted claim: whether the name is one of the server's operators (a listed registered
/// name, logged in with its password), and the message of the day to show after `welcome`.
public struct SessionGrant: Equatable, Sendable {
    public var isServerOperator: Bool
    public var motd: String?
    /// Logged in with the account's password (or resumed such a session): what a person who refuses guests'
    /// direct messages accepts.
    public var isRegistered: Bool
    /// Where the name has read each room up to (a registered name's, kept in the cluster).
    public var readMarkers: [RoomName: StreamID]
    /// Who may edit and delete what the session says, kept in each of its messages and never shown: a digest of a
    /// registered name's account (its key and when it was made: a name registered again later is someone else), or
    /// of a guest session's own random identity (made at its claim, kept by resumes and name changes). Made by the
    /// node, from the session's own records: no client can choose it.
    public var author: String
    /// One more connection of a registered name connected elsewhere (`ChatStore.ClaimReply.attached`): the
    /// session's rooms, memberships already, which this connection joins too. Nil for a session of its own.
    public var sharedRooms: [RoomName]?

    public init(
        isServerOperator: Bool = false, motd: String? = nil, isRegistered: Bool = false,
        readMarkers: [RoomName: StreamID] = [:], author: String = "", sharedRooms: [RoomName]? = nil
    ) {
        self.sharedRooms = sharedRooms
        self.isServerOperator = isServerOperator
        self.motd = motd
        self.isRegistered = isRegistered
        self.readMarkers = readMarkers
        self.author = author
    }
}

/// Where a relayed event goes for one session.
public enum RelayRoute: Equatable, Sendable {
    case deliver
    /// Its room's join is reading history: keep it until `replayHeld`.
    case hold
    case skip
}

/// The session's two clocks, read by the shell and passed in with every input.
public struct SessionClock: Sendable {
    /// Wall time, for what people see and what the store keeps.
    public var wall: Millis
    /// Monotonic time, for rate limits and intervals (a wall clock may jump).
    public var uptimeNanos: UInt64

    public init(wall: Millis, uptimeNanos: UInt64) {
        self.wall = wall
        self.uptimeNanos = uptimeNanos
    }
}

/// Why a connection of a session is closed by another (`ChatEvent.resumedElsewhere`).
public enum SessionReplacement: String, Sendable {
    /// The client came back on a newer connection with its resume token (or a password took the session over).
    case resumed
    /// A newer login took its place at the name's connection limit (told `replaced`: its client must not come
    /// back by itself, or two clients would take turns).
    case evicted
    /// The name's password was changed (or the name unregistered) from another of its connections.
    case passwordChanged = "password"
}
