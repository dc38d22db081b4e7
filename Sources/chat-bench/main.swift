import ArgumentParser
import ChatBench
import ChatCore
import Foundation

/// `chat-bench`: measures a running cluster the way people use it (`run`), and turns recorded runs into
/// docs/benchmarks.md's tables and plots (`report`).
@main
struct ChatBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Latency and throughput of a running chat cluster, and the CPU and memory of its processes.",
        subcommands: [Run.self, Report.self],
        defaultSubcommand: Run.self)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one benchmark and print its Markdown table.")

    @Option(help: "What to measure: chat (paced senders, every receiver timing), connect-storm (logins/s, memory per client), flood (messages/s into Redis).")
    var scenario = Scenario.chat

    @Option(help: "Where clients connect: HOST:PORT[,HOST:PORT...] (the balancer, or nodes directly).")
    var target = "127.0.0.1:7000"

    @Option(help: "How clients speak: json or text.")
    var mode = ClientMode.json

    @Option(help: "Clients to connect.")
    var clients = 100

    @Option(help: "Rooms the clients are spread over.")
    var rooms = 1

    @Option(help: "How many clients send (the first ones, spread over the rooms). In the flood, every client sends.")
    var senders = 10

    @Option(help: "Messages per second sent in total (chat).")
    var rate: Double = 100

    @Option(help: "Seconds of sending.")
    var duration: Double = 10

    @Option(help: "Event-loop threads for the clients.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Logins (connect, name, joins) under way at once.")
    var connectWindow = 256

    @Option(help: "Unacknowledged messages each client keeps in flight (flood).")
    var floodWindow = 8

    @Flag(name: .customLong("proxy-header"), help: "Open each connection with a PROXY v1 header (straight to nodes started with --proxy-protocol).")
    var proxyHeader = false

    @Option(help: "Seconds to keep the clients connected after measuring (to look at the processes meanwhile).")
    var hold: Double = 0

    @Option(help: "Processes to measure, LABEL=PID,... (CPU seconds while sending, peak RSS, RSS the clients added).")
    var measure = ""

    @Option(help: "Append the run's figures as one JSON line to this file (what `chat-bench report` reads).")
    var record: String?

    @Option(help: "With --record: which part of a sweep this run belongs to.")
    var group = "adhoc"

    @Option(help: "With --record: what --target is (chat-balancer, haproxy, direct).")
    var targetName = "chat-balancer"

    @Option(help: "With --record: the run's number among runs of the same configuration.")
    var runNumber = 1

    func validate() throws {
        guard clients > 0, rooms > 0, rooms <= clients else { throw ValidationError("need at least one client per room") }
        guard connectWindow > 0, floodWindow > 0 else { throw ValidationError("windows must be positive") }
    }

    func run() async throws {
        let targets = try target.split(separator: ",").map { item -> HostPort in
            guard let endpoint = HostPort(parsing: item) else {
                throw ValidationError("--target: '\(item)' is not HOST:PORT")
            }
            return endpoint
        }
        var plan = BenchmarkPlan(targets: targets, clients: clients, rooms: rooms, senders: senders, rate: rate, duration: duration)
        plan.scenario = scenario
        plan.mode = mode
        plan.threads = threads
        plan.connectWindow = connectWindow
        plan.floodWindow = floodWindow
        plan.proxyHeader = proxyHeader
        plan.hold = hold
        plan.processes = try measure.split(separator: ",").map { item in
            let parts = item.split(separator: "=")
            guard parts.count == 2, let pid = Int32(parts[1]) else { throw ValidationError("--measure: '\(item)' is not LABEL=PID") }
            return (String(parts[0]), pid)
        }
        let result = try await Benchmark.run(plan) { line in
            FileHandle.standardError.write(Data("chat-bench: \(line)\n".utf8))
        }
        printTable(result)
        if let record {
            let command = (["chat-bench"] + CommandLine.arguments.dropFirst().filter { !$0.isEmpty })
                .joined(separator: " ")
                .replacingOccurrences(of: #" --(record|group|target-name|run-number|measure) \S+"#, with: "", options: .regularExpression)
            let line = BenchmarkRecord(group: group, target: targetName, run: runNumber, plan: plan, result: result, command: command)
            let data = Data((try line.jsonLine() + "\n").utf8)
            if !FileManager.default.fileExists(atPath: record) { FileManager.default.createFile(atPath: record, contents: nil) }
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: record))
            try file.seekToEnd()
            try file.write(contentsOf: data)
            try file.close()
        }
    }

    func printTable(_ result: BenchmarkResult) {
        switch scenario {
        case .chat:
            print("| clients | rooms | msgs/s in | delivered / expected | deliveries/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | connect s |")
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            print(String(
                format: "| %d | %d | %.0f | %d / %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |",
                clients, rooms, Double(result.sent) / result.sendSeconds, result.delivered, result.expected,
                result.deliveriesPerSecond, result.milliseconds(50), result.milliseconds(90), result.milliseconds(99),
                result.milliseconds(99.9), Double(result.latency.max) / 1e6, result.connectSeconds))
        case .connectStorm:
            print("| clients | all named after s | logins/s | login p50 ms | login p99 ms |")
            print("|---|---|---|---|---|")
            print(String(
                format: "| %d | %.2f | %.0f | %.1f | %.1f |", clients, result.connectSeconds,
                Double(clients) / result.connectSeconds, Double(result.login.valueAtPercentile(50)) / 1e6,
                Double(result.login.valueAtPercentile(99)) / 1e6))
        case .flood:
            print("| clients | rooms | accepted msgs/s | delivered / expected | deliveries/s | p50 ms | p99 ms |")
            print("|---|---|---|---|---|---|---|")
            print(String(
                format: "| %d | %d | %.0f | %d / %d | %.0f | %.1f | %.1f |", clients, rooms, result.acceptedPerSecond,
                result.delivered, result.expected, result.deliveriesPerSecond, result.milliseconds(50), result.milliseconds(99)))
        }
        if !result.processes.isEmpty {
            print("")
            print("| process | CPU s | peak RSS MiB | RSS MiB | RSS added per client KB |")
            print("|---|---|---|---|---|")
            for process in result.processes {
                print(String(
                    format: "| %@ | %.2f | %.1f | %.1f | %.1f |", process.label, process.cpuSeconds,
                    Double(process.peakResidentKiB) / 1024, Double(process.residentKiB) / 1024,
                    Double(process.residentKiB - process.residentBeforeKiB) * 1.024 / Double(clients)))
            }
        }
        let loss = result.expected - result.delivered
        if loss != 0 { print("\nlost: \(loss) deliveries") }
        if !result.errors.isEmpty { print("errors: \(result.errors)") }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn recorded runs into the generated part of a Markdown page, with PNG plots (gnuplot).")

    @Option(help: "The JSON lines `run --record` wrote (repeatable: a later file's groups replace an earlier file's).")
    var records: [String]

    @Option(help: "Also write the merged records here (docs/bench/records.jsonl keeps the figures' raw data).")
    var writeRecords: String?

    @Option(help: "The Markdown page whose generated section is replaced.")
    var document = "docs/benchmarks.md"

    @Option(help: "Where the plots go, relative to the document's directory.")
    var plots = "bench"

    @Option(help: "A line about the setup for the report's header (repeatable).")
    var setup: [String] = []

    func run() throws {
        let merged = try BenchmarkReport.merge(records.map(BenchmarkReport.load(jsonLines:)))
        if let writeRecords {
            let lines = try merged.map { try $0.jsonLine() }
            try (lines.joined(separator: "\n") + "\n").write(toFile: writeRecords, atomically: true, encoding: .utf8)
        }
        let report = BenchmarkReport(records: merged, setup: setup)
        let directory = URL(fileURLWithPath: document).deletingLastPathComponent().appendingPathComponent(plots).path
        let made = try report.writePlots(to: directory)
        let page = try String(contentsOfFile: document, encoding: .utf8)
        try BenchmarkReport.splice(report.markdown(plotDirectory: plots), into: page).write(toFile: document, atomically: true, encoding: .utf8)
        print("wrote \(document) and \(made.count) plots in \(directory)")
    }
}

extension Scenario: ExpressibleByArgument {}
extension ClientMode: ExpressibleByArgument {}
