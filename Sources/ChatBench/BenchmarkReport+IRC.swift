/// The IRC issue's figures: chat-bench's IRC clients fanned out through one node's IRC port (the message goes
/// through Redis and back) against ngircd, the C reference server, in the same run.
extension BenchmarkReport {
    /// CPU seconds of the processes that serve the run: a node's run counts Redis and the nodes (the balancer and
    /// HAProxy sit idle: the clients connect to the node), the cluster's runs their proxy too, an ngircd run ngircd.
    static func serverCPU(_ run: BenchmarkRecord) -> Double {
        let idle =
            switch run.target {
            case "balancer-irc": ["haproxy"]
            case "haproxy-irc": ["balancer"]
            default: ["balancer", "haproxy"]
            }
        return run.processes.filter { !idle.contains($0.label) }.reduce(0) { $0 + $1.cpuSeconds }
    }

    /// Microseconds of server CPU per message delivered to a client.
    static func cpuPerDelivery(_ run: BenchmarkRecord) -> Double {
        run.delivered > 0 ? serverCPU(run) * 1e6 / Double(run.delivered) : 0
    }

    /// Each run of ours (one node's IRC port, or the cluster behind the balancer's) with ngircd's run of the same
    /// load: clients, senders and rate.
    func ircRows() -> [(node: Configuration, ngircd: Configuration)] {
        let rows = configurations("irc")
        return rows.filter { $0.first.target != "ngircd" }.compactMap { node in
            rows.first {
                $0.first.target == "ngircd" && $0.first.rate == node.first.rate
                    && $0.first.clients == node.first.clients
                    && $0.first.senders == node.first.senders
            }.map { (node, $0) }
        }
    }

    func ircSection() -> [String] {
        let rows = configurations("irc")
        guard !rows.isEmpty else { return [] }
        var out = ["### IRC: one node's IRC port against ngircd (same clients, same run)", ""]
        out.append(
            "| target | clients | senders | msgs/s in | deliveries/s | loss | p50 ms | p99 ms | server CPU s | CPU µs per delivery |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            out.append(
                "| \(row.first.target) | \(Self.number(Double(row.first.clients))) | \(row.first.senders) | \(Self.number(row.first.rate)) | "
                    + "\(Self.number(row.median(\.deliveriesPerSecond))) | \(loss(row)) | \(Self.number(row.median(\.p50), 1)) | "
                    + "\(Self.number(row.median(\.p99), 1)) | \(Self.number(row.median(Self.serverCPU), 2)) | "
                    + "\(Self.number(row.median(Self.cpuPerDelivery), 2)) |")
        }
        out.append("")
        out.append(
            contentsOf: Self.commands(
                rows,
                intro:
                    "node1-irc is one node's IRC port; balancer-irc is chat-balancer's IRC port in front of the three nodes, "
                    + "haproxy-irc HAProxy's (TCP, round-robin, send-proxy) in front of the same nodes: the reference for what "
                    + "any proxy costs here. Their CPU includes Redis (every message is published there and comes back to the "
                    + "nodes), and for the cluster's runs the proxy; ngircd is one process that writes each message to its "
                    + "channel's members itself. Commands:"))
        return out
    }

    /// The performance issue's targets per load: one node's p99 no worse than ngircd's and its CPU per delivery no
    /// higher; the cluster behind the balancer within twice ngircd's p99.
    func ircTargets(_ line: (String, String, String, Bool?) -> Void) {
        let pairs = ircRows()
        for (node, ngircd) in pairs where node.first.target != "haproxy-irc" {
            let load =
                "\(Self.number(Double(node.first.clients))) IRC clients, \(Self.number(node.first.rate)) msgs/s from "
                + "\(node.first.senders) senders"
            let (ours, theirs) = (node.median(\.p99), ngircd.median(\.p99))
            let measured = "\(Self.number(ours, 1)) ms against \(Self.number(theirs, 1)) ms"
            if node.first.target == "balancer-irc" {
                // HAProxy in front of the same nodes, same load, same run: what the machine allows a proxy.
                let haproxy = pairs.first {
                    $0.node.first.target == "haproxy-irc" && $0.node.first.rate == node.first.rate
                        && $0.node.first.senders == node.first.senders && $0.node.first.clients == node.first.clients
                }
                let reference = haproxy.map { "; behind HAProxy: \(Self.number($0.node.median(\.p99), 1)) ms" } ?? ""
                line(
                    "p99 of 3 nodes behind chat-balancer against ngircd, \(load)", "≤ 2x ngircd's",
                    measured + reference,
                    node.deliveredAll && ours <= 2 * theirs)
                continue
            }
            line("p99 against ngircd, \(load)", "≤ ngircd's", measured, node.deliveredAll && ours <= theirs)
            let (cpu, reference) = (node.median(Self.cpuPerDelivery), ngircd.median(Self.cpuPerDelivery))
            line(
                "CPU per delivery against ngircd, \(load)", "≤ ngircd's",
                "\(Self.number(cpu, 2)) µs against \(Self.number(reference, 2)) µs", cpu <= reference)
        }
    }
}
