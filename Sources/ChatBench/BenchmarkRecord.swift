import Foundation

/// One run's figures as one JSON line: what `chat-bench run --record FILE` appends and `chat-bench report` reads.
public struct BenchmarkRecord: Codable, Sendable {
    /// Which part of the sweep the run belongs to (`clients`, `rate`, `storm`, `flood`, `proxies`...).
    public var group: String
    /// What the clients connected to: `chat-balancer`, `haproxy`, `direct`...
    public var target: String
    public var run: Int
    public var scenario: Scenario
    public var mode: String
    public var clients: Int
    public var rooms: Int
    public var senders: Int
    /// Messages per second offered (chat) or 0 (flood, storm).
    public var rate: Double
    public var duration: Double
    public var sent: Int
    public var expected: Int
    public var delivered: Int
    public var messagesPerSecond: Double
    public var deliveriesPerSecond: Double
    public var acceptedPerSecond: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var connectSeconds: Double
    public var loginsPerSecond: Double
    public var loginP50: Double
    public var loginP99: Double
    public var errors: [String: Int]
    public var processes: [ProcessUsage]
    /// The command that produced the run, as typed (without the binary's directory).
    public var command: String
    public var machine: String

    public init(group: String, target: String, run: Int, plan: BenchmarkPlan, result: BenchmarkResult, command: String)
    {
        self.group = group
        self.target = target
        self.run = run
        scenario = plan.scenario
        mode = plan.mode.rawValue
        clients = plan.clients
        rooms = plan.rooms
        senders = plan.scenario == .flood ? plan.clients : plan.senders
        rate = plan.scenario == .chat ? plan.rate : 0
        duration = plan.duration
        sent = result.sent
        expected = result.expected
        delivered = result.delivered
        messagesPerSecond = result.sendSeconds > 0 ? Double(result.sent) / result.sendSeconds : 0
        deliveriesPerSecond = result.deliveriesPerSecond
        acceptedPerSecond = result.acceptedPerSecond
        p50 = result.milliseconds(50)
        p90 = result.milliseconds(90)
        p99 = result.milliseconds(99)
        p999 = result.milliseconds(99.9)
        max = Double(result.latency.max) / 1e6
        connectSeconds = result.connectSeconds
        loginsPerSecond = result.connectSeconds > 0 ? Double(plan.clients) / result.connectSeconds : 0
        loginP50 = Double(result.login.valueAtPercentile(50)) / 1e6
        loginP99 = Double(result.login.valueAtPercentile(99)) / 1e6
        errors = result.errors
        processes = result.processes
        self.command = command
        machine = Self.describeMachine()
    }

    /// The record as one JSON line (keys sorted, so files diff well), without the newline.
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Cores, memory and kernel, read where the benchmark runs.
    public static func describeMachine() -> String {
        let info = ProcessInfo.processInfo
        let gib = Double(info.physicalMemory) / 1_073_741_824
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(info.activeProcessorCount) cores, \(Int(gib.rounded())) GiB, Linux \(kernel)"
    }
}
