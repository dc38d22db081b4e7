import ChatBench
import Foundation
import Testing

/// The report's reading of the IRC and client sweeps, on records made up for it (no cluster needed).
@Suite("Benchmark report targets")
struct BenchmarkReportTargetTests {
    static func record(
        group: String, target: String, clients: Int = 1000, rooms: Int = 1, senders: Int, rate: Double, p99: Double,
        cpu: [(String, Double)] = []
    ) throws -> BenchmarkRecord {
        let processes = cpu.map {
            ["label": $0.0, "cpuSeconds": $0.1, "peakResidentKiB": 0, "residentBeforeKiB": 0, "residentKiB": 0]
                as [String: Any]
        }
        let fields: [String: Any] = [
            "group": group, "target": target, "run": 1, "scenario": "chat", "mode": "irc", "clients": clients,
            "rooms": rooms,
            "senders": senders, "rate": rate, "duration": 5, "sent": 500, "expected": 1000, "delivered": 1000,
            "messagesPerSecond": rate, "deliveriesPerSecond": rate * 999, "acceptedPerSecond": 0, "p50": 1, "p90": 2,
            "p99": p99, "p999": p99, "max": p99, "connectSeconds": 1, "loginsPerSecond": 1, "loginP50": 1,
            "loginP99": 1,
            "errors": [String: Int](), "processes": processes, "command": "chat-bench run", "machine": "test",
        ]
        return try JSONDecoder().decode(BenchmarkRecord.self, from: JSONSerialization.data(withJSONObject: fields))
    }

    @Test("each IRC run is paired with ngircd's at the same senders and rate; the cluster gets its 2x allowance")
    func ircPairing() throws {
        let records = [
            try Self.record(
                group: "irc", target: "node1-irc", senders: 100, rate: 100, p99: 20, cpu: [("node1", 1), ("redis", 1)]),
            try Self.record(
                group: "irc", target: "balancer-irc", senders: 100, rate: 100, p99: 29, cpu: [("balancer", 2)]),
            try Self.record(
                group: "irc", target: "haproxy-irc", senders: 100, rate: 100, p99: 33,
                cpu: [("haproxy", 3), ("balancer", 9)]),
            try Self.record(group: "irc", target: "ngircd", senders: 100, rate: 100, p99: 15, cpu: [("ngircd", 1)]),
            try Self.record(group: "irc", target: "node1-irc", senders: 10, rate: 100, p99: 10, cpu: [("node1", 1)]),
            try Self.record(group: "irc", target: "ngircd", senders: 10, rate: 100, p99: 12, cpu: [("ngircd", 2)]),
            try Self.record(
                group: "clients", target: "chat-balancer", clients: 1000, senders: 100, rate: 400, p99: 100),
            try Self.record(
                group: "clients", target: "chat-balancer", clients: 8000, rooms: 8, senders: 400, rate: 400, p99: 1500),
        ]
        let report = BenchmarkReport(records: records).markdown(plotDirectory: "bench")
        func row(_ name: String) -> String? {
            report.split(separator: "\n").map(String.init).first { $0.hasPrefix("| \(name)") }
        }
        #expect(
            row("p99 against ngircd, 1,000 IRC clients, 100 msgs/s from 100 senders")?.hasSuffix(
                "20.0 ms against 15.0 ms | **no** |") == true, "\(report)")
        #expect(
            row("p99 against ngircd, 1,000 IRC clients, 100 msgs/s from 10 senders")?.hasSuffix(
                "10.0 ms against 12.0 ms | yes |") == true, "\(report)")
        // Node and Redis count for the node; the balancer only for the cluster's run.
        #expect(
            row("CPU per delivery against ngircd, 1,000 IRC clients, 100 msgs/s from 10 senders")?.hasSuffix(
                "1000.00 µs against 2000.00 µs | yes |") == true, "\(report)")
        #expect(
            row("p99 of 3 nodes behind chat-balancer against ngircd, 1,000 IRC clients, 100 msgs/s from 100 senders")?
                .hasSuffix("29.0 ms against 15.0 ms; behind HAProxy: 33.0 ms | yes |") == true, "\(report)")
        // HAProxy's run is a reference beside the balancer's, not a target of its own; its CPU is HAProxy's, not the
        // idle balancer's.
        #expect(
            !report.contains("| p99 against ngircd, 1,000 IRC clients, 100 msgs/s from 100 senders | ≤ ngircd's | 33.0")
        )
        #expect(row("haproxy-irc")?.contains("| 3.00 |") == true, "\(report)")
        #expect(
            row("8,000 clients in 8 rooms against 1,000 in one room")?.hasSuffix(
                "1500.0 ms against 100.0 ms | **no** |") == true, "\(report)")
    }
}
