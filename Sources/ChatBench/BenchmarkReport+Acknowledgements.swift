/// What `--ack-replicas` costs: the same loads on a Redis with one replica, the nodes acknowledging once the
/// primary has a message (`async`) against once the replica has it too (`acked`), measured in the same run.
extension BenchmarkReport {
    func acknowledgementsSection() -> [String] {
        let rows = configurations("acks")
        guard !rows.isEmpty else { return [] }
        var out = ["### Acknowledgements that wait for a replica (--ack-replicas 1) against the default", ""]
        out.append(
            "| nodes acknowledge | load | clients | msgs/s in | deliveries/s | loss | p50 ms | p99 ms | node CPU s (sum) | Redis CPU s |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            let nodeCPU = row.processLabels.filter { $0.hasPrefix("node") }.compactMap { row.process($0, \.cpuSeconds) }
            let redisCPU = row.process("redis", \.cpuSeconds).map { Self.number($0, 2) } ?? "-"
            let target = row.first.target
            let mode = target.hasPrefix("acked") ? "once the replica has it" : "once the primary has it"
            let flood = target.hasSuffix("flood")
            let load = flood ? "flood, one node" : "\(Self.number(row.first.rate)) msgs/s, balancer"
            let accepted = flood ? row.median(\.acceptedPerSecond) : Double(row.first.rate)
            out.append(
                "| \(mode) | \(load) | \(Self.number(Double(row.first.clients))) | "
                    + "\(Self.number(accepted)) | \(Self.number(row.median(\.deliveriesPerSecond))) | "
                    + "\(loss(row)) | \(Self.number(row.median(\.p50), 1)) | \(Self.number(row.median(\.p99), 1)) | "
                    + (nodeCPU.isEmpty ? "-" : Self.number(nodeCPU.reduce(0, +), 2)) + " | \(redisCPU) |")
        }
        out.append("")
        out.append(
            contentsOf: Self.commands(
                rows,
                intro:
                    "Both on the same deployment: a Redis primary with one replica on the same machine "
                    + "(`acked-*` nodes run `--ack-replicas 1 --ack-timeout-ms 1000`). Commands:"))
        return out
    }
}
