/// Registered rooms as IRC has them (docs/moderation.md, "Registered rooms"): Ergo's ChanServ, spoken to with
/// `PRIVMSG ChanServ :REGISTER #dev` or the `CS`/`CHANSERV` commands, answering in NOTICEs from `ChanServ`; the
/// owner is `+q` (`~`), and an owner's registration, transfer or giving up shows as the MODE line that moves it.
extension IRCRenderer {
    /// The service's prefix: no session holds the name (it is reserved), so nobody can pose as it.
    public static let chanServ = "ChanServ!ChanServ@services"

    static func chanServLines(_ event: ChatEvent, view: IRCView) -> [IRCMessage] {
        func notice(_ to: String, _ text: String) -> IRCMessage {
            let overhead = ":\(chanServ) NOTICE \(to) :\r\n".utf8.count
            return IRCMessage(
                source: chanServ, command: "NOTICE",
                parameters: [to, prefix(text, bytes: IRCMessage.maximumBytes - overhead)])
        }
        switch event {
        case .roomRegistered(let room, let owner, let previous, let by, let time):
            // A new owner by a transfer becomes an operator too (one who registers a room is one already).
            let changes =
                (previous.map { [RoomModeChange.role(.owner, name: $0, granted: false)] } ?? [])
                + (owner.map { [RoomModeChange.role(.owner, name: $0, granted: true)] } ?? [])
                + (owner != nil && previous != nil ? [RoomModeChange.role(.operator, name: owner!, granted: true)] : [])
            let (modes, arguments) = ModerationText.modeLine(changes, showingKeys: false)
            let said =
                switch (owner, previous) {
                case (let owner?, nil): "\(by) registered \(channel(room)) to \(owner)"
                case (let owner?, let previous?): "\(by) transferred \(channel(room)) from \(previous) to \(owner)"
                case (nil, _): "\(by) unregistered \(channel(room))"
                }
            return [
                tagged(
                    IRCMessage(
                        source: view.serverName, command: "MODE", parameters: [channel(room), modes] + arguments),
                    time: time, id: nil, view: view),
                tagged(notice(channel(room), said), time: time, id: nil, view: view),
            ]
        case .roomRegistration(let registration):
            let room = channel(registration.room)
            guard let owner = registration.owner else {
                return [notice(view.nick, "Channel \(room) is not registered")]
            }
            var lines = [notice(view.nick, "*** \(room) ***"), notice(view.nick, "Founder: \(owner)")]
            if let since = registration.since {
                lines.append(notice(view.nick, "Registered at: \(TimeFormat.dateTime(since))"))
            }
            if let access = registration.access {
                lines += access.map { notice(view.nick, "AMODE \($0.name): +\($0.roles.letters)") }
                lines.append(notice(view.nick, "End of AMODE list (\(access.count))"))
            }
            return lines
        case .ok(let text):
            return [notice(view.nick, text)]
        case .error(let error):
            return [notice(view.nick, error.message)]
        default:
            return []
        }
    }
}

extension IRCSession {
    /// A line to ChanServ (`REGISTER #dev`, `UNREGISTER #dev`, `TRANSFER #dev bob`, `INFO #dev`, `AMODE #dev`,
    /// `HELP`) as the request it is; nil, with the answer in `help`, for anything else.
    public static func chanServRequest(_ text: String) -> (request: ClientRequest?, help: String?) {
        let words = text.split(separator: " ").map(String.init)
        let usage = "ChanServ: REGISTER <#channel>, UNREGISTER <#channel>, TRANSFER <#channel> <nick>, INFO <#channel>"
        guard let verb = words.first?.uppercased(), words.count >= 2, words[1].hasPrefix("#") else {
            return (nil, usage)
        }
        let room = words[1]
        switch (verb, words.count) {
        case ("REGISTER", 2): return (.room(room: room, .register), nil)
        case ("UNREGISTER", 2): return (.room(room: room, .unregister), nil)
        case ("TRANSFER", 3): return (.room(room: room, .transfer(to: words[2])), nil)
        // Ergo's AMODE lists a channel's automatic modes; here they change with MODE in the channel.
        case ("INFO", 2), ("AMODE", 2): return (.room(room: room, .info), nil)
        default: return (nil, usage)
        }
    }
}
