/// Mode changes as lines: IRC's mode line (which the relay carries too) and the sentences text mode shows.
public enum ModerationText {
    /// `+ob-l alice *!*@192.0.2.7`: one sign per run, arguments in order. A key is shown as `*` unless
    /// `showingKeys` (people outside the room are not told it).
    public static func modeLine(_ changes: [RoomModeChange], showingKeys: Bool) -> (modes: String, arguments: [String])
    {
        var modes = ""
        var arguments: [String] = []
        var sign: Character? = nil
        for change in changes {
            let (changeSign, letter, argument) = change.irc
            if changeSign != sign {
                modes.append(changeSign)
                sign = changeSign
            }
            modes.append(letter)
            guard let argument else { continue }
            // A key is `*` to those outside the room (and in `-k`, whose argument is `*` already).
            if case .key(.some) = change, !showingKeys {
                arguments.append("*")
            } else {
                arguments.append(argument)
            }
        }
        return (modes, arguments)
    }

    /// The changes a relayed mode line carries, each with its lapse time from `until` (space-separated
    /// milliseconds, 0 for never); nil when the line is not one a node would have written.
    public static func changes(modeLine: String, until: String) -> [RoomModeChange]? {
        let words = modeLine.split(separator: " ").map(String.init)
        guard let modes = words.first,
            case .change(let parsed)? = try? RoomModeRequest.parse(modes, arguments: Array(words.dropFirst()))
        else { return nil }
        let lapses = until.split(separator: " ").map { Millis($0) ?? 0 }
        var changes: [RoomModeChange] = []
        for (index, change) in parsed.enumerated() {
            let lapse = index < lapses.count && lapses[index] > 0 ? lapses[index] : nil
            switch change {
            case .role(_, let name, _), .mute(let name, _, _):
                guard let valid = try? UserName(validating: name), valid.display == name else { return nil }
            default: break
            }
            switch change {
            case .ban(let mask, let on, _): changes.append(.ban(mask, on: on, until: lapse))
            case .mute(let name, let on, _): changes.append(.mute(name: name, on: on, until: lapse))
            default: changes.append(change)
            }
        }
        return changes
    }

    /// "gave operator to bob", "banned bob!*@* for 2h", "made #dev invite-only": what text mode says of a change.
    public static func describe(_ change: RoomModeChange, room: RoomName, now: Millis) -> String {
        func lasting(_ until: Millis?) -> String {
            until.map { " for \(ModerationDuration.describe($0 - now))" } ?? ""
        }
        switch change {
        case .role(let role, let name, true): return "gave \(role.word ?? "voice") to \(name)"
        case .role(let role, let name, false): return "took \(role.word ?? "voice") from \(name)"
        case .flag(let flag, true): return "made #\(room) \(flag.word)"
        case .flag(let flag, false): return "made #\(room) no longer \(flag.word)"
        case .key(.some): return "set a key on #\(room)"
        case .key(nil): return "removed the key of #\(room)"
        case .limit(let limit?): return "limited #\(room) to \(limit) members"
        case .limit(nil): return "removed the member limit of #\(room)"
        case .ban(let mask, true, let until): return "banned \(mask.text)\(lasting(until))"
        case .ban(let mask, false, _): return "lifted the ban on \(mask.text)"
        case .mute(let name, true, let until): return "muted \(name)\(lasting(until))"
        case .mute(let name, false, _): return "unmuted \(name)"
        }
    }

    /// "invite-only, moderated; a key; at most 50 members", or nil when the room has no settings.
    public static func describe(_ settings: RoomSettings) -> String? {
        var parts = RoomFlag.allCases.filter { settings.flags.contains($0) }.map(\.word)
        if settings.key != nil { parts.append("a key is needed to join") }
        if let limit = settings.limit { parts.append("at most \(limit) members") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}

extension RoomModeChange {
    /// When a ban or a mute lapses (nil: never, or not a ban or mute).
    public var until: Millis? {
        switch self {
        case .ban(_, _, let until), .mute(_, _, let until): until
        default: nil
        }
    }
}
