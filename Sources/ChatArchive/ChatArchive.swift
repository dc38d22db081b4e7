import ChatCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// The chat's archive in PostgreSQL: every room message, kept past what the rooms' Redis streams hold, for history
/// and search. This type knows the tables (`ArchiveSchema`) and nothing of Redis; ChatNode's `Archiver` feeds it
/// from the rooms' streams, and the sessions read it.
///
/// Writes are idempotent: a message is its room and its stream id, a second copy of it changes nothing, and an
/// edit or a delete is applied by the id of the change, so archiving a stretch of a stream twice (an archiver
/// killed before it could record how far it got, two archivers for a moment) leaves the archive as once.
///
/// Two pools: the archiver's writes (`client`, two connections, no time limit) and the sessions' reads (`reader`,
/// four connections, each statement stopped after `readTimeout`), so that searches, however many, never hold up
/// the archiving that keeps messages from being trimmed away unarchived. At most `maximumReads` reads wait or
/// run at once per node; more are refused (`ArchiveBusy`) rather than queued without end.
public final class ChatArchive: Sendable {
    public let address: ArchiveAddress
    let client: PostgresClient
    let reader: PostgresClient
    let logger: Logger
    private let readsInFlight = NIOLockedValueBox(0)
    public static let maximumReads = 16
    public static let readTimeout = "3s"

    public init(address: ArchiveAddress, logger: Logger) {
        self.address = address
        var configuration = address.clientConfiguration
        configuration.options.maximumConnections = 2
        configuration.options.connectTimeout = .seconds(5)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        configuration.options.maximumConnections = 4
        // No JIT: a search's plan can look costly enough to compile, which costs more than a short query saves.
        configuration.options.additionalStartupParameters = [("statement_timeout", Self.readTimeout), ("jit", "off")]
        self.reader = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pools until the task is cancelled (as a ServiceLifecycle service would).
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.reader.run() }
        }
    }

    /// Runs a session's read, or refuses it when `maximumReads` are under way. A read given up after
    /// `readDeadline` (waiting for a connection to a PostgreSQL that does not answer, which `statement_timeout`
    /// does not cover) is cancelled and fails.
    func read<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let admitted = readsInFlight.withLockedValue { count in
            guard count < Self.maximumReads else { return false }
            count += 1
            return true
        }
        guard admitted else { throw ArchiveBusy() }
        defer { readsInFlight.withLockedValue { $0 -= 1 } }
        return try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: Self.readDeadline)
                throw ArchiveTimeout()
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw ArchiveTimeout() }
            return first
        }
    }

    public static let readDeadline = Duration.seconds(5)

    /// Brings the tables up to this release's schema; returns its version.
    public func migrate() async throws -> Int {
        try await ArchiveSchema.migrate(client, logger: logger)
    }

    /// Where the archive is in each of `rooms`' streams (absent: nothing archived yet).
    public func cursors(_ rooms: [String]) async throws -> [String: StreamID] {
        var cursors: [String: StreamID] = [:]
        let rows = try await client.query(
            "SELECT stream, ms, seq FROM chat_archive_cursors WHERE stream = ANY(\(rooms))", logger: logger)
        for try await (stream, millis, sequence) in rows.decode((String, Int64, Int64).self) {
            cursors[stream] = StreamID(millis: UInt64(max(0, millis)), sequence: UInt64(max(0, sequence)))
        }
        return cursors
    }

    /// Writes what was read from some rooms' streams, and how far each was read, in one transaction: either all of
    /// it is archived or none, so a cursor never passes a message the archive does not have.
    public func write(_ batch: ArchiveBatch) async throws {
        guard !batch.isEmpty else { return }
        try await client.withTransaction(logger: logger) { connection in
            // Shared with other writes, exclusive to `forget`: a write's rows are committed before a forget
            // records its person, or see the record (`forget` says why), as long as each statement reads what was
            // committed before it (READ COMMITTED, whatever the server's default).
            try await connection.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock_shared(\(Self.forgetLock))", logger: logger)
            if !batch.messages.isEmpty {
                var rooms: [String] = []
                var millis: [Int64] = []
                var sequences: [Int64] = []
                var senders: [String] = []
                var authors: [String] = []
                var kinds: [Int32] = []
                var times: [Int64] = []
                var bodies: [String] = []
                var entries: [String] = []
                var vectors: [String] = []
                for message in batch.messages {
                    rooms.append(message.room)
                    millis.append(Int64(message.id.millis))
                    sequences.append(Int64(message.id.sequence))
                    senders.append(message.sender)
                    authors.append(message.author ?? "")
                    kinds.append(Int32(message.kind.rawValue))
                    times.append(message.time)
                    bodies.append(message.text)
                    entries.append(message.entry)
                    vectors.append(SearchTerms.vector(of: message.text))
                }
                try await connection.query(
                    """
                    INSERT INTO chat_messages (room, ms, seq, sender, author, kind, sent_at, body, entry, terms)
                    SELECT r, m, s, f, nullif(a, ''), k, to_timestamp(t / 1000.0), b, e, v::tsvector
                    FROM unnest(\(rooms)::text[], \(millis)::int8[], \(sequences)::int8[], \(senders)::text[],
                        \(authors)::text[], \(kinds)::int4[], \(times)::int8[], \(bodies)::text[], \(entries)::text[],
                        \(vectors)::text[]) AS x(r, m, s, f, a, k, t, b, e, v)
                    WHERE NOT EXISTS (
                        SELECT 1 FROM chat_forgotten_authors WHERE author = a AND sent_before > to_timestamp(t / 1000.0))
                    ON CONFLICT (room, ms, seq) DO NOTHING
                    """, logger: logger)
            }
            if !batch.directs.isEmpty { try await write(batch.directs, on: connection) }
            for edit in batch.edits {
                let vector = SearchTerms.vector(of: edit.text)
                try await connection.query(
                    """
                    UPDATE chat_messages SET body = \(edit.text), terms = \(vector)::tsvector,
                        edited_at = to_timestamp(\(edit.time) / 1000.0),
                        edit_ms = \(Int64(edit.change.millis)), edit_seq = \(Int64(edit.change.sequence))
                    WHERE room = \(edit.room) AND ms = \(Int64(edit.target.millis))
                        AND seq = \(Int64(edit.target.sequence)) AND deleted_at IS NULL
                        AND (edit_ms, edit_seq) < (\(Int64(edit.change.millis)), \(Int64(edit.change.sequence)))
                    """, logger: logger)
            }
            for deletion in batch.deletions {
                // A tombstone: the row stays (a late copy of the message finds it there and changes nothing), its
                // text and its terms go.
                try await connection.query(
                    """
                    INSERT INTO chat_messages (room, ms, seq, sender, kind, sent_at, body, entry, terms, deleted_at)
                    VALUES (\(deletion.room), \(Int64(deletion.target.millis)), \(Int64(deletion.target.sequence)),
                        '', 0, to_timestamp(\(Int64(deletion.target.millis)) / 1000.0), '', '', '', now())
                    ON CONFLICT (room, ms, seq) DO UPDATE
                    SET body = '', entry = '', terms = '', sender = '', author = NULL,
                        deleted_at = coalesce(chat_messages.deleted_at, now())
                    """, logger: logger)
            }
            if !batch.cursors.isEmpty {
                let streams = batch.cursors.map(\.key)
                let millis = batch.cursors.map { Int64($0.value.millis) }
                let sequences = batch.cursors.map { Int64($0.value.sequence) }
                try await connection.query(
                    """
                    INSERT INTO chat_archive_cursors AS c (stream, ms, seq)
                    SELECT * FROM unnest(\(streams)::text[], \(millis)::int8[], \(sequences)::int8[])
                    ON CONFLICT (stream) DO UPDATE SET ms = excluded.ms, seq = excluded.seq, updated_at = now()
                    WHERE (c.ms, c.seq) < (excluded.ms, excluded.seq)
                    """, logger: logger)
            }
            for gap in batch.gaps {
                try await connection.query(
                    """
                    INSERT INTO chat_archive_gaps (stream, after_id, resumed_at_id, lost)
                    VALUES (\(gap.room), \(gap.after.description), \(gap.resumedAt.description), \(gap.lost))
                    """, logger: logger)
            }
        }
    }

    private func write(_ directs: [ArchiveBatch.Direct], on connection: PostgresConnection) async throws {
        let keys = directs.map(\.recipientKey)
        let millis = directs.map { Int64($0.id.millis) }
        let sequences = directs.map { Int64($0.id.sequence) }
        let senders = directs.map(\.sender)
        let recipients = directs.map(\.recipient)
        let senderAuthors = directs.map { $0.senderAuthor ?? "" }
        let recipientAuthors = directs.map { $0.recipientAuthor ?? "" }
        let kinds = directs.map { Int32($0.kind.rawValue) }
        let times = directs.map(\.time)
        let bodies = directs.map(\.text)
        let vectors = directs.map { SearchTerms.vector(of: $0.text) }
        // A forgotten person's identity is not archived again on either end (for what they sent or were sent
        // before they asked): the message stays the other's.
        try await connection.query(
            """
            INSERT INTO chat_directs (recipient_key, ms, seq, sender, recipient, sender_author, recipient_author, kind,
                sent_at, body, terms)
            SELECT k, m, s, f, r,
                CASE WHEN sa = '' OR EXISTS (SELECT 1 FROM chat_forgotten_authors
                    WHERE author = sa AND sent_before > to_timestamp(t / 1000.0)) THEN NULL ELSE sa END,
                CASE WHEN ra = '' OR EXISTS (SELECT 1 FROM chat_forgotten_authors
                    WHERE author = ra AND sent_before > to_timestamp(t / 1000.0)) THEN NULL ELSE ra END,
                kd, to_timestamp(t / 1000.0), b, v::tsvector
            FROM unnest(\(keys)::text[], \(millis)::int8[], \(sequences)::int8[], \(senders)::text[],
                \(recipients)::text[], \(senderAuthors)::text[], \(recipientAuthors)::text[], \(kinds)::int4[],
                \(times)::int8[], \(bodies)::text[], \(vectors)::text[]) AS x(k, m, s, f, r, sa, ra, kd, t, b, v)
            ON CONFLICT (recipient_key, ms, seq) DO NOTHING
            """, logger: logger)
    }

    /// How many messages the archive holds (room messages, deleted ones' tombstones not counted; direct
    /// messages), and the gaps it recorded.
    public func counts() async throws -> (messages: Int, directs: Int, gaps: Int) {
        var result = (messages: 0, directs: 0, gaps: 0)
        let rows = try await client.query(
            """
            SELECT (SELECT count(*) FROM chat_messages WHERE deleted_at IS NULL),
                (SELECT count(*) FROM chat_directs), (SELECT count(*) FROM chat_archive_gaps)
            """, logger: logger)
        for try await (messages, directs, gaps) in rows.decode((Int, Int, Int).self) {
            result = (messages, directs, gaps)
        }
        return result
    }
}

extension ChatArchive {
    /// An error for the log: PostgreSQL's own message and SQLSTATE, or what failed to connect; never the query
    /// (its bound values are people's messages and searches).
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let server = error.serverInfo {
            return "\(server[.message] ?? "error") (SQLSTATE \(server[.sqlState] ?? "?"))"
        }
        return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
    }
}

/// A read of the archive took longer than `ChatArchive.readDeadline`.
public struct ArchiveTimeout: Error, CustomStringConvertible {
    public var description: String { "the archive did not answer in time" }
}

/// Too many reads of the archive are under way on this node: try again in a moment.
public struct ArchiveBusy: Error, CustomStringConvertible {
    public var description: String { "the archive is busy" }
}
