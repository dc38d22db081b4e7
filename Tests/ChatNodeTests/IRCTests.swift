import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// IRC on the nodes, line by line over real sockets against real nodes and Redis: registration, channels and
/// messages shared with text-mode users on another node, and the numerics bad input is owed.
@Suite("IRC", .serialized)
struct IRCTests {
    @Test("registration with CAP, a nick in use is 433 and another is tried, unregistered commands are 451")
    func registration() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let bob = try cluster[1].login("bob")
        defer { bob.close() }
        let client = try TestSocket(port: try #require(cluster[0].ircPort), name: "irc")
        try client.send("JOIN #dev")
        _ = try client.expectLine("not registered") { $0.contains(" 451 * ") }
        try client.send("NICK bob")
        try client.send("USER x 0 * :x")
        _ = try client.expectLine("nick in use") { $0.contains(" 433 * bob ") }
        try client.send("NICK no/slash")
        _ = try client.expectLine("bad nick") { $0.contains(" 432 * no/slash ") }
        try client.send("NICK bobby")
        _ = try client.expectLine("welcome") { $0.contains(" 001 bobby ") }
        // Which release the server runs, where IRC clients look for it: 004 and VERSION (351).
        _ = try client.expectLine("004") { $0.contains(" 004 bobby \(cluster[0].id) \(ChatVersion.irc) ") }
        try client.send("VERSION")
        _ = try client.expectLine("351") { $0.contains(" 351 bobby \(ChatVersion.irc) \(cluster[0].id) ") }
        try client.send("PING :token-1")
        _ = try client.expectLine("pong") { $0.hasSuffix("PONG \(cluster[0].id) :token-1") }
        try client.send("FROBNICATE now")
        _ = try client.expectLine("unknown") { $0.contains(" 421 bobby FROBNICATE ") }
        try client.send("PRIVMSG #dev :" + String(repeating: "x", count: 600))
        _ = try client.expectLine("too long") { $0.contains(" 417 bobby ") }
        try client.send("PRIVMSG")
        _ = try client.expectLine("no recipient") { $0.contains(" 411 bobby ") }
        try client.send("JOIN " + (1...51).map { "#r\($0)" }.joined(separator: ","))
        _ = try client.expectLine("too many targets") { $0.contains(" 407 bobby ") }
    }

    @Test("an IRC client and an nc user on another node share a channel, direct messages and the quit")
    func acrossProtocols() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let carol = try cluster[1].login("carol")
        try carol.send("/join dev")
        try carol.expect("you joined #dev")
        let alice = try cluster[0].ircLogin("alice", capabilities: ["server-time", "message-tags"])
        try alice.send("JOIN #dev,#ops")
        _ = try alice.expectLine("join echo") { $0.hasPrefix(":\(IRCRenderer.mask("alice")) JOIN #dev") }
        _ = try alice.expectLine("names") {
            $0.contains(" 353 alice = #dev :") && $0.contains("carol") && $0.contains("alice")
        }
        _ = try alice.expectLine("end of names") { $0.contains(" 366 alice #dev ") }
        _ = try alice.expectLine("second channel") { $0.hasPrefix(":\(IRCRenderer.mask("alice")) JOIN #ops") }
        try carol.expect("alice joined #dev")

        try alice.send("PRIVMSG #dev :hello from irc")
        try carol.expect("<alice> hello from irc")
        try carol.send("hi alice")
        let line = try alice.expectLine("carol's message") {
            $0.contains(":\(IRCRenderer.mask("carol")) PRIVMSG #dev :hi alice")
        }
        #expect(line.hasPrefix("@time=") && line.contains("msgid="), "tags for the capabilities asked: \(line)")
        try alice.send("PRIVMSG #dev :\u{1}ACTION waves\u{1}")
        try carol.expect("* alice waves")

        try carol.send("/msg alice psst")
        _ = try alice.expectLine("the DM") { $0.contains(":\(IRCRenderer.mask("carol")) PRIVMSG alice :psst") }
        try alice.send("PRIVMSG carol :back at you")
        try carol.expect("*alice* back at you")

        try alice.send("NAMES #dev")
        _ = try alice.expectLine("names again") { $0.contains(" 353 alice = #dev :") }
        try alice.send("WHO #dev")
        _ = try alice.expectLine("who") { $0.contains(" 352 alice #dev ~u \(IRCRenderer.host(of: "carol")) ") }
        _ = try alice.expectLine("end of who") { $0.contains(" 315 alice #dev ") }
        try alice.send("PART #ops")
        _ = try alice.expectLine("part echo") { $0.hasPrefix(":\(IRCRenderer.mask("alice")) PART #ops") }
        try alice.send("PRIVMSG #ops :nobody")
        _ = try alice.expectLine("cannot send to a channel one is not in") { $0.contains(" 404 alice #ops ") }

        try alice.send("JOIN #lounge")
        _ = try alice.expectLine("in #lounge") { $0.contains(" 366 alice #lounge ") }
        try carol.send("/join lounge")
        _ = try alice.expectLine("carol in #lounge too") { $0.contains(":\(IRCRenderer.mask("carol")) JOIN #lounge") }
        try carol.send("/quit")
        _ = try alice.expectLine("carol quits") { $0.contains(":\(IRCRenderer.mask("carol")) QUIT :Quit: quit") }
        #expect(
            !alice.drain(timeout: 0.5).contains { $0.contains("QUIT") },
            "one QUIT, though carol was in two shared channels")
        try alice.send("QUIT :bye all")
        _ = try alice.expectLine("closing") { $0.hasPrefix("ERROR :Closing Link") }
        #expect(alice.waitForClose())
    }

    @Test(
        "a room's topic: set in text mode, shown to an IRC client on JOIN (332/333), changed with TOPIC, seen by JSON")
    func topics() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let carol = try cluster[1].login("carol")
        try carol.send("/join dev")
        try carol.expect("you joined #dev")
        try carol.send("/topic release on Friday")
        try carol.expect("carol set the topic of #dev: release on Friday")
        let dana = try cluster[1].loginJSON("dana")
        try dana.sendJSON(["op": "join", "room": "dev", "id": 2])
        _ = try dana.expectEvent(type: "joined")
        let shown = try dana.expectEvent(type: "topic")
        #expect(shown["text"] as? String == "release on Friday" && shown["by"] as? String == "carol")

        let alice = try cluster[0].ircLogin("alice")
        try alice.send("JOIN #dev")
        _ = try alice.expectLine("join echo") { $0.hasPrefix(":\(IRCRenderer.mask("alice")) JOIN #dev") }
        _ = try alice.expectLine("topic") { $0.contains(" 332 alice #dev :release on Friday") }
        _ = try alice.expectLine("who set it") { $0.contains(" 333 alice #dev carol ") }
        _ = try alice.expectLine("names after the topic") { $0.contains(" 353 alice = #dev :") }
        try alice.send("TOPIC #dev :\u{2}ship\u{2} it")
        _ = try alice.expectLine("own change, formatting kept") {
            $0.hasSuffix(":\(IRCRenderer.mask("alice")) TOPIC #dev :\u{2}ship\u{2} it")
        }
        try carol.expect("alice set the topic of #dev: ship it")
        let changed = try dana.expectEvent("the change") {
            $0["type"] as? String == "topic" && $0["changed"] as? Bool == true
        }
        #expect(changed["text"] as? String == "ship it" && changed["by"] as? String == "alice")
        try alice.send("TOPIC #dev")
        _ = try alice.expectLine("asked") { $0.contains(" 332 alice #dev :\u{2}ship\u{2} it") }
        try alice.send("TOPIC #elsewhere :mine")
        _ = try alice.expectLine("not on that channel") { $0.contains(" 442 alice #elsewhere ") }
        try carol.send("/topic -delete")
        _ = try alice.expectLine("cleared") { $0.hasSuffix(":\(IRCRenderer.mask("carol")) TOPIC #dev :") }
        try alice.send("TOPIC #dev")
        _ = try alice.expectLine("none now") { $0.contains(" 331 alice #dev ") }
        try alice.send("TOPIC #dev :\u{2}\u{2}")
        _ = try alice.expectLine("formatting alone asks, it does not clear") { $0.contains(" 331 alice #dev ") }

        // A room that empties without a message is gone; made again, it starts without the old topic.
        try alice.send("JOIN #brief")
        _ = try alice.expectLine("joined") { $0.contains(" 366 alice #brief ") }
        try alice.send("TOPIC #brief :left behind")
        _ = try alice.expectLine("set") { $0.hasSuffix("TOPIC #brief :left behind") }
        try alice.send("PART #brief")
        _ = try alice.expectLine("parted") { $0.hasPrefix(":\(IRCRenderer.mask("alice")) PART #brief") }
        try alice.send("JOIN #brief")
        _ = try alice.expectLine("joined again") { $0.contains(" 366 alice #brief ") }
        try alice.send("TOPIC #brief")
        _ = try alice.expectLine("no old topic") { $0.contains(" 331 alice #brief ") }
    }

    @Test(
        "a topic written into Redis by something other than a node is not shown, and a broken one does not stop joins")
    func forgedTopics() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--irc-port", "0"])
        _ = try cluster.redis.cli([
            "HSET", "chat:topic:{dev}", "text", "x\r\nPRIVMSG #dev :owned", "by", "a b", "time", "0",
        ])
        _ = try cluster.redis.cli(["SET", "chat:topic:{ops}", "not a hash"])
        let alice = try cluster[0].ircLogin("alice")
        try alice.send("JOIN #dev,#ops")
        _ = try alice.expectLine("dev joined") { $0.contains(" 366 alice #dev ") }
        _ = try alice.expectLine("ops joined") { $0.contains(" 366 alice #ops ") }
        try alice.send("TOPIC #dev")
        _ = try alice.expectLine("no topic shown") { $0.contains(" 331 alice #dev ") }
        #expect(!alice.received.contains { $0.contains("owned") }, "\(alice.received)")
    }

    @Test("ISON and USERHOST answer for people on any node and in any protocol, with away as USERHOST's '-'")
    func presenceQueries() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let carol = try cluster[1].login("carol")
        try carol.send("/away lunch")
        try carol.expect("you are marked away")
        let alice = try cluster[0].ircLogin("alice")
        try alice.send("ISON :CAROL nobody alice no/such")
        _ = try alice.expectLine("ison") { $0.hasSuffix(" 303 alice :carol alice") }
        try alice.send("ISON nobody")
        _ = try alice.expectLine("nobody on") { $0.hasSuffix(" 303 alice :") }
        try alice.send("USERHOST carol alice")
        _ = try alice.expectLine("userhost") {
            $0.hasSuffix(
                " 302 alice :carol=-~u@\(IRCRenderer.host(of: "carol")) alice=+~u@\(IRCRenderer.host(of: "alice"))")
        }
        try alice.send("USERHOST")
        _ = try alice.expectLine("needs a nick") { $0.contains(" 461 alice USERHOST ") }
    }

    @Test(
        "draft/chathistory pages through the room history nc users wrote on another node; server-time clients get it on JOIN"
    )
    func chatHistory() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0", "--rate-burst", "100"])
        let carol = try cluster[1].login("carol")
        try carol.send("/join dev")
        try carol.expect("you joined #dev")
        for index in 1...30 {
            try carol.send("message \(index)")
        }
        try carol.send("/history 1")
        try carol.expect("message 30")

        // A client without chathistory but with server-time is shown the last messages after its JOIN, with their times.
        let bob = try cluster[0].ircLogin("bob", capabilities: ["server-time"])
        try bob.send("JOIN #dev")
        _ = try bob.expectLine("join") { $0.hasPrefix(":\(IRCRenderer.mask("bob")) JOIN #dev") }
        _ = try bob.expectLine("names first") { $0.contains(" 366 bob #dev ") }
        _ = try bob.expectLine("replayed history") {
            $0.hasPrefix("@time=") && $0.hasSuffix("PRIVMSG #dev :message 30")
        }

        let alice = try cluster[0].ircLogin(
            "alice", capabilities: ["batch", "draft/chathistory", "server-time", "message-tags"])
        try alice.send("JOIN #dev")
        _ = try alice.expectLine("end of names") { $0.contains(" 366 alice #dev ") }
        /// One CHATHISTORY request's batch: its messages' texts and ids.
        func page(_ command: String) throws -> [(text: String, id: String)] {
            try alice.send(command)
            let open = try alice.expectLine("batch start for \(command)") { $0.contains(" BATCH +") }
            #expect(open.hasSuffix(" chathistory :#dev") || open.hasSuffix(" chathistory #dev"), "\(open)")
            var found: [(String, String)] = []
            while true {
                guard let line = alice.readLine() else {
                    throw HarnessError("the batch of \(command) ended early; got \(alice.received.suffix(8))")
                }
                if line.contains(" BATCH -") { return found }
                let id = line.split(separator: ";").first { $0.hasPrefix("msgid=") }?.split(separator: " ").first
                found.append(
                    (String(line.split(separator: ":").last ?? ""), String(id?.dropFirst("msgid=".count) ?? "")))
            }
        }
        let latest = try page("CHATHISTORY LATEST #dev * 10")
        #expect(latest.map(\.text) == (21...30).map { "message \($0)" })
        let before = try page("CHATHISTORY BEFORE #dev msgid=\(latest[0].id) 5")
        #expect(before.map(\.text) == (16...20).map { "message \($0)" })
        let after = try page("CHATHISTORY AFTER #dev msgid=\(before[0].id) 3")
        #expect(after.map(\.text) == (17...19).map { "message \($0)" })
        let between = try page("CHATHISTORY BETWEEN #dev msgid=\(latest[4].id) msgid=\(before[1].id) 100")
        #expect(
            between.map(\.text) == (18...24).map { "message \($0)" }, "newest first from the later end, in time order")
        let since = try page("CHATHISTORY LATEST #dev msgid=\(latest[7].id) 100")
        #expect(since.map(\.text) == ["message 29", "message 30"])
        try alice.send("CHATHISTORY LATEST #ops * 10")
        _ = try alice.expectLine("not in that room") { $0.contains("FAIL CHATHISTORY INVALID_TARGET LATEST #ops ") }
    }

    @Test("labeled-response: each labeled command's answer carries its label, as one line, a batch, or ACK")
    func labeledResponses() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let carol = try cluster[1].login("carol")
        try carol.send("/join dev")
        try carol.expect("you joined #dev")
        let alice = try cluster[0].ircLogin("alice", capabilities: ["labeled-response", "batch", "echo-message"])
        try alice.send("@label=j1 JOIN #dev")
        let open = try alice.expectLine("the batch") { $0.hasPrefix("@label=j1 ") && $0.contains(" BATCH +") }
        #expect(open.hasSuffix(" labeled-response"))
        _ = try alice.expectLine("JOIN inside") { $0.hasPrefix("@batch=") && $0.contains(" JOIN #dev") }
        _ = try alice.expectLine("NAMES inside") { $0.hasPrefix("@batch=") && $0.contains(" 366 alice #dev ") }
        _ = try alice.expectLine("the end") { $0.contains(" BATCH -") }
        try alice.send("@label=m1 PRIVMSG #dev :hello")
        _ = try alice.expectLine("the echo, labeled") {
            $0.hasPrefix("@label=m1 ") && $0.hasSuffix("PRIVMSG #dev :hello")
        }
        try carol.expect("<alice> hello")
        try alice.send("@label=p1 PING :tok")
        _ = try alice.expectLine("pong, labeled") { $0.hasPrefix("@label=p1 ") && $0.hasSuffix(":tok") }
        try alice.send("@label=t1 TAGMSG #dev")
        _ = try alice.expectLine("nothing to say: ACK") { $0.hasPrefix("@label=t1 ") && $0.hasSuffix(" ACK") }
        try alice.send("@label=q1 TOPIC #dev")
        _ = try alice.expectLine("a topic query, labeled") {
            $0.hasPrefix("@label=q1 ") && $0.contains(" 331 alice #dev ")
        }
        try alice.send("@label=e1 PRIVMSG nobody :x")
        _ = try alice.expectLine("an error, labeled") {
            $0.hasPrefix("@label=e1 ") && $0.contains(" 401 alice nobody ")
        }
    }

    @Test("a NOTICE stays a notice: IRC clients get NOTICE, text and JSON clients a notice; no error answers one")
    func notices() throws {
        let room = try MixedRoom(irc: "bot", "ann")
        let (carol, dana, bot, ann) = (room.text, room.json, room.irc[0], room.irc[1])
        try bot.send("NOTICE #dev :build 42 passed")
        _ = try ann.expectLine("a NOTICE") { $0.hasSuffix(":\(IRCRenderer.mask("bot")) NOTICE #dev :build 42 passed") }
        try carol.expect("#dev -bot- build 42 passed")
        let seen = try dana.expectEvent("the notice") { $0["type"] as? String == "message" }
        #expect(seen["notice"] as? Bool == true && seen["text"] as? String == "build 42 passed")
        try dana.sendJSON(["op": "notice", "to": "ann", "text": "from a program"])
        _ = try ann.expectLine("a direct NOTICE") {
            $0.hasSuffix(":\(IRCRenderer.mask("dana")) NOTICE ann :from a program")
        }
        try bot.send("NOTICE nobody :hello?")
        try bot.send("NOTICE #elsewhere :hello?")
        try bot.send("PING :after")
        let after = try bot.expectLine("the pong") { $0.hasSuffix(":after") }
        #expect(
            !bot.received.contains { $0.contains(" 401 ") || $0.contains(" 404 ") },
            "no error answers a NOTICE: \(after)")
        // History keeps it a notice.
        try ann.send("PART #dev")
        try ann.send("JOIN #dev")
        try ann.send("NAMES #dev")
        _ = try ann.expectLine("back") { $0.contains(" 366 ann #dev ") }
        try carol.send("/history 1")
        try carol.expect("#dev -bot- build 42 passed")
    }

    @Test(
        "bad input on the IRC port: formatting kept for IRC and stripped for the rest, CTCP queries dropped, NUL and CR handled"
    )
    func badInput() throws {
        let room = try MixedRoom(irc: "alice", "bob")
        let (carol, dana, alice, bob) = (room.text, room.json, room.irc[0], room.irc[1])

        // Formatting: IRC clients get the codes, nc and JSON get the text.
        try alice.send("PRIVMSG #dev :\u{2}bold\u{2} and \u{3}04,12red\u{3} \u{1d}it\u{1d}")
        _ = try bob.expectLine("the codes, for IRC") {
            $0.hasSuffix("PRIVMSG #dev :\u{2}bold\u{2} and \u{3}04,12red\u{3} \u{1d}it\u{1d}")
        }
        try carol.expect("<alice> bold and red it")
        let plain = try dana.expectEvent("the message") { $0["type"] as? String == "message" }
        #expect(plain["text"] as? String == "bold and red it")

        // CTCP: a query reaches nobody; an ACTION is a /me.
        try alice.send("PRIVMSG #dev :\u{1}VERSION\u{1}")
        try alice.send("PRIVMSG #dev :\u{1}ACTION waves\u{1}")
        try carol.expect("* alice waves")
        _ = try bob.expectLine("the action") { $0.hasSuffix("PRIVMSG #dev :\u{1}ACTION waves\u{1}") }
        #expect(!(carol.received + bob.received).contains { $0.contains("VERSION") })

        // NUL: the line is refused and reaches nobody; a CR inside a line never reaches anyone raw.
        try alice.sendRaw(Array("PRIVMSG #dev :before\u{0}after\r\n".utf8))
        _ = try alice.expectLine("refused") { $0.contains("NUL") }
        try alice.sendRaw(Array("PRIVMSG #dev :one\rtwo\r\n".utf8))
        try carol.expect("<alice> onetwo")
        _ = try bob.expectLine("one line") { $0.hasSuffix("PRIVMSG #dev :onetwo") }
        #expect(!(carol.received + bob.received).contains { $0.contains("before") })

        // An escape sequence is removed for everyone, IRC clients included.
        try alice.send("PRIVMSG #dev :\u{1b}[2Jclear\u{1b}]0;title\u{7}")
        try carol.expect("<alice> clear")
        _ = try bob.expectLine("cleaned") { $0.hasSuffix("PRIVMSG #dev :clear") }
    }

    @Test("what people say on leaving crosses protocols: PART and QUIT reasons, /leave ROOM TEXT and /quit TEXT")
    func leaveMessages() throws {
        let room = try MixedRoom(irc: "alice", "bob")
        let (carol, dana, alice, bob) = (room.text, room.json, room.irc[0], room.irc[1])
        try alice.send("PART #dev :see you later")
        _ = try bob.expectLine("the PART reason") {
            $0.hasSuffix(":\(IRCRenderer.mask("alice")) PART #dev :see you later")
        }
        _ = try alice.expectLine("one's own PART, with its reason") {
            $0.hasSuffix(":\(IRCRenderer.mask("alice")) PART #dev :see you later")
        }
        try carol.expect("alice left #dev (see you later)")
        let left = try dana.expectEvent("the leave") { $0["type"] as? String == "leave" }
        #expect(left["message"] as? String == "see you later")
        try alice.send("JOIN #dev")
        _ = try alice.expectLine("back") { $0.contains(" 366 alice #dev ") }
        try alice.send("QUIT :gone fishing")
        _ = try bob.expectLine("the QUIT reason") {
            $0.hasSuffix(":\(IRCRenderer.mask("alice")) QUIT :Quit: gone fishing")
        }
        try carol.expect("alice left #dev (quit: gone fishing)")
        // A /me in private stays an action: CTCP ACTION for IRC, "* name text" for the others.
        try bob.send("PRIVMSG carol :\u{1}ACTION waves at you\u{1}")
        try carol.expect("*bob* * bob waves at you")
        try dana.sendJSON(["op": "msg", "to": "bob", "text": "nods", "action": true])
        _ = try bob.expectLine("a private action") {
            $0.hasSuffix(":\(IRCRenderer.mask("dana")) PRIVMSG bob :\u{1}ACTION nods\u{1}")
        }
        try carol.send("/quit off to bed")
        _ = try bob.expectLine("a text user's quit") {
            $0.hasSuffix(":\(IRCRenderer.mask("carol")) QUIT :Quit: off to bed")
        }
        try dana.sendJSON(["op": "leave", "room": "dev", "text": "bye from a program"])
        _ = try bob.expectLine("a program's part") {
            $0.hasSuffix(":\(IRCRenderer.mask("dana")) PART #dev :bye from a program")
        }
    }

    @Test("IRC through the balancer's IRC port: clients land on different nodes and talk to each other")
    func throughTheBalancer() throws {
        let setup = try BalancedCluster(
            nodes: 2, nodeArguments: ["--irc-port", "0"], balancerArguments: ["--irc-port", "0"])
        let port = try #require(setup.balancer.ircPort)
        func register(_ nick: String) throws -> (TestSocket, String) {
            let client = try TestSocket(port: port, name: "irc-\(nick)")
            try client.send("NICK \(nick)")
            try client.send("USER \(nick) 0 * :\(nick)")
            let host = try client.expectLine("your host") { $0.contains(" 002 \(nick) ") }
            return (client, host)
        }
        let (ann, annHost) = try register("ann")
        let (ben, benHost) = try register("ben")
        #expect(annHost != benHost, "round-robin: the two land on different nodes")
        try ann.send("JOIN #lounge")
        _ = try ann.expectLine("joined") { $0.contains(" 366 ann #lounge ") }
        try ben.send("JOIN #lounge")
        _ = try ann.expectLine("ben joins") { $0.contains(":\(IRCRenderer.mask("ben")) JOIN #lounge") }
        try ben.send("PRIVMSG #lounge :across nodes, over IRC")
        _ = try ann.expectLine("ben's message") {
            $0.contains(":\(IRCRenderer.mask("ben")) PRIVMSG #lounge :across nodes, over IRC")
        }
    }

    @Test("a registered name logs in with SASL PLAIN (a wrong password is 904) or PASS; without either it is 464")
    func registeredNames() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0", "--scrypt-cost", "ln=10,r=8,p=1"])
        let owner = try cluster[1].loginJSON("sasha")
        try owner.sendJSON(["op": "register", "password": "sasha's secret"])
        _ = try owner.expectEvent(type: "ok")
        try owner.sendJSON(["op": "quit"])
        _ = owner.waitForClose()
        func plain(_ password: String) -> String { Data("\0sasha\0\(password)".utf8).base64EncodedString() }

        let client = try TestSocket(port: try #require(cluster[0].ircPort), name: "irc-sasl")
        try client.send("CAP LS 302")
        _ = try client.expectLine("sasl offered") { $0.contains("CAP * LS :") && $0.contains("sasl=PLAIN") }
        try client.send("CAP REQ :sasl")
        _ = try client.expect("CAP * ACK :sasl")
        try client.send("NICK sasha")
        try client.send("USER sasha 0 * :Sasha")
        try client.send("AUTHENTICATE PLAIN")
        _ = try client.expect("AUTHENTICATE +")
        try client.send("AUTHENTICATE \(plain("not it"))")
        _ = try client.expectLine("refused") { $0.contains(" 904 * ") }
        try client.send("AUTHENTICATE PLAIN")
        _ = try client.expect("AUTHENTICATE +")
        try client.send("AUTHENTICATE \(plain("sasha's secret"))")
        _ = try client.expectLine("logged in") { $0.contains(" 900 * ") && $0.contains("sasha") }
        _ = try client.expectLine("success") { $0.contains(" 903 * ") }
        try client.send("CAP END")
        _ = try client.expectLine("welcome") { $0.contains(" 001 sasha ") }
        try client.send("QUIT")
        _ = client.waitForClose()

        let withPass = try TestSocket(port: try #require(cluster[1].ircPort), name: "irc-pass")
        try withPass.send("NICK sasha")
        try withPass.send("USER sasha 0 * :Sasha")
        _ = try withPass.expectLine("password needed") { $0.contains(" 464 * ") }
        try withPass.send("PASS :sasha's secret")
        try withPass.send("NICK sasha")
        _ = try withPass.expectLine("welcome") { $0.contains(" 001 sasha ") }

        // extended-join: a registered name's JOIN names its account, a guest's `*`, one's own too.
        let watcher = try cluster[0].ircLogin("watcher", capabilities: ["extended-join"])
        try watcher.send("JOIN #dev")
        _ = try watcher.expectLine("own join, a guest") {
            $0.hasPrefix(":\(IRCRenderer.mask("watcher")) JOIN #dev * :")
        }
        try withPass.send("JOIN #dev")
        _ = try watcher.expectLine("sasha's join") {
            $0.hasSuffix(":\(IRCRenderer.mask("sasha")) JOIN #dev sasha :chat user")
        }
        let guest = try cluster[1].login("gus")
        try guest.send("/join dev")
        _ = try watcher.expectLine("a guest's join") {
            $0.hasSuffix(":\(IRCRenderer.mask("gus")) JOIN #dev * :chat user")
        }
        let ownAccount = try cluster[0].ircLogin("sasha2", capabilities: ["extended-join"])
        try ownAccount.send("JOIN #dev")
        _ = try ownAccount.expectLine("a guest's own join") {
            $0.hasPrefix(":\(IRCRenderer.mask("sasha2")) JOIN #dev * ")
        }
    }

    @Test("an IRC client joining 30 channels at once is slowed down, not refused: every JOIN gets its names")
    func fakeLag() throws {
        let cluster = try TestCluster(
            nodes: 1, nodeArguments: ["--irc-port", "0", "--room-creations-per-minute", "100"])
        let client = try cluster[0].ircLogin("many")
        try client.send("JOIN " + (1...30).map { "#c\($0)" }.joined(separator: ","))
        for index in 1...30 {
            _ = try client.expectLine(
                "names of #c\(index)", where: { $0.contains(" 366 many #c\(index) ") }, timeout: 10)
        }
        #expect(!client.received.contains { $0.contains("rate-limited") })
    }
}

/// #dev on two nodes with one person of each kind: carol in text mode and dana in JSON on the second node,
/// and two IRC clients on the first.
private struct MixedRoom {
    let cluster: TestCluster
    let text: TestSocket
    let json: TestSocket
    let irc: [TestSocket]

    init(irc nicks: String...) throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        self.cluster = cluster
        text = try cluster[1].login("carol")
        try text.send("/join dev")
        try text.expect("you joined #dev")
        json = try cluster[1].loginJSON("dana")
        try json.sendJSON(["op": "join", "room": "dev"])
        _ = try json.expectEvent(type: "joined")
        let irc = try nicks.map { try cluster[0].ircLogin($0) }
        self.irc = irc
        for client in irc {
            try client.send("JOIN #dev")
            _ = try client.expectLine("joined") { $0.contains(" 366 ") }
        }
    }
}
