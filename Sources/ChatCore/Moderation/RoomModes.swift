/// What a member may do in a room beyond talking: IRC's channel prefixes, stored per member as their mode letters
/// (`"qo"`, `"ov"`). Operators kick, ban, mute, invite, change the room's settings and grant or take operator and
/// voice; voice lets a member speak in a moderated room. An owner comes with room registration
/// (docs/moderation.md): an operator only the owner or a server operator removes, and in a registered room the
/// only one who grants or takes operator.
public struct RoomRoles: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let voice = RoomRoles(rawValue: 1)
    public static let `operator` = RoomRoles(rawValue: 2)
    public static let owner = RoomRoles(rawValue: 4)

    /// Highest first, as IRC's PREFIX lists them: `(qov)~@+`.
    static let ranked: [(RoomRoles, letter: Character, prefix: Character)] = [
        (.owner, "q", "~"), (.operator, "o", "@"), (.voice, "v", "+"),
    ]

    /// Whether these roles moderate the room: an owner does, with or without operator.
    public var moderates: Bool { !isDisjoint(with: [.owner, .operator]) }

    /// From the stored letters; letters it does not know are ignored.
    public init(letters: some StringProtocol) {
        var roles: RoomRoles = []
        for (role, letter, _) in Self.ranked where letters.contains(letter) { roles.insert(role) }
        self = roles
    }

    /// Each role on its own, highest first: one mode change each.
    public var individually: [RoomRoles] { Self.ranked.map(\.0).filter { contains($0) } }
    /// The mode letters, highest first (`"ov"`); empty for a plain member.
    public var letters: String { String(Self.ranked.filter { contains($0.0) }.map(\.letter)) }
    /// IRC's prefixes, highest first (`"@+"`).
    public var prefixes: String { String(Self.ranked.filter { contains($0.0) }.map(\.prefix)) }
    /// The highest role as a word, for the text and JSON protocols: "owner", "operator", "voice", or nil for a
    /// plain member.
    public var word: String? {
        if contains(.owner) { return "owner" }
        if contains(.operator) { return "operator" }
        if contains(.voice) { return "voice" }
        return nil
    }

    /// From `word`'s words ("owner", "operator", "voice"); nil is a plain member. An owner operates too.
    public init(word: String?) {
        switch word {
        case "owner": self = [.owner, .operator]
        case "operator": self = .operator
        case "voice": self = .voice
        default: self = []
        }
    }

    public init?(letter: Character) {
        guard let role = Self.ranked.first(where: { $0.letter == letter }) else { return nil }
        self = role.0
    }
}

/// A room's on/off settings, IRC's channel modes of the same letters.
public enum RoomFlag: Character, CaseIterable, Sendable {
    /// Only people invited (or with voice or operator already) may join.
    case inviteOnly = "i"
    /// Only members with voice or operator may speak.
    case moderated = "m"
    /// Only operators may set the topic.
    case topicLocked = "t"
    /// Only registered names may join.
    case registeredOnly = "R"
    /// Not listed in /rooms (nor IRC's LIST) to people outside it.
    case secret = "s"

    public var word: String {
        switch self {
        case .inviteOnly: "invite-only"
        case .moderated: "moderated"
        case .topicLocked: "topic-locked"
        case .registeredOnly: "registered-only"
        case .secret: "secret"
        }
    }
}

/// A room's settings as they stand.
public struct RoomSettings: Equatable, Sendable {
    public var flags: Set<RoomFlag>
    /// The password a join must give (IRC's `+k`).
    public var key: String?
    /// At most this many members (IRC's `+l`).
    public var limit: Int?

    public init(flags: Set<RoomFlag> = [], key: String? = nil, limit: Int? = nil) {
        self.flags = flags
        self.key = key
        self.limit = limit
    }

    /// IRC's mode string (`+imtkl`) and its arguments; `n` (no messages from outside) always holds here. The key
    /// only to members.
    public func modeString(showingKey: Bool) -> (modes: String, arguments: [String]) {
        var modes = "+n"
        var arguments: [String] = []
        for flag in RoomFlag.allCases where flags.contains(flag) { modes.append(flag.rawValue) }
        if let key {
            modes += "k"
            arguments.append(showingKey ? key : "*")
        }
        if let limit {
            modes += "l"
            arguments.append(String(limit))
        }
        return (modes, arguments)
    }

    /// A key is one word of printable ASCII, as IRC servers take it (no commas, which separate JOIN's keys; not
    /// starting with a colon, which IRC reads as the start of a last parameter).
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 32 && key.first != ":"
            && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x2C }
    }

    /// The largest member limit one may set.
    public static let maximumLimit = 1_000_000
}

/// One change to a room's modes, as an operator asks for it and as the room is told.
public enum RoomModeChange: Equatable, Sendable {
    /// Grant (or take) operator or voice.
    case role(RoomRoles, name: String, granted: Bool)
    case flag(RoomFlag, on: Bool)
    /// Set a key, or clear it (nil).
    case key(String?)
    /// Set a member limit, or clear it (nil).
    case limit(Int?)
    /// Ban (or unban) a mask; `until` (when banning) is when it lapses, nil for never.
    case ban(BanMask, on: Bool, until: Millis? = nil)
    /// Mute (or unmute) a member by name; `until` as for a ban. IRC: `+b m:name`, Ergo's and InspIRCd's mute.
    case mute(name: String, on: Bool, until: Millis? = nil)

    /// IRC's letter, sign and argument.
    public var irc: (sign: Character, letter: Character, argument: String?) {
        switch self {
        case .role(let role, let name, let granted): (granted ? "+" : "-", role.letters.first ?? "v", name)
        case .flag(let flag, let on): (on ? "+" : "-", flag.rawValue, nil)
        case .key(let key): (key == nil ? "-" : "+", "k", key ?? "*")
        case .limit(let limit): (limit == nil ? "-" : "+", "l", limit.map(String.init))
        case .ban(let mask, let on, _): (on ? "+" : "-", "b", mask.text)
        case .mute(let name, let on, _): (on ? "+" : "-", "b", "m:\(name)!*@*")
        }
    }

    /// Whether everyone in the room may be told (an address ban names an address: only operators see it).
    public var isPublic: Bool {
        if case .ban(let mask, _, _) = self { return !mask.namesAddress }
        return true
    }
}

/// What an IRC-style mode request (`MODE #room ...`, text `/mode`, JSON `mode`) asks for.
public enum RoomModeRequest: Equatable, Sendable {
    /// The room's settings (IRC 324).
    case show
    /// The ban list (IRC 367/368), mutes among them as `m:` entries.
    case bans
    case change([RoomModeChange])

    /// How many arguments these mode letters take (`o`, `v`, `b`, and `k` and `l` when set).
    static func argumentsNeeded(_ modes: Substring, adding start: Bool) -> Int {
        var adding = start
        var count = 0
        for letter in modes {
            switch letter {
            case "+": adding = true
            case "-": adding = false
            case "q", "o", "v", "b": count += 1
            case "k", "l": count += adding ? 1 : 0
            default: break
            }
        }
        return count
    }

    /// At most this many changes in one request (IRC's MODES).
    public static let maximumChanges = 6

    /// Parses `+ov-b alice bob *!*@192.0.2.0/24` and its arguments (IRC gives bans no durations). Letters that
    /// need an argument take the next one; `+b` (or `b`) without one lists the bans.
    public static func parse(_ modes: String, arguments: [String]) throws(ChatError) -> RoomModeRequest {
        var changes: [RoomModeChange] = []
        var remaining = arguments[...]
        var adding = true
        for position in modes.indices {
            let letter = modes[position]
            switch letter {
            case "+": adding = true
            case "-": adding = false
            case "n": continue
            case "q", "o", "v":
                guard let name = remaining.popFirst() else {
                    throw ChatError(.badRequest, "+\(letter) needs a name")
                }
                changes.append(.role(RoomRoles(letter: letter)!, name: name, granted: adding))
            case "b":
                guard let mask = remaining.popFirst() else {
                    if changes.isEmpty { return .bans }
                    throw ChatError(.badRequest, "+b needs a mask")
                }
                if mask.hasPrefix("m:") {
                    changes.append(.mute(name: try BanMask.mutedName(String(mask.dropFirst(2))), on: adding))
                } else {
                    changes.append(.ban(try BanMask(parsing: mask), on: adding))
                }
            case "k":
                if adding {
                    guard let key = remaining.popFirst(), RoomSettings.isValidKey(key) else {
                        throw ChatError(.badRequest, "+k needs a key: one word of printable ASCII, up to 32 bytes")
                    }
                    changes.append(.key(key))
                } else {
                    // IRC clients send the key with -k; people typing `/mode -k` may not: it is taken only when the
                    // arguments outnumber what the letters after it need.
                    if remaining.count > Self.argumentsNeeded(modes[modes.index(after: position)...], adding: adding) {
                        _ = remaining.popFirst()
                    }
                    changes.append(.key(nil))
                }
            case "l":
                if adding {
                    guard let text = remaining.popFirst(), let limit = Int(text), limit > 0,
                        limit <= RoomSettings.maximumLimit
                    else { throw ChatError(.badRequest, "+l needs a member limit, 1 to \(RoomSettings.maximumLimit)") }
                    changes.append(.limit(limit))
                } else {
                    changes.append(.limit(nil))
                }
            default:
                guard let flag = RoomFlag(rawValue: letter) else {
                    throw ChatError(.unknownMode, "'\(letter)' is not a room mode here")
                }
                changes.append(.flag(flag, on: adding))
            }
            guard changes.count <= maximumChanges else {
                throw ChatError(.badRequest, "at most \(maximumChanges) mode changes at once")
            }
        }
        guard remaining.isEmpty else {
            throw ChatError(.badRequest, "more arguments than the modes take: \(remaining.joined(separator: " "))")
        }
        return changes.isEmpty ? .show : .change(changes)
    }
}

/// What one room keeps at most, so that a join's check of its bans and a ban list stay small.
public enum ModerationLimits {
    /// Bans a room keeps at most: IRC's MAXLIST, as Ergo has it.
    public static let maximumBans = 100
    /// Settings, mutes and invitations a room keeps at most.
    public static let maximumRules = 300
    /// How long an invitation lets its person in.
    public static let invitationMillis: Millis = 3_600_000
}

/// How long a ban or mute lasts, as people type it: `90s`, `10m`, `2h`, `7d`, `1w`, or `1h30m`; a bare number is
/// minutes.
public enum ModerationDuration {
    /// A ban or mute lasts at most a year (longer is "until lifted": give none).
    public static let maximum: Millis = 366 * 86_400_000

    /// Milliseconds; nil when the text is not a duration (it may be a reason's first word).
    public static func parse(_ text: String) -> Millis? {
        guard !text.isEmpty, text.utf8.count <= 16 else { return nil }
        if let minutes = Millis(text) { return (1...(maximum / 60_000)).contains(minutes) ? minutes * 60_000 : nil }
        var total: Millis = 0
        var number: Millis? = nil
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                number = (number ?? 0) * 10 + Millis(digit)
                guard number! <= maximum else { return nil }
                continue
            }
            let unit: Millis
            switch character {
            case "s": unit = 1000
            case "m": unit = 60_000
            case "h": unit = 3_600_000
            case "d": unit = 86_400_000
            case "w": unit = 7 * 86_400_000
            default: return nil
            }
            guard let value = number else { return nil }
            total += value * unit
            guard total <= maximum else { return nil }
            number = nil
        }
        guard number == nil, total > 0 else { return nil }
        return total
    }

    /// `2h`, `10m`, `1d 3h`: for people reading a ban or mute.
    public static func describe(_ millis: Millis) -> String {
        let seconds = max(1, (millis + 999) / 1000)
        let parts: [(Millis, String)] = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        var rest = seconds
        var words: [String] = []
        for (size, unit) in parts where rest >= size && words.count < 2 {
            words.append("\(rest / size)\(unit)")
            rest %= size
        }
        return words.joined(separator: " ")
    }
}
