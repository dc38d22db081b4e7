import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// Real IRC clients, irssi and WeeChat from Debian, in tmux against two nodes, Redis and the balancer: each
/// registers, joins a channel, sees its topic and chats with the other clients (an nc user on the other node, and
/// for irssi a web page in Chromium), sees a quit; when the IRC client is killed, the others see it go.
@Suite("Real IRC clients in tmux", .serialized)
struct IRCClientTests {
    /// An nc user through the balancer, on a node other than `node` (round robin: a second try lands elsewhere).
    static func textUser(_ setup: BalancedCluster, notOn node: String, names: [String]) throws -> (TestSocket, String) {
        for name in names {
            let (client, landed) = try setup.balancer.login(name)
            if landed != node { return (client, name) }
            client.close()
        }
        throw HarnessError("no text user landed on a node other than \(node)")
    }

    /// The node an IRC client landed on, from its 002 line on the screen ("Your host is ... (node n2)").
    static func node(in screen: String) throws -> String {
        let after = try #require(screen.components(separatedBy: "(node ").dropFirst().first)
        return String(after.prefix { $0 != ")" })
    }

    /// irssi in tmux, connected to `port` as `nick`; returns once its welcome is on the screen (and the screen).
    static func irssi(nick: String, port: Int) throws -> (Tmux, String) {
        let home = TestEnvironment.temporaryDirectory("irssi-home")
        let tmux = try Tmux(
            command: "env TERM=screen HOME=\(home) LANG=C.UTF-8 irssi --noconnect -n \(nick)", columns: 120, rows: 30)
        try tmux.waitFor("irssi to start") { $0.contains("[(status)]") }
        // irssi holds back commands sent close together (flood protection), which only slows the tests down.
        for command in [
            "/set cmd_queue_speed 0", "/set cmds_max_at_once 100", "/set real_name \(nick) in irssi",
            "/connect 127.0.0.1 \(port)",
        ] {
            try tmux.type(command)
            try tmux.press("Enter")
        }
        let welcome = try tmux.waitFor("the welcome") { $0.contains("Welcome to the chat") && $0.contains("(node ") }
        return (tmux, welcome)
    }

    @Test(
        "irssi, through the balancer, chats with a web page and an nc user on the other node: topic, quit, its own end")
    func irssi() throws {
        let setup = try BalancedCluster(
            nodes: 2, nodeArguments: ["--irc-port", "0"], balancerArguments: ["--irc-port", "0"])
        let ircPort = try #require(setup.balancer.ircPort)
        let (tmux, welcome) = try Self.irssi(nick: "ircy", port: ircPort)
        let ircNode = try Self.node(in: welcome)

        let (bob, bobName) = try Self.textUser(setup, notOn: ircNode, names: ["bob", "bobby"])
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try bob.send("/topic plans for today")
        try bob.expect("set the topic of #dev: plans for today")

        let browser = try WebDriver(logDirectory: setup.cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(setup.balancer.httpPort)/")
        try browser.type("webby", into: "#name")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#status") { $0.contains("webby on node") }
        try browser.type("/join dev", into: "#input")
        try browser.click("#compose button[type=submit]")
        try browser.waitForText("#room-topic") { $0 == "plans for today" }

        try tmux.type("/join #dev")
        try tmux.press("Enter")
        try tmux.waitFor("the topic and the people in #dev") { screen in
            screen.contains("plans for today") && screen.contains(bobName) && screen.contains("webby")
        }
        try bob.expect("ircy joined #dev")
        try browser.type("hello from the web", into: "#input")
        try browser.click("#compose button[type=submit]")
        try tmux.waitFor("the web page's message") { $0.contains("< webby> hello from the web") }
        try bob.send("hello irssi")
        // bob made #dev, so he is its operator: irssi shows him as @bob.
        try tmux.waitFor("bob's message") { $0.contains("<@\(bobName)> hello irssi") }
        try tmux.type("hi all, from irssi")
        try tmux.press("Enter")
        try bob.expect("<ircy> hi all, from irssi")
        try browser.waitForText("#log") { $0.contains("hi all, from irssi") }

        // irssi's WHOIS shows its real name and idle time, LUSERS both nodes (in irssi's status window, 1);
        // /nick changes the nick everywhere.
        for command in ["/away at lunch", "/whois ircy", "/lusers", "/window 1"] {
            try tmux.type(command)
            try tmux.press("Enter")
        }
        try tmux.waitFor("the whois and the counts") {
            $0.contains("ircname") && $0.contains("ircy in irssi") && $0.contains("idle") && $0.contains("at lunch")
                && $0.contains("invisible on 2 servers")
        }
        try tmux.type("/window 2")
        try tmux.press("Enter")
        try tmux.type("/nick ircy2")
        try tmux.press("Enter")
        try tmux.waitFor("its own nick change") { $0.contains("You're now known as ircy2") }
        try bob.expect("#dev: ircy is now known as ircy2")
        try browser.waitForText("#log") { $0.contains("ircy is now known as ircy2") }

        try bob.send("/quit")
        let bobMask = "\(bobName) [~u@\(IRCRenderer.host(of: bobName))]"
        try tmux.waitFor("bob's quit") { $0.contains("\(bobMask) has quit") }
        // WHOWAS tells of bob, gone (in the status window).
        for command in ["/whowas \(bobName)", "/window 1"] {
            try tmux.type(command)
            try tmux.press("Enter")
        }
        try tmux.waitFor("the whowas") { $0.contains(bobMask) && $0.contains("End of WHOWAS") }
        try tmux.run(["kill-session", "-t", tmux.target])
        try browser.waitForText("#log") { $0.contains("ircy2 left #dev") }
    }

    @Test("WeeChat, through the balancer, registers with CAP, sees the topic, chats with an nc user on the other node")
    func weechat() throws {
        let setup = try BalancedCluster(
            nodes: 2, nodeArguments: ["--irc-port", "0"], balancerArguments: ["--irc-port", "0"])
        let ircPort = try #require(setup.balancer.ircPort)
        let home = TestEnvironment.temporaryDirectory("weechat-home")
        let tmux = try Tmux(
            command:
                "env TERM=screen LANG=C.UTF-8 weechat --dir \(home) --no-plugin=script,python,perl,ruby,lua,tcl,guile,javascript,php,spell,fifo,relay,trigger,xfer,exec,typing",
            columns: 140, rows: 35)
        try tmux.waitFor("weechat to start") { $0.contains("WeeChat") }
        for command in [
            "/server add chat 127.0.0.1/\(ircPort) -notls -nicks=weeny -username=weeny -realname=weeny",
            "/connect chat",
        ] {
            try tmux.type(command)
            try tmux.press("Enter")
        }
        let welcome = try tmux.waitFor("the welcome", timeout: 15) {
            $0.contains("Welcome to the chat") && $0.contains("(node ")
        }
        let ircNode = try Self.node(in: welcome)
        let (bob, bobName) = try Self.textUser(setup, notOn: ircNode, names: ["bob", "bobby"])
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try bob.send("/topic weechat day")
        try bob.expect("set the topic of #dev: weechat day")
        try tmux.type("/join #dev")
        try tmux.press("Enter")
        try bob.expect("weeny joined #dev", timeout: 10)
        try tmux.waitFor("the topic") { $0.contains("weechat day") }
        try bob.send("hello weechat")
        try tmux.waitFor("bob's message") { $0.contains("hello weechat") }
        try tmux.type("hi bob, from weechat")
        try tmux.press("Enter")
        try bob.expect("<weeny> hi bob, from weechat")
        try tmux.type("/nick weeny2")
        try tmux.press("Enter")
        try bob.expect("#dev: weeny is now known as weeny2")
        try tmux.waitFor("its own nick change") { $0.contains("You are now known as weeny2") }
        // WeeChat's WHOIS (its real name) and LUSERS, in its server buffer (merged with the core one: buffer 1).
        for command in ["/whois weeny2", "/lusers", "/buffer 1"] {
            try tmux.type(command)
            try tmux.press("Enter")
        }
        try tmux.waitFor("the whois and the counts") {
            $0.contains("[weeny2] (~u@\(IRCRenderer.host(of: "weeny2"))): weeny") && $0.contains("End of /WHOIS")
                && $0.contains("invisible on 2 servers")
        }
        try tmux.type("/buffer #dev")
        try tmux.press("Enter")
        try bob.send("/quit")
        try tmux.waitFor("bob's quit") { $0.contains("\(bobName)") && $0.contains("has quit") }
        let carol = try Self.textUser(setup, notOn: "none", names: ["carol"]).0
        try carol.send("/join dev")
        try carol.expect("you joined #dev")
        try tmux.run(["kill-session", "-t", tmux.target])
        try carol.expectLine("weeny2 goes") { $0.contains("weeny2 left #dev") }
    }

    @Test(
        "irssi's operator kicks and bans a web user in Chromium on the other node, who is told who did it and cannot come back on any node"
    )
    func irssiModeratesAWebUser() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let ircPort = try #require(cluster[0].ircPort)
        let (tmux, _) = try Self.irssi(nick: "modo", port: ircPort)
        // First into #mod, irssi's user is its operator.
        try tmux.type("/join #mod")
        try tmux.press("Enter")
        try tmux.waitFor("the join") { $0.contains("has joined #mod") }

        let browser = try WebDriver(logDirectory: cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(cluster[1].httpPort)/")
        try browser.logIn(as: "webby")
        let say = browser.say
        try say("/join mod")
        try tmux.waitFor("webby's join") { $0.contains("webby") && $0.contains("has joined #mod") }

        // irssi's own /kick: the page says who removed it and why; a kick is no ban.
        try tmux.type("/kick webby off topic")
        try tmux.press("Enter")
        try browser.waitForText("#log") { $0.contains("modo removed you from #mod (off topic)") }
        try say("/join mod")
        try tmux.waitFor("webby back") { $0.components(separatedBy: "has joined #mod").count > 2 }
        // irssi's own /kickban, its default ban mask (`*!*u@` and webby's host, a cloak of the nick): out, and
        // refused on the way back.
        try tmux.type("/kickban webby banned")
        try tmux.press("Enter")
        try tmux.waitFor("irssi's ban") { $0.contains("+b *!*u@\(IRCRenderer.host(of: "webby"))") }
        try browser.waitForText("#log") { $0.contains("modo removed you from #mod (banned)") }
        try say("/join mod")
        try browser.waitForText("#log") { $0.contains("banned: you are banned from #mod") }
        try say("/quit")
        try browser.waitForText("#status") { $0.contains("You left") }
        // The same name on either node, directly: still banned.
        for node in cluster.nodes {
            let again = try node.connect("webby")
            try again.expect("what is your name")
            try again.send("webby")
            try again.expect("* welcome webby")
            try again.send("/join mod")
            try again.expect("! banned you are banned from #mod")
            try again.send("/quit")
            _ = again.waitForClose()
        }
        try tmux.run(["kill-session", "-t", tmux.target])
    }
}
