import ArgumentParser
import ChatBench
import Foundation

/// `chat-bench`: measures a running cluster the way people use it: clients in rooms, messages that carry their
/// send time, every receiver timing every message. Prints a Markdown table.
@main
struct ChatBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Latency and throughput of a running chat cluster, and the CPU and memory of its processes.")

    @Option(help: "Where clients connect: HOST:PORT[,HOST:PORT...] (the balancer, or nodes directly).")
    var target = "127.0.0.1:7000"

    @Option(help: "Clients to connect.")
    var clients = 100

    @Option(help: "Rooms the clients are spread over.")
    var rooms = 1

    @Option(help: "How many clients send (the first ones, spread over the rooms).")
    var senders = 10

    @Option(help: "Messages per second sent in total.")
    var rate: Double = 100

    @Option(help: "Seconds of sending.")
    var duration: Double = 10

    @Option(help: "Event-loop threads for the clients.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(name: .customLong("proxy-header"), help: "Open each connection with a PROXY v1 header (straight to nodes started with --proxy-protocol).")
    var proxyHeader = false

    @Option(help: "Processes to measure, LABEL=PID,... (CPU seconds while sending, peak RSS).")
    var measure = ""

    func run() async throws {
        let targets = try target.split(separator: ",").map { item -> (host: String, port: Int) in
            guard let colon = item.lastIndex(of: ":"), let port = Int(item[item.index(after: colon)...]) else {
                throw ValidationError("--target: '\(item)' is not HOST:PORT")
            }
            return (String(item[..<colon]), port)
        }
        var plan = BenchmarkPlan(targets: targets, clients: clients, rooms: rooms, senders: senders, rate: rate, duration: duration)
        plan.threads = threads
        plan.proxyHeader = proxyHeader
        plan.processes = try measure.split(separator: ",").map { item in
            let parts = item.split(separator: "=")
            guard parts.count == 2, let pid = Int32(parts[1]) else { throw ValidationError("--measure: '\(item)' is not LABEL=PID") }
            return (String(parts[0]), pid)
        }
        let result = try await Benchmark.run(plan) { line in
            FileHandle.standardError.write(Data("chat-bench: \(line)\n".utf8))
        }
        let loss = result.expected - result.delivered
        print("| clients | rooms | msgs/s in | delivered / expected | deliveries/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | connect s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        print(String(
            format: "| %d | %d | %.0f | %d / %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |",
            clients, rooms, Double(result.sent) / result.sendSeconds, result.delivered, result.expected,
            result.deliveriesPerSecond, result.milliseconds(50), result.milliseconds(90), result.milliseconds(99),
            result.milliseconds(99.9), Double(result.latency.max) / 1e6, result.connectSeconds))
        if !result.processes.isEmpty {
            print("")
            print("| process | CPU s while sending | peak RSS MiB | RSS MiB |")
            print("|---|---|---|---|")
            for process in result.processes {
                print(String(format: "| %@ | %.2f | %.1f | %.1f |", process.0, process.cpuSeconds, Double(process.peakResidentKiB) / 1024, Double(process.residentKiB) / 1024))
            }
        }
        if loss != 0 { print("\nlost: \(loss) deliveries") }
        if !result.errors.isEmpty { print("errors: \(result.errors)") }
    }
}
