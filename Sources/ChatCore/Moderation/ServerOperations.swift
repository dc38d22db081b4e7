/// What the people running the cluster may do, beyond any room (docs/moderation.md, "Server operators"). A server
/// operator is a registered name the deployment lists (`--operators`), logged in with its password (or resuming
/// such a session): the same list on every node. The admin API (docs/admin-api.md) does the same things with a
/// token instead of a name.
public enum OperatorRequest: Equatable, Sendable {
    /// Disconnects whoever holds `name`, on any node (IRC's KILL). Their name is free again at once.
    case kill(name: String, reason: String?)
    /// Refuses logins to a registered name until `duration` has passed (nil: until lifted), and disconnects it.
    case suspend(name: String, duration: Millis?, reason: String?)
    case unsuspend(name: String)
    /// Keeps a name, a pattern or an address or range (a room ban's mask) off the whole network: logins that match
    /// are refused on every node, matching sessions are disconnected, and the balancer drops matching addresses.
    case ban(mask: String, duration: Millis?, reason: String?)
    case unban(mask: String)
    case bans
    /// To everyone connected, on every protocol (IRC: a server NOTICE).
    case announce(text: String)
    /// To the server operators connected (IRC's WALLOPS).
    case wallops(text: String)
    /// The message of the day, shown at login; empty clears it.
    case setMOTD(text: String)
    /// Everyone out of the room, its history, topic, settings and bans gone.
    case closeRoom(room: String, reason: String?)
    /// The newest entries of the server's audit log, or of a room's (its moderators' actions), at most
    /// `AuditEntry.maximumPage`.
    case audit(count: Int?, room: String? = nil)
}

/// An operator request once the session has checked it: names and masks parsed, durations made times.
public enum OperatorAction: Equatable, Sendable {
    case kill(UserName, reason: String?)
    case suspend(UserName, until: Millis?, reason: String?)
    case unsuspend(UserName)
    case ban(BanMask, until: Millis?, reason: String?)
    case unban(BanMask)
    case bans
    case announce(String, operatorsOnly: Bool)
    case setMOTD(String)
    case closeRoom(RoomName, reason: String?)
    case audit(count: Int, room: RoomName?)

    /// What the operator is told once it is done.
    public var doneText: String {
        func until(_ time: Millis?) -> String { time.map { " until \(TimeFormat.dateTime($0))" } ?? " until lifted" }
        switch self {
        case .kill(let name, _): return "\(name.display) is disconnected"
        case .suspend(let name, let time, _): return "\(name.display) is suspended\(until(time)) and disconnected"
        case .unsuspend(let name): return "\(name.display) may log in again"
        case .ban(let mask, let time, _): return "\(mask.text) is banned from the network\(until(time))"
        case .unban(let mask): return "\(mask.text) is no longer banned from the network"
        case .announce(_, false): return "announced to everyone connected"
        case .announce(_, true): return "sent to the operators connected"
        case .setMOTD(let text):
            return text.isEmpty ? "the message of the day is cleared" : "the message of the day is set"
        case .closeRoom(let room, _): return "#\(room) is closed: its members are out, its history is gone"
        case .bans, .audit: return "done"
        }
    }

    /// The audit log's word for it; nil for what only reads.
    public var auditName: String? {
        switch self {
        case .kill: "kill"
        case .suspend: "suspend"
        case .unsuspend: "unsuspend"
        case .ban: "network-ban"
        case .unban: "network-unban"
        case .announce(_, false): "announce"
        case .announce(_, true): "wallops"
        case .setMOTD: "motd"
        case .closeRoom: "close-room"
        case .bans, .audit: nil
        }
    }

    /// Who or what it acts on, as the audit log and the node's log show it.
    public var auditTarget: String {
        switch self {
        case .kill(let name, _), .suspend(let name, _, _), .unsuspend(let name): name.display
        case .ban(let mask, _, _), .unban(let mask): mask.text
        case .closeRoom(let room, _): "#\(room)"
        case .announce, .setMOTD, .bans, .audit: "*"
        }
    }

    /// What else the audit log keeps: the reason, the text, until when.
    public var auditDetail: String? {
        func joined(_ until: Millis?, _ reason: String?) -> String? {
            let parts = [until.map { "until \(TimeFormat.dateTime($0))" }, reason].compactMap { $0 }
            return parts.isEmpty ? nil : parts.joined(separator: ": ")
        }
        switch self {
        case .kill(_, let reason), .closeRoom(_, let reason): return reason
        case .suspend(_, let until, let reason), .ban(_, let until, let reason): return joined(until, reason)
        case .announce(let text, _), .setMOTD(let text): return Sanitizer.prefix(text, bytes: 200)
        case .unsuspend, .unban, .bans, .audit: return nil
        }
    }
}

extension OperatorRequest {
    /// What the admin API takes, cleaned as a session's requests are (escape sequences and control characters
    /// out); a message of the day keeps its line breaks, each line cleaned.
    public func sanitized() -> OperatorRequest {
        if case .setMOTD(let text) = self {
            return .setMOTD(
                text: text.split(separator: "\n", omittingEmptySubsequences: false).map { Sanitizer.clean(String($0)) }
                    .joined(separator: "\n"))
        }
        return sanitized(clean: { Sanitizer.clean($0) }, text: { Sanitizer.clean($0) })
    }

    /// Names, masks and rooms cleaned as names are; texts as texts (see `ClientRequest.sanitized`).
    func sanitized(clean: (String) -> String, text: (String) -> String) -> OperatorRequest {
        switch self {
        case .kill(let name, let reason): .kill(name: clean(name), reason: reason.map(text))
        case .suspend(let name, let duration, let reason):
            .suspend(name: clean(name), duration: duration, reason: reason.map(text))
        case .unsuspend(let name): .unsuspend(name: clean(name))
        case .ban(let mask, let duration, let reason):
            .ban(mask: clean(mask), duration: duration, reason: reason.map(text))
        case .unban(let mask): .unban(mask: clean(mask))
        case .bans: .bans
        case .announce(let words): .announce(text: text(words))
        case .wallops(let words): .wallops(text: text(words))
        case .setMOTD(let words): .setMOTD(text: text(words))
        case .closeRoom(let room, let reason): .closeRoom(room: clean(room), reason: reason.map(text))
        case .audit(let count, let room): .audit(count: count, room: room.map(clean))
        }
    }
}

/// Checks what an operator typed, whoever sends it (a session, or the admin API).
extension OperatorRequest {
    /// Who the admin API's kills and announcements are shown as being from: a reserved name nobody can hold.
    public static let serverActor = "server"
    /// Longest announcement, as a message.
    public static let maximumTextBytes = 2048
    /// Longest message of the day.
    public static let maximumMOTDBytes = 4096

    public func validated(now: Millis) throws(ChatError) -> OperatorAction {
        func name(_ raw: String) throws(ChatError) -> UserName {
            guard let name = try? UserName(validating: raw) else {
                throw ChatError(.noSuchUser, "'\(raw)' is not a name anyone can have")
            }
            return name
        }
        func reason(_ text: String?) throws(ChatError) -> String? {
            guard let text, !text.isEmpty else { return nil }
            guard text.utf8.count <= LeaveReason.maximumMessageBytes else {
                throw ChatError(.messageTooLong, "a reason is limited to \(LeaveReason.maximumMessageBytes) bytes")
            }
            return text
        }
        func text(_ text: String, limit: Int) throws(ChatError) -> String {
            guard text.utf8.count <= limit else { throw ChatError(.messageTooLong, "limited to \(limit) bytes") }
            return text
        }
        switch self {
        case .kill(let raw, let why): return .kill(try name(raw), reason: try reason(why))
        case .suspend(let raw, let duration, let why):
            return .suspend(try name(raw), until: duration.map { now + $0 }, reason: try reason(why))
        case .unsuspend(let raw): return .unsuspend(try name(raw))
        case .ban(let raw, let duration, let why):
            return .ban(try BanMask(parsing: raw), until: duration.map { now + $0 }, reason: try reason(why))
        case .unban(let raw): return .unban(try BanMask(parsing: raw))
        case .bans: return .bans
        case .announce(let words):
            guard !words.isEmpty else { throw ChatError(.badRequest, "an announcement needs a text") }
            return .announce(try text(words, limit: Self.maximumTextBytes), operatorsOnly: false)
        case .wallops(let words):
            guard !words.isEmpty else { throw ChatError(.badRequest, "WALLOPS needs a text") }
            return .announce(try text(words, limit: Self.maximumTextBytes), operatorsOnly: true)
        case .setMOTD(let words): return .setMOTD(try text(words, limit: Self.maximumMOTDBytes))
        case .closeRoom(let raw, let why):
            guard let room = try? RoomName(validating: raw) else {
                throw ChatError(.roomInvalid, "'\(raw)' is not a room name")
            }
            return .closeRoom(room, reason: try reason(why))
        case .audit(let count, let raw):
            let room = try raw.map { name throws(ChatError) in
                guard let room = try? RoomName(validating: name) else {
                    throw ChatError(.roomInvalid, "'\(name)' is not a room name")
                }
                return room
            }
            guard let count else { return .audit(count: 50, room: room) }
            guard count > 0 else { throw ChatError(.badRequest, "the count must be positive") }
            return .audit(count: min(count, AuditEntry.maximumPage), room: room)
        }
    }
}

/// One line of the audit log: what an operator or a room moderator did (docs/security.md, "The audit log").
public struct AuditEntry: Equatable, Sendable {
    /// The log keeps about this many of the newest (a capped stream).
    public static let maximumKept = 10_000
    /// One read returns at most this many.
    public static let maximumPage = 200
    /// Who the audit log says the admin API's actions are by: with a space, so no name can be it.
    public static let adminActor = "admin API"

    public var time: Millis
    /// Who did it: a name as they typed it, or `admin API`.
    public var actor: String
    /// `kill`, `suspend`, `network-ban`, `kick`, `mode`, `invite`...
    public var action: String
    /// A name, a mask, a room, or `*`.
    public var target: String
    public var room: String?
    public var detail: String?

    public init(time: Millis, actor: String, action: String, target: String, room: String? = nil, detail: String? = nil)
    {
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.room = room
        self.detail = detail
    }
}

/// Network bans as every node keeps them in memory, to check logins and connections without asking Redis.
public struct NetworkBans: Equatable, Sendable {
    public var bans: [RoomBan]
    private var masks: [BanMask?]

    public init(_ bans: [RoomBan] = []) {
        self.bans = bans
        self.masks = bans.map { try? BanMask(parsing: $0.mask) }
    }

    /// The ban that keeps out this person (a name, an address, or both), if any is in force at `now`.
    public func ban(for name: UserName?, address: String?, now: Millis) -> RoomBan? {
        // Every login and every connection asks: without bans, nothing is worked out (look-alikes take ICU).
        guard !bans.isEmpty else { return nil }
        let bits = BanMask.addressBits(ofClient: address)
        let keys = name.map { [$0.key] + $0.lookAlikeKeys.sorted() } ?? []
        let host = name.map { IRCRenderer.host(of: $0.display) }
        for (ban, mask) in zip(bans, masks) {
            guard let mask, ban.until.map({ $0 > now }) ?? true else { continue }
            if mask.matches(keys: keys, addressBits: bits, host: host) { return ban }
        }
        return nil
    }

    /// What a refused login or connection is told.
    public static func refusal(_ ban: RoomBan) -> ChatError {
        var text = "you are banned from this network"
        if let until = ban.until { text += " until \(TimeFormat.dateTime(until))" }
        if let reason = ban.reason { text += ": \(reason)" }
        return ChatError(.banned, text)
    }
}

extension BanMask {
    /// Whether the mask matches a person known by these name keys (their own and look-alikes'; none before a name
    /// is given), address bits (`addressBits(ofClient:)`) and shown host (`IRCRenderer.host(of:)`; nil before a
    /// name). Before a name, only a mask whose nick part is `*` and that names no host can match: an address ban.
    public func matches(keys: [String], addressBits: String, host: String?) -> Bool {
        if let addressPrefix {
            guard !addressBits.isEmpty, addressBits.hasPrefix(addressPrefix) else { return false }
        } else if let hostGlob, hostGlob != "*" {
            guard let host, Self.linearGlob(Array(hostGlob.utf8), matches: Array(host.utf8)) else { return false }
        }
        if nickGlob == "*" { return true }
        return keys.contains { Self.linearGlob(Array(nickGlob.utf8), matches: Array($0.utf8)) }
    }

    /// `*` any run, `?` one UTF-8 character, remembering the last star only (as the scripts' `globMatches`): at
    /// most the product of the lengths, never exponential.
    static func linearGlob(_ glob: [UInt8], matches text: [UInt8]) -> Bool {
        func length(at index: Int) -> Int {
            let byte = text[index]
            return byte >= 240 ? 4 : byte >= 224 ? 3 : byte >= 192 ? 2 : 1
        }
        var g = 0
        var t = 0
        var star: Int?
        var resume = 0
        while t < text.count {
            if g < glob.count, glob[g] == UInt8(ascii: "*") {
                star = g
                resume = t
                g += 1
            } else if g < glob.count, glob[g] == UInt8(ascii: "?") {
                g += 1
                t += length(at: t)
            } else if g < glob.count, glob[g] == text[t] {
                g += 1
                t += 1
            } else if let star {
                resume += length(at: resume)
                g = star + 1
                t = resume
            } else {
                return false
            }
        }
        while g < glob.count, glob[g] == UInt8(ascii: "*") { g += 1 }
        return g == glob.count
    }
}
