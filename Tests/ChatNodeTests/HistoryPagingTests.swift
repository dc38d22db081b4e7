import ChatTestSupport
import Foundation
import Testing

/// History and resume replies come in pages that stay well inside the outbound limit, and a client is told when
/// what it asked for is no longer all there.
@Suite("History in pages, and gaps", .serialized)
struct HistoryPagingTests {
    /// Publishes `count` messages of about `size` bytes from a JSON client, reading its acknowledgements as it goes
    /// (they would otherwise pile up past its own outbound limit); returns their ids.
    func publish(_ count: Int, size: Int, from writer: TestSocket) throws -> [String] {
        var ids: [String] = []
        let filler = String(repeating: "x", count: size - 12)
        for batch in stride(from: 0, to: count, by: 50) {
            for index in batch..<min(count, batch + 50) {
                try writer.sendJSON(["op": "say", "text": String(format: "%05d ", index) + filler, "id": "w\(index)"])
            }
            for index in batch..<min(count, batch + 50) {
                let ack = try writer.expectEvent("acknowledgement \(index)") { $0["id"] as? String == "w\(index)" }
                ids.append(try #require(ack["msgid"] as? String))
            }
        }
        return ids
    }

    @Test("700 messages of 1.9 KB after since 1-0: every one arrives, in order, once, in pages; nobody is dropped")
    func largeResume() throws {
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        let writer = try cluster[0].loginJSON("writer")
        let ids = try publish(700, size: 1900, from: writer)

        let reader = try cluster[1].loginJSON("reader")
        try reader.sendJSON(["op": "join", "room": "lobby", "since": "1-0", "id": "r"])
        var page = try reader.expectEvent("the resume's first page") {
            $0["type"] as? String == "joined" && $0["id"] as? String == "r"
        }
        var received = (page["history"] as? [[String: Any]] ?? []).compactMap { $0["msgid"] as? String }
        var pages = 1
        while page["more"] as? Bool == true {
            try reader.sendJSON(["op": "history", "room": "lobby", "after": received.last!, "id": "p\(pages)"])
            page = try reader.expectEvent("page \(pages)") {
                $0["type"] as? String == "history" && $0["id"] as? String == "p\(pages)"
            }
            received += (page["messages"] as? [[String: Any]] ?? []).compactMap { $0["msgid"] as? String }
            pages += 1
        }
        #expect(received == ids, "all 700, in order, nothing twice")
        #expect(pages >= 6, "at 128 KiB a page, 1.3 MB takes several pages (took \(pages))")
        let longest = reader.received.map(\.utf8.count).max() ?? 0
        #expect(longest < 512 * 1024, "no reply near the 1 MiB outbound limit (the longest line was \(longest) bytes)")
        try reader.sendJSON(["op": "ping", "id": "still"])
        _ = try reader.expectEvent("the reader is still connected") { $0["type"] as? String == "pong" }
        #expect(
            !(try String(contentsOfFile: cluster.logDirectory + "/n2.err", encoding: .utf8)).contains("slow consumer"))
    }

    @Test("a resume from before what the room still keeps is told of the gap, then gets what is left")
    func gapNotice() throws {
        let cluster = try TestCluster(
            nodes: 1, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000", "--history-length", "10"])
        let writer = try cluster[0].loginJSON("writer")
        let ids = try publish(300, size: 40, from: writer)

        let reader = try cluster[0].loginJSON("reader")
        try reader.sendJSON(["op": "join", "room": "lobby", "since": ids[0], "id": "r"])
        let gap = try reader.expectEvent(type: "gap")
        #expect(gap["room"] as? String == "lobby" && gap["after"] as? String == ids[0] && gap["lost"] as? Bool == true)
        let joined = try reader.expectEvent(type: "joined")
        let kept = (joined["history"] as? [[String: Any]] ?? []).compactMap { $0["msgid"] as? String }
        #expect(!kept.isEmpty && kept.last == ids.last, "what is kept, up to the newest")
        #expect(gap["oldest"] as? String == kept.first)

        // Resuming from a message still kept: no gap.
        try reader.sendJSON(["op": "history", "room": "lobby", "after": kept[0], "id": "h"])
        let page = try reader.expectEvent(type: "history")
        #expect((page["messages"] as? [[String: Any]])?.count == kept.count - 1)
        #expect(!reader.drain().contains { $0.contains("\"gap\"") })
    }
}
