import Foundation

// One file because the report is one document: the sections (targets, latency, throughput, storm, flood,
// proxies), their medians and the plots' data files share the grouping of runs and the table helpers; split, each
// piece would need all of them.

/// Turns the runs `chat-bench run --record` collected into the Markdown section of docs/benchmarks.md and its PNG
/// plots: every figure is the median of the runs that share a configuration, next to the command that produced it.
public struct BenchmarkReport {
    public var records: [BenchmarkRecord]
    /// Extra lines for the header (versions of Redis and HAProxy, how the cluster was started).
    public var setup: [String]

    public init(records: [BenchmarkRecord], setup: [String] = []) {
        self.records = records
        self.setup = setup
    }

    /// Runs from several sweeps, oldest first: a group (clients, rate, storm...) measured again replaces the older
    /// runs of that group, so a partial sweep (`ONLY=flood`) updates only what it measured.
    public static func merge(_ sweeps: [[BenchmarkRecord]]) -> [BenchmarkRecord] {
        var merged: [BenchmarkRecord] = []
        for sweep in sweeps {
            let groups = Set(sweep.map(\.group))
            merged.removeAll { groups.contains($0.group) }
            merged += sweep
        }
        return merged
    }

    public static func load(jsonLines path: String) throws -> [BenchmarkRecord] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").filter { !$0.isEmpty }.map {
            try decoder.decode(BenchmarkRecord.self, from: Data($0.utf8))
        }
    }

    /// Runs that share everything but the run number, in the order they were first recorded.
    struct Configuration {
        var runs: [BenchmarkRecord]
        var first: BenchmarkRecord { runs[0] }
        func median(_ value: (BenchmarkRecord) -> Double) -> Double { Self.median(runs.map(value)) }
        var lost: Int { runs.reduce(0) { $0 + max(0, $1.expected - $1.delivered) } }
        var deliveredAll: Bool { runs.allSatisfy { $0.delivered == $0.expected } }

        func process(_ label: String, _ value: (ProcessUsage) -> Double) -> Double? {
            let values = runs.compactMap { run in run.processes.first { $0.label == label }.map(value) }
            return values.isEmpty ? nil : Self.median(values)
        }
        var processLabels: [String] {
            var labels: [String] = []
            for run in runs {
                for process in run.processes where !labels.contains(process.label) { labels.append(process.label) }
            }
            return labels
        }

        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted.count % 2 == 1
                ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }

    func configurations(_ group: String) -> [Configuration] {
        var order: [String] = []
        var runs: [String: [BenchmarkRecord]] = [:]
        for record in records where record.group == group {
            let key =
                "\(record.target)|\(record.scenario)|\(record.mode)|\(record.clients)|\(record.rooms)|\(record.senders)|\(record.rate)"
            if runs[key] == nil { order.append(key) }
            runs[key, default: []].append(record)
        }
        return order.map { Configuration(runs: runs[$0]!) }
    }

    // MARK: Markdown

    public func markdown(plotDirectory: String) -> String {
        var out: [String] = []
        let machine = records.first?.machine ?? "?"
        out.append(
            "Every figure below is the median of \(runsDescription) runs of the command shown, each on a fresh cluster; "
                + "machine: \(machine), everything on loopback, release builds, the load generator on the same cores as the servers."
        )
        out.append(contentsOf: setup.map { "- " + $0 })
        out.append("")
        out.append(contentsOf: targetsSection())
        out.append(contentsOf: clientsSection(plotDirectory))
        out.append(contentsOf: rateSection(plotDirectory))
        out.append(contentsOf: stormSection())
        out.append(contentsOf: floodSection())
        out.append(contentsOf: proxiesSection(plotDirectory))
        out.append(contentsOf: loginsSection())
        out.append(contentsOf: tlsSection())
        out.append(contentsOf: ircSection())
        out.append(contentsOf: acknowledgementsSection())
        return out.joined(separator: "\n") + "\n"
    }

    var runsDescription: String {
        let counts = Set(configurationsAll.map { $0.runs.count })
        return counts.count == 1 ? "\(counts.first!)" : "\(counts.min() ?? 0) to \(counts.max() ?? 0)"
    }

    var configurationsAll: [Configuration] { Array(Set(records.map(\.group))).sorted().flatMap(configurations) }

    static func number(_ value: Double, _ digits: Int = 0) -> String {
        if digits == 0 {
            let formatter = NumberFormatter()
            formatter.numberStyle = .decimal
            formatter.groupingSeparator = ","
            formatter.maximumFractionDigits = 0
            return formatter.string(from: NSNumber(value: value.rounded())) ?? "\(Int(value))"
        }
        return String(format: "%.\(digits)f", value)
    }

    static func command(_ configuration: Configuration) -> String { "    " + configuration.first.command }

    /// The commands behind a table, one per configuration, as a block under "Commands:".
    static func commands(_ rows: [Configuration], intro: String = "Commands:") -> [String] {
        [intro, ""] + rows.map(command) + [""]
    }

    /// Every measured process's label, in the order first seen.
    static func processLabels(_ rows: [Configuration]) -> [String] {
        rows.flatMap(\.processLabels).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }

    func loss(_ configuration: Configuration) -> String {
        configuration.deliveredAll ? "none" : "**\(Self.number(Double(configuration.lost))) lost**"
    }

    func clientsSection(_ plots: String) -> [String] {
        let rows = configurations("clients")
        guard !rows.isEmpty else { return [] }
        var out = ["### Latency against clients, through the balancer", ""]
        out.append("![p50 and p99 latency against clients](\(plots)/latency-by-clients.png)")
        out.append("")
        out.append(
            "| clients | rooms | msgs/s in | deliveries/s | loss | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | connect s |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            out.append(
                "| \(Self.number(Double(row.first.clients))) | \(row.first.rooms) | \(Self.number(row.median(\.messagesPerSecond))) | "
                    + "\(Self.number(row.median(\.deliveriesPerSecond))) | \(loss(row)) | \(Self.number(row.median(\.p50), 1)) | "
                    + "\(Self.number(row.median(\.p90), 1)) | \(Self.number(row.median(\.p99), 1)) | \(Self.number(row.median(\.p999), 1)) | "
                    + "\(Self.number(row.median(\.max), 1)) | \(Self.number(row.median(\.connectSeconds), 2)) |")
        }
        out.append("")
        out.append(contentsOf: processTable(rows))
        out.append(contentsOf: Self.commands(rows))
        return out
    }

    func processTable(_ rows: [Configuration]) -> [String] {
        let labels = Self.processLabels(rows)
        guard !labels.isEmpty else { return [] }
        var out = ["CPU seconds used while sending, and peak RSS in MiB, per process:", ""]
        out.append("| clients | " + labels.map { "\($0) CPU s | \($0) MiB" }.joined(separator: " | ") + " |")
        out.append("|---|" + String(repeating: "---|---|", count: labels.count))
        for row in rows {
            let cells = labels.map { label -> String in
                guard let cpu = row.process(label, \.cpuSeconds),
                    let peak = row.process(label, { Double($0.peakResidentKiB) })
                else { return "- | -" }
                return "\(Self.number(cpu, 2)) | \(Self.number(peak / 1024, 0))"
            }
            out.append("| \(Self.number(Double(row.first.clients))) | " + cells.joined(separator: " | ") + " |")
        }
        out.append("")
        return out
    }

    func rateSection(_ plots: String) -> [String] {
        let rows = configurations("rate")
        guard let first = rows.first?.first else { return [] }
        var out = [
            "### Throughput against offered load (\(Self.number(Double(first.clients))) clients, \(first.rooms) room\(first.rooms == 1 ? "" : "s"), through the balancer)",
            "",
        ]
        out.append("![deliveries/s and p99 against the offered load](\(plots)/throughput-by-rate.png)")
        out.append("")
        out.append("| msgs/s in | offered deliveries/s | deliveries/s | loss | p50 ms | p99 ms | max ms |")
        out.append("|---|---|---|---|---|---|---|")
        for row in rows {
            let members = Double(row.first.clients / row.first.rooms - 1)
            out.append(
                "| \(Self.number(row.first.rate)) | \(Self.number(row.first.rate * members)) | \(Self.number(row.median(\.deliveriesPerSecond))) | "
                    + "\(loss(row)) | \(Self.number(row.median(\.p50), 1)) | \(Self.number(row.median(\.p99), 1)) | \(Self.number(row.median(\.max), 1)) |"
            )
        }
        out.append("")
        out.append(contentsOf: Self.commands(rows))
        return out
    }

    func stormSection() -> [String] {
        let rows = configurations("storm")
        guard !rows.isEmpty else { return [] }
        var out = ["### Connect storm: clients connecting and claiming names, through the balancer", ""]
        let labels = Self.processLabels(rows)
        out.append(
            "| clients | all named after s | logins/s | login p50 ms | login p99 ms | errors | "
                + labels.map { "\($0) KB/client" }.joined(separator: " | ") + " |")
        out.append("|---|---|---|---|---|---|" + String(repeating: "---|", count: labels.count))
        for row in rows {
            let perClient = labels.map { label in
                row.process(label) { Double($0.residentKiB - $0.residentBeforeKiB) * 1.024 / Double(row.first.clients) }
                    .map { Self.number($0, 1) } ?? "-"
            }
            let errors = row.runs.reduce(0) { $0 + $1.errors.values.reduce(0, +) }
            out.append(
                "| \(Self.number(Double(row.first.clients))) | \(Self.number(row.median(\.connectSeconds), 2)) | "
                    + "\(Self.number(row.median(\.loginsPerSecond))) | \(Self.number(row.median(\.loginP50), 1)) | "
                    + "\(Self.number(row.median(\.loginP99), 1)) | \(errors) | " + perClient.joined(separator: " | ")
                    + " |")
        }
        out.append("")
        out.append(
            contentsOf: Self.commands(
                rows,
                intro:
                    "KB/client: the process's resident memory once every client is named, minus before the first connected, "
                    + "divided by the clients (1 KB = 1000 bytes). Commands:"))
        return out
    }

    func floodSection() -> [String] {
        let rows = configurations("flood")
        guard !rows.isEmpty else { return [] }
        var out = ["### Messages one node gets into Redis (small rooms, pipelined)", ""]
        let labels = Self.processLabels(rows)
        out.append(
            "| clients | rooms | unacknowledged per client | accepted msgs/s | deliveries/s | loss | "
                + labels.map { "\($0) CPU s" }.joined(separator: " | ") + " |")
        out.append("|---|---|---|---|---|---|" + String(repeating: "---|", count: labels.count))
        for row in rows {
            let window =
                row.first.command.components(separatedBy: "--flood-window ").dropFirst().first?.split(separator: " ")
                .first ?? "?"
            let cpu = labels.map { label in row.process(label, \.cpuSeconds).map { Self.number($0, 2) } ?? "-" }
            out.append(
                "| \(row.first.clients) | \(row.first.rooms) | \(window) | \(Self.number(row.median(\.acceptedPerSecond))) | "
                    + "\(Self.number(row.median(\.deliveriesPerSecond))) | \(loss(row)) | "
                    + cpu.joined(separator: " | ") + " |")
        }
        out.append("")
        out.append(contentsOf: Self.commands(rows))
        return out
    }

    /// Per load: the median p50 and p99 of each target, and what each proxy adds over going straight to the nodes.
    struct ProxyComparison {
        var load: String
        var rows: [(target: String, p50: Double, p99: Double, configuration: Configuration)]
        func added(_ target: String) -> (p50: Double, p99: Double)? {
            guard let direct = rows.first(where: { $0.target == "direct" }),
                let row = rows.first(where: { $0.target == target })
            else { return nil }
            return (row.p50 - direct.p50, row.p99 - direct.p99)
        }
        /// chat-balancer's added latency over HAProxy's, at p50 and p99.
        var ratio: (p50: Double, p99: Double)? {
            guard let ours = added("chat-balancer"), let theirs = added("haproxy"), theirs.p50 > 0, theirs.p99 > 0
            else { return nil }
            return (ours.p50 / theirs.p50, ours.p99 / theirs.p99)
        }
    }

    func proxyComparisons() -> [ProxyComparison] {
        var loads: [String: ProxyComparison] = [:]
        var order: [String] = []
        for configuration in configurations("proxies") {
            let load =
                "\(Self.number(Double(configuration.first.clients))) clients, \(Self.number(configuration.first.rate)) msgs/s"
            if loads[load] == nil {
                order.append(load)
                loads[load] = ProxyComparison(load: load, rows: [])
            }
            loads[load]!.rows.append(
                (configuration.first.target, configuration.median(\.p50), configuration.median(\.p99), configuration))
        }
        return order.map { loads[$0]! }
    }

    func proxiesSection(_ plots: String) -> [String] {
        let comparisons = proxyComparisons()
        guard !comparisons.isEmpty else { return [] }
        var out = [
            "### The latency chat-balancer adds, against HAProxy (round-robin, TCP mode) in front of the same nodes",
            "",
        ]
        out.append("![latency added over going straight to the nodes](\(plots)/proxies.png)")
        out.append("")
        out.append("| load | target | deliveries/s | loss | p50 ms | p99 ms | added p50 ms | added p99 ms |")
        out.append("|---|---|---|---|---|---|---|---|")
        for comparison in comparisons {
            for row in comparison.rows {
                let added =
                    comparison.added(row.target).map { (Self.number($0.p50, 1), Self.number($0.p99, 1)) } ?? ("-", "-")
                out.append(
                    "| \(comparison.load) | \(row.target) | \(Self.number(row.configuration.median(\.deliveriesPerSecond))) | "
                        + "\(loss(row.configuration)) | \(Self.number(row.p50, 1)) | \(Self.number(row.p99, 1)) | \(added.0) | \(added.1) |"
                )
            }
            if let ratio = comparison.ratio {
                out.append(
                    "| \(comparison.load) | **ratio** | | | | | **\(Self.number(ratio.p50, 1))x** | **\(Self.number(ratio.p99, 1))x** |"
                )
            }
        }
        out.append("")
        out.append("Commands (the targets alternate within each run):")
        out.append("")
        for comparison in comparisons { out.append(contentsOf: comparison.rows.map { Self.command($0.configuration) }) }
        out.append("")
        return out
    }

    // MARK: Targets

    func targetsSection() -> [String] {
        var out = ["### The targets", "", "| target | goal | measured (median) | met |", "|---|---|---|---|"]
        func line(_ name: String, _ goal: String, _ measured: String, _ met: Bool?) {
            out.append("| \(name) | \(goal) | \(measured) | \(met.map { $0 ? "yes" : "**no**" } ?? "not measured") |")
        }
        if let row = configurations("clients").first(where: {
            $0.first.clients == 1000 && $0.first.rooms == 1 && $0.first.rate == 1000
        }) {
            line(
                "1000 clients, 1 room, 1000 msgs/s in, through the balancer", "every delivery, p99 ≤ 30 ms",
                "\(loss(row) == "none" ? "no loss" : loss(row)), \(Self.number(row.median(\.deliveriesPerSecond))) deliveries/s, p99 \(Self.number(row.median(\.p99), 1)) ms",
                row.deliveredAll && row.median(\.p99) <= 30)
        } else {
            line("1000 clients, 1 room, 1000 msgs/s", "every delivery, p99 ≤ 30 ms", "-", nil)
        }
        let clients = configurations("clients")
        if let many = clients.first(where: { $0.first.clients == 8000 && $0.first.rooms == 8 }),
            let one = clients.first(where: {
                $0.first.clients == 1000 && $0.first.rooms == 1 && $0.first.rate == many.first.rate
            })
        {
            line(
                "8,000 clients in 8 rooms against 1,000 in one room, same deliveries/s (\(Self.number(one.median(\.deliveriesPerSecond))) and \(Self.number(many.median(\.deliveriesPerSecond))))",
                "p99 no worse",
                "\(Self.number(many.median(\.p99), 1)) ms against \(Self.number(one.median(\.p99), 1)) ms",
                many.deliveredAll && many.median(\.p99) <= one.median(\.p99))
        }
        let saturation = configurations("rate").filter(\.deliveredAll).map { $0.median(\.deliveriesPerSecond) }.max()
        line(
            "saturation through the balancer", "≥ 500,000 deliveries/s",
            saturation.map { "\(Self.number($0)) deliveries/s (highest with no loss)" } ?? "-",
            saturation.map { $0 >= 500_000 })
        if let storm = configurations("storm").max(by: { $0.first.clients < $1.first.clients }) {
            let clients = Double(storm.first.clients)
            func perClient(_ label: String) -> Double? {
                storm.process(label) { Double($0.residentKiB - $0.residentBeforeKiB) * 1.024 / clients }
            }
            let seconds = storm.median(\.connectSeconds)
            line(
                "\(Self.number(clients)) clients connect through the balancer", "all named within 10 s",
                "\(Self.number(seconds, 2)) s", seconds <= 10 && clients >= 8000)
            let nodes = storm.first.processes.map(\.label).filter { $0.hasPrefix("node") }.compactMap(perClient)
            let node = nodes.max()
            line(
                "memory per client in a node", "≤ 10 KB",
                node.map { "\(Self.number($0, 1)) KB (largest of the nodes)" } ?? "-", node.map { $0 <= 10 })
            let balancer = perClient("balancer")
            line(
                "memory per client in the balancer", "≤ 4 KB", balancer.map { "\(Self.number($0, 1)) KB" } ?? "-",
                balancer.map { $0 <= 4 })
        }
        for comparison in proxyComparisons() {
            guard let ratio = comparison.ratio else { continue }
            line(
                "latency chat-balancer adds, \(comparison.load)", "≤ 1.3x HAProxy's",
                "\(Self.number(ratio.p50, 1))x at p50, \(Self.number(ratio.p99, 1))x at p99",
                ratio.p50 <= 1.3 && ratio.p99 <= 1.3)
        }
        if let flood = configurations("flood").max(by: {
            $0.median(\.acceptedPerSecond) < $1.median(\.acceptedPerSecond)
        }) {
            let accepted = flood.median(\.acceptedPerSecond)
            line(
                "room messages one node gets into Redis", "≥ 200,000/s", "\(Self.number(accepted))/s",
                accepted >= 200_000)
        }
        ircTargets(line)
        out.append("")
        return out
    }

    // MARK: Plots

    /// Writes each plot's data and gnuplot script into `directory` and runs gnuplot on them; returns the PNGs made.
    public func writePlots(to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var scripts: [(String, String)] = []
        let style = """
            set terminal pngcairo size 900,540 font "DejaVu Sans,11"
            set grid
            set key top left
            """
        // One point per client count: the sweep's first load for it (1,000 clients at 400 msgs/s, there for the
        // 8,000-client comparison, would be a second point at 1,000).
        var plotted = Set<Int>()
        let clients = configurations("clients").filter { plotted.insert($0.first.clients).inserted }
        if !clients.isEmpty {
            let data = clients.map { "\($0.first.clients) \($0.median(\.p50)) \($0.median(\.p99))" }.joined(
                separator: "\n")
            try data.write(toFile: directory + "/latency-by-clients.dat", atomically: true, encoding: .utf8)
            scripts.append(
                (
                    "latency-by-clients",
                    """
                    \(style)
                    set output "latency-by-clients.png"
                    set title "Latency against clients (through the balancer; median of runs)"
                    set logscale x
                    set logscale y
                    set xlabel "clients"
                    set ylabel "latency, ms"
                    plot "latency-by-clients.dat" using 1:2 with linespoints title "p50", "" using 1:3 with linespoints title "p99"
                    """
                ))
        }
        let rates = configurations("rate")
        if !rates.isEmpty {
            let data = rates.map { row -> String in
                let offered = row.first.rate * Double(row.first.clients / row.first.rooms - 1)
                return "\(offered) \(row.median(\.deliveriesPerSecond)) \(row.median(\.p99))"
            }.joined(separator: "\n")
            try data.write(toFile: directory + "/throughput-by-rate.dat", atomically: true, encoding: .utf8)
            scripts.append(
                (
                    "throughput-by-rate",
                    """
                    \(style)
                    set output "throughput-by-rate.png"
                    set title "Deliveries/s and p99 against offered deliveries/s (median of runs)"
                    set xlabel "offered deliveries/s"
                    set ylabel "deliveries/s"
                    set y2label "p99 ms"
                    set y2tics
                    set logscale y2
                    set format x "%.1s%c"
                    set format y "%.1s%c"
                    plot "throughput-by-rate.dat" using 1:1 with lines dashtype 2 title "offered", \\
                         "" using 1:2 with linespoints title "delivered/s", "" using 1:3 axes x1y2 with linespoints title "p99 ms"
                    """
                ))
        }
        let comparisons = proxyComparisons()
        if !comparisons.isEmpty {
            let data = comparisons.map { comparison -> String in
                func value(_ target: String) -> (Double, Double) { comparison.added(target) ?? (0, 0) }
                let ours = value("chat-balancer")
                let theirs = value("haproxy")
                return "\"\(comparison.load)\" \(ours.0) \(theirs.0) \(ours.1) \(theirs.1)"
            }.joined(separator: "\n")
            try data.write(toFile: directory + "/proxies.dat", atomically: true, encoding: .utf8)
            scripts.append(
                (
                    "proxies",
                    """
                    \(style)
                    set output "proxies.png"
                    set title "Latency added over going straight to the nodes (median of runs)"
                    set style data histograms
                    set style histogram clustered gap 1
                    set style fill solid 0.8 border -1
                    set ylabel "added latency, ms"
                    set logscale y
                    plot "proxies.dat" using 2:xtic(1) title "chat-balancer p50", "" using 3 title "HAProxy p50", \\
                         "" using 4 title "chat-balancer p99", "" using 5 title "HAProxy p99"
                    """
                ))
        }
        var made: [String] = []
        for (name, script) in scripts {
            try script.write(toFile: "\(directory)/\(name).gnuplot", atomically: true, encoding: .utf8)
            let gnuplot = Process()
            gnuplot.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            gnuplot.arguments = ["gnuplot", "\(name).gnuplot"]
            gnuplot.currentDirectoryURL = URL(fileURLWithPath: directory)
            try gnuplot.run()
            gnuplot.waitUntilExit()
            guard gnuplot.terminationStatus == 0 else {
                throw BenchmarkError("gnuplot failed on \(directory)/\(name).gnuplot")
            }
            made.append("\(directory)/\(name).png")
        }
        return made
    }

    /// Replaces what lies between the two markers in `document` with `section`.
    public static func splice(_ section: String, into document: String) throws -> String {
        guard let begin = document.range(of: beginMarker), let end = document.range(of: endMarker),
            begin.upperBound <= end.lowerBound
        else {
            throw BenchmarkError("the document has no \(beginMarker) ... \(endMarker) section to replace")
        }
        return String(document[..<begin.upperBound]) + "\n" + section + String(document[end.lowerBound...])
    }

    public static let beginMarker = "<!-- chat-bench report: begin (scripts/bench.sh regenerates this part) -->"
    public static let endMarker = "<!-- chat-bench report: end -->"
}
