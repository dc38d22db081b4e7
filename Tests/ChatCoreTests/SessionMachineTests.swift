import ChatCore
import Testing

/// The session's rules with no socket, no Redis and no clock: each test feeds the machine what the node would
/// (requests, store results, relayed events) and checks what it asks for.
@Suite("Session state machine")
struct SessionMachineTests {
    static let alice = try! UserName(validating: "Alice")
    static let bob = try! UserName(validating: "bob")
    static let dev = RoomName(trusted: "dev")
    let lobby = RoomName.lobby
    let alice = Self.alice
    let dev = Self.dev

    static func id(_ text: String) -> StreamID { StreamID(text)! }
    static func at(_ millis: Millis) -> SessionClock {
        SessionClock(wall: millis, uptimeNanos: UInt64(millis) * 1_000_000)
    }
    let now = Self.at(1_000)

    func machine(rate: Double = 10, burst: Double = 20, limits: ProtocolLimits = ProtocolLimits()) -> SessionMachine {
        SessionMachine(
            settings: .init(limits: limits, rateLimit: rate, rateBurst: burst, nodeID: "n1"), sessionID: "inc/1",
            now: Self.at(0))
    }

    func request(
        _ machine: inout SessionMachine, _ request: ClientRequest, id: String? = nil, at clock: SessionClock? = nil
    )
        -> [SessionAction]
    {
        machine.receive(.success(request), id: id.map { RequestID(json: "\"\($0)\"") }, now: clock ?? now)
    }

    func complete(
        _ machine: inout SessionMachine, _ operation: StoreOperation, _ reply: StoreReply, id: String? = nil
    )
        -> [SessionAction]
    {
        machine.completed(operation, id: id.map { RequestID(json: "\"\($0)\"") }, .success(reply), now: now)
    }

    func errorCodes(_ actions: [SessionAction]) -> [ChatError.Code] {
        actions.compactMap { if case .send(.error(let error), _) = $0 { error.code } else { nil } }
    }

    /// Alice named and in the lobby, the way a fresh `hello` goes.
    func named(limits: ProtocolLimits = ProtocolLimits()) -> SessionMachine {
        var session = machine(limits: limits)
        _ = request(&session, .hello(name: "Alice"))
        _ = complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1")))
        _ = complete(&session, .listenToUser(alice), .done)
        _ = complete(&session, .subscribe(lobby), .done)
        _ = complete(&session, .recordJoin(lobby), .done)
        _ = complete(
            &session, .readHistory(lobby, after: nil, count: 21),
            .joinRead([], maxDeleted: nil, keptFrom: nil, topic: nil))
        return session
    }

    func message(_ id: String, _ room: RoomName, _ text: String, from: String = "bob") -> ChatMessage {
        ChatMessage(id: Self.id(id), room: room, from: from, text: text, isAction: false, time: 5)
    }

    // MARK: Naming

    @Test("hello claims the name, listens for direct messages, welcomes, and joins the lobby, one step at a time")
    func naming() {
        var session = machine()
        #expect(
            request(&session, .hello(name: "Alice"), id: "h") == [
                .perform(.claim(alice, keeping: [lobby]), id: RequestID(json: "\"h\""))
            ])
        #expect(session.isWaiting, "the next request waits for the claim")
        let claimed = complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1")), id: "h")
        #expect(claimed == [.started(alice, at: 1_000), .perform(.listenToUser(alice), id: RequestID(json: "\"h\""))])
        let listening = complete(&session, .listenToUser(alice), .done, id: "h")
        #expect(
            listening == [
                .send(
                    .welcome(name: "Alice", room: lobby, node: "n1", time: 1_000, resume: "r-t1"),
                    id: RequestID(json: "\"h\"")),
                .send(.motd(nil, atLogin: true), id: RequestID(json: "\"h\"")),
                .perform(.subscribe(lobby), id: nil),
            ])
        #expect(complete(&session, .subscribe(lobby), .done) == [.perform(.recordJoin(lobby), id: nil)])
        #expect(
            complete(&session, .recordJoin(lobby), .done) == [
                .perform(.readHistory(lobby, after: nil, count: 21), id: nil)
            ])
        let history = [message("5-0", lobby, "earlier")]
        #expect(
            complete(
                &session, .readHistory(lobby, after: nil, count: 21),
                .joinRead(history, maxDeleted: nil, keptFrom: nil, topic: nil)) == [
                    .send(.youJoined(room: lobby, history: history), id: nil),
                    // Where the room is read up to: nothing yet (IRC clients are told `*`, JSON nothing).
                    .send(.readMarker(ReadMarker.afterJoining(lobby, id: nil)), id: nil),
                    .replayHeld(lobby, after: Self.id("5-0")),
                ])
        #expect(!session.isWaiting)
        #expect(session.active?.rooms == [lobby] && session.active?.current == lobby)
    }

    @Test("a taken or invalid name is refused and another can be tried on the same connection")
    func nameRetry() {
        var session = machine()
        #expect(errorCodes(request(&session, .hello(name: "no spaces"))) == [.nameInvalid])
        _ = request(&session, .hello(name: "Alice"))
        #expect(errorCodes(complete(&session, .claim(alice), .claimed(.held(by: nil)))) == [.nameTaken])
        #expect(!session.isWaiting)
        #expect(request(&session, .hello(name: "bob")) == [.perform(.claim(Self.bob, keeping: [lobby]), id: nil)])
        _ = complete(&session, .claim(Self.bob), .claimed(.granted(token: "t2", resume: "r-t2")))
        #expect(session.active?.user == Self.bob)
        #expect(errorCodes(request(&session, .hello(name: "carol"))) == [.badRequest], "one name per session")
    }

    @Test("everything but help, ping and quit needs a name first")
    func nameFirst() {
        var session = machine()
        #expect(errorCodes(request(&session, .say(room: nil, text: "hi", isAction: false))) == [.badRequest])
        #expect(request(&session, .ping, id: "p") == [.send(.pong, id: RequestID(json: "\"p\""))])
    }

    @Test("a claim won after the client left is given straight back")
    func claimAfterClose() {
        var session = machine()
        _ = request(&session, .hello(name: "Alice"))
        #expect(session.connectionClosed().isEmpty)
        #expect(
            complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1"))) == [
                .end(EndedSession(user: alice, token: "t1", reason: .disconnected, since: 1_000, rooms: []))
            ])
    }

    // MARK: Resume in hello

    @Test("hello with rooms joins exactly those, replaying after each since, the last listed current; no lobby")
    func resume() {
        var session = machine()
        let rooms = [RoomResume(room: "dev", since: "7-0"), RoomResume(room: "ops")]
        _ = request(&session, .hello(name: "Alice", rooms: rooms))
        _ = complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1")))
        let ops = RoomName(trusted: "ops")
        let welcome = complete(&session, .listenToUser(alice), .done)
        #expect(
            welcome == [
                .send(.welcome(name: "Alice", room: ops, node: "n1", time: 1_000, resume: "r-t1"), id: nil),
                .send(.motd(nil, atLogin: true), id: nil),
                .perform(.subscribe(dev), id: nil),
            ])
        _ = complete(&session, .subscribe(dev), .done)
        #expect(
            complete(&session, .recordJoin(dev), .done) == [
                .perform(.readHistory(dev, after: Self.id("7-0"), count: 201), id: nil)
            ])
        // Live events of dev are held while its history is read, then replayed minus what the history had.
        let live = RelayEnvelope(event: .message(message("9-0", dev, "live")), origin: "inc/2")
        #expect(session.relay.route(live) == .hold)
        let ownJoin = RelayEnvelope(event: .joined(room: dev, name: "Alice", time: 1), origin: "inc/1")
        #expect(session.relay.route(ownJoin) == .skip, "one's own join notice is never shown, even while held")
        let missed = [message("8-0", dev, "missed"), message("9-0", dev, "live")]
        let answered = complete(
            &session, .readHistory(dev, after: Self.id("7-0"), count: 201),
            .joinRead(missed, maxDeleted: nil, keptFrom: nil, topic: nil))
        #expect(
            answered == [
                .send(.youJoined(room: dev, history: missed), id: nil),
                .send(.readMarker(ReadMarker.afterJoining(dev, id: nil)), id: nil),
                .replayHeld(dev, after: Self.id("9-0")),
                .perform(.subscribe(ops), id: nil),
            ])
        #expect(session.relay.route(live) == .deliver)
        _ = complete(&session, .subscribe(ops), .done)
        _ = complete(&session, .recordJoin(ops), .done)
        _ = complete(
            &session, .readHistory(ops, after: nil, count: 21),
            .joinRead([], maxDeleted: nil, keptFrom: nil, topic: nil))
        #expect(session.active?.rooms == [dev, ops] && session.active?.current == ops)
        #expect(!session.isWaiting)
    }

    @Test("hello with no rooms joins none; bad entries cost only their room, each told why after the welcome")
    func resumeEdges() {
        var session = machine()
        _ = request(&session, .hello(name: "Alice", rooms: []))
        _ = complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1")))
        #expect(
            complete(&session, .listenToUser(alice), .done) == [
                .send(.welcome(name: "Alice", room: nil, node: "n1", time: 1_000, resume: "r-t1"), id: nil),
                .send(.motd(nil, atLogin: true), id: nil),
            ])
        #expect(!session.isWaiting)

        var limits = ProtocolLimits()
        limits.maximumRoomsPerSession = 2
        var partial = machine(limits: limits)
        let listed = [
            RoomResume(room: "bad room"), RoomResume(room: "dev", since: "yesterday"), RoomResume(room: "a"),
            RoomResume(room: "b"), RoomResume(room: "c"),
        ]
        _ = request(&partial, .hello(name: "Alice", rooms: listed))
        _ = complete(&partial, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1")))
        let welcome = complete(&partial, .listenToUser(alice), .done)
        #expect(
            welcome.first
                == .send(
                    .welcome(name: "Alice", room: RoomName(trusted: "c"), node: "n1", time: 1_000, resume: "r-t1"),
                    id: nil))
        #expect(errorCodes(welcome) == [.roomInvalid, .badRequest, .tooManyRooms])
        #expect(welcome.last == .perform(.subscribe(RoomName(trusted: "b")), id: nil), "the last rooms listed are kept")
    }

    @Test("a hello that rejoins many rooms pays for each: the next requests wait")
    func resumeIsCharged() {
        var session = machine(rate: 10, burst: 5)
        let rooms = (1...5).map { RoomResume(room: "r\($0)") }
        _ = session.receive(.success(.hello(name: "Alice", rooms: rooms)), id: nil, now: Self.at(0))
        _ = session.completed(.claim(alice), id: nil, .failure(Down()), now: Self.at(0))
        #expect(errorCodes(session.receive(.success(.ping), id: nil, now: Self.at(0))) == [.rateLimited])
        #expect(session.receive(.success(.ping), id: nil, now: Self.at(200)) == [.send(.pong, id: nil)])
    }

    // MARK: Rooms

    @Test("join, current room, leave; messages only where one is a member")
    func rooms() {
        var session = named()
        #expect(
            request(&session, .join(room: "#Dev", since: nil), id: "j") == [
                .perform(.subscribe(dev), id: RequestID(json: "\"j\""))
            ])
        _ = complete(&session, .subscribe(dev), .done)
        _ = complete(&session, .recordJoin(dev), .done)
        _ = complete(
            &session, .readHistory(dev, after: nil, count: 21),
            .joinRead([], maxDeleted: nil, keptFrom: nil, topic: nil))
        #expect(session.active?.current == dev)
        #expect(
            request(&session, .join(room: "lobby", since: nil)) == [
                .send(.ok("#lobby is now your current room"), id: nil)
            ])
        #expect(session.active?.current == lobby)

        let say = request(&session, .say(room: nil, text: "hi", isAction: false), at: Self.at(2_000))
        let outgoing = OutgoingMessage(room: lobby, from: "Alice", text: "hi", isAction: false, time: 2_000)
        #expect(say == [.perform(.publish(outgoing), id: nil)], "no author: the node gave this session none")
        #expect(!session.isWaiting, "a message does not hold the next line")
        #expect(
            complete(&session, .publish(outgoing), .published(Self.id("2000-0"), confirmed: true)) == [
                .send(.sent(outgoing.stored(as: Self.id("2000-0"))), id: nil)
            ])
        // Stored, but its replicas did not confirm it (--ack-replicas): acknowledged all the same, then warned.
        let unconfirmed = complete(&session, .publish(outgoing), .published(Self.id("2001-0"), confirmed: false))
        #expect(unconfirmed.first == .send(.sent(outgoing.stored(as: Self.id("2001-0"))), id: nil))
        #expect(errorCodes(unconfirmed) == [.unconfirmed])
        #expect(errorCodes(request(&session, .say(room: "ops", text: "hi", isAction: false))) == [.notInRoom])

        #expect(
            request(&session, .leave(room: "lobby")) == [.stopListening(lobby), .perform(.recordLeave(lobby), id: nil)])
        #expect(complete(&session, .recordLeave(lobby), .done) == [.send(.youLeft(room: lobby), id: nil)])
        #expect(session.active?.current == dev, "the last joined room becomes current")
        #expect(errorCodes(request(&session, .leave(room: "lobby"))) == [.notInRoom])
        _ = request(&session, .leave(room: nil))
        #expect(errorCodes(request(&session, .say(room: nil, text: "hi", isAction: false))) == [.notInRoom])
    }

    @Test("a join with since of a room one is in replays after it without joining again")
    func catchUp() {
        var session = named()
        #expect(
            request(&session, .join(room: "lobby", since: "3-0")) == [
                .perform(.readHistory(lobby, after: Self.id("3-0"), count: 201), id: nil)
            ])
        #expect(session.relay.route(RelayEnvelope(event: .joined(room: lobby, name: "bob", time: 1))) == .hold)
        let failed = session.completed(
            .readHistory(lobby, after: Self.id("3-0"), count: 201), id: nil, .failure(Down()), now: now)
        #expect(failed == [.replayHeld(lobby, after: nil), .send(.error(SessionMachine.storeError(Down())), id: nil)])
        #expect(session.active?.rooms == [lobby], "still in the room")
    }

    @Test("a join that fails after its membership was written undoes it and says why")
    func joinFailure() {
        var session = named()
        _ = request(&session, .join(room: "dev", since: nil))
        _ = complete(&session, .subscribe(dev), .done)
        _ = complete(&session, .recordJoin(dev), .done)
        let failed = session.completed(.readHistory(dev, after: nil, count: 21), id: nil, .failure(Down()), now: now)
        #expect(
            failed == [
                .stopListening(dev), .perform(.rollbackJoin(dev), id: nil),
                .send(.error(SessionMachine.storeError(Down())), id: nil),
            ])
        #expect(errorCodes(failed) == [.redisUnavailable])
        #expect(session.active?.rooms == [lobby] && !session.isWaiting)
    }

    @Test("at most the room limit; an invalid room or message id is refused")
    func roomLimits() {
        var limits = ProtocolLimits()
        limits.maximumRoomsPerSession = 1
        var session = named(limits: limits)
        #expect(errorCodes(request(&session, .join(room: "dev", since: nil))) == [.tooManyRooms])
        #expect(errorCodes(request(&session, .join(room: "no spaces", since: nil))) == [.roomInvalid])
        #expect(errorCodes(request(&session, .join(room: "lobby", since: "yesterday"))) == [.badRequest])
        #expect(errorCodes(request(&session, .history(room: nil, limit: 5, before: "x"))) == [.badRequest])
        let long = String(repeating: "x", count: 2049)
        #expect(errorCodes(request(&session, .say(room: nil, text: long, isAction: false))) == [.messageTooLong])
    }

    // MARK: People and flow

    @Test("rate limit: a burst, then refusals with the request's id, recovering as time passes")
    func rateLimit() {
        var session = machine(rate: 1, burst: 2)
        let start = Self.at(0)
        #expect(session.receive(.success(.ping), id: nil, now: start) == [.send(.pong, id: nil)])
        _ = session.receive(.success(.ping), id: nil, now: start)
        let refused = session.receive(.failure(ChatError(.badRequest, "x")), id: RequestID(json: "7"), now: start)
        #expect(refused.count == 1 && errorCodes(refused) == [.rateLimited])
        if case .send(_, let id) = refused.first { #expect(id == RequestID(json: "7")) }
        #expect(session.receive(.success(.ping), id: nil, now: Self.at(1_000)) == [.send(.pong, id: nil)])
    }

    @Test("away and back tell the rooms; direct messages to nobody are refused; typing is relayed once per interval")
    func people() {
        var session = named()
        #expect(request(&session, .away("lunch")) == [.perform(.setPresence(away: "lunch"), id: nil)])
        #expect(
            complete(&session, .setPresence(away: "lunch"), .done) == [
                .send(.ok("you are marked away: lunch"), id: nil)
            ])
        #expect(session.active?.away == "lunch")
        _ = request(&session, .back)
        #expect(session.active?.away == nil)

        let dm = DirectMessage(from: "Alice", to: "bob", text: "psst", time: 1_000)
        #expect(
            request(&session, .direct(to: "bob", text: "psst")) == [.perform(.sendDirect(dm, to: Self.bob), id: nil)])
        #expect(errorCodes(complete(&session, .sendDirect(dm, to: Self.bob), .delivered(false))) == [.noSuchUser])

        #expect(
            request(&session, .typing(room: nil), at: Self.at(10_000)) == [.perform(.publishTyping(lobby), id: nil)])
        #expect(request(&session, .typing(room: nil), at: Self.at(11_000)).isEmpty, "within 2 s: dropped")
        #expect(
            request(&session, .typing(room: nil), at: Self.at(12_001)) == [.perform(.publishTyping(lobby), id: nil)])
    }

    @Test("relayed events: own ones skipped, others delivered, nothing before a name")
    func relay() {
        var unnamed = machine()
        let other = RelayEnvelope(event: .message(message("1-0", lobby, "hi")), origin: "inc/2")
        #expect(unnamed.relay.route(other) == .skip)
        _ = unnamed.close(.quit)
        var session = named()
        #expect(session.relay.route(other) == .deliver)
        #expect(
            session.relay.route(
                RelayEnvelope(event: .message(message("2-0", lobby, "mine", from: "Alice")), origin: "inc/1"))
                == .skip)
        _ = session.shutdown()
        #expect(session.relay.route(other) == .skip, "a closing session gets nothing more")
    }

    // MARK: Liveness

    @Test("no name by the registration timeout: told and closed; a claim in flight is waited for")
    func registrationTimeout() {
        var silent = machine()
        #expect(silent.tick(now: Self.at(29_000)).isEmpty)
        let closed = silent.tick(now: Self.at(30_000))
        #expect(errorCodes(closed) == [.registrationTimeout] && closed.last == .close(.disconnected))
        var claiming = machine()
        _ = request(&claiming, .hello(name: "Alice"))
        #expect(claiming.tick(now: Self.at(31_000)).isEmpty)
        var text = named()
        #expect(text.tick(now: Self.at(60_000)).isEmpty, "a named text session is never pinged")
    }

    @Test("a client that answers pings is pinged after a silence and closed when it stays silent; any line answers")
    func pings() {
        var session = named()
        session.answersPings = true
        session.heard(now: Self.at(1_000))
        #expect(session.tick(now: Self.at(30_000)).isEmpty)
        #expect(session.tick(now: Self.at(31_000)) == [.send(.ping, id: nil)])
        #expect(session.tick(now: Self.at(45_000)).isEmpty, "one ping, then a wait")
        session.heard(now: Self.at(50_000))
        #expect(session.tick(now: Self.at(62_000)).isEmpty, "answered: the wait is over")
        #expect(session.tick(now: Self.at(80_000)) == [.send(.ping, id: nil)])
        #expect(session.tick(now: Self.at(110_000)) == [.close(.pingTimeout)])
        #expect(
            session.connectionClosed().first
                == .end(
                    EndedSession(
                        user: alice, token: "t1", reason: .pingTimeout, since: 1_000, rooms: [lobby], holdsName: true)))
    }

    // MARK: Name changes

    @Test(
        "a name change: the same name is nothing; a guest's is one store step with its rooms; a registered name changes only its case; three tries a minute; a store failure midway ends the session, releasing both names"
    )
    func renames() throws {
        var session = named()
        #expect(
            request(&session, .nick(name: "Alice")) == [.send(.ok("Alice is your name already"), id: nil)],
            "the same name: nothing to do")
        let alicia = try UserName(validating: "alicia")
        #expect(
            request(&session, .nick(name: "alicia")) == [
                .perform(.rename(from: alice, to: alicia, rooms: [lobby]), id: nil)
            ])
        #expect(
            complete(&session, .rename(from: alice, to: alicia, rooms: [lobby]), .done)
                == [.send(.renamed(room: nil, from: "Alice", to: "alicia", time: now.wall), id: nil)])
        #expect(session.userName == alicia, "the session goes by the new name")
        #expect(errorCodes(request(&session, .nick(name: "no/slash"))) == [.nameInvalid])
        _ = request(&session, .nick(name: "ally"))
        _ = complete(&session, .rename(from: alicia, to: try UserName(validating: "ally"), rooms: [lobby]), .done)
        _ = request(&session, .nick(name: "al"))
        _ = complete(
            &session,
            .rename(from: try UserName(validating: "ally"), to: try UserName(validating: "al"), rooms: [lobby]), .done)
        #expect(errorCodes(request(&session, .nick(name: "alf"))) == [.rateLimited], "a fourth try in the minute")

        var failing = named()
        let bea = try UserName(validating: "bea")
        _ = request(&failing, .nick(name: "bea"))
        #expect(failing.kicked(from: lobby, name: "bea") == [.stopListening(lobby)], "a kick of the new name lands")
        struct StoreGone: Error {}
        let broken = failing.completed(
            .rename(from: alice, to: bea, rooms: [lobby]), id: nil, .failure(StoreGone()), now: now)
        #expect(errorCodes(broken) == [.redisUnavailable] && broken.last == .close(.nameLost))
        guard case .end(let ended)? = failing.connectionClosed().first else {
            Issue.record("no end")
            return
        }
        #expect(ended.renaming == bea && !ended.holdsName, "both names released at once")

        var registered = machine()
        _ = request(&registered, .hello(name: "Alice"))
        _ = complete(
            &registered, .claim(alice),
            .claimed(.granted(token: "t1", resume: "r-t1", grant: SessionGrant(isRegistered: true))))
        _ = complete(&registered, .listenToUser(alice), .done)
        #expect(
            errorCodes(request(&registered, .nick(name: "alice"))) == [.badRequest], "not while its lobby join is on")
        _ = complete(&registered, .subscribe(lobby), .done)
        _ = complete(&registered, .recordJoin(lobby), .done)
        _ = complete(
            &registered, .readHistory(lobby, after: nil, count: 21),
            .joinRead([], maxDeleted: nil, keptFrom: nil, topic: nil))
        #expect(errorCodes(request(&registered, .nick(name: "bob"))) == [.badRequest], "its account is its name")
        let lower = try UserName(validating: "alice")
        #expect(
            request(&registered, .nick(name: "alice")) == [
                .perform(.rename(from: alice, to: lower, rooms: [lobby]), id: nil)
            ], "its case, though")
    }

    // MARK: Ending

    @Test("quit says bye, releases the name and every room with the reason, then closes; nothing is ended twice")
    func quit() {
        var session = named()
        #expect(
            request(&session, .quit(), id: "q") == [
                .send(.bye("see you"), id: RequestID(json: "\"q\"")),
                .end(EndedSession(user: alice, token: "t1", reason: .quit, since: 1_000, rooms: [lobby])),
                .close(.quit),
            ])
        #expect(request(&session, .ping).isEmpty, "nothing is read after quit")
        #expect(session.connectionClosed().isEmpty, "ended before the connection closed, not again when it does")
    }

    @Test("a message sent just before quit is still acknowledged while the connection closes")
    func ackWhileClosing() {
        var session = named()
        let say = request(&session, .say(room: nil, text: "last words", isAction: false), id: "s")
        guard case .perform(let operation, _) = say.first else {
            Issue.record("no publish: \(say)")
            return
        }
        _ = request(&session, .quit())
        let ack = session.completed(
            operation, id: RequestID(json: "\"s\""), .success(.published(Self.id("9-0"), confirmed: true)), now: now)
        #expect(ack.count == 1)
        if case .send(.sent(let message), let id) = ack.first {
            #expect(message.text == "last words" && id == RequestID(json: "\"s\""))
        } else {
            Issue.record("no acknowledgement: \(ack)")
        }
    }

    @Test("a dropped connection mid-join releases the room being joined too")
    func droppedMidJoin() {
        var session = named()
        _ = request(&session, .join(room: "dev", since: nil))
        _ = complete(&session, .subscribe(dev), .done)
        #expect(
            session.connectionClosed() == [
                .end(
                    EndedSession(
                        user: alice, token: "t1", reason: .disconnected, since: 1_000, rooms: [lobby, dev],
                        holdsName: true))
            ])
        #expect(complete(&session, .recordJoin(dev), .done).isEmpty, "late results change nothing")
    }

    @Test("name lost (for this token only) and shutdown: an error that says why, then close")
    func nameLostAndShutdown() {
        var session = named()
        #expect(session.nameLost(token: "older").isEmpty)
        let lost = session.nameLost(token: "t1")
        #expect(errorCodes(lost) == [.nameLost] && lost.last == .close(.nameLost))
        #expect(session.shutdown().isEmpty, "already closing")

        var other = named()
        let shutdown = other.shutdown()
        #expect(errorCodes(shutdown) == [.serverShutdown] && shutdown.last == .close(.serverShutdown))
        #expect(
            other.connectionClosed().first
                == .end(EndedSession(user: alice, token: "t1", reason: .serverShutdown, since: 1_000, rooms: [lobby])))
    }

    @Test("a too-long line is answered and the session carries on; store failures say redis-unavailable")
    func protocolErrors() {
        var session = named()
        #expect(errorCodes(session.frameTooLong()) == [.lineTooLong])
        _ = request(&session, .who(room: nil))
        #expect(session.isWaiting)
        let failed = session.completed(.who(lobby, .firstPage), id: nil, .failure(Down()), now: now)
        #expect(errorCodes(failed) == [.redisUnavailable] && !session.isWaiting)
        let listFailed = machineListeningFails()
        #expect(errorCodes(listFailed) == [.redisUnavailable] && listFailed.last == .close(.disconnected))
    }

    func machineListeningFails() -> [SessionAction] {
        var session = machine()
        _ = request(&session, .hello(name: "Alice"))
        _ = complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1")))
        return session.completed(.listenToUser(alice), id: nil, .failure(Down()), now: now)
    }

    struct Down: Error {}
    @Test(
        "only a server operator's grant lets operator requests through, checked and stamped with its name; a removal closes with the reason as farewell"
    )
    func serverOperators() {
        var guest = named()
        #expect(errorCodes(request(&guest, .operate(.announce(text: "hi")))) == [.notServerOperator])

        var session = machine()
        _ = request(&session, .hello(name: "Alice", rooms: []))
        let grant = SessionGrant(isServerOperator: true, motd: "be kind")
        _ = complete(&session, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1", grant: grant)))
        #expect(
            complete(&session, .listenToUser(alice), .done) == [
                .send(.welcome(name: "Alice", room: nil, node: "n1", time: 1_000, resume: "r-t1"), id: nil),
                .send(.motd("be kind", atLogin: true), id: nil), .send(.serverOperator, id: nil),
            ])
        #expect(session.view.isServerOperator)
        #expect(
            request(&session, .operate(.kill(name: "bob", reason: "spam"))) == [
                .perform(.operate(.kill(Self.bob, reason: "spam"), by: "Alice"), id: nil)
            ])
        #expect(
            errorCodes(request(&session, .operate(.ban(mask: "*!*@*", duration: nil, reason: nil)))) == [.badRequest])
        #expect(errorCodes(request(&session, .operate(.announce(text: "")))) == [.badRequest])

        // A reload's list: told of a change only; without the grant, operator requests are refused again.
        #expect(session.serverOperator(true).isEmpty)
        #expect(session.serverOperator(false) == [.send(.serverOperatorEnded, id: nil)])
        #expect(!session.view.isServerOperator)
        #expect(errorCodes(request(&session, .operate(.announce(text: "hi")))) == [.notServerOperator])
        #expect(session.serverOperator(false).isEmpty)
        #expect(session.serverOperator(true) == [.send(.serverOperator, id: nil)])
        #expect(session.view.isServerOperator)
        // Between the claim and the welcome, a change is told by the welcome alone (IRC has no nick to tell yet).
        var early = machine()
        _ = request(&early, .hello(name: "Alice", rooms: []))
        _ = complete(&early, .claim(alice), .claimed(.granted(token: "t1", resume: "r-t1", grant: grant)))
        #expect(early.serverOperator(false).isEmpty)
        #expect(!complete(&early, .listenToUser(alice), .done).contains(.send(.serverOperator, id: nil)))
        #expect(early.serverOperator(true) == [.send(.serverOperator, id: nil)])

        // Another name's removal is not ours; ours says who and why, and closes.
        #expect(session.removed(name: "bob", by: "opal", reason: nil).isEmpty)
        let removed = session.removed(name: "alice", by: "opal", reason: "flooding")
        #expect(errorCodes(removed) == [.removed] && removed.last == .close(.removed))
    }
}

@Suite("History pages")
struct HistoryPagingUnitTests {
    func messages(_ count: Int, size: Int = 10) -> [ChatMessage] {
        (1...count).map {
            ChatMessage(
                id: StreamID(millis: UInt64($0), sequence: 0), room: .lobby, from: "a",
                text: String(repeating: "x", count: size), isAction: false, time: 0)
        }
    }

    @Test("a page holds at most its count and its bytes, at least one message, and says whether more lie beyond")
    func pages() {
        let paging = HistoryPaging(messages: 3, bytes: 1200)
        #expect(paging.readCount(50) == 4, "one more than a page, to know whether more follow")
        let forward = paging.page(messages(4), wanted: 50, direction: .forward)
        #expect(forward.page.map(\.id.millis) == [1, 2, 3] && forward.more)
        let backward = paging.page(messages(4), wanted: 50, direction: .backward)
        #expect(backward.page.map(\.id.millis) == [2, 3, 4] && backward.more)
        #expect(paging.page(messages(3), wanted: 50, direction: .forward).more == false)
        let heavy = paging.page(messages(3, size: 450), wanted: 3, direction: .forward)
        #expect(heavy.page.map(\.id.millis) == [1, 2] && heavy.more, "cut by bytes")
        let huge = paging.page(messages(2, size: 5000), wanted: 3, direction: .backward)
        #expect(huge.page.map(\.id.millis) == [2] && huge.more, "never empty, so a reader moves on")
    }

    @Test("a resume reads a page, says more, and warns of a gap when the stream trimmed past since")
    func resumePage() {
        var limits = ProtocolLimits()
        limits.historyPageMessages = 2
        var session = SessionMachine(
            settings: .init(limits: limits, nodeID: "n1"), sessionID: "s", now: SessionClock(wall: 0, uptimeNanos: 0))
        let now = SessionClock(wall: 1, uptimeNanos: 1)
        let alice = try! UserName(validating: "alice")
        _ = session.receive(
            .success(.hello(name: "alice", rooms: [RoomResume(room: "lobby", since: "1-0")])), id: nil, now: now)
        _ = session.completed(.claim(alice), id: nil, .success(.claimed(.granted(token: "t", resume: "r-t"))), now: now)
        _ = session.completed(.listenToUser(alice), id: nil, .success(.done), now: now)
        _ = session.completed(.subscribe(.lobby), id: nil, .success(.done), now: now)
        let since = StreamID(millis: 1, sequence: 0)
        let read = session.completed(.recordJoin(.lobby), id: nil, .success(.done), now: now)
        #expect(read == [.perform(.readHistory(.lobby, after: since, count: 3), id: nil)])
        let stored = messages(3).map {
            var copy = $0
            copy.id.millis += 10
            return copy
        }
        let reply = session.completed(
            .readHistory(.lobby, after: since, count: 3), id: nil,
            .success(.joinRead(stored, maxDeleted: nil, keptFrom: stored[0].id, topic: nil)), now: now)
        #expect(reply.first == .send(.gap(room: .lobby, after: since, lost: true, oldest: stored[0].id), id: nil))
        #expect(
            reply.dropFirst().first
                == .send(.youJoined(room: .lobby, history: Array(stored.prefix(2)), more: true), id: nil))

        let next = session.receive(
            .success(.history(room: nil, limit: nil, before: nil, after: "12-0")), id: nil, now: now)
        #expect(next == [.perform(.historyAfter(.lobby, after: StreamID(millis: 12, sequence: 0), count: 3), id: nil)])
    }
}
