import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `chat-balancer` process on free ports.
public final class BalancerProcess: @unchecked Sendable {
    public let process: TestProcess
    /// 0 when the balancer serves no plain port (`--no-plain`).
    public let port: Int
    public let httpPort: Int
    public let adminPort: Int
    /// The TLS chat and HTTPS ports, and IRC's, when it serves them.
    public let tlsPort: Int?
    public let httpsPort: Int?
    public let ircPort: Int?

    public init(arguments: [String], logDirectory: String, name: String = "balancer") throws {
        let binary = TestEnvironment.binDirectory + "/chat-balancer"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw HarnessError(
                "chat-balancer is not built at \(binary); run 'swift build' first (scripts/test.sh does)")
        }
        // Every test client comes from 127.0.0.1, many at once: the per-address limits are off unless a test sets
        // them.
        let limit =
            (arguments.contains("--max-connections-per-address") ? [] : ["--max-connections-per-address", "0"])
            + (arguments.contains("--connect-rate-per-address") ? [] : ["--connect-rate-per-address", "0"])
        let process = try TestProcess(
            executable: binary,
            arguments: ["--host", "127.0.0.1", "--port", "0", "--http-port", "0", "--admin-port", "0"] + limit
                + arguments,
            logDirectory: logDirectory, name: name)
        self.process = process
        var ports: [String: Int]?
        _ = eventually(timeout: 20) {
            ports = Self.parsePorts(process.stdout())
            return ports != nil || !process.isRunning
        }
        guard let ports, let admin = ports["admin"] else {
            throw HarnessError("balancer did not start: \(process.stderr().suffix(2000))")
        }
        (port, httpPort, adminPort) = (ports["chat"] ?? 0, ports["http"] ?? 0, admin)
        (tlsPort, httpsPort, ircPort) = (ports["tls"], ports["https"], ports["irc"])
    }

    /// `chat-balancer listening chat=127.0.0.1:PORT http=... admin=... tls=off https=off` -> the ports by name.
    static func parsePorts(_ output: String) -> [String: Int]? {
        ListeningLine.ports(in: output, program: "chat-balancer")
    }

    public func connect(_ name: String = "client", receiveBuffer: Int32? = nil) throws -> TestSocket {
        try TestSocket(port: port, name: name, receiveBuffer: receiveBuffer)
    }

    /// Registers `name` with `password` through the balancer (JSON: hello, register, quit), for tests of logins.
    public func register(_ name: String, password: String) throws {
        let owner = try connect("registering \(name)")
        try owner.sendJSON(["op": "hello", "name": name])
        _ = try owner.expectEvent(type: "welcome")
        try owner.sendJSON(["op": "register", "password": password])
        _ = try owner.expectEvent(type: "ok")
        try owner.sendJSON(["op": "quit"])
        _ = owner.waitForClose()
    }

    /// Connects in text mode through the balancer and claims `name`; returns the client and the node it landed on.
    public func login(_ name: String) throws -> (client: TestSocket, node: String) {
        let client = try connect(name)
        let greeting = try client.expect("this is swift-redis-chat node")
        try client.send(name)
        try client.expectLine("welcome") { $0.hasPrefix("* welcome \(name)") }
        try client.expect("you joined #lobby")
        return (client, Self.node(inGreeting: greeting))
    }

    /// "* hello, this is swift-redis-chat node n2." -> "n2"
    public static func node(inGreeting line: String) -> String {
        String(line.split(separator: " ").last?.dropLast() ?? "")
    }

    /// /nodes: node name -> (state, routed, connected).
    public func nodes() throws -> [String: (state: String, routed: Int, connected: Int)] {
        let body = try HTTPGet.get(port: adminPort, path: "/nodes").body
        guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let nodes = object["nodes"] as? [[String: Any]]
        else { throw HarnessError("bad /nodes: \(body)") }
        var result: [String: (String, Int, Int)] = [:]
        for node in nodes {
            result[node["node"] as? String ?? "?"] = (
                node["state"] as? String ?? "?", node["routed"] as? Int ?? -1, node["connected"] as? Int ?? -1
            )
        }
        return result
    }

    /// Resident memory in KiB, from /proc.
    public var residentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    public func terminate() { process.signal(SIGTERM) }

    deinit { process.stop() }
}
