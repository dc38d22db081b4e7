import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server started for one test: its own cluster (initdb) in a temporary directory, its own free
/// port on 127.0.0.1, trust authentication for the user `chat`, and no durability it does not need (fsync off: a
/// test kills the server, never the machine; commits are still written before they are answered).
///
/// PostgreSQL refuses to run as root, and the tests often do (CI, containers): then the server runs as Debian's
/// `postgres` user through `setpriv`, which execs rather than forks, so a SIGKILL reaches the server itself.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private var process: TestProcess?
    private let binaries: String
    private let asUser: [String]

    /// What `--archive` takes.
    public var url: String { "postgres://chat@127.0.0.1:\(port)/chat" }

    public init() throws {
        try TestEnvironment.startingProcess()
        guard let binaries = Self.binaryDirectory() else {
            throw HarnessError(
                "PostgreSQL is not installed; the archive's tests need a real one. "
                    + "Install Debian's 'postgresql' package (scripts/test.sh does it for you).")
        }
        self.binaries = binaries
        self.port = try TestEnvironment.freePort()
        self.directory = TestEnvironment.temporaryDirectory("postgres")
        if geteuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw HarnessError(
                    "running as root, PostgreSQL needs a 'postgres' user to run as (Debian's package makes it)")
            }
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
            asUser = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        } else {
            asUser = []
        }
        let initdb = try TestProcess(
            executable: asUser.first ?? "\(binaries)/initdb",
            arguments: Array(asUser.dropFirst()) + (asUser.isEmpty ? [] : ["\(binaries)/initdb"]) + [
                "-D", "\(directory)/data", "-U", "chat", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
                "--no-sync", "--no-instructions",
            ],
            logDirectory: directory, name: "initdb")
        guard initdb.waitForExit(timeout: 60), initdb.process.terminationStatus == 0 else {
            throw HarnessError("initdb failed: \(initdb.stdout()) \(initdb.stderr())")
        }
        try start()
        _ = try psql("CREATE DATABASE chat", database: "postgres")
    }

    /// The newest of Debian's /usr/lib/postgresql/<version>/bin, or wherever `postgres` is on the PATH.
    static func binaryDirectory() -> String? {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        if let newest = versions.compactMap(Int.init).max() { return "/usr/lib/postgresql/\(newest)/bin" }
        return TestEnvironment.findExecutable("postgres").map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().path
        }
    }

    /// Starts the server on its data directory. Right after a kill, its children (which outlive the postmaster a
    /// moment, still holding its shared memory) can make a new postmaster refuse to start: it is tried again.
    public func start() throws {
        let server = "\(binaries)/postgres"
        for _ in 0..<10 {
            let process = try TestProcess(
                executable: asUser.first ?? server,
                arguments: Array(asUser.dropFirst()) + (asUser.isEmpty ? [] : [server]) + [
                    "-D", "\(directory)/data", "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1",
                    // fsync off: a test kills the server, never the machine, and the OS keeps what was written.
                    // Commits stay synchronous: a killed server must not lose what it said was committed.
                    "-c", "fsync=off", "-c", "full_page_writes=off",
                    "-c", "max_connections=200",
                ],
                logDirectory: directory, name: "postgres-\(UInt16.random(in: 0...UInt16.max))")
            self.process = process
            let up = eventually(timeout: 20) {
                !process.isRunning || (try? psql("SELECT 1", database: "postgres")) == "1"
            }
            if up, process.isRunning { return }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw HarnessError("postgres did not start on port \(port): \(process?.stderr() ?? "")")
    }

    /// Kills the server outright, as a crash would (it recovers from its log at the next start).
    public func kill() {
        process?.signal(SIGKILL)
        process?.waitForExit(timeout: 10)
        process = nil
    }

    public func restart() throws {
        kill()
        try start()
    }

    /// Runs one SQL statement with psql and returns what it printed (unaligned, no headers), trimmed.
    @discardableResult
    public func psql(_ sql: String, database: String = "chat") throws -> String {
        let psql =
            FileManager.default.isExecutableFile(atPath: "\(binaries)/psql") ? "\(binaries)/psql" : "/usr/bin/psql"
        let output = try TestEnvironment.output(
            of: psql,
            [
                "-h", "127.0.0.1", "-p", String(port), "-U", "chat", "-d", database, "-tAq", "-v", "ON_ERROR_STOP=1",
                "-c", sql,
            ])
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Killed rather than shut down, as Redis is: nothing in it is worth a clean shutdown's wait.
    deinit { kill() }
}
