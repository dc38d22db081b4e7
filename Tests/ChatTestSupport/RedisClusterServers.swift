import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real Redis Cluster on loopback for one test: `primaries` redis-server processes started with
/// `--cluster-enabled yes` (each with `replicasPerPrimary` replicas), joined by `redis-cli --cluster create`, and
/// ready once every member says `cluster_state:ok`. Killed when the test ends.
public final class RedisClusterServers: @unchecked Sendable {
    public let ports: [Int]
    /// How many primaries it was created with (the other members are their replicas).
    public let primaries: Int
    public let directory: String
    private var processes: [Int: TestProcess] = [:]
    private let executable: String

    public var seeds: [String] { ports.map { "127.0.0.1:\($0)" } }
    /// What `--redis` takes to run the chat on this cluster.
    public var url: String { "redis-cluster://" + seeds.joined(separator: ",") }

    public init(primaries: Int = 3, replicasPerPrimary: Int = 0) throws {
        try TestEnvironment.startingProcess()
        guard let executable = TestEnvironment.findExecutable("redis-server") else {
            throw HarnessError("redis-server is not installed (Debian's 'redis-server'; scripts/test.sh installs it)")
        }
        self.executable = executable
        self.primaries = primaries
        directory = TestEnvironment.temporaryDirectory("redis-cluster")
        ports = try Self.clusterPorts(count: primaries * (1 + replicasPerPrimary))
        for port in ports { try start(port) }
        let create = try cli(
            ["--cluster", "create"] + seeds + ["--cluster-replicas", String(replicasPerPrimary), "--cluster-yes"],
            port: ports[0])
        guard create.contains("[OK] All 16384 slots covered") else {
            throw HarnessError("redis-cli --cluster create failed: \(create.suffix(2000))")
        }
        let ready = eventually(timeout: 20, interval: 0.1) {
            ports.allSatisfy { (try? self.cli(["CLUSTER", "INFO"], port: $0).contains("cluster_state:ok")) == true }
        }
        guard ready else { throw HarnessError("the cluster never reached cluster_state:ok") }
        // A replica that has not finished its first sync cannot take over ("disconnected from master for longer
        // than allowed"): a failover test must start only once every replica is in step.
        let synced = eventually(timeout: 20, interval: 0.1) {
            ports.allSatisfy { port in
                guard let info = try? self.cli(["INFO", "replication"], port: port) else { return false }
                return info.contains("role:master") || info.contains("master_link_status:up")
            }
        }
        guard synced else { throw HarnessError("the cluster's replicas never finished their first sync") }
    }

    /// Starts (or restarts, keeping its nodes.conf and so its identity) the member on `port`.
    public func start(_ port: Int) throws {
        processes[port] = try TestProcess(
            executable: executable,
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", "\(directory)/nodes-\(port).conf", "--cluster-node-timeout", "2000",
                "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--dir", directory,
                "--daemonize", "no", "--protected-mode", "no",
            ],
            logDirectory: directory, name: "redis-cluster-\(port)")
        guard eventually(timeout: 10, { TestSocket.canConnect(port: port) }) else {
            throw HarnessError("cluster member on \(port) did not start")
        }
    }

    public func kill(_ port: Int) {
        processes[port]?.signal(SIGKILL)
        processes[port]?.waitForExit(timeout: 5)
        processes[port] = nil
    }

    /// `redis-cli -p port ARGS...` (with `-c`, following MOVED, unless `--cluster` is asked), errors included.
    @discardableResult
    public func cli(_ arguments: [String], port: Int? = nil) throws -> String {
        let follow = arguments.first == "--cluster" ? [] : ["-c"]
        return try RedisServer.redisCLI(["-p", String(port ?? ports[0])] + follow + arguments)
    }

    /// The port of the primary serving `key`'s slot, from `CLUSTER KEYSLOT` and `CLUSTER NODES`.
    public func primaryPort(forKey key: String) throws -> Int? {
        guard let slot = Int(try cli(["CLUSTER", "KEYSLOT", key])) else { return nil }
        for line in try cli(["CLUSTER", "NODES"]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 8, fields[2].contains("master"), !fields[2].contains("fail"),
                let port = fields[1].split(separator: "@").first?.split(separator: ":").last.flatMap({ Int($0) })
            else { continue }
            for range in fields[8...] where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                if let low = bounds.first, slot >= low, slot <= (bounds.last ?? low) { return port }
            }
        }
        return nil
    }

    /// The ports of the replicas of the primary on `port`, from `CLUSTER NODES`.
    public func replicaPorts(ofPrimary port: Int) throws -> [Int] {
        let primary = try nodeID(port: port)
        return try cli(["CLUSTER", "NODES"]).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[2].contains("slave"), fields[3] == primary else { return nil }
            return fields[1].split(separator: "@").first?.split(separator: ":").last.flatMap { Int($0) }
        }
    }

    /// Stops one member without closing its sockets (SIGSTOP), as a hung machine would look.
    public func pause(_ port: Int) { processes[port]?.signal(SIGSTOP) }

    /// Lets a paused member carry on (SIGCONT).
    public func resume(_ port: Int) { processes[port]?.signal(SIGCONT) }

    /// The cluster's id of the member on `port`.
    public func nodeID(port: Int) throws -> String {
        try cli(["CLUSTER", "MYID"], port: port)
    }

    /// Ports P below 55536 with P and P + 10000 (the cluster bus) both free.
    static func clusterPorts(count: Int) throws -> [Int] {
        var ports: [Int] = []
        for _ in 0..<2000 where ports.count < count {
            let port = Int.random(in: 20000...45000)
            guard !ports.contains(port), !ports.contains(port + 10000), !ports.contains(port - 10000),
                TestEnvironment.isFree(port: port), TestEnvironment.isFree(port: port + 10000)
            else { continue }
            ports.append(port)
        }
        guard ports.count == count else { throw HarnessError("no free ports for a Redis Cluster") }
        return ports
    }

    deinit { for port in Array(processes.keys) { kill(port) } }
}
