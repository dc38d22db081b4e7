import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Sentinel-managed Redis on loopback for one test: a primary, `replicas` replicas of it, and three sentinels
/// (quorum 2) watching it as `service`, which fail it over one second after it stops answering. Ready once every
/// replica is in step and every sentinel knows the others. Killed when the test ends.
public final class RedisSentinelServers: @unchecked Sendable {
    public let service = "chat"
    /// The primary first, then the replicas (after a failover, `primaryPort()` says which one leads).
    public let dataPorts: [Int]
    public let sentinelPorts: [Int]
    public let directory: String
    private var processes: [Int: TestProcess] = [:]
    private let executable: String

    /// What `--redis` takes to run the chat on this deployment.
    public var url: String {
        "redis-sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/\(service)"
    }

    public init(replicas: Int = 1) throws {
        try TestEnvironment.startingProcess()
        guard let executable = TestEnvironment.findExecutable("redis-server") else {
            throw HarnessError("redis-server is not installed (Debian's 'redis-server'; scripts/test.sh installs it)")
        }
        self.executable = executable
        directory = TestEnvironment.temporaryDirectory("redis-sentinel")
        dataPorts = try (0...replicas).map { _ in try TestEnvironment.freePort() }
        sentinelPorts = try (0..<3).map { _ in try TestEnvironment.freePort() }
        try startData(dataPorts[0], replicaOf: nil)
        for port in dataPorts.dropFirst() { try startData(port, replicaOf: dataPorts[0]) }
        for port in sentinelPorts { try startSentinel(port) }
        let synced = eventually(timeout: 20, interval: 0.1) {
            self.dataPorts.dropFirst().allSatisfy { port in
                (try? self.cli(["INFO", "replication"], port: port).contains("master_link_status:up")) == true
            }
        }
        guard synced else { throw HarnessError("the replicas never finished their first sync") }
        let acquainted = eventually(timeout: 20, interval: 0.2) {
            self.sentinelPorts.allSatisfy { port in
                let info = (try? self.cli(["SENTINEL", "MASTER", self.service], port: port)) ?? ""
                let lines = info.split(separator: "\n").map(String.init)
                guard let index = lines.firstIndex(of: "num-other-sentinels"), index + 1 < lines.count else {
                    return false
                }
                return lines[index + 1] == "2"
            }
        }
        guard acquainted else { throw HarnessError("the sentinels never found each other") }
    }

    private func startData(_ port: Int, replicaOf primary: Int?) throws {
        processes[port] = try TestProcess(
            executable: executable,
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--repl-diskless-sync-delay", "0", "--dir", directory, "--dbfilename", "dump-\(port).rdb",
                "--daemonize", "no", "--protected-mode", "no",
            ] + (primary.map { ["--replicaof", "127.0.0.1", String($0)] } ?? []),
            logDirectory: directory, name: "redis-data-\(port)")
        guard eventually(timeout: 10, { TestSocket.canConnect(port: port) }) else {
            throw HarnessError("redis-server on \(port) did not start")
        }
    }

    private func startSentinel(_ port: Int) throws {
        // Sentinel rewrites its configuration file: each gets its own, writable.
        let file = "\(directory)/sentinel-\(port).conf"
        try """
        port \(port)
        bind 127.0.0.1
        protected-mode no
        dir \(directory)
        sentinel monitor \(service) 127.0.0.1 \(dataPorts[0]) 2
        sentinel down-after-milliseconds \(service) 1000
        sentinel failover-timeout \(service) 3000
        sentinel parallel-syncs \(service) 1

        """.write(toFile: file, atomically: true, encoding: .utf8)
        processes[port] = try TestProcess(
            executable: executable, arguments: [file, "--sentinel"], logDirectory: directory, name: "sentinel-\(port)")
        guard eventually(timeout: 10, { TestSocket.canConnect(port: port) }) else {
            throw HarnessError("sentinel on \(port) did not start")
        }
    }

    /// The port the sentinels name as the primary now.
    public func primaryPort() throws -> Int? {
        let reply = try cli(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", service], port: sentinelPorts[0])
        return reply.split(separator: "\n").last.flatMap { Int($0) }
    }

    public func kill(_ port: Int) {
        processes[port]?.signal(SIGKILL)
        processes[port]?.waitForExit(timeout: 5)
        processes[port] = nil
    }

    /// Stops one server without closing its sockets (SIGSTOP), as a hung machine or a cut link would look.
    public func pause(_ port: Int) { processes[port]?.signal(SIGSTOP) }

    /// Lets a paused server carry on (SIGCONT).
    public func resume(_ port: Int) { processes[port]?.signal(SIGCONT) }

    /// `redis-cli -p port ARGS...`, errors included.
    @discardableResult
    public func cli(_ arguments: [String], port: Int) throws -> String {
        try RedisServer.redisCLI(["-p", String(port)] + arguments)
    }

    deinit { for port in Array(processes.keys) { kill(port) } }
}
