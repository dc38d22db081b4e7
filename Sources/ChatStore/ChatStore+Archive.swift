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

/// The rooms this node published to since it last told the archiver (`ChatKeys.archivePending`): noted on every
/// message and change, sent as one SADD a tick, so a flood costs Redis one command per tick, not one per message.
public final class ArchiveMarks: Sendable {
    private let rooms = NIOLockedValueBox<Set<String>>([])

    public init() {}

    public func note(_ room: RoomName) {
        rooms.withLockedValue { _ = $0.insert(room.value) }
    }

    /// The rooms noted since the last call.
    public func take() -> [String] {
        rooms.withLockedValue { rooms in
            defer { rooms.removeAll(keepingCapacity: true) }
            return Array(rooms)
        }
    }
}
