import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Test hosts on one machine: Linux network namespaces joined by a bridge that lives in a namespace of its own,
/// so nothing touches the machine's own network. Needs root (CAP_SYS_ADMIN); `isSupported` says whether this
/// machine allows it.
public final class TestNetwork: @unchecked Sendable {
    public let prefix: String
    private let hub: String
    public private(set) var hosts: [String: (namespace: String, address: String, link: String)] = [:]
    private let subnet: String

    /// Whether namespaces can be created here (root, and a kernel and sandbox that allow it).
    public static var isSupported: Bool {
        guard getuid() == 0, TestEnvironment.findExecutable("ip") != nil else { return false }
        let probe = "chat-probe-\(getpid())"
        defer { _ = try? run(["ip", "netns", "del", probe]) }
        return (try? run(["ip", "netns", "add", probe])) != nil
    }

    public init(subnet: String = "10.231.7") throws {
        self.subnet = subnet
        prefix = "chat\(getpid() % 100_000)"
        hub = "\(prefix)-hub"
        try Self.run(["ip", "netns", "add", hub])
        try Self.run(["ip", "-n", hub, "link", "add", "br0", "type", "bridge"])
        try Self.run(["ip", "-n", hub, "link", "set", "br0", "up"])
    }

    /// Adds a host with its own address on the bridge.
    @discardableResult
    public func addHost(_ name: String) throws -> String {
        let index = hosts.count + 2
        let namespace = "\(prefix)-\(name)"
        let address = "\(subnet).\(index)"
        let inside = "v\(index)"
        let link = "h\(prefix.suffix(5))\(index)"  // interface names are at most 15 characters
        try Self.run(["ip", "netns", "add", namespace])
        try Self.run([
            "ip", "link", "add", inside, "netns", namespace, "type", "veth", "peer", "name", link, "netns", hub,
        ])
        try Self.run(["ip", "-n", hub, "link", "set", link, "master", "br0"])
        try Self.run(["ip", "-n", hub, "link", "set", link, "up"])
        try Self.run(["ip", "-n", namespace, "addr", "add", "\(address)/24", "dev", inside])
        try Self.run(["ip", "-n", namespace, "link", "set", inside, "up"])
        try Self.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        hosts[name] = (namespace, address, link)
        return address
    }

    public func address(_ host: String) -> String { hosts[host]!.address }

    /// Starts a program inside a host's namespace (`ip netns exec` runs it in place, so the pid is the program's).
    public func start(
        _ host: String, _ executable: String, _ arguments: [String], logDirectory: String, name: String
    ) throws
        -> TestProcess
    {
        try TestProcess(
            executable: TestEnvironment.findExecutable("ip")!,
            arguments: ["netns", "exec", hosts[host]!.namespace, executable] + arguments,
            logDirectory: logDirectory, name: name)
    }

    /// Unplugs a host's cable at the bridge: packets to and from it vanish, nothing is reset.
    public func cut(_ host: String) throws {
        try Self.run(["ip", "-n", hub, "link", "set", hosts[host]!.link, "down"])
    }

    /// Runs `body` on a thread that has entered `host`'s namespace: sockets it creates live there.
    public func within<T>(_ host: String, _ body: @escaping () throws -> T) throws -> T {
        let path = "/var/run/netns/\(hosts[host]!.namespace)"
        let exchange = NamespaceExchange(body)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let fd = open(path, O_RDONLY)
            guard fd >= 0, Self.setNetworkNamespace(fd) == 0 else {
                exchange.result = .failure(HarnessError("cannot enter \(path) (errno \(errno))"))
                return
            }
            close(fd)
            exchange.result = Result { try exchange.body() }
        }
        thread.start()
        done.wait()
        return try exchange.result.get()
    }

    /// setns(2) with CLONE_NEWNET. Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module does not
    /// set, so it is looked up at run time.
    private static func setNetworkNamespace(_ fd: Int32) -> Int32 {
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return -1 }
        let cloneNewNet: Int32 = 0x4000_0000
        return unsafeBitCast(symbol, to: SetNS.self)(fd, cloneNewNet)
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.findExecutable(arguments[0]) ?? arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try TestEnvironment.startingProcess()
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw HarnessError("\(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    deinit {
        for host in hosts.values { _ = try? Self.run(["ip", "netns", "del", host.namespace]) }
        _ = try? Self.run(["ip", "netns", "del", hub])
    }
}

/// Hands a closure to a namespace thread and its result back; a semaphore orders every access.
private final class NamespaceExchange<T>: @unchecked Sendable {
    let body: () throws -> T
    var result: Result<T, any Error> = .failure(HarnessError("namespace thread did not run"))
    init(_ body: @escaping () throws -> T) { self.body = body }
}
