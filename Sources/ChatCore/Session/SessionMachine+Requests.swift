/// The requests, one method each: each checks what it can without the store and returns the reply, or the store
/// operation whose result (in `SessionMachine+Store.swift`) makes the reply.
extension SessionMachine {
    /// One request as its protocol mode parsed it. Rate-limited before anything else, so a flood of bad lines
    /// costs as little as a flood of good ones; a parse error is still answered with the request's id.
    public mutating func receive(
        _ parsed: Result<ClientRequest, ChatError>, id: RequestID?, now: SessionClock
    ) -> [SessionAction] {
        guard !isClosing else { return [] }
        guard bucket.tryTake(nowNanos: now.uptimeNanos) else {
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

    private mutating func handle(_ request: ClientRequest, id: RequestID?, now: SessionClock) -> [SessionAction] {
        switch request {
        case .help: return [.send(.help, id: id)]
        case .ping: return [.send(.pong, id: id)]
        case .quit: return [.send(.bye("see you"), id: id)] + close(.quit)
        case .hello(let name, let rooms): return hello(name, rooms: rooms, id: id)
        default: break
        }
        guard var session = active else {
            return reply(ChatError(.badRequest, "pick a name first"), id)
        }
        // Idle time is about the person: polls a client makes by itself (who, rooms...) and typing do not count.
        switch request {
        case .say, .join, .leave, .direct, .away, .back: session.lastActive = now.wall
        default: break
        }
        defer { state = .active(session) }
        switch request {
        case .say(let room, let text, let isAction):
            return say(text, in: room, isAction: isAction, id: id, session: &session)
        case .join(let room, let since): return join(room, since: since, id: id, session: &session)
        case .leave(let room): return leave(room, id: id, session: &session)
        case .rooms: return [.perform(.listRooms, id: id)]
        case .who(let raw):
            switch resolve(raw, session: session) {
            case .success(let room): return [.perform(.who(room), id: id)]
            case .failure(let error): return [.send(.error(error), id: id)]
            }
        case .direct(let to, let text): return direct(text, to: to, id: id, session: session)
        case .away(let text):
            session.away = text ?? "away"
            return [.perform(.setPresence(away: session.away), id: id)]
        case .back:
            session.away = nil
            return [.perform(.setPresence(away: nil), id: id)]
        case .history(let raw, let limit, let before):
            return history(raw, limit: limit, before: before, id: id, session: session)
        case .seen(let raw):
            guard let name = try? UserName(validating: raw) else {
                return [.send(.seen(.never(name: raw), now: now.wall), id: id)]
            }
            return [.perform(.seen(name), id: id)]
        case .typing(let raw): return typing(in: raw, id: id, now: now, session: &session)
        case .hello, .help, .ping, .quit: return []
        }
    }

    // MARK: Name

    private mutating func hello(_ raw: String, rooms: [RoomResume]?, id: RequestID?) -> [SessionAction] {
        guard case .unnamed = state else {
            return reply(ChatError(.badRequest, "you are already \(userName?.display ?? "naming yourself")"), id)
        }
        let name: UserName
        let restore: [RoomRestore]
        do {
            name = try UserName(validating: raw)
            restore = try Self.validated(rooms, limit: settings.limits.maximumRoomsPerSession)
        } catch {
            return [.send(.error(error), id: id)]
        }
        state = .naming(Naming(name: name, requestID: id, restore: restore, listedRooms: rooms != nil))
        return [.perform(.claim(name), id: id)]
    }

    /// The rooms of a `hello`, all valid or the whole `hello` refused: a client resuming with a bad list learns it
    /// before it has a name, rather than finding itself in some of its rooms.
    static func validated(_ rooms: [RoomResume]?, limit: Int) throws(ChatError) -> [RoomRestore] {
        guard let rooms else { return [RoomRestore(room: .lobby, since: nil)] }
        var restore: [RoomRestore] = []
        for entry in rooms {
            let room = try RoomName(validating: entry.room)
            var since: StreamID?
            if let raw = entry.since {
                guard let id = StreamID(raw) else { throw notMessageID(raw) }
                since = id
            }
            // Listed twice: the later entry wins its place, as two /joins would leave it current.
            restore.removeAll { $0.room == room }
            restore.append(RoomRestore(room: room, since: since))
        }
        guard restore.count <= limit else {
            throw ChatError(.tooManyRooms, "at most \(limit) rooms at once; hello listed \(restore.count)")
        }
        return restore
    }

    // MARK: Rooms

    /// The room a request names, or the current one.
    private func resolve(_ raw: String?, session: ActiveSession) -> Result<RoomName, ChatError> {
        guard let raw else {
            guard let current = session.current else {
                return .failure(ChatError(.notInRoom, "you are in no room; /join one first"))
            }
            return .success(current)
        }
        do { return .success(try RoomName(validating: raw)) } catch { return .failure(error) }
    }

    /// The room a request names, which the session must be in.
    private func member(_ raw: String?, session: ActiveSession, why: String) -> Result<RoomName, ChatError> {
        resolve(raw, session: session).flatMap { room in
            session.rooms.contains(room) ? .success(room) : .failure(ChatError(.notInRoom, "you are not in #\(room); \(why)"))
        }
    }

    private func say(_ text: String, in raw: String?, isAction: Bool, id: RequestID?, session: inout ActiveSession) -> [SessionAction] {
        let room: RoomName
        switch member(raw, session: session, why: "/join it first") {
        case .success(let value): room = value
        case .failure(let error): return [.send(.error(error), id: id)]
        }
        if let tooLong = checkLength(text) { return [.send(.error(tooLong), id: id)] }
        let message = OutgoingMessage(
            room: room, from: session.user.display, text: text, isAction: isAction, time: session.lastActive)
        return [.perform(.publish(message), id: id)]
    }

    private mutating func join(_ raw: String, since rawSince: String?, id: RequestID?, session: inout ActiveSession)
        -> [SessionAction]
    {
        let room: RoomName
        switch resolve(raw, session: session) {
        case .success(let value): room = value
        case .failure(let error): return [.send(.error(error), id: id)]
        }
        var since: StreamID?
        if let rawSince {
            guard let value = StreamID(rawSince) else { return [.send(.error(Self.notMessageID(rawSince)), id: id)] }
            since = value
        }
        if session.rooms.contains(room) {
            session.current = room
            guard since != nil else { return [.send(.ok("#\(room) is now your current room"), id: id)] }
        } else {
            let limit = settings.limits.maximumRoomsPerSession
            guard session.rooms.count < limit else {
                return reply(ChatError(.tooManyRooms, "at most \(limit) rooms at once; /leave one first"), id)
            }
        }
        return startJoin(RoomRestore(room: room, since: since), id: id, session: &session)
    }

    private func leave(_ raw: String?, id: RequestID?, session: inout ActiveSession) -> [SessionAction] {
        let room: RoomName
        switch resolve(raw, session: session) {
        case .success(let value): room = value
        case .failure(let error): return [.send(.error(error), id: id)]
        }
        guard let index = session.rooms.firstIndex(of: room) else {
            return reply(ChatError(.notInRoom, "you are not in #\(room)"), id)
        }
        session.rooms.remove(at: index)
        if session.current == room { session.current = session.rooms.last }
        return [.stopListening(room), .perform(.recordLeave(room), id: id)]
    }

    private func history(_ raw: String?, limit: Int?, before: String?, id: RequestID?, session: ActiveSession)
        -> [SessionAction]
    {
        let room: RoomName
        switch member(raw, session: session, why: "/join it to read its history") {
        case .success(let value): room = value
        case .failure(let error): return [.send(.error(error), id: id)]
        }
        var beforeID: StreamID?
        if let before {
            guard let value = StreamID(before) else { return [.send(.error(Self.notMessageID(before)), id: id)] }
            beforeID = value
        }
        let count = min(limit ?? settings.limits.historyOnJoin, settings.limits.maximumHistory)
        return [.perform(.history(room, count: count, before: beforeID), id: id)]
    }

    // MARK: People

    private func direct(_ text: String, to raw: String, id: RequestID?, session: ActiveSession) -> [SessionAction] {
        guard let target = try? UserName(validating: raw) else {
            return reply(ChatError(.noSuchUser, "nobody called '\(raw)' is connected"), id)
        }
        if let tooLong = checkLength(text) { return [.send(.error(tooLong), id: id)] }
        let message = DirectMessage(from: session.user.display, to: target.display, text: text, time: session.lastActive)
        return [.perform(.sendDirect(message, to: target), id: id)]
    }

    /// Relays "typing" at most once per interval per room: clients send it on keystrokes and the extra ones are
    /// dropped here, silently, so a chatty client costs the cluster nothing more. No reply.
    private func typing(in raw: String?, id: RequestID?, now: SessionClock, session: inout ActiveSession)
        -> [SessionAction]
    {
        let room: RoomName
        switch member(raw, session: session, why: "/join it first") {
        case .success(let value): room = value
        case .failure(let error): return [.send(.error(error), id: id)]
        }
        if let last = session.lastTyping[room], now.uptimeNanos &- last < settings.typingIntervalNanos { return [] }
        session.lastTyping[room] = now.uptimeNanos
        return [.perform(.publishTyping(room), id: id)]
    }

    // MARK: Helpers

    private func checkLength(_ text: String) -> ChatError? {
        let limit = settings.limits.maximumMessageBytes
        return text.utf8.count <= limit ? nil : ChatError(.messageTooLong, "messages are limited to \(limit) bytes")
    }

    func reply(_ error: ChatError, _ id: RequestID?) -> [SessionAction] {
        [.send(.error(error), id: id)]
    }

    static func notMessageID(_ raw: String) -> ChatError {
        ChatError(.badRequest, "'\(raw)' is not a message id (they look like 1795250096010-0)")
    }
}

extension SessionAction {
    var holdsInput: Bool {
        if case .perform(let operation, _) = self { return operation.holdsInput }
        return false
    }
}
