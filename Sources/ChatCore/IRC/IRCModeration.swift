/// Room moderation as IRC has it (docs/moderation.md): roles as channel prefixes (`PREFIX=(qov)~@+`), settings and
/// bans as channel modes (`CHANMODES=b,k,l,imstR`, mutes as Ergo's and InspIRCd's `m:` extban), KICK and INVITE,
/// and the numerics for every refusal.
extension IRCRenderer {
    static func moderationLines(_ event: ChatEvent, view: IRCView) -> [IRCMessage] {
        let server = view.serverName
        let me = view.nick
        func numeric(_ code: String, _ parameters: String...) -> IRCMessage {
            IRCMessage(source: server, command: code, parameters: [me] + parameters)
        }
        switch event {
        case .kicked(let room, let name, let by, let reason, let time):
            let overhead = ":\(mask(by)) KICK \(channel(room)) \(name) :\r\n".utf8.count
            let text = prefix(reason.flatMap { $0.isEmpty ? nil : $0 } ?? by, bytes: IRCMessage.maximumBytes - overhead)
            let line = IRCMessage(source: mask(by), command: "KICK", parameters: [channel(room), name, text])
            return [tagged(line, time: time, id: nil, view: view)]
        case .modeChanged(let room, let by, let changes, let time):
            let (modes, arguments) = ModerationText.modeLine(changes, showingKeys: true)
            let line = IRCMessage(source: mask(by), command: "MODE", parameters: [channel(room), modes] + arguments)
            return [tagged(line, time: time, id: nil, view: view)]
        case .roomSettings(let room, let settings):
            let (modes, arguments) = settings.modeString(showingKey: settings.key != "*")
            return [IRCMessage(source: server, command: "324", parameters: [me, channel(room), modes] + arguments)]
        case .bans(let room, let bans):
            return bans.map { ban in
                numeric("367", channel(room), ban.mask, ban.by, String(ban.time / 1000))
            } + [numeric("368", channel(room), "End of channel ban list")]
        case .invited(let room, let by, let time):
            let line = IRCMessage(source: mask(by), command: "INVITE", parameters: [me, channel(room)])
            return [tagged(line, time: time, id: nil, view: view)]
        default:
            return []
        }
    }

    /// RPL_INVITING for the inviter: the nick and channel its request id names (`irc-invite:bob #dev`).
    static func inviting(_ target: String?, view: IRCView) -> [IRCMessage] {
        let parts = (target ?? "").split(separator: " ").map(String.init)
        guard parts.count == 2 else { return [] }
        return [IRCMessage(source: view.serverName, command: "341", parameters: [view.nick, parts[0], parts[1]])]
    }

    /// A member's prefixes in NAMES and WHO: all of them with multi-prefix, else the highest.
    static func prefixes(_ roles: RoomRoles, view: IRCView) -> String {
        let all = roles.prefixes
        return view.capabilities.contains("multi-prefix") ? all : String(all.prefix(1))
    }

    /// The numeric a moderation refusal is (nil: not one): 482, 474, 473, 475, 471, 477, 404, 472, 478, 443, 441.
    static func moderationError(
        _ error: ChatError, purpose: Purpose?, subject: String, view: IRCView
    ) -> [IRCMessage]? {
        func numeric(_ code: String, _ parameters: String...) -> [IRCMessage] {
            [IRCMessage(source: view.serverName, command: code, parameters: [view.nick] + parameters)]
        }
        // `irc-kick:#dev bob` and `irc-invite:bob #dev` name a channel and a nick.
        let words = subject.split(separator: " ").map(String.init)
        let room = middle(words.first(where: { $0.hasPrefix("#") }) ?? subject)
        let nick = middle(words.first(where: { !$0.hasPrefix("#") }) ?? "*")
        if purpose == .banList, error.code == .notOperator || error.code == .notInRoom {
            // Clients ask after every JOIN and wait for the end of the list (irssi's channel sync): someone who
            // may not see it gets it empty, as a room without bans, and is not told whether it has any.
            return numeric("368", room, "End of channel ban list")
        }
        switch error.code {
        case .notOperator: return numeric("482", room, "You're not channel operator (\(error.message))")
        case .notOwner: return numeric("482", room, "You're not the channel owner (\(error.message))")
        case .banned: return numeric("474", room, "Cannot join channel (+b) (\(error.message))")
        case .inviteOnly: return numeric("473", room, "Cannot join channel (+i)")
        case .badKey: return numeric("475", room, "Cannot join channel (+k)")
        case .roomFull: return numeric("471", room, "Cannot join channel (+l)")
        case .registeredOnly: return numeric("477", room, "You must be registered to join that channel")
        case .cannotSpeak: return numeric("404", room, "Cannot send to channel (\(error.message))")
        case .unknownMode:
            return numeric("472", String(error.message.dropFirst().prefix(1)), "is unknown mode char to me")
        case .listFull: return numeric("478", room, "b", "Channel list is full")
        case .alreadyInRoom: return numeric("443", nick, room, "is already on channel")
        case .notInRoom where purpose == .kick || purpose == .mode:
            return numeric("441", nick, room, "They aren't on that channel")
        default: return nil
        }
    }
}
