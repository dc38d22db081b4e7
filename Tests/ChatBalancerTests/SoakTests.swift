import ChatBench
import ChatTestSupport
import Foundation
import Testing

/// scripts/soak.sh, short: the hour-long soak's every fault, once each, on real processes (the network's faults
/// where this machine lets the script make network namespaces).
@Suite("the soak, short", .serialized)
struct SoakTests {
    @Test(
        "people chat through a node killed, a node stopped, the balancer restarted, the Redis primary killed, a node cut off and a node on a slow link; every acknowledged message reached everyone once, in order; the checker fails the same journal with one message shown twice or one taken out"
    )
    func shortSoak() throws {
        try TestEnvironment.startingProcess()
        let directory = TestEnvironment.temporaryDirectory("soak")
        let base = try Self.freeBase()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.packageDirectory + "/scripts/soak.sh")
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DURATION": "90", "FAULT_EVERY": "10", "PEOPLE": "30", "ROOMS": "6", "BASE": String(base),
            "BIN": TestEnvironment.binDirectory, "RUN_DIR": directory,
        ]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        #expect(process.terminationStatus == 0, "the soak failed; logs in \(directory)")
        #expect(text.contains("PASSED"))
        let networkFaults = TestNetwork.isSupported ? ["cut-node", "slow-link"] : []
        let faults = ["kill-node", "term-node", "restart-balancer", "fail-primary"] + networkFaults
        #expect(text.contains(TestNetwork.isSupported ? "on namespaces" : "on loopback"))
        for fault in faults {
            #expect(text.contains(": \(fault)"), "\(fault) was injected")
        }
        let reconnects = text.split(separator: "\n").first { $0.hasPrefix("reconnects: ") }
            .flatMap { Int($0.dropFirst("reconnects: ".count)) }
        #expect((reconnects ?? 0) > 0, "connections dropped and came back")

        // The checker on the same journal, altered: one message shown twice, one taken out.
        let journal = try SoakEntry.read(directory + "/journal.jsonl")
        let verdict = SoakChecker.check(journal)
        #expect(verdict.passed && verdict.acknowledged > 500 && verdict.faults >= faults.count, "\(verdict.report())")
        let shown = journal.indices.filter { journal[$0].kind == .received && journal[$0].code == "live" }
        let confirmed = Set(journal.filter { $0.kind == .acknowledged && $0.confirmed == true }.compactMap(\.text))
        // A confirmed message a person was shown once only (not again in a page it read on).
        var times: [String: Int] = [:]
        for entry in journal where entry.kind == .received {
            times["\(entry.client) \(entry.text ?? "")", default: 0] += 1
        }
        let taken = try #require(
            shown.last { index in
                journal[index].text.map(confirmed.contains) == true
                    && times["\(journal[index].client) \(journal[index].text ?? "")"] == 1
            })
        var twice = journal
        twice.append(journal[shown[shown.count / 2]])
        #expect(SoakChecker.check(twice).twice.count == 1)
        var missing = journal
        missing.remove(at: taken)
        #expect(SoakChecker.check(missing).missing.count == 1)
    }

    /// A base port with every port the script uses free.
    static func freeBase() throws -> Int {
        let offsets = [0, 1, 2, 3, 10, 11, 20, 21, 22, 100, 101, 102, 103, 200, 301, 302, 303]
        for _ in 0..<200 {
            let base = Int.random(in: 20_000...40_000)
            if offsets.allSatisfy({ TestEnvironment.isFree(port: base + $0) }) { return base }
        }
        throw HarnessError("no free ports for the soak")
    }
}
