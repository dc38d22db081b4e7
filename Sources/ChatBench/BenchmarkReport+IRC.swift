/// The IRC issue's figures: chat-bench's IRC clients fanned out through one node's IRC port (the message goes
/// through Redis and back) against ngircd, the C reference server, in the same run.
extension BenchmarkReport {
    /// CPU seconds of the processes that serve the run: a node's run counts Redis and the nodes (the balancer and
    /// HAProxy sit idle: the clients connect to the node), an ngircd run counts ngircd.
    static func serverCPU(_ run: BenchmarkRecord) -> Double {
        run.processes.filter { !["balancer", "haproxy"].contains($0.label) }.reduce(0) { $0 + $1.cpuSeconds }
    }

    /// Microseconds of server CPU per message delivered to a client.
    static func cpuPerDelivery(_ run: BenchmarkRecord) -> Double {
        run.delivered > 0 ? serverCPU(run) * 1e6 / Double(run.delivered) : 0
    }

    func ircRows() -> [(node: Configuration, ngircd: Configuration)] {
        let rows = configurations("irc")
        return rows.filter { $0.first.target == "node1-irc" }.compactMap { node in
            rows.first { $0.first.target == "ngircd" && $0.first.rate == node.first.rate && $0.first.clients == node.first.clients }
                .map { (node, $0) }
        }
    }

    func ircSection() -> [String] {
        let rows = configurations("irc")
        guard !rows.isEmpty else { return [] }
        var out = ["### IRC: one node's IRC port against ngircd (same clients, same run)", ""]
        out.append("| target | clients | msgs/s in | deliveries/s | loss | p50 ms | p99 ms | server CPU s | CPU µs per delivery |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            out.append(
                "| \(row.first.target) | \(Self.number(Double(row.first.clients))) | \(Self.number(row.first.rate)) | "
                    + "\(Self.number(row.median(\.deliveriesPerSecond))) | \(loss(row)) | \(Self.number(row.median(\.p50), 1)) | "
                    + "\(Self.number(row.median(\.p99), 1)) | \(Self.number(row.median(Self.serverCPU), 2)) | "
                    + "\(Self.number(row.median(Self.cpuPerDelivery), 2)) |")
        }
        out.append("")
        out.append(contentsOf: Self.commands(rows, intro:
            "The node's figures include Redis (every message is published there and comes back to the node); ngircd "
            + "is one process that writes each message to its channel's members itself. Commands:"))
        return out
    }

    /// The two targets per load: p99 no worse than ngircd's, CPU per delivery no higher.
    func ircTargets(_ line: (String, String, String, Bool?) -> Void) {
        for (node, ngircd) in ircRows() {
            let load = "\(Self.number(Double(node.first.clients))) IRC clients, \(Self.number(node.first.rate)) msgs/s"
            let (ours, theirs) = (node.median(\.p99), ngircd.median(\.p99))
            line("p99 against ngircd, \(load)", "≤ ngircd's", "\(Self.number(ours, 1)) ms against \(Self.number(theirs, 1)) ms",
                 node.deliveredAll && ours <= theirs)
            let (cpu, reference) = (node.median(Self.cpuPerDelivery), ngircd.median(Self.cpuPerDelivery))
            line("CPU per delivery against ngircd, \(load)", "≤ ngircd's",
                 "\(Self.number(cpu, 2)) µs against \(Self.number(reference, 2)) µs", cpu <= reference)
        }
    }
}
