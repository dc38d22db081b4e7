import ChatCore
import PostgresNIO

/// Full-text search over the archive (`SearchTerms` says how text is indexed, in every script alike).
extension ChatArchive {
    /// What a search asks for, already checked: `rooms` are the rooms the person may read, `author` whose direct
    /// messages (sent or received) it looks in too (the caller's business).
    public struct SearchQuery: Sendable {
        /// A tsquery literal (`SearchTerms.query`).
        public var terms: String
        public var rooms: [String]
        /// The person's `SessionGrant.author`; nil: no direct messages.
        public var author: String?
        public var from: String?
        public var before: StreamID?
        public var after: StreamID?
        public var limit: Int
        public var offset: Int

        public init(
            terms: String, rooms: [String], author: String? = nil, from: String? = nil, before: StreamID? = nil,
            after: StreamID? = nil, limit: Int, offset: Int = 0
        ) {
            self.terms = terms
            self.rooms = rooms
            self.author = author
            self.from = from
            self.before = before
            self.after = after
            self.limit = limit
            self.offset = offset
        }
    }

    /// The messages that match, best first (by rank, then newest), at most `limit`, and whether more match.
    public func search(_ query: SearchQuery) async throws -> (found: [SearchHit], more: Bool) {
        guard !query.rooms.isEmpty || !(query.author ?? "").isEmpty, query.limit > 0 else { return ([], false) }
        let before = query.before ?? StreamID(millis: UInt64(Int64.max), sequence: UInt64(Int64.max))
        let after = query.after ?? .zero
        let from = query.from ?? ""
        return try await read { try await self.search(query, before: before, after: after, from: from) }
    }

    /// Ranked are the newest `rankedAtMost` matches only (of the rooms', and of the direct messages'): ranking reads every candidate's terms, and a common word
    /// in a busy room matches hundreds of thousands. Past them, a search wants more words (or `before`).
    public static let rankedAtMost = 2000

    private func search(
        _ query: SearchQuery, before: StreamID, after: StreamID, from: String
    ) async throws -> (found: [SearchHit], more: Bool) {
        let (beforeMillis, beforeSequence) = (Int64(clamping: before.millis), Int64(clamping: before.sequence))
        let (afterMillis, afterSequence) = (Int64(clamping: after.millis), Int64(clamping: after.sequence))
        let author = query.author ?? ""
        let rows = try await reader.query(
            """
            SELECT direct, ms, seq, entry, body, (extract(epoch FROM edited_at) * 1000)::int8, sender, recipient,
                kind
            FROM (
                (SELECT false AS direct, ms, seq, entry, body, edited_at, terms, '' AS sender, '' AS recipient,
                    0 AS kind
                FROM chat_messages
                WHERE terms @@ \(query.terms)::tsquery AND room = ANY(\(query.rooms)) AND deleted_at IS NULL
                    AND (ms, seq) < (\(beforeMillis), \(beforeSequence)) AND (ms, seq) > (\(afterMillis), \(afterSequence))
                    AND (\(from) = '' OR lower(sender) = lower(\(from)))
                ORDER BY ms DESC, seq DESC
                LIMIT \(Self.rankedAtMost))
                UNION ALL
                (SELECT true, ms, seq, '', body, NULL, terms, sender, recipient,
                    kind::int4 + (CASE WHEN sender_author = \(author) THEN 256 ELSE 0 END)
                FROM chat_directs
                WHERE \(author) <> '' AND terms @@ \(query.terms)::tsquery
                    AND (sender_author = \(author) OR recipient_author = \(author))
                    AND (ms, seq) < (\(beforeMillis), \(beforeSequence)) AND (ms, seq) > (\(afterMillis), \(afterSequence))
                    AND (\(from) = '' OR lower(sender) = lower(\(from)))
                ORDER BY ms DESC, seq DESC
                LIMIT \(Self.rankedAtMost))
            ) AS newest
            ORDER BY ts_rank(terms, \(query.terms)::tsquery) DESC, ms DESC, seq DESC
            LIMIT \(query.limit + 1) OFFSET \(query.offset)
            """, logger: logger)
        var found: [SearchHit] = []
        for try await (direct, millis, sequence, entry, body, edited, sender, recipient, kind) in rows.decode(
            (Bool, Int64, Int64, String, String, Int64?, String, String, Int32).self)
        {
            let id = StreamID(millis: UInt64(max(0, millis)), sequence: UInt64(max(0, sequence)))
            if direct {
                // The kind's column carries whether the searcher sent it (256), to keep one row shape for both.
                let sent = kind >= 256
                let kind = ArchiveBatch.Message.Kind(rawValue: Int16(clamping: kind % 256)) ?? .say
                found.append(
                    .direct(
                        DirectMessage(
                            from: sender, to: recipient, text: body, isAction: kind == .action,
                            time: Millis(clamping: millis), isNotice: kind == .notice), sent: sent))
            } else if let message = Self.message(entry: entry, id: id, text: body, edited: edited) {
                found.append(.message(message))
            }
        }
        let more = found.count > query.limit
        return (Array(found.prefix(query.limit)), more)
    }
}
