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
}
