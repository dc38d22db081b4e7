import ChatBench
import ChatTestSupport
import Endpoints
import Testing

/// chat-bench's IRC clients against a node's IRC port: they must stay connected as long as a run lasts.
@Suite("chat-bench over IRC", .serialized)
struct BenchIRCTests {
    @Test(
        "bench IRC clients answer the node's pings (`:node PING node`), so a run longer than the ping timeout loses nothing"
    )
    func answersPings() async throws {
        // Pinged after 1 s of silence and closed 1 s later unanswered: a 5-second run outlasts that.
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--irc-port", "0", "--ping-after", "1"])
        var plan = BenchmarkPlan(
            targets: [HostPort(host: "127.0.0.1", port: try #require(cluster[0].ircPort))], clients: 6, rooms: 1,
            senders: 1, rate: 2, duration: 5)
        plan.mode = .irc
        plan.threads = 1
        let result = try await Benchmark.run(plan, progress: { _ in })
        #expect(result.sent >= 8)
        // Every message reaches the other five (IRC sends nobody their own).
        #expect(result.delivered == result.expected, "sent \(result.sent), delivered \(result.delivered)")
        #expect(result.errors.isEmpty, "\(result.errors)")
    }
}
