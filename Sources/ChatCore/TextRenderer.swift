/// Renders events for people on nc or telnet: chat lines start with the time, system events with `* `, errors
/// with `! <code>`. Every line ends in CRLF, which telnet needs and nc shows the same.
public enum TextRenderer {
    /// `viewer` is the name of the person the text is for, so a direct message reads "to" or "from" them.
    public static func render(_ event: ChatEvent, viewer: String?, now: Millis) -> String {
        lines(event, viewer: viewer, now: now).map { $0 + "\r\n" }.joined()
    }

    public static func lines(_ event: ChatEvent, viewer: String?, now: Millis) -> [String] {
        switch event {
        case .greeting(let server):
            return ["* hello, this is \(server).", "* what is your name?"]
        case .welcome(let name, let room, let node, _, _):
            let place = room.map { "you are in #\($0)" } ?? "you are in no room yet"
            return ["* welcome \(name)! \(place) on node \(node). /help lists the commands."]
        case .message(let message):
            return [messageLine(message)]
        case .sent:
            // People see what they typed already; only programs need the acknowledgement.
            return []
        case .direct(let direct):
            let time = TimeFormat.clock(direct.time)
            if let viewer, viewer.lowercased() == direct.from.lowercased(),
                viewer.lowercased() != direct.to.lowercased()
            {
                if direct.isAction { return ["[\(time)] -> *\(direct.to)* * \(direct.from) \(plain(direct.text))"] }
                return ["[\(time)] -> *\(direct.to)* \(plain(direct.text))"]
            }
            if direct.isAction { return ["[\(time)] *\(direct.from)* * \(direct.from) \(plain(direct.text))"] }
            if direct.isNotice { return ["[\(time)] -\(direct.from)- \(plain(direct.text))"] }
            return ["[\(time)] *\(direct.from)* \(plain(direct.text))"]
        case .joined(let room, let name, let time, _):
            return ["* [\(TimeFormat.clock(time))] \(name) joined #\(room)"]
        case .left(let room, let name, let reason, let time, let message):
            let said = message.map { plain($0) }.flatMap { $0.isEmpty ? nil : $0 }
            let why =
                reason == .left
                ? said.map { " (\($0))" } ?? "" : " (\(reason.rawValue)\(said.map { ": \($0)" } ?? ""))"
            return ["* [\(TimeFormat.clock(time))] \(name) left #\(room)\(why)"]
        case .presence(let room, let name, let presence, let time):
            switch presence {
            case .online: return ["* [\(TimeFormat.clock(time))] #\(room): \(name) is back"]
            case .away(let text): return ["* [\(TimeFormat.clock(time))] #\(room): \(name) is away: \(text)"]
            }
        case .messageChanged(let change):
            return [changeLine(change)]
        case .readMarker(let marker):
            // Text mode shows everything as it comes; after a join, it says how much came since one last read.
            guard let unread = marker.unread, unread > 0 else { return [] }
            let count = marker.more ? "over \(unread) messages" : plural(unread, "message")
            return ["* #\(marker.room): \(count) since you last read it"]
        case .typing(let room, let name, let time):
            return ["* [\(TimeFormat.clock(time))] \(name) is typing in #\(room)"]
        case .tagMessage(let message):
            // What text mode can show of client tags: someone typing.
            guard let room = message.room, message.typing == "active" else { return [] }
            return ["* [\(TimeFormat.clock(message.time))] \(message.from) is typing in #\(room)"]
        case .renamed(let room?, let from, let to, let time):
            return ["* [\(TimeFormat.clock(time))] #\(room): \(from) is now known as \(to)"]
        case .renamed(nil, _, let to, _):
            return ["* you are now known as \(to)"]
        case .youJoined(let room, let history, let more):
            let header =
                history.isEmpty
                ? "* you joined #\(room); it is your current room. no recent messages."
                : "* you joined #\(room); it is your current room. the last \(plural(history.count, "message")):"
            return [header] + history.map(messageLine) + moreLine(room, after: history.last?.id, more: more)
        case .youLeft(let room, _):
            return ["* you left #\(room)"]
        case .topic(let room, nil):
            return ["* #\(room) has no topic"]
        case .topic(let room, .some(let topic)):
            return ["* topic of #\(room): \(plain(topic.text))  (set by \(topic.by), \(TimeFormat.clock(topic.time)))"]
        case .topicChanged(let room, let topic):
            let time = TimeFormat.clock(topic.time)
            if topic.text.isEmpty { return ["* [\(time)] \(topic.by) cleared the topic of #\(room)"] }
            return ["* [\(time)] \(topic.by) set the topic of #\(room): \(plain(topic.text))"]
        case .history(let room, let messages, let more):
            if messages.isEmpty { return ["* no messages in #\(room) yet"] }
            // Further back: the same count before the oldest shown.
            let back = more ? messages.first.map { ["* more: /history \(messages.count) \($0.id)"] } ?? [] : []
            return ["* the last \(plural(messages.count, "message")) of #\(room):"] + messages.map(messageLine) + back
        case .searchResults(let results):
            let page = results.page > 1 ? ", page \(results.page)" : ""
            if results.found.isEmpty {
                return ["* nothing found for \"\(plain(results.text))\"\(page)"]
            }
            // Each with its day (results span months) and its id: /history N ID in its room shows what came before.
            // A direct message shows as the conversation shows it: *from* to one, -> *to* from one.
            let lines = results.found.map { hit in
                switch hit {
                case .message(let message):
                    "*   #\(message.room) \(TimeFormat.dateTime(message.time)) \(message.from): \(plain(message.text))  (\(message.id))"
                case .direct(let direct, _):
                    "*   \(direct.from) -> \(direct.to) \(TimeFormat.dateTime(direct.time)): \(plain(direct.text))  (direct)"
                }
            }
            let more = results.more ? ["* more: /search \(plain(results.nextPage))"] : []
            return ["* found for \"\(plain(results.text))\"\(page), best first:"] + lines + more
        case .forgotten(let count):
            return ["* \(plural(count, "message")) of yours removed from the archive"]
        case .gap(let room, let after, let lost, _):
            return lost
                ? ["* some earlier messages of #\(room) are no longer available"]
                : ["* messages of #\(room) after \(after) were missed here: /join #\(room) \(after) shows them"]
        case .rooms(let rooms, let current, let total):
            if rooms.isEmpty { return ["* no rooms have anybody in them"] }
            let count = total ?? rooms.count
            let shown = count > rooms.count ? " (the \(rooms.count) busiest listed)" : ""
            return ["* \(plural(count, "room"))\(shown):"]
                + rooms.map { summary in
                    let people = plural(summary.members, "person", "people")
                    let mark = summary.room == current ? ", current" : summary.joined ? ", joined" : ""
                    return "*   #\(summary.room) (\(people)\(mark))"
                }
        case .who(let room, let members, let total, let next):
            let count = total ?? members.count
            let shown = count > members.count ? " (\(members.count) listed here)" : ""
            let more = next.map { ["* more: /who #\(room) \($0)"] } ?? []
            return ["* \(plural(count, "person", "people")) in #\(room)\(shown):"]
                + members.map { member in
                    let state: String
                    switch member.presence {
                    case .online: state = "online"
                    case .away(let text): state = text.isEmpty ? "away" : "away: \(text)"
                    }
                    let reconnecting =
                        (member.reconnecting ? "  (reconnecting)" : "") + (member.bot ? "  (bot)" : "")
                    // Operators and voice as IRC shows them: @alice, +bob.
                    let role = String(member.roles.prefixes.prefix(1))
                    return
                        "*   \(role)\(member.name)  \(state)  idle \(TimeFormat.duration(member.idleMillis))\(reconnecting)"
                } + more
        case .online(let users):
            if users.isEmpty { return ["* none of them is online"] }
            return ["* online: " + users.map { $0.isAway ? "\($0.name) (away)" : $0.name }.joined(separator: ", ")]
        case .seen(let record, let now):
            switch record {
            case .online(let name, let since, let node, let reconnecting, let details):
                if reconnecting {
                    return ["* \(name) lost their connection a moment ago and is reconnecting (node \(node))"]
                }
                let away = details.away.map { ["* \(name) is away: \($0)"] } ?? []
                return [
                    "* \(name)\(details.realName.map { " (\($0))" } ?? "")\(details.bot ? ", a bot," : "") is online now, connected since "
                        + "\(TimeFormat.dateTime(since)) (\(TimeFormat.duration(now - since))) on node \(node)"
                ] + away
            case .offline(let name, let connectedAt, let disconnectedAt, _):
                return [
                    "* \(name) was last connected \(TimeFormat.dateTime(connectedAt)) for "
                        + "\(TimeFormat.duration(disconnectedAt - connectedAt)), "
                        + "left \(TimeFormat.duration(now - disconnectedAt)) ago"
                ]
            case .never(let name):
                return ["* nobody called \(name) has been seen here"]
            }
        case .recipientAway(let name, let text):
            return ["* \(name) is away: \(text)"]
        case .help:
            return TextCommandParser.helpLines.map { "* " + $0 }
        case .ok(let text):
            return ["* \(text)"]
        case .pong:
            return ["* pong"]
        case .ping:
            // Text mode is for people on nc and telnet, who answer nothing: TCP keepalive watches them instead.
            return []
        case .bye(let reason):
            return ["* bye: \(reason)"]
        case .error(let error):
            return ["! \(error.code) \(error.message)"]
        case .resumedElsewhere, .joinedElsewhere, .leftElsewhere:
            return []
        case .kicked(let room, let name, let by, let reason, let time):
            let who = viewer.map { $0.lowercased() == name.lowercased() } == true ? "you" : name
            let why = reason.map { plain($0) }.flatMap { $0.isEmpty ? nil : " (\($0))" } ?? ""
            return ["* [\(TimeFormat.clock(time))] \(by) removed \(who) from #\(room)\(why)"]
        case .modeChanged(let room, let by, let changes, let time):
            let said = changes.map { ModerationText.describe($0, room: room, now: time) }.joined(separator: ", ")
            return ["* [\(TimeFormat.clock(time))] #\(room): \(by) \(said)"]
        case .roomSettings(let room, let settings):
            guard let described = ModerationText.describe(settings) else {
                return ["* #\(room) has no settings: anyone may join and speak"]
            }
            return ["* #\(room): \(described)"]
        case .bans(let room, let bans):
            if bans.isEmpty { return ["* #\(room) bans and mutes nobody"] }
            return ["* bans and mutes in #\(room):"]
                + bans.map { ban in
                    let lapse = ban.until.map { ", until \(TimeFormat.dateTime($0))" } ?? ""
                    let why = ban.reason.map { ": \(plain($0))" } ?? ""
                    return "*   \(ban.mask)  by \(ban.by), \(TimeFormat.dateTime(ban.time))\(lapse)\(why)"
                }
        case .invited(let room, let by, let time):
            return ["* [\(TimeFormat.clock(time))] \(by) invites you to #\(room): /join #\(room)"]
        case .roomRegistered(let room, let owner, let previous, let by, let time):
            let clock = "* [\(TimeFormat.clock(time))] "
            switch (owner, previous) {
            case (let owner?, nil):
                return [
                    clock + "\(by) registered #\(room): \(owner) owns it, and it keeps its operators, settings and bans"
                        + " while empty"
                ]
            case (let owner?, let previous?):
                return [clock + "\(by) gave #\(room) to \(owner): it was \(previous)'s"]
            case (nil, _):
                return [clock + "\(by) unregistered #\(room): it is an ordinary room again"]
            }
        case .roomRegistration(let registration):
            let room = registration.room
            guard let owner = registration.owner else {
                return [
                    "* #\(room) is not registered: its operator, logged in to a registered name, may /room register it"
                ]
            }
            let since = registration.since.map { " since \(TimeFormat.dateTime($0))" } ?? ""
            guard let access = registration.access else { return ["* #\(room) is registered to \(owner)\(since)"] }
            let kept =
                access.isEmpty
                ? ["*   it gives nobody else a role at their join"]
                : access.map { "*   \($0.name): \($0.roles.word ?? "voice")" }
            return ["* #\(room) is registered to \(owner)\(since); the roles it gives at a join:"] + kept
        case .announcement(let from, let text, let time, let operatorsOnly):
            let to = operatorsOnly ? "to the operators" : "to everyone"
            return ["* [\(TimeFormat.clock(time))] announcement from \(from) \(to): \(plain(text))"]
        case .removed, .networkChanged:
            return []
        case .serverOperator:
            return ["* you are one of this server's operators: /help lists what they may do"]
        case .serverOperatorEnded:
            return ["* you are no longer one of this server's operators"]
        case .blocks(let names, let registeredOnly):
            let dms = registeredOnly ? "direct messages from guests are refused" : "anyone may send you direct messages"
            return [
                names.isEmpty ? "* you block nobody; \(dms)" : "* you block \(names.joined(separator: ", ")); \(dms)"
            ]
        case .roomClosed(let room, let by, let reason, let time):
            let why = reason.map { " (\(plain($0)))" } ?? ""
            return ["* [\(TimeFormat.clock(time))] \(by) closed #\(room)\(why): everyone is out, its history is gone"]
        case .networkBans(let bans):
            if bans.isEmpty { return ["* the network bans nobody"] }
            return ["* network bans:"]
                + bans.map { ban in
                    let lapse = ban.until.map { ", until \(TimeFormat.dateTime($0))" } ?? ""
                    let why = ban.reason.map { ": \(plain($0))" } ?? ""
                    return "*   \(ban.mask)  by \(ban.by), \(TimeFormat.dateTime(ban.time))\(lapse)\(why)"
                }
        case .auditLog(let entries):
            if entries.isEmpty { return ["* the audit log is empty"] }
            return ["* audit log, newest first:"]
                + entries.map { entry in
                    let room = entry.room.map { " in #\($0)" } ?? ""
                    let detail = entry.detail.map { ": \(plain($0))" } ?? ""
                    return
                        "*   \(TimeFormat.dateTime(entry.time)) \(entry.actor) \(entry.action) \(entry.target)\(room)\(detail)"
                }
        case .motd(let text, let atLogin):
            guard let text, !text.isEmpty else { return atLogin ? [] : ["* there is no message of the day"] }
            return ["* message of the day:"]
                + text.split(separator: "\n", omittingEmptySubsequences: false).map { "*   " + plain(String($0)) }
        case .counts(let counts):
            return [
                "* \(plural(counts.people, "person", "people")) connected to \(plural(counts.nodes, "node")), "
                    + "in \(plural(counts.rooms, "room")) (at most \(counts.peak) at once); "
                    + "\(counts.local) on this node (at most \(counts.localPeak))"
            ]
        }
    }

    /// "1 room", "2 rooms", "0 rooms": text mode is read by people, and "1 rooms" reads wrong. `plural` is for
    /// words that do not just take an s ("person", "people").
    static func plural(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
    }

    /// A resume's page that is not the last: how to read on.
    static func moreLine(_ room: RoomName, after last: StreamID?, more: Bool) -> [String] {
        guard more, let last else { return [] }
        return ["* more messages follow: /join #\(room) \(last)"]
    }

    /// Text as a terminal shows it: an IRC client's formatting codes would be garbage there.
    static func plain(_ text: String) -> String { IRCFormatting.strip(text) }

    static func messageLine(_ message: ChatMessage) -> String {
        let time = TimeFormat.clock(message.time)
        var text = plain(message.text)
        if let annotations = message.annotationsIfAny {
            if let reply = annotations.replyTo {
                let answered =
                    reply.from.map { "replying to \($0): \(plain(reply.snippet ?? ""))" }
                    ?? "replying to a message no longer here"
                text = "(\(answered)) " + text
            }
            if annotations.edited != nil { text += " (edited)" }
            if !annotations.reactions.isEmpty {
                text +=
                    "  [" + annotations.reactions.map { "\($0.emoji) \($0.names.count)" }.joined(separator: ", ") + "]"
            }
        }
        if message.isAction { return "[\(time)] #\(message.room) * \(message.from) \(text)" }
        // A notice, as IRC clients show one: -name- text.
        if message.isNotice { return "[\(time)] #\(message.room) -\(message.from)- \(text)" }
        return "[\(time)] #\(message.room) <\(message.from)> \(text)"
    }

    /// One line per change: who did what to whose message (text mode shows no message ids, so it names the author
    /// and the start of the text).
    static func changeLine(_ change: MessageChange) -> String {
        let prefix = "* [\(TimeFormat.clock(change.time))] #\(change.room): \(change.by)"
        let whose =
            change.targetFrom.map { $0.lowercased() == change.by.lowercased() ? "their message" : "\($0)'s message" }
            ?? "a message"
        let quoted = change.targetSnippet.map { ": \(plain($0))" } ?? ""
        switch change.kind {
        case .edited(let text): return "\(prefix) edited \(whose), now: \(plain(text))"
        case .deleted: return "\(prefix) deleted \(whose)"
        case .reacted(let emoji): return "\(prefix) reacted \(emoji) to \(whose)\(quoted)"
        case .unreacted(let emoji): return "\(prefix) took back \(emoji) from \(whose)\(quoted)"
        }
    }
}
