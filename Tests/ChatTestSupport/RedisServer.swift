import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real redis-server started for one test: its own free port and temporary directory, no persistence.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private var process: TestProcess?
    private let executable: String
    /// With certificates, Redis speaks only TLS (`rediss://`), on `port`.
    public let tls: TestCertificates?

    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)" }

    public init(tls: TestCertificates? = nil) throws {
        try TestEnvironment.startingProcess()
        self.tls = tls
        guard let executable = TestEnvironment.findExecutable("redis-server") else {
            throw HarnessError(
                "redis-server is not installed; the integration tests need a real Redis. "
                    + "Install Debian's 'redis-server' package (scripts/test.sh does it for you).")
        }
        self.executable = executable
        self.port = try TestEnvironment.freePort()
        self.directory = TestEnvironment.temporaryDirectory("redis")
        try start()
    }

    public func start() throws {
        process = try TestProcess(
            executable: executable,
            arguments: Self.portArguments(port: port, tls: tls) + [
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory, "--daemonize", "no", "--protected-mode", "no",
            ],
            logDirectory: directory, name: "redis-\(UInt16.random(in: 0...UInt16.max))")
        let up = eventually(timeout: 10) { TestSocket.canConnect(port: port) }
        guard up else { throw HarnessError("redis-server did not start on port \(port): \(process?.stdout() ?? "")") }
    }

    static func portArguments(port: Int, tls: TestCertificates?) -> [String] {
        guard let tls else { return ["--port", String(port)] }
        return [
            "--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.chainFile, "--tls-key-file", tls.keyFile,
            "--tls-ca-cert-file", tls.caFile, "--tls-auth-clients", "no",
        ]
    }

    /// Stops Redis where it is (SIGSTOP): its sockets stay open and nothing answers, as a hung server would.
    public func pause() { process?.signal(SIGSTOP) }

    /// Lets a paused Redis carry on (SIGCONT).
    public func resume() { process?.signal(SIGCONT) }

    /// Kills Redis outright (no save), as a crash or a restart would.
    public func kill() {
        process?.signal(SIGKILL)
        process?.waitForExit(timeout: 5)
        process = nil
    }

    /// Sends one inline command and returns the first line of the reply.
    @discardableResult
    public func command(_ line: String) throws -> String {
        let socket = try TestSocket(port: port, name: "redis")
        try socket.send(line)
        guard let reply = socket.readLine() else { throw HarnessError("no reply to \(line)") }
        return reply
    }

    /// Runs `redis-cli` against this server (for what an inline command cannot say: `--user`, several words with
    /// spaces) and returns what it printed, errors included.
    public func cli(_ arguments: [String]) throws -> String {
        try Self.redisCLI(["-p", String(port)] + (tls.map { ["--tls", "--cacert", $0.caFile] } ?? []) + arguments)
    }

    /// `redis-cli ARGS...`: what it printed, errors included, trimmed.
    static func redisCLI(_ arguments: [String]) throws -> String {
        try TestEnvironment.output(of: TestEnvironment.findExecutable("redis-cli") ?? "/usr/bin/redis-cli", arguments)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Key names matching `pattern`, read with a plain inline command.
    public func keys(_ pattern: String) throws -> [String] {
        let socket = try TestSocket(port: port, name: "redis")
        try socket.send("KEYS \(pattern)")
        guard let header = socket.readLine(), header.hasPrefix("*"), let count = Int(header.dropFirst()) else {
            throw HarnessError("unexpected KEYS reply")
        }
        return (0..<count).compactMap { _ in
            _ = socket.readLine()  // $length
            return socket.readLine()
        }
    }

    public func restart() throws {
        kill()
        try start()
    }

    /// Killed rather than shut down: it keeps nothing worth saving, and a test should not wait for it.
    deinit { kill() }
}
