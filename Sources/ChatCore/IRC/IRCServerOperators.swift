/// Server operators as IRC has them (docs/moderation.md): 381 for an operator's login, announcements as NOTICEs to
/// `$*` and WALLOPS, Ergo's UBAN list as NOTICEs, the message of the day as 375/372/376 (or 422), and a kill as
/// the ERROR that closes the link.
extension IRCRenderer {
    static func serverOperatorLines(_ event: ChatEvent, view: IRCView) -> [IRCMessage] {
        let server = view.serverName
        let me = view.nick
        func numeric(_ code: String, _ parameters: String...) -> IRCMessage {
            IRCMessage(source: server, command: code, parameters: [me] + parameters)
        }
        func notice(_ text: String) -> IRCMessage {
            let overhead = ":\(server) NOTICE \(me) :\r\n".utf8.count
            return IRCMessage(
                source: server, command: "NOTICE",
                parameters: [me, prefix(IRCFormatting.strip(text), bytes: IRCMessage.maximumBytes - overhead)])
        }
        switch event {
        case .serverOperator:
            return [
                numeric("381", "You are now an IRC operator"),
                IRCMessage(source: me, command: "MODE", parameters: [me, "+o"]),
            ]
        case .serverOperatorEnded:
            // The mode change IRC servers send when someone is de-opered; IRC has no numeric for why, a notice says it.
            return [
                notice("You are no longer an IRC operator: the server's operator list changed"),
                IRCMessage(source: me, command: "MODE", parameters: [me, "-o"]),
            ]
        case .motd(let text, _):
            guard let text, !text.isEmpty else { return [numeric("422", "MOTD File is missing")] }
            let overhead = ":\(server) 372 \(me) :- \r\n".utf8.count
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                numeric("372", "- " + prefix(String($0), bytes: IRCMessage.maximumBytes - overhead))
            }
            return [numeric("375", "- \(server) Message of the day - ")] + lines
                + [numeric("376", "End of /MOTD command.")]
        case .announcement(let from, let text, let time, let operatorsOnly):
            let lines = split(text, from: from, to: "$*", isAction: false, command: "NOTICE")
            return lines.map { line in
                let shown =
                    operatorsOnly
                    ? IRCMessage(source: line.source, command: "WALLOPS", parameters: [line.parameters[1]]) : line
                return tagged(shown, time: time, id: nil, view: view)
            }
        case .roomClosed(let room, let by, let reason, let time):
            // IRC clients leave a channel they are kicked from: everyone is, by the operator.
            let overhead = ":\(mask(by)) KICK \(channel(room)) \(me) :\r\n".utf8.count
            let text = prefix(
                "room closed" + (reason.map { ": \($0)" } ?? ""), bytes: IRCMessage.maximumBytes - overhead)
            let line = IRCMessage(source: mask(by), command: "KICK", parameters: [channel(room), me, text])
            return [tagged(line, time: time, id: nil, view: view)]
        case .blocks(let names, _):
            // SILENCE's list (ircu, InspIRCd): one 271 a mask, then 272.
            return names.map { numeric("271", me, "\($0)!*@*") } + [numeric("272", "End of Silence List")]
        case .networkBans(let bans):
            return bans.map { ban in
                let lapse = ban.until.map { ", until \(TimeFormat.dateTime($0))" } ?? ""
                let why = ban.reason.map { ": \($0)" } ?? ""
                return notice("UBAN \(ban.mask) by \(ban.by), \(TimeFormat.dateTime(ban.time))\(lapse)\(why)")
            } + [notice("End of UBAN LIST (\(bans.count))")]
        case .auditLog(let entries):
            return entries.map { entry in
                let room = entry.room.map { " in #\($0)" } ?? ""
                let detail = entry.detail.map { ": \($0)" } ?? ""
                return notice(
                    "AUDIT \(TimeFormat.dateTime(entry.time)) \(entry.actor) \(entry.action) \(entry.target)\(room)\(detail)"
                )
            } + [notice("End of AUDIT (\(entries.count))")]
        default:
            return []
        }
    }
}
