import ChatCore
import Endpoints
import Foundation
import NIOCore
import NIOPosix

/// A soak: people in rooms for a long time, each sending now and then, every one of them coming back after every
/// dropped connection, while something outside (scripts/soak.sh) kills and restarts the servers under them. The
/// journal it writes is checked afterwards (`SoakChecker`).
public struct SoakPlan: Sendable {
    public var target: HostPort
    public var people: Int
    public var rooms: Int
    /// Rooms each person is in (the first of them its own, the rest spread over the others).
    public var roomsPerPerson: Int
    /// Seconds between one person's messages (each waits a random part of it first, so they spread out).
    public var interval: Double
    public var duration: Double
    /// After the last message, how long to keep listening for the ones in flight and the pages owed.
    public var drain: Double
    public var journal: String
    /// Where scripts/soak.sh writes each fault it injected, a line `<unix ms> <name>` each: added to the journal
    /// at the end, so the checker knows when Redis failed over.
    public var faults: String? = nil
    /// Where IRC clients connect (the balancer's IRC port): then every `ircShare`th person speaks IRC.
    public var ircTarget: HostPort? = nil
    public var ircShare = 3
    public var threads = 2

    public init(
        target: HostPort, people: Int, rooms: Int, roomsPerPerson: Int, interval: Double, duration: Double,
        drain: Double, journal: String
    ) {
        self.target = target
        self.people = people
        self.rooms = rooms
        self.roomsPerPerson = roomsPerPerson
        self.interval = interval
        self.duration = duration
        self.drain = drain
        self.journal = journal
    }
}

public enum Soak {
    public struct Outcome: Sendable {
        public var verdict: SoakChecker.Verdict
        /// Connections that dropped and came back, over all people.
        public var reconnects: Int
    }

    public static func run(_ plan: SoakPlan, progress: @escaping @Sendable (String) -> Void) async throws -> Outcome {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, plan.threads))
        let journal = try SoakJournalWriter(path: plan.journal)
        let rooms = (0..<max(1, plan.rooms)).map { "soak\($0)" }
        let people = (0..<plan.people).map { index -> any SoakClient in
            let own = index % rooms.count
            let theirs = Array(
                Set((0..<min(plan.roomsPerPerson, rooms.count)).map { rooms[(own + $0 * 7) % rooms.count] })
            )
            .sorted()
            if let irc = plan.ircTarget, plan.ircShare > 0, index % plan.ircShare == plan.ircShare - 1 {
                return SoakIRCPerson(
                    name: "soaker\(index)", rooms: theirs, target: irc, eventLoop: group.next(), journal: journal)
            }
            return SoakPerson(
                name: "soaker\(index)", rooms: theirs, target: plan.target, eventLoop: group.next(), journal: journal)
        }
        for person in people {
            person.eventLoop.execute { person.start() }
        }
        let every = Int64(plan.interval * 1000)
        let timers = people.map { person -> RepeatedTask in
            let first = TimeAmount.milliseconds(Int64.random(in: 500...max(501, every)))
            return person.eventLoop.scheduleRepeatedTask(initialDelay: first, delay: .milliseconds(every)) { _ in
                person.speak()
            }
        }
        let started = Date()
        while Date().timeIntervalSince(started) < plan.duration {
            try await Task.sleep(for: .seconds(min(10, plan.duration)))
            progress("\(Int(Date().timeIntervalSince(started))) s")
        }
        for timer in timers { timer.cancel() }
        for person in people { person.eventLoop.execute { person.stopSending() } }
        try await Task.sleep(for: .seconds(plan.drain))
        var reconnects = 0
        for person in people {
            reconnects += try await person.eventLoop.submit {
                person.stop()
                return person.reconnects
            }.get()
        }
        try await Task.sleep(for: .milliseconds(300))

        // The history itself, read from the start of every room by someone who was never there: every message
        // acknowledged without a warning must be in it.
        progress("auditing the history")
        let auditor = SoakPerson(
            name: "auditor", rooms: rooms, target: plan.target, eventLoop: group.next(), journal: journal,
            auditing: true)
        auditor.eventLoop.execute { auditor.start() }
        let auditStarted = Date()
        while try await !auditor.eventLoop.submit({ auditor.caughtUp }).get(),
            Date().timeIntervalSince(auditStarted) < 120
        {
            try await Task.sleep(for: .milliseconds(200))
        }
        try await auditor.eventLoop.submit { auditor.stop() }.get()
        try await Task.sleep(for: .milliseconds(200))

        if let faults = plan.faults, let lines = try? String(contentsOfFile: faults, encoding: .utf8) {
            for line in lines.split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: " ")
                guard parts.count >= 2, let unixMilliseconds = Double(parts[0]) else { continue }
                journal.append(
                    SoakEntry(.fault, client: "soak.sh", code: parts.dropFirst().joined(separator: " ")),
                    at: Date(timeIntervalSince1970: unixMilliseconds / 1000))
            }
        }
        journal.close()
        try await group.shutdownGracefully()
        var expected = Dictionary(uniqueKeysWithValues: people.map { ($0.name, $0.rooms) })
        expected[auditor.name] = rooms
        return Outcome(
            verdict: SoakChecker.check(try SoakEntry.read(plan.journal), expectedRooms: expected),
            reconnects: reconnects)
    }
}
