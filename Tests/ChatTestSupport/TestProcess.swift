import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Errors a test helper raises; the message says what a person would need to know.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A child process with its output in files (so a failing test can point at them).
public final class TestProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    /// `standardInput`: a pipe to write the process's input into (default: nothing, end of file at once);
    /// `environment`: variables added to this process's.
    public init(
        executable: String, arguments: [String], logDirectory: String, name: String, standardInput: Pipe? = nil,
        environment: [String: String] = [:]
    ) throws {
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        stdoutPath = "\(logDirectory)/\(name).out"
        stderrPath = "\(logDirectory)/\(name).err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = standardInput ?? FileHandle.nullDevice
        try TestEnvironment.startingProcess()
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits up to `timeout` for the process to exit; returns whether it did.
    @discardableResult
    public func waitForExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    public func stop() {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if !waitForExit(timeout: 5) {
            // Each of these costs the test command 5 s: a client that needs no graceful end is better killed.
            FileHandle.standardError.write(
                Data("test process \(process.executableURL?.lastPathComponent ?? "?") ignored SIGTERM for 5 s\n".utf8))
            signal(SIGKILL)
            waitForExit(timeout: 5)
        }
    }

    /// The process's resident memory (VmRSS), in bytes.
    public func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    public func stdout() -> String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit { stop() }
}

public enum TestEnvironment {
    /// `scripts/test.sh --fast` sets `CHAT_TESTS_FAST=1`: then a test that would start a process (redis-server, a
    /// node, tmux, openssl, a browser) is cancelled right there, before anything starts, and counted as skipped. So
    /// the fast run is exactly the tests that start no process, without a list to keep up to date: every helper
    /// here calls this before it starts one.
    public static func startingProcess() throws {
        if ProcessInfo.processInfo.environment["CHAT_TESTS_FAST"] == "1" {
            try Test.cancel("starts a process: not in the fast run")
        }
    }

    /// Runs a program to its end: what it printed (standard output and error together).
    public static func output(of executable: String, _ arguments: [String]) throws -> String {
        try run(executable, arguments).output
    }

    /// Runs a program to its end: its exit status and what it printed (standard output and error together).
    /// `environment`: added to this process's; `directory`: where it runs (this process's by default).
    public static func run(
        _ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String] = [:]
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try startingProcess()
        try process.run()
        // Read before waiting: output larger than the pipe's buffer would otherwise block the program forever.
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// The package's root (where Package.swift is), above the build directory.
    public static var packageDirectory: String {
        var url = URL(fileURLWithPath: binDirectory)
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
        {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    /// The folder holding the test bundle, which is also where `swift build` put `chat-node`.
    public static var binDirectory: String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // On Linux the tests run from <bin>/<package>PackageTests.xctest; elsewhere from inside a bundle.
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("chat-node").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    public static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let directories: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static func temporaryDirectory(_ label: String) -> String {
        let path = NSTemporaryDirectory() + "chat-tests-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Whether `port` on 127.0.0.1 can be bound right now.
    public static func isFree(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// A loopback port nobody listens on now (the kernel's pick, released at once), for programs that cannot
    /// bind port 0 and say which they got.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(timeout: Double, interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(UInt32(interval * 1_000_000))
    } while Date() < deadline
    return try condition()
}
