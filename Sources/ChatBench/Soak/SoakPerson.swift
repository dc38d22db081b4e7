import ChatCore
import Endpoints
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

// One file (about 320 lines): the soak's JSON client and its journal writer are one loop of
// send, read, journal; apart, each would only make sense with the others open beside it.

/// One person in a soak: a JSON-lines client that stays in its rooms for the whole run, sends a message now and
/// then, and comes back after every dropped connection the way the web page does (a `hello` with its resume token
/// and each room with the last message it saw), reading every page it is owed. Everything it sends, is told and is
/// shown goes to the journal (`SoakEntry`), raw: a message a page shows again is journalled again, and the checker
/// tells a page read on from a server's duplicate. Lives on one event loop: every method runs there.
///
/// An auditor (`auditing`) sends nothing: it joins every room from the start of its history and reads every page,
/// after the soak, so the checker can hold the history itself to what was acknowledged.
final class SoakPerson: SoakClient, @unchecked Sendable {
    let name: String
    let rooms: [String]
    let eventLoop: any EventLoop
    private let target: HostPort
    private let journal: SoakJournalWriter
    private let auditing: Bool

    private var channel: (any Channel)?
    /// Counts connections, so a timer set for one does nothing to the next.
    private var connection = 0
    private var resumeToken: String?
    /// Per room, the message up to which everything was shown (a room is in it once joined): where a resume
    /// reads on from. Moved by others' live messages and by pages, never by one's own acknowledgement, which may
    /// come before others' messages sent a moment earlier.
    private var through: [String: StreamID] = [:]
    /// Rooms joined on this connection.
    private var joinedNow: Set<String> = []
    /// Rooms whose history is being read on page by page: the id the last page was asked after, and the newest
    /// live id meanwhile, which `through` moves to when the last page is read.
    private var paging: [String: (after: StreamID, newestLive: StreamID)] = [:]
    /// Messages sent and not answered yet, by request id: the room and the text.
    private var pending: [String: (room: String, text: String)] = [:]
    /// Acknowledged ids by text, for an `unconfirmed` warning that follows its acknowledgement.
    private var acknowledgedAs: [String: (room: String, id: StreamID)] = [:]
    private var sequence = 0
    /// Numbers each page shown (a join's history or a page read on), so the checker can look inside one.
    private var pages = 0
    private var welcomed = false
    private var sending = true
    private var stopped = false
    private(set) var reconnects = 0

    static let pageLimit = 200

    init(
        name: String, rooms: [String], target: HostPort, eventLoop: any EventLoop, journal: SoakJournalWriter,
        auditing: Bool = false
    ) {
        self.name = name
        self.rooms = rooms
        self.target = target
        self.eventLoop = eventLoop
        self.journal = journal
        self.auditing = auditing
        if auditing {
            for room in rooms {
                through[room] = .zero
                journal.append(SoakEntry(.joined, client: name, room: room, code: "audit"))
            }
        }
    }

    /// Whether every room is joined and read to its end (for the auditor).
    var caughtUp: Bool { joinedNow.count == rooms.count && paging.isEmpty }

    func start() { connect() }

    private func connect() {
        guard !stopped else { return }
        openConnection(to: target).whenComplete { result in
            switch result {
            case .success(let channel): self.connected(channel)
            case .failure: self.retry(after: .milliseconds(500))
            }
        }
    }

    private func connected(_ channel: any Channel) {
        guard !stopped else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        connection += 1
        welcomed = false
        joinedNow = []
        paging = [:]
        var hello: [String: Any] = ["op": "hello", "name": name, "id": "hello"]
        if let resumeToken { hello["resume"] = resumeToken }
        hello["rooms"] = rooms.map { room -> [String: String] in
            // A room joined before is rejoined after the last message seen there (0-0: all it keeps).
            guard let seen = through[room] else { return ["room": room] }
            return ["room": room, "since": seen.description]
        }
        send(hello)
        // A room whose rejoin failed (its error carries no id) would leave this person silent: come back instead.
        let this = connection
        eventLoop.scheduleTask(in: .seconds(15)) {
            guard self.connection == this, self.joinedNow.count < self.rooms.count else { return }
            self.channel?.close(promise: nil)
        }
    }

    private func retry(after delay: TimeAmount) {
        guard !stopped else { return }
        eventLoop.scheduleTask(in: delay) { self.connect() }
    }

    private func send(_ object: [String: Any]) {
        guard let channel, let data = try? JSONSerialization.data(withJSONObject: object) else { return }
        var buffer = channel.allocator.buffer(capacity: data.count + 1)
        buffer.writeBytes(data)
        buffer.writeInteger(UInt8(ascii: "\n"))
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Sends the next message, if connected and in every room.
    func speak() {
        guard !auditing, sending, welcomed, joinedNow.count == rooms.count, let room = rooms.randomElement() else {
            return
        }
        sequence += 1
        let text = "\(name)#\(sequence)"
        pending[text] = (room, text)
        journal.append(SoakEntry(.sent, client: name, room: room, text: text))
        send(["op": "say", "room": room, "text": text, "id": text])
    }

    func stopSending() { sending = false }

    /// Says goodbye and stays away.
    func stop() {
        stopped = true
        send(["op": "quit"])
        channel?.close(promise: nil)
    }

    // MARK: What the server says

    func received(_ line: String) {
        guard let event = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
            let type = event["type"] as? String
        else { return }
        let id = event["id"] as? String
        switch type {
        case "welcome":
            resumeToken = event["resume"] as? String
            welcomed = true
            if reconnects > 0 { journal.append(SoakEntry(.resumed, client: name)) }
        case "joined":
            guard let room = event["room"] as? String else { return }
            let history = (event["history"] as? [[String: Any]]) ?? []
            joinedNow.insert(room)
            if through[room] == nil {
                // What the first join shows is the start: everything after it is owed.
                let newest = history.compactMap { $0["msgid"] as? String }.last
                journal.append(SoakEntry(.joined, client: name, room: room, msgid: newest))
                through[room] = newest.flatMap(StreamID.init) ?? .zero
            }
            page(history, in: room, via: "join", more: event["more"] as? Bool == true)
        case "history":
            guard let room = event["room"] as? String else { return }
            page(
                (event["messages"] as? [[String: Any]]) ?? [], in: room, via: "page",
                more: event["more"] as? Bool == true)
        case "message":
            guard let room = event["room"] as? String,
                let stored = (event["msgid"] as? String).flatMap(StreamID.init)
            else { return }
            // One's own message is its acknowledgement, the reply to the publish: it may come before messages others
            // sent a moment earlier, which come through pub/sub (docs/protocol.md). Not part of the live order.
            let own = id.map { pending[$0] != nil } ?? false
            log(event, id: stored, in: room, via: own ? "own" : "live")
            if own, let id, let sent = pending.removeValue(forKey: id) {
                acknowledgedAs[sent.text] = (room, stored)
                journal.append(
                    SoakEntry(
                        .acknowledged, client: name, room: room, text: sent.text, msgid: stored.description,
                        confirmed: true))
            } else if !own {
                if let reading = paging[room] {
                    paging[room]?.newestLive = max(reading.newestLive, stored)
                } else {
                    through[room] = max(through[room] ?? .zero, stored)
                }
            }
        case "gap":
            guard let room = event["room"] as? String, let after = (event["after"] as? String).flatMap(StreamID.init)
            else { return }
            let lost = event["lost"] as? Bool == true
            journal.append(
                SoakEntry(
                    .gap, client: name, room: room, msgid: event["oldest"] as? String, lost: lost,
                    after: after.description))
            if !lost {
                // Read on from there; a read already under way goes on from the earlier point of the two.
                through[room] = min(through[room] ?? after, after)
                if paging[room] == nil {
                    paging[room] = (after, .zero)
                    readOn(room, after: after)
                }
            }
        case "error":
            let code = event["code"] as? String ?? "?"
            if let id, code == "unconfirmed", let stored = acknowledgedAs[id] {
                journal.append(
                    SoakEntry(
                        .acknowledged, client: name, room: stored.room, text: id, msgid: stored.id.description,
                        confirmed: false))
            } else if let id, let sent = pending.removeValue(forKey: id) {
                journal.append(SoakEntry(.failed, client: name, room: sent.room, text: sent.text, code: code))
            } else if let id, id.hasPrefix("page:") {
                // A page refused (Redis failing over): ask again in a moment, from where the read stands.
                let room = String(id.dropFirst("page:".count))
                let this = connection
                eventLoop.scheduleTask(in: .seconds(1)) {
                    guard self.connection == this, let reading = self.paging[room] else { return }
                    self.readOn(room, after: reading.after)
                }
            } else if id == "hello", !welcomed {
                // Refused (the name still held by a session the token no longer matches, a limit): try again.
                channel?.close(promise: nil)
            }
        default:
            break
        }
    }

    private func log(_ message: [String: Any], id: StreamID, in room: String, via: String) {
        journal.append(
            SoakEntry(
                .received, client: name, room: room, text: message["text"] as? String, msgid: id.description, code: via
            ))
    }

    /// A page of history (a join's, or one read on): journalled as it came (numbered, so the checker can look
    /// inside one), then the next asked for while there is more.
    private func page(_ messages: [[String: Any]], in room: String, via: String, more: Bool) {
        pages += 1
        var last: StreamID?
        for message in messages {
            guard let id = (message["msgid"] as? String).flatMap(StreamID.init) else { continue }
            last = id
            log(message, id: id, in: room, via: "\(via):\(pages)")
        }
        let pageEnd = max(last ?? .zero, through[room] ?? .zero)
        if more {
            let newestLive = paging[room]?.newestLive ?? .zero
            paging[room] = (pageEnd, newestLive)
            through[room] = pageEnd
            readOn(room, after: pageEnd)
        } else {
            through[room] = max(pageEnd, paging[room]?.newestLive ?? .zero)
            paging[room] = nil
        }
    }

    private func readOn(_ room: String, after: StreamID) {
        send([
            "op": "history", "room": room, "after": after.description, "limit": Self.pageLimit, "id": "page:\(room)",
        ])
    }

    func disconnected() {
        channel = nil
        welcomed = false
        for (_, sent) in pending {
            journal.append(SoakEntry(.failed, client: name, room: sent.room, text: sent.text, code: "no-reply"))
        }
        pending = [:]
        guard !stopped else { return }
        reconnects += 1
        journal.append(SoakEntry(.dropped, client: name))
        retry(after: .milliseconds(Int64.random(in: 200...1000)))
    }
}

/// Appends entries to the journal file as they happen, from any loop, each stamped with the time since the start.
final class SoakJournalWriter: Sendable {
    private let file: NIOLockedValueBox<FileHandle>
    private let start = NIODeadline.now()
    private let startDate = Date()

    init(path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw SoakError("cannot write the journal at \(path)")
        }
        file = NIOLockedValueBox(handle)
    }

    /// `at`: when it happened by the wall clock, for what happened outside this process; else now.
    func append(_ entry: SoakEntry, at date: Date? = nil) {
        var entry = entry
        entry.at =
            date.map { Int($0.timeIntervalSince(startDate) * 1000) }
            ?? Int((NIODeadline.now() - start).nanoseconds / 1_000_000)
        let line = Data((entry.line() + "\n").utf8)
        file.withLockedValue { $0.write(line) }
    }

    func close() { file.withLockedValue { try? $0.close() } }
}

struct SoakError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
