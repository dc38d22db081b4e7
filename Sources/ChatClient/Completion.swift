/// Tab completion of the word before the cursor: commands after a leading `/`, rooms after `#`, otherwise names.
public enum Completion {
    public static let commands = [
        "/join", "/leave", "/rooms", "/who", "/msg", "/me", "/away", "/back", "/topic", "/history", "/seen", "/help",
        "/quit", "/register", "/password", "/invite", "/motd", "/block", "/unblock", "/blocks", "/dms", "/nick",
        "/lusers",
        // Room operators' (docs/moderation.md): a name after them completes as any name does.
        "/kick", "/ban", "/unban", "/bans", "/mute", "/unmute", "/op", "/deop", "/voice", "/devoice", "/mode",
        // Registered rooms': `/room register|unregister|transfer|info`.
        "/room",
        // Server operators'.
        "/kill", "/suspend", "/unsuspend", "/netban", "/unnetban", "/netbans", "/announce", "/wallops",
        "/closeroom", "/audit",
    ]

    /// What `/room` does: the word after it completes to one of these.
    public static let roomVerbs = ["register", "unregister", "transfer", "info"]

    /// The new line and cursor, or nil when nothing matches. A unique match is completed with a space after it
    /// (a name at the start of the line with ": "); several matches complete their common prefix.
    public static func complete(
        _ line: String, cursor: Int, names: [String], rooms: [String]
    ) -> (line: String, cursor: Int)? {
        let characters = Array(line)
        let cursor = min(cursor, characters.count)
        var start = cursor
        while start > 0, characters[start - 1] != " " { start -= 1 }
        let word = String(characters[start..<cursor])
        guard !word.isEmpty else { return nil }
        let candidates: [String]
        var suffix = " "
        if word.hasPrefix("/") && start == 0 {
            candidates = commands
        } else if String(characters[..<start]).lowercased() == "/room " {
            candidates = roomVerbs
        } else if word.hasPrefix("#") {
            candidates = rooms.map { "#" + $0 }
        } else {
            candidates = names
            if start == 0 { suffix = ": " }
        }
        let matches = candidates.filter { $0.lowercased().hasPrefix(word.lowercased()) }
        guard let first = matches.first else { return nil }
        let completed: String
        if matches.count == 1 {
            completed = first + suffix
        } else {
            var prefix = Array(first)
            for match in matches.dropFirst() {
                let other = Array(match)
                var length = 0
                while length < prefix.count, length < other.count,
                    prefix[length].lowercased() == other[length].lowercased()
                { length += 1 }
                prefix = Array(prefix[..<length])
            }
            guard prefix.count > word.count else { return nil }
            completed = String(prefix)
        }
        let newLine = String(characters[..<start]) + completed + String(characters[cursor...])
        return (newLine, start + completed.count)
    }
}
