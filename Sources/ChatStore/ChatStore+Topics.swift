import ChatCore
import NIOCore
import RedisClient

/// Room topics: one hash per room beside its history, in the same hash slot (`{room}`), set and announced in one
/// script so the stored topic and what the room was told never differ.
extension ChatStore {
    public func topic(_ room: RoomName) -> EventLoopFuture<RoomTopic?> {
        redis.send("HMGET", ChatKeys.topic(room), "text", "by", "time").map { reply in
            let fields = (reply.array ?? []).map(\.string)
            guard fields.count == 3, let text = fields[0], !text.isEmpty, let by = fields[1] else { return nil }
            return RoomTopic(text: text, by: by, time: fields[2].flatMap { Millis($0) } ?? 0)
        }
    }

    /// Stores the topic (an empty text deletes it) and tells the room, whatever its size: unlike joins and leaves,
    /// a topic is news to everyone in it.
    /// A locked topic (`+t`) is refused unless `user` is an operator of the room (`not-operator`).
    public func setTopic(_ topic: RoomTopic, in room: RoomName, user: UserName, origin: String) -> EventLoopFuture<Void>
    {
        let notice = RelayCodec.encode(RelayEnvelope(event: .topicChanged(room: room, topic), origin: origin))
        return redis.run(
            RoomScripts.setTopic,
            .init(
                topicKey: ChatKeys.topic(room), rolesKey: ChatKeys.roles(room), rulesKey: ChatKeys.rules(room),
                user: user.key, text: topic.text, by: topic.by, time: topic.time, roomIdleTTL: bounds.roomIdleSeconds,
                channel: ChatKeys.roomChannel(room), notice: notice)
        ).map { _ in }
    }
}
