import ChatTestSupport
import Foundation
import Testing

/// Browsers' sessions: /ws on a node's HTTP port, one JSON object per WebSocket message, against a real Redis and
/// real nodes, next to nc users.
@Suite("WebSocket sessions and the web page", .serialized)
struct WebSocketTests {
    @Test("over a WebSocket: hello, join, messages both ways across nodes, history, direct messages, typing")
    func chat() throws {
        let cluster = try TestCluster(nodes: 2)
        let web = try TestWebSocket(port: cluster[0].httpPort)
        #expect(web.isOpen, "status \(web.responseStatus)")
        try web.sendJSON(["op": "hello", "name": "webby", "id": 1])
        let welcome = try web.expectEvent(type: "welcome")
        #expect(welcome["name"] as? String == "webby" && welcome["id"] as? Int == 1)
        _ = try web.expectEvent(type: "joined")

        let bob = try cluster[1].login("bob")
        try web.expectEvent("bob's join") { $0["type"] as? String == "join" && $0["name"] as? String == "bob" }
        try web.sendJSON(["op": "say", "text": "hi from the web", "id": "m1"])
        let ack = try web.expectEvent("the acknowledgement") {
            $0["type"] as? String == "message" && $0["id"] as? String == "m1"
        }
        #expect(ack["msgid"] is String)
        try bob.expectLine("the web message") { $0.hasSuffix("#lobby <webby> hi from the web") }
        try bob.send("hello webby")
        try web.expectEvent("bob's message") {
            $0["type"] as? String == "message" && $0["text"] as? String == "hello webby"
        }

        try bob.send("/msg webby psst")
        try web.expectEvent("the direct message") {
            $0["type"] as? String == "direct" && $0["from"] as? String == "bob"
        }
        try web.sendJSON(["op": "msg", "to": "bob", "text": "psst back"])
        try bob.expectLine("the reply") { $0.hasSuffix("*webby* psst back") }

        try web.sendJSON(["op": "history", "room": "lobby", "limit": 10])
        let history = try web.expectEvent(type: "history")
        let texts = (history["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        #expect(texts == ["hi from the web", "hello webby"])

        try web.sendJSON(["op": "join", "room": "dev"])
        try web.expectEvent("the join of dev") { $0["type"] as? String == "joined" && $0["room"] as? String == "dev" }
        let carol = try cluster[1].loginJSON("carol")
        try carol.sendJSON(["op": "join", "room": "dev"])
        _ = try carol.expectEvent("carol's join reply") {
            $0["type"] as? String == "joined" && $0["room"] as? String == "dev"
        }
        try web.sendJSON(["op": "typing", "room": "dev"])
        let typing = try carol.expectEvent(type: "typing")
        #expect(typing["name"] as? String == "webby" && typing["room"] as? String == "dev")

        // Closing the WebSocket is leaving: the others see it.
        try web.send(opcode: 8, [0x03, 0xE8])
        #expect(web.waitForClose())
        try bob.expectLine("webby's departure") { $0.contains("webby left #lobby") }
    }

    @Test("an oversized message closes the WebSocket with 1009; a message that is not JSON gets bad-request")
    func limits() throws {
        let cluster = try TestCluster(nodes: 1)
        let web = try TestWebSocket(port: cluster[0].httpPort)
        let greeting = try web.expectEvent(type: "greeting")
        #expect(
            (greeting["server"] as? String)?.contains("n1") == true, "a WebSocket session speaks JSON from the start")
        try web.sendText("hello there")
        let error = try web.expectEvent(type: "error")
        #expect(error["code"] as? String == "bad-request")
        try web.sendJSON(["op": "hello", "name": "big"])
        _ = try web.expectEvent(type: "joined")
        try web.sendText(#"{"op":"say","text":""# + String(repeating: "x", count: 5000) + #""}"#)
        #expect(web.waitForClose())
        #expect(web.closeCode == 1009, "close code \(web.closeCode.map(String.init) ?? "none")")

        // The same for a message sent in fragments that are small alone and too large together.
        let fragmented = try TestWebSocket(port: cluster[0].httpPort)
        _ = try fragmented.expectEvent(type: "greeting")
        try fragmented.send(
            opcode: 1, Array((#"{"op":"hello","name":""# + String(repeating: "y", count: 3000)).utf8), final: false)
        try fragmented.send(opcode: 0, Array((String(repeating: "y", count: 3000) + #""}"#).utf8))
        #expect(fragmented.waitForClose())
        #expect(fragmented.closeCode == 1009, "close code \(fragmented.closeCode.map(String.init) ?? "none")")
    }

    @Test("a page from a foreign origin may not open a session; the page's own origin and programs may")
    func origins() throws {
        let cluster = try TestCluster(nodes: 1)
        let port = cluster[0].httpPort
        #expect(try TestWebSocket(port: port, origin: "http://evil.example").responseStatus == 403)
        #expect(try TestWebSocket(port: port, origin: "http://127.0.0.1:\(port)").isOpen)
        #expect(try TestWebSocket(port: port).isOpen)
    }

    @Test("GET / serves the page with a Content-Security-Policy that forbids inline script; its assets load")
    func page() throws {
        let cluster = try TestCluster(nodes: 1)
        let port = cluster[0].httpPort
        func get(_ path: String) throws -> (head: [String], body: String) {
            let socket = try TestSocket(port: port, name: "http")
            try socket.sendRaw(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
            var lines: [String] = []
            while let line = socket.readLine(timeout: 5) { lines.append(line) }
            let split = lines.firstIndex(of: "") ?? lines.count
            return (Array(lines[..<split]), lines[min(split + 1, lines.count)...].joined(separator: "\n"))
        }
        let index = try get("/")
        #expect(index.head.first?.contains("200") == true)
        let policy = index.head.first { $0.lowercased().hasPrefix("content-security-policy:") } ?? ""
        #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "\(index.head)")
        #expect(index.body.contains(#"<script src="app.js" defer></script>"#))
        #expect(!index.body.contains("<script>"), "no inline script")
        #expect(try get("/app.js").head.contains { $0.lowercased() == "content-type: text/javascript; charset=utf-8" })
        #expect(try get("/app.css").head.first?.contains("200") == true)
        // Installable: a manifest (allowed by the policy) and icons; /favicon.ico is not a 404 in the console.
        #expect(policy.contains("manifest-src 'self'"), "\(index.head)")
        let manifest = try get("/manifest.webmanifest")
        #expect(manifest.head.contains { $0.lowercased() == "content-type: application/manifest+json" })
        #expect(manifest.body.contains(#""display": "standalone""#) && manifest.body.contains("icon-512.png"))
        for icon in ["/icon-192.png", "/icon-512.png", "/favicon.ico"] {
            #expect(try get(icon).head.contains { $0.lowercased() == "content-type: image/png" }, "\(icon)")
        }
        #expect(try get("/nothing-here").head.first?.contains("404") == true)
        #expect(try get("/health").head.first?.contains("404") == true, "operations are not on the public port")
        #expect(try get("/metrics").head.first?.contains("404") == true)
        #expect(try HTTPGet.get(port: cluster[0].opsPort, path: "/health").body.contains("\"status\":\"ok\""))
        #expect(
            try HTTPGet.get(port: cluster[0].opsPort, path: "/").status == 404, "and the page is not on the ops port")
    }
}
