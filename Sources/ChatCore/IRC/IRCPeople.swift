/// Who is who, as IRC asks: WHO and WHOX (352/354, 315), WHOIS (311 312 313 301 330 317 318), WHOWAS (314 312 369,
/// 406) and LUSERS (251 254 255 265 266), laid out as Modern (modern.ircdocs.horse) and the IRCv3 WHOX
/// specification have them, and as Solanum, InspIRCd and Ergo answer.
extension IRCRenderer {
    /// A WHO request's mask as the client gave it and its WHOX fields (`%tnuhraf`) and token, from its request id
    /// (`irc-who:#dev %tna,42`).
    struct WhoQuery {
        var mask: String
        /// The WHOX field letters asked for; nil for a plain WHO (352).
        var fields: Set<Character>?
        var token: String?

        /// `about`: the mask (which holds no space: `IRCSession` sees to it), then the WHO's second parameter if
        /// it asks for WHOX (`n%tna,42`: flags before the `%` are ignored).
        init(_ about: String?) {
            let parts = (about ?? "*").split(separator: " ", maxSplits: 1).map(String.init)
            mask = IRCRenderer.middle(parts.first ?? "*")
            guard parts.count > 1, let percent = parts[1].firstIndex(of: "%") else { return }
            let spec = parts[1][parts[1].index(after: percent)...]
            let pieces = spec.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            fields = Set(pieces.first ?? "")
            // A token is 1 to 3 digits (the WHOX specification); anything else is not echoed.
            if pieces.count > 1, (1...3).contains(pieces[1].utf8.count),
                pieces[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            {
                token = String(pieces[1])
            }
        }
    }

    /// One person in a WHO reply.
    struct WhoEntry {
        var name: String
        var channel: String
        var away: Bool
        var serverOperator: Bool
        var bot = false
        var prefixes: String
        var realName: String?
        var account: String?
        var idleSeconds: Millis
    }

    static func whoLines(_ entries: [WhoEntry], query: WhoQuery, view: IRCView) -> [IRCMessage] {
        let server = view.serverName
        let lines = entries.map { entry -> IRCMessage in
            let flags =
                (entry.away ? "G" : "H") + (entry.serverOperator ? "*" : "") + (entry.bot ? "B" : "")
                + entry.prefixes
            let realName = entry.realName ?? entry.name
            guard let fields = query.fields else {
                return IRCMessage(
                    source: server, command: "352",
                    parameters: [
                        view.nick, entry.channel, shownUser, host(of: entry.name), server, entry.name, flags,
                        "0 \(realName)",
                    ])
            }
            // WHOX: the fields asked for, always in this order, whatever order they were asked in.
            var parameters = [view.nick]
            for letter in "tcuihsnfdlaor" where fields.contains(letter) {
                switch letter {
                case "t": parameters.append(query.token ?? "0")
                case "c": parameters.append(entry.channel)
                case "u": parameters.append(shownUser)
                case "i": parameters.append("255.255.255.255")  // addresses are never shown
                case "h": parameters.append(host(of: entry.name))
                case "s": parameters.append(server)
                case "n": parameters.append(entry.name)
                case "f": parameters.append(flags)
                case "d": parameters.append("0")
                case "l": parameters.append(String(entry.idleSeconds))
                case "a": parameters.append(entry.account ?? "0")
                case "o": parameters.append("n/a")
                default: parameters.append(realName)
                }
            }
            return IRCMessage(source: server, command: "354", parameters: parameters)
        }
        return lines + [
            IRCMessage(source: server, command: "315", parameters: [view.nick, query.mask, "End of /WHO list"])
        ]
    }

    /// WHO for a channel: every member listed.
    static func whoLines(_ room: RoomName, _ members: [RoomMember], about: String?, view: IRCView) -> [IRCMessage] {
        let entries = members.map { member in
            WhoEntry(
                name: member.name, channel: channel(room), away: member.presence != .online,
                serverOperator: member.serverOperator, bot: member.bot, prefixes: prefixes(member.roles, view: view),
                realName: member.realName, account: member.registered ? member.name : nil,
                idleSeconds: member.idleMillis / 1000)
        }
        return whoLines(entries, query: WhoQuery(about), view: view)
    }

    /// WHO, WHOIS and WHOWAS about one nick, from what /seen knows of it.
    static func personLines(
        _ record: SeenRecord, purpose: Purpose?, about: String?, now: Millis, view: IRCView
    )
        -> [IRCMessage]
    {
        let server = view.serverName
        func numeric(_ code: String, _ parameters: String...) -> IRCMessage {
            IRCMessage(source: server, command: code, parameters: [view.nick] + parameters)
        }
        switch (purpose, record) {
        case (.who, .online(let name, _, _, _, let details)):
            let entry = WhoEntry(
                name: name, channel: "*", away: details.away != nil, serverOperator: details.serverOperator,
                bot: details.bot, prefixes: "", realName: details.realName, account: details.registered ? name : nil,
                idleSeconds: (details.idleMillis ?? 0) / 1000)
            return whoLines([entry], query: WhoQuery(about), view: view)
        case (.who, _):
            return whoLines([], query: WhoQuery(about), view: view)
        case (.whowas, .offline(let name, _, let disconnectedAt, let realName)):
            return [
                numeric("314", name, shownUser, host(of: name), "*", realName ?? name),
                numeric("312", name, server, TimeFormat.dateTime(disconnectedAt)),
                numeric("369", name, "End of WHOWAS"),
            ]
        case (.whowas, _):
            // Connected now, or never: no earlier connection to tell of.
            let name = middle(about ?? "*")
            return [numeric("406", name, "There was no such nickname"), numeric("369", name, "End of WHOWAS")]
        case (_, .online(let name, let since, let node, _, let details)):
            var lines = [
                numeric("311", name, shownUser, host(of: name), "*", details.realName ?? name),
                numeric("312", name, server, "node \(node)"),
            ]
            if details.serverOperator { lines.append(numeric("313", name, "is an IRC operator")) }
            if let away = details.away { lines.append(numeric("301", name, away)) }
            if details.registered { lines.append(numeric("330", name, name, "is logged in as")) }
            if details.bot { lines.append(numeric("335", name, "is a bot")) }
            if let idle = details.idleMillis {
                lines.append(
                    numeric("317", name, String(idle / 1000), String(since / 1000), "seconds idle, signon time"))
            }
            return lines + [numeric("318", name, "End of /WHOIS list")]
        case (_, .offline(let name, _, _, _)), (_, .never(let name)):
            return [numeric("401", name, "No such nick/channel"), numeric("318", name, "End of /WHOIS list")]
        }
    }

    /// LUSERS: everyone is invisible (+i), so 251's visible count is 0; servers are the cluster's nodes, and "I
    /// have" is this node, one server of them.
    static func countLines(_ counts: ServerCounts, view: IRCView) -> [IRCMessage] {
        let server = view.serverName
        func numeric(_ code: String, _ parameters: String...) -> IRCMessage {
            IRCMessage(source: server, command: code, parameters: [view.nick] + parameters)
        }
        return [
            numeric("251", "There are 0 users and \(counts.people) invisible on \(counts.nodes) servers"),
            numeric("254", String(counts.rooms), "channels formed"),
            numeric("255", "I have \(counts.local) clients and 1 servers"),
            numeric(
                "265", String(counts.local), String(counts.localPeak),
                "Current local users \(counts.local), max \(counts.localPeak)"),
            numeric(
                "266", String(counts.people), String(counts.peak),
                "Current global users \(counts.people), max \(counts.peak)"),
        ]
    }
}
