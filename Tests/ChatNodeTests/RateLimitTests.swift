import ChatTestSupport
import Foundation
import Testing

/// The line rate is a client's, not a connection's: reconnecting buys no fresh burst, on any node.
@Suite("The rate limit across connections", .serialized)
struct RateLimitTests {
    @Test(
        "hello, 19 lines and quit, six times through the balancer: the burst once, then the rate, not 20 a connection")
    func reconnectingBuysNoBurst() throws {
        // 40 lines a second rather than the default 10: the same check, a quarter of the waiting.
        let rate = 40
        let balanced = try BalancedCluster(nodes: 3, nodeArguments: ["--rate-limit", String(rate)])
        let reader = try balanced.balancer.login("reader").client
        let started = Date()
        for cycle in 0..<6 {
            let client = try balanced.balancer.connect("cycler \(cycle)")
            try client.expect("what is your name")
            try client.send("cycler")
            try client.expectLine("welcome") { $0.hasPrefix("* welcome cycler") }
            try client.sendRaw(Array((1...19).map { "line \(cycle)-\($0)\n" }.joined().utf8))
            try client.send("/quit")
            // The lines past the rate wait their turn (the debt is paid by waiting), then the quit closes.
            #expect(client.waitForClose(timeout: 10), "the quit closes the connection")
        }
        let elapsed = Date().timeIntervalSince(started)
        let delivered = reader.drain(timeout: 0.3).filter { $0.contains("<cycler> line") }.count
        // The first connection's burst (20, its hello among them), then the rate for the time it took.
        let allowed = 20 + Int(elapsed * Double(rate)) + 5
        #expect(delivered <= allowed, "\(delivered) lines delivered in \(elapsed) s; at most \(allowed) were allowed")
        #expect(delivered >= 19, "the first burst went through: \(delivered)")
        #expect(delivered == 6 * 19, "nothing refused: the lines past the rate waited their turn (\(delivered))")
    }

    @Test("a per-address connection limit counts an IPv6 host by its /64, not by each of its addresses")
    func ipv6HostsCountByPrefix() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--proxy-protocol", "--max-clients-per-address", "2"])
        let first = try cluster[0].connect(from: "2001:db8:7:7::1")
        try first.expect("what is your name")
        let second = try cluster[0].connect(from: "2001:db8:7:7::2")
        try second.expect("what is your name")
        let third = try cluster[0].connect(from: "2001:db8:7:7:ffff::3")
        try third.expect("! too-many-connections")
        let elsewhere = try cluster[0].connect(from: "2001:db8:7:8::1")
        try elsewhere.expect("what is your name")
    }
}
