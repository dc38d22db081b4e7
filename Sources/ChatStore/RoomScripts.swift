import ChatCore
import RedisClient

// One file because these scripts are one room's schema: the members hash, the history stream, the topic and the
// room's channel share the room's hash tag, and every notice a room gets (join, leave, presence, typing) is
// published by one of them only while the room is not quiet.

/// The scripts that touch one room: every key they are given is the room's (`{room}`), and the channel they
/// publish to is the room's shard channel, so on a Redis Cluster each runs on the shard owning the room. Work
/// that also concerns a person or an index (the session's rooms, the room list, the room cap) is done by the
/// store around them (`ChatStore`), in an order that keeps them consistent (docs/redis-cluster.md).
enum RoomScripts {
    /// Makes a session a member (user key -> the session's claim token, which starts with its incarnation), and
    /// announces it unless it already was one (a resumed
    /// session rejoining a room it never left is not news) or the room is quiet. A room with neither members nor
    /// history is new: it is joined only once the node has admitted it (room cap, look-alikes, creation rates:
    /// `ChatStore.admit`), else the answer is 0 and nothing changes. The lobby is always there. A room made
    /// again starts without the topic an emptied room may have left.
    /// KEYS: members, history, topic
    /// ARGV: user, session token, room, room idle ttl, notice, '1' when admitted as a new room, channel
    /// Returns 1 when joined, 0 when the room is new and not admitted.
    static let join = RedisScript(
        name: "join",
        source: """
            if ARGV[3] ~= 'lobby' and redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
                if ARGV[6] ~= '1' then return 0 end
                redis.call('DEL', KEYS[3])
            end
            redis.call('EXPIRE', KEYS[3], ARGV[4])
            if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 and redis.call('HLEN', KEYS[1]) <= \(ChatStore.quietRoomSize) then
                redis.call('SPUBLISH', ARGV[7], ARGV[5])
            end
            return 1
            """)

    /// Ends a membership, if the given session (its claim token) still holds it: a late or repeated leave never
    /// announces a second departure, nor removes the membership of a newer session of the same person, even one on
    /// the same node. A notice unless the room is quiet.
    /// KEYS: members, history, topic
    /// ARGV: user, session token, channel, notice, room (the lobby, always there, keeps its topic)
    /// Returns how many members are left, -1 when that session was not a member, or -2 when it left the room
    /// vacant: no members and no history, so the room no longer exists (a join would make it anew, without the
    /// topic, which goes now: a room made, given a topic and left must not keep a key the room cap no longer
    /// counts).
    static let leave = RedisScript(
        name: "leave",
        source: """
            if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return -1 end
            redis.call('HDEL', KEYS[1], ARGV[1])
            local left = redis.call('HLEN', KEYS[1])
            if left <= \(ChatStore.quietRoomSize) then redis.call('SPUBLISH', ARGV[3], ARGV[4]) end
            if left == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
                if ARGV[5] ~= 'lobby' then redis.call('DEL', KEYS[3]) end
                return -2
            end
            return left
            """)

    /// Sets a member's session token when it is `expected` (a session taken over keeps its rooms), or, with
    /// `expected` '*', when the member is missing or already this session's (a restore puts back memberships Redis
    /// lost, never one another session holds now).
    /// KEYS: members
    /// ARGV: user, expected token ('*': none or the same), token
    static let setMember = RedisScript(
        name: "setMember",
        source: """
            local current = redis.call('HGET', KEYS[1], ARGV[1])
            if ARGV[2] == '*' then
                if current and current ~= ARGV[3] then return 0 end
            elseif current ~= ARGV[2] then
                return 0
            end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
            return 1
            """)

    /// A notice that is published only where joins are announced (typing, away changes): in a quiet room it would
    /// cost as much as a join notice.
    /// KEYS: members
    /// ARGV: channel, payload
    static let announce = RedisScript(
        name: "announce",
        source: """
            if redis.call('HLEN', KEYS[1]) > \(ChatStore.quietRoomSize) then return 0 end
            return redis.call('SPUBLISH', ARGV[1], ARGV[2])
            """)

    /// Stores a message in the room's history and publishes it, in one atomic step, so history order is live
    /// order. XADD's `*` picks the id (Redis's clock, above the stream's last id even after a hand-made XDEL); the
    /// channel gets the payload framed with it (`<id> <json>`, see `RelayCodec`), the stream keeps the JSON under
    /// that id, and a history read frames it with the entry's id: both decode to the same message.
    /// This runs once per message, so it does the least a message needs (one room's flood costs Redis about 4 µs
    /// here against 9 µs when it also renewed everything, see docs/benchmarks.md). The history's expiry is renewed
    /// every time (XADD alone would leave a new stream without one); the topic's only when the node renews the
    /// room (`PublishUpkeep`), which it does at most every few seconds, along with the room's activity (an index,
    /// elsewhere on a cluster, so sent beside this script).
    /// KEYS: history, topic (its expiry follows the history's)
    /// ARGV: channel, message body (JSON without id), maxlen, room idle ttl, '1' to renew the topic (else '')
    /// Returns the stream id.
    static let publishMessage = RedisScript(
        name: "publishMessage",
        source: """
            local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'p', ARGV[2])
            redis.call('SPUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
            redis.call('EXPIRE', KEYS[1], ARGV[4])
            if ARGV[5] == '1' then
                -- The topic outlives the history by the renewal interval, so it cannot go first when the last
                -- renewal came up to that much before the last message.
                redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]) + \(PublishUpkeep.renewalIntervalSeconds))
            end
            return id
            """)

    /// Stores the topic (an empty text deletes it) and tells the room, whatever its size: unlike joins and leaves,
    /// a topic is news to everyone in it.
    /// KEYS: topic
    /// ARGV: text ('' clears), by, time, room idle ttl, channel, notice payload
    static let setTopic = RedisScript(
        name: "setTopic",
        source: """
            if ARGV[1] == '' then
                redis.call('DEL', KEYS[1])
            else
                redis.call('HSET', KEYS[1], 'text', ARGV[1], 'by', ARGV[2], 'time', ARGV[3])
                redis.call('EXPIRE', KEYS[1], ARGV[4])
            end
            redis.call('SPUBLISH', ARGV[5], ARGV[6])
            return 1
            """)

    static let all: [RedisScript] = [join, leave, setMember, announce, publishMessage, setTopic]
}
