import ChatCore
import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// What the archiver (ChatNode's `Archiver`) reads from Redis: which rooms have messages it has not archived yet,
/// their streams' entries as stored, and who archives (one node at a time, by a lease). docs/architecture.md,
/// "The archive", says why the rooms' streams are the archive's source and how nothing is lost between them.
extension ChatStore {
    /// Entries of a room's stream after `cursor` (at most `count`), as stored, and where the stream now starts
    /// when trimming removed entries after the cursor: what the archive can no longer get (a gap).
    public func archivePage(_ room: RoomName, after cursor: StreamID, count: Int) -> EventLoopFuture<ArchivePage> {
        let key = ChatKeys.history(room)
        let entries = redis.send("XRANGE", key, "(\(cursor)", "+", "COUNT", String(count))
        let deletions = redis.send("HMGET", ChatKeys.changes(room), "_ndel", "_maxdel", "_added")
        let info = redis.send("XINFO", "STREAM", key).map { Optional($0) }.recover { _ in nil }
        return entries.and(deletions).and(info).map { pair, info in
            let (entries, deletions) = pair
            var page = ArchivePage()
            for entry in entries.array ?? [] {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].string.flatMap(StreamID.init) else {
                    continue
                }
                let fields = parts[1].array ?? []
                guard fields.count >= 2, case .bulk(let payload) = fields[1] else { continue }
                page.entries.append(ArchivePage.Entry(id: id, payload: payload))
            }
            if let info {
                let fields = (deletions.array ?? []).map { $0.string }
                let chat = ChatDeletions(
                    count: fields.first.flatMap { $0.flatMap { Int64($0) } } ?? 0,
                    newest: fields.count > 1 ? fields[1].flatMap(StreamID.init) : nil,
                    addedThen: fields.count > 2 ? fields[2].flatMap { Int64($0) } ?? 0 : 0)
                // Trimmed past the cursor: the entries between it and where the stream now starts are gone (for a
                // room never archived, whatever it trimmed before the archive first read it).
                if let keptFrom = Self.streamInfo(info, deletions: chat).keptFrom,
                    StreamID(millis: cursor.millis, sequence: cursor.sequence + 1) < keptFrom
                {
                    page.lostBefore = keptFrom
                }
            }
            return page
        }
    }

    /// Entries of a user's direct log (`ChatKeys.directLog`) after `cursor` (at most `count`), as `archivePage`
    /// reads a room's: the message's payload, and the sender's and recipient's identities; how many messages the
    /// log could not take (it was full): lost to the archive; and whether entries after the cursor were trimmed
    /// (only the archiver trims a log, after it archived them: an archive that lost its last commits, or was
    /// restored, is behind what it trimmed).
    public func directArchivePage(
        to user: String, after cursor: StreamID, count: Int
    ) -> EventLoopFuture<DirectArchivePage> {
        let key = ChatKeys.directLog(user)
        let entries = redis.send("XRANGE", key, "(\(cursor)", "+", "COUNT", String(count))
        let lost = redis.send("GET", ChatKeys.directLogLost(user))
        let info = redis.send("XINFO", "STREAM", key).map { Optional($0) }.recover { _ in nil }
        return entries.and(lost).and(info).map { pair, info in
            let (entries, lost) = pair
            var page = DirectArchivePage()
            for entry in entries.array ?? [] {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].string.flatMap(StreamID.init),
                    let fields = parts[1].array
                else { continue }
                var values: [String: [UInt8]] = [:]
                for index in stride(from: 0, to: fields.count - 1, by: 2) {
                    if let name = fields[index].string, case .bulk(let value) = fields[index + 1] {
                        values[name] = value
                    }
                }
                guard let payload = values["p"] else { continue }
                page.entries.append(
                    DirectArchivePage.Entry(
                        id: id, payload: payload,
                        senderAuthor: values["sa"].map { String(decoding: $0, as: UTF8.self) },
                        recipientIdentity: values["ri"].map { String(decoding: $0, as: UTF8.self) } ?? ""))
            }
            page.lost = lost.string.flatMap { Int($0) } ?? 0
            let fields = info?.array ?? []
            for index in stride(from: 0, to: fields.count - 1, by: 2)
            where fields[index].string == "max-deleted-entry-id" {
                if let trimmed = fields[index + 1].string.flatMap(StreamID.init), cursor < trimmed {
                    page.trimmedPast = trimmed
                }
            }
            return page
        }
    }

    /// Up to `count` users marked as having direct messages to archive, oldest marks first, each with its mark as
    /// Redis wrote it, and the time now on the marks' clock (`IndexScripts.directMarks`).
    public func directArchiveMarks(count: Int) -> EventLoopFuture<(now: Int64, marks: [(user: String, mark: String)])> {
        redis.run(IndexScripts.directMarks, keys: [ChatKeys.archivePendingDirects], arguments: [String(count)]).map {
            reply in
            let values = reply.array ?? []
            let now = values.first?.string.flatMap { Int64($0) } ?? 0
            var marks: [(user: String, mark: String)] = []
            for index in stride(from: 1, to: values.count - 1, by: 2) {
                if let user = values[index].string, let mark = values[index + 1].string { marks.append((user, mark)) }
            }
            return (now, marks)
        }
    }

    /// Marks users as having direct messages to archive.
    public func markDirectsForArchive(_ users: [String]) -> EventLoopFuture<Void> {
        guard !users.isEmpty else { return eventLoop.makeSucceededFuture(()) }
        return redis.run(IndexScripts.markDirects, keys: [ChatKeys.archivePendingDirects], arguments: users)
            .map { _ in }
    }

    /// After the archive committed what was read of users' direct logs: each log loses what the archive has (up
    /// to `through`), its lost count what was recorded as a gap, and each mark given goes unless it was renewed
    /// since it was read or was made after `settled` (a mark that young may announce a message not logged yet).
    public func settleDirectArchive(
        _ users: [(user: String, mark: String?, through: StreamID?, lostRecorded: Int)], settled: Int64
    ) -> EventLoopFuture<Void> {
        var futures: [EventLoopFuture<Void>] = []
        for entry in users {
            if let through = entry.through, through != .zero {
                let above = "\(through.millis)-\(through.sequence &+ 1)"
                futures.append(redis.send("XTRIM", ChatKeys.directLog(entry.user), "MINID", above).map { _ in })
            }
            if entry.lostRecorded > 0 {
                futures.append(
                    redis.run(
                        IndexScripts.takeFromCount, keys: [ChatKeys.directLogLost(entry.user)],
                        arguments: [String(entry.lostRecorded)]
                    ).map { _ in })
            }
        }
        let settling = users.compactMap { entry in entry.mark.map { [entry.user, $0] } }.flatMap { $0 }
        if !settling.isEmpty {
            futures.append(
                redis.run(
                    IndexScripts.removeUnchangedMarks, keys: [ChatKeys.archivePendingDirects],
                    arguments: [String(settled)] + settling
                ).map { _ in })
        }
        return EventLoopFuture.andAllSucceed(futures, on: eventLoop)
    }

    /// Takes up to `count` rooms marked as having messages to archive (`ChatKeys.archivePending`); a room marked
    /// again meanwhile is taken again next time.
    public func takeArchiveMarks(count: Int) -> EventLoopFuture<[RoomName]> {
        redis.send("SPOP", ChatKeys.archivePending, String(count)).map { reply in
            (reply.array ?? []).compactMap { $0.string.map(RoomName.init(trusted:)) }
        }
    }

    /// Marks rooms as having messages to archive.
    public func markForArchive(_ rooms: [String]) -> EventLoopFuture<Void> {
        guard !rooms.isEmpty else { return eventLoop.makeSucceededFuture(()) }
        return redis.send(RedisCommand(["SADD", ChatKeys.archivePending] + rooms)).map { _ in }
    }

    /// Every room with members or unexpired history (the room cap's index), `count` at a time from `offset`: what
    /// the archiver sweeps, for marks that were never made (a node killed between a message and its mark).
    public func archiveSweep(offset: Int, count: Int) -> EventLoopFuture<[RoomName]> {
        redis.send("ZRANGE", ChatKeys.roomActivity, String(offset), String(offset + count - 1)).flatMap { looks in
            let skeletons = (looks.array ?? []).compactMap(\.string)
            guard !skeletons.isEmpty else { return self.eventLoop.makeSucceededFuture([]) }
            return self.redis.send(RedisCommand(["HMGET", ChatKeys.roomLooks] + skeletons)).map { reply in
                (reply.array ?? []).compactMap { $0.string.map(RoomName.init(trusted:)) }
            }
        }
    }

    /// Takes or keeps the archiver's lease for `milliseconds`: true while this `token` holds it.
    public func holdArchiverLease(token: String, milliseconds: Int) -> EventLoopFuture<Bool> {
        redis.run(IndexScripts.holdLease, keys: [ChatKeys.archiverLease], arguments: [token, String(milliseconds)])
            .map { $0.int == 1 }
    }

    /// Gives the lease up at once (a node shutting down), when `token` holds it.
    public func releaseArchiverLease(token: String) -> EventLoopFuture<Void> {
        redis.run(IndexScripts.releaseLease, keys: [ChatKeys.archiverLease], arguments: [token]).map { _ in }
    }
}

/// A room's stream entries after a cursor, as the archiver reads them.
public struct ArchivePage: Sendable {
    public struct Entry: Sendable {
        public var id: StreamID
        /// The entry's payload (`RelayCodec`), as the publish and change scripts stored it.
        public var payload: [UInt8]
    }

    public var entries: [Entry] = []
    /// Set when the stream was trimmed past the cursor: it now starts here, and what lay between is lost.
    public var lostBefore: StreamID?
}

/// A user's direct log entries after a cursor, as the archiver reads them.
public struct DirectArchivePage: Sendable {
    public struct Entry: Sendable {
        public var id: StreamID
        /// The message (`RelayCodec`'s `direct`), as the direct script logged it.
        public var payload: [UInt8]
        /// The sender's `SessionGrant.author`.
        public var senderAuthor: String?
        /// What the recipient's `SessionGrant.author` is made from (`IdentityScripts.direct`).
        public var recipientIdentity: String
    }

    public var entries: [Entry] = []
    /// Messages the log could not take (`ChatKeys.directLogLost`).
    public var lost = 0
    /// Set when entries after the cursor were trimmed away: the archive is behind what it had archived.
    public var trimmedPast: StreamID?
}

/// The rooms this node published to, and the users it sent direct messages to, since it last told the archiver
/// (`ChatKeys.archivePending`, `ChatKeys.archivePendingDirects`): noted on every message and change, sent as one
/// SADD a tick, so a flood costs Redis one command per tick, not one per message.
public final class ArchiveMarks: Sendable {
    private let noted = NIOLockedValueBox<(rooms: Set<String>, users: Set<String>)>(([], []))

    public init() {}

    public func note(_ room: RoomName) {
        noted.withLockedValue { _ = $0.rooms.insert(room.value) }
    }

    public func noteDirect(to user: String) {
        noted.withLockedValue { _ = $0.users.insert(user) }
    }

    /// The rooms and users noted since the last call.
    public func take() -> (rooms: [String], users: [String]) {
        noted.withLockedValue { noted in
            defer {
                noted.rooms.removeAll(keepingCapacity: true)
                noted.users.removeAll(keepingCapacity: true)
            }
            return (Array(noted.rooms), Array(noted.users))
        }
    }
}
