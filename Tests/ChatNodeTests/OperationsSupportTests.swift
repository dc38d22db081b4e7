import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ChatCommandSupport

/// The pieces of the servers' operations that need no process: JSON log lines and the event loops' heartbeats.
@Suite("Logs and liveness")
struct OperationsSupportTests {
    @Test(
        "a JSON log line is one line of valid JSON whatever the message and metadata hold; reserved keys are kept apart"
    )
    func jsonLogLine() throws {
        let line = JSONLogHandler.line(
            time: Date(timeIntervalSince1970: 1_796_000_000.123), level: .warning, label: "chat-node",
            message: "a \"quoted\"\nsecond line\u{1b}[31m", source: "ChatNode",
            metadata: [
                "message": "a client's own", "client.name": "bob\"\n{", "list": .array(["a", "b"]),
                "nested": .dictionary(["k": "v"]),
            ])
        #expect(line.hasSuffix("}\n") && line.dropLast().allSatisfy { $0 != "\n" }, "\(line)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "2026-11-30T00:53:20.123Z")
        #expect(object["level"] as? String == "warning" && object["logger"] as? String == "chat-node")
        #expect(object["message"] as? String == "a \"quoted\"\nsecond line\u{1b}[31m")
        #expect(object["metadata.message"] as? String == "a client's own")
        #expect(object["client.name"] as? String == "bob\"\n{")
        #expect(object["list"] as? [String] == ["a", "b"] && (object["nested"] as? [String: String])?["k"] == "v")
    }

    @Test("a loop that stops running its tasks is reported stuck after five seconds; running loops never are")
    func heartbeats() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loops = Array(group.makeIterator())
        let heartbeats = LoopHeartbeats(loops)
        defer { heartbeats.stop() }
        // Both beat at once; a reading now finds none stuck.
        Thread.sleep(forTimeInterval: 0.2)
        #expect(heartbeats.stuck().loops.isEmpty)
        #expect(heartbeats.livenessAnswer().ok)
        // Loop 1 held by a task that does not return: its beat stops, loop 0's goes on.
        let release = DispatchSemaphore(value: 0)
        loops[1].execute { release.wait() }
        Thread.sleep(forTimeInterval: 1.5)
        // Read 4.2 s ahead: loop 1 has not beaten for at least 5.7 s then, loop 0 for at most about 4.7.
        let later = NIODeadline.now() + .milliseconds(4200)
        #expect(heartbeats.stuck(now: later).loops == [1])
        release.signal()
        Thread.sleep(forTimeInterval: 0.8)
        #expect(heartbeats.stuck(now: NIODeadline.now() + .seconds(4)).loops.isEmpty)
    }
}
