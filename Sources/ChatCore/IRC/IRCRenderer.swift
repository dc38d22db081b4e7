// One file because IRC's replies are one table: every event's lines and every error's numeric, read side by side
// against the Modern IRC document (modern.ircdocs.horse) to check that each event says what an IRC client expects.

/// How one IRC client sees the chat: its nick, the server's name, and the IRCv3 capabilities it enabled.
public struct IRCView: Sendable {
    public var serverName: String
    /// The registered nick, or `*` before registration (the target of numerics then).
    public var nick: String
    public var capabilities: Set<String>
    /// The nick being registered: what a 433 or 432 names.
    public var attempted: String?
    /// The account SASL logged in as.
    public var account: String?

    public init(
        serverName: String, nick: String, capabilities: Set<String> = [], attempted: String? = nil,
        account: String? = nil
    ) {
        self.serverName = serverName
        self.nick = nick
        self.capabilities = capabilities
        self.attempted = attempted
        self.account = account
    }
}

/// The IRC lines for each chat event. Chat names are IRC nicks and rooms are channels (`#room`); everybody's user
/// is `~u` (the chat has no idents) and host a cloak of their nick (`host(of:)`: addresses are never shown).
public enum IRCRenderer {
    /// The request ids the IRC mode gives the requests it makes for a command, so that the reply is rendered as
    /// that command's numerics (a `who` reply is 353/366 for JOIN and NAMES, 352/315 for WHO).
    public enum Purpose: String, Sendable {
        case hello = "irc-hello"
        case names = "irc-names"
        case who = "irc-who"
        case whois = "irc-whois"
        case whowas = "irc-whowas"
        case lusers = "irc-lusers"
        /// A registered client's PING: its PONG, once the relay has caught up (`irc-pong:<token>`).
        case pong = "irc-pong"
        /// NICK after registration (`irc-nick:<new nick>`).
        case nick = "irc-nick"
        case list = "irc-list"
        case away = "irc-away"
        case join = "irc-join"
        case part = "irc-part"
        case message = "irc-message"
        case notice = "irc-notice"
        case sasl = "irc-sasl"
        case topic = "irc-topic"
        case ison = "irc-ison"
        case userhost = "irc-userhost"
        case chathistory = "irc-chathistory"
        case mode = "irc-mode"
        /// `MODE #room b`: the ban list, which clients ask for after every JOIN.
        case banList = "irc-bans"
        case kick = "irc-kick"
        case invite = "irc-invite"
        /// A server operator's command (KILL, WALLOPS, UBAN, `NOTICE $*`...).
        case operate = "irc-oper"
        /// `MODE nick +R`: answered with the user MODE line.
        case userMode = "irc-umode"
        /// `SILENCE +nick`: answered with the SILENCE line.
        case silence = "irc-silence"
        /// A line to ChanServ: answered in its NOTICEs.
        case chanServ = "irc-chanserv"
        /// A line to NickServ: answered in its NOTICEs.
        case nickServ = "irc-nickserv"
        /// A line to HistServ (a search): answered in its NOTICEs.
        case histServ = "irc-histserv"
        /// IRCv3 `REGISTER`: answered `REGISTER SUCCESS` or `FAIL REGISTER`.
        case accountRegistration = "irc-register"
        /// `REDACT #channel msgid` (`irc-redact:#channel msgid`): refused with `FAIL REDACT`.
        case redact = "irc-redact"
        /// `MARKREAD #channel`: refused with `FAIL MARKREAD`.
        case markRead = "irc-markread"

        public var requestID: RequestID { RequestID(json: JSONWriter.quoted(rawValue)) }

        /// The id of a request about one channel or nick, which its error numerics name (`irc-join:#dev`).
        public func requestID(_ target: String) -> RequestID {
            RequestID(json: JSONWriter.quoted(rawValue + ":" + target))
        }

        public init?(_ id: RequestID?) {
            guard let id, id.json.count > 2 else { return nil }
            let text = id.json.dropFirst().dropLast()
            self.init(rawValue: String(text.prefix { $0 != ":" }))
        }

        /// The channel or nick a request id names, if any, as the client gave it (the id is a JSON string: what
        /// it escaped is read back).
        public static func target(of id: RequestID?) -> String? {
            guard let id, id.json.contains(":") else { return nil }
            guard case .string(let text)? = FlatJSON.parse(Array("{\"v\":\(id.json)}".utf8))?["v"],
                let colon = text.firstIndex(of: ":")
            else { return nil }
            return String(text[text.index(after: colon)...])
        }
    }

    public static func mask(_ nick: String) -> String { "\(nick)!\(shownUser)@\(host(of: nick))" }
    /// The user every IRC client is shown with: ident is not asked.
    public static let shownUser = "~u"
    /// What every shown host ends with.
    public static let hostSuffix = ".chat"

    /// The host IRC shows for a person: 8 hex digits of their nick's hash (case aside) and `.chat`. One per name,
    /// so that IRC clients' own ban masks (irssi's `*!*u@host`, WeeChat's `*!*@host`) name one person, and a ban
    /// on that host holds against the name whatever its case (`BanMask`); never their address. Worked out where
    /// shown (a hash of a few bytes), so nothing carries it between nodes.
    public static func host(of nick: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in nick.lowercased().utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits + hostSuffix
    }

    /// Lines for an event to this client (nil request id: not a reply).
    public static func lines(_ event: ChatEvent, requestID: RequestID?, view: IRCView, now: Millis) -> [IRCMessage] {
        let server = view.serverName
        let me = view.nick
        func numeric(_ code: String, _ parameters: String...) -> IRCMessage {
            IRCMessage(source: server, command: code, parameters: [me] + parameters)
        }
        let purpose = Purpose(requestID)
        switch event {
        case .pong where purpose == .pong:
            return [
                IRCMessage(
                    source: server, command: "PONG", parameters: [server, Purpose.target(of: requestID) ?? server])
            ]
        case .typing(let room, let name, let time):
            // Another client's typing notice, as IRCv3's typing client tag, for the clients that take tags.
            guard view.capabilities.contains("message-tags") else { return [] }
            let line = IRCMessage(
                tags: [("+typing", "active")], source: mask(name), command: "TAGMSG", parameters: [channel(room)])
            return [tagged(line, time: time, id: nil, view: view)]
        case .tagMessage(let message):
            guard view.capabilities.contains("message-tags") else { return [] }
            let fromMe = message.from.lowercased() == me.lowercased()
            // The sender's own, the reply to its TAGMSG: an echo only with echo-message (else ACK, when labeled).
            if requestID != nil, !view.capabilities.contains("echo-message") { return [] }
            let target = message.room.map(channel) ?? (fromMe ? message.to ?? me : me)
            let line = IRCMessage(
                tags: message.tags.map { ($0.key, $0.value) }, source: mask(message.from), command: "TAGMSG",
                parameters: [target])
            return [tagged(line, time: message.time, id: message.id, view: view)]
        case .readMarker(let marker):
            // draft/read-marker: after a JOIN (`*` when never read), the reply to MARKREAD, another device's move.
            guard view.capabilities.contains("draft/read-marker") else { return [] }
            let stamp = marker.id.map { "timestamp=" + TimeFormat.iso8601(Millis(clamping: $0.millis)) } ?? "*"
            return [IRCMessage(source: server, command: "MARKREAD", parameters: [channel(marker.room), stamp])]
        case .messageChanged(let change):
            // The actor's own change comes back only with echo-message (else ACK, when labeled), as TAGMSG does.
            if requestID != nil, !view.capabilities.contains("echo-message") { return [] }
            return changeLines(change, view: view)
        case .greeting, .resumedElsewhere, .joinedElsewhere, .leftElsewhere, .pong, .removed, .networkChanged:
            return []
        case .blocks(_, let registeredOnly) where purpose == .userMode:
            return [numeric("221", registeredOnly ? "+iR" : "+i")]
        case .serverOperator, .serverOperatorEnded, .motd, .announcement, .networkBans, .auditLog, .roomClosed, .blocks:
            return serverOperatorLines(event, view: view)
        case .roomRegistered, .roomRegistration:
            return chanServLines(event, view: view)
        case .ok where purpose == .chanServ, .error where purpose == .chanServ:
            return chanServLines(event, view: view)
        case .searchResults, .forgotten:
            return histServLines(event, view: view)
        case .error where purpose == .histServ:
            return histServLines(event, view: view)
        case .ok where purpose == .nickServ || purpose == .accountRegistration,
            .error where purpose == .nickServ || purpose == .accountRegistration:
            return accountRegistrationLines(event, purpose: purpose, view: view)
        case .history(_, let messages, _):
            return purpose == .chathistory
                ? IRCChatHistory.reply(messages, requestID: requestID, view: view, now: now) : []
        case .welcome(let name, _, let node, _, _):
            let version = ChatVersion.irc
            return [
                numeric("001", "Welcome to the chat, \(mask(name))"),
                numeric("002", "Your host is \(server) (node \(node)), running \(version)"),
                numeric("003", "This server speaks IRC alongside the chat's own clients"),
                IRCMessage(
                    source: server, command: "004", parameters: [me, server, version, "BRi", "bklimnostvR", "bklov"]),
            ]
                + stride(from: 0, to: isupport.count, by: 12).map { start in
                    // At most 13 tokens a line (modern.ircdocs.horse), so strict parsers read them all.
                    IRCMessage(
                        source: server, command: "005",
                        parameters: [me] + isupport[start..<min(start + 12, isupport.count)] + [
                            "are supported by this server"
                        ])
                }
        case .message(let message):
            return privmsg(message, view: view)
        case .sent(let message):
            // The client's own message comes back only when it asked for echo-message.
            return view.capabilities.contains("echo-message") ? privmsg(message, view: view) : []
        case .direct(let direct):
            let fromMe = direct.from.lowercased() == me.lowercased()
            let toMe = direct.to.lowercased() == me.lowercased()
            let echo = view.capabilities.contains("echo-message")
            // One's own sent from another connection of the person (relayed: no request) shows as Ergo's do.
            if fromMe, !toMe, !echo, requestID != nil { return [] }
            let target = fromMe ? direct.to : me
            let command = direct.isNotice ? "NOTICE" : "PRIVMSG"
            let lines = split(direct.text, from: direct.from, to: target, isAction: direct.isAction, command: command)
                .map { tagged($0, time: direct.time, id: nil, view: view, bot: direct.isBot) }
            // A message to oneself is sent and received: with echo-message, its echo and then its delivery (the
            // relay skips a session's own events, so both come from its reply; `IRCMode` labels only the echo).
            return fromMe && toMe && echo && requestID != nil ? lines + lines : lines
        case .joined(let room, let name, let time, let registered):
            let join = IRCMessage(
                source: mask(name), command: "JOIN",
                parameters: joinParameters(room, account: registered ? name : nil, view: view))
            return [tagged(join, time: time, id: nil, view: view)]
        case .left(let room, let name, let reason, let time, let message):
            // Cut to what fits the line: names are limited in characters, not bytes.
            let said = message.flatMap { $0.isEmpty ? nil : $0 }
            let line: IRCMessage
            if reason == .left {
                let room = channel(room)
                let fitting = said.map {
                    prefix($0, bytes: IRCMessage.maximumBytes - ":\(mask(name)) PART \(room) :\r\n".utf8.count)
                }
                line = IRCMessage(
                    source: mask(name), command: "PART", parameters: [room] + (fitting.map { [$0] } ?? []))
            } else {
                // A server operator's kill, as IRC servers show one: `Killed (by opal: flooding)`.
                let text =
                    reason == .removed
                    ? "Killed (\(said ?? "by an operator"))"
                    : "Quit: \(reason == .quit ? said ?? "quit" : reason.rawValue)"
                let fitting = prefix(text, bytes: IRCMessage.maximumBytes - ":\(mask(name)) QUIT :\r\n".utf8.count)
                line = IRCMessage(source: mask(name), command: "QUIT", parameters: [fitting])
            }
            return [tagged(line, time: time, id: nil, view: view)]
        case .renamed(_, let from, let to, let time):
            let line = IRCMessage(source: mask(from), command: "NICK", parameters: [to])
            return [tagged(line, time: time, id: nil, view: view)]
        case .presence(_, let name, let presence, let time):
            guard view.capabilities.contains("away-notify") else { return [] }
            let parameters: [String] = if case .away(let text) = presence { [text] } else { [] }
            return [
                tagged(
                    IRCMessage(source: mask(name), command: "AWAY", parameters: parameters), time: time, id: nil,
                    view: view)
            ]
        case .youJoined(let room, _, _):
            // The topic and NAMES follow (NAMES from the `who` the mode asks for right after, see
            // `IRCSession.observe`), then the recent messages (`joinReplay`).
            return [
                IRCMessage(
                    source: mask(me), command: "JOIN",
                    parameters: joinParameters(room, account: view.account, view: view))
            ]
        case .youLeft(let room, let message):
            // One's own PART repeats its reason, as Ergo and Solanum echo it.
            let said = message.flatMap { $0.isEmpty ? nil : $0 }.map {
                prefix($0, bytes: IRCMessage.maximumBytes - ":\(mask(me)) PART \(channel(room)) :\r\n".utf8.count)
            }
            return [
                IRCMessage(source: mask(me), command: "PART", parameters: [channel(room)] + (said.map { [$0] } ?? []))
            ]
        case .topic(let room, let topic):
            guard let topic, !topic.text.isEmpty else {
                // After a JOIN a channel without a topic says nothing; asked, it says so.
                return purpose == .topic ? [numeric("331", channel(room), "No topic is set")] : []
            }
            // Names are limited in characters, not bytes: the text is cut so the line stays within 512 bytes.
            let overhead = ":\(server) 332 \(me) \(channel(room)) :\r\n".utf8.count
            let text = prefix(topic.text, bytes: IRCMessage.maximumBytes - overhead)
            return [
                numeric("332", channel(room), text), numeric("333", channel(room), topic.by, String(topic.time / 1000)),
            ]
        case .topicChanged(let room, let topic):
            let overhead = ":\(mask(topic.by)) TOPIC \(channel(room)) :\r\n".utf8.count
            let text = prefix(topic.text, bytes: IRCMessage.maximumBytes - overhead)
            let line = IRCMessage(source: mask(topic.by), command: "TOPIC", parameters: [channel(room), text])
            return [tagged(line, time: topic.time, id: nil, view: view)]
        case .gap where purpose == .chathistory:
            return []  // a CHATHISTORY page is what it is; older messages simply are not in it
        case .gap(let room, _, let lost, _):
            let text = lost ? "some earlier messages are no longer available" : "some messages were missed here"
            return [IRCMessage(source: server, command: "NOTICE", parameters: [channel(room), text])]
        case .rooms(let rooms, _, _):
            return [numeric("321", "Channel", "Users  Name")]
                + rooms.map { numeric("322", channel($0.room), String($0.members), "") } + [
                    numeric("323", "End of /LIST")
                ]
        case .who(let room, let members, _, _):
            if purpose == .who { return whoLines(room, members, about: Purpose.target(of: requestID), view: view) }
            // userhost-in-names: `@alice!~u@host` rather than `@alice`.
            let full = view.capabilities.contains("userhost-in-names")
            return names(
                room, members.map { prefixes($0.roles, view: view) + (full ? mask($0.name) : $0.name) }, view: view)
        case .seen(let record, _):
            return personLines(record, purpose: purpose, about: Purpose.target(of: requestID), now: now, view: view)
        case .recipientAway(let name, let text):
            return [numeric("301", name, text)]
        case .counts(let counts):
            return countLines(counts, view: view)
        case .online(let users):
            if purpose == .userhost {
                // RPL_USERHOST: nick=+user@host, `-` for someone away.
                return [
                    numeric(
                        "302",
                        users.map { "\($0.name)=\($0.isAway ? "-" : "+")\(shownUser)@\(host(of: $0.name))" }
                            .joined(separator: " "))
                ]
            }
            return [numeric("303", users.map(\.name).joined(separator: " "))]
        case .help:
            return TextCommandParser.helpLines.map {
                IRCMessage(source: server, command: "NOTICE", parameters: [me, $0])
            }
        case .ok(let text):
            switch purpose {
            case .sasl:
                let account = view.account ?? view.attempted ?? me
                return [
                    IRCMessage(
                        source: server, command: "900",
                        parameters: [me, mask(account), account, "You are now logged in as \(account)"]),
                    numeric("903", "SASL authentication successful"),
                ]
            case .away:
                return [
                    text.hasPrefix("you are back")
                        ? numeric("305", "You are no longer marked as being away")
                        : numeric("306", "You have been marked as being away")
                ]
            case .invite:
                return inviting(Purpose.target(of: requestID), view: view)
            case .userMode:
                // `irc-umode:+R`: the mode the client asked for, now set.
                return [
                    IRCMessage(source: me, command: "MODE", parameters: [me, Purpose.target(of: requestID) ?? "+R"])
                ]
            case .silence:
                // `irc-silence:+nick`: the entry added or removed, as ircu answers.
                let change = Purpose.target(of: requestID) ?? "+*"
                return [IRCMessage(source: mask(me), command: "SILENCE", parameters: [change + "!*@*"])]
            default: return [IRCMessage(source: server, command: "NOTICE", parameters: [me, text])]
            }
        case .kicked, .modeChanged, .roomSettings, .bans, .invited:
            return moderationLines(event, view: view)
        case .ping:
            return [IRCMessage(source: server, command: "PING", parameters: [server])]
        case .bye(let reason):
            return [IRCMessage(command: "ERROR", parameters: ["Closing Link: \(reason)"])]
        case .error(let error) where purpose == .sasl:
            return error.code == .rateLimited
                ? [numeric("904", "SASL authentication failed (\(error.message))")]
                : [numeric("904", "SASL authentication failed")]
        case .error(let error):
            return errorLines(error, purpose: purpose, target: Purpose.target(of: requestID), view: view)
        }
    }

    /// JOIN's parameters: the channel, and with extended-join the account (`*` for a guest) and the real name,
    /// which the chat does not keep: the nick stands for it.
    static func joinParameters(_ room: RoomName, account: String?, view: IRCView) -> [String] {
        guard view.capabilities.contains("extended-join") else { return [channel(room)] }
        return [channel(room), account ?? "*", "chat user"]
    }

    /// Whether a join's recent messages are replayed to this client: one that shows each message's own time
    /// (server-time) and does not fetch history itself (draft/chathistory), as the other clients show them.
    public static func replaysHistory(to view: IRCView) -> Bool {
        view.capabilities.contains("server-time") && !view.capabilities.contains("draft/chathistory")
    }

    /// The recent messages of a room just joined, after its NAMES (where Ergo replays them too).
    public static func joinReplay(
        _ room: RoomName, _ history: [ChatMessage], view: IRCView, now: Millis
    ) -> [IRCMessage] {
        guard replaysHistory(to: view), !history.isEmpty else { return [] }
        return IRCChatHistory.batch(history, type: "chathistory", target: channel(room), view: view, now: now)
    }

    /// RPL_ISUPPORT tokens: what a client may rely on.
    static let isupport = [
        "CASEMAPPING=rfc8265", "CHANLIMIT=#:\(ProtocolLimits().maximumRoomsPerSession)",
        "CLIENTTAGDENY=*,-typing,-draft/react,-draft/unreact,-draft/reply,-draft/edit",
        "CHANTYPES=#", "CHANMODES=b,k,l,imnstR", "PREFIX=(qov)~@+", "MODES=\(RoomModeRequest.maximumChanges)",
        "MAXLIST=b:\(ModerationLimits.maximumBans)", "EXTBAN=,m", "NICKLEN=\(UserName.maximumLength)",
        "TOPICLEN=\(RoomTopic.maximumBytes)", "AWAYLEN=\(Presence.maximumAwayBytes)",
        "CHANNELLEN=\(UserName.maximumLength + 1)",
        "TARGMAX=PRIVMSG:1,NOTICE:1,JOIN:\(IRCSession.maximumTargets),PART:\(IRCSession.maximumTargets),NAMES:1,WHOIS:1",
        "UTF8ONLY", "CHATHISTORY=\(IRCChatHistory.maximumLimit)", "MSGREFTYPES=msgid,timestamp",
        "NETWORK=swift-redis-chat", "SILENCE=\(ClientRequest.maximumBlocks)", "WHOX", "BOT=B",
    ]

    static func channel(_ room: RoomName) -> String { "#" + room.value }

    /// A room message as PRIVMSG lines: one, or several for a text longer than an IRC line (the msgid on the
    /// first).
    /// Its `server-time` is the time in its id (Redis's clock when it was stored), not the sender's node's: the
    /// clock CHATHISTORY's `timestamp=` references are compared with.
    static func privmsg(_ message: ChatMessage, view: IRCView) -> [IRCMessage] {
        let time = Millis(clamping: message.id.millis)
        let command = message.isNotice ? "NOTICE" : "PRIVMSG"
        let answered = message.annotationsIfAny?.replyTo
        return split(
            message.text, from: message.from, to: channel(message.room), isAction: message.isAction, command: command
        )
        .enumerated()
        .map { index, line in
            var line = line
            if let answered, view.capabilities.contains("message-tags") {
                line.tags.append(("+draft/reply", answered.id.description))
            }
            return tagged(
                line, time: time, id: index == 0 ? message.id.description : nil, view: view, bot: message.isBot)
        }
    }

    /// A change to a channel's message as IRCv3 drafts say it: a reaction as TAGMSG with `+draft/react` (or
    /// `+draft/unreact`) and `+draft/reply` naming the message (message-tags); a delete as REDACT
    /// (draft/message-redaction); an edit as a PRIVMSG of the new text with `+draft/edit` naming the message (the
    /// message-modification draft), which clients without it show as the new text said again. Clients without the
    /// capabilities a change needs see nothing of it.
    static func changeLines(_ change: MessageChange, view: IRCView) -> [IRCMessage] {
        let tags = view.capabilities.contains("message-tags")
        let target = channel(change.room)
        switch change.kind {
        case .reacted(let emoji), .unreacted(let emoji):
            guard tags else { return [] }
            let key = if case .reacted = change.kind { "+draft/react" } else { "+draft/unreact" }
            let line = IRCMessage(
                tags: [(key, emoji), ("+draft/reply", change.target.description)], source: mask(change.by),
                command: "TAGMSG", parameters: [target])
            return [tagged(line, time: change.time, id: change.id.description, view: view)]
        case .deleted:
            guard view.capabilities.contains("draft/message-redaction") else { return [] }
            let reason = change.reason.map { [prefix($0, bytes: LeaveReason.maximumMessageBytes)] } ?? []
            let line = IRCMessage(
                source: mask(change.by), command: "REDACT", parameters: [target, change.target.description] + reason)
            return [tagged(line, time: change.time, id: change.id.description, view: view)]
        case .edited(let text):
            // Tagged only when it fits one line: a client that replaces the message would keep just the last part.
            let lines = split(text, from: change.by, to: target, isAction: false)
            return lines.enumerated().map { index, line in
                var line = line
                if tags, lines.count == 1 { line.tags.append(("+draft/edit", change.target.description)) }
                return tagged(line, time: change.time, id: index == 0 ? change.id.description : nil, view: view)
            }
        }
    }

    /// PRIVMSG lines of at most 512 bytes each without tags (CR LF included), cut between characters: the other
    /// clients allow texts of 2 KB, an IRC line holds about 400 bytes of it.
    static func split(
        _ text: String, from: String, to target: String, isAction: Bool, command: String = "PRIVMSG"
    )
        -> [IRCMessage]
    {
        let source = mask(from)
        let overhead =
            ":\(source) \(command) \(target) :\r\n".utf8.count + (isAction ? "\u{1}ACTION \u{1}".utf8.count : 0)
        let budget = max(32, IRCMessage.maximumBytes - overhead)
        var chunks: [String] = []
        var current = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > budget, !current.isEmpty {
                chunks.append(current)
                current = ""
                bytes = 0
            }
            current.append(character)
            bytes += size
        }
        if !current.isEmpty || chunks.isEmpty { chunks.append(current) }
        return chunks.map { chunk in
            IRCMessage(
                source: source, command: command, parameters: [target, isAction ? "\u{1}ACTION \(chunk)\u{1}" : chunk])
        }
    }

    /// What a client gave, fit to be a middle parameter of a reply (the nick of a 433, the mask of a 315): `*` for
    /// one that is empty, holds a space or starts with a colon, which would change the line's shape.
    static func middle(_ given: String) -> String {
        given.isEmpty || given.hasPrefix(":") || given.contains(" ") ? "*" : given
    }

    /// The longest start of `text` of at most `bytes` UTF-8 bytes, cut between characters.
    public static func prefix(_ text: String, bytes: Int) -> String { Sanitizer.prefix(text, bytes: bytes) }

    /// server-time and msgid tags, for the clients that asked for them; `bot` (IRCv3 bot mode) on what a bot sent.
    static func tagged(_ message: IRCMessage, time: Millis, id: String?, view: IRCView, bot: Bool = false) -> IRCMessage
    {
        var tagged = message
        if view.capabilities.contains("server-time") { tagged.tags.append(("time", TimeFormat.iso8601(time))) }
        if let id, view.capabilities.contains("message-tags") { tagged.tags.append(("msgid", id)) }
        if bot, view.capabilities.contains("message-tags") { tagged.tags.append(("bot", nil)) }
        return tagged
    }

    /// RPL_NAMREPLY in lines that stay under 512 bytes, then RPL_ENDOFNAMES.
    static func names(_ room: RoomName, _ names: [String], view: IRCView) -> [IRCMessage] {
        var lines: [IRCMessage] = []
        var batch: [String] = []
        func flush() {
            guard !batch.isEmpty else { return }
            lines.append(
                IRCMessage(
                    source: view.serverName, command: "353",
                    parameters: [view.nick, "=", channel(room), batch.joined(separator: " ")]))
            batch = []
        }
        for name in names {
            if (batch + [name]).joined(separator: " ").utf8.count > 400 { flush() }
            batch.append(name)
        }
        flush()
        return lines + [
            IRCMessage(
                source: view.serverName, command: "366", parameters: [view.nick, channel(room), "End of /NAMES list"])
        ]
    }

    /// The numeric an IRC client expects for each refusal, naming the channel or nick it was about (clients match
    /// a failed JOIN by it); what has none is a NOTICE (FAIL needs a cap).
    static func errorLines(_ error: ChatError, purpose: Purpose?, target about: String?, view: IRCView) -> [IRCMessage]
    {
        let server = view.serverName
        let target = view.nick
        func numeric(_ code: String, _ parameters: String...) -> [IRCMessage] {
            [IRCMessage(source: server, command: code, parameters: [target] + parameters)]
        }
        let nick = middle(view.attempted ?? view.nick)
        let subject = middle(about ?? "*")
        if purpose == .join {
            // Every failed JOIN names its channel, so the client stops waiting for it.
            if let lines = moderationError(error, purpose: purpose, subject: subject, view: view) { return lines }
            switch error.code {
            case .tooManyRooms: return numeric("405", subject, error.message)
            case .roomInvalid: return numeric("403", subject, error.message)
            default: return numeric("437", subject, "Cannot join right now (\(error.code): \(error.message))")
            }
        }
        if purpose == .chathistory {
            let query = IRCChatHistory.Query(encoded: about)
            let code = error.code == .notInRoom || error.code == .roomInvalid ? "INVALID_TARGET" : "MESSAGE_ERROR"
            return [
                IRCMessage(
                    source: server, command: "FAIL",
                    parameters: ["CHATHISTORY", code, query?.subcommand ?? "*", query?.target ?? "*", error.message])
            ]
        }
        if purpose == .notice {
            // No automatic reply to a NOTICE, not even an error (RFC 2812; Solanum and Ergo do the same).
            return []
        }
        if error.code == .unconfirmed {
            // Not a refusal: what was asked was done (a REDACT, an edit), only not confirmed by the replicas yet.
            return [
                IRCMessage(source: server, command: "NOTICE", parameters: [target, "\(error.code): \(error.message)"])
            ]
        }
        if purpose == .markRead {
            let code = error.code == .notInRoom || error.code == .roomInvalid ? "INVALID_PARAMS" : "INTERNAL_ERROR"
            return [
                IRCMessage(source: server, command: "FAIL", parameters: ["MARKREAD", code, subject, error.message])
            ]
        }
        if purpose == .redact {
            // `irc-redact:#channel msgid`, answered as draft/message-redaction says.
            let parts = (about ?? "* *").split(separator: " ", maxSplits: 1).map(String.init)
            let (channel, msgid) = (parts.first ?? "*", parts.count > 1 ? parts[1] : "*")
            let (code, parameters): (String, [String]) =
                switch error.code {
                case .noSuchMessage: ("UNKNOWN_MSGID", [channel, msgid])
                case .notYours: ("REDACT_FORBIDDEN", [channel, msgid])
                case .notInRoom, .roomInvalid: ("INVALID_TARGET", [channel])
                default: (String(error.code.rawValue.uppercased().map { $0 == "-" ? "_" : $0 }), [channel, msgid])
                }
            return [
                IRCMessage(
                    source: server, command: "FAIL", parameters: ["REDACT", code] + parameters + [error.message])
            ]
        }
        // A listing that cannot be made ends as an empty one, naming what was asked as given: a client waiting for
        // its end numeric stops waiting, and nothing tells a secret room from a missing one.
        if purpose == .names { return numeric("366", subject, "End of /NAMES list") }
        if purpose == .who { return whoLines([], query: WhoQuery(about), view: view) }
        if purpose == .nick {
            // `irc-nick:<nick>`: the nick asked for, which 433 and 432 name.
            switch error.code {
            case .nameTaken: return numeric("433", subject, "Nickname is already in use (\(error.message))")
            case .nameInvalid, .banned: return numeric("432", subject, "Erroneous nickname (\(error.message))")
            case .rateLimited: return numeric("438", subject, "Nick change too fast (\(error.message))")
            case .cannotSpeak: return numeric("435", subject, "Cannot change nickname (\(error.message))")
            case .badRequest: return numeric("447", "Cannot change nickname (\(error.message))")
            default: break
            }
        }
        if purpose == .whowas {
            return numeric("406", subject, "There was no such nickname") + numeric("369", subject, "End of WHOWAS")
        }
        if purpose == .message, error.code == .notInRoom {
            return numeric("404", subject, "Cannot send to channel (\(error.message))")
        }
        if error.code == .removed {
            return [IRCMessage(command: "ERROR", parameters: ["Closing Link: \(server) (Killed (\(error.message)))"])]
        }
        if purpose == .hello, error.code == .banned || error.code == .suspended {
            return numeric("465", "You are banned from this server (\(error.message))")
        }
        if error.code == .notServerOperator { return numeric("481", "Permission Denied- You're not an IRC operator") }
        if purpose == .silence {
            // `irc-silence:+nick`: the entry as asked, without its sign for the nick.
            let nick = String(subject.drop { $0 == "+" || $0 == "-" })
            if error.code == .listFull { return numeric("511", "\(nick)!*@*", "Your silence list is full") }
            if error.code == .noSuchUser { return numeric("401", nick, "No such nick") }
        }
        if purpose == .message, error.code == .registeredOnly {
            // ERR_NONONREG: the person takes private messages from registered names only (user mode +R).
            return numeric("486", subject, "You must be logged in with a registered name to message this user")
        }
        if purpose == .invite {
            // `irc-invite:bob #dev`: the nick is what these name. +R refuses guests' INVITEs as it does their messages.
            let invited = middle((about ?? "*").split(separator: " ").first.map(String.init) ?? "*")
            if error.code == .registeredOnly {
                return numeric("486", invited, "You must be logged in with a registered name to invite this user")
            }
            if error.code == .noSuchUser { return numeric("401", invited, "No such nick/channel") }
        }
        // The whole subject: a kick's or an invitation's names a channel and a nick (each made a middle there).
        if let lines = moderationError(error, purpose: purpose, subject: about ?? "*", view: view) { return lines }
        switch error.code {
        case .nameTaken: return numeric("433", nick, "Nickname is already in use (\(error.message))")
        case .nameInvalid: return numeric("432", nick, "Erroneous nickname (\(error.message))")
        case .passwordRequired, .badPassword: return numeric("464", error.message)
        case .noSuchUser: return numeric("401", subject, "No such nick/channel")
        case .notInRoom: return numeric("442", subject, "You're not on that channel")
        case .roomInvalid: return numeric("403", subject, "No such channel (\(error.message))")
        case .tooManyRooms: return numeric("405", subject, error.message)
        case .unknownCommand: return numeric("421", subject, error.message)
        case .lineTooLong: return numeric("417", "Input line was too long")
        case .messageTooLong: return numeric("417", error.message)
        default:
            return [
                IRCMessage(source: server, command: "NOTICE", parameters: [target, "\(error.code): \(error.message)"])
            ]
        }
    }
}
