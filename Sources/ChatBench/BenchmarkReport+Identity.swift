/// The identity issue's figures: what a password login costs against a guest's, and what TLS at the balancer
/// costs against its plain port, each pair measured in the same run.
extension BenchmarkReport {
    func loginsSection() -> [String] {
        let rows = configurations("logins")
        guard !rows.isEmpty else { return [] }
        var out = ["### Logins: guests against registered names (scrypt), through the balancer", ""]
        out.append(
            "| who | clients | all named after s | logins/s | login p50 ms | login p99 ms | errors | node CPU s (sum) |"
        )
        out.append("|---|---|---|---|---|---|---|---|")
        for row in rows {
            let errors = row.runs.reduce(0) { $0 + $1.errors.values.reduce(0, +) }
            let nodeCPU = row.processLabels.filter { $0.hasPrefix("node") }.compactMap { row.process($0, \.cpuSeconds) }
            out.append(
                "| \(row.first.target) | \(Self.number(Double(row.first.clients))) | \(Self.number(row.median(\.connectSeconds), 2)) | "
                    + "\(Self.number(row.median(\.loginsPerSecond))) | \(Self.number(row.median(\.loginP50), 1)) | "
                    + "\(Self.number(row.median(\.loginP99), 1)) | \(errors) | "
                    + (nodeCPU.isEmpty ? "-" : Self.number(nodeCPU.reduce(0, +), 2)) + " |")
        }
        out.append("")
        out.append(
            contentsOf: Self.commands(
                rows,
                intro:
                    "A registered login is a claim, a password check off the event loops and a second claim; the names were "
                    + "registered before the measured run (not timed). Commands:"))
        return out
    }

    func tlsSection() -> [String] {
        let rows = configurations("tls")
        guard !rows.isEmpty else { return [] }
        var out = ["### TLS at the balancer against its plain port (same nodes, same run)", ""]
        out.append("| target | clients | msgs/s in | deliveries/s | loss | p50 ms | p99 ms | balancer CPU s |")
        out.append("|---|---|---|---|---|---|---|---|")
        for row in rows {
            let cpu = row.process("balancer", \.cpuSeconds).map { Self.number($0, 2) } ?? "-"
            out.append(
                "| \(row.first.target) | \(Self.number(Double(row.first.clients))) | \(Self.number(row.first.rate)) | "
                    + "\(Self.number(row.median(\.deliveriesPerSecond))) | \(loss(row)) | \(Self.number(row.median(\.p50), 1)) | "
                    + "\(Self.number(row.median(\.p99), 1)) | \(cpu) |")
        }
        out.append("")
        out.append(contentsOf: Self.commands(rows))
        return out
    }
}
