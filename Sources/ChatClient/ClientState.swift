import ChatCore

// One file because the client's state is one value: rooms, their timelines, the people in them, resuming and
// paging after a reconnect, and typing all change together in `receive`, and its tests drive it as a whole.
// (The line editor, completion and wrapping, which stand alone, have files of their own.)

/// A request the client wants sent, with the id that tells its reply apart: replies to requests the client makes
/// by itself (resuming, refreshing the people list) are applied quietly; replies to what the user typed are shown.
public struct Outgoing: Equatable, Sendable {
    public var request: ClientRequest
    public var id: String?

    public init(_ request: ClientRequest, id: String? = nil) {
        self.request = request
        self.id = id
    }

    /// The JSON line to write (without the newline).
    public var json: String { JSONRequestEncoder.object(request, id: id) }

    /// The id of requests the client makes by itself.
    public static let automatic = "auto"
    /// The id of the requests that read a resume on, page after page; applied quietly too.
    public static let page = "page"
    /// The id of the page before the oldest message shown (PgUp at the top: `ClientState.olderHistory`).
    public static let older = "older"
}

public enum ConnectionStatus: Equatable, Sendable {
    case connecting
    /// Connected, waiting for the user to pick a (different) name.
    case choosingName(reason: String?)
    /// The name is registered: waiting for the user to type its password.
    case needsPassword(reason: String)
    case connected(node: String)
    case reconnecting(reason: String, retryInSeconds: Double)
    case closed(String)
}

/// One line of a room's timeline, before it is wrapped for a width.
public struct TimelineLine: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case message(own: Bool, mentionsMe: Bool)
        case action(own: Bool)
        case direct(outgoing: Bool)
        /// Joins, leaves and presence changes: shown dimmed.
        case notice
        /// Replies to commands (who, rooms, help...).
        case info
        case error
    }

    public var kind: Kind
    public var time: Millis
    public var from: String?
    public var text: String
    /// Room messages carry their stream id: the timeline is kept in its order and never holds one twice.
    public var id: StreamID?
    /// A room message's own text and what it gathered (the message it answers, an edit, reactions): `text` is
    /// made of them (`composed`), again whenever they change.
    public var body: String?
    public var annotations: MessageAnnotations?

    /// What the timeline shows of a message: `↳ alice: start of hers` before a reply, `(edited)` after an edited
    /// text, and the reactions with their counts.
    static func composed(_ body: String, _ annotations: MessageAnnotations?) -> String {
        guard let annotations else { return body }
        var text = body
        if let reply = annotations.replyTo {
            let answered = reply.from.map { "\($0): \(reply.snippet ?? "")" } ?? "a message no longer here"
            text = "↳ \(answered) │ " + text
        }
        if annotations.edited != nil { text += " (edited)" }
        if !annotations.reactions.isEmpty {
            text += "  " + annotations.reactions.map { "\($0.emoji) \($0.names.count)" }.joined(separator: "  ")
        }
        return text
    }
}

public struct Member: Equatable, Sendable {
    public var name: String
    public var presence: Presence
    public var idleMillis: Millis
    /// Operator, voice, or neither (shown as IRC's prefixes, @ and +).
    public var roles: RoomRoles = []
}

/// One joined room as the client shows it.
public struct RoomView: Equatable, Sendable {
    public var lines: [TimelineLine] = []
    public var unread = 0
    /// The newest message id seen: what a reconnect resumes after.
    public var lastMessageID: StreamID?
    /// Where the room is read up to, as the server keeps it (a registered name's, shared by its devices).
    public var markedRead: StreamID?
    /// While a catch-up is being read page by page, the last id read so far: everything up to it is here, while
    /// newer live messages may already have come. A reconnect meanwhile resumes from here, not from the newest.
    public var caughtUpTo: StreamID?
    /// What a reconnect asks for: everything after this id.
    public var resumeFrom: StreamID? { caughtUpTo ?? lastMessageID }
    public var members: [String: Member] = [:]
    /// Shown in the room bar; nil when the room has none.
    public var topic: RoomTopic?
    var messageIDs: Set<StreamID> = []
    /// Older history asked for and not come yet; none older left (the server's, its archive's included).
    public var olderPending = false
    public var olderExhausted = false

    public var sortedMembers: [Member] {
        members.values.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }
}

/// Everything the terminal client knows, changed only by what the server says and what the user types. No I/O:
/// each step returns the requests to send, so rooms, unread counts and resuming are tested without a terminal
/// or a socket.
public struct ClientState: Sendable {
    /// The name asked for; `confirmedName` once the server welcomed it.
    public var name: String?
    /// The registered name's password (from --password-file, or typed when the server asked for it).
    public var password: Password?
    /// From the last `welcome`: gets our name back at once after a reconnect, even while the lost connection
    /// still holds it.
    public private(set) var resumeToken: String?
    public private(set) var confirmedName: String?
    public private(set) var status = ConnectionStatus.connecting
    /// Joined rooms, in the order they were joined (the room bar's order).
    public private(set) var rooms: [RoomName] = []
    public private(set) var current: RoomName?
    public private(set) var views: [RoomName: RoomView] = [:]
    /// Lines shown before any room is joined (errors while choosing a name, the server going away).
    public private(set) var serverLines: [TimelineLine] = []
    /// Rooms the user asked to join and whose reply has not come yet: the reply makes them current.
    private var userJoins: Set<RoomName> = []
    /// Rooms whose join was a resume's: the topic that follows is not shown again (the user's own `/topic`
    /// clears this, see `submit`).
    private var quietTopic: Set<RoomName> = []
    /// Set between a reconnect's welcome and the last resume reply.
    private var resuming: Set<RoomName> = []
    /// Whether the server has told us about our rooms yet (a join or leave reply): only then does a reconnect's
    /// `hello` list them, so a connection lost before the first join still gets the lobby.
    private var knowsRooms = false
    /// Rooms that did not fit in the `hello` line, joined once the welcome has come.
    private var joinsAfterWelcome: [Outgoing] = []
    /// A `hello` must fit in one line (the server takes 4 KiB by default); the rooms past this are joined after.
    static let helloBudgetBytes = 3500
    /// While our name is held by the lost connection: until when to keep asking, and when to ask next.
    private var reclaimUntil: Millis?
    private var helloRetryAt: Millis?
    /// When the last read marker was sent (`markCurrentRead`).
    private var lastMarkSent: Millis = 0
    /// How long a reconnecting client waits for its own name (a dead node's names are freed within its claim
    /// TTL, 15 s by default, plus a reaper pass).
    public static let reclaimMillis: Millis = 30_000
    public var maximumLinesPerRoom = 2000
    /// Who was last heard typing in each room, and when (their display name, by lowercased name).
    private var typing: [RoomName: [String: (name: String, time: Millis)]] = [:]
    /// When we last told each room we were typing.
    private var typingSent: [RoomName: Millis] = [:]
    /// How long a typing notice shows, and how often we send ours while typing.
    public static let typingShownMillis: Millis = 6000
    public static let typingSendMillis: Millis = 3000

    public init(name: String?, password: Password? = nil) {
        self.name = name
        self.password = password
    }

    public var currentView: RoomView? { current.flatMap { views[$0] } }

    /// Between a reconnect's welcome and the last room's catch-up.
    public var isResuming: Bool { !resuming.isEmpty }

    /// Whether this room's join reply is still to come after a reconnect.
    public func isResuming(_ room: RoomName) -> Bool { resuming.contains(room) }

    // MARK: The connection

    /// A connection opened: say hello, or ask the user for a name.
    public mutating func connectionOpened() -> [Outgoing] {
        guard let name, !name.isEmpty else {
            status = .choosingName(reason: nil)
            return []
        }
        status = .connecting
        reclaimUntil = nil
        return [hello(name)]
    }

    /// After a reconnect, `hello` names the rooms we were in, each with the last message seen there, so the server
    /// puts us back in exactly those (the current one last, so it is current again) and replays what we missed.
    /// The first time, it names none and the server puts us in the lobby.
    private mutating func hello(_ name: String) -> Outgoing {
        joinsAfterWelcome = []
        // The token is for the name it was given with; a different name is a new session.
        let resume = confirmedName.map { $0.lowercased() == name.lowercased() } == true ? resumeToken : nil
        let login = Login(password: password, resume: resume)
        guard confirmedName != nil, knowsRooms else { return Outgoing(.hello(name: name, login: login)) }
        let order = rooms.filter { $0 != current } + (current.map { [$0] } ?? [])
        var restore = order.map { RoomResume(room: $0.value, since: views[$0]?.resumeFrom?.description) }
        while restore.count > 1,
            JSONRequestEncoder.object(.hello(name: name, rooms: restore, login: login)).utf8.count
                > Self.helloBudgetBytes
        {
            let first = restore.removeFirst()
            joinsAfterWelcome.append(Outgoing(.join(room: first.room, since: first.since), id: Outgoing.automatic))
        }
        return Outgoing(.hello(name: name, rooms: restore, login: login))
    }

    /// Called now and then (every 100 ms or so): sends what is due, such as another try at our name.
    public mutating func tick(now: Millis) -> [Outgoing] {
        let marked = markCurrentRead(now: now)
        guard let due = helloRetryAt, now >= due, let name else { return marked }
        helloRetryAt = nil
        status = .connecting
        return [hello(name)]
    }

    /// The room on screen is read up to its newest message: told to the server at most once a second, which keeps
    /// it for the name's other devices and the next login.
    private mutating func markCurrentRead(now: Millis) -> [Outgoing] {
        guard case .connected = status, let room = current, var view = views[room],
            let newest = view.lines.last(where: { $0.id != nil })?.id, newest > (view.markedRead ?? .zero),
            now - lastMarkSent >= 1000
        else { return [] }
        view.markedRead = newest
        views[room] = view
        lastMarkSent = now
        return [Outgoing(.markRead(room: room.value, id: newest.description), id: Outgoing.automatic)]
    }

    /// The connection is gone: keep every room and line, to resume when it is back (unless the server said not to
    /// come back: then the status stays closed, and the caller stops the connection).
    public mutating func connectionLost(reason: String, retryInSeconds: Double) {
        if case .closed = status { return }
        status = .reconnecting(reason: reason, retryInSeconds: retryInSeconds)
        resuming = []
        userJoins = []
        helloRetryAt = nil
    }

    public mutating func closed(_ reason: String) { status = .closed(reason) }

    /// The user picked a name after the first was refused.
    public mutating func choose(name: String) -> [Outgoing] {
        self.name = name
        password = nil
        status = .connecting
        return [hello(name)]
    }

    /// Whether the input line is a secret that must not be kept in the input history: the password the server
    /// asked for, or a command that carries one.
    public func isSecret(_ line: String) -> Bool {
        if case .needsPassword = status { return true }
        let command = line.trimmedSpaces().split(separator: " ", maxSplits: 1).first?.lowercased() ?? ""
        return ["/register", "/password", "/passwd", "/unregister"].contains(command)
    }

    /// The user typed the password the server asked for.
    public mutating func choose(password text: String) -> [Outgoing] {
        guard let name, let password = try? Password(given: text) else { return [] }
        self.password = password
        status = .connecting
        return [hello(name)]
    }

    // MARK: What the server says

    /// `now`: the local clock when the event arrived (typing notices and name retries are timed by it, so a
    /// client whose clock differs from the server's still times them right); the event's own time if nil.
    public mutating func receive(_ decoded: JSONEventDecoder.Decoded, now: Millis? = nil) -> [Outgoing] {
        let now = now ?? decoded.time
        let quiet = [Outgoing.automatic, Outgoing.page, Outgoing.older].map(JSONWriter.quoted).contains(
            decoded.requestID)
        switch decoded.event {
        case .greeting, .tagMessage:
            return []  // client tags arrive decoded as what the client shows (typing), or not at all
        case .welcome(let name, _, let node, _, let resume):
            confirmedName = name
            resumeToken = resume
            self.name = name
            status = .connected(node: node)
            reclaimUntil = nil
            helloRetryAt = nil
            // A reconnect's hello named our rooms: the server is joining them again, replaying what we missed.
            resuming = Set(rooms)
            defer { joinsAfterWelcome = [] }
            return joinsAfterWelcome
        case .youJoined(let room, let history, let more):
            knowsRooms = true
            // A resumed room's topic is set quietly: the user saw it when they first joined.
            if resuming.remove(room) != nil || quiet { quietTopic.insert(room) } else { quietTopic.remove(room) }
            let isUserJoin = userJoins.remove(room) != nil
            if !rooms.contains(room) {
                rooms.append(room)
                views[room] = RoomView()
            }
            // The topic, if the room has one, comes right after this reply.
            views[room]?.topic = nil
            for message in history { add(message) }
            if isUserJoin || current == nil { current = room }
            if current == room { views[room]?.unread = 0 }
            return [Outgoing(.who(room: room.value), id: Outgoing.automatic)]
                + nextPage(room, after: history.last, more: more)
        case .youLeft(let room, _):
            knowsRooms = true
            guard let index = rooms.firstIndex(of: room) else { return [] }
            rooms.remove(at: index)
            views[room] = nil
            if current == room { current = rooms.isEmpty ? nil : rooms[min(index, rooms.count - 1)] }
            return []
        case .topic(let room, let topic):
            views[room]?.topic = topic.flatMap { $0.text.isEmpty ? nil : $0 }
            // Shown after a join and when asked for; quietly set after a resume.
            if quietTopic.remove(room) == nil, !quiet { info(decoded, in: room) }
            return []
        case .topicChanged(let room, let topic):
            views[room]?.topic = topic.text.isEmpty ? nil : topic
            let text = topic.text.isEmpty ? "\(topic.by) cleared the topic" : "\(topic.by) set the topic: \(topic.text)"
            append(TimelineLine(kind: .notice, time: topic.time, text: text), to: room)
            return []
        case .message(let message), .sent(let message):
            typing[message.room]?[message.from.lowercased()] = nil
            add(message)
            return []
        case .messageChanged(let change):
            apply(change)
            return []
        case .readMarker(let marker):
            guard var view = views[marker.room] else { return [] }
            if let id = marker.id, id > (view.markedRead ?? .zero) { view.markedRead = id }
            if marker.room != current {
                // After a join the server counts (from the whole history); a move elsewhere is counted here.
                let read = view.markedRead ?? .zero
                view.unread =
                    marker.unread
                    ?? view.lines.filter { ($0.id ?? .zero) > read && $0.from.map(isMe) != true }.count
            }
            views[marker.room] = view
            return []
        case .typing(let room, let name, _):
            guard !isMe(name), rooms.contains(room) else { return [] }
            typing[room, default: [:]][name.lowercased()] = (name, now)
            return []
        case .direct(let direct):
            let outgoing = isMe(direct.from) && !isMe(direct.to)
            let said = direct.isAction ? "* \(direct.from) \(direct.text)" : direct.text
            let text = outgoing ? "-> \(direct.to): \(said)" : said
            appendToCurrent(
                TimelineLine(kind: .direct(outgoing: outgoing), time: direct.time, from: direct.from, text: text))
            return []
        case .joined(let room, let name, let time, _):
            views[room]?.members[name.lowercased()] = Member(name: name, presence: .online, idleMillis: 0)
            append(TimelineLine(kind: .notice, time: time, text: "\(name) joined #\(room)"), to: room)
            return []
        case .left(let room, let name, let reason, let time, let message):
            views[room]?.members[name.lowercased()] = nil
            typing[room]?[name.lowercased()] = nil
            let said = message.flatMap { $0.isEmpty ? nil : $0 }
            let why =
                reason == .left ? said.map { " (\($0))" } ?? "" : " (\(reason.rawValue)\(said.map { ": \($0)" } ?? ""))"
            append(TimelineLine(kind: .notice, time: time, text: "\(name) left #\(room)\(why)"), to: room)
            return []
        case .renamed(let room?, let from, let to, let time):
            if var member = views[room]?.members.removeValue(forKey: from.lowercased()) {
                member.name = to
                views[room]?.members[to.lowercased()] = member
            }
            typing[room]?[from.lowercased()] = nil
            append(TimelineLine(kind: .notice, time: time, text: "\(from) is now known as \(to)"), to: room)
            return []
        case .renamed(nil, _, let to, let time):
            // Our own: the name a reconnect asks for, and the one our rooms list us under.
            if let old = confirmedName {
                for room in views.keys {
                    if var member = views[room]?.members.removeValue(forKey: old.lowercased()) {
                        member.name = to
                        views[room]?.members[to.lowercased()] = member
                    }
                }
            }
            confirmedName = to
            name = to
            appendToCurrent(TimelineLine(kind: .info, time: time, text: "you are now known as \(to)"))
            return []
        case .presence(let room, let name, let presence, let time):
            let roles = views[room]?.members[name.lowercased()]?.roles ?? []
            views[room]?.members[name.lowercased()] = Member(
                name: name, presence: presence, idleMillis: 0, roles: roles)
            let text: String
            switch presence {
            case .online: text = "\(name) is back"
            case .away(let reason): text = reason.isEmpty ? "\(name) is away" : "\(name) is away: \(reason)"
            }
            append(TimelineLine(kind: .notice, time: time, text: text), to: room)
            return []
        case .who(let room, let members, _, _):
            // A big room's first page: the people shown beside the chat are those it lists.
            views[room]?.members = Dictionary(
                members.map {
                    (
                        $0.name.lowercased(),
                        Member(name: $0.name, presence: $0.presence, idleMillis: $0.idleMillis, roles: $0.roles)
                    )
                },
                uniquingKeysWith: { first, _ in first })
            if !quiet { info(decoded) }
            return []
        case .kicked(let room, let name, _, _, let time):
            let line = TextRenderer.lines(decoded.event, viewer: confirmedName, now: time).first.map {
                TimelineLine(kind: .notice, time: time, text: String($0.dropFirst(2)))
            }
            guard isMe(name) else {
                views[room]?.members[name.lowercased()] = nil
                if let line { append(line, to: room) }
                return []
            }
            // Out of the room, as after a leave; told where one is now.
            if let index = rooms.firstIndex(of: room) {
                rooms.remove(at: index)
                views[room] = nil
                if current == room { current = rooms.isEmpty ? nil : rooms[min(index, rooms.count - 1)] }
            }
            if let line { appendToCurrent(line) }
            return []
        case .modeChanged(let room, _, let changes, let time):
            for case .role(let role, let name, let granted) in changes {
                guard var member = views[room]?.members[name.lowercased()] else { continue }
                if granted { member.roles.insert(role) } else { member.roles.remove(role) }
                views[room]?.members[name.lowercased()] = member
            }
            for text in TextRenderer.lines(decoded.event, viewer: confirmedName, now: time) {
                append(TimelineLine(kind: .notice, time: time, text: String(text.dropFirst(2))), to: room)
            }
            return []
        case .roomRegistered(let room, let owner, let previous, _, let time):
            // The owner's `~` moves: the people pane shows it.
            for (name, granted) in [(previous, false), (owner, true)] {
                guard let name, var member = views[room]?.members[name.lowercased()] else { continue }
                if granted { member.roles.formUnion([.owner, .operator]) } else { member.roles.remove(.owner) }
                views[room]?.members[name.lowercased()] = member
            }
            for text in TextRenderer.lines(decoded.event, viewer: confirmedName, now: time) {
                append(TimelineLine(kind: .notice, time: time, text: String(text.dropFirst(2))), to: room)
            }
            return []
        case .invited(_, _, let time):
            for text in TextRenderer.lines(decoded.event, viewer: confirmedName, now: time) {
                appendToCurrent(TimelineLine(kind: .notice, time: time, text: String(text.dropFirst(2))))
            }
            return []
        case .history(let room, let messages, let more):
            let older = decoded.requestID == JSONWriter.quoted(Outgoing.older)
            if older {
                views[room]?.olderPending = false
                if messages.isEmpty { views[room]?.olderExhausted = true }
            }
            // Older messages were read long ago (or never will be): they count as nobody's unread.
            for message in messages { add(message, counted: !older) }
            if !quiet && messages.isEmpty { info(decoded) }
            guard decoded.requestID == JSONWriter.quoted(Outgoing.page) else { return [] }
            return nextPage(room, after: messages.last, more: more)
        case .gap(let room, let after, let lost, _):
            guard lost else {
                // Missed here but still kept: read it.
                return readOn(room, after: after)
            }
            append(
                TimelineLine(kind: .notice, time: decoded.time, text: "some earlier messages are no longer available"),
                to: room)
            return []
        case .error(let error)
        where (error.code == .passwordRequired || error.code == .badPassword) && status == .connecting:
            // A registered name, in reply to our hello: ask for its password (again, when ours was refused).
            // Once connected, a bad-password is the reply to /password or /unregister: an ordinary error.
            password = nil
            status = .needsPassword(reason: error.message)
            return []
        case .error(let error)
        where error.code == .removed || error.code == .suspended || error.code == .replaced
            || (error.code == .banned && status == .connecting):
            // A server operator disconnected us, or keeps us out: reconnecting would be refused, so it stops here.
            // A newer login of our name took this connection's place: coming back would take another's.
            appendToCurrent(TimelineLine(kind: .error, time: decoded.time, text: "\(error.code): \(error.message)"))
            status = .closed("\(error.code): \(error.message)")
            return []
        case .error(let error):
            if error.code == .nameTaken, status == .connecting, let confirmedName {
                // After a reconnect our own name can still be held by the connection that was lost (its node
                // died and has not been reaped yet): keep asking for a while before asking the user.
                let deadline = reclaimUntil ?? now + Self.reclaimMillis
                reclaimUntil = deadline
                if now < deadline {
                    helloRetryAt = now + 1000
                    status = .reconnecting(
                        reason: "waiting for the name \(confirmedName) to be freed", retryInSeconds: 1)
                    return []
                }
            }
            if error.code == .nameTaken || error.code == .nameInvalid, status == .connecting || confirmedName == nil {
                status = .choosingName(reason: error.message)
                name = nil
                return []
            }
            // A room of the resume was refused or failed (such errors carry no id): which one is not said, so the
            // resume is over; the joins still to come are shown as they arrive.
            if decoded.requestID == nil { resuming = [] }
            appendToCurrent(TimelineLine(kind: .error, time: decoded.time, text: "\(error.code): \(error.message)"))
            return []
        case .bye(let reason):
            appendToCurrent(TimelineLine(kind: .info, time: decoded.time, text: "server: bye (\(reason))"))
            return []
        case .ping:
            // The server checks the connection is alive after a silence: any line answers it.
            return [Outgoing(.pong)]
        case .ok, .rooms, .seen, .online, .help, .pong, .roomSettings, .bans, .networkBans, .auditLog, .blocks,
            .roomRegistration, .searchResults, .forgotten:
            if !quiet { info(decoded) }
            return []
        case .announcement, .serverOperator, .serverOperatorEnded, .motd, .recipientAway, .counts:
            info(decoded)
            return []
        case .roomClosed(let room, _, _, let time):
            for text in TextRenderer.lines(decoded.event, viewer: confirmedName, now: time) {
                appendToCurrent(TimelineLine(kind: .notice, time: time, text: String(text.dropFirst(2))))
            }
            if let index = rooms.firstIndex(of: room) {
                rooms.remove(at: index)
                views[room] = nil
                if current == room { current = rooms.isEmpty ? nil : rooms[min(index, rooms.count - 1)] }
            }
            return []
        case .resumedElsewhere, .joinedElsewhere, .leftElsewhere, .removed, .networkChanged:
            return []
        }
    }

    /// A resume's page was not the last: ask for the next, after its newest message. The last page read ends the
    /// catch-up.
    private mutating func nextPage(_ room: RoomName, after last: ChatMessage?, more: Bool) -> [Outgoing] {
        guard more, let last else {
            views[room]?.caughtUpTo = nil
            return []
        }
        return readOn(room, after: last.id)
    }

    private mutating func readOn(_ room: RoomName, after id: StreamID) -> [Outgoing] {
        views[room]?.caughtUpTo = id
        return [Outgoing(.history(room: room.value, limit: nil, before: nil, after: id.description), id: Outgoing.page)]
    }

    /// Replies to the user's commands, shown in the current room as the text client would show them.
    /// `room`: shown there when it is joined (a topic belongs to its room), else in the current room.
    private mutating func info(_ decoded: JSONEventDecoder.Decoded, in room: RoomName? = nil) {
        for text in TextRenderer.lines(decoded.event, viewer: confirmedName, now: decoded.time) {
            let shown = text.hasPrefix("* ") ? String(text.dropFirst(2)) : text
            let line = TimelineLine(kind: .info, time: decoded.time, text: shown)
            if let room, views[room] != nil { append(line, to: room) } else { appendToCurrent(line) }
        }
    }

    private func isMe(_ name: String) -> Bool {
        guard let confirmedName else { return false }
        return name.lowercased() == confirmedName.lowercased()
    }

    /// Adds a room message where its id puts it, unless it is already there.
    /// A change to a message of a room: its line shows the new text, the reactions as they are now, or goes. Applied
    /// the same however often it comes (a resume sends again what was done to messages the client has).
    private mutating func apply(_ change: MessageChange) {
        guard var view = views[change.room] else { return }
        if view.lastMessageID.map({ change.id > $0 }) ?? true { view.lastMessageID = change.id }
        defer { views[change.room] = view }
        guard let index = view.lines.lastIndex(where: { $0.id == change.target }) else { return }
        var line = view.lines[index]
        var annotations = line.annotations ?? MessageAnnotations()
        switch change.kind {
        case .deleted:
            view.lines.remove(at: index)
            return
        case .edited(let text):
            line.body = text
            annotations.edited = change.time
        case .reacted(let emoji):
            if let at = annotations.reactions.firstIndex(where: { $0.emoji == emoji }) {
                if !annotations.reactions[at].names.contains(change.by) {
                    annotations.reactions[at].names.append(change.by)
                }
            } else {
                annotations.reactions.append(Reaction(emoji: emoji, names: [change.by]))
            }
        case .unreacted(let emoji):
            if let at = annotations.reactions.firstIndex(where: { $0.emoji == emoji }) {
                annotations.reactions[at].names.removeAll { $0 == change.by }
                if annotations.reactions[at].names.isEmpty { annotations.reactions.remove(at: at) }
            }
        }
        line.annotations = annotations.isEmpty ? nil : annotations
        let text = TimelineLine.composed(line.body ?? line.text, line.annotations)
        line.text = line.kind == .notice ? "-\(line.from ?? "")- \(text)" : text
        view.lines[index] = line
    }

    private mutating func add(_ message: ChatMessage, counted: Bool = true) {
        guard var view = views[message.room] else { return }
        let id = message.id
        guard view.messageIDs.insert(id).inserted else { return }
        let own = isMe(message.from)
        let mentionsMe = !own && confirmedName.map { message.text.lowercased().contains($0.lowercased()) } == true
        // A notice (from an IRC client or a bot) is shown dimmed, as IRC clients show one: -name- text.
        let annotations = message.annotationsIfAny
        let text = TimelineLine.composed(message.text, annotations)
        let line =
            message.isNotice
            ? TimelineLine(
                kind: .notice, time: message.time, from: message.from, text: "-\(message.from)- \(text)", id: id,
                body: message.text, annotations: annotations)
            : TimelineLine(
                kind: message.isAction ? .action(own: own) : .message(own: own, mentionsMe: mentionsMe),
                time: message.time, from: message.from, text: text, id: id, body: message.text,
                annotations: annotations)
        // Usually the newest: append. A message can come after a newer one (own acknowledgement first, or a
        // resume's catch-up), so walk back to its place.
        var index = view.lines.endIndex
        while index > view.lines.startIndex,
            let previous = view.lines[index - 1].id ?? Self.idOfTime(view.lines[index - 1]), previous > id
        {
            index -= 1
        }
        view.lines.insert(line, at: index)
        if view.lastMessageID.map({ id > $0 }) ?? true { view.lastMessageID = id }
        if counted && !own && message.room != current { view.unread += 1 }
        trim(&view)
        views[message.room] = view
    }

    /// Notices have no stream id; their time orders them against messages (a stream id starts with its time).
    private static func idOfTime(_ line: TimelineLine) -> StreamID? { StreamID("\(max(0, line.time))-0") }

    private mutating func append(_ line: TimelineLine, to room: RoomName) {
        guard var view = views[room] else { return }
        view.lines.append(line)
        trim(&view)
        views[room] = view
    }

    private mutating func appendToCurrent(_ line: TimelineLine) {
        if let current { append(line, to: current) } else { serverLines.append(line) }
    }

    private func trim(_ view: inout RoomView) {
        if view.lines.count > maximumLinesPerRoom { view.lines.removeFirst(view.lines.count - maximumLinesPerRoom) }
    }

    // MARK: What the user does

    public enum Action: Equatable, Sendable {
        case send([Outgoing])
        /// `/quit [TEXT]`: send `quit` with TEXT, then stop.
        case quit(message: String? = nil)
    }

    /// A line the user typed: a message to the current room, or one of the text mode's /commands.
    public mutating func submit(_ line: String, now: Millis) -> Action {
        let trimmed = line.trimmedSpaces()
        guard !trimmed.isEmpty else { return .send([]) }
        if case .choosingName = status { return .send(choose(name: trimmed)) }
        if case .needsPassword = status { return .send(choose(password: line)) }
        let request: ClientRequest
        do {
            request = try TextCommandParser.parse(line)
        } catch {
            appendToCurrent(TimelineLine(kind: .error, time: now, text: "\(error.code): \(error.message)"))
            return .send([])
        }
        if case .topic = request, let current { quietTopic.remove(current) }
        switch request {
        case .quit(let message):
            return .quit(message: message)
        case .say(nil, let text, let isAction):
            guard let current else {
                appendToCurrent(TimelineLine(kind: .error, time: now, text: "you are in no room; /join one first"))
                return .send([])
            }
            return .send([Outgoing(.say(room: current.value, text: text, isAction: isAction))])
        case .join(let room, let since, let key):
            if let name = try? RoomName(validating: room) {
                userJoins.insert(name)
                // Already joined: switching to it needs no request.
                if rooms.contains(name), since == nil {
                    userJoins.remove(name)
                    select(name)
                    return .send([])
                }
            }
            return .send([Outgoing(.join(room: room, since: since, key: key))])
        case .leave(nil, let message):
            guard let current else { return .send([]) }
            return .send([Outgoing(.leave(room: current.value, message: message))])
        case .who(nil, let listing):
            return .send([Outgoing(.who(room: current?.value, listing: listing))])
        case .history(nil, let limit, let before, let after):
            return .send([Outgoing(.history(room: current?.value, limit: limit, before: before, after: after))])
        default:
            return .send([Outgoing(request)])
        }
    }

    /// The page before the oldest message a room shows, for scrolling back past it (the server reads on into its
    /// archive past what Redis keeps); nothing while one is coming, once none is left, or when the room holds all
    /// the lines it keeps.
    public mutating func olderHistory(of room: RoomName) -> [Outgoing] {
        guard var view = views[room], !view.olderPending, !view.olderExhausted,
            view.lines.count < maximumLinesPerRoom
        else { return [] }
        view.olderPending = true
        views[room] = view
        // No message shown yet (its Redis history expired): the newest, which the server reads from the archive.
        let oldest = view.lines.lazy.compactMap(\.id).first
        return [Outgoing(.history(room: room.value, limit: 50, before: oldest?.description), id: Outgoing.older)]
    }

    public mutating func select(_ room: RoomName) {
        guard rooms.contains(room) else { return }
        current = room
        views[room]?.unread = 0
    }

    /// Ctrl-N / Ctrl-P: the next or previous joined room.
    public mutating func selectRoom(offset: Int) {
        guard !rooms.isEmpty else { return }
        let index = current.flatMap { rooms.firstIndex(of: $0) } ?? 0
        select(rooms[((index + offset) % rooms.count + rooms.count) % rooms.count])
    }

    /// Every joined room's people, refreshed now and then: idle times change, and rooms above
    /// `ChatStore.quietRoomSize` people announce no joins or leaves.
    public func refreshRequests() -> [Outgoing] {
        guard case .connected = status else { return [] }
        return rooms.map { Outgoing(.who(room: $0.value), id: Outgoing.automatic) }
    }

    /// People typing in `room` now, for "bob is typing...".
    public func typingNames(in room: RoomName, now: Millis) -> [String] {
        (typing[room] ?? [:]).values.filter { now - $0.time < Self.typingShownMillis }.map(\.name).sorted()
    }

    /// The input line changed: tell the current room we are typing, now and then, while it holds a message.
    public mutating func inputChanged(_ text: String, now: Millis) -> [Outgoing] {
        guard case .connected = status, let current, !text.isEmpty, !text.hasPrefix("/") else { return [] }
        if let last = typingSent[current], now - last < Self.typingSendMillis { return [] }
        typingSent[current] = now
        return [Outgoing(.typing(room: current.value), id: Outgoing.automatic)]
    }

    /// Names for Tab completion: the current room's people first, then everyone else known.
    public var knownNames: [String] {
        var names = currentView?.sortedMembers.map(\.name) ?? []
        for room in rooms where room != current {
            for member in views[room]?.sortedMembers ?? [] where !names.contains(member.name) {
                names.append(member.name)
            }
        }
        return names
    }
}

extension String {
    func trimmedSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
