import Foundation

extension BenchmarkResult {
    /// What `chat-bench run` prints after one run, in Markdown so it pastes into notes as is: the scenario's table,
    /// the measured processes' table when there are any, then the deliveries lost and the errors seen, if any.
    public func summary(of plan: BenchmarkPlan) -> String {
        var lines: [String] = []
        switch plan.scenario {
        case .chat:
            lines.append(
                "| clients | rooms | msgs/s in | delivered / expected | deliveries/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | connect s |"
            )
            lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
            lines.append(
                String(
                    format: "| %d | %d | %.0f | %d / %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |",
                    plan.clients, plan.rooms, Double(sent) / sendSeconds, delivered, expected,
                    deliveriesPerSecond, milliseconds(50), milliseconds(90), milliseconds(99),
                    milliseconds(99.9), Double(latency.max) / 1e6, connectSeconds))
        case .connectStorm:
            lines.append("| clients | all named after s | logins/s | login p50 ms | login p99 ms |")
            lines.append("|---|---|---|---|---|")
            lines.append(
                String(
                    format: "| %d | %.2f | %.0f | %.1f | %.1f |", plan.clients, connectSeconds,
                    Double(plan.clients) / connectSeconds, Double(login.valueAtPercentile(50)) / 1e6,
                    Double(login.valueAtPercentile(99)) / 1e6))
        case .flood:
            lines.append(
                "| clients | rooms | accepted msgs/s | delivered / expected | deliveries/s | p50 ms | p99 ms |")
            lines.append("|---|---|---|---|---|---|---|")
            lines.append(
                String(
                    format: "| %d | %d | %.0f | %d / %d | %.0f | %.1f | %.1f |", plan.clients, plan.rooms,
                    acceptedPerSecond, delivered, expected, deliveriesPerSecond, milliseconds(50), milliseconds(99)))
        }
        if !processes.isEmpty {
            lines.append("")
            lines.append("| process | CPU s | peak RSS MiB | RSS MiB | RSS added per client KB |")
            lines.append("|---|---|---|---|---|")
            for process in processes {
                lines.append(
                    String(
                        format: "| %@ | %.2f | %.1f | %.1f | %.1f |", process.label, process.cpuSeconds,
                        Double(process.peakResidentKiB) / 1024, Double(process.residentKiB) / 1024,
                        Double(process.residentKiB - process.residentBeforeKiB) * 1.024 / Double(plan.clients)))
            }
        }
        let loss = expected - delivered
        if loss != 0 { lines += ["", "lost: \(loss) deliveries"] }
        if !errors.isEmpty { lines.append("errors: \(errors)") }
        if joinsRetried > 0 { lines.append("joins refused for a moment and asked again: \(joinsRetried)") }
        return lines.joined(separator: "\n")
    }
}
