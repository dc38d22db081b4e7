import ChatTestSupport
import Foundation
import Testing

/// The README's first command, scripts/cluster.sh, run for real: its own Redis, its own PostgreSQL, two nodes and
/// the balancer, on ports of the test's own. It runs the test build's executables (`BIN`): the release build the
/// script otherwise makes is what a person waits for once, not what could break between two commits.
@Suite("scripts/cluster.sh")
struct ClusterScriptTests {
    @Test(
        "the local cluster starts with its archive: a person chats through its balancer, the message is archived, Ctrl-C stops everything"
    )
    func startsAndStops() throws {
        try TestEnvironment.startingProcess()
        let directory = TestEnvironment.temporaryDirectory("cluster-script")
        let base = try Self.freeBase()
        let ports = [
            "REDIS_PORT": 0, "CHAT_PORT": 1, "HTTP_PORT": 2, "ADMIN_PORT": 3, "TLS_PORT": 4, "IRC_PORT": 5,
            "IRC_TLS_PORT": 6, "HTTPS_PORT": 7, "FIRST_NODE_PORT": 10, "FIRST_NODE_HTTP_PORT": 20,
            "FIRST_NODE_OPS_PORT": 30, "FIRST_NODE_IRC_PORT": 40, "PG_PORT": 50,
        ].mapValues { String(base + $0) }
        // Started through perl (perl-base is in every Debian) to unblock every signal first: the test runner's
        // threads block them, a child inherits the mask, and bash cannot take a signal that is blocked (the
        // script's Ctrl-C trap would never run). Nodes unblock their own.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = [
            "-e", "use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec @ARGV",
            TestEnvironment.packageDirectory + "/scripts/cluster.sh",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: TestEnvironment.packageDirectory)
        process.environment = ProcessInfo.processInfo.environment.merging(
            ports.merging([
                "BIN": TestEnvironment.binDirectory, "NODES": "2", "RUN_DIR": directory + "/run",
                "PG_DIR": directory + "/postgres", "TLS_DIR": directory + "/tls",
            ]) { $1 }
        ) { $1 }
        let outputPath = directory + "/cluster.out"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer { if process.isRunning { process.interrupt() } }
        func printed() -> String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        #expect(eventually(timeout: 60) { printed().contains("swift-redis-chat is running") }, "\(printed())")
        #expect(printed().contains("with the archive in PostgreSQL"))
        let chat = Int(ports["CHAT_PORT"]!)!
        #expect(eventually(timeout: 15) { Self.nodesUp(adminPort: Int(ports["ADMIN_PORT"]!)!) == 2 })
        let client = try TestSocket(port: chat, name: "visitor")
        try client.expect("this is swift-redis-chat node")
        try client.send("visitor")
        try client.expect("you joined #lobby")
        try client.send("hello from the README's first command")
        #expect(
            eventually(timeout: 15) {
                Self.psql(
                    port: ports["PG_PORT"]!,
                    "SELECT count(*) FROM chat_messages WHERE body = 'hello from the README''s first command'")
                    == "1"
            })

        process.interrupt()
        process.waitUntilExit()
        #expect(printed().contains("stopped"))
        // Nothing it started is left: every one of them was started with this run's directory or ports.
        let left = Process()
        left.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        left.arguments = ["-f", "\(directory)|127.0.0.1:\(ports["REDIS_PORT"]!)"]
        left.standardOutput = FileHandle.nullDevice
        try left.run()
        left.waitUntilExit()
        #expect(left.terminationStatus == 1, "processes of the local cluster were left running")
    }

    /// How many nodes the balancer's /nodes says are up.
    static func nodesUp(adminPort: Int) -> Int {
        guard let (status, body) = try? HTTPGet.get(port: adminPort, path: "/nodes"), status == 200 else { return 0 }
        return body.components(separatedBy: "\"state\":\"up\"").count - 1
    }

    static func psql(port: String, _ sql: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-h", "127.0.0.1", "-p", port, "-U", "chat", "-d", "chat", "-tAc", sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? text.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// A base port with every port the script takes free.
    static func freeBase() throws -> Int {
        let offsets = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 20, 21, 30, 31, 40, 41, 50]
        for _ in 0..<200 {
            let base = Int.random(in: 20_000...40_000)
            if offsets.allSatisfy({ TestEnvironment.isFree(port: base + $0) }) { return base }
        }
        throw HarnessError("no free ports for scripts/cluster.sh")
    }
}
