import ChatCore
import PostgresNIO

/// A room's history past what its Redis stream holds: the same messages, read back as history reads them from
/// the stream (the stored entry, with its text as last edited), in the same order.
extension ChatArchive {
    /// The newest `count` messages of `room` before `before` (all of them when nil), oldest first. Deleted
    /// messages are not there; reactions are not archived.
    public func history(room: String, before: StreamID?, count: Int) async throws -> [ChatMessage] {
        guard count > 0 else { return [] }
        let millis = before.map { Int64(clamping: $0.millis) } ?? .max
        let sequence = before.map { Int64(clamping: $0.sequence) } ?? .max
        return try await read { try await self.history(room: room, millis: millis, sequence: sequence, count: count) }
    }

    private func history(room: String, millis: Int64, sequence: Int64, count: Int) async throws -> [ChatMessage] {
        let rows = try await reader.query(
            """
            SELECT ms, seq, entry, body, (extract(epoch FROM edited_at) * 1000)::int8
            FROM chat_messages
            WHERE room = \(room) AND (ms, seq) < (\(millis), \(sequence)) AND deleted_at IS NULL
            ORDER BY ms DESC, seq DESC
            LIMIT \(count)
            """, logger: logger)
        var messages: [ChatMessage] = []
        for try await (millis, sequence, entry, body, edited) in rows.decode(
            (Int64, Int64, String, String, Int64?).self)
        {
            let id = StreamID(millis: UInt64(max(0, millis)), sequence: UInt64(max(0, sequence)))
            if let message = Self.message(entry: entry, id: id, text: body, edited: edited) { messages.append(message) }
        }
        return messages.reversed()
    }

    /// A stored entry as the message history shows: its text as last edited, and when.
    static func message(entry: String, id: StreamID, text: String, edited: Millis?) -> ChatMessage? {
        guard case .message(var message) = RelayCodec.decode(Array(entry.utf8), entryID: id)?.event else { return nil }
        if let edited {
            message.text = text
            var annotations = message.annotations
            annotations.edited = edited
            message.annotations = annotations
        }
        return message
    }
}
