import ChatCore
import Foundation
import PostgresNIO

/// How long the archive keeps messages, and a person's messages removed at their asking.
extension ChatArchive {
    /// How long messages are kept: `days` for every room (nil: for ever), and rooms of their own (`rooms`: room ->
    /// days, shorter or longer than the rest).
    public struct Retention: Sendable, Equatable {
        public var days: Int?
        public var rooms: [String: Int]

        public init(days: Int? = nil, rooms: [String: Int] = [:]) {
            self.days = days
            self.rooms = rooms
        }

        public var keepsForever: Bool { days == nil && rooms.isEmpty }

        /// `ROOM=DAYS,ROOM=DAYS` (`--archive-keep-room`); nil when malformed.
        public static func parseRooms(_ text: String) -> [String: Int]? {
            var rooms: [String: Int] = [:]
            for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let days = Int(parts[1].trimmingCharacters(in: .whitespaces)), days >= 1 else {
                    return nil
                }
                var room = parts[0].trimmingCharacters(in: .whitespaces)
                if room.hasPrefix("#") { room.removeFirst() }
                guard let name = try? RoomName(validating: room) else { return nil }
                rooms[name.value] = days
            }
            return rooms
        }
    }

    /// Removes what `retention` no longer keeps, at most `batch` rows per statement (a statement holds its locks
    /// and its WAL until it ends: thousands at a time, not millions); returns how many rows went.
    public func applyRetention(_ retention: Retention, batch: Int = 5000) async throws -> Int {
        var removed = 0
        for (room, days) in retention.rooms.sorted(by: { $0.key < $1.key }) {
            removed += try await removeInBatches(batch) { limit in
                """
                WITH gone AS (DELETE FROM chat_messages WHERE ctid IN (
                    SELECT ctid FROM chat_messages
                    WHERE room = \(room) AND sent_at < now() - make_interval(days => \(days)::int) LIMIT \(limit))
                    RETURNING 1)
                SELECT count(*) FROM gone
                """
            }
        }
        if let days = retention.days {
            // Direct messages are kept as long as the rooms are in general.
            removed += try await removeInBatches(batch) { limit in
                """
                WITH gone AS (DELETE FROM chat_directs WHERE ctid IN (
                    SELECT ctid FROM chat_directs
                    WHERE sent_at < now() - make_interval(days => \(days)::int) LIMIT \(limit))
                    RETURNING 1)
                SELECT count(*) FROM gone
                """
            }
            let exempt = Array(retention.rooms.keys)
            removed += try await removeInBatches(batch) { limit in
                """
                WITH gone AS (DELETE FROM chat_messages WHERE ctid IN (
                    SELECT ctid FROM chat_messages
                    WHERE sent_at < now() - make_interval(days => \(days)::int) AND NOT (room = ANY(\(exempt)))
                    LIMIT \(limit))
                    RETURNING 1)
                SELECT count(*) FROM gone
                """
            }
        }
        return removed
    }

    private func removeInBatches(_ limit: Int, _ statement: (Int) -> PostgresQuery) async throws -> Int {
        var removed = 0
        while true {
            var count = 0
            for try await gone in try await client.query(statement(limit), logger: logger).decode(Int.self) {
                count = gone
            }
            removed += count
            // Until a statement finds nothing: a row another transaction changed meanwhile is skipped by this
            // one (its ctid moved) and found by the next.
            if count == 0 { return removed }
        }
    }

    /// Removes every archived message of `room` (a server operator closed it: its history is gone everywhere), a
    /// batch at a time; returns how many.
    public func forgetRoom(_ room: String, batch: Int = 5000) async throws -> Int {
        try await removeInBatches(batch) { limit in
            """
            WITH gone AS (DELETE FROM chat_messages WHERE ctid IN (
                SELECT ctid FROM chat_messages WHERE room = \(room) LIMIT \(limit))
                RETURNING 1)
            SELECT count(*) FROM gone
            """
        }
    }

    /// The advisory lock between the archiver's writes (shared) and `forget` (exclusive).
    static let forgetLock: Int64 = 7_283_518

    /// Removes from the archive the messages `author` (`SessionGrant.author`: a registered name's stands for its
    /// account, however it was shown) sent before `before`: room messages as deletes are (tombstones, text and
    /// terms gone). Direct messages stay with the other person, who had them already (as Matrix's erasure and
    /// Slack's deactivation leave them): the person's identity is taken off them, so they no longer find them.
    /// Returns how many messages were removed or let go.
    ///
    /// First the person is recorded (`chat_forgotten_authors`), under the exclusive lock, so that every write
    /// after it skips what they sent before `before` and any write before it is committed and removed below;
    /// then the rows go 5000 at a time, none of it holding up the archiver for long.
    public func forget(author: String, before: Millis, batch: Int = 5000) async throws -> Int {
        guard !author.isEmpty else { return 0 }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.forgetLock))", logger: logger)
            try await connection.query(
                """
                INSERT INTO chat_forgotten_authors (author, sent_before) VALUES (\(author), to_timestamp(\(before) / 1000.0))
                ON CONFLICT (author) DO UPDATE SET sent_before = greatest(chat_forgotten_authors.sent_before, excluded.sent_before)
                """, logger: logger)
        }
        var count = try await removeInBatches(batch) { limit in
            """
            WITH gone AS (
                UPDATE chat_messages SET body = '', entry = '', terms = '', sender = '', author = NULL,
                    deleted_at = coalesce(deleted_at, now())
                WHERE ctid IN (SELECT ctid FROM chat_messages
                    WHERE author = \(author) AND sent_at < to_timestamp(\(before) / 1000.0) LIMIT \(limit))
                RETURNING 1)
            SELECT count(*) FROM gone
            """
        }
        count += try await removeInBatches(batch) { limit in
            """
            WITH gone AS (
                UPDATE chat_directs SET sender_author = NULL
                WHERE ctid IN (SELECT ctid FROM chat_directs
                    WHERE sender_author = \(author) AND sent_at < to_timestamp(\(before) / 1000.0) LIMIT \(limit))
                RETURNING 1)
            SELECT count(*) FROM gone
            """
        }
        _ = try await removeInBatches(batch) { limit in
            """
            WITH gone AS (
                UPDATE chat_directs SET recipient_author = NULL
                WHERE ctid IN (SELECT ctid FROM chat_directs
                    WHERE recipient_author = \(author) AND sent_at < to_timestamp(\(before) / 1000.0) LIMIT \(limit))
                RETURNING 1)
            SELECT count(*) FROM gone
            """
        }
        return count
    }
}
