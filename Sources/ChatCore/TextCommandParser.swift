/// Parses one text-mode line (already sanitized) into a request.
public enum TextCommandParser {
    public static func parse(_ line: String) throws(ChatError) -> ClientRequest {
        guard line.hasPrefix("/") else { return .say(room: nil, text: line, isAction: false) }
        // "//text" says "/text" literally, as in IRC clients.
        if line.hasPrefix("//") { return .say(room: nil, text: String(line.dropFirst()), isAction: false) }
        let (command, rest) = splitWord(line.dropFirst())
        switch command.lowercased() {
        case "join", "j":
            // `/join ROOM [KEY]`; a message id there (`1700000000000-0`) is where to resume instead.
            let (room, second) = splitWord(rest)
            guard !room.isEmpty else { throw ChatError(.badRequest, "usage: /join ROOM [KEY]") }
            if second.isEmpty { return .join(room: room, since: nil) }
            return StreamID(second) != nil
                ? .join(room: room, since: second) : .join(room: room, since: nil, key: second)
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
            // `/history N MSGID`: the N before that message, to read further back than the last page went.
            guard !rest.isEmpty else { return .history(room: nil, limit: nil, before: nil) }
            let words = rest.split(separator: " ", maxSplits: 1)
            guard let count = Int(words[0]), count > 0, words.count == 1 || StreamID(String(words[1])) != nil else {
                throw ChatError(.badRequest, "usage: /history [N] [MSGID]")
            }
            return .history(room: nil, limit: count, before: words.count == 2 ? String(words[1]) : nil)
        case "search":
            return .search(try SearchRequest.parseText(rest[...]))
        case "forget":
            guard rest.lowercased() == "confirm" else {
                throw ChatError(
                    .badRequest,
                    "usage: /forget confirm (removes your room messages from the archive, lets your direct messages go; for good)"
                )
            }
            return .forgetMine
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
        case "mode":
            // `/mode [#ROOM] [MODES [ARGUMENTS...]]`, IRC's syntax: `/mode +o bob`, `/mode #dev +l 50`.
            var words = rest.split(separator: " ").map(String.init)
            let room = words.first?.hasPrefix("#") == true ? words.removeFirst() : nil
            guard let modes = words.first else { return .mode(room: room, .show) }
            return .mode(room: room, try RoomModeRequest.parse(modes, arguments: Array(words.dropFirst())))
        case "op", "deop", "voice", "devoice":
            let (name, _) = splitWord(rest)
            guard !name.isEmpty else { throw ChatError(.badRequest, "usage: /\(command.lowercased()) NAME") }
            let word = command.lowercased()
            let role: RoomRoles = word.hasSuffix("op") ? .operator : .voice
            return .mode(room: nil, .change([.role(role, name: name, granted: !word.hasPrefix("de"))]))
        case "kick":
            let (name, reason) = splitWord(rest)
            guard !name.isEmpty else { throw ChatError(.badRequest, "usage: /kick NAME [REASON]") }
            return .kick(room: nil, name: name, reason: reason.isEmpty ? nil : reason)
        case "ban", "mute":
            // `/ban NAME|MASK [DURATION] [REASON]`, `/mute NAME [DURATION] [REASON]`: a duration is `10m`, `2h`...
            let (target, more) = splitWord(rest)
            guard !target.isEmpty else {
                throw ChatError(.badRequest, "usage: /\(command.lowercased()) NAME [DURATION] [REASON]")
            }
            let (first, after) = splitWord(more)
            let duration = ModerationDuration.parse(first)
            let reason = duration == nil ? more : after
            if command.lowercased() == "mute" {
                return .mute(room: nil, name: target, duration: duration, reason: reason.isEmpty ? nil : reason)
            }
            return .ban(room: nil, target: target, duration: duration, reason: reason.isEmpty ? nil : reason)
        case "unban":
            let (mask, _) = splitWord(rest)
            guard !mask.isEmpty else { throw ChatError(.badRequest, "usage: /unban NAME|MASK") }
            return .mode(room: nil, .change([.ban(try BanMask(parsing: mask), on: false)]))
        case "unmute":
            let (name, _) = splitWord(rest)
            guard !name.isEmpty else { throw ChatError(.badRequest, "usage: /unmute NAME") }
            return .mode(room: nil, .change([.mute(name: try BanMask.mutedName(name), on: false)]))
        case "bans":
            return .mode(room: rest.isEmpty ? nil : rest, .bans)
        case "invite":
            // `/invite NAME [ROOM]`, as IRC's INVITE.
            let (name, room) = splitWord(rest)
            guard !name.isEmpty else { throw ChatError(.badRequest, "usage: /invite NAME [ROOM]") }
            return .invite(room: room.isEmpty ? nil : room, name: name)
        case "block", "ignore", "unblock", "unignore":
            let (name, _) = splitWord(rest)
            let word = command.lowercased()
            guard !name.isEmpty else { throw ChatError(.badRequest, "usage: /\(word) NAME") }
            return word.hasPrefix("un") ? .unblock(name: name) : .block(name: name)
        case "blocks":
            return .blocks
        case "dms":
            // `/dms registered` refuses guests' direct messages; `/dms everyone` takes them again.
            switch rest.lowercased() {
            case "registered": return .directMessages(registeredOnly: true)
            case "everyone", "all": return .directMessages(registeredOnly: false)
            default: throw ChatError(.badRequest, "usage: /dms registered|everyone")
            }
        case "room":
            return try roomCommand(rest)
        case "lusers", "counts":
            return .counts
        case "bot":
            switch rest.lowercased() {
            case "on", "": return .bot(on: true)
            case "off": return .bot(on: false)
            default: throw ChatError(.badRequest, "usage: /bot on|off")
            }
        case "reply", "re":
            // `/reply NAME TEXT` answers NAME's newest message here; a message id instead of NAME names it.
            let (target, text) = splitWord(rest)
            guard !target.isEmpty, !text.isEmpty else { throw ChatError(.badRequest, "usage: /reply NAME TEXT") }
            return .reply(room: nil, to: MessageTarget(naming: target), text: text)
        case "react", "unreact":
            // `/react EMOJI [NAME]`: the room's newest message, or NAME's (or the one with that id).
            let (emoji, target) = splitWord(rest)
            guard !emoji.isEmpty else { throw ChatError(.badRequest, "usage: /\(command.lowercased()) EMOJI [NAME]") }
            let message = target.isEmpty ? MessageTarget.latest(from: nil) : MessageTarget(naming: target)
            let action: MessageAction = command.lowercased() == "react" ? .react(emoji) : .unreact(emoji)
            return .actOn(room: nil, target: message, action)
        case "edit":
            // `/edit TEXT` rewrites one's newest message here (`/edit ID TEXT`: that one).
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /edit NEWTEXT") }
            let (first, more) = splitWord(rest)
            if let id = StreamID(first), !more.isEmpty { return .actOn(room: nil, target: .id(id), .edit(more)) }
            return .actOn(room: nil, target: .ownLatest, .edit(rest))
        case "delete", "del":
            // `/delete` takes back one's newest message here; `/delete NAME` (operators) or `/delete ID` another.
            let (target, reason) = splitWord(rest)
            let message = target.isEmpty ? MessageTarget.ownLatest : MessageTarget(naming: target)
            return .actOn(room: nil, target: message, .delete(reason: reason.isEmpty ? nil : reason))
        case "nick", "name":
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /nick NEWNAME") }
            return .nick(name: rest)
        case "motd":
            // `/motd` shows it; a server operator sets it with `/motd TEXT` and clears it with `/motd -delete`.
            guard !rest.isEmpty else { return .motd }
            return .operate(.setMOTD(text: rest == "-delete" ? "" : rest))
        default:
            return try operatorCommand(command.lowercased(), rest)
        }
    }

    /// `/room register|unregister|info [#ROOM]`, `/room transfer [#ROOM] NAME` (docs/moderation.md, "Registered
    /// rooms"): ChanServ's REGISTER, UNREGISTER, INFO and TRANSFER. Without a room, the current one.
    static func roomCommand(_ rest: String) throws(ChatError) -> ClientRequest {
        let usage = "usage: /room register|unregister|info [#ROOM], or /room transfer [#ROOM] NAME"
        var words = rest.split(separator: " ").map(String.init)
        guard !words.isEmpty else { throw ChatError(.badRequest, usage) }
        let verb = words.removeFirst().lowercased()
        let room = words.first?.hasPrefix("#") == true ? words.removeFirst() : nil
        let request: RoomRegistrationRequest
        switch (verb, words.count) {
        case ("register", 0): request = .register
        case ("unregister", 0): request = .unregister
        case ("info", 0): request = .info
        case ("transfer", 1): request = .transfer(to: words[0])
        default: throw ChatError(.badRequest, usage)
        }
        return .room(room: room, request)
    }

    /// Server operators' commands (docs/moderation.md, "Server operators").
    static func operatorCommand(_ command: String, _ rest: String) throws(ChatError) -> ClientRequest {
        /// `TARGET [DURATION] [REASON]`: a duration is `10m`, `2h`, `7d`...; without one, the rest is the reason.
        func targetDurationReason(_ usage: String) throws(ChatError) -> (String, Millis?, String?) {
            let (target, more) = splitWord(rest)
            guard !target.isEmpty else { throw ChatError(.badRequest, "usage: \(usage)") }
            let (first, after) = splitWord(more)
            let duration = ModerationDuration.parse(first)
            let reason = duration == nil ? more : after
            return (target, duration, reason.isEmpty ? nil : reason)
        }
        func one(_ usage: String) throws(ChatError) -> String {
            let (word, _) = splitWord(rest)
            guard !word.isEmpty else { throw ChatError(.badRequest, "usage: \(usage)") }
            return word
        }
        switch command {
        case "kill":
            let (name, reason) = splitWord(rest)
            guard !name.isEmpty else { throw ChatError(.badRequest, "usage: /kill NAME [REASON]") }
            return .operate(.kill(name: name, reason: reason.isEmpty ? nil : reason))
        case "suspend":
            let (name, duration, reason) = try targetDurationReason("/suspend NAME [DURATION] [REASON]")
            return .operate(.suspend(name: name, duration: duration, reason: reason))
        case "unsuspend":
            return .operate(.unsuspend(name: try one("/unsuspend NAME")))
        case "netban":
            let (mask, duration, reason) = try targetDurationReason("/netban NAME|MASK [DURATION] [REASON]")
            return .operate(.ban(mask: mask, duration: duration, reason: reason))
        case "unnetban":
            return .operate(.unban(mask: try one("/unnetban NAME|MASK")))
        case "netbans":
            return .operate(.bans)
        case "announce", "wallops":
            guard !rest.isEmpty else { throw ChatError(.badRequest, "usage: /\(command) TEXT") }
            return .operate(command == "announce" ? .announce(text: rest) : .wallops(text: rest))
        case "closeroom":
            let (room, reason) = splitWord(rest)
            guard !room.isEmpty else { throw ChatError(.badRequest, "usage: /closeroom ROOM [REASON]") }
            return .operate(.closeRoom(room: room, reason: reason.isEmpty ? nil : reason))
        case "audit":
            // `/audit [#ROOM] [N]`: the server's log, or a room's.
            var words = rest.split(separator: " ").map(String.init)
            let room = words.first?.hasPrefix("#") == true ? String(words.removeFirst().dropFirst()) : nil
            guard let word = words.first else { return .operate(.audit(count: nil, room: room)) }
            guard words.count == 1, let count = Int(word), count > 0 else {
                throw ChatError(.badRequest, "usage: /audit [#ROOM] [N]")
            }
            return .operate(.audit(count: count, room: room))
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
        "  /history [N] [ID]  the last N messages of the current room (or the N before message ID)",
        "  /search WORDS      search your rooms and direct messages; [#room] [from:NAME] [page:N] first, \"a phrase\", pre*",
        "  /forget confirm    remove your room messages from the archive, let your direct ones go (for good)",
        "  /reply NAME TEXT   answer NAME's newest message here (quoting its start)",
        "  /react EMOJI [NAME] react to the newest message here (or NAME's); /unreact EMOJI [NAME] takes it back",
        "  /edit TEXT         rewrite your newest message here; /delete takes it back, for everyone",
        "  /seen NAME         when NAME was last connected",
        "  /register PASSWORD make your name yours: from then on it needs PASSWORD",
        "  /password OLD NEW  change it; /unregister PASSWORD makes the name a guest's again",
        "  /invite NAME [ROOM] invite NAME to the current room (or ROOM)",
        "Room operators (docs/moderation.md):",
        "  /kick NAME [REASON]  remove NAME from the room; /op, /deop, /voice, /devoice NAME",
        "  /ban NAME|MASK [10m|2h|7d] [REASON]  keep them out (NAME is removed too); /unban, /bans",
        "  /mute NAME [10m|2h|7d] [REASON]  they stay but cannot speak; /unmute NAME",
        "  /mode [+imtsR] [+k KEY] [+l N]  room settings (/mode alone shows them)",
        "  /motd              the message of the day",
        "  /lusers            how many people, nodes and rooms there are",
        "  /nick NAME         change your name (a guest's; a registered name keeps its own)",
        "  /bot on|off        say you are a program (who and whois show it)",
        "  /block NAME        their messages no longer reach you (/unblock, /blocks); /dms registered refuses guests'",
        "Server operators (docs/moderation.md):",
        "  /kill NAME [REASON]  disconnect NAME; /suspend NAME [DURATION] [REASON] refuses a registered name's logins",
        "  /netban NAME|MASK|ADDRESS [DURATION] [REASON]  keep them off every node; /unnetban, /netbans",
        "  /announce TEXT     to everyone; /wallops TEXT to the operators; /motd TEXT sets the message of the day",
        "  /closeroom ROOM [REASON]  everyone out, history gone; /audit [#ROOM] [N] the newest of an audit log",
        "  /help              this text; /quit [TEXT] to leave, saying TEXT",
    ]
}
