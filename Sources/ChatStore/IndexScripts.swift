import ChatCore
import RedisClient

/// The scripts over the chat-wide indexes (the rooms' activity and looks, /seen's index) and the counters that
/// limit a client address or a person. Each touches one key, or keys that share a tag, so on a Redis Cluster it
/// runs on one shard.
enum IndexScripts {
    /// The keys and arguments of `admitRoom`, in the order it declares them.
    struct AdmitRoomParameters {
        var activityKey: String
        var looksKey: String
        var now: Millis
        var roomIdleTTL: Int
        /// The room's look (`RoomName.look`).
        var look: String
        var room: String
        var maxRooms: Int
        var checksNewRoom: Bool
    }

    /// Records a room's activity and look, for the room cap and for telling look-alikes apart. With
    /// `checksNewRoom`, the room is new and is admitted only if no room in use looks like it and the cap is not
    /// reached; rooms idle past their expiry (and the renewal interval, since activity is renewed at most that
    /// often) are swept first.
    /// Returns 1, or an error reply (`ChatScripts.chatError`).
    static let admitRoom = NamedScript<AdmitRoomParameters>(
        name: "admitRoom",
        keys: [.init("activityKey", \.activityKey), .init("looksKey", \.looksKey)],
        arguments: [
            .init("now", \.now), .init("roomIdleTTL", \.roomIdleTTL), .init("look", \.look), .init("room", \.room),
            .init("maxRooms", \.maxRooms), .init("checksNewRoom", \.checksNewRoom),
        ],
        body: """
            now = tonumber(now)
            if checksNewRoom == '1' then
                -- Idle past the room's expiry and the renewal interval: a room's activity is renewed at most that
                -- often (`PublishUpkeep`), so one whose history is still there is never swept.
                local idleBefore = now - (tonumber(roomIdleTTL) + \(PublishUpkeep.renewalIntervalSeconds)) * 1000
                for _, gone in ipairs(redis.call('ZRANGEBYSCORE', activityKey, '-inf', idleBefore)) do
                    redis.call('HDEL', looksKey, gone)
                end
                redis.call('ZREMRANGEBYSCORE', activityKey, '-inf', idleBefore)
                local twin = redis.call('HGET', looksKey, look)
                if twin and twin ~= room then
                    return redis.error_reply('CHAT room-invalid #' .. room .. ' looks like #' .. twin .. ', which is in use; join #' .. twin)
                end
                if not twin and redis.call('ZCARD', activityKey) >= tonumber(maxRooms) then
                    return redis.error_reply('CHAT store-full the cluster has as many rooms as it allows; join one that exists')
                end
            end
            -- Never lowered: a registered room's is put ahead for its registration's life (`ChatStore.keepIndexed`).
            redis.call('ZADD', activityKey, 'GT', now, look)
            redis.call('HSET', looksKey, look, room)
            return 1
            """)

    /// Adds a person to /seen's index; past the cap, whoever connected longest ago is forgotten.
    /// KEYS: seen index
    /// ARGV: user key, connected, records at most
    /// Returns the forgotten: user key, connected, for each (their records are deleted by `SessionScripts.forgetSeen`).
    static let noteSeen = RedisScript(
        name: "noteSeen",
        source: """
            redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
            local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
            if extra <= 0 then return {} end
            return redis.call('ZPOPMIN', KEYS[1], extra)
            """)

    /// Counts one more (or, with a negative step, one less) within a window: the counter expires `window` seconds
    /// after its first count. A count past `limit` is refused and not kept.
    /// KEYS: counter
    /// ARGV: step, window seconds, limit ('' = none)
    /// Returns {1, ttl} when counted, {0, ttl} when refused.
    static let count = RedisScript(
        name: "count",
        source: """
            local step = tonumber(ARGV[1])
            local value = redis.call('INCRBY', KEYS[1], step)
            if value <= 0 then
                redis.call('DEL', KEYS[1])
                return {1, 0}
            end
            if step > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
            if step > 0 and ARGV[3] ~= '' and value > tonumber(ARGV[3]) then
                redis.call('DECRBY', KEYS[1], step)
                return {0, math.max(redis.call('TTL', KEYS[1]), 1)}
            end
            return {1, redis.call('TTL', KEYS[1])}
            """)

    /// Counts a room as made within a window, by name: the set expires `window` seconds after its first room. A room
    /// counted already is counted again for free (a thousand clients of one address joining a new room at once, as
    /// in a connect storm, make one room); one past `limit` is refused and not kept. A negative step takes the room
    /// back out (its making was refused).
    /// KEYS: the set of rooms made
    /// ARGV: room, step (1 or -1), window seconds, limit
    /// Returns {counted, added}: {1, 1} when this call added the room, {1, 0} when it was counted already (free),
    /// {0, 0} when refused. Only a call that added a room may take it back: a refused join must not refund a room
    /// another join made.
    static let countRoom = RedisScript(
        name: "countRoom",
        source: """
            if ARGV[2] == '-1' then
                redis.call('SREM', KEYS[1], ARGV[1])
                return {1, 0}
            end
            if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1, 0} end
            if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[4]) then return {0, 0} end
            redis.call('SADD', KEYS[1], ARGV[1])
            if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
            return {1, 1}
            """)

    /// Takes a room that no longer exists (left vacant: no members, no history) out of the room cap's count, if
    /// the look is still that room's.
    /// KEYS: room activity, room looks
    /// ARGV: look, room
    static let forgetRoom = RedisScript(
        name: "forgetRoom",
        source: """
            if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('HDEL', KEYS[2], ARGV[1])
            return 1
            """)

    /// Keeps the larger of two rate debts for an address group: the key lives as long as the larger one.
    /// KEYS: rate debt
    /// ARGV: milliseconds
    static let noteRateDebt = RedisScript(
        name: "noteRateDebt",
        source: """
            if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
            return 1
            """)

    /// Takes a lease (one holder at a time: the archiver) or keeps the one this token holds.
    /// KEYS: lease
    /// ARGV: token, milliseconds
    static let holdLease = RedisScript(
        name: "holdLease",
        source: """
            local holder = redis.call('GET', KEYS[1])
            if holder and holder ~= ARGV[1] then return 0 end
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return 1
            """)

    /// Gives a lease up, when this token holds it.
    /// KEYS: lease
    /// ARGV: token
    static let releaseLease = RedisScript(
        name: "releaseLease",
        source: """
            if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
            return 1
            """)

    /// The archiver's marks of direct logs (`ChatKeys.archivePendingDirects`) are times on this key's own Redis
    /// clock (`TIME`), never a node's: the archiver's two-second wait must not depend on the nodes' clocks
    /// agreeing.
    /// Marks users now. KEYS: the marks. ARGV: users.
    static let markDirects = RedisScript(
        name: "markDirects",
        source: """
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
            for i = 1, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
            return now
            """)

    /// The oldest `count` marks, and the time now. KEYS: the marks. ARGV: count.
    /// Returns {now, user, mark, user, mark...}.
    static let directMarks = RedisScript(
        name: "directMarks",
        source: """
            local time = redis.call('TIME')
            local result = {tostring(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))}
            local marks = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
            for i = 1, #marks do table.insert(result, marks[i]) end
            return result
            """)

    /// Removes the marks that were not renewed since the archiver read them and were made before `settled`.
    /// KEYS: the marks. ARGV: settled, user, mark, user, mark...
    static let removeUnchangedMarks = RedisScript(
        name: "removeUnchangedMarks",
        source: """
            local settled = tonumber(ARGV[1])
            for i = 2, #ARGV, 2 do
                local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
                if score and score == ARGV[i + 1] and tonumber(score) < settled then
                    redis.call('ZREM', KEYS[1], ARGV[i])
                end
            end
            return 1
            """)

    /// Takes `count` off a counter, never below zero, nor making one that has gone. KEYS: the counter.
    static let takeFromCount = RedisScript(
        name: "takeFromCount",
        source: """
            local have = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
            if have <= 0 then return 0 end
            local left = math.max(0, have - tonumber(ARGV[1]))
            if left == 0 then redis.call('DEL', KEYS[1]) else redis.call('DECRBY', KEYS[1], have - left) end
            return left
            """)

    static let all: [RedisScript] = [
        admitRoom.script, noteSeen, count, countRoom, forgetRoom, noteRateDebt, holdLease, releaseLease,
        markDirects, directMarks, removeUnchangedMarks, takeFromCount,
    ]
}
