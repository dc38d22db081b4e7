import ChatBench
import Testing

/// The soak's checker (`SoakChecker`) on small journals: it passes a faithful one and fails each way a
/// journal can break the promise (a message shown twice, out of order, missing, altered, invented).
@Suite("the soak's checker")
struct SoakCheckerTests {
    /// Alice and Bob in one room; Alice sends three messages (at 20, 40 and 60 s), all acknowledged; Bob is shown
    /// all three.
    static func faithful() -> [SoakEntry] {
        var entries: [SoakEntry] = [
            SoakEntry(.joined, client: "alice", room: "r"), SoakEntry(.joined, client: "bob", room: "r"),
        ]
        for n in 1...3 {
            let text = "alice#\(n)"
            let id = "100\(n)-0"
            let at = n * 20_000
            entries += [
                SoakEntry(.sent, client: "alice", room: "r", text: text, at: at),
                SoakEntry(.acknowledged, client: "alice", room: "r", text: text, msgid: id, confirmed: true, at: at),
                SoakEntry(.received, client: "alice", room: "r", text: text, msgid: id, code: "own", at: at),
                SoakEntry(.received, client: "bob", room: "r", text: text, msgid: id, code: "live", at: at),
            ]
        }
        return entries
    }

    static func bobShown(_ entries: [SoakEntry]) -> [Int] {
        entries.indices.filter { entries[$0].kind == .received && entries[$0].client == "bob" }
    }

    @Test("a faithful journal passes")
    func faithfulPasses() {
        let verdict = SoakChecker.check(Self.faithful())
        #expect(verdict.passed, "\(verdict.report())")
        #expect(verdict.acknowledged == 3 && verdict.deliveries == 6)
    }

    @Test("a message shown twice, out of order, or not at all fails it; so does one altered or invented")
    func violationsFail() {
        var twice = Self.faithful()
        twice.append(twice[Self.bobShown(twice)[1]])
        #expect(SoakChecker.check(twice).twice == ["bob r 1002-0"])

        var missing = Self.faithful()
        missing.remove(at: Self.bobShown(missing)[2])
        #expect(SoakChecker.check(missing).missing == ["bob r 1003-0 (alice#3)"])

        var reordered = Self.faithful()
        let shown = Self.bobShown(reordered)
        reordered.swapAt(shown[0], shown[1])
        #expect(SoakChecker.check(reordered).outOfOrder == ["bob r 1001-0"])

        var altered = Self.faithful()
        altered[Self.bobShown(altered)[0]].text = "alice#2"
        #expect(!SoakChecker.check(altered).altered.isEmpty)

        var invented = Self.faithful()
        invented.append(SoakEntry(.received, client: "bob", room: "r", text: "mallory#1", msgid: "1004-0"))
        #expect(SoakChecker.check(invented).invented == ["bob r 1004-0 mallory#1"])
        for journal in [twice, missing, reordered, altered, invented] { #expect(!SoakChecker.check(journal).passed) }
    }

    @Test(
        "allowed and counted: an unconfirmed message missing near a failover or a drop, messages a lost gap names, a failed one delivered"
    )
    func allowances() {
        var unconfirmed = Self.faithful()
        unconfirmed.remove(at: Self.bobShown(unconfirmed)[2])
        let acknowledgement = unconfirmed.firstIndex { $0.kind == .acknowledged && $0.text == "alice#3" }!
        unconfirmed[acknowledgement].confirmed = false
        // Bob was connected, and Redis did not fail over: it was delivered live to everyone connected, or lost.
        #expect(SoakChecker.check(unconfirmed).missing == ["bob r 1003-0 (alice#3)"])
        var failedOver = unconfirmed
        failedOver.append(SoakEntry(.fault, client: "soak.sh", code: "fail-primary", at: 61_000))
        let verdict = SoakChecker.check(failedOver)
        #expect(verdict.passed && verdict.unconfirmedMissing == 1 && verdict.unconfirmed == 1)
        var dropped = unconfirmed
        dropped.append(SoakEntry(.dropped, client: "bob", at: 59_000))
        #expect(SoakChecker.check(dropped).passed)

        var gone = Self.faithful()
        gone.remove(at: Self.bobShown(gone)[0])
        gone.append(SoakEntry(.gap, client: "bob", room: "r", msgid: "1002-0", lost: true, after: "1000-0"))
        let excused = SoakChecker.check(gone)
        #expect(excused.passed && excused.excusedByGaps == 1)
        // A lost gap names its range only: it does not excuse what came after the oldest message kept.
        var tooLate = Self.faithful()
        tooLate.remove(at: Self.bobShown(tooLate)[2])
        tooLate.append(SoakEntry(.gap, client: "bob", room: "r", msgid: "1002-0", lost: true, after: "1000-0"))
        #expect(SoakChecker.check(tooLate).missing == ["bob r 1003-0 (alice#3)"])

        var failed = Self.faithful()
        failed.append(SoakEntry(.sent, client: "alice", room: "r", text: "alice#4"))
        failed.append(SoakEntry(.failed, client: "alice", room: "r", text: "alice#4", code: "redis-unavailable"))
        failed.append(SoakEntry(.received, client: "bob", room: "r", text: "alice#4", msgid: "1004-0"))
        let delivered = SoakChecker.check(failed)
        #expect(delivered.passed && delivered.failedButDelivered == 1)

        // Joined late: what came before its join is not owed.
        var late = Self.faithful()
        late.removeAll { $0.client == "bob" }
        late.append(SoakEntry(.joined, client: "bob", room: "r", msgid: "1002-0"))
        late.append(SoakEntry(.received, client: "bob", room: "r", text: "alice#3", msgid: "1003-0"))
        #expect(SoakChecker.check(late).passed)
    }

    @Test(
        "the auditor, reading the history after the soak, is owed every message acknowledged without a warning; a journal with nothing acknowledged, or a person who never joined, fails"
    )
    func auditAndLiveness() {
        var audited = Self.faithful()
        audited.append(SoakEntry(.joined, client: "auditor", room: "r", code: "audit"))
        for n in [1, 3] {
            audited.append(
                SoakEntry(
                    .received, client: "auditor", room: "r", text: "alice#\(n)", msgid: "100\(n)-0", code: "join:1"))
        }
        #expect(SoakChecker.check(audited).missing == ["auditor r 1002-0 (alice#2)"])
        let acknowledgement = audited.firstIndex { $0.kind == .acknowledged && $0.text == "alice#2" }!
        audited[acknowledgement].confirmed = false
        #expect(SoakChecker.check(audited).passed, "an unconfirmed message may be gone from the history")

        #expect(!SoakChecker.check([]).passed)
        let absent = SoakChecker.check(Self.faithful(), expectedRooms: ["alice": ["r"], "carol": ["r"]])
        #expect(absent.neverJoined == ["carol r"] && !absent.passed)
    }
}
