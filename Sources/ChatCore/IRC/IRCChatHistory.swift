/// IRCv3 `draft/chathistory` (https://ircv3.net/specs/extensions/chathistory): CHATHISTORY subcommands as the
/// chat's own `history` requests, so IRC clients page through the same room history every other client sees, and
/// the replies as `chathistory` batches.
///
/// The chat reads history two ways: the newest messages before a point, or the oldest after one. Each subcommand is
/// one of those reads, and the bound the read cannot express is applied to its reply: `LATEST` after a message is the
/// newest page with what is not after it dropped; `BETWEEN` reads from one end and drops what lies past the other.
/// Both are exact: a read from one end stops at the first message past the other end, so nothing in the range is
/// missed. The bounds travel in the request id (see `Query`), so the reply needs no state.
public enum IRCChatHistory {
    /// ISUPPORT CHATHISTORY: the most messages one request returns.
    public static let maximumLimit = 100

    /// A CHATHISTORY request as its id carries it: `<SUBCOMMAND> <target> [>after] [<before]`.
    struct Query: Equatable {
        var subcommand: String
        var target: String
        /// Only messages after this one are shown.
        var after: StreamID?
        /// Only messages before this one are shown.
        var before: StreamID?

        var encoded: String {
            ([subcommand, target] + [after.map { ">\($0)" }, before.map { "<\($0)" }].compactMap { $0 })
                .joined(separator: " ")
        }

        init(subcommand: String, target: String, after: StreamID? = nil, before: StreamID? = nil) {
            self.subcommand = subcommand
            self.target = target
            self.after = after
            self.before = before
        }

        init?(encoded: String?) {
            guard let words = encoded?.split(separator: " "), words.count >= 2 else { return nil }
            self.init(subcommand: String(words[0]), target: String(words[1]))
            for word in words.dropFirst(2) {
                if word.hasPrefix(">") { after = StreamID(String(word.dropFirst())) }
                if word.hasPrefix("<") { before = StreamID(String(word.dropFirst())) }
            }
        }

        func shows(_ message: ChatMessage) -> Bool {
            after.map { message.id > $0 } ?? true && before.map { message.id < $0 } ?? true
        }
    }

    /// What a CHATHISTORY command becomes: a history request, or lines answered at once (an error, or the empty
    /// batch of a target whose history is not kept).
    enum Step {
        case request(ClientRequest, Query)
        case reply([IRCMessage])
    }

    static func step(_ parameters: [String], view: IRCView, now: Millis) -> Step {
        let subcommand = parameters.first?.uppercased() ?? ""
        func fail(_ code: String, _ context: [String], _ text: String) -> Step {
            .reply([
                IRCMessage(
                    source: view.serverName, command: "FAIL", parameters: ["CHATHISTORY", code] + context + [text])
            ])
        }
        switch subcommand {
        case "TARGETS":
            // Conversations with activity in a time range: direct messages are not kept, and a client knows its
            // channels; none are listed.
            return .reply(batch([], type: "draft/chathistory-targets", target: nil, view: view, now: now))
        case "LATEST", "BEFORE", "AFTER", "BETWEEN", "AROUND":
            break
        default:
            return fail("INVALID_PARAMS", [subcommand.isEmpty ? "*" : subcommand], "Unknown CHATHISTORY subcommand")
        }
        let references = subcommand == "BETWEEN" ? 2 : 1
        guard parameters.count == 3 + references else {
            return fail("INVALID_PARAMS", [subcommand], "Wrong number of parameters")
        }
        let target = parameters[1]
        guard let limit = Int(parameters[2 + references]), limit > 0 else {
            return fail("INVALID_PARAMS", [subcommand, target], "The limit must be a positive number")
        }
        let count = min(limit, maximumLimit)
        guard target.hasPrefix("#") else {
            // Direct messages are delivered, never stored: there is no history to page through.
            return .reply(batch([], type: "chathistory", target: target, view: view, now: now))
        }
        if subcommand == "LATEST", parameters[2] == "*" {
            return .request(
                .history(room: target, limit: count, before: nil), Query(subcommand: subcommand, target: target))
        }
        var points: [Point] = []
        for reference in parameters[2..<(2 + references)] {
            guard let point = point(reference) else {
                return fail(
                    "INVALID_PARAMS", [subcommand, target], "Not a msgid= or timestamp= reference: \(reference)")
            }
            points.append(point)
        }
        let query = Query(subcommand: subcommand, target: target)
        switch subcommand {
        case "LATEST":
            return .request(.history(room: target, limit: count, before: nil), with(query, after: points[0].lower))
        case "BEFORE":
            return .request(.history(room: target, limit: count, before: points[0].upper.description), query)
        case "AFTER":
            return .request(
                .history(room: target, limit: count, before: nil, after: points[0].lower.description), query)
        case "BETWEEN" where points[0].upper < points[1].upper:
            let request = ClientRequest.history(
                room: target, limit: count, before: nil, after: points[0].lower.description)
            return .request(request, with(query, before: points[1].upper))
        case "BETWEEN":
            let request = ClientRequest.history(room: target, limit: count, before: points[0].upper.description)
            return .request(request, with(query, after: points[1].lower))
        default:
            // AROUND would be two reads joined into one batch.
            return fail("INVALID_PARAMS", [subcommand, target], "AROUND is not supported here; use BEFORE and AFTER")
        }
    }

    private static func with(_ query: Query, after: StreamID? = nil, before: StreamID? = nil) -> Query {
        var query = query
        query.after = after ?? query.after
        query.before = before ?? query.before
        return query
    }

    /// A reference as an exclusive bound on message ids, from below or from above. A message id is one point;
    /// a time is a whole millisecond (message ids are `<millis>-<sequence>`): excluded from below, it lies after
    /// every message of that millisecond, from above before all of them.
    struct Point {
        var lower: StreamID
        var upper: StreamID
    }

    /// `msgid=<stream id>` or `timestamp=<ISO 8601>`.
    static func point(_ reference: String) -> Point? {
        if reference.hasPrefix("msgid=") {
            return StreamID(String(reference.dropFirst("msgid=".count))).map { Point(lower: $0, upper: $0) }
        }
        guard reference.hasPrefix("timestamp="),
            let millis = TimeFormat.millis(iso8601: String(reference.dropFirst("timestamp=".count))), millis >= 0
        else { return nil }
        let at = UInt64(millis)
        return Point(lower: StreamID(millis: at, sequence: .max), upper: StreamID(millis: at, sequence: 0))
    }

    /// The reply to a CHATHISTORY request: the page's messages within its bounds, as one batch.
    static func reply(_ messages: [ChatMessage], requestID: RequestID?, view: IRCView, now: Millis) -> [IRCMessage] {
        let query = Query(encoded: IRCRenderer.Purpose.target(of: requestID))
        let shown = messages.filter { query?.shows($0) ?? true }
        let target = query?.target ?? shown.first.map { IRCRenderer.channel($0.room) } ?? "*"
        return batch(shown, type: "chathistory", target: target, view: view, now: now)
    }

    /// Messages as PRIVMSG lines with their time and id, inside a batch when the client takes batches.
    static func batch(
        _ messages: [ChatMessage], type: String, target: String?, view: IRCView, now: Millis
    ) -> [IRCMessage] {
        var lines = messages.flatMap { IRCRenderer.privmsg($0, view: view) }
        guard view.capabilities.contains("batch") else { return lines }
        // Unique among the batches open on this connection: each batch goes out whole, in one write.
        let reference = "h" + String(now, radix: 36) + String(messages.count, radix: 36)
        for index in lines.indices { lines[index].tags.insert(("batch", reference), at: 0) }
        let open = IRCMessage(
            source: view.serverName, command: "BATCH",
            parameters: ["+" + reference, type] + (target.map { [$0] } ?? []))
        return [open] + lines + [IRCMessage(source: view.serverName, command: "BATCH", parameters: ["-" + reference])]
    }
}
