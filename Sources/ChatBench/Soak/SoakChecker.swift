import ChatCore

/// Reads a soak's journal (`SoakEntry`) and checks the promise the chat makes about messages: every message whose
/// sender was told it was sent reached every member of its room once, in order, or was reported as a gap. Checked
/// per client and room, against what the senders were told, never against the servers' own account:
///
/// - **once, in order**: no id is shown twice to a client in a room, and the ids of live messages from others only
///   grow (pages of history read after a resume come after newer live ones, and one's own message, the reply to
///   its publish, may come before others' sent a moment earlier: clients sort by id);
/// - **complete**: every acknowledged message of the room newer than what the client was shown on first joining
///   reached it, unless the server said it was gone (a `gap` with `lost`); one acknowledged as `unconfirmed` may be
///   missing (a failover may take it), and is counted, not failed;
/// - **faithful**: what a client was shown under an id is what its sender was acknowledged under it, and nothing
///   is shown that nobody sent. A message whose sender was told it failed and that arrived anyway is counted (the
///   sender may send it again), not failed.
public enum SoakChecker {
    public struct Verdict: Sendable, Equatable {
        public var sent = 0
        public var acknowledged = 0
        public var unconfirmed = 0
        public var deliveries = 0
        /// "client room msgid" for each violation.
        public var twice: [String] = []
        public var outOfOrder: [String] = []
        public var missing: [String] = []
        public var altered: [String] = []
        public var invented: [String] = []
        /// Allowed, and counted: unconfirmed messages that never arrived (per client and room), messages excused by
        /// a lost gap, messages whose sender was told they failed but that arrived.
        public var unconfirmedMissing = 0
        public var excusedByGaps = 0
        public var failedButDelivered = 0

        public var passed: Bool {
            twice.isEmpty && outOfOrder.isEmpty && missing.isEmpty && altered.isEmpty && invented.isEmpty
        }

        public func report() -> String {
            var lines = [
                "\(passed ? "PASSED" : "FAILED"): \(sent) sent, \(acknowledged) acknowledged (\(unconfirmed) unconfirmed), "
                    + "\(deliveries) deliveries checked",
                "duplicates \(twice.count), out of order \(outOfOrder.count), missing \(missing.count), "
                    + "altered \(altered.count), invented \(invented.count)",
                "allowed: unconfirmed and missing \(unconfirmedMissing), excused by lost gaps \(excusedByGaps), "
                    + "told failed but delivered \(failedButDelivered)",
            ]
            for (name, list) in [
                ("duplicate", twice), ("out of order", outOfOrder), ("missing", missing), ("altered", altered),
                ("invented", invented),
            ] where !list.isEmpty {
                lines.append("\(name): " + list.prefix(10).joined(separator: "; ") + (list.count > 10 ? "; ..." : ""))
            }
            return lines.joined(separator: "\n")
        }
    }

    private struct Acknowledgement {
        var room: String
        var id: StreamID
        var confirmed: Bool
    }

    private struct Membership {
        var since = StreamID.zero
        var shown: [(id: StreamID, text: String, live: Bool)] = []
        /// The newest "gone before" a lost gap named.
        var lostBefore = StreamID.zero
    }

    public static func check(_ entries: [SoakEntry]) -> Verdict {
        var verdict = Verdict()
        var sent = Set<String>()
        var failed = Set<String>()
        var acknowledged: [String: Acknowledgement] = [:]
        var memberships: [String: [String: Membership]] = [:]
        for entry in entries {
            switch entry.kind {
            case .sent:
                if let text = entry.text { sent.insert(text) }
            case .acknowledged:
                guard let text = entry.text, let room = entry.room, let id = entry.msgid.flatMap(StreamID.init) else {
                    continue
                }
                acknowledged[text] = Acknowledgement(room: room, id: id, confirmed: entry.confirmed ?? true)
            case .failed:
                if let text = entry.text, entry.code != "no-reply" { failed.insert(text) }
            case .joined:
                guard let room = entry.room, memberships[entry.client]?[room] == nil else { continue }
                memberships[entry.client, default: [:]][room] = Membership(
                    since: entry.msgid.flatMap(StreamID.init) ?? .zero)
            case .received:
                guard let room = entry.room, let text = entry.text, let id = entry.msgid.flatMap(StreamID.init)
                else { continue }
                memberships[entry.client, default: [:]][room, default: Membership()].shown.append(
                    (id, text, entry.code == "live"))
            case .gap:
                guard entry.lost == true, let room = entry.room, let id = entry.msgid.flatMap(StreamID.init) else {
                    continue
                }
                var membership = memberships[entry.client, default: [:]][room, default: Membership()]
                membership.lostBefore = max(membership.lostBefore, id)
                memberships[entry.client, default: [:]][room] = membership
            case .dropped, .resumed:
                continue
            }
        }
        verdict.sent = sent.count
        verdict.acknowledged = acknowledged.count
        verdict.unconfirmed = acknowledged.values.filter { !$0.confirmed }.count
        var byRoom: [String: [Acknowledgement]] = [:]
        for acknowledgement in acknowledged.values { byRoom[acknowledgement.room, default: []].append(acknowledgement) }
        var failedDelivered = Set<String>()

        for (client, rooms) in memberships.sorted(by: { $0.key < $1.key }) {
            for (room, membership) in rooms.sorted(by: { $0.key < $1.key }) {
                var seen = Set<StreamID>()
                var lastLive = StreamID.zero
                for (id, text, live) in membership.shown {
                    verdict.deliveries += 1
                    let place = "\(client) \(room) \(id)"
                    if seen.contains(id) {
                        verdict.twice.append(place)
                        continue
                    }
                    if live {
                        if id < lastLive { verdict.outOfOrder.append(place) }
                        lastLive = max(lastLive, id)
                    }
                    seen.insert(id)
                    if let acknowledgement = acknowledged[text] {
                        if acknowledgement.id != id || acknowledgement.room != room {
                            verdict.altered.append(place + " shows \(text), acknowledged as \(acknowledgement.id)")
                        }
                    } else if !sent.contains(text) {
                        verdict.invented.append(place + " \(text)")
                    } else if failed.contains(text) {
                        failedDelivered.insert(text)
                    }
                }
                for acknowledgement in byRoom[room] ?? [] where acknowledgement.id > membership.since {
                    guard !seen.contains(acknowledgement.id) else { continue }
                    if acknowledgement.id < membership.lostBefore {
                        verdict.excusedByGaps += 1
                    } else if !acknowledgement.confirmed {
                        verdict.unconfirmedMissing += 1
                    } else {
                        verdict.missing.append("\(client) \(room) \(acknowledgement.id)")
                    }
                }
            }
        }
        verdict.failedButDelivered = failedDelivered.count
        verdict.missing.sort()
        return verdict
    }
}
