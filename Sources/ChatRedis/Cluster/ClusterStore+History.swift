import ChatCore
import NIOCore

/// A room's history: its stream, read back in pages (one key, the room's tag).
extension ClusterStore {
    /// The last `count` messages, or those before `before`, oldest first.
    public func history(_ room: RoomName, count: Int, before: StreamID? = nil) -> EventLoopFuture<[ChatMessage]> {
        let end = before.map { "(\($0)" } ?? "+"
        return redis.send("XREVRANGE", ClusterKeys.history(room), end, "-", "COUNT", String(count)).map { reply in
            Self.messages(from: reply).reversed()
        }
    }

    /// Messages after `id` (at most `limit`), oldest first, with who sent each (so a node catching up can still
    /// skip a session's own), and what the stream says it no longer keeps: what a reconnecting client or node
    /// missed, and whether some of it is gone.
    public func page(_ room: RoomName, after id: StreamID, limit: Int) -> EventLoopFuture<StoredPage> {
        let key = ClusterKeys.history(room)
        let entries = redis.send("XRANGE", key, "(\(id)", "+", "COUNT", String(limit)).map(Self.envelopes)
        // A room whose stream does not exist (never written, or expired) answers XINFO with an error: it keeps
        // nothing, and says nothing of what it lost.
        let info = redis.send("XINFO", "STREAM", key).map(Self.streamInfo).recover { _ in StreamInfo() }
        return entries.and(info).map { entries, info in
            StoredPage(envelopes: entries, maxDeleted: info.maxDeleted, keptFrom: info.keptFrom)
        }
    }

    /// From XINFO STREAM (Redis 7): the newest id deleted with XDEL (`max-deleted-entry-id`; trimming does not set
    /// it), and, when trimming removed entries (more were added than are left), the oldest one kept: trimming
    /// removes the oldest first, so everything before it is gone.
    static func streamInfo(_ reply: RedisValue) -> StreamInfo {
        let fields = reply.array ?? []
        var length: Int64 = 0
        var added: Int64 = 0
        var first: StreamID?
        var last: StreamID?
        var info = StreamInfo()
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            let value = fields[index + 1]
            switch fields[index].string {
            case "length": length = value.int ?? 0
            case "entries-added": added = value.int ?? 0
            case "last-generated-id": last = value.string.flatMap(StreamID.init)
            case "max-deleted-entry-id": info.maxDeleted = value.string.flatMap(StreamID.init).flatMap { $0 == .zero ? nil : $0 }
            case "first-entry": first = value.array?.first?.string.flatMap(StreamID.init)
            default: break
            }
        }
        if added > length { info.keptFrom = first ?? last.map { StreamID(millis: $0.millis, sequence: $0.sequence + 1) } }
        return info
    }

    struct StreamInfo: Sendable {
        var maxDeleted: StreamID?
        var keptFrom: StreamID?
    }

    static func messages(from reply: RedisValue) -> [ChatMessage] {
        envelopes(from: reply).compactMap { if case .message(let message) = $0.event { message } else { nil } }
    }

    static func envelopes(from reply: RedisValue) -> [RelayEnvelope] {
        (reply.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let fields = parts[1].array, fields.count >= 2,
                case .bulk(let payload) = fields[1]
            else { return nil }
            return RelayCodec.decode(payload, entryID: parts[0].string.flatMap(StreamID.init))
        }
    }
}
