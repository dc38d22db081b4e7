/// How history is cut into pages: no reply of history (a join's, a resume's, a `history` request's) may be large
/// enough to pass the outbound limit that disconnects slow readers, however many messages a client missed. A
/// client reads on with `history` after the last id of a page while `more` is set (IRCv3 CHATHISTORY works alike).
public struct HistoryPaging: Sendable {
    public var messages: Int
    public var bytes: Int

    public init(messages: Int, bytes: Int) {
        self.messages = max(1, messages)
        self.bytes = max(1, bytes)
    }

    /// Which end of what was read is kept when a page has to be cut.
    public enum Direction: Sendable {
        /// Reading on after an id (a resume): the oldest are kept, the newest come on the next page.
        case forward
        /// Reading back from the newest, or before an id: the newest are kept.
        case backward
    }

    /// How many to ask the store for: one more than a page, so that a full page knows whether more lie beyond.
    public func readCount(_ wanted: Int) -> Int { min(max(1, wanted), messages) + 1 }

    /// `read` is oldest first, as the store returns it, read with `readCount(wanted)`. Returns the page (oldest
    /// first) and whether more lie beyond it in `direction`. A page always holds at least one message, so a
    /// reader always moves on.
    public func page(_ read: [ChatMessage], wanted: Int, direction: Direction) -> (page: [ChatMessage], more: Bool) {
        let limit = min(max(1, wanted), messages)
        var kept = direction == .forward ? Array(read.prefix(limit)) : Array(read.suffix(limit))
        var more = read.count > limit
        var total = 0
        let walk = direction == .forward ? Array(kept.indices) : kept.indices.reversed()
        for (taken, index) in walk.enumerated() {
            total += Self.cost(of: kept[index])
            guard total > bytes, taken > 0 else { continue }
            kept = direction == .forward ? Array(kept[..<index]) : Array(kept[(index + 1)...])
            more = true
            break
        }
        return (kept, more)
    }

    /// About what a message weighs once rendered: its text and sender, and the fields around them.
    /// What a message counts against `bytes`: its text as JSON would carry it, about.
    public static func cost(of message: ChatMessage) -> Int {
        message.text.utf8.count + message.from.utf8.count + message.room.value.utf8.count + 96
    }
}
