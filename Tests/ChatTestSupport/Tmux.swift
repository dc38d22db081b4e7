import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A tmux server of its own, running one command in a window of a given size; the screen is read with
/// capture-pane, keys are typed with send-keys.
public final class Tmux {
    public let socket = "chat-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    public let target = "chat"

    public init(command: String, columns: Int, rows: Int) throws {
        try run(["-f", "/dev/null", "new-session", "-d", "-s", target, "-x", "\(columns)", "-y", "\(rows)", command])
        try run(["set-option", "-t", target, "remain-on-exit", "on"])
    }

    /// Runs one tmux command through /bin/sh with posix_spawn and waitpid. Foundation's Process is no use here:
    /// it notices a child's exit through a descriptor the child inherits, and the tmux server that the first
    /// command forks keeps that descriptor open, so the client's exit is never seen.
    @discardableResult
    public func run(_ arguments: [String]) throws -> String {
        try TestEnvironment.startingProcess()
        func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let outputPath = NSTemporaryDirectory() + "tmux-\(UUID().uuidString).out"
        defer { unlink(outputPath) }
        let command =
            (["tmux", "-L", socket] + arguments).map(quoted).joined(separator: " ")
            + " >\(outputPath) 2>/dev/null </dev/null"
        var argv: [UnsafeMutablePointer<CChar>?] = [String](["/bin/sh", "-c", command]).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0 else { throw HarnessError("cannot run tmux") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard (status >> 8) & 0xff == 0 && status & 0x7f == 0 else {
            throw HarnessError("tmux \(arguments.joined(separator: " ")) failed")
        }
        return (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    public var screen: String { (try? run(["capture-pane", "-p", "-t", target])) ?? "" }
    public func type(_ text: String) throws { try run(["send-keys", "-t", target, "-l", text]) }
    public func press(_ key: String) throws { try run(["send-keys", "-t", target, key]) }
    public func resize(columns: Int, rows: Int) throws {
        try run(["resize-window", "-t", target, "-x", "\(columns)", "-y", "\(rows)"])
    }

    /// Polls the screen until `match` holds; fails with the last screen.
    @discardableResult
    public func waitFor(_ what: String, timeout: Double = 10, _ match: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = screen
            if match(last) { return last }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("waited \(timeout) s for \(what); the screen was:\n\(last)")
    }

    deinit { _ = try? run(["kill-server"]) }
}
