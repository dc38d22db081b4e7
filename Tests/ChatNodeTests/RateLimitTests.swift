import ChatTestSupport
import Foundation
import Testing

/// The line rate is a client's, not a connection's: reconnecting buys no fresh burst, on any node.
@Suite("The rate limit across connections", .serialized)
struct RateLimitTests {
    @Test("hello, 19 lines and quit, ten times through the balancer: the burst once, then the rate, not 190 lines")
    func reconnectingBuysNoBurst() throws {
        let balanced = try BalancedCluster(nodes: 3)
        let reader = try balanced.balancer.login("reader").client
        let started = Date()
        for cycle in 0..<10 {
            let client = try balanced.balancer.connect("cycler \(cycle)")
            try client.expect("what is your name")
            try client.send("cycler")
            try client.expectLine("welcome") { $0.hasPrefix("* welcome cycler") }
            try client.sendRaw(Array((1...19).map { "line \(cycle)-\($0)\n" }.joined().utf8))
            try client.send("/quit")
            #expect(client.waitForClose(), "the quit closes the connection")
        }
        let elapsed = Date().timeIntervalSince(started)
        let delivered = reader.drain(timeout: 1).filter { $0.contains("<cycler> line") }.count
        // The first connection's burst (20, its hello among them), then 10 a second for the time it took.
        let allowed = 20 + Int(elapsed * 10) + 5
        #expect(delivered <= allowed, "\(delivered) lines delivered in \(elapsed) s; at most \(allowed) were allowed")
        #expect(delivered >= 19, "the first burst went through: \(delivered)")
    }
}
