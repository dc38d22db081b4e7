import ChatCore
import PostgresNIO

/// Full-text search over the archive (`SearchTerms` says how text is indexed, in every script alike).
extension ChatArchive {
    /// What a search asks for, already checked: `rooms` are the rooms the person may read (the caller's business).
    public struct SearchQuery: Sendable {
        /// A tsquery literal (`SearchTerms.query`).
        public var terms: String
        public var rooms: [String]
        public var from: String?
        public var before: StreamID?
        public var after: StreamID?
        public var limit: Int
        public var offset: Int

        public init(
            terms: String, rooms: [String], from: String? = nil, before: StreamID? = nil, after: StreamID? = nil,
            limit: Int, offset: Int = 0
        ) {
            self.terms = terms
            self.rooms = rooms
            self.from = from
            self.before = before
            self.after = after
            self.limit = limit
            self.offset = offset
        }
    }

    /// The messages that match, best first (by rank, then newest), at most `limit`, and whether more match.
    public func search(_ query: SearchQuery) async throws -> (messages: [ChatMessage], more: Bool) {
        guard !query.rooms.isEmpty, query.limit > 0 else { return ([], false) }
        let before = query.before ?? StreamID(millis: UInt64(Int64.max), sequence: UInt64(Int64.max))
        let after = query.after ?? .zero
        let from = query.from ?? ""
        return try await read { try await self.search(query, before: before, after: after, from: from) }
    }

    /// Ranked are the newest `rankedAtMost` matches only: ranking reads every candidate's terms, and a common word
    /// in a busy room matches hundreds of thousands. Past them, a search wants more words (or `before`).
    public static let rankedAtMost = 2000

    private func search(
        _ query: SearchQuery, before: StreamID, after: StreamID, from: String
    ) async throws -> (messages: [ChatMessage], more: Bool) {
        let rows = try await reader.query(
            """
            SELECT ms, seq, entry, body, (extract(epoch FROM edited_at) * 1000)::int8
            FROM (
                SELECT ms, seq, entry, body, edited_at, terms FROM chat_messages
                WHERE terms @@ \(query.terms)::tsquery AND room = ANY(\(query.rooms)) AND deleted_at IS NULL
                    AND (ms, seq) < (\(Int64(clamping: before.millis)), \(Int64(clamping: before.sequence)))
                    AND (ms, seq) > (\(Int64(clamping: after.millis)), \(Int64(clamping: after.sequence)))
                    AND (\(from) = '' OR lower(sender) = lower(\(from)))
                ORDER BY ms DESC, seq DESC
                LIMIT \(Self.rankedAtMost)
            ) AS newest
            ORDER BY ts_rank(terms, \(query.terms)::tsquery) DESC, ms DESC, seq DESC
            LIMIT \(query.limit + 1) OFFSET \(query.offset)
            """, logger: logger)
        var messages: [ChatMessage] = []
        for try await (millis, sequence, entry, body, edited) in rows.decode(
            (Int64, Int64, String, String, Int64?).self)
        {
            let id = StreamID(millis: UInt64(max(0, millis)), sequence: UInt64(max(0, sequence)))
            if let message = Self.message(entry: entry, id: id, text: body, edited: edited) { messages.append(message) }
        }
        let more = messages.count > query.limit
        return (Array(messages.prefix(query.limit)), more)
    }
}
