import ChatTestSupport
import Foundation
import Testing

/// What one request may cost when a room is big: a `who` reply stays small whatever its members wrote, a page at a
/// time, and its cost in Redis does not grow with the room.
@Suite("Requests whose cost grows with a room", .serialized)
struct RoomSizeCostTests {
    @Test("140 members with the longest away text do not get a web client's who dropped; the list comes in pages")
    func whoOfRoomFullOfAwayTexts() throws {
        let cluster = try TestCluster(nodes: 1)
        let quotes = String(repeating: "\"", count: 4089)
        let first = try cluster[0].login("squat0")
        try first.send("/away " + quotes)
        _ = try first.expectLine("the refusal") { $0.hasPrefix("! message-too-long") && $0.contains("200 bytes") }
        var squatters = [first]
        for index in 1..<140 { squatters.append(try cluster[0].login("squat\(index)")) }
        let longest = String(repeating: "\"", count: 200)
        for squatter in squatters { try squatter.send("/away " + longest) }
        for squatter in squatters { try squatter.expect("you are marked away") }

        // The web page's hello and who, as it sends them after every join.
        let web = try cluster[0].loginJSON("webuser")
        var listed: Set<String> = []
        var next: String? = nil
        var pages = 0
        repeat {
            var request: [String: Any] = ["op": "who", "room": "lobby", "id": 7]
            if let next { request["after"] = next }
            try web.sendJSON(request)
            let page = try web.expectEvent(type: "who")
            pages += 1
            let members = page["members"] as? [[String: Any]] ?? []
            #expect(members.count <= 130, "a page holds about 100 members, not \(members.count)")
            #expect(page["count"] as? Int == 141)
            for member in members { listed.insert(member["name"] as? String ?? "") }
            next = page["next"] as? String
        } while next != nil && pages < 10
        #expect(listed.count == 141, "every member listed once the pages are read: \(listed.count)")
        #expect(pages >= 2, "a room this big comes in more than one page")
        try web.sendJSON(["op": "ping", "id": 8])
        _ = try web.expectEvent(type: "pong")
        let metrics = try HTTPGet.get(port: cluster[0].opsPort, path: "/metrics").body
        #expect(metrics.contains("chat_slow_consumer_disconnects_total 0"), "nobody was dropped")
    }

    @Test("a page of history of large messages reads about a page from Redis, not 200 messages")
    func historyReadsAboutAPage() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--rate-limit", "1000", "--rate-burst", "1000"])
        let writer = try cluster[0].loginJSON("writer")
        let text = String(repeating: "w", count: 2000)
        for index in 0..<200 {
            try writer.sendJSON(["op": "say", "text": text, "id": index])
        }
        _ = try writer.expectEvent(timeout: 20, "the last acknowledgement") { $0["id"] as? Int == 199 }
        func redisBytesOut() throws -> Int {
            let info = try cluster.redis.cli(["INFO", "stats"])
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_net_output_bytes:") } ?? ""
            return Int(line.split(separator: ":").last ?? "") ?? 0
        }
        let reader = try cluster[0].loginJSON("reader")
        let before = try redisBytesOut()
        for read in 0..<10 {
            try reader.sendJSON(["op": "history", "room": "lobby", "limit": 200, "id": "h\(read)"])
            let page = try reader.expectEvent("page \(read)") { $0["id"] as? String == "h\(read)" }
            let messages = page["messages"] as? [[String: Any]] ?? []
            #expect((50...70).contains(messages.count), "a page of about 128 KiB: \(messages.count) messages")
            #expect(page["more"] as? Bool == true)
        }
        let perRead = (try redisBytesOut() - before) / 10
        #expect(perRead < 200_000, "Redis sent \(perRead) bytes per page of about 130 KB")
    }

    @Test("NAMES asked by 30 IRC clients at once reads the room's members from Redis about once, not 30 times")
    func namesAskedAtOnceAreReadOnce() throws {
        // A connect storm is thousands of JOINs at once, each followed by its room's NAMES: one member lookup per
        // member per NAMES was a million lookups for a thousand joins to a thousand-member room.
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--irc-port", "0"])
        var members: [TestSocket] = []
        for index in 0..<40 { members.append(try cluster[0].login("member\(index)")) }
        var askers: [TestSocket] = []
        for index in 0..<30 { askers.append(try cluster[0].ircLogin("asker\(index)")) }
        func memberLookups() throws -> Int {
            let stats = try cluster.redis.cli(["INFO", "commandstats"])
            let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_hmget:") } ?? ""
            return Int(line.split(separator: "=")[1].split(separator: ",")[0]) ?? 0
        }
        let before = try memberLookups()
        // Redis stopped while they ask, so that all thirty are waiting at once, as in a storm.
        cluster.redis.pause()
        for asker in askers { try asker.send("NAMES #lobby") }
        Thread.sleep(forTimeInterval: 0.5)
        cluster.redis.resume()
        for asker in askers {
            let names = try asker.expectLine("the names") { $0.contains(" 353 ") }
            #expect(names.contains("member39"))
            _ = try asker.expect(" 366 ")
        }
        let lookups = try memberLookups() - before
        // One reading is 40 lookups; the first asker's reading and one shared by the other 29: about 80.
        #expect(lookups <= 3 * 40, "\(lookups) member lookups for 30 NAMES of a 40-member room")
    }
}
