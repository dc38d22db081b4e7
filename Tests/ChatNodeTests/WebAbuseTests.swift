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

    @Test("DNS rebinding: a page under a rebound name opens no session and reads neither /health nor the status page")
    func rebindingIsRefused() throws {
        let cluster = try TestCluster(nodes: 1)
        let node = cluster[0]
        let upgrade: (String, String) -> [(String, String)] = { host, origin in
            [
                ("Host", host), ("Origin", origin), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
            ]
        }
        // Host and Origin agree, as they do for any page: under a name, refused; under an address, a session.
        #expect(
            try HTTPGet.status(
                port: node.httpPort, path: "/ws", headers: upgrade("rebind.example", "http://rebind.example")) == 403)
        let own = "127.0.0.1:\(node.httpPort)"
        #expect(try HTTPGet.status(port: node.httpPort, path: "/ws", headers: upgrade(own, "http://\(own)")) == 101)
        // The operations port and the balancer's admin port answer addresses and localhost only.
        #expect(try HTTPGet.status(port: node.opsPort, path: "/health", headers: [("Host", "rebind.example")]) == 403)
        #expect(try HTTPGet.status(port: node.opsPort, path: "/health", headers: [("Host", "localhost:9101")]) == 200)
        let balanced = try BalancedCluster(nodes: 1)
        let admin = balanced.balancer.adminPort
        for path in ["/status", "/nodes", "/"] {
            #expect(try HTTPGet.status(port: admin, path: path, headers: [("Host", "rebind.example:\(admin)")]) == 403)
        }
        #expect(try HTTPGet.status(port: admin, path: "/status", headers: [("Host", "127.0.0.1:\(admin)")]) == 200)
    }

    @Test("refused foreign origins are logged a few times a second, each origin cut short")
    func refusedOriginsDoNotFloodTheLog() throws {
        let cluster = try TestCluster(nodes: 1)
        let before = cluster[0].process.stderr().utf8.count + cluster[0].process.stdout().utf8.count
        let origin = "http://" + String(repeating: "o", count: 8192) + ".example"
        let client = try TestSocket(port: cluster[0].httpPort, name: "origins")
        let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: \(origin)\r\n\r\n"
        try client.sendRaw(Array(String(repeating: request, count: 500).utf8))
        var answered = 0
        while answered < 500, let line = client.readLine(timeout: 5) {
            if line.hasPrefix("HTTP/1.1 403") { answered += 1 }
        }
        #expect(answered == 500)
        let grown = cluster[0].process.stderr().utf8.count + cluster[0].process.stdout().utf8.count - before
        #expect(grown < 20_000, "the log grew by \(grown) bytes for 500 refusals")
    }
}
