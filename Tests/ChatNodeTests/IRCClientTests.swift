import ChatTestSupport
import Foundation
import Testing

/// Real IRC clients, irssi and WeeChat from Debian, in tmux against two nodes and Redis: each registers, joins a
/// channel and chats with an nc user on the other node; when the IRC client is killed, the others see it go.
@Suite("Real IRC clients in tmux", .serialized)
struct IRCClientTests {
    @Test("irssi registers, joins #dev, chats with an nc user on another node, and its end is seen")
    func irssi() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let ircPort = try #require(cluster[0].ircPort)
        let home = TestEnvironment.temporaryDirectory("irssi-home")
        let tmux = try Tmux(
            command: "env TERM=screen HOME=\(home) LANG=C.UTF-8 irssi --noconnect -n ircy", columns: 120, rows: 30)
        try tmux.waitFor("irssi to start") { $0.contains("[(status)]") }
        try tmux.type("/connect 127.0.0.1 \(ircPort)")
        try tmux.press("Enter")
        try tmux.waitFor("the welcome") { $0.contains("Welcome to the chat") }
        let bob = try cluster[1].login("bob")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try tmux.type("/join #dev")
        try tmux.press("Enter")
        try tmux.waitFor("the join, and bob in the names") { $0.contains("has joined #dev") && $0.contains("bob") }
        try bob.expect("ircy joined #dev")
        try bob.send("hello irssi")
        try tmux.waitFor("bob's message") { $0.contains("< bob> hello irssi") }
        try tmux.type("hi bob, from irssi")
        try tmux.press("Enter")
        try bob.expect("<ircy> hi bob, from irssi")

        try tmux.run(["kill-session", "-t", tmux.target])
        try bob.expectLine("ircy goes") { $0.contains("ircy left #dev") }
    }

    @Test("WeeChat registers with CAP, joins, chats with an nc user on another node")
    func weechat() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--irc-port", "0"])
        let ircPort = try #require(cluster[0].ircPort)
        let home = TestEnvironment.temporaryDirectory("weechat-home")
        let tmux = try Tmux(
            command: "env TERM=screen LANG=C.UTF-8 weechat --dir \(home) --no-plugin=script,python,perl,ruby,lua,tcl,guile,javascript,php,spell,fifo,relay,trigger,xfer,exec,typing",
            columns: 140, rows: 35)
        try tmux.waitFor("weechat to start") { $0.contains("WeeChat") }
        for command in [
            "/server add chat 127.0.0.1/\(ircPort) -notls -nicks=weeny -username=weeny -realname=weeny",
            "/connect chat",
        ] {
            try tmux.type(command)
            try tmux.press("Enter")
        }
        try tmux.waitFor("the welcome", timeout: 15) { $0.contains("Welcome to the chat") }
        let bob = try cluster[1].login("bob")
        try bob.send("/join dev")
        try bob.expect("you joined #dev")
        try tmux.type("/join #dev")
        try tmux.press("Enter")
        try bob.expect("weeny joined #dev", timeout: 10)
        try bob.send("hello weechat")
        try tmux.waitFor("bob's message") { $0.contains("hello weechat") }
        try tmux.type("hi bob, from weechat")
        try tmux.press("Enter")
        try bob.expect("<weeny> hi bob, from weechat")
    }
}
