/// Parses one text-mode line (already sanitized) into a request.
public enum TextCommandParser {
    public static func parse(_ line: String) throws(ChatError) -> ClientRequest {
        guard line.hasPrefix("/") else { return .say(room: nil, text: line, isAction: false) }
        // "//text" says "/text" literally, as in IRC clients.
        if line.hasPrefix("//") { return .say(room: nil, text: String(line.dropFirst()), isAction: false) }
        let (command, rest) = splitWord(line.dropFirst())
        switch command.lowercased() {
        case "join", "j":
            let (room, since) = splitWord(rest)
            guard !room.isEmpty else { throw ChatError(.badRequest, "usage: /join ROOM") }
            return .join(room: room, since: since.isEmpty ? nil : since)
        case "leave", "part":
            // `/leave [ROOM [TEXT]]`: TEXT is said on leaving.
            let (room, message) = splitWord(rest)
            return .leave(room: room.isEmpty ? nil : room, message: message.isEmpty ? nil : message)
        case "rooms", "list":
            return .rooms
        case "who", "names":
            // `/who [ROOM [CURSOR]]`: a big room's list comes in pages, each ending with the command for the next.
            let (room, cursor) = splitWord(rest)
            return .who(room: room.isEmpty ? nil : room, listing: .page(after: cursor.isEmpty ? nil : cursor))
        case "msg", "m", "tell", "dm":
            let (name, text) = splitWord(rest)
            guard !name.isEmpty, !text.isEmpty else { throw ChatError(.badRequest, "usage: /msg NAME TEXT") }
            return .direct(to: name, text: text)
        case "me":
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /me ACTION") }
            return .say(room: nil, text: rest, isAction: true)
        case "away":
            return .away(rest.isEmpty ? nil : rest)
        case "back":
            return .back
        case "topic":
            // `/topic` shows the current room's topic, `/topic TEXT` sets it, `/topic -delete` clears it (irssi's
            // spelling). The current room only: a first word could be a room name or the topic's first word.
            guard !rest.isEmpty else { return .topic(room: nil, text: nil) }
            return .topic(room: nil, text: rest == "-delete" ? "" : String(rest))
        case "history":
            guard !rest.isEmpty else { return .history(room: nil, limit: nil, before: nil) }
            guard let count = Int(rest), count > 0 else { throw ChatError(.badRequest, "usage: /history [N]") }
            return .history(room: nil, limit: count, before: nil)
        case "typing":
            return .typing(room: rest.isEmpty ? nil : String(rest))
        case "seen", "whois":
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /seen NAME") }
            return .seen(name: rest)
        case "register":
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /register PASSWORD") }
            return .register(try Password(new: rest))
        case "password", "passwd":
            // The old password is one word; the new one is the rest of the line.
            let (old, new) = splitWord(rest)
            guard !old.isEmpty, !new.isEmpty else { throw ChatError(.badRequest, "usage: /password OLD NEW") }
            return .changePassword(old: try Password(given: old), new: try Password(new: new))
        case "unregister":
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /unregister PASSWORD") }
            return .unregister(try Password(given: rest))
        case "help", "?":
            return .help
        case "quit", "exit", "bye":
            return .quit(message: rest.isEmpty ? nil : String(rest))
        case "ping":
            return .ping
        default:
            throw ChatError(.unknownCommand, "unknown command /\(command); /help lists the commands")
        }
    }

    /// The first word and the rest, each trimmed.
    static func splitWord(_ text: some StringProtocol) -> (String, String) {
        let trimmed = String(text).trimmingWhitespace()
        guard let space = trimmed.firstIndex(where: { $0 == " " }) else { return (trimmed, "") }
        return (String(trimmed[..<space]), String(trimmed[space...]).trimmingWhitespace())
    }

    public static let helpLines: [String] = [
        "Type a line to say it in your current room. Commands:",
        "  /join ROOM         join ROOM (creating it) and make it current",
        "  /leave [ROOM [TEXT]] leave ROOM (default: the current one), saying TEXT",
        "  /rooms             rooms with people in them",
        "  /who [ROOM]        who is in ROOM, with away state and idle time",
        "  /msg NAME TEXT     a direct message to NAME, wherever they are connected",
        "  /me ACTION         an action, shown as '* you ACTION'",
        "  /away [TEXT]       mark yourself away; /back to return",
        "  /topic [TEXT]      show or set the current room's topic; /topic -delete clears it",
        "  /history [N]       the last N messages of the current room",
        "  /seen NAME         when NAME was last connected",
        "  /register PASSWORD make your name yours: from then on it needs PASSWORD",
        "  /password OLD NEW  change it; /unregister PASSWORD makes the name a guest's again",
        "  /help              this text; /quit [TEXT] to leave, saying TEXT",
    ]
}
