/// Searching the archive from an IRC client: `PRIVMSG HistServ :SEARCH [#channel] [from:nick] [page:N] words`
/// (or `/HS SEARCH ...`), and `FORGET CONFIRM` (one's own messages out of the archive), answered in NOTICEs from
/// `HistServ`, as Ergo's HistServ answers its own commands. IRC has
/// no search command of its own; a service is what IRC users and bots know how to talk to.
extension IRCRenderer {
    /// The service's prefix: no session holds the name (it is reserved), so nobody can pose as it.
    public static let histServ = "HistServ!HistServ@services"

    /// A line to HistServ: the request it makes, or what HistServ answers at once.
    public static func histServRequest(_ text: String) -> (request: ClientRequest?, answer: String?) {
        let words = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        if words.first?.uppercased() == "FORGET" {
            guard words.count == 2, words[1].uppercased() == "CONFIRM" else {
                return (nil, "HistServ: FORGET CONFIRM removes your room messages from the archive, for good")
            }
            return (.forgetMine, nil)
        }
        guard words.first?.uppercased() == "SEARCH" else {
            return (
                nil,
                "HistServ: SEARCH [#channel] [from:nick] [page:N] words (\"a phrase\", prefix*), or FORGET CONFIRM"
            )
        }
        do {
            var search = try SearchRequest.parseText(words.count > 1 ? words[1] : "")
            // IRC names channels with their '#'; the chat's rooms are the rest.
            search.room = search.room.map { $0.hasPrefix("#") ? String($0.dropFirst()) : $0 }
            return (.search(search), nil)
        } catch {
            return (nil, error.message)
        }
    }

    /// Search results, or a search's error, as HistServ's NOTICEs: one per message, then whether more remain.
    static func histServLines(_ event: ChatEvent, view: IRCView) -> [IRCMessage] {
        func notice(_ text: String) -> IRCMessage {
            IRCMessage(source: histServ, command: "NOTICE", parameters: [view.nick, text])
        }
        switch event {
        case .searchResults(let results):
            let page = results.page > 1 ? " (page \(results.page))" : ""
            guard !results.found.isEmpty else { return [notice("Nothing found for \(results.text)\(page)")] }
            let found = results.found.map { hit in
                switch hit {
                case .message(let message):
                    let said =
                        message.isAction ? "* \(message.from) \(message.text)" : "<\(message.from)> \(message.text)"
                    return notice("\(channel(message.room)) \(TimeFormat.dateTime(message.time)) \(said)")
                case .direct(let direct, let sent):
                    // Where a query window would show it: under the other person's nick.
                    let said = direct.isAction ? "* \(direct.from) \(direct.text)" : "<\(direct.from)> \(direct.text)"
                    let other = sent ? direct.to : direct.from
                    return notice("\(other) \(TimeFormat.dateTime(direct.time)) \(said)")
                }
            }
            let more = results.more ? [notice("More: SEARCH \(results.nextPage)")] : []
            return [notice("Found for \(results.text)\(page), best first:")] + found + more
        case .forgotten(let count):
            return [notice("\(count) of your messages removed from the archive")]
        case .error(let error):
            return [notice("Failed: \(error.message)")]
        default:
            return []
        }
    }
}
