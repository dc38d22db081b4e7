import Logging
import PostgresNIO

/// The archive's tables, as numbered migrations: each runs once, in order, in its own transaction, and is recorded
/// in `chat_schema`. Every node runs them at start under an advisory lock, so several nodes starting at once
/// migrate once; a node finding a newer schema than it knows says so and archives nothing (an older release must
/// not write into tables it does not understand). A migration, once released, is never edited: a change is a
/// new one.
enum ArchiveSchema {
    struct Migration {
        var version: Int
        var description: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, description: "room messages, the archiver's cursors and the gaps it could not fill",
            statements: [
                // One row per room message (a say, an action, a notice), keyed by its room and its id in the
                // room's stream, which is also its order. `entry` is the stream entry as stored (RelayCodec), what
                // history reads back; `body` and `terms` are its text as it stands now (edits applied) and what
                // search finds it by (`SearchTerms`); `edit_ms`/`edit_seq` the id of the edit applied last, so an
                // edit archived twice or late never undoes a later one. A deleted message keeps its row, emptied,
                // as a tombstone: a late copy of it from a second archiver cannot bring it back.
                """
                CREATE TABLE chat_messages (
                    room text NOT NULL,
                    ms bigint NOT NULL,
                    seq bigint NOT NULL,
                    sender text NOT NULL,
                    author text,
                    kind smallint NOT NULL,
                    sent_at timestamptz NOT NULL,
                    body text NOT NULL,
                    entry text NOT NULL,
                    terms tsvector NOT NULL,
                    edit_ms bigint NOT NULL DEFAULT 0,
                    edit_seq bigint NOT NULL DEFAULT 0,
                    edited_at timestamptz,
                    deleted_at timestamptz,
                    PRIMARY KEY (room, ms, seq)
                )
                """,
                "CREATE INDEX chat_messages_terms ON chat_messages USING gin (terms)",
                "CREATE INDEX chat_messages_sent_at ON chat_messages (sent_at)",
                "CREATE INDEX chat_messages_author ON chat_messages (author) WHERE author IS NOT NULL",
                // Where the archiver is in each room's stream: everything up to here is archived.
                """
                CREATE TABLE chat_archive_cursors (
                    stream text PRIMARY KEY,
                    ms bigint NOT NULL,
                    seq bigint NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // What the archiver found trimmed from a stream before it read it: lost to the archive.
                """
                CREATE TABLE chat_archive_gaps (
                    stream text NOT NULL,
                    after_id text NOT NULL,
                    resumed_at_id text NOT NULL,
                    noticed_at timestamptz NOT NULL DEFAULT now()
                )
                """,
            ]),
        Migration(
            version: 2, description: "direct messages, and the people who had theirs removed",
            statements: [
                // One row per direct message, keyed by whom it was sent to and its id in their direct log
                // (`ChatKeys.directLog`). Whose it is goes by identity (`SessionGrant.author`), never by name: a
                // guest's name is anybody's tomorrow, and a registered name made again is another account.
                """
                CREATE TABLE chat_directs (
                    recipient_key text NOT NULL,
                    ms bigint NOT NULL,
                    seq bigint NOT NULL,
                    sender text NOT NULL,
                    recipient text NOT NULL,
                    sender_author text,
                    recipient_author text,
                    kind smallint NOT NULL,
                    sent_at timestamptz NOT NULL,
                    body text NOT NULL,
                    terms tsvector NOT NULL,
                    PRIMARY KEY (recipient_key, ms, seq)
                )
                """,
                "CREATE INDEX chat_directs_terms ON chat_directs USING gin (terms)",
                "CREATE INDEX chat_directs_sent_at ON chat_directs (sent_at)",
                "CREATE INDEX chat_directs_sender_author ON chat_directs (sender_author)",
                "CREATE INDEX chat_directs_recipient_author ON chat_directs (recipient_author)",
                // Who asked for their messages to be removed, and up to when: what the archiver reads later from
                // the streams (sent before that) is not archived again; what they send after is.
                """
                CREATE TABLE chat_forgotten_authors (
                    author text PRIMARY KEY,
                    sent_before timestamptz NOT NULL
                )
                """,
                // A full direct log counts what it did not take: the gap says how many.
                "ALTER TABLE chat_archive_gaps ADD COLUMN lost bigint",
            ]),
    ]

    static var newest: Int { migrations.last?.version ?? 0 }

    /// Brings the schema up to `newest`; returns the version it is at. Throws `SchemaTooNew` when another release
    /// already took it further.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> Int {
        try await client.withConnection { connection in
            // Any number that is this schema's: nodes starting together queue here, and the first migrates.
            try await connection.query("SELECT pg_advisory_lock(7283517)", logger: logger)
            do {
                let version = try await migrate(connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(7283517)", logger: logger)
                return version
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(7283517)", logger: logger)
                throw error
            }
        }
    }

    private static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS chat_schema (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var current = 0
        for try await version in try await connection.query(
            "SELECT coalesce(max(version), 0) FROM chat_schema", logger: logger
        ).decode(Int.self) {
            current = version
        }
        guard current <= newest else { throw SchemaTooNew(found: current, known: newest) }
        for migration in migrations where migration.version > current {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO chat_schema (version, description) VALUES (\(migration.version), \(migration.description))",
                    logger: logger)
            }
            logger.info(
                "archive schema migrated",
                metadata: ["archive.schema": "\(migration.version)", "archive.migration": "\(migration.description)"])
            current = migration.version
        }
        return current
    }
}

/// The archive's schema is newer than this release knows: it was migrated by a later one.
public struct SchemaTooNew: Error, CustomStringConvertible {
    public var found: Int
    public var known: Int
    public var description: String {
        "the archive's schema is at version \(found), this release knows up to \(known): run a release at least as new"
    }
}
