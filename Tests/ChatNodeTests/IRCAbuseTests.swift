import ChatTestSupport
import Foundation
import Testing

/// What an IRC client could get for free: commands the node answers by itself pay the rate like the rest, and no
/// line it is sent carries an unbounded text.
@Suite("IRC against hostile clients", .serialized)
struct IRCAbuseTests {
    @Test("PINGs and CTCP queries pay the rate: a flood of them is answered at 10 a second, not at once")
    func locallyAnsweredCommandsAreMetered() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--irc-port", "0"])
        let client = try cluster[0].ircLogin("pinger")
        let bob = try cluster[0].ircLogin("bob")
        defer { bob.close() }
        try client.sendRaw(Array((1...60).map { "PING :p\($0)\r\n" }.joined().utf8))
        let started = Date()
        var pongs = 0
        while Date().timeIntervalSince(started) < 1, let line = client.readLine(timeout: 0.2) {
            if line.contains("PONG") { pongs += 1 }
        }
        #expect(pongs <= 35, "\(pongs) PONGs within a second: the burst (20) and the rate (10 a second) at most")
        _ = try client.expectLine(
            "the last PONG, in time", where: { $0.contains("PONG") && $0.hasSuffix(":p60") }, timeout: 8)
        // CTCP queries are dropped, but not for free: 30 of them, then a WHOIS, which waits its turn.
        try client.sendRaw(Array(String(repeating: "PRIVMSG bob :\u{1}VERSION\u{1}\r\n", count: 30).utf8))
        let asked = Date()
        try client.send("WHOIS bob")
        _ = try client.expectLine("the WHOIS answer", where: { $0.contains(" 311 pinger bob ") }, timeout: 8)
        #expect(Date().timeIntervalSince(asked) > 0.8, "the WHOIS waited behind the queries it followed")
        #expect(!bob.drain(timeout: 0.2).contains { $0.contains("VERSION") }, "CTCP queries still go nowhere")
    }

    @Test("an away text from another client reaches away-notify clients cut to AWAYLEN, inside 512 bytes")
    func awayLinesAreBounded() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--irc-port", "0"])
        let watcher = try cluster[0].ircLogin("watcher", capabilities: ["away-notify"])
        try watcher.send("JOIN #lobby")
        _ = try watcher.expectLine("joined") { $0.contains(" 366 watcher #lobby ") }
        let typist = try cluster[0].login("typist")
        try typist.send("/away " + String(repeating: "x", count: 300))
        _ = try typist.expectLine("refused over 200 bytes") { $0.hasPrefix("! message-too-long") }
        let ircTypist = try cluster[0].ircLogin("ircaway")
        try ircTypist.send("JOIN #lobby")
        _ = try ircTypist.expectLine("joined") { $0.contains(" 366 ircaway #lobby ") }
        try ircTypist.send("AWAY :" + String(repeating: "y", count: 400))
        let line = try watcher.expectLine("the AWAY line") { $0.contains(" AWAY ") && $0.contains("ircaway") }
        #expect(line.utf8.count + 2 <= 512)
        #expect(line.hasSuffix(":" + String(repeating: "y", count: 200)), "cut at AWAYLEN: \(line)")
    }
}
