import ChatTestSupport
import Foundation
import Testing

/// What a stranger can do to a node over plain HTTP: pipeline requests it never reads, rebind a DNS name to reach
/// the ports it should not, flood the log with what it sends.
@Suite("The node's HTTP ports against hostile clients", .serialized)
struct WebAbuseTests {
    @Test("pipelined requests that are never read stall the client, not the node's memory")
    func pipelinedRequestsUnread() throws {
        let cluster = try TestCluster(nodes: 1)
        let node = cluster[0].process
        // The page's three files first, so what they cost to load is in the baseline.
        for path in ["/", "/app.js", "/app.css"] { _ = try HTTPGet.get(port: cluster[0].httpPort, path: path) }
        let before = node.residentBytes()
        let attacker = try TestSocket(port: cluster[0].httpPort, name: "pipeliner", receiveBuffer: 4096)
        // A browser's request, about 250 bytes, so the kernel's buffers cannot hold all of them.
        let request = Array(
            ("GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n"
                + "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
                + "Accept-Encoding: gzip, deflate\r\n\r\n").utf8)
        let sent = attacker.sendRepeatedly(request, count: 150_000, seconds: 5)
        let grown = node.residentBytes() - before
        #expect(sent < 150_000, "the node stopped reading: \(sent) requests went out")
        #expect(grown < 16 << 20, "the node's memory grew by \(grown >> 20) MiB for \(sent) unread responses")
        // Everybody else is served meanwhile, and the attacker's own answers are there when it reads.
        #expect(try HTTPGet.get(port: cluster[0].httpPort, path: "/").status == 200)
        #expect(try attacker.expectLine("its first answer") { $0.hasPrefix("HTTP/1.1 200") }.contains("200"))
    }
}
