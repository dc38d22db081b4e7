import ChatCore
import Testing

/// Registered names and resumes in the session machine: which password step follows which answer, what a resume
/// does before `welcome`, and which endings hold the name.
@Suite("Session machine: passwords and resumes")
struct IdentityMachineTests {
    let base = SessionMachineTests()
    let alice = SessionMachineTests.alice
    let lobby = RoomName.lobby

    @Test("a registered name asks for its password; the next line is tried, a wrong one starts over")
    func passwordSteps() throws {
        var session = base.machine()
        _ = base.request(&session, .hello(name: "Alice"))
        let asked = base.complete(&session, .claim(alice, keeping: [lobby]), .claimed(.passwordRequired))
        #expect(base.errorCodes(asked) == [.passwordRequired])
        #expect(session.awaitsPassword)
        let secret = try Password(given: "secret words")
        let retried = base.request(&session, .password(secret))
        #expect(retried == [.perform(.claim(alice, login: Login(password: secret), keeping: [lobby]), id: nil)])
        #expect(!session.awaitsPassword)
        let wrong = base.complete(
            &session, .claim(alice, login: Login(password: secret), keeping: [lobby]), .claimed(.wrongPassword))
        #expect(base.errorCodes(wrong) == [.badPassword])
        #expect(session.awaitsPassword, "the next line is the password again, never a name")
        _ = base.request(&session, .password(secret))
        let busy = session.completed(
            .claim(alice, login: Login(password: secret), keeping: [lobby]), id: nil,
            .failure(ChatError(.rateLimited, "busy")), now: base.now)
        #expect(base.errorCodes(busy) == [.rateLimited])
        #expect(session.awaitsPassword, "a password in flight that failed is asked for again")
        _ = base.request(&session, .hello(name: "Alice", login: Login(password: secret)))
        let locked = base.complete(
            &session, .claim(alice, login: Login(password: secret), keeping: [lobby]),
            .claimed(.locked(retryAfterSeconds: 42)))
        #expect(base.errorCodes(locked) == [.rateLimited])
        #expect(locked.last == .close(.disconnected), "locked out: closed, so nothing typed next goes anywhere")
        #expect(session.active == nil)

        var guest = base.machine()
        #expect(base.errorCodes(base.request(&guest, .password(secret))) == [.badRequest], "no password was asked for")
    }

    @Test("a password never shows: not in a description, a dump or a request's interpolation")
    func passwordNeverPrints() throws {
        let password = try Password(new: "hunter2hunter2")
        let request = ClientRequest.hello(name: "a", login: Login(password: password))
        var dumped = ""
        dump(request, to: &dumped)
        for text in ["\(password)", String(reflecting: password), "\(request)", dumped] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
        #expect(throws: ChatError.self) { try Password(new: "short") }
        #expect(throws: ChatError.self) { try Password(new: "tab\there is bad") }
        #expect(throws: ChatError.self) { try Password(new: " leading space") }
        #expect(throws: ChatError.self) { try Password(new: "zero\u{200D}width joiner") }
        #expect(throws: ChatError.self) { try Password(new: "right-to-left \u{200F}mark") }
        #expect(throws: ChatError.self) { try Password(given: "") }
    }

    @Test("a resume collects the direct messages that waited before welcoming, and keeps the session's start")
    func resumeCollectsDirects() {
        var session = base.machine()
        _ = base.request(&session, .hello(name: "Alice", login: Login(resume: "tok")))
        let claim = StoreOperation.claim(alice, login: Login(resume: "tok"), keeping: [lobby])
        let granted = base.complete(
            &session, claim, .claimed(.granted(token: "t2", resume: "r2", since: 500, resumed: true)))
        #expect(granted == [.started(alice, at: 500), .perform(.listenToUser(alice), id: nil)])
        #expect(base.complete(&session, .listenToUser(alice), .done) == [.perform(.takeHeldDirects, id: nil)])
        let waiting = DirectMessage(from: "bob", to: "Alice", text: "are you there?", time: 700)
        let welcomed = base.complete(&session, .takeHeldDirects, .directs([waiting]))
        #expect(
            welcomed.first == .send(.welcome(name: "Alice", room: lobby, node: "n1", time: 500, resume: "r2"), id: nil))
        #expect(welcomed.contains(.send(.direct(waiting), id: nil)))
        #expect(welcomed.last == .perform(.subscribe(lobby), id: nil))
    }

    @Test("a drop holds the name, /quit does not; a newer connection's resume closes this one as name-lost")
    func endings() {
        var dropped = base.named()
        guard case .end(let ended)? = dropped.connectionClosed().first else {
            Issue.record("no end")
            return
        }
        #expect(ended.holdsName)

        var quitter = base.named()
        let quitting = base.request(&quitter, .quit())
        guard let quit = quitting.lazy.compactMap({ if case .end(let ended) = $0 { ended } else { nil } }).first else {
            Issue.record("no end")
            return
        }
        #expect(!quit.holdsName)

        var stale = base.named()
        #expect(stale.resumedElsewhere(origin: "inc/1").isEmpty, "its own resume's notice")
        let closed = stale.resumedElsewhere(origin: "other/7")
        #expect(base.errorCodes(closed) == [.nameLost])
        #expect(closed.last == .close(.nameLost))
        guard case .end(let lost)? = stale.connectionClosed().first else {
            Issue.record("no end")
            return
        }
        #expect(!lost.holdsName, "the newer connection holds the name now")
    }
}
