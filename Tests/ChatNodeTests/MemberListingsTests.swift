import ChatCore
import ChatStore
import ChatTestSupport
import Logging
import NIOPosix
import RedisClient
import Testing

@testable import ChatNode

/// A node's shared member-list readings, against a real Redis: coalesced, but never older than the request.
@Suite("Member listings shared on a node", .serialized)
struct MemberListingsTests {
    @Test("asked while a reading is under way, a listing waits for the next one: three asked at once cost two readings")
    func neverOlderThanTheRequest() async throws {
        let redis = try RedisServer()
        let client = RedisClient(
            address: try RedisAddress(url: redis.url), eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
            scripts: ChatStore.scripts, logger: Logger(label: "test"))
        client.start()
        guard eventually(timeout: 5, { client.isConnected }) else { throw HarnessError("no connection") }
        defer { Task { await client.stop() } }
        let store = ChatStore(
            redis: client, incarnation: "a", nodeID: "node-a", claimTTLSeconds: 30, historyLength: 100)
        let room = RoomName(trusted: "dev")
        _ = try redis.cli(["HSET", "chat:members:{dev}", "alice", "a:1"])
        func scans() throws -> Int {
            let stats = try redis.cli(["INFO", "commandstats"])
            let line = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_hscan:") } ?? ""
            return line.isEmpty ? 0 : Int(line.split(separator: "=")[1].split(separator: ",")[0]) ?? 0
        }
        let listings = MemberListings(store: store)
        let before = try scans()
        // The first starts a reading; the other two arrive while it is under way (Redis stopped), so it may not
        // have seen what happened just before they asked: they share the next reading, not this one.
        redis.pause()
        let first = listings.who(room, listing: .everyone)
        try await Task.sleep(for: .milliseconds(100))
        let second = listings.who(room, listing: .everyone)
        let third = listings.who(room, listing: .everyone)
        redis.resume()
        for listing in [first, second, third] { _ = try await listing.get() }
        #expect(try scans() - before == 2, "one reading for the first, one shared by the two that came during it")
        // Nothing under way any more: the next request reads anew.
        _ = try await listings.who(room, listing: .everyone).get()
        #expect(try scans() - before == 3)
    }
}
