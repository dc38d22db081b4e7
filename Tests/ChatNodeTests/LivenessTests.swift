import ChatTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Connections that hold resources for nothing are closed: silent ones before a name, idle HTTP ones, clients that
/// stop answering pings, and clients whose host vanished without a word. (Hardening; docs/security.md.)
@Suite("Liveness: silent and vanished connections", .serialized)
struct LivenessTests {
    @Test("a connection that never sends a name is told and closed after the registration timeout")
    func registrationTimeout() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--registration-timeout", "1"])
        let silent = try cluster[0].connect("silent")
        let started = Date()
        _ = try silent.expectLine(timeout: 5, "the timeout") { $0.hasPrefix("! registration-timeout") }
        #expect(silent.waitForClose(timeout: 3), "closed after saying why")
        #expect(Date().timeIntervalSince(started) < 4)
        // A connection that names itself in time is not touched.
        let alice = try cluster[0].login("alice")
        Thread.sleep(forTimeInterval: 2.5)
        try alice.send("/rooms")
        try alice.expect("room")
    }

    @Test("a JSON client that stops answering pings is closed and its rooms told; one that answers stays")
    func pingTimeout() throws {
        // No grace period: this is about when the connection is found dead, not about holding its name after.
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--ping-after", "1", "--resume-grace", "0"])
        let watcher = try cluster[0].login("watcher")  // text mode: never pinged
        let mute = try cluster[0].loginJSON("mute")
        let live = try cluster[0].loginJSON("live")
        _ = try mute.expectEvent(type: "ping", timeout: 4)
        let ping = try live.expectEvent(type: "ping", timeout: 4)
        #expect(ping["id"] == nil)
        try live.sendJSON(["op": "pong"])
        try watcher.expectLine(timeout: 6, "mute leaves") { $0.hasSuffix("mute left #lobby (ping timeout)") }
        #expect(mute.waitForClose(timeout: 2))
        try live.sendJSON(["op": "pong"])
        try live.sendJSON(["op": "ping", "id": "alive"])
        _ = try live.expectEvent("live is still connected") { $0["id"] as? String == "alive" }
        #expect(!watcher.drain().contains { $0.contains("live left") })
        try watcher.send("/who")
        try watcher.expect("watcher")
    }

    @Test("a plain HTTP connection that sends nothing is closed after the HTTP idle timeout")
    func httpIdleTimeout() throws {
        let cluster = try TestCluster(nodes: 1, nodeArguments: ["--http-idle-timeout", "1"])
        let idle = try TestSocket(port: cluster[0].httpPort, name: "idle http")
        #expect(idle.waitForClose(timeout: 4))
    }

    @Test(
        "a client whose host vanishes (link down, no FIN) is gone within the keepalive bound: one leave, name free",
        .enabled(if: TestNetwork.isSupported, "needs root and network namespaces"))
    func vanishedHost() throws {
        let network = try TestNetwork(subnet: "10.231.9")
        let logs = TestEnvironment.temporaryDirectory("vanish")
        let server = try network.addHost("server")
        _ = try network.addHost("alice")
        _ = try network.addHost("watcher")
        guard let redisServer = TestEnvironment.findExecutable("redis-server") else {
            throw HarnessError("redis-server is not installed (Debian package 'redis-server')")
        }
        let redis = try network.start(
            "server", redisServer,
            [
                "--bind", server, "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no",
                "--dir", logs,
            ],
            logDirectory: logs, name: "redis")
        defer { redis.signal(SIGKILL) }
        // Keepalive probes after 2 s of silence, every second, two unanswered: gone within 4 s of the link dying.
        let node = try network.start(
            "server", TestEnvironment.binDirectory + "/chat-node",
            // (No grace period for the name: IdentityTests cover holding it.)
            [
                "--host", server, "--redis", "redis://\(server):6379", "--node-id", "n1", "--tcp-keepalive", "2,1,2",
                "--resume-grace", "0",
            ],
            logDirectory: logs, name: "n1")
        defer { node.signal(SIGKILL) }
        func login(_ name: String, from host: String) throws -> TestSocket {
            let socket = try network.within(host) { try TestSocket(host: server, port: 7001, name: name) }
            try socket.send(name)
            try socket.expect("welcome \(name)")
            try socket.expect("you joined #lobby")
            return socket
        }
        var watcher: TestSocket?
        _ = eventually(timeout: 10) {
            watcher = try? login("watcher", from: "watcher")
            return watcher != nil
        }
        let watching = try #require(watcher, "node: \(node.stderr().suffix(1500))")
        let alice = try login("alice", from: "alice")
        try watching.expect("alice joined #lobby")

        try network.cut("alice")
        let cut = Date()
        try watching.expectLine(timeout: 15, "alice's leave") { $0.contains("alice left #lobby") }
        let took = Date().timeIntervalSince(cut)
        #expect(took < 10, "within the keepalive bound (4 s) and a little: took \(took) s")
        #expect(watching.drain(timeout: 1).filter { $0.contains("alice left") }.isEmpty, "one leave notice")
        let again = try login("alice", from: "watcher")
        try again.send("/quit")
        alice.close()
    }
}
