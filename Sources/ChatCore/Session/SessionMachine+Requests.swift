/// The requests, one method each: each checks what it can without the store and returns the reply, or the store
/// operation whose result (in `SessionMachine+Store.swift`) makes the reply.
extension SessionMachine {
    /// One request as its protocol mode parsed it. Rate-limited before anything else, so a flood of bad lines
    /// costs as little as a flood of good ones; a parse error is still answered with the request's id.
    /// `charged: false` for what the protocol asks by itself (IRC's NAMES after a JOIN): it costs no token.
    public mutating func receive(
        _ parsed: Result<ClientRequest, ChatError>, id: RequestID?, now: SessionClock, charged: Bool = true
    ) -> [SessionAction] {
        guard !isClosing else { return [] }
        // Leaving and answering a ping are never refused: refusing them only keeps a client here longer.
        let free: Bool =
            switch parsed {
            case .success(.quit), .success(.pong): true
            default: !charged
            }
        if !free, waitsWhenLimited || now.uptimeNanos < waitsUntilNanos {
            let wait = bucket.wait(nowNanos: now.uptimeNanos)
            if wait > 0 { return [.retry(after: wait)] }
        }
        guard free || bucket.tryTake(nowNanos: now.uptimeNanos) else {
            let limit = Int(settings.rateLimit)
            return [.send(.error(ChatError(.rateLimited, "slow down: at most \(limit) lines a second")), id: id)]
        }
        let request: ClientRequest
        switch parsed {
        case .success(let value): request = value
        case .failure(let error): return [.send(.error(error), id: id)]
        }
        let actions = handle(request, id: id, now: now)
        if actions.contains(where: \.holdsInput) { isWaiting = true }
        return actions
    }

    /// A line the protocol answered by itself, or dropped (IRC's PING, CAP, MODE queries, VERSION, an unknown
    /// command, a CTCP query): it costs a token like any request, so nobody gets thousands of answers a second,
    /// or makes the node parse thousands of lines, for free. How long to wait before answering (0: now, paid).
    public mutating func chargeAnswered(now: SessionClock) -> UInt64 {
        let wait = bucket.wait(nowNanos: now.uptimeNanos)
        guard wait == 0 else { return wait }
        _ = bucket.tryTake(nowNanos: now.uptimeNanos)
        return 0
    }

    /// What this session spent of the rate and has not earned back (nanoseconds until its bucket would be full):
    /// kept for its address when it ends, so the next connection from there starts where it left off
    /// (`inheritDebt`), and reconnecting buys no fresh burst.
    public mutating func rateDebtNanos(now: SessionClock) -> UInt64 {
        bucket.debtNanos(nowNanos: now.uptimeNanos)
    }

    /// Starts this session with the debt an earlier session from its address left (see `rateDebtNanos`), up to a
    /// whole burst. It is asked for with the session's `hello`, which gets through; what the client sends next
    /// waits for the rate rather than being refused until the debt is paid (`waitsUntilNanos`), so a web page or
    /// the terminal client reconnecting gets its automatic requests answered late, never lost.
    public mutating func inheritDebt(nanos: UInt64, now: SessionClock) {
        guard nanos > 0 else { return }
        let owed = min(Double(nanos) / 1e9 * settings.rateLimit, settings.rateBurst)
        bucket.charge(owed, nowNanos: now.uptimeNanos)
        // Until the bucket would be full again: the whole inherited debt is paid by waiting.
        waitsUntilNanos = now.uptimeNanos + bucket.debtNanos(nowNanos: now.uptimeNanos)
    }

    private mutating func handle(_ request: ClientRequest, id: RequestID?, now: SessionClock) -> [SessionAction] {
        switch request {
        case .help: return [.send(.help, id: id)]
        case .ping: return active != nil ? [.perform(.awaitRelay, id: id)] : [.send(.pong, id: id)]
        case .pong: return []
        case .quit(let message):
            // Said in every room's leave notice.
            if var session = active, let message {
                session.farewell = IRCRenderer.prefix(message, bytes: LeaveReason.maximumMessageBytes)
                state = .active(session)
            }
            return [.send(.bye("see you"), id: id)] + close(.quit)
        case .hello(let name, let rooms, let login): return hello(name, rooms: rooms, login: login, id: id, now: now)
        case .password(let password): return passwordGiven(password, id: id)
        case .authenticate(let raw, let password):
            guard case .unnamed = state else {
                return reply(ChatError(.badRequest, "log in before picking a name"), id)
            }
            do { return [.perform(.checkPassword(try UserName(validating: raw), password), id: id)] } catch {
                return [.send(.error(error), id: id)]
            }
        default: break
        }
        guard var session = active else {
            return reply(ChatError(.badRequest, "pick a name first"), id)
        }
        // Idle time is about the person: polls a client makes by itself (who, rooms...) and typing do not count.
        switch request {
        case .say, .reply, .actOn, .join, .leave, .direct, .notice, .away, .back: session.lastActive = now.wall
        default: break
        }
        defer { state = .active(session) }
        do {
            return try handle(request, id: id, now: now, session: &session)
        } catch {
            return [.send(.error(error), id: id)]
        }
    }

    /// A named session's requests. A refusal is thrown and answered, with the request's id, by the caller.
    private mutating func handle(
        _ request: ClientRequest, id: RequestID?, now: SessionClock, session: inout ActiveSession
    )
        throws(ChatError) -> [SessionAction]
    {
        switch request {
        case .say(let raw, let text, let isAction):
            let room = try member(raw, session: session, why: "/join it first")
            try checkLength(text)
            var message = OutgoingMessage(
                room: room, from: session.user.display, text: text, isAction: isAction, time: session.lastActive)
            message.isBot = session.isBot
            message.author = Self.author(of: session)
            return [.perform(.publish(message), id: id)]
        case .reply(let raw, let target, let text, let isAction):
            let room = try member(raw, session: session, why: "/join it first")
            try checkLength(text)
            guard !text.isEmpty else { throw ChatError(.badRequest, "a reply needs a text") }
            var message = OutgoingMessage(
                room: room, from: session.user.display, text: text, isAction: isAction, time: session.lastActive)
            message.isBot = session.isBot
            message.author = Self.author(of: session)
            message.replyTo = target
            return [.perform(.publish(message), id: id)]
        case .markRead(let raw, let rawID):
            let room = try member(raw, session: session, why: "/join it first")
            let current = session.grant.readMarkers[room]
            guard let rawID else { return [.send(.readMarker(ReadMarker(room: room, id: current)), id: id)] }
            var marked = try Self.messageID(rawID)
            // Never far past now (a client's clock a day ahead would otherwise pin it there, as it only moves
            // forward); ten minutes ahead allowed, as message ids come from Redis's clock, not this node's.
            let latest = UInt64(max(0, now.wall + 10 * 60 * 1000))
            if marked.millis > latest { marked = StreamID(millis: latest, sequence: UInt64.max) }
            // A marker only moves forward (IRC's read-marker: an older one is answered with the current).
            if let current, current >= marked {
                return [.send(.readMarker(ReadMarker(room: room, id: current)), id: id)]
            }
            guard session.grant.isRegistered else {
                // A guest's lives with its connection: nothing to keep it for, or to tell.
                session.grant.readMarkers[room] = marked
                return [.send(.readMarker(ReadMarker(room: room, id: marked)), id: id)]
            }
            return [.perform(.markRead(room, marked), id: id)]
        case .actOn(let raw, let target, let action):
            let room = try member(raw, session: session, why: "/join it first")
            switch action {
            case .react(let emoji), .unreact(let emoji): _ = try MessageActions.validatedReaction(emoji)
            case .edit(let text):
                try checkLength(text)
                guard !text.isEmpty else { throw ChatError(.badRequest, "an edit needs the new text") }
            case .delete(let reason):
                guard (reason?.utf8.count ?? 0) <= LeaveReason.maximumMessageBytes else {
                    throw ChatError(.messageTooLong, "a reason is limited to \(LeaveReason.maximumMessageBytes) bytes")
                }
            }
            return [
                .perform(
                    .changeMessage(
                        room, target, action, author: session.grant.author, time: now.wall,
                        serverOperator: session.grant.isServerOperator), id: id)
            ]
        case .join(let raw, let since, let key): return try join(raw, since: since, key: key, id: id, session: &session)
        case .leave(let raw, let message):
            let room = try resolve(raw, session: session)
            guard let index = session.rooms.firstIndex(of: room) else {
                throw ChatError(.notInRoom, "you are not in #\(room)")
            }
            guard (message?.utf8.count ?? 0) <= LeaveReason.maximumMessageBytes else {
                throw ChatError(
                    .messageTooLong, "a leave message is limited to \(LeaveReason.maximumMessageBytes) bytes")
            }
            session.rooms.remove(at: index)
            if session.current == room { session.current = session.rooms.last }
            return [.stopListening(room), .perform(.recordLeave(room, message: message), id: id)]
        case .rooms: return [.perform(.listRooms, id: id)]
        case .who(let raw, let listing):
            if case .page(let after?) = listing,
                after.isEmpty || after.utf8.count > 32
                    || !after.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (48...57).contains($0) })
            {
                throw ChatError(.badRequest, "'\(after)' is not a cursor a who reply gave")
            }
            return [.perform(.who(try resolve(raw, session: session), listing), id: id)]
        case .direct(let to, let text, let isAction):
            guard let target = try? UserName(validating: to) else {
                throw ChatError(.noSuchUser, "nobody called '\(to)' is connected")
            }
            try checkLength(text)
            let message = DirectMessage(
                from: session.user.display, to: target.display, text: text, isAction: isAction,
                time: session.lastActive,
                isBot: session.isBot)
            return [.perform(.sendDirect(message, to: target), id: id)]
        case .notice(let to, let text):
            try checkLength(text)
            if to.hasPrefix("#") {
                let room = try member(to, session: session, why: "/join it first")
                var message = OutgoingMessage(
                    room: room, from: session.user.display, text: text, isAction: false, time: session.lastActive)
                message.isNotice = true
                message.isBot = session.isBot
                message.author = Self.author(of: session)
                return [.perform(.publish(message), id: id)]
            }
            guard let target = try? UserName(validating: to) else {
                throw ChatError(.noSuchUser, "nobody called '\(to)' is connected")
            }
            let message = DirectMessage(
                from: session.user.display, to: target.display, text: text, time: session.lastActive, isNotice: true,
                isBot: session.isBot)
            return [.perform(.sendDirect(message, to: target), id: id)]
        case .away(let text):
            guard (text?.utf8.count ?? 0) <= Presence.maximumAwayBytes else {
                throw ChatError(.messageTooLong, "an away text is limited to \(Presence.maximumAwayBytes) bytes")
            }
            session.away = text ?? "away"
            return [.perform(.setPresence(away: session.away), id: id)]
        case .back:
            session.away = nil
            return [.perform(.setPresence(away: nil), id: id)]
        case .topic(let raw, nil):
            // Anybody may read a room's topic, as IRC's TOPIC and LIST show it to people outside the room.
            return [.perform(.readTopic(try resolve(raw, session: session)), id: id)]
        case .topic(let raw, .some(let text)):
            let room = try member(raw, session: session, why: "/join it to set its topic")
            guard text.utf8.count <= RoomTopic.maximumBytes else {
                throw ChatError(.messageTooLong, "a topic is limited to \(RoomTopic.maximumBytes) bytes")
            }
            session.lastActive = now.wall
            let topic = RoomTopic(text: text, by: session.user.display, time: now.wall)
            return [.perform(.setTopic(room, topic), id: id)]
        case .mode, .kick, .ban, .mute, .invite, .room:
            return try moderation(request, id: id, now: now, session: session)
        case .operate(let operation):
            guard session.grant.isServerOperator else {
                throw ChatError(
                    .notServerOperator,
                    "only the server's operators may do that (names the deployment lists, logged in with their password)"
                )
            }
            return [.perform(.operate(try operation.validated(now: now.wall), by: session.user.display), id: id)]
        case .motd:
            return [.perform(.readMOTD, id: id)]
        case .counts:
            return [.perform(.readCounts, id: id)]
        case .bot(let on):
            return [.perform(.setBot(on), id: id)]
        case .tagMessage(let to, let tags):
            // A reaction to a room's message, whoever sends it (an IRC client, a program's `tagmsg`), is kept with
            // the message and its limits, never relayed past them.
            if to.hasPrefix("#"),
                let answered = tags.first(where: { $0.key == "+draft/reply" })?.value.flatMap(StreamID.init),
                let reaction = tags.first(where: { $0.key == "+draft/react" || $0.key == "+draft/unreact" }),
                let emoji = reaction.value
            {
                let action: MessageAction = reaction.key == "+draft/react" ? .react(emoji) : .unreact(emoji)
                return try handle(.actOn(room: to, target: .id(answered), action), id: id, now: now, session: &session)
            }
            session.tagMessages &+= 1
            let messageID = "\(sessionID)-t\(session.tagMessages)"
            if to.hasPrefix("#") {
                let room = try member(to, session: session, why: "/join it first")
                let message = TagMessage(
                    room: room, from: session.user.display, tags: tags, id: messageID, time: now.wall)
                return [.perform(.publishTags(message, to: nil), id: id)]
            }
            guard let target = try? UserName(validating: to) else {
                throw ChatError(.noSuchUser, "nobody called '\(to)' is connected")
            }
            let message = TagMessage(
                room: nil, to: target.display, from: session.user.display, tags: tags, id: messageID, time: now.wall)
            return [.perform(.publishTags(message, to: target), id: id)]
        case .nick(let raw):
            return try rename(to: raw, id: id, now: now, session: &session)
        case .block(let raw), .unblock(let raw):
            guard let name = try? UserName(validating: raw) else {
                throw ChatError(.noSuchUser, "'\(raw)' is not a name anyone can have")
            }
            guard name.key != session.user.key else { throw ChatError(.badRequest, "you cannot block yourself") }
            if case .block = request { return [.perform(.block(name, on: true), id: id)] }
            return [.perform(.block(name, on: false), id: id)]
        case .blocks:
            return [.perform(.readBlocks, id: id)]
        case .directMessages(let registeredOnly):
            return [.perform(.setDirectMessages(registeredOnly: registeredOnly), id: id)]
        case .history(let raw, let limit, let before, let after):
            let room = try member(raw, session: session, why: "/join it to read its history")
            if let after {
                let count = paging.readCount(limit ?? settings.limits.historyPageMessages)
                return [.perform(.historyAfter(room, after: try Self.messageID(after), count: count), id: id)]
            }
            let count = paging.readCount(min(limit ?? settings.limits.historyOnJoin, settings.limits.maximumHistory))
            return [.perform(.history(room, count: count, before: try before.map(Self.messageID)), id: id)]
        case .forgetMine:
            guard settings.searchable else {
                throw ChatError(.noArchive, "this server keeps no archive of messages: there is nothing to remove")
            }
            // It rewrites every row of the person's: charged as a search is.
            bucket.charge(4, nowNanos: now.uptimeNanos)
            return [.perform(.forgetMine(before: now.wall), id: id)]
        case .search(let search):
            guard settings.searchable else {
                throw ChatError(.noArchive, "this server keeps no archive of messages, so there is nothing to search")
            }
            guard let terms = SearchTerms.query(search.text) else {
                throw ChatError(.badRequest, "nothing to search for: give words (letters or digits)")
            }
            guard (1...SearchRequest.maximumPage).contains(search.page) else {
                throw ChatError(.badRequest, "\"page\" is from 1 to \(SearchRequest.maximumPage)")
            }
            guard search.before == nil || search.after == nil else {
                throw ChatError(.badRequest, "search before or after a message, not both")
            }
            let rooms =
                search.room == nil
                ? session.rooms : [try member(search.room, session: session, why: "/join it to search it")]
            let before = try search.before.map(Self.messageID)
            let after = try search.after.map(Self.messageID)
            // A search reads an index and ranks what it finds: it costs the database what several lines would
            // cost Redis, and is charged so (the line itself is one token).
            bucket.charge(4, nowNanos: now.uptimeNanos)
            // In no room, a search still looks through the person's direct messages.
            guard !rooms.isEmpty || search.room == nil else {
                return [.send(.searchResults(SearchResults(of: search, found: [], more: false)), id: id)]
            }
            return [.perform(.search(search, terms: terms, rooms: rooms, before: before, after: after), id: id)]
        case .seen(let raw):
            guard let name = try? UserName(validating: raw) else {
                return [.send(.seen(.never(name: raw), now: now.wall), id: id)]
            }
            return [.perform(.seen(name), id: id)]
        case .online(let raw):
            guard raw.count <= ClientRequest.maximumOnlineNames else {
                throw ChatError(.badRequest, "at most \(ClientRequest.maximumOnlineNames) names at once")
            }
            // A name nobody could hold is simply not online; a name asked twice is looked up once.
            var seen = Set<String>()
            let names = raw.compactMap { try? UserName(validating: $0) }.filter { seen.insert($0.key).inserted }
            guard !names.isEmpty else { return [.send(.online([]), id: id)] }
            // Each name is a Redis lookup: past the first eight, every eight cost a line's token more.
            if names.count > 8 { bucket.charge(Double((names.count - 1) / 8), nowNanos: now.uptimeNanos) }
            return [.perform(.online(names), id: id)]
        case .typing(let raw):
            // Relayed at most once per interval per room: clients send it on keystrokes and the extra ones are
            // dropped here, silently, so a chatty client costs the cluster nothing more. No reply.
            let room = try member(raw, session: session, why: "/join it first")
            if let last = session.lastTyping[room], now.uptimeNanos &- last < settings.typingIntervalNanos { return [] }
            session.lastTyping[room] = now.uptimeNanos
            return [.perform(.publishTyping(room), id: id)]
        case .register(let password): return [.perform(.register(password), id: id)]
        case .changePassword(let old, let new): return [.perform(.changePassword(old: old, new: new), id: id)]
        case .unregister(let password): return [.perform(.unregister(password), id: id)]
        case .hello, .password, .authenticate, .help, .ping, .pong, .quit: return []
        }
    }

    /// A name change. Guests change freely to a name nobody holds or registered; a registered name keeps its own
    /// (its account is the name), but may change its case. Refused while a join is under way (its membership
    /// would be written under the old name), and past `renamesPerMinute` tries, as IRC servers slow nick floods:
    /// every try is a claim (a refused one too) and a notice in each of the person's rooms, so it also costs a token
    /// per 10 rooms.
    private mutating func rename(
        to raw: String, id: RequestID?, now: SessionClock, session: inout ActiveSession
    )
        throws(ChatError) -> [SessionAction]
    {
        let name = try UserName(validating: raw)
        guard name.display != session.user.display else {
            return [.send(.ok("\(name.display) is your name already"), id: id)]
        }
        guard name.key == session.user.key || !session.grant.isRegistered else {
            throw ChatError(
                .badRequest,
                "a registered name keeps its name (its account is the name); log in as \(name.display) to be it")
        }
        guard session.joining == nil, session.restoreQueue.isEmpty else {
            throw ChatError(.badRequest, "wait for your joins to finish before changing your name")
        }
        let minuteAgo = now.uptimeNanos >= 60_000_000_000 ? now.uptimeNanos - 60_000_000_000 : 0
        session.renames.removeAll { $0 < minuteAgo || $0 > now.uptimeNanos }
        guard session.renames.count < Self.renamesPerMinute else {
            throw ChatError(.rateLimited, "at most \(Self.renamesPerMinute) name changes a minute")
        }
        session.renames.append(now.uptimeNanos)
        if session.rooms.count >= 10 { bucket.charge(Double(session.rooms.count / 10), nowNanos: now.uptimeNanos) }
        session.renaming = name
        return [.perform(.rename(from: session.user, to: name, rooms: session.rooms), id: id)]
    }

    /// Name changes one session may try in a minute.
    public static let renamesPerMinute = 3

    // MARK: Name

    private mutating func hello(
        _ raw: String, rooms: [RoomResume]?, login: Login, id: RequestID?, now: SessionClock
    ) -> [SessionAction] {
        switch state {
        case .unnamed, .awaitingPassword: break  // a JSON client answers password-required with a new hello
        default: return reply(ChatError(.badRequest, "you are already \(userName?.display ?? "naming yourself")"), id)
        }
        let name: UserName
        do { name = try UserName(validating: raw) } catch { return [.send(.error(error), id: id)] }
        let (restore, refusals) = Self.validated(rooms, limit: settings.limits.maximumRoomsPerSession)
        // Each room rejoined is a join's work: the rate limit's tokens for the rooms past the first are owed, and
        // paid by waiting before the next requests.
        if restore.count > 1 { bucket.charge(Double(restore.count - 1), nowNanos: now.uptimeNanos) }
        let naming = Naming(
            name: name, requestID: id, restore: restore, refusals: refusals, listedRooms: rooms != nil, login: login)
        return claim(naming, id: id)
    }

    /// Text mode's password line, after `password-required`.
    private mutating func passwordGiven(_ password: Password, id: RequestID?) -> [SessionAction] {
        guard case .awaitingPassword(var naming) = state else {
            return reply(ChatError(.badRequest, "no password was asked for"), id)
        }
        naming.login.password = password
        return claim(naming, id: id)
    }

    mutating func claim(_ naming: Naming, id: RequestID?) -> [SessionAction] {
        state = .naming(naming)
        return [.perform(.claim(naming.name, login: naming.login, keeping: naming.restore.map(\.room)), id: id)]
    }

    /// The rooms of a `hello`: those it may join, in order, and why the others will not be joined. A bad entry
    /// (another node's limits, an old client) costs only that room, not the whole resume.
    static func validated(_ rooms: [RoomResume]?, limit: Int) -> ([RoomRestore], [ChatError]) {
        guard let rooms else { return ([RoomRestore(room: .lobby, since: nil)], []) }
        var restore: [RoomRestore] = []
        var refusals: [ChatError] = []
        for entry in rooms {
            do {
                let room = try RoomName(validating: entry.room)
                let since = try entry.since.map(messageID)
                // Listed twice: the later entry wins its place, as two /joins would leave it current.
                restore.removeAll { $0.room == room }
                restore.append(RoomRestore(room: room, since: since))
            } catch {
                refusals.append(ChatError(error.code, "not rejoining '\(entry.room)': \(error.message)"))
            }
        }
        if restore.count > limit {
            let dropped = restore.dropLast(limit).map { "#\($0.room)" }
            refusals.append(
                ChatError(
                    .tooManyRooms, "at most \(limit) rooms at once; not rejoining \(dropped.joined(separator: ", "))"))
            restore = Array(restore.suffix(limit))
        }
        return (restore, refusals)
    }

    // MARK: Rooms

    /// The room a request names, or the current one.
    func resolve(_ raw: String?, session: ActiveSession) throws(ChatError) -> RoomName {
        guard let raw else {
            guard let current = session.current else {
                throw ChatError(.notInRoom, "you are in no room; /join one first")
            }
            return current
        }
        // A room named as it is kept (what clients send with every message) needs no validation again: that is a
        // Unicode analysis, per message.
        if let joined = session.rooms.first(where: { $0.value == raw }) { return joined }
        return try RoomName(validating: raw)
    }

    /// The room a request names, which the session must be in.
    func member(_ raw: String?, session: ActiveSession, why: String) throws(ChatError) -> RoomName {
        let room = try resolve(raw, session: session)
        guard session.rooms.contains(room) else { throw ChatError(.notInRoom, "you are not in #\(room); \(why)") }
        return room
    }

    private func join(
        _ raw: String, since rawSince: String?, key: String?, id: RequestID?, session: inout ActiveSession
    )
        throws(ChatError) -> [SessionAction]
    {
        let room = try resolve(raw, session: session)
        let since = try rawSince.map(Self.messageID)
        if session.rooms.contains(room) {
            session.current = room
            guard since != nil else { return [.send(.ok("#\(room) is now your current room"), id: id)] }
        } else {
            let limit = settings.limits.maximumRoomsPerSession
            guard session.rooms.count < limit else {
                throw ChatError(.tooManyRooms, "at most \(limit) rooms at once; /leave one first")
            }
        }
        return startJoin(RoomRestore(room: room, since: since, key: key), id: id, session: &session)
    }

    // MARK: Helpers

    /// Who may edit and delete what the session says (`SessionGrant.author`); nil for a session the node gave none.
    static func author(of session: ActiveSession) -> String? {
        session.grant.author.isEmpty ? nil : session.grant.author
    }

    private func checkLength(_ text: String) throws(ChatError) {
        let limit = settings.limits.maximumMessageBytes
        guard text.utf8.count <= limit else {
            throw ChatError(.messageTooLong, "messages are limited to \(limit) bytes")
        }
    }

    func reply(_ error: ChatError, _ id: RequestID?) -> [SessionAction] {
        [.send(.error(error), id: id)]
    }

    static func messageID(_ raw: String) throws(ChatError) -> StreamID {
        guard let id = StreamID(raw) else {
            throw ChatError(.badRequest, "'\(raw)' is not a message id (they look like 1795250096010-0)")
        }
        return id
    }
}

extension SessionAction {
    var holdsInput: Bool {
        if case .perform(let operation, _) = self { return operation.holdsInput }
        return false
    }
}
