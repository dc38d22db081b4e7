import ArgumentParser
import ChatBench
import ChatCore
import Endpoints
import Foundation
import NIOSSL

/// `chat-bench`: measures a running cluster the way people use it (`run`), and turns recorded runs into
/// docs/benchmarks.md's tables and plots (`report`); keeps people chatting through faults and checks that nothing
/// acknowledged was lost (`soak`, `check`: scripts/soak.sh brings the cluster and the faults).
@main
struct ChatBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Latency and throughput of a running chat cluster, and the CPU and memory of its processes.",
        version: ChatVersion.number,
        subcommands: [Run.self, Report.self, SoakCommand.self, Check.self, ArchiveSearch.self],
        defaultSubcommand: Run.self)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one benchmark and print its Markdown table.")

    @Option(
        help:
            "What to measure: chat (paced senders, every receiver timing), connect-storm (logins/s, memory per client), flood (messages/s into Redis)."
    )
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

    @Option(name: .customLong("threads"), help: "Event-loop threads for the clients (default: one per core).")
    var threadsOption: Int?
    var threads: Int { threadsOption ?? ProcessInfo.processInfo.activeProcessorCount }

    @Option(help: "Logins (connect, name, joins) under way at once.")
    var connectWindow = 256

    @Option(help: "Unacknowledged messages each client keeps in flight (flood).")
    var floodWindow = 8

    @Flag(
        name: .customLong("proxy-header"),
        help: "Open each connection with a PROXY v1 header (straight to nodes started with --proxy-protocol).")
    var proxyHeader = false

    @Option(name: .customLong("tls-ca-file"), help: "Connect over TLS (the balancer's --tls-port), trusting this CA.")
    var tlsCAFile: String?

    @Option(help: "Log in to registered names with this password (JSON mode; see --register-first).")
    var password: String?

    @Flag(
        name: .customLong("register-first"),
        help: "Register every client's name with --password before the measured run.")
    var registerFirst = false

    @Option(help: "Seconds to keep the clients connected after measuring (to look at the processes meanwhile).")
    var hold: Double = 0

    @Option(help: "Seconds to wait after sending for the last deliveries (longer for a server under valgrind).")
    var drain: Double = 2

    @Option(name: .customLong("extra-rooms"), help: "Shared rooms (idle0, idle1...) each client also joins.")
    var extraRooms = 0

    @Option(help: "Processes to measure, LABEL=PID,... (CPU seconds while sending, peak RSS, RSS the clients added).")
    var measure = ""

    @Option(help: "Append the run's figures as one JSON line to this file (what `chat-bench report` reads).")
    var record: String?

    @Flag(
        name: .customLong("fail-on-loss"),
        help: "Exit 1 when a client got an error or a message did not reach everyone it should have.")
    var failOnLoss = false

    @Option(help: "With --record: which part of a sweep this run belongs to.")
    var group = "adhoc"

    @Option(help: "With --record: what --target is (chat-balancer, haproxy, direct).")
    var targetName = "chat-balancer"

    @Option(help: "With --record: the run's number among runs of the same configuration.")
    var runNumber = 1

    func validate() throws {
        guard clients > 0, rooms > 0, rooms <= clients else {
            throw ValidationError("need at least one client per room")
        }
        guard connectWindow > 0, floodWindow > 0 else { throw ValidationError("windows must be positive") }
        guard password == nil || mode == .json else { throw ValidationError("--password needs --mode json") }
        guard !registerFirst || password != nil else { throw ValidationError("--register-first needs --password") }
    }

    func run() async throws {
        let targets = try target.split(separator: ",").map { item -> HostPort in
            guard let endpoint = HostPort(parsing: item) else {
                throw ValidationError("--target: '\(item)' is not HOST:PORT")
            }
            return endpoint
        }
        var plan = BenchmarkPlan(
            targets: targets, clients: clients, rooms: rooms, senders: senders, rate: rate, duration: duration)
        plan.scenario = scenario
        plan.mode = mode
        plan.threads = threads
        plan.connectWindow = connectWindow
        plan.floodWindow = floodWindow
        plan.proxyHeader = proxyHeader
        plan.hold = hold
        plan.drain = drain
        plan.extraRooms = extraRooms
        plan.password = password
        plan.registerFirst = registerFirst
        if let tlsCAFile {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tlsCAFile))
            // The bench connects to addresses: the certificate is checked against the CA, not the name.
            configuration.certificateVerification = .noHostnameVerification
            plan.tls = try NIOSSLContext(configuration: configuration)
        }
        plan.processes = try measure.split(separator: ",").map { item in
            let parts = item.split(separator: "=")
            guard parts.count == 2, let pid = Int32(parts[1]) else {
                throw ValidationError("--measure: '\(item)' is not LABEL=PID")
            }
            return (String(parts[0]), pid)
        }
        let result = try await Benchmark.run(plan) { line in
            FileHandle.standardError.write(Data("chat-bench: \(line)\n".utf8))
        }
        print(result.summary(of: plan))
        if let record {
            let command = BenchmarkRecord.command(arguments: Array(CommandLine.arguments.dropFirst()))
            try BenchmarkRecord(
                group: group, target: targetName, run: runNumber, plan: plan, result: result, command: command
            )
            .append(toFile: record)
        }
        if failOnLoss, !result.errors.isEmpty || result.delivered != result.expected {
            FileHandle.standardError.write(
                Data(
                    "chat-bench: delivered \(result.delivered) of \(result.expected); errors \(result.errors)\n".utf8))
            throw ExitCode(1)
        }
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
        let made = try BenchmarkReport.update(
            document: document, records: records, mergedRecords: writeRecords, plots: plots, setup: setup)
        print("wrote \(document) and \(made.plots.count) plots in \(made.directory)")
    }
}

struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract:
            "People chat in rooms for a while, coming back after every dropped connection; then the journal is checked (exit 1 if it fails)."
    )

    @Option(help: "Where people connect: HOST:PORT (the balancer).")
    var target = "127.0.0.1:7000"

    @Option(help: "People.")
    var people = 30

    @Option(help: "Rooms.")
    var rooms = 6

    @Option(help: "Rooms each person is in.")
    var roomsPerPerson = 2

    @Option(help: "Seconds between one person's messages.")
    var interval = 1.0

    @Option(help: "Seconds of sending.")
    var duration = 60.0

    @Option(help: "Seconds to keep listening after the last message.")
    var drain = 10.0

    @Option(help: "Where the journal (JSON lines) goes.")
    var journal = "soak-journal.jsonl"

    @Option(help: "A file of `<unix ms> <fault>` lines the fault injector writes (scripts/soak.sh), read at the end.")
    var faults: String?

    @Option(help: "Where IRC clients connect (the balancer's IRC port): then some of the people speak IRC.")
    var ircTarget: String?

    @Option(help: "With --irc-target, every Nth person speaks IRC.")
    var ircShare = 3

    func run() async throws {
        guard let address = HostPort(parsing: target) else { throw ValidationError("--target must be HOST:PORT") }
        var plan = SoakPlan(
            target: address, people: people, rooms: rooms, roomsPerPerson: roomsPerPerson, interval: interval,
            duration: duration, drain: drain, journal: journal)
        plan.faults = faults
        if let ircTarget {
            guard let address = HostPort(parsing: ircTarget) else {
                throw ValidationError("--irc-target must be HOST:PORT")
            }
            plan.ircTarget = address
            plan.ircShare = ircShare
        }
        let outcome = try await Soak.run(plan) { line in
            FileHandle.standardError.write(Data("chat-bench soak: \(line)\n".utf8))
        }
        print(outcome.verdict.report())
        print("reconnects: \(outcome.reconnects)")
        if !outcome.verdict.passed { throw ExitCode(1) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check a soak's journal: every acknowledged message reached every member once, in order, or a gap was told (exit 1 if not)."
    )

    @Argument(help: "The journal `soak` wrote.")
    var journal: String

    func run() throws {
        let verdict = SoakChecker.check(try SoakEntry.read(journal))
        print(verdict.report())
        if !verdict.passed { throw ExitCode(1) }
    }
}

extension Scenario: ExpressibleByArgument {}
extension ClientMode: ExpressibleByArgument {}
