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

    /// Ranked are the newest `rankedAtMost` matches only (of the rooms', and of the direct messages'): ranking
    /// reads every candidate's terms, and a common word in a busy room matches hundreds of thousands. Past them, a
    /// search wants more words (or `before`).
    ///
    /// How it is read (docs/benchmarks.md, "The archive", has the figures). One word: each room on its own (a
    /// `LATERAL` per room, at most 50 rooms a session), so that PostgreSQL picks per room between walking the
    /// room's newest rows backwards on its primary key, checking each (a common word finds its 500 soon), and the
    /// GIN index (a rare one); one scan over every room with `room = ANY(...)` intersects the whole table's matches
    /// of a common word with the rooms' rows (a second, for 20 rooms of five million messages). Several words, or
    /// a phrase: that one scan, since together they are rare even when each is common, and walking the rooms'
    /// rows checking each would read all of them (1.5 s for a phrase of two common words). The candidates carry
    /// only their keys and terms; the entries are read for the page's rows alone.
    public static let rankedAtMost = 500

    private func search(
        _ query: SearchQuery, before: StreamID, after: StreamID, from: String
    ) async throws -> (found: [SearchHit], more: Bool) {
        let author = query.author ?? ""
        // Lexemes are quoted in the literal (`SearchTerms`), and hold no quote themselves.
        let words = query.terms.filter { $0 == "'" }.count / 2
        let rows = try await reader.query(
            try statement(query, before: before, after: after, from: from, author: author, roomByRoom: words <= 1),
            logger: logger)
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

    /// The search's statement: the rooms' candidates read room by room or in one scan (`rankedAtMost` says
    /// when), the person's direct messages', ranked, then the page's entries.
    private func statement(
        _ query: SearchQuery, before: StreamID, after: StreamID, from: String, author: String, roomByRoom: Bool
    ) throws -> PostgresQuery {
        var binds = PostgresBindings()
        func bind(_ value: some PostgresThrowingDynamicTypeEncodable) throws -> String {
            try binds.append(value)
            return "$\(binds.count)"
        }
        let terms = try bind(query.terms) + "::tsquery"
        let author = try bind(author)
        let from = try bind(from)
        let rooms = try bind(query.rooms)
        let window =
            "(ms, seq) < (\(try bind(Int64(clamping: before.millis))), \(try bind(Int64(clamping: before.sequence))))"
            + " AND (ms, seq) > (\(try bind(Int64(clamping: after.millis))), \(try bind(Int64(clamping: after.sequence))))"
            + " AND (\(from) = '' OR lower(sender) = lower(\(from)))"
        let newest = "ORDER BY ms DESC, seq DESC LIMIT \(Self.rankedAtMost)"
        let roomCandidates =
            roomByRoom
            ? """
            SELECT false AS direct, r.room AS stream, m.ms, m.seq, m.terms
            FROM unnest(\(rooms)::text[]) AS r(room), LATERAL (
                SELECT ms, seq, terms FROM chat_messages
                WHERE room = r.room AND terms @@ \(terms) AND deleted_at IS NULL AND \(window)
                \(newest)) AS m
            ORDER BY m.ms DESC, m.seq DESC LIMIT \(Self.rankedAtMost)
            """
            : """
            SELECT false AS direct, room AS stream, ms, seq, terms FROM chat_messages
            WHERE room = ANY(\(rooms)::text[]) AND terms @@ \(terms) AND deleted_at IS NULL AND \(window)
            \(newest)
            """
        let sql = """
            WITH ranked AS (
                SELECT direct, stream, ms, seq, ts_rank(terms, \(terms)) AS score
                FROM (
                    (\(roomCandidates))
                    UNION ALL
                    (SELECT true, recipient_key, ms, seq, terms FROM chat_directs
                    WHERE \(author) <> '' AND terms @@ \(terms)
                        AND (sender_author = \(author) OR recipient_author = \(author)) AND \(window)
                    \(newest))
                ) AS newest
                ORDER BY score DESC, ms DESC, seq DESC
                LIMIT \(query.limit + 1) OFFSET \(query.offset)
            )
            SELECT ranked.direct, ranked.ms, ranked.seq, coalesce(m.entry, ''), coalesce(m.body, d.body, ''),
                (extract(epoch FROM m.edited_at) * 1000)::int8, coalesce(d.sender, ''), coalesce(d.recipient, ''),
                coalesce(d.kind::int4, 0) + (CASE WHEN d.sender_author = \(author) THEN 256 ELSE 0 END)
            FROM ranked
            LEFT JOIN chat_messages m ON NOT ranked.direct AND m.room = ranked.stream AND m.ms = ranked.ms
                AND m.seq = ranked.seq
            LEFT JOIN chat_directs d ON ranked.direct AND d.recipient_key = ranked.stream AND d.ms = ranked.ms
                AND d.seq = ranked.seq
            ORDER BY ranked.score DESC, ranked.ms DESC, ranked.seq DESC
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
