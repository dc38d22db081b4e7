import ChatCore
import NIOCore
import RedisClient

/// A room's history: its stream, read back in pages (one key, the room's tag).
extension ChatStore {
    /// The last `count` messages, or those before `before`, oldest first. With `bytes`, read in chunks and only
    /// until the messages read cost more than that (`HistoryPaging.cost`): a page holds no more, so a page of
    /// 2 KB messages reads about 60 of them, not `count`.
    public func history(
        _ room: RoomName, count: Int, before: StreamID? = nil, bytes: Int = .max
    )
        -> EventLoopFuture<[ChatMessage]>
    {
        historyPage(room, count: count, before: before, bytes: bytes).map(\.messages)
    }

    /// As `history`, and whether the read reached the start of the stream (nothing older is in Redis): where a
    /// node with an archive reads on in it.
    public func historyPage(
        _ room: RoomName, count: Int, before: StreamID? = nil, bytes: Int = .max
    )
        -> EventLoopFuture<(messages: [ChatMessage], reachedStart: Bool)>
    {
        readChunks(
            ChatKeys.history(room), changes: ChatKeys.changes(room), from: before.map { "(\($0)" } ?? "+",
            backward: true, count: count, bytes: bytes
        )
        .map { entries, ended in
            (entries.compactMap { if case .message(let message) = $0.event { message } else { nil } }.reversed(), ended)
        }
    }

    /// Messages after `id` (at most `limit`; with `bytes`, only until they cost more than that, as `history`
    /// reads), oldest first, with who sent each (so a node catching up can still skip a session's own), and what
    /// the stream says it no longer keeps: what a reconnecting client or node missed, and whether some of it is
    /// gone.
    public func page(_ room: RoomName, after id: StreamID, limit: Int, bytes: Int = .max) -> EventLoopFuture<StoredPage>
    {
        let key = ChatKeys.history(room)
        let entries = readChunks(
            key, changes: ChatKeys.changes(room), from: "(\(id)", backward: false, count: limit, bytes: bytes
        ).map(\.envelopes)
        // A room whose stream does not exist (never written, or expired) answers XINFO with an error: it keeps
        // nothing, and says nothing of what it lost. What the chat deleted itself (messages people deleted, and
        // their edits) is not lost: its count and newest id are kept beside, and taken out of XINFO's figures.
        let deletions = redis.send("HMGET", ChatKeys.changes(room), "_ndel", "_maxdel", "_added").map {
            reply -> ChatDeletions in
            let fields = (reply.array ?? []).map { $0.string }
            return ChatDeletions(
                count: fields.first.flatMap { $0.flatMap { Int64($0) } } ?? 0,
                newest: fields.count > 1 ? fields[1].flatMap(StreamID.init) : nil,
                addedThen: fields.count > 2 ? fields[2].flatMap { Int64($0) } ?? 0 : 0)
        }.recover { _ in ChatDeletions(count: 0, newest: nil, addedThen: 0) }
        let info = redis.send("XINFO", "STREAM", key).and(deletions).map { (reply, deletions) -> StreamInfo in
            Self.streamInfo(reply, deletions: deletions)
        }.recover { _ in StreamInfo() }
        return entries.and(info).map { entries, info in
            StoredPage(envelopes: entries, maxDeleted: info.maxDeleted, keptFrom: info.keptFrom, after: id)
        }
    }

    /// The id of the newest entry in the room's stream (zero when it has none): where a node's catch-up after a
    /// dropped subscription starts when nothing came live on it yet.
    public func newestID(in room: RoomName) -> EventLoopFuture<StreamID> {
        redis.send("XREVRANGE", ChatKeys.history(room), "+", "-", "COUNT", "1").map { reply in
            reply.array?.first?.array?.first?.string.flatMap(StreamID.init) ?? .zero
        }
    }

    /// Reads a stream from `start` (XRANGE forward, XREVRANGE backward) until `count` messages or `bytes` of
    /// messages are read, or it ends; the changes between them (`MessageScripts`) come along, counting for neither,
    /// so a page of `count` messages is one whatever was done to them meanwhile. The first chunk is a guess (50);
    /// the next ones are sized from what the messages so far cost, so small messages take one or two reads and
    /// large ones no more than a page's worth. `ended`: the read reached the end of the stream it read towards.
    private func readChunks(
        _ key: String, changes: String, from start: String, backward: Bool, count: Int, bytes: Int,
        read: [RelayEnvelope] = [], messages: Int = 0, cost: Int = 0
    ) -> EventLoopFuture<(envelopes: [RelayEnvelope], ended: Bool)> {
        let remaining = count - messages
        guard remaining > 0 else { return eventLoop.makeSucceededFuture((read, false)) }
        let average = messages == 0 ? 0 : max(1, cost / messages)
        let wanted =
            bytes == .max || average == 0
            ? min(remaining, bytes == .max ? remaining : 50) : (bytes - cost) / average + 2
        // Where changes outnumber the messages read so far (a reaction flood between them), at least 50 entries a
        // read: a few reads, never one round trip per entry. The stream is capped, so a page never reads more than
        // the room's history holds; an ordinary page reads what it needs.
        let sparse = read.count > 2 * messages
        let chunk = max(sparse ? 50 : 1, min(remaining, wanted))
        return redis.run(
            MessageScripts.readEntries, keys: [key, changes], arguments: [start, String(chunk), backward ? "1" : "0"]
        ).flatMap { reply in
            let parts = reply.array ?? []
            let entries = parts.first?.array ?? []
            let envelopes = Self.annotated(
                Self.envelopes(from: parts.first ?? .array([])), notes: parts.count > 1 ? parts[1] : .array([]))
            let all = read + envelopes
            var spent = cost
            var counted = messages
            for envelope in envelopes {
                guard case .message(let message) = envelope.event else { continue }
                spent += HistoryPaging.cost(of: message)
                counted += 1
            }
            guard entries.count == chunk, spent <= bytes,
                let last = entries.last?.array?.first?.string
            else { return eventLoop.makeSucceededFuture((all, entries.count < chunk)) }
            return readChunks(
                key, changes: changes, from: "(\(last)", backward: backward, count: count, bytes: bytes, read: all,
                messages: counted, cost: spent)
        }
    }

    /// From XINFO STREAM (Redis 7): the newest id deleted with XDEL (`max-deleted-entry-id`; trimming does not set
    /// it), and, when trimming removed entries (more were added than are left), the oldest one kept: trimming
    /// removes the oldest first, so everything before it is gone.
    static func streamInfo(_ reply: RedisValue, deletions: ChatDeletions = ChatDeletions()) -> StreamInfo {
        let fields = reply.array ?? []
        var length: Int64 = 0
        var added: Int64 = 0
        var first: StreamID?
        var last: StreamID?
        var maxDeleted: StreamID?
        var info = StreamInfo()
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            let value = fields[index + 1]
            switch fields[index].string {
            case "length": length = value.int ?? 0
            case "entries-added": added = value.int ?? 0
            case "last-generated-id": last = value.string.flatMap(StreamID.init)
            case "max-deleted-entry-id":
                maxDeleted = value.string.flatMap(StreamID.init).flatMap { $0 == .zero ? nil : $0 }
            case "first-entry": first = value.array?.first?.string.flatMap(StreamID.init)
            default: break
            }
        }
        // What the chat deleted counts only for the stream it deleted from: one made again since (its count of
        // entries added started over) owes it nothing.
        let chat = added >= deletions.addedThen ? deletions : ChatDeletions()
        info.maxDeleted = maxDeleted == chat.newest ? nil : maxDeleted
        if added - chat.count > length {
            info.keptFrom = first ?? last.map { StreamID(millis: $0.millis, sequence: $0.sequence + 1) }
        }
        return info
    }

    /// What the chat itself deleted from a room's stream (see `ChatKeys.changes`), and the stream's count of entries
    /// added at the last of those deletes.
    struct ChatDeletions: Sendable {
        var count: Int64 = 0
        var newest: StreamID?
        var addedThen: Int64 = 0
    }

    struct StreamInfo: Sendable {
        var maxDeleted: StreamID?
        var keptFrom: StreamID?
    }

    /// The messages with what the history script noted of each (`MessageScripts.readEntries`): their text as
    /// edited, their reactions, the message a reply answers.
    static func annotated(_ envelopes: [RelayEnvelope], notes: RedisValue) -> [RelayEnvelope] {
        guard let notes = notes.array, !notes.isEmpty else { return envelopes }
        var byID: [StreamID: [RedisValue]] = [:]
        for note in notes {
            guard let fields = note.array, fields.count == 7, let id = fields[0].string.flatMap(StreamID.init) else {
                continue
            }
            byID[id] = fields
        }
        return envelopes.map { envelope in
            guard case .message(var message) = envelope.event, let fields = byID[message.id] else { return envelope }
            var annotations = message.annotations
            if let text = fields[1].string, !text.isEmpty {
                message.text = text
                annotations.edited = fields[2].int
            }
            var flat = (fields[3].array ?? [])[...]
            while let emoji = flat.popFirst()?.string, let count = flat.popFirst()?.int, count >= 0,
                count <= flat.count
            {
                annotations.reactions.append(
                    Reaction(emoji: emoji, names: flat.prefix(Int(count)).compactMap(\.string)))
                flat = flat.dropFirst(Int(count))
            }
            if let answered = fields[4].string.flatMap(StreamID.init) {
                let from = fields[5].string ?? ""
                annotations.replyTo = MessageReference(
                    id: answered, from: from.isEmpty ? nil : from, snippet: from.isEmpty ? nil : fields[6].string)
            }
            message.annotations = annotations
            return RelayEnvelope(event: .message(message), origin: envelope.origin)
        }
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
