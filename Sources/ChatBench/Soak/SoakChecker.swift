import ChatCore

/// Reads a soak's journal (`SoakEntry`) and checks the promise the chat makes about messages: every message whose
/// sender was told it was sent reached every member of its room once, in order, or was reported as a gap. Checked
/// per client and room, against what the clients were told and shown, never against the servers' own account.
///
/// - **once**: a live message from others is never shown twice, nor again after a join's history showed it (the
///   server replays what it held back during a join "with nothing twice"), nor is an id repeated inside one page.
///   Pages a client reads on by itself may show again what came live meanwhile: that is the client's reading.
/// - **in order**: others' live messages come in id order, and so does each page. One's own acknowledgement (the
///   publish's reply) may come before others' messages sent a moment earlier (docs/protocol.md): outside the order.
/// - **complete**: every stored message of the room (acknowledged, or shown to anyone) that others sent, newer than
///   what the client saw on first joining, reached it, unless a `gap` with `lost` named its range. A message acknowledged without a
///   warning is owed without exception, to every member and to the auditor that reads the history after the soak.
///   One acknowledged `unconfirmed`, or never acknowledged (its sender got an error or no reply), may be missing
///   where a Redis failover or the client's own dropped connection came within moments of it; counted, not failed.
/// - **faithful**: what a client was shown under an id is what its sender was acknowledged under it, one text is
///   stored under one id, nothing is shown that nobody sent. A message whose sender was told it failed and that
///   arrived anyway is counted (the sender may send it again), not failed.
/// - **alive**: something was acknowledged, and every person joined every room it was given.
public enum SoakChecker {
    public struct Verdict: Sendable, Equatable {
        public var sent = 0
        public var acknowledged = 0
        public var unconfirmed = 0
        public var deliveries = 0
        public var faults = 0
        /// "client room msgid" for each violation.
        public var twice: [String] = []
        public var outOfOrder: [String] = []
        public var missing: [String] = []
        public var altered: [String] = []
        public var invented: [String] = []
        /// "client room" that never joined.
        public var neverJoined: [String] = []
        /// Allowed, and counted: unconfirmed or unacknowledged messages missing where a failover or the client's
        /// own drop came close to them, messages a lost gap named, messages whose sender was told they failed
        /// but that arrived.
        public var unconfirmedMissing = 0
        public var excusedByGaps = 0
        public var failedButDelivered = 0

        public var passed: Bool {
            twice.isEmpty && outOfOrder.isEmpty && missing.isEmpty && altered.isEmpty && invented.isEmpty
                && neverJoined.isEmpty && acknowledged > 0
        }

        public func report() -> String {
            var lines = [
                "\(passed ? "PASSED" : "FAILED"): \(sent) sent, \(acknowledged) acknowledged (\(unconfirmed) unconfirmed), "
                    + "\(deliveries) deliveries checked, \(faults) faults",
                "duplicates \(twice.count), out of order \(outOfOrder.count), missing \(missing.count), "
                    + "altered \(altered.count), invented \(invented.count), never joined \(neverJoined.count)",
                "allowed: unconfirmed or unacknowledged and missing \(unconfirmedMissing), excused by lost gaps "
                    + "\(excusedByGaps), told failed but delivered \(failedButDelivered)",
            ]
            for (name, list) in [
                ("duplicate", twice), ("out of order", outOfOrder), ("missing", missing), ("altered", altered),
                ("invented", invented), ("never joined", neverJoined),
            ] where !list.isEmpty {
                lines.append("\(name): " + list.prefix(10).joined(separator: "; ") + (list.count > 10 ? "; ..." : ""))
            }
            if acknowledged == 0 { lines.append("nothing was acknowledged") }
            return lines.joined(separator: "\n")
        }
    }

    /// How close (ms) a failover or a dropped connection must come to a message not confirmed by the replicas for
    /// its absence to be allowed: before it (the replica was behind) or after it (the failover took it).
    static let nearBefore = 5_000
    static let nearAfter = 30_000

    private struct Acknowledgement {
        var room: String
        var id: StreamID
        var confirmed: Bool
    }

    private struct Delivery {
        var id: StreamID
        var text: String
        var via: String
    }

    private struct Membership {
        var since = StreamID.zero
        var joined = false
        var audit = false
        var shown: [Delivery] = []
        var lostRanges: [(after: StreamID, oldest: StreamID?)] = []
    }

    public static func check(_ entries: [SoakEntry], expectedRooms: [String: [String]] = [:]) -> Verdict {
        var verdict = Verdict()
        /// The room each text was sent to, and who sent it.
        var sent: [String: String] = [:]
        var sentBy: [String: String] = [:]
        var failed = Set<String>()
        var acknowledged: [String: Acknowledgement] = [:]
        var memberships: [String: [String: Membership]] = [:]
        var drops: [String: [Int]] = [:]
        var failovers: [Int] = []
        /// Every message known stored, per room: its text and when it was first acknowledged or shown.
        var stored: [String: [StreamID: (text: String, at: Int)]] = [:]
        func store(_ room: String, _ id: StreamID, _ text: String, at: Int) {
            if let known = stored[room]?[id], known.at <= at { return }
            stored[room, default: [:]][id] = (text, at)
        }

        for entry in entries {
            switch entry.kind {
            case .sent:
                if let text = entry.text, let room = entry.room {
                    sent[text] = room
                    sentBy[text] = entry.client
                }
            case .acknowledged:
                guard let text = entry.text, let room = entry.room, let id = entry.msgid.flatMap(StreamID.init) else {
                    continue
                }
                acknowledged[text] = Acknowledgement(room: room, id: id, confirmed: entry.confirmed ?? true)
                store(room, id, text, at: entry.at)
            case .failed:
                if let text = entry.text, entry.code != "no-reply" { failed.insert(text) }
            case .joined:
                guard let room = entry.room else { continue }
                var membership = memberships[entry.client]?[room] ?? Membership()
                if !membership.joined {
                    membership.joined = true
                    membership.audit = entry.code == "audit"
                    membership.since = entry.msgid.flatMap(StreamID.init) ?? .zero
                }
                memberships[entry.client, default: [:]][room] = membership
            case .received:
                guard let room = entry.room, let text = entry.text, let id = entry.msgid.flatMap(StreamID.init)
                else { continue }
                memberships[entry.client, default: [:]][room, default: Membership()].shown.append(
                    Delivery(id: id, text: text, via: entry.code ?? "live"))
                store(room, id, text, at: entry.at)
            case .gap:
                guard entry.lost == true, let room = entry.room, let after = entry.after.flatMap(StreamID.init) else {
                    continue
                }
                memberships[entry.client, default: [:]][room, default: Membership()].lostRanges.append(
                    (after, entry.msgid.flatMap(StreamID.init)))
            case .dropped:
                drops[entry.client, default: []].append(entry.at)
            case .fault:
                verdict.faults += 1
                if entry.code?.hasPrefix("fail-primary") == true { failovers.append(entry.at) }
            case .resumed:
                continue
            }
        }
        verdict.sent = sent.count
        verdict.acknowledged = acknowledged.count
        verdict.unconfirmed = acknowledged.values.filter { !$0.confirmed }.count

        // Faithful: one text, one id; acknowledged in the room it was sent to.
        for (text, acknowledgement) in acknowledged where sent[text].map({ $0 != acknowledgement.room }) == true {
            verdict.altered.append("\(text) sent to \(sent[text]!), acknowledged in \(acknowledgement.room)")
        }
        var idsOfText: [String: Set<String>] = [:]
        for (room, messages) in stored {
            for (id, message) in messages { idsOfText[message.text, default: []].insert("\(room) \(id)") }
        }
        for (text, ids) in idsOfText where ids.count > 1 {
            verdict.altered.append("\(text) stored as \(ids.sorted().joined(separator: " and "))")
        }

        var failedDelivered = Set<String>()
        for (client, rooms) in memberships.sorted(by: { $0.key < $1.key }) {
            for (room, membership) in rooms.sorted(by: { $0.key < $1.key }) {
                var liveOrOwn = Set<StreamID>()
                var fromJoins = Set<StreamID>()
                var shown = Set<StreamID>()
                var lastLive = StreamID.zero
                var lastInPage: [String: StreamID] = [:]
                for delivery in membership.shown {
                    verdict.deliveries += 1
                    let id = delivery.id
                    let place = "\(client) \(room) \(id)"
                    switch delivery.via {
                    case "live":
                        if liveOrOwn.contains(id) || fromJoins.contains(id) {
                            verdict.twice.append(place)
                        } else if id < lastLive {
                            verdict.outOfOrder.append(place)
                        }
                        lastLive = max(lastLive, id)
                        liveOrOwn.insert(id)
                    case "own":
                        if liveOrOwn.contains(id) { verdict.twice.append(place) }
                        liveOrOwn.insert(id)
                    default:
                        // A page: "join:N" or "page:N".
                        if let last = lastInPage[delivery.via], id <= last {
                            if id == last { verdict.twice.append(place) } else { verdict.outOfOrder.append(place) }
                        }
                        lastInPage[delivery.via] = id
                        if delivery.via.hasPrefix("join") { fromJoins.insert(id) }
                    }
                    shown.insert(id)
                    if let acknowledgement = acknowledged[delivery.text] {
                        if acknowledgement.id != id || acknowledgement.room != room {
                            verdict.altered.append(
                                place + " shows \(delivery.text), acknowledged as \(acknowledgement.id)")
                        }
                    } else if sent[delivery.text] == nil {
                        verdict.invented.append(place + " \(delivery.text)")
                    } else if failed.contains(delivery.text) {
                        failedDelivered.insert(delivery.text)
                    }
                }

                // Owed: what others sent (one's own message comes back only as its acknowledgement, if at all).
                for (id, message) in stored[room] ?? [:]
                where id > membership.since && !shown.contains(id) && sentBy[message.text] != client {
                    if membership.lostRanges.contains(where: { id > $0.after && $0.oldest.map { id < $0 } ?? true }) {
                        verdict.excusedByGaps += 1
                        continue
                    }
                    let confirmed = acknowledged[message.text]?.confirmed == true
                    let near = { (time: Int) in time >= message.at - nearBefore && time <= message.at + nearAfter }
                    let excused =
                        !confirmed
                        && (membership.audit || failovers.contains(where: near)
                            || (drops[client] ?? []).contains(where: near))
                    if excused {
                        verdict.unconfirmedMissing += 1
                    } else {
                        verdict.missing.append("\(client) \(room) \(id) (\(message.text))")
                    }
                }
            }
        }
        for (person, rooms) in expectedRooms {
            for room in rooms where memberships[person]?[room]?.joined != true {
                verdict.neverJoined.append("\(person) \(room)")
            }
        }
        verdict.failedButDelivered = failedDelivered.count
        verdict.missing.sort()
        verdict.neverJoined.sort()
        return verdict
    }
}
