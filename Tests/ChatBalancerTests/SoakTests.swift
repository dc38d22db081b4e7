import ChatBench
import ChatTestSupport
import Foundation
import Testing

/// scripts/soak.sh, short: the hour-long soak's every fault, once each, on real processes (the network's faults
/// where this machine lets the script make network namespaces).
@Suite("the soak, short", .serialized)
struct SoakTests {
    @Test(
        "people (JSON clients and IRC bots) chat through a node killed, a node stopped, the balancer restarted, the Redis primary killed, a connect storm, a node cut off and a node on a slow link; every acknowledged message reached everyone once, in order; the checker fails the same journal with one message shown twice or one taken out"
    )
    func shortSoak() throws {
        let (text, directory) = try Self.soak(["DURATION": "85", "FAULT_EVERY": "8", "STORM_CLIENTS": "500"])
        let networkFaults = text.contains("on namespaces") ? ["cut-node", "slow-link"] : []
        let faults = ["kill-node", "term-node", "restart-balancer", "fail-primary", "connect-storm"] + networkFaults
        // Where namespaces can be made the script uses them (it also needs tc for the slow link).
        let namespacesExpected = TestNetwork.isSupported && TestEnvironment.findExecutable("tc") != nil
        #expect(text.contains(namespacesExpected ? "on namespaces" : "on loopback"))
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
        // One person in three is an IRC bot (soaker2, soaker5, ...): they were acknowledged, shown others' messages,
        // and read what they missed with CHATHISTORY after coming back.
        let ircPeople = Set((0..<30).filter { $0 % 3 == 2 }.map { "soaker\($0)" })
        let irc = journal.filter { ircPeople.contains($0.client) }
        #expect(irc.contains { $0.kind == .acknowledged } && irc.contains { $0.code == "live" })
        #expect(irc.contains { $0.kind == .resumed } && irc.contains { $0.code?.hasPrefix("page:") == true })
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

    @Test(
        "on a Redis Cluster: a room's slot migrated while people chat in it, the primary serving a room killed; every acknowledged message reached everyone once, in order"
    )
    func clusterSoak() throws {
        let (text, directory) = try Self.soak([
            "REDIS": "cluster", "NETWORK": "loopback", "DURATION": "48", "FAULT_EVERY": "8",
            "FAULTS": "migrate-slot fail-primary migrate-slot kill-node",
        ])
        for fault in ["migrate-slot", "fail-primary", "kill-node"] {
            #expect(text.contains(": \(fault)"), "\(fault) was injected")
        }
        let verdict = SoakChecker.check(try SoakEntry.read(directory + "/journal.jsonl"))
        #expect(verdict.passed && verdict.acknowledged > 500 && verdict.faults == 4, "\(verdict.report())")
    }

    /// Runs scripts/soak.sh with 30 people in 6 rooms and `settings`; its output, once it passed, and its directory.
    static func soak(_ settings: [String: String]) throws -> (output: String, directory: String) {
        try TestEnvironment.startingProcess()
        let directory = TestEnvironment.temporaryDirectory("soak")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.packageDirectory + "/scripts/soak.sh")
        process.environment = ProcessInfo.processInfo.environment.merging(
            [
                "PEOPLE": "30", "ROOMS": "6", "BASE": String(try freeBase()), "BIN": TestEnvironment.binDirectory,
                "RUN_DIR": directory,
            ].merging(settings) { $1 }
        ) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        #expect(process.terminationStatus == 0, "the soak failed; logs in \(directory)")
        #expect(text.contains("PASSED"))
        return (text, directory)
    }

    /// A base port with every port the script uses free.
    static func freeBase() throws -> Int {
        let offsets =
            [0, 1, 2, 3, 50, 51, 52, 53, 10, 11, 12, 13, 14, 15, 20, 21, 22, 100, 101, 102, 103, 200, 301, 302, 303]
            + (10...15).map { $0 + 10_000 }  // a cluster member's bus port
        for _ in 0..<200 {
            let base = Int.random(in: 20_000...40_000)
            if offsets.allSatisfy({ TestEnvironment.isFree(port: base + $0) }) { return base }
        }
        throw HarnessError("no free ports for the soak")
    }
}
