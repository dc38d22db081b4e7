/// A search of the archive as a client asks it (JSON `search`, `/search`, IRC's `HistServ SEARCH`): the words, and
/// what narrows them. Only rooms the person is in are searched, whatever is asked.
public struct SearchRequest: Equatable, Sendable {
    /// The words (`SearchTerms.query`: all of them, `"a phrase"`, `prefix*`).
    public var text: String
    /// One room (it must be one of yours); nil: every room you are in.
    public var room: String?
    /// Only messages from this name (as it was shown).
    public var from: String?
    /// Only messages before, or after, this message id.
    public var before: String?
    public var after: String?
    /// Which page of results, from 1 (`pageSize` each, best first).
    public var page: Int

    /// Results in a page.
    public static let pageSize = 20
    /// Pages one can go down: past 10 pages of 20, a search wants more words, and every page deeper costs the
    /// database the ones above it.
    public static let maximumPage = 10

    public init(
        text: String, room: String? = nil, from: String? = nil, before: String? = nil, after: String? = nil,
        page: Int = 1
    ) {
        self.text = text
        self.room = room
        self.from = from
        self.before = before
        self.after = after
        self.page = page
    }

    /// `/search [#room] [from:NAME] [page:N] WORDS`: the filters come first, in any order.
    public static func parseText(_ rest: Substring) throws(ChatError) -> SearchRequest {
        var request = SearchRequest(text: "")
        var words = rest.split(separator: " ", omittingEmptySubsequences: true)[...]
        while let word = words.first {
            if word.hasPrefix("#"), word.count > 1, request.room == nil {
                request.room = String(word.dropFirst())
            } else if word.hasPrefix("from:"), word.count > 5, request.from == nil {
                request.from = String(word.dropFirst(5))
            } else if word.hasPrefix("page:"), let page = Int(word.dropFirst(5)) {
                request.page = page
            } else {
                break
            }
            words = words.dropFirst()
        }
        request.text = words.joined(separator: " ")
        guard !request.text.isEmpty else {
            throw ChatError(.badRequest, "usage: /search [#room] [from:NAME] [page:N] WORDS (\"a phrase\", prefix*)")
        }
        return request
    }
}

/// One thing a search found: a room's message, or a direct message the person sent or was sent.
public enum SearchHit: Equatable, Sendable {
    case message(ChatMessage)
    /// `sent`: the person searching sent it (they were sent it otherwise), whatever names either had.
    case direct(DirectMessage, sent: Bool)
}

/// A page of what a search found: best first (by rank, then newest).
public struct SearchResults: Equatable, Sendable {
    /// What was searched for, as asked: the words, and the room and name it was narrowed to.
    public var text: String
    public var room: String?
    public var from: String?
    public var page: Int
    public var found: [SearchHit]
    /// More results lie on the next page (never past `SearchRequest.maximumPage`).
    public var more: Bool

    public init(
        text: String, room: String? = nil, from: String? = nil, page: Int, found: [SearchHit], more: Bool
    ) {
        self.text = text
        self.room = room
        self.from = from
        self.page = page
        self.found = found
        self.more = more
    }

    /// The results of `search`: `more` only where a next page may be asked for.
    public init(of search: SearchRequest, found: [SearchHit], more: Bool) {
        self.init(
            text: search.text, room: search.room, from: search.from, page: search.page, found: found,
            more: more && search.page < SearchRequest.maximumPage)
    }

    /// The next page's request in the words `/search` and HistServ take: the same room, name and words.
    public var nextPage: String {
        (room.map { "#\($0) " } ?? "") + (from.map { "from:\($0) " } ?? "") + "page:\(page + 1) \(text)"
    }
}
