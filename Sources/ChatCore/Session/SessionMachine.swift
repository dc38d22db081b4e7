// One file because the session's states and what ends them (a lost name, a resume elsewhere, a kick, a removal by
// an operator, the connection closing) change the same state; requests and store results are in the
// `SessionMachine+*.swift` files.

/// One client's session, whatever protocol it speaks, as a pure state machine: it takes inputs (a parsed request, a
/// store result, a relayed event, the connection ending) and returns the actions that follow. It reads no clock,
/// makes no token and touches no socket or Redis: time comes in with every input, claim tokens come back with the
/// claim's result. The node's `SessionHandler` feeds it and carries its actions out; the unit tests feed it directly.
///
/// Requests are handled one at a time, in order: while one waits on the store (`isWaiting`), the shell holds the
/// next. The request handlers are in `SessionMachine+Requests.swift`, joins and store results in
/// `SessionMachine+Store.swift`; this file keeps the state with the views the node reads beside it, the
/// connection's life (closing, liveness) and routing, which all read and write the state directly.
public struct SessionMachine: Sendable {
    public struct Settings: Sendable {
        public var limits: ProtocolLimits
        public var rateLimit: Double
        public var rateBurst: Double
        /// "Typing" is relayed at most once per this interval per room.
        public var typingIntervalNanos: UInt64
        /// Names the node in `welcome`.
        public var nodeID: String
        /// A connection that has no name this long after it opened is closed (`registration-timeout`).
        public var registrationTimeoutNanos: UInt64 = 30_000_000_000
        /// A client that answers pings and has said nothing this long is pinged...
        public var pingAfterNanos: UInt64 = 30_000_000_000
        /// ...and closed (`ping timeout`) if it still says nothing this long after.
        public var pingTimeoutNanos: UInt64 = 30_000_000_000
        /// A connection that drops without /quit leaves its name held for its resume token (see `EndedSession`);
        /// off when the node's grace period is 0.
        public var holdsNamesOnDrop = true
        /// The node keeps an archive (`--archive`): search works.
        public var searchable = false

        public init(
            limits: ProtocolLimits = ProtocolLimits(), rateLimit: Double = 10, rateBurst: Double = 20,
            typingIntervalNanos: UInt64 = 2_000_000_000, nodeID: String
        ) {
            self.limits = limits
            self.rateLimit = rateLimit
            self.rateBurst = rateBurst
            self.typingIntervalNanos = typingIntervalNanos
            self.nodeID = nodeID
        }
    }

    public enum State: Sendable {
        /// Connected; no name yet.
        case unnamed
        /// The name is registered: waiting for its password (text mode: the next line).
        case awaitingPassword(Naming)
        /// A claim for the name is in flight.
        case naming(Naming)
        case active(ActiveSession)
        /// Asked to close (quit, shutdown, name lost...); waiting for the connection to be gone.
        case closing(LeaveReason, ActiveSession?)
        /// The connection is gone.
        case closed
    }

    public struct Naming: Sendable {
        public var name: UserName
        public var requestID: RequestID?
        /// The rooms to join once named: those `hello` listed, else the lobby.
        public var restore: [RoomRestore]
        /// Why some listed rooms will not be joined, told after `welcome`.
        public var refusals: [ChatError]
        /// Whether `hello` listed rooms (then `welcome` names the last of them, or none).
        public var listedRooms: Bool
        public var login: Login

        /// The same naming, its password forgotten (asked for again).
        var withoutPassword: Naming {
            var copy = self
            copy.login.password = nil
            return copy
        }
    }

    /// A room to join, from `hello`: validated, with the last message the client saw there.
    public struct RoomRestore: Equatable, Sendable {
        public var room: RoomName
        public var since: StreamID?
        /// The room's key, when it has one.
        public var key: String?
        /// The person's other connections are in the room (an attached connection's rooms, or one another
        /// connection joined): the join is not told to them, and a failure leaves the membership theirs.
        public var shared: Bool

        public init(room: RoomName, since: StreamID?, key: String? = nil, shared: Bool = false) {
            self.room = room
            self.since = since
            self.key = key
            self.shared = shared
        }
    }

    public struct ActiveSession: Sendable {
        public var user: UserName
        public var token: String
        /// What `welcome` hands the client to get the name back after a dropped connection.
        public var resumeToken: String
        /// The claim took over a held session: its direct messages waiting meanwhile are fetched before `welcome`.
        var resumed: Bool
        public var since: Millis
        public var lastActive: Millis
        public var away: String?
        /// Joined rooms in the order they were joined; `current` is where plain text lines go.
        public var rooms: [RoomName]
        public var current: RoomName?
        /// The join (or catch-up) under way: its room's live events are held back until its history is sent.
        public var joining: PendingJoin?
        /// Rooms `hello` asked for that are still to be joined, one after another.
        var restoreQueue: [RoomRestore]
        /// Why some rooms `hello` listed are not joined; told after `welcome`.
        var refusals: [ChatError]
        var lastTyping: [RoomName: UInt64]
        /// What the user said on quitting, for the leave notices.
        var farewell: String?
        /// Ended at a /quit before its connection closed (`close`): nothing is left to end when it does.
        var endedBeforeClose = false
        /// When (uptime nanoseconds) the last name changes were asked for, within the last minute.
        var renames: [UInt64] = []
        /// Tag messages sent, for their ids.
        var tagMessages = 0
        /// Marked a bot's (`/bot on`, IRC's `MODE nick +B`): its messages carry the mark.
        var isBot = false
        /// `welcome` was sent: what the session is told of itself from then on is news, not part of the welcome.
        var welcomed = false
        /// The name a change under way goes to: kicks and kills naming it are this session's too, and an end
        /// releases it as well.
        var renaming: UserName?
        /// A resumed session's rooms that the takeover kept as memberships, not rejoined yet.
        var keptRooms: Set<RoomName> = []
        /// Whether the person is one of the server's operators, and the message of the day for `welcome`.
        public var grant = SessionGrant()

        /// Rooms the store should list for this session: joined ones and one being joined (its membership may
        /// already be written).
        public var listedRooms: [RoomName] {
            guard let room = joining?.room, !rooms.contains(room) else { return rooms }
            return rooms + [room]
        }
    }

    public struct PendingJoin: Equatable, Sendable {
        public var room: RoomName
        public var since: StreamID?
        public var requestID: RequestID?
        /// A join with `since` of a room the session is already in: only the history is read.
        public var isCatchUp: Bool
        /// The membership is written, so a failure later must undo it.
        public var recorded: Bool
        /// The room's key, when it has one.
        public var key: String? = nil
        /// See `RoomRestore.shared`.
        public var shared = false
    }

    public let settings: Settings
    /// Names this session as the origin of what it publishes, so the relay can tell its own events.
    public let sessionID: String
    public internal(set) var state: State = .unnamed {
        didSet {
            view = View(state)
            relay = RelayView(state, sessionID: sessionID)
        }
    }
    /// What the node reads of the state for every request, kept beside it. A method or computed property called on
    /// a machine kept in a class (the node's session handler) copies the whole machine first, and reading the
    /// state's payload copies the whole session; reading one stored field copies that field
    /// (`machine.view.userName`).
    public private(set) var view = View(.unnamed)
    /// What routing a relayed event needs, for every event to every member of a room: small, so that the copy the
    /// node makes to call `route` on it costs a retain or two (`machine.relay.route(...)`).
    public private(set) var relay: RelayView

    public struct View: Sendable {
        /// The name, while the session is active or closing.
        public private(set) var userName: UserName?
        /// The claim's token, while the session is active.
        public private(set) var token: String?
        /// When the person last did something (see `ActiveSession.lastActive`), while the session is active.
        public private(set) var lastActive: Millis?
        /// Whether the person is one of the server's operators, while the session is active.
        public private(set) var isServerOperator = false
        /// Whether the person logged in to a registered name with its password, while the session is active.
        public private(set) var isRegistered = false
        /// The person's away text, while the session is active and they are away.
        public private(set) var away: String?
        /// Who the session's messages say wrote them (`SessionGrant.author`), while it is active.
        public private(set) var author = ""
        /// What `welcome` handed the client to come back with, while the session is active.
        public private(set) var resumeToken = ""

        init(_ state: State) {
            switch state {
            case .active(let session):
                userName = session.user
                token = session.token
                lastActive = session.lastActive
                isServerOperator = session.grant.isServerOperator
                isRegistered = session.grant.isRegistered
                away = session.away
                author = session.grant.author
                resumeToken = session.resumeToken
            case .closing(_, .some(let session)):
                userName = session.user
            default:
                break
            }
        }
    }

    public struct RelayView: Sendable {
        public let sessionID: String
        public private(set) var isActive = false
        public private(set) var joiningRoom: RoomName?
        /// The name to address the client by, once it has one: what a relayed direct message is rendered for.
        public private(set) var displayName: String?

        init(_ state: State, sessionID: String) {
            self.sessionID = sessionID
            switch state {
            case .active(let session):
                isActive = true
                joiningRoom = session.joining?.room
                displayName = session.user.display
            case .closing(_, .some(let session)):
                displayName = session.user.display
            default:
                break
            }
        }

        /// Where a relayed event goes: held while its room's join reads history, skipped when it is this
        /// session's own (its messages are acknowledged from the store's reply, its joins, leaves and presence
        /// were answered directly), delivered otherwise.
        /// Inlinable so the node reads the three fields it needs in place: called from another module, it made the
        /// node copy the whole view (a retain per field) for every delivery to every member. Always: left to itself
        /// the optimizer kept the call, and the copy with it.
        @inlinable @inline(__always)
        public func route(_ envelope: RelayEnvelope) -> RelayRoute {
            guard isActive, envelope.origin != sessionID else { return .skip }
            if let joining = joiningRoom, envelope.event.room == joining { return .hold }
            return .deliver
        }
    }

    /// A request is waiting on the store; the next one waits for it.
    public internal(set) var isWaiting = false
    var bucket: TokenBucket
    /// Whether the client's protocol answers the server's pings (JSON lines, WebSocket, IRC); people on nc do
    /// not, and are watched by TCP keepalive alone. Set by the shell once the protocol is known.
    public var answersPings = false
    /// Over its rate, a request waits for its turn (`retry`) instead of being refused: for protocols whose clients
    /// cannot take a refusal in place of a reply (IRC clients wait for every JOIN's numerics).
    public var waitsWhenLimited = false
    /// Until then (uptime nanoseconds), requests over the rate wait rather than being refused: the debt the
    /// session inherited from its address (`inheritDebt`) is paid by waiting, so a web page reloaded twice gets
    /// its automatic requests answered a moment later instead of refused.
    var waitsUntilNanos: UInt64 = 0
    /// A dropped connection leaves its name held for its resume token; off where clients have no token to come
    /// back with (IRC) and when the node's grace period is 0.
    public var holdsNamesOnDrop: Bool
    let connectedAtNanos: UInt64
    var lastHeardNanos: UInt64
    var pingSentAtNanos: UInt64?

    public init(settings: Settings, sessionID: String, now: SessionClock) {
        self.settings = settings
        self.sessionID = sessionID
        self.bucket = TokenBucket(
            ratePerSecond: settings.rateLimit, burst: settings.rateBurst, nowNanos: now.uptimeNanos)
        self.connectedAtNanos = now.uptimeNanos
        self.lastHeardNanos = now.uptimeNanos
        self.holdsNamesOnDrop = settings.holdsNamesOnDrop
        self.relay = RelayView(.unnamed, sessionID: sessionID)
    }

    var paging: HistoryPaging {
        HistoryPaging(messages: settings.limits.historyPageMessages, bytes: settings.limits.historyPageBytes)
    }

    /// The named session, while it is active.
    public var active: ActiveSession? {
        if case .active(let session) = state { return session }
        return nil
    }

    /// The name to address the client by, once it has one.
    public var userName: UserName? { view.userName }

    /// Text mode takes the next line whole as the password.
    public var awaitsPassword: Bool {
        if case .awaitingPassword = state { return true }
        return false
    }

    public var isClosing: Bool {
        switch state {
        case .closing, .closed: true
        default: false
        }
    }

    // MARK: The connection

    /// One frame that was too long to read; it was dropped, the connection carries on.
    public func frameTooLong() -> [SessionAction] {
        guard !isClosing else { return [] }
        let limit = settings.limits.maximumLineBytes
        return [
            .send(
                .error(ChatError(.lineTooLong, "lines are limited to \(limit) bytes; that line was discarded")), id: nil
            )
        ]
    }

    /// Closes the session for `reason` (the client stopped reading, its input ended...). Idempotent.
    public mutating func close(_ reason: LeaveReason) -> [SessionAction] {
        switch state {
        case .closing, .closed: return []
        case .active(var session) where reason == .quit:
            // A /quit ends the session before the connection closes, as IRC servers send its QUIT to the channels
            // before closing the link: whoever sees the socket close finds the rooms told (the node waits for the
            // release, a second at most: `SessionHandler.closeAfterRelease`).
            let ended = ending(session, reason)
            session.endedBeforeClose = true
            state = .closing(reason, session)
            return [ended, .close(reason)]
        case .active(let session): state = .closing(reason, session)
        case .unnamed, .awaitingPassword, .naming: state = .closing(reason, nil)
        }
        return [.close(reason)]
    }

    /// The node is going away: say so, then close.
    public mutating func shutdown() -> [SessionAction] {
        guard !isClosing else { return [] }
        let notice = ChatError(.serverShutdown, "this node is shutting down; reconnect to carry on")
        return [.send(.error(notice), id: nil)] + close(.serverShutdown)
    }

    /// The store says this session's claim is gone or someone else's. Ignored for another token (an older
    /// keep-alive answering late).
    public mutating func nameLost(token: String) -> [SessionAction] {
        guard let session = active, session.token == token else { return [] }
        let notice = ChatError(.nameLost, "your name's claim expired or was taken over; reconnect to pick a name")
        return [.send(.error(notice), id: nil)] + close(.nameLost)
    }

    /// Another connection resumed this session with its resume token (its client reconnected while this connection
    /// still looked open): this one is stale, and goes without releasing what the new one now holds. Ignored when
    /// `origin` is this session, the resume's own notice reaching it, or when it names another connection
    /// (`connection`: the one of a registered name's several that the resume replaced).
    public mutating func resumedElsewhere(
        origin: String?, connection: String? = nil, why: SessionReplacement = .resumed
    ) -> [SessionAction] {
        guard active != nil, origin != sessionID, connection == nil || connection == sessionID else { return [] }
        let notice =
            switch why {
            case .resumed: ChatError(.nameLost, "your session was resumed by a newer connection")
            case .evicted:
                ChatError(
                    .replaced,
                    "a newer login of your name took this connection's place (it has as many connections as it may)")
            case .passwordChanged:
                ChatError(
                    .nameLost, "your name's password was changed from another connection; log in with the new one")
            }
        return [.send(.error(notice), id: nil)] + close(.nameLost)
    }

    /// A server operator disconnected this session's person (a kill, a suspension, a network ban): told who and why,
    /// then closed; the rooms see it quit with that reason.
    public mutating func removed(name: String, by: String, reason: String?) -> [SessionAction] {
        guard let session = active, let named = try? UserName(validating: name),
            named.key == session.user.key || named.key == session.renaming?.key
        else {
            return []
        }
        let why = reason.map { ": \($0)" } ?? ""
        let notice = ChatError(.removed, "disconnected by \(by)\(why)")
        if case .active(var ending) = state {
            ending.farewell = IRCRenderer.prefix("by \(by)\(why)", bytes: LeaveReason.maximumMessageBytes)
            state = .active(ending)
        }
        return [.send(.error(notice), id: nil)] + close(.removed)
    }

    /// The deployment's operator list changed (a reload): this session's person is one of the server's operators from
    /// now on (the node has checked the login, as at a welcome), or no longer is. Told only of a change.
    public mutating func serverOperator(_ isOperator: Bool) -> [SessionAction] {
        guard var session = active, session.grant.isServerOperator != isOperator else { return [] }
        session.grant.isServerOperator = isOperator
        state = .active(session)
        // Before the welcome, the welcome says it (an IRC client has no nick to be told anything yet).
        guard session.welcomed else { return [] }
        return [.send(isOperator ? .serverOperator : .serverOperatorEnded, id: nil)]
    }

    /// A server operator closed a room this session is in: out of it, as after a kick, and out of the session's
    /// rooms in the store (the room's own keys are gone already).
    public mutating func roomClosed(_ room: RoomName) -> [SessionAction] {
        guard var session = active, let index = session.rooms.firstIndex(of: room) else { return [] }
        session.rooms.remove(at: index)
        if session.current == room { session.current = session.rooms.last }
        state = .active(session)
        return [.stopListening(room), .perform(.forgetRoom(room), id: nil)]
    }

    /// Another connection of this session's person joined `room` (a registered name connected from several
    /// places): this one joins it too, after what it is doing, as a membership that is theirs already.
    public mutating func joinedElsewhere(_ room: RoomName) -> [SessionAction] {
        guard var session = active, !session.rooms.contains(room), session.joining?.room != room,
            !session.restoreQueue.contains(where: { $0.room == room }),
            session.rooms.count < settings.limits.maximumRoomsPerSession
        else { return [] }
        let restore = RoomRestore(room: room, since: nil, shared: true)
        guard session.joining == nil, session.restoreQueue.isEmpty else {
            session.restoreQueue.append(restore)
            state = .active(session)
            return []
        }
        let actions = startJoin(restore, id: nil, session: &session)
        state = .active(session)
        if actions.contains(where: \.holdsInput) { isWaiting = true }
        return actions
    }

    /// Another connection of this session's person left `room`: this one is out of it too, told as if it had
    /// left itself.
    public mutating func leftElsewhere(_ room: RoomName, message: String?) -> [SessionAction] {
        guard var session = active else { return [] }
        // Not joined here yet: not to be.
        session.restoreQueue.removeAll { $0.room == room && $0.shared }
        guard let index = session.rooms.firstIndex(of: room) else {
            state = .active(session)
            return []
        }
        session.rooms.remove(at: index)
        if session.current == room { session.current = session.rooms.last }
        state = .active(session)
        return [.stopListening(room), .send(.youLeft(room: room, message: message), id: nil)]
    }

    /// Another connection of this session's person moved a read marker: later joins count unread from it.
    public mutating func readElsewhere(_ marker: ReadMarker) {
        guard var session = active, let id = marker.id else { return }
        if id > session.grant.readMarkers[marker.room] ?? .zero { session.grant.readMarkers[marker.room] = id }
        state = .active(session)
    }

    /// A relayed kick: when it names this session's person, an operator removed them from `room` (the store has
    /// ended the membership already), so the session stops listening there, as after a leave. Other kicks change
    /// nothing here.
    public mutating func kicked(from room: RoomName, name: String) -> [SessionAction] {
        guard var session = active, let index = session.rooms.firstIndex(of: room),
            let kicked = try? UserName(validating: name),
            kicked.key == session.user.key || kicked.key == session.renaming?.key
        else { return [] }
        session.rooms.remove(at: index)
        if session.current == room { session.current = session.rooms.last }
        state = .active(session)
        return [.stopListening(room)]
    }

    /// The connection is gone. A named session ends: its rooms are told why, its name is freed. A claim still in
    /// flight is given back when it completes (see `completed`).
    public mutating func connectionClosed() -> [SessionAction] {
        let over: (ActiveSession, LeaveReason)?
        switch state {
        case .active(let session): over = (session, .disconnected)
        case .closing(let reason, .some(let session)) where !session.endedBeforeClose: over = (session, reason)
        default: over = nil
        }
        state = .closed
        isWaiting = false
        guard let (session, reason) = over else { return [] }
        return [ending(session, reason)]
    }

    private func ending(_ session: ActiveSession, _ reason: LeaveReason) -> SessionAction {
        // Only a drop holds the name: /quit, a lost claim and a node going away release it at once.
        let dropped: Set<LeaveReason> = [.disconnected, .pingTimeout, .slowConsumer]
        return .end(
            EndedSession(
                user: session.user, token: session.token, reason: reason, since: session.since,
                rooms: session.listedRooms,
                holdsName: holdsNamesOnDrop && dropped.contains(reason) && session.renaming == nil,
                message: session.farewell, renaming: session.renaming))
    }

    // MARK: Liveness

    /// Something arrived from the client (any frame, even a blank line or one too long): it is alive.
    public mutating func heard(now: SessionClock) {
        lastHeardNanos = now.uptimeNanos
        pingSentAtNanos = nil
    }

    /// Called every few seconds. A connection still without a name after the registration timeout is closed, so
    /// silent sockets cannot hold slots; a client that answers pings is pinged after a silence and closed when it
    /// does not answer, so a vanished host frees its name within `pingAfter + pingTimeout` plus one tick.
    public mutating func tick(now: SessionClock) -> [SessionAction] {
        switch state {
        case .closing, .closed, .naming:
            return []
        case .unnamed, .awaitingPassword:
            guard now.uptimeNanos &- connectedAtNanos >= settings.registrationTimeoutNanos else { return [] }
            let seconds = settings.registrationTimeoutNanos / 1_000_000_000
            let error = ChatError(
                .registrationTimeout, "no name after \(seconds) s; reconnect and send your name first")
            return [.send(.error(error), id: nil)] + close(.disconnected)
        case .active:
            guard answersPings else { return [] }
            if let sent = pingSentAtNanos {
                return now.uptimeNanos &- sent >= settings.pingTimeoutNanos ? close(.pingTimeout) : []
            }
            guard now.uptimeNanos &- lastHeardNanos >= settings.pingAfterNanos else { return [] }
            pingSentAtNanos = now.uptimeNanos
            return [.send(.ping, id: nil)]
        }
    }
}
