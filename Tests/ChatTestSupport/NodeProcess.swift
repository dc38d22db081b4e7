import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `chat-node` process on free ports (it binds port 0 and reports what it got).
public final class NodeProcess: @unchecked Sendable {
    public let id: String
    public let process: TestProcess
    public let port: Int
    public let httpPort: Int
    /// /health and /metrics.
    public let opsPort: Int
    /// Chat over TLS, when the node serves it (`--tls-port`).
    public let tlsPort: Int?
    /// IRC, when the node serves it (`--irc-port`).
    public let ircPort: Int?

    public convenience init(
        id: String, redis: RedisServer, logDirectory: String, extraArguments: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        try self.init(
            id: id, redisURL: redis.url, logDirectory: logDirectory, extraArguments: extraArguments,
            environment: environment)
    }

    /// `environment`: variables added to the test's own for this node.
    public init(
        id: String, redisURL: String, logDirectory: String, extraArguments: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        let binary = TestEnvironment.binDirectory + "/chat-node"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw HarnessError(
                "chat-node is not built at \(binary); run 'swift build' before 'swift test' (scripts/test.sh does)")
        }
        self.id = id
        let process = try TestProcess(
            executable: binary,
            arguments: [
                "--host", "127.0.0.1", "--port", "0", "--http-port", "0", "--ops-port", "0", "--redis", redisURL,
                "--node-id", id,
                "--claim-ttl", "3", "--log-level", "info",
            ] + extraArguments,
            logDirectory: logDirectory, name: id, environment: environment)
        self.process = process
        var ports: [String: Int]? = nil
        _ = eventually(timeout: 20) {
            ports = Self.parseListening(process.stdout())
            return ports != nil || !process.isRunning
        }
        guard let ports, let chat = ports["chat"], let http = ports["http"], let ops = ports["ops"] else {
            throw HarnessError("node \(id) did not start: \(process.stderr().suffix(2000))")
        }
        (port, httpPort, opsPort, tlsPort, ircPort) = (chat, http, ops, ports["tls"], ports["irc"])
        // Ready for chat only once Redis is reachable; /health says so.
        guard eventually(timeout: 10, { (try? self.health().status) == 200 }) else {
            throw HarnessError("node \(id) never became healthy: \(process.stderr().suffix(2000))")
        }
    }

    /// `chat-node listening chat=127.0.0.1:PORT http=127.0.0.1:PORT ops=127.0.0.1:PORT tls=off https=off` -> the
    /// ports by name.
    public static func parseListening(_ output: String) -> [String: Int]? {
        ListeningLine.ports(in: output, program: "chat-node")
    }

    public func connect(_ name: String = "client", receiveBuffer: Int32? = nil) throws -> TestSocket {
        try TestSocket(port: port, name: name, receiveBuffer: receiveBuffer)
    }

    /// Connects as if through a trusted proxy for the client at `address` (the node runs with `--proxy-protocol`;
    /// loopback is trusted by default): the PROXY header goes first.
    public func connect(from address: String, _ name: String = "client") throws -> TestSocket {
        let client = try connect(name)
        let family = address.contains(":") ? "TCP6" : "TCP4"
        let destination = address.contains(":") ? "::1" : "127.0.0.1"
        try client.sendRaw(Array("PROXY \(family) \(address) \(destination) 40000 \(port)\r\n".utf8))
        return client
    }

    /// Connects in text mode and claims `name`; returns once the lobby is joined.
    public func login(_ name: String, receiveBuffer: Int32? = nil) throws -> TestSocket {
        let client = try connect(name, receiveBuffer: receiveBuffer)
        try client.expect("what is your name")
        try client.send(name)
        try client.expectLine("welcome") { $0.hasPrefix("* welcome \(name)") }
        try client.expect("you joined #lobby")
        return client
    }

    /// Connects in JSON mode and says hello.
    public func loginJSON(_ name: String) throws -> TestSocket {
        let client = try connect(name)
        try client.sendJSON(["op": "hello", "name": name, "id": 1])
        _ = try client.expectEvent(type: "welcome")
        _ = try client.expectEvent(type: "joined")
        return client
    }

    /// Connects to the IRC port (`--irc-port`) and registers `nick` with CAP negotiation and the capabilities
    /// given; returns once the welcome, ISUPPORT and MOTD numerics (or 422, none) are read.
    public func ircLogin(_ nick: String, capabilities: [String] = []) throws -> TestSocket {
        guard let ircPort else { throw HarnessError("node \(id) serves no IRC: start it with --irc-port 0") }
        let client = try TestSocket(port: ircPort, name: "irc-\(nick)")
        try client.send("CAP LS 302")
        try client.send("NICK \(nick)")
        try client.send("USER \(nick) 0 * :\(nick) on IRC")
        _ = try client.expect("CAP * LS :")
        if !capabilities.isEmpty {
            try client.send("CAP REQ :\(capabilities.joined(separator: " "))")
            _ = try client.expect("CAP * ACK :")
        }
        try client.send("CAP END")
        _ = try client.expectLine("welcome") { $0.contains(" 001 \(nick) ") }
        _ = try client.expectLine("ISUPPORT") { $0.contains(" 005 \(nick) ") && $0.contains("CHANTYPES=#") }
        _ = try client.expectLine("the MOTD's end") { $0.contains(" 422 \(nick) ") || $0.contains(" 376 \(nick) ") }
        return client
    }

    public func health() throws -> (status: Int, body: String) { try HTTPGet.get(port: opsPort, path: "/health") }

    public func kill9() {
        process.signal(SIGKILL)
        process.waitForExit(timeout: 5)
    }

    public func terminate() { process.signal(SIGTERM) }
}

/// The smallest HTTP/1.1 GET, enough for /health and /metrics.
public enum HTTPGet {
    /// The status line's code for a GET with exactly these headers (`Host` among them, or none).
    public static func status(port: Int, path: String, headers: [(String, String)]) throws -> Int {
        let socket = try TestSocket(port: port, name: "http")
        let fields = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        try socket.sendRaw(Array("GET \(path) HTTP/1.1\r\n\(fields)Connection: close\r\n\r\n".utf8))
        guard let line = socket.readLine(timeout: 5),
            let status = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { throw HarnessError("no HTTP response from port \(port)") }
        return status
    }

    public static func get(host: String = "127.0.0.1", port: Int, path: String) throws -> (status: Int, body: String) {
        let socket = try TestSocket(host: host, port: port, name: "http")
        try socket.sendRaw(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
        var lines: [String] = []
        while let line = socket.readLine(timeout: 5) { lines.append(line) }
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw HarnessError("no HTTP response from port \(port)") }
        let body = lines.drop(while: { !$0.isEmpty }).dropFirst().joined(separator: "\n")
        return (status, body)
    }
}

/// Any HTTP/1.1 request with a JSON body and a bearer token: enough for the admin API.
public enum HTTPRequest {
    public static func send(
        port: Int, method: String, path: String, token: String? = nil, json body: String? = nil
    ) throws -> (status: Int, body: String) {
        let socket = try TestSocket(port: port, name: "http")
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        let payload = Array((body ?? "").utf8)
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        try socket.sendRaw(Array((head + "\r\n").utf8) + payload)
        var lines: [String] = []
        while let line = socket.readLine(timeout: 5) { lines.append(line) }
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw HarnessError("no HTTP response from port \(port)") }
        return (status, lines.drop(while: { !$0.isEmpty }).dropFirst().joined(separator: "\n"))
    }

    /// The response body as a JSON object (empty when it is not one).
    public static func object(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

/// What a test's chat nodes use as their Redis: one server, a Redis Cluster or Sentinel.
public protocol TestRedis: AnyObject {
    var url: String { get }
    /// Where the servers' files and logs are, and the nodes' logs go.
    var directory: String { get }
}

extension RedisServer: TestRedis {}
extension RedisClusterServers: TestRedis {}
extension RedisSentinelServers: TestRedis {}

/// Redis plus N nodes, stopped when the test ends.
public typealias TestCluster = ChatNodes<RedisServer>
/// N nodes on a Redis Cluster (3 primaries unless told), stopped when the test ends.
public typealias ChatOnRedisCluster = ChatNodes<RedisClusterServers>

/// Chat nodes sharing one Redis of any kind, named n1, n2, ...; all stopped together when the test ends.
public final class ChatNodes<Redis: TestRedis>: @unchecked Sendable {
    public let redis: Redis
    public private(set) var nodes: [NodeProcess] = []
    public let nodeArguments: [String]
    public var logDirectory: String { redis.directory }

    public init(on redis: Redis, nodes count: Int = 2, nodeArguments: [String] = []) throws {
        self.redis = redis
        self.nodeArguments = nodeArguments
        for index in 0..<count { try addNode(id: "n\(index + 1)") }
    }

    @discardableResult
    public func addNode(id: String, extraArguments: [String] = []) throws -> NodeProcess {
        let node = try NodeProcess(
            id: id, redisURL: redis.url, logDirectory: redis.directory, extraArguments: nodeArguments + extraArguments)
        nodes.append(node)
        return node
    }

    public subscript(index: Int) -> NodeProcess { nodes[index] }

    deinit {
        // All at once: each node spends a second withdrawn from discovery before it closes.
        for node in nodes { node.process.signal(SIGTERM) }
        for node in nodes { node.process.stop() }
    }
}

extension ChatNodes where Redis == RedisServer {
    /// On a new redis-server unless given one.
    public convenience init(nodes count: Int = 2, nodeArguments: [String] = [], redis: RedisServer? = nil) throws {
        try self.init(on: redis ?? RedisServer(), nodes: count, nodeArguments: nodeArguments)
    }
}

extension ChatNodes where Redis == RedisClusterServers {
    public convenience init(
        nodes count: Int = 2, primaries: Int = 3, replicasPerPrimary: Int = 0, nodeArguments: [String] = []
    ) throws {
        try self.init(
            on: RedisClusterServers(primaries: primaries, replicasPerPrimary: replicasPerPrimary), nodes: count,
            nodeArguments: nodeArguments)
    }
}

/// The one line a server prints once it listens, `<program> listening NAME=HOST:PORT ... NAME=off`, read as the
/// ports by name (a port that is off is left out).
enum ListeningLine {
    static func ports(in output: String, program: String) -> [String: Int]? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("\(program) listening") }) else {
            return nil
        }
        var ports: [String: Int] = [:]
        for field in line.split(separator: " ") {
            guard let equals = field.firstIndex(of: "="), let colon = field.lastIndex(of: ":"),
                let port = Int(field[field.index(after: colon)...])
            else { continue }
            ports[String(field[..<equals])] = port
        }
        return ports
    }
}
