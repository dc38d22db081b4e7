/// A Redis stream id, `<milliseconds>-<sequence>`, compared numerically (string order is wrong: "9-0" < "10-0").
public struct StreamID: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var millis: UInt64
    public var sequence: UInt64

    public init?(_ text: String) { self.init(bytes: text.utf8) }

    /// From the id's bytes, as a relayed frame starts with them (no String made for every message read). Digits
    /// only on each side of one dash, each side a UInt64 (Redis allows ids up to `UINT64_MAX`, and a chathistory
    /// bound "at the end of this millisecond" is `<ms>-18446744073709551615`); anything longer is refused.
    public init?(bytes: some Collection<UInt8>) {
        var parts: (UInt64, UInt64) = (0, 0)
        var digits = 0
        var seenDash = false
        for byte in bytes {
            if byte == UInt8(ascii: "-"), !seenDash, digits > 0 {
                seenDash = true
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let digit = UInt64(byte - UInt8(ascii: "0"))
            let current = seenDash ? parts.1 : parts.0
            let (times10, overflowed) = current.multipliedReportingOverflow(by: 10)
            let (next, carried) = times10.addingReportingOverflow(digit)
            guard !overflowed, !carried else { return nil }
            if seenDash { parts.1 = next } else { parts.0 = next }
            digits += 1
        }
        guard seenDash, digits > 0 else { return nil }
        self.millis = parts.0
        self.sequence = parts.1
    }

    public var description: String { "\(millis)-\(sequence)" }

    /// `0-0`: before every message.
    public static let zero = StreamID(millis: 0, sequence: 0)

    public init(millis: UInt64, sequence: UInt64) {
        self.millis = millis
        self.sequence = sequence
    }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.millis, lhs.sequence) < (rhs.millis, rhs.sequence)
    }
}

extension ChatEvent {
    /// The room an event belongs to, for those that belong to one.
    public var room: RoomName? {
        switch self {
        case .message(let message): return message.room
        case .joined(let room, _, _, _), .left(let room, _, _, _, _), .presence(let room, _, _, _),
            .typing(let room, _, _),
            .gap(let room, _, _, _), .topic(let room, _), .topicChanged(let room, _),
            .kicked(let room, _, _, _, _), .modeChanged(let room, _, _, _), .roomClosed(let room, _, _, _):
            return room
        case .renamed(let room, _, _, _): return room
        case .tagMessage(let message): return message.room
        case .messageChanged(let change): return change.room
        case .readMarker(let marker): return marker.room
        default: return nil
        }
    }
}

extension ClientRequest {
    /// The same request with every string cleaned of control characters and escape sequences. JSON can carry them
    /// escaped (`\u001b`), so sanitizing the raw line alone is not enough.
    /// `keepingIRCFormatting` for what an IRC client sent: the texts keep their formatting codes, which only IRC
    /// clients are shown (names, rooms and everything else are cleaned as always).
    public func sanitized(keepingIRCFormatting: Bool = false) -> ClientRequest {
        let clean = { (text: String) in Sanitizer.clean(text) }
        let text = { (text: String) in Sanitizer.clean(text, keepingIRCFormatting: keepingIRCFormatting) }
        switch self {
        case .hello(let name, let rooms, let login):
            // Passwords are compared, not shown: they are kept exactly as sent (a new one may hold no control
            // characters at all, see `Password(new:)`). A real name is shown, to everyone: plain text, bounded.
            var login = login
            login.realName = login.realName.map {
                // Formatting first: cleaning drops its control codes but would leave colours' digits behind.
                Sanitizer.prefix(clean(IRCFormatting.strip($0)), bytes: Login.maximumRealNameBytes)
            }
            return .hello(
                name: clean(name), rooms: rooms?.map { RoomResume(room: clean($0.room), since: $0.since.map(clean)) },
                login: login)
        case .say(let room, let said, let isAction):
            return .say(room: room.map(clean), text: text(said), isAction: isAction)
        case .markRead(let room, let id): return .markRead(room: room.map(clean), id: id.map(clean))
        case .reply(let room, let target, let said, let isAction):
            return .reply(room: room.map(clean), to: target.sanitized(clean), text: text(said), isAction: isAction)
        case .actOn(let room, let target, let action):
            let cleaned: MessageAction
            switch action {
            case .react(let emoji): cleaned = .react(clean(emoji))
            case .unreact(let emoji): cleaned = .unreact(clean(emoji))
            case .edit(let said): cleaned = .edit(text(said))
            case .delete(let reason): cleaned = .delete(reason: reason.map(text))
            }
            return .actOn(room: room.map(clean), target: target.sanitized(clean), cleaned)
        case .join(let room, let since, let key):
            return .join(room: clean(room), since: since.map(clean), key: key.map(clean))
        case .mode(let room, let request): return .mode(room: room.map(clean), request)
        case .kick(let room, let name, let reason):
            return .kick(room: room.map(clean), name: clean(name), reason: reason.map(text))
        case .ban(let room, let target, let duration, let reason):
            return .ban(room: room.map(clean), target: clean(target), duration: duration, reason: reason.map(text))
        case .mute(let room, let name, let duration, let reason):
            return .mute(room: room.map(clean), name: clean(name), duration: duration, reason: reason.map(text))
        case .invite(let room, let name): return .invite(room: room.map(clean), name: clean(name))
        case .room(let room, .transfer(let name)): return .room(room: room.map(clean), .transfer(to: clean(name)))
        case .room(let room, let request): return .room(room: room.map(clean), request)
        case .leave(let room, let message): return .leave(room: room.map(clean), message: message.map(text))
        case .quit(let message): return .quit(message: message.map(text))
        case .who(let room, .page(let after)):
            return .who(room: room.map(clean), listing: .page(after: after.map(clean)))
        case .who(let room, .everyone): return .who(room: room.map(clean), listing: .everyone)
        case .direct(let to, let said, let isAction):
            return .direct(to: clean(to), text: text(said), isAction: isAction)
        case .notice(let to, let said): return .notice(to: clean(to), text: text(said))
        case .away(let text): return .away(text.map(clean))
        case .history(let room, let limit, let before, let after):
            return .history(room: room.map(clean), limit: limit, before: before.map(clean), after: after.map(clean))
        case .seen(let name): return .seen(name: clean(name))
        case .search(var search):
            search.text = text(search.text)
            search.room = search.room.map(clean)
            search.from = search.from.map(clean)
            search.before = search.before.map(clean)
            search.after = search.after.map(clean)
            return .search(search)
        case .forgetMine: return .forgetMine
        case .online(let names): return .online(names: names.map(clean))
        case .typing(let room): return .typing(room: room.map(clean))
        case .topic(let room, let topic): return .topic(room: room.map(clean), text: topic.map(text))
        case .operate(let request): return .operate(request.sanitized(clean: clean, text: text))
        case .block(let name): return .block(name: clean(name))
        case .nick(let name): return .nick(name: clean(name))
        case .tagMessage(let to, let tags): return .tagMessage(to: clean(to), tags: tags)
        case .unblock(let name): return .unblock(name: clean(name))
        case .rooms, .back, .help, .ping, .pong, .password, .register, .changePassword, .unregister, .authenticate,
            .motd, .blocks, .directMessages, .counts, .bot:
            return self
        }
    }
}

extension MessageTarget {
    func sanitized(_ clean: (String) -> String) -> MessageTarget {
        if case .latest(let name?) = self { return .latest(from: clean(name)) }
        return self
    }
}
