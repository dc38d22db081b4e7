import ChatTestSupport
import Foundation
import Testing

/// Who may speak for whom: PROXY headers only from trusted proxies; operations endpoints only on their own port.
@Suite("Trusted proxies and the operations port", .serialized)
struct TrustTests {
    @Test("a PROXY header from a peer that is not a trusted proxy names nobody: the peer is taken at its own address")
    func untrustedProxyHeader() throws {
        let cluster = try TestCluster(
            nodes: 1,
            nodeArguments: ["--proxy-protocol", "--trusted-proxies", "192.0.2.1", "--max-clients-per-address", "1"])
        // Not trusted, so a direct client: it is greeted at once, without waiting for a header.
        let forger = try cluster[0].connect("forger")
        try forger.expect("what is your name")
        try forger.send("PROXY UNKNOWN")
        _ = try forger.expectLine("the line is a name, and not a valid one") { $0.hasPrefix("! name-invalid") }
        // The per-address limit holds for it: PROXY UNKNOWN did not take it out of the count.
        let second = try cluster[0].connect("second")
        try second.expect("! too-many-connections too many connections from 127.0.0.1")
        try forger.send("PROXY TCP4 203.0.113.9 192.0.2.2 5555 7001")
        _ = try forger.expectLine("still not a name") { $0.hasPrefix("! name-invalid") }
        try forger.send("forger")
        try forger.expect("welcome forger")
        #expect(!cluster[0].process.stderr().contains("203.0.113.9"), "the forged address is never believed")
    }

    @Test("a new room that looks like one in use (another script, another width) is refused, saying which")
    func lookAlikeRoom() throws {
        let cluster = try TestCluster(nodes: 1)
        let alice = try cluster[0].login("alice")
        try alice.send("/join cocoa")
        try alice.expect("you joined #cocoa")
        try alice.send("/join \u{0441}\u{043E}\u{0441}\u{043E}\u{0430}")  // all Cyrillic
        _ = try alice.expectLine("the refusal") { $0.hasPrefix("! room-invalid") && $0.contains("looks like #cocoa") }
        try alice.send("/join \u{FF43}\u{FF4F}\u{FF43}\u{FF4F}\u{FF41}")  // fullwidth: the same room, folded
        try alice.expect("#cocoa is now your current room")
    }

    @Test("/health and /metrics are on the operations port, on loopback, and nowhere else")
    func operationsPort() throws {
        let cluster = try TestCluster(nodes: 1)
        #expect(try HTTPGet.get(port: cluster[0].opsPort, path: "/metrics").body.contains("chat_connections"))
        #expect(try HTTPGet.get(port: cluster[0].httpPort, path: "/metrics").status == 404)
        #expect(cluster[0].process.stdout().contains("ops=127.0.0.1:"), "bound to loopback by default")
    }
}
