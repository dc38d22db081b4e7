import ChatCore
import Endpoints
import Foundation
import NIOCore
import NIOPosix

// One file (about 300 lines): like SoakPerson, the IRC client, its reading of the server's lines and its journal are
// one loop of send, read, journal.

/// One person in a soak over IRC, as a bot would be written: `message-tags` (each message's `msgid`), `batch`,
/// `echo-message` (its own message coming back is its acknowledgement), `labeled-response` (a refusal names the
/// message it refuses) and `draft/chathistory`. IRC has no resume token: after a dropped connection it registers
/// again (its nick may be held a while when its node died: it tries again until it is free), joins its channels
/// and reads what it missed with `CHATHISTORY AFTER` the last message it saw, page by page. Everything goes to the
/// journal as `SoakPerson`'s does, so the same checker holds it to the same promise.
final class SoakIRCPerson: SoakClient, @unchecked Sendable {
    let name: String
    let rooms: [String]
    let eventLoop: any EventLoop
    private let target: HostPort
    private let journal: SoakJournalWriter

    private var channel: (any Channel)?
    private var connection = 0
    private var registered = false
    /// Per room, the message up to which everything was shown: where a rejoin reads on from.
    private var through: [String: StreamID] = [:]
    private var joinedNow: Set<String> = []
    /// Rooms being read on page by page: where the last page was asked from, and the newest live id meanwhile.
    private var paging: [String: (after: StreamID, newestLive: StreamID)] = [:]
    /// Open batches by reference: the chathistory ones carry their room; messages inside are a page.
    private var batches: [String: (room: String?, page: Int, count: Int, last: StreamID?)] = [:]
    /// Messages sent and not answered yet, by label (the text itself).
    private var pending: [String: String] = [:]
    private var lastAcknowledged: (text: String, room: String, id: StreamID)?
    private var sequence = 0
    private var pages = 0
    private var sending = true
    private var stopped = false
    private(set) var reconnects = 0

    static let pageLimit = 100
    static let capabilities = "message-tags batch echo-message labeled-response draft/chathistory"

    init(name: String, rooms: [String], target: HostPort, eventLoop: any EventLoop, journal: SoakJournalWriter) {
        self.name = name
        self.rooms = rooms
        self.target = target
        self.eventLoop = eventLoop
        self.journal = journal
    }

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
        registered = false
        joinedNow = []
        paging = [:]
        batches = [:]
        send("CAP LS 302")
        send("NICK \(name)")
        send("USER \(name) 0 * :soak")
        // A registration or a JOIN that never completes would leave this person silent: come back instead.
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

    private func send(_ line: String) {
        guard let channel else { return }
        channel.writeAndFlush(channel.allocator.buffer(string: line + "\r\n"), promise: nil)
    }

    func speak() {
        guard sending, registered, joinedNow.count == rooms.count, let room = rooms.randomElement() else { return }
        sequence += 1
        let text = "\(name)#\(sequence)"
        pending[text] = room
        journal.append(SoakEntry(.sent, client: name, room: room, text: text))
        send("@label=\(text) PRIVMSG #\(room) :\(text)")
    }

    func stopSending() { sending = false }

    func stop() {
        stopped = true
        send("QUIT :soak over")
        channel?.close(promise: nil)
    }

    // MARK: What the server says

    func received(_ line: String) {
        let line = line.hasSuffix("\r") ? line.dropLast() : Substring(line)  // IRC lines end in CR LF
        guard let message = try? IRCMessage(parsing: line) else { return }
        let tags = Dictionary(message.tags.map { ($0.key, $0.value ?? "") }) { first, _ in first }
        let nick = message.source?.split(separator: "!").first.map(String.init)
        switch message.command {
        case "PING":
            send("PONG :\(message.parameters.last ?? "")")
        case "CAP":
            let sub = message.parameters.dropFirst().first
            if sub == "LS", message.parameters.count == 3 {  // the last line of the list (302 may send several)
                send("CAP REQ :\(Self.capabilities)")
            } else if sub == "ACK" || sub == "NAK" {
                send("CAP END")
            }
        case "001":
            registered = true
            if reconnects > 0 { journal.append(SoakEntry(.resumed, client: name)) }
            send("JOIN " + rooms.map { "#\($0)" }.joined(separator: ","))
        case "433", "432":
            // The nick is still held (its last node died; the claim runs out): try again in a moment.
            channel?.close(promise: nil)
        case "JOIN" where nick == name:
            guard let room = message.parameters.first.map({ String($0.dropFirst()) }), rooms.contains(room) else {
                return
            }
            joinedNow.insert(room)
            if through[room] == nil {
                // The start: the newest message there now; everything after it is owed.
                send("CHATHISTORY LATEST #\(room) * 1")
            } else {
                readOn(room, after: through[room]!)
            }
        case "BATCH":
            guard let reference = message.parameters.first else { return }
            if reference.hasPrefix("+") {
                let isHistory = message.parameters.dropFirst().first == "chathistory"
                let room = isHistory ? message.parameters.dropFirst(2).first.map { String($0.dropFirst()) } : nil
                if isHistory { pages += 1 }
                batches[String(reference.dropFirst())] = (room, pages, 0, nil)
            } else if let batch = batches.removeValue(forKey: String(reference.dropFirst())), let room = batch.room {
                pageEnded(room, count: batch.count, last: batch.last)
            }
        case "PRIVMSG":
            guard message.parameters.count == 2, message.parameters[0].hasPrefix("#"),
                let id = tags["msgid"].flatMap(StreamID.init)
            else { return }
            let room = String(message.parameters[0].dropFirst())
            let text = message.parameters[1]
            if let reference = tags["batch"], var batch = batches[reference], batch.room == room {
                batch.count += 1
                batch.last = id
                batches[reference] = batch
                if through[room] == nil { return }  // the LATEST that only marks where this person starts
                log(text, id: id, in: room, via: "page:\(batch.page)")
            } else if nick == name {
                log(text, id: id, in: room, via: "own")
                guard pending.removeValue(forKey: text) != nil else { return }
                lastAcknowledged = (text, room, id)
                journal.append(
                    SoakEntry(
                        .acknowledged, client: name, room: room, text: text, msgid: id.description, confirmed: true))
            } else {
                log(text, id: id, in: room, via: "live")
                if let reading = paging[room] {
                    paging[room]?.newestLive = max(reading.newestLive, id)
                } else if through[room] != nil {
                    through[room] = max(through[room]!, id)
                }
            }
        case "NOTICE" where message.source?.contains("!") != true:
            // The server's: a refusal of a message ("redis-unavailable: ..."), or the warning that one was stored
            // but not confirmed by the replicas ("unconfirmed: ...", after its echo).
            let notice = message.parameters.last ?? ""
            let code = String(notice.prefix { $0 != ":" })
            if code == "unconfirmed", let acknowledged = lastAcknowledged {
                journal.append(
                    SoakEntry(
                        .acknowledged, client: name, room: acknowledged.room, text: acknowledged.text,
                        msgid: acknowledged.id.description, confirmed: false))
            } else if let text = tags["label"], let room = pending.removeValue(forKey: text) {
                journal.append(SoakEntry(.failed, client: name, room: room, text: text, code: code))
            }
        case "FAIL" where message.parameters.first == "CHATHISTORY":
            // A page refused (Redis failing over): ask again in a moment, from where the read stands.
            guard let room = message.parameters.dropFirst(3).first.map({ String($0.dropFirst()) }) else { return }
            let this = connection
            eventLoop.scheduleTask(in: .seconds(1)) {
                guard self.connection == this else { return }
                if let reading = self.paging[room] {
                    self.readOn(room, after: reading.after)
                } else if self.through[room] == nil {
                    self.send("CHATHISTORY LATEST #\(room) * 1")
                }
            }
        default:
            break
        }
    }

    private func log(_ text: String, id: StreamID, in room: String, via: String) {
        journal.append(SoakEntry(.received, client: name, room: room, text: text, msgid: id.description, code: via))
    }

    /// A chathistory batch ended: the first one of a room marks where this person starts; a page read on asks for
    /// the next while it was full.
    private func pageEnded(_ room: String, count: Int, last: StreamID?) {
        guard let seen = through[room] else {
            journal.append(SoakEntry(.joined, client: name, room: room, msgid: last?.description))
            through[room] = last ?? .zero
            return
        }
        let pageEnd = max(last ?? .zero, seen)
        if count >= Self.pageLimit {
            paging[room] = (pageEnd, paging[room]?.newestLive ?? .zero)
            through[room] = pageEnd
            readOn(room, after: pageEnd)
        } else {
            through[room] = max(pageEnd, paging[room]?.newestLive ?? .zero)
            paging[room] = nil
        }
    }

    private func readOn(_ room: String, after: StreamID) {
        paging[room] = (after, paging[room]?.newestLive ?? .zero)
        send("CHATHISTORY AFTER #\(room) msgid=\(after) \(Self.pageLimit)")
    }

    func disconnected() {
        channel = nil
        registered = false
        for (text, room) in pending {
            journal.append(SoakEntry(.failed, client: name, room: room, text: text, code: "no-reply"))
        }
        pending = [:]
        guard !stopped else { return }
        reconnects += 1
        journal.append(SoakEntry(.dropped, client: name))
        retry(after: .milliseconds(Int64.random(in: 500...1500)))
    }
}
