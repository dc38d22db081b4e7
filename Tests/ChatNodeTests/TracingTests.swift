import ChatCore
import ChatTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import ChatTracing

#if canImport(Glibc)
import Glibc
#endif

/// OpenTelemetry traces (`--otlp-endpoint`): real nodes post to a collector stand-in that checks every request with
/// OpenTelemetry's own protobuf definitions of OTLP (scripts/otlp-collector.py).
@Suite("Traces", .serialized)
struct TracingTests {
    @Test("a room message is one trace across nodes: the request, its publish, each node's fan-out; logins and DMs too")
    func messagePath() throws {
        let collector = try OTLPCollector()
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--otlp-endpoint", collector.endpoint])
        // A node that starts no trace of its own, but continues those that reach it.
        let sampledOut = try cluster.addNode(id: "n3", extraArguments: ["--trace-sample-ratio", "0"])
        let alice = try cluster[0].loginJSON("alice")
        let bob = try cluster[1].login("bob")
        let carol = try cluster[0].login("carol")
        let dave = try sampledOut.login("dave")
        try alice.expect("dave")
        try dave.send("untraced")
        try bob.expectLine("dave's message") { $0.hasSuffix("<dave> untraced") }
        try alice.sendJSON(["op": "say", "text": "traced hello", "id": "s1"])
        let acknowledged = try alice.expectEvent("the acknowledgement") { $0["id"] as? String == "s1" }
        try bob.expectLine("the message on the other node") { $0.hasSuffix("<alice> traced hello") }
        try carol.expectLine("the message on the sender's node") { $0.hasSuffix("<alice> traced hello") }
        try bob.send("/msg alice psst")
        _ = try alice.expectEvent("the direct message") { $0["type"] as? String == "direct" }

        var spans: [[String: Any]] = []
        let complete = eventually(timeout: 10) {
            spans = collector.spans()
            let fanouts = spans.filter { $0["name"] as? String == "chat.message.fanout" }
            return fanouts.count >= 3 && spans.contains { $0["name"] as? String == "chat.direct.fanout" }
        }
        #expect(complete, "spans: \(spans)")
        #expect(collector.errors().isEmpty, "every post is valid OTLP: \(collector.errors())")

        // The sender's request, on the sender's node.
        let message = try #require(spans.first { $0["name"] as? String == "chat.message" })
        #expect(message["kind"] as? Int == 2 && Self.attribute("chat.room", of: message) as? String == "lobby")
        #expect(Self.resource("service.instance.id", of: message) == "n1")
        #expect(Self.resource("service.name", of: message) == "chat-node")
        #expect(Self.resource("service.version", of: message) == ChatVersion.number)
        #expect(Self.attribute("chat.user", of: message) as? String == "alice")
        #expect(Self.attribute("chat.protocol", of: message) as? String == "json")
        let id = Self.attribute("chat.message.id", of: message) as? String
        #expect(id != nil && id == acknowledged["msgid"] as? String, "\(message) \(acknowledged)")
        #expect((message["parentSpanId"] as? String)?.isEmpty == true, "a trace begins with the request")
        // Its publish to Redis, inside it.
        let publish = try #require(spans.first { $0["parentSpanId"] as? String == message["spanId"] as? String })
        #expect(publish["name"] as? String == "chat.message.publish" && publish["kind"] as? Int == 4)
        #expect(publish["traceId"] as? String == message["traceId"] as? String)
        #expect(Self.attribute("messaging.destination.name", of: publish) as? String != nil)
        // Each node's fan-out continues the trace from the publish, the other node's too.
        let fanouts = spans.filter {
            $0["name"] as? String == "chat.message.fanout" && $0["traceId"] as? String == message["traceId"] as? String
        }
        #expect(
            fanouts.compactMap { Self.resource("service.instance.id", of: $0) }.sorted() == ["n1", "n2", "n3"],
            "one fan-out per node: \(fanouts)"
        )
        for fanout in fanouts {
            #expect(fanout["parentSpanId"] as? String == publish["spanId"] as? String && fanout["kind"] as? Int == 5)
            #expect(Self.attribute("chat.message.id", of: fanout) as? String == id)
            #expect((fanout["start"] as? Int ?? 0) >= (publish["start"] as? Int ?? .max))
        }
        let remote = fanouts.first { Self.resource("service.instance.id", of: $0) == "n2" }
        #expect(remote.flatMap { Self.attribute("chat.recipients", of: $0) as? Int } == 1, "bob: \(fanouts)")
        #expect((message["end"] as? Int ?? 0) >= (publish["end"] as? Int ?? .max), "the request waits for its publish")

        // Logins: each a trace, saying how it went and over what.
        let logins = spans.filter { $0["name"] as? String == "chat.login" }
        let bobsLogin = logins.first { Self.attribute("chat.user", of: $0) as? String == "bob" }
        #expect(bobsLogin.flatMap { Self.attribute("chat.login.outcome", of: $0) as? String } == "granted")
        #expect(bobsLogin.flatMap { Self.attribute("chat.protocol", of: $0) as? String } == "text")
        #expect(logins.count >= 3, "\(logins)")

        // A direct message: from bob's node to alice's.
        let direct = try #require(spans.first { $0["name"] as? String == "chat.direct" })
        #expect(Self.resource("service.instance.id", of: direct) == "n2")
        #expect(Self.attribute("chat.to", of: direct) as? String == "alice")
        let directPublish = spans.first { $0["parentSpanId"] as? String == direct["spanId"] as? String }
        #expect(directPublish?["name"] as? String == "chat.direct.publish")
        let delivered = spans.first {
            $0["name"] as? String == "chat.direct.fanout"
                && $0["parentSpanId"] as? String == directPublish?["spanId"] as? String
        }
        #expect(delivered.map { Self.resource("service.instance.id", of: $0) } == "n1", "\(spans)")
        #expect(cluster[0].process.stderr().contains("cannot export") == false)

        // The sampled-out node's own login and message made no span, here or on the nodes that fanned it out:
        // every span belongs to a trace some node began.
        #expect(!spans.contains { Self.attribute("chat.user", of: $0) as? String == "dave" }, "\(spans)")
        let begun = Set(
            spans.filter { ($0["parentSpanId"] as? String)?.isEmpty == true }.compactMap { $0["traceId"] as? String })
        #expect(spans.allSatisfy { begun.contains($0["traceId"] as? String ?? "") }, "\(spans)")
        // History keeps no trace context: only the published copy carries it. Nor do the direct messages held for
        // a name whose connection dropped (its resume's grace period).
        let stored = try cluster.redis.cli(["XRANGE", "chat:history:{lobby}", "-", "+"])
        #expect(stored.contains("traced hello") && !stored.contains("\"tp\""), "\(stored)")
        alice.close()
        #expect(
            eventually(timeout: 5) {
                !((try? cluster.redis.cli(["HGET", "chat:session:{alice}", "held"])) ?? "").trimmingCharacters(
                    in: .whitespacesAndNewlines
                ).isEmpty
            }, "alice's name held for her resume")
        try bob.send("/msg alice kept for you")
        _ = try bob.expect("kept for you")
        var held = ""
        #expect(
            eventually(timeout: 5) {
                held = (try? cluster.redis.cli(["LRANGE", "chat:held-directs:{alice}", "0", "-1"])) ?? ""
                return held.contains("kept for you")
            }, "\(held)")
        #expect(!held.contains("\"tp\""), "\(held)")
        #expect(
            eventually(timeout: 5) {
                collector.spans().filter { $0["name"] as? String == "chat.direct" }.count == 2
            }, "the held message was traced too")
    }

    @Test("a collector that refuses for a while loses nothing: the spans wait, are posted again, and it is said once")
    func collectorRefusing() throws {
        let collector = try OTLPCollector(refusing: 2)
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--otlp-endpoint", collector.endpoint])
        let alice = try cluster[0].login("alice")
        let bob = try cluster[0].login("bob")
        try alice.send("said while the collector refuses")
        try bob.expectLine("alice's message") { $0.hasSuffix("<alice> said while the collector refuses") }
        // Refused twice (503), then taken, after a pause of 1 s and then 2 s.
        #expect(
            eventually(timeout: 15) {
                collector.spans().contains {
                    $0["name"] as? String == "chat.message"
                        && Self.resource("service.instance.id", of: $0) == "n1"
                }
            })
        #expect(ArchiveTests.metric("chat_trace_export_failures_total", of: cluster[0]) == 2)
        #expect(ArchiveTests.metric("chat_trace_spans_dropped_total", of: cluster[0]) == 0)
        // Both logins, the message, its publish and its fan-out: nothing lost to the refusals.
        #expect(
            eventually(timeout: 5) {
                collector.spans().filter { $0["name"] as? String == "chat.login" }.count == 2
                    && collector.spans().contains { $0["name"] as? String == "chat.message.fanout" }
            }, "\(collector.spans())")
        #expect((ArchiveTests.metric("chat_trace_spans_exported_total", of: cluster[0]) ?? 0) >= 5)
        let log = cluster[0].process.stderr()
        #expect(log.components(separatedBy: "cannot export spans").count - 1 == 1, "said once: \(log)")
        #expect(log.contains("HTTP 503") && log.contains("exporting again"), "\(log)")
    }

    @Test("a full queue drops new spans and counts them; a shutdown posts what is queued")
    func queueAndShutdown() async throws {
        let collector = try OTLPCollector()
        var settings = Tracer.Settings(
            endpoint: try #require(OTLPEndpoint(collector.endpoint)), serviceName: "tracer-test",
            serviceVersion: ChatVersion.number, instanceID: "t1")
        settings.maximumQueued = 3
        settings.interval = .seconds(3600)  // nothing posted but by the shutdown
        let dropped = Atomic<Int>(0)
        var counts = Tracer.Counts()
        counts.dropped = { dropped.add($0, ordering: .relaxed) }
        let tracer = Tracer(settings: settings, counts: counts, logger: Logger(label: "tracer-test"))
        tracer.start()
        for index in 0..<5 {
            let span = try #require(tracer.startTrace("step \(index)", kind: .internal))
            span.set("note", "a \"quoted\" name, ünïcödé, a tab\t and a newline\n")
            span.end()
        }
        #expect(dropped.load(ordering: .relaxed) == 2)
        let started = ContinuousClock.now
        await tracer.shutdown()
        #expect(ContinuousClock.now - started < .seconds(2), "posted at once, not at the shutdown's deadline")
        await tracer.shutdown()  // a second call returns too
        #expect(eventually(timeout: 5) { collector.spans().count == 3 }, "\(collector.spans())")
        #expect(collector.errors().isEmpty, "\(collector.errors())")
        #expect(Set(collector.spans().compactMap { $0["name"] as? String }) == ["step 0", "step 1", "step 2"])
        #expect(
            collector.spans().allSatisfy {
                Self.attribute("note", of: $0) as? String == "a \"quoted\" name, ünïcödé, a tab\t and a newline\n"
            })
    }

    @Test("a collector that never answers holds a shutdown up for its timeout only; what is left is counted")
    func silentCollector() async throws {
        // A socket that listens and never accepts: connections complete in its backlog, and nothing answers.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        #expect(bound)
        var settings = Tracer.Settings(
            endpoint: try #require(OTLPEndpoint("http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))")),
            serviceName: "tracer-test", serviceVersion: ChatVersion.number, instanceID: "t2")
        settings.interval = .seconds(3600)
        settings.batchSize = 2
        settings.shutdownTimeout = .seconds(1)
        let dropped = Atomic<Int>(0)
        var counts = Tracer.Counts()
        counts.dropped = { dropped.add($0, ordering: .relaxed) }
        let tracer = Tracer(settings: settings, counts: counts, logger: Logger(label: "tracer-test"))
        tracer.start()
        for index in 0..<5 { try #require(tracer.startTrace("step \(index)", kind: .internal)).end() }
        let started = ContinuousClock.now
        await tracer.shutdown()
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(900) && took < .seconds(3), "\(took)")
        // The first full batch was being posted (unanswered); the three behind it are counted as dropped (and the
        // two in the post too, when it fails as the tracer's loop closes).
        #expect((3...5).contains(dropped.load(ordering: .relaxed)), "\(dropped.load(ordering: .relaxed))")
    }

    @Test("a partial success's rejected spans are read from the collector's answer, and nothing else is")
    func partialSuccess() {
        #expect(OTLPExporter.rejectedSpans(in: #"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"x"}}"#) == 3)
        #expect(OTLPExporter.rejectedSpans(in: #"{"partialSuccess":{"rejectedSpans": 12}}"#) == 12)
        #expect(OTLPExporter.rejectedSpans(in: "{}") == 0)
        #expect(
            OTLPExporter.rejectedSpans(in: #"{"partialSuccess":{"rejectedSpans":null,"errorMessage":"7 bad"}}"#) == 0)
        #expect(OTLPExporter.rejectedSpans(in: #"{"partialSuccess":{"rejectedSpans":"","errorMessage":"7"}}"#) == 0)
    }

    @Test("traceparent: written and read back; one not sampled, malformed or of version ff is refused")
    func traceparent() throws {
        let context = SpanContext(
            traceHigh: 0x0af7_6519_16cd_43dd, traceLow: 0x8448_eb21_1c80_319c, spanID: 0xb7ad_6b71_6920_3331)
        #expect(context.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        #expect(SpanContext(traceparent: context.traceparent) == context)
        // A later version is read by its first 55 characters.
        #expect(SpanContext(traceparent: "01" + context.traceparent.dropFirst(2) + "-more") == context)
        #expect(SpanContext(traceparent: "cc" + context.traceparent.dropFirst(2)) == context)
        for refused in [
            "", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",  // not sampled
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // no trace id
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // no span id
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  // upper case
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version ff is invalid
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",  // a later version's rest starts with -
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
            "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        ] {
            #expect(SpanContext(traceparent: refused) == nil, "\(refused)")
        }
    }

    @Test("--otlp-endpoint: a base address gets /v1/traces and port 4318; only plain http to a host")
    func endpoints() {
        #expect(OTLPEndpoint("http://collector:4318")?.description == "http://collector:4318/v1/traces")
        #expect(OTLPEndpoint("http://collector")?.description == "http://collector:4318/v1/traces")
        #expect(OTLPEndpoint("http://[::1]")?.description == "http://[::1]:4318/v1/traces")
        #expect(OTLPEndpoint("http://10.0.0.5:9999/otlp/")?.path == "/otlp/v1/traces")
        #expect(OTLPEndpoint("http://c:4318/v1/traces")?.path == "/v1/traces")
        for refused in [
            "https://collector:4318", "collector:4318", "http://", "http://:4318", "http://u:p@collector",
            "http://collector:0", "http://collector:99999", "http://::1", "http://c/v1/traces?x=1",
        ] {
            #expect(OTLPEndpoint(refused) == nil, "\(refused)")
        }
    }

    static func attribute(_ key: String, of span: [String: Any]) -> Any? {
        (span["attributes"] as? [String: Any])?[key]
    }

    static func resource(_ key: String, of span: [String: Any]) -> String? {
        (span["resource"] as? [String: Any])?[key] as? String
    }
}

/// scripts/otlp-collector.py on a free port, writing what it receives to a file.
final class OTLPCollector {
    let process: TestProcess
    let output: String
    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }

    init(refusing: Int = 0) throws {
        try TestEnvironment.startingProcess()
        let directory = TestEnvironment.temporaryDirectory("otlp")
        output = directory + "/spans.jsonl"
        guard let python = TestEnvironment.findExecutable("python3") else { throw HarnessError("python3 not found") }
        let process = try TestProcess(
            executable: python,
            arguments: [
                TestEnvironment.packageDirectory + "/scripts/otlp-collector.py", "--port", "0", "--out", output,
                "--refuse", String(refusing),
            ],
            logDirectory: directory, name: "collector")
        var port: Int?
        _ = eventually(timeout: 10) {
            port = process.stdout().split(separator: " ").last.flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return port != nil || !process.isRunning
        }
        guard let port else {
            throw HarnessError(
                "the collector did not start (pip install opentelemetry-proto; scripts/install-deps.sh --tests): \(process.stderr())"
            )
        }
        self.port = port
        self.process = process
    }

    private func records() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func spans() -> [[String: Any]] { records().filter { $0["error"] == nil } }
    func errors() -> [[String: Any]] { records().filter { $0["error"] != nil } }
}
