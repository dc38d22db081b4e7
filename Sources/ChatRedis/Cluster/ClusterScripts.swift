import ChatCore

// One file because the scripts are one schema: they build each other's key names, publish the same leave notice,
// and must agree on the quiet-room size and the session, member and claim layouts documented in ClusterKeys and
// docs/architecture.md. Reading them side by side is how a change to one is checked against the others.

/// The Lua scripts. Each runs atomically in Redis, which is what makes the claims safe (compare the token, then
/// act) and history ordered (append and publish in one step). Key names follow `ClusterKeys`; the scripts that walk
/// a user's rooms or a dead incarnation's users build key names themselves, which standalone Redis allows (and Redis
/// Cluster would not: see docs/architecture.md).
enum ClusterScripts {
    /// Rooms with more people than this are quiet: joins, leaves and away changes are not announced in them
    /// (`who` still lists everyone). Nobody reads hundreds of join lines a second, and announcing every join
    /// to everyone costs O(people²): it was what limited a storm of logins into one lobby (docs/benchmarks.md).
    /// Slack hides join messages in large channels and ircu's +D delays them, for the same reason.
    static let quietRoomSize = 200

    /// Keeps a session alive, or puts it back after Redis lost it (restart, failover), as the node that holds it
    /// sees it. A refresh (ARGV[9] = '0') fails when the claim is gone or somebody else's; a restore ('1') re-takes
    /// a claim that is gone, never one that another token holds.
    /// KEYS: claim, session, sessionRooms, incarnationUsers
    /// ARGV: token, name, incarnation, node, since, active, away ('' = none), claim ttl, restore, address,
    ///       session ttl, room...
    /// Returns 1 when the session is alive, 0 when the name is lost.
    static let keepAlive = RedisScript(
        name: "keepAlive",
        source: """
            local holder = redis.call('GET', KEYS[1])
            if holder ~= ARGV[1] then
                if holder or ARGV[9] ~= '1' then return 0 end
                redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[8])
            else
                redis.call('EXPIRE', KEYS[1], ARGV[8])
            end
            local user = string.sub(KEYS[1], 11)
            redis.call('HSET', KEYS[2], 'name', ARGV[2], 'inc', ARGV[3], 'node', ARGV[4], 'since', ARGV[5],
                'active', ARGV[6], 'addr', ARGV[10], 'tok', ARGV[1])
            if ARGV[7] == '' then redis.call('HDEL', KEYS[2], 'away') else redis.call('HSET', KEYS[2], 'away', ARGV[7]) end
            redis.call('EXPIRE', KEYS[2], ARGV[11])
            redis.call('DEL', KEYS[3])
            for i = 12, #ARGV do
                redis.call('SADD', KEYS[3], ARGV[i])
                redis.call('HSET', 'chat:members:{' .. ARGV[i] .. '}', user, ARGV[3])
                redis.call('SADD', 'chat:rooms', ARGV[i])
            end
            if #ARGV >= 12 then redis.call('EXPIRE', KEYS[3], ARGV[11]) end
            redis.call('SADD', KEYS[4], user)
            return 1
            """)

    /// Ends a session: deletes the claim only if it still holds this token, and, only if the session record is
    /// still this session's (same token), leaves every room with a notice and records the disconnect for /seen.
    /// A retried or late release can therefore never touch a newer session of the same name.
    /// KEYS: claim, session, sessionRooms, incarnationUsers, seen
    /// ARGV: token, name, incarnation, now, reason, origin, what the user said on quitting ('' for nothing)
    static let release = RedisScript(
        name: "release",
        source: """
            local user = string.sub(KEYS[1], 11)
            if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
            if redis.call('HGET', KEYS[2], 'tok') ~= ARGV[1] then return 0 end
            for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do
                local members = 'chat:members:{' .. room .. '}'
                if redis.call('HGET', members, user) == ARGV[3] then
                    redis.call('HDEL', members, user)
                    local left = redis.call('HLEN', members)
                    if left == 0 then redis.call('SREM', 'chat:rooms', room) end
                    if left <= \(quietRoomSize) then
                        local notice = {k = 'leave', room = room, name = ARGV[2], reason = ARGV[5], ts = tonumber(ARGV[4]),
                            sid = ARGV[6]}
                        if ARGV[7] and ARGV[7] ~= '' then notice.msg = ARGV[7] end
                        redis.call('PUBLISH', 'chat:room:' .. room, cjson.encode(notice))
                    end
                end
            end
            -- Direct messages held for this session are its own: nobody who takes the name later may read them.
            redis.call('DEL', KEYS[2], KEYS[3], 'chat:held-directs:' .. user)
            redis.call('SREM', KEYS[4], user)
            -- Only a record /seen still keeps: one forgotten past its cap is not brought back half-empty.
            if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('HSET', KEYS[5], 'disconnected', ARGV[4]) end
            return 1
            """)

    /// Joins a room; a room that does not exist yet (no members, no history) is created only within the cap on
    /// rooms and the creation rate of the client's address and of the person, else an error reply (`chatError`).
    /// KEYS: members, sessionRooms, history, creations by address, creations by user, topic (its expiry is renewed),
    ///       the user's account (when it exists, the second notice, which says the name is registered, is published)
    /// ARGV: user, incarnation, room, session ttl, join notice payload, rooms at most, creations per minute, now,
    ///       room idle ttl, the room's look (skeleton): a new room that looks like one in use is refused, the join
    ///       notice for a registered name
    static let join = RedisScript(
        name: "join",
        source: """
            local now = tonumber(ARGV[8])
            local look = ARGV[10]
            -- The lobby, where everyone starts, is always there to join.
            if ARGV[3] ~= 'lobby' and redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then
                -- Idle past the room's expiry and the renewal interval: a room's activity is renewed at most that
                -- often (PublishUpkeep), so one whose history is still there is never swept.
                local idleBefore = now - (tonumber(ARGV[9]) + \(RoomUpkeepSchedule.defaultIntervalSeconds)) * 1000
                local idle = redis.call('ZRANGEBYSCORE', '\(ClusterKeys.roomActivity)', '-inf', idleBefore)
                for _, gone in ipairs(idle) do redis.call('HDEL', '\(ClusterKeys.roomLooks)', gone) end
                redis.call('ZREMRANGEBYSCORE', '\(ClusterKeys.roomActivity)', '-inf', idleBefore)
                -- A room made again is a new room: no topic left from one that emptied without a message.
                redis.call('DEL', KEYS[6])
                local twin = redis.call('HGET', '\(ClusterKeys.roomLooks)', look)
                if twin and twin ~= ARGV[3] then
                    return redis.error_reply('CHAT room-invalid #' .. ARGV[3] .. ' looks like #' .. twin .. ', which is in use; join #' .. twin)
                end
                if redis.call('ZCARD', '\(ClusterKeys.roomActivity)') >= tonumber(ARGV[6]) then
                    return redis.error_reply('CHAT store-full the cluster has as many rooms as it allows; join one that exists')
                end
                for _, key in ipairs({KEYS[4], KEYS[5]}) do
                    local made = redis.call('INCR', key)
                    if made == 1 then redis.call('EXPIRE', key, 60) end
                    if made > tonumber(ARGV[7]) then
                        return redis.error_reply('CHAT rate-limited at most ' .. ARGV[7] .. ' new rooms a minute; join one that exists')
                    end
                end
            end
            redis.call('ZADD', '\(ClusterKeys.roomActivity)', now, look)
            redis.call('HSET', '\(ClusterKeys.roomLooks)', look, ARGV[3])
            redis.call('EXPIRE', KEYS[6], ARGV[9])
            -- Already a member: a resumed session rejoining a room it never left, which is not news to the room.
            local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            redis.call('SADD', KEYS[2], ARGV[3])
            redis.call('EXPIRE', KEYS[2], ARGV[4])
            redis.call('SADD', 'chat:rooms', ARGV[3])
            if added == 1 and redis.call('HLEN', KEYS[1]) <= \(quietRoomSize) then
                local notice = ARGV[5]
                if ARGV[11] and redis.call('EXISTS', KEYS[7]) == 1 then notice = ARGV[11] end
                redis.call('PUBLISH', 'chat:room:' .. ARGV[3], notice)
            end
            return 1
            """)

    /// Leaves a room, if this incarnation still holds the membership (a reaped node's late /leave must not
    /// announce a second departure, nor remove the user's membership from another node).
    /// KEYS: members, sessionRooms
    /// ARGV: user, room, leave notice payload, incarnation
    static let leave = RedisScript(
        name: "leave",
        source: """
            if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[4] then return 0 end
            redis.call('HDEL', KEYS[1], ARGV[1])
            redis.call('SREM', KEYS[2], ARGV[2])
            local left = redis.call('HLEN', KEYS[1])
            if left == 0 then redis.call('SREM', 'chat:rooms', ARGV[2]) end
            if left <= \(quietRoomSize) then redis.call('PUBLISH', 'chat:room:' .. ARGV[2], ARGV[3]) end
            return 1
            """)

    /// Stores a message in the room's history and publishes it, in one atomic step, so history order is live
    /// order. XADD's `*` picks the id (Redis's clock, above the stream's last id even after a hand-made XDEL); the
    /// channel gets the payload framed with it (`<id> <json>`, see `RelayCodec`), the stream keeps the JSON under
    /// that id, and a history read frames it with the entry's id: both decode to the same message.
    /// This runs once per message, so it does the least a message needs (one room's flood costs Redis about 4 µs
    /// here against 9 µs when it also renewed everything, see docs/benchmarks.md). The history's expiry is renewed
    /// every time (XADD alone would leave a new stream without one). The upkeep that tolerates a delay comes only
    /// when the node asks for it (`PublishUpkeep`): the room's activity and its topic's expiry at most every few
    /// seconds per room, the sender's last-active time at most once a second.
    /// KEYS: history, session, topic (its expiry follows the history's)
    /// ARGV: channel, message body (JSON without id), maxlen, now, room idle ttl, '1' to renew the room (else ''),
    ///       the room's look, '1' to mark the sender active (else '')
    /// Returns the stream id.
    static let publishMessage = RedisScript(
        name: "publishMessage",
        source: """
            local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'p', ARGV[2])
            redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
            redis.call('EXPIRE', KEYS[1], ARGV[5])
            if ARGV[6] == '1' then
                -- An idle room's history goes by itself; the room counts as active for the cap meanwhile.
                -- The topic outlives the history by the renewal interval, so it cannot go first when the last
                -- renewal came up to that much before the last message.
                redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]) + \(RoomUpkeepSchedule.defaultIntervalSeconds))
                redis.call('ZADD', '\(ClusterKeys.roomActivity)', ARGV[4], ARGV[7])
            end
            -- Only a live session: a write here must not re-create a reaped session without its TTL.
            if ARGV[8] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
                redis.call('HSET', KEYS[2], 'active', ARGV[4])
            end
            return id
            """)

    /// Sets or clears away, and tells every room the user is in.
    /// KEYS: session, sessionRooms
    /// ARGV: away text ('' = back), name, now, origin
    static let presence = RedisScript(
        name: "presence",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
            if ARGV[1] == '' then redis.call('HDEL', KEYS[1], 'away') else redis.call('HSET', KEYS[1], 'away', ARGV[1]) end
            redis.call('HSET', KEYS[1], 'active', ARGV[3])
            for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
                local event = {k = 'presence', room = room, name = ARGV[2], ts = tonumber(ARGV[3]), sid = ARGV[4]}
                if ARGV[1] ~= '' then event.away = ARGV[1] end
                if redis.call('HLEN', 'chat:members:{' .. room .. '}') <= \(quietRoomSize) then
                    redis.call('PUBLISH', 'chat:room:' .. room, cjson.encode(event))
                end
            end
            return 1
            """)

    /// A room's members with their session fields, one lookup per member. A member entry whose session has ended
    /// or moved to another incarnation is stale and is dropped on the way (leaving removes the entry and the
    /// session's room together, so the incarnation is the one check needed).
    /// KEYS: members
    /// ARGV: room
    /// Returns a flat array: name, away ('' = online), active, node, held ('' = connected; else reconnecting), for
    /// each member.
    static let who = RedisScript(
        name: "who",
        source: """
            local result = {}
            local entries = redis.call('HGETALL', KEYS[1])
            for i = 1, #entries, 2 do
                local fields = redis.call('HMGET', 'chat:session:' .. entries[i], 'name', 'away', 'active', 'node', 'inc', 'held')
                if fields[1] and fields[5] == entries[i + 1] then
                    table.insert(result, fields[1])
                    table.insert(result, fields[2] or '')
                    table.insert(result, fields[3] or '0')
                    table.insert(result, fields[4] or '')
                    table.insert(result, fields[6] or '')
                else
                    redis.call('HDEL', KEYS[1], entries[i])
                end
            end
            return result
            """)

    /// Rooms with their member counts; empty ones are forgotten.
    /// Returns a flat array: room, count, for each room.
    static let rooms = RedisScript(
        name: "rooms",
        source: """
            local result = {}
            for _, room in ipairs(redis.call('SMEMBERS', 'chat:rooms')) do
                local count = redis.call('HLEN', 'chat:members:{' .. room .. '}')
                if count == 0 then
                    redis.call('SREM', 'chat:rooms', room)
                else
                    table.insert(result, room)
                    table.insert(result, count)
                end
            end
            return result
            """)

    /// KEYS: seen, session
    /// Returns name, connected, disconnected, node, whether a live session exists (1/0), and whether its name is
    /// held while it reconnects (1/0).
    static let seen = RedisScript(
        name: "seen",
        source: """
            local fields = redis.call('HMGET', KEYS[1], 'name', 'connected', 'disconnected', 'node')
            local live = redis.call('HMGET', KEYS[2], 'name', 'since', 'node', 'held')
            if live[1] then return {live[1], live[2], '', live[3], 1, live[4] and 1 or 0} end
            if not fields[1] then return {} end
            return {fields[1], fields[2] or '0', fields[3] or '', fields[4] or '', 0, 0}
            """)

    /// Cleans up after incarnations whose heartbeat key has expired: each of their users leaves each room with
    /// one "connection lost" notice, and their claims (only those still holding their tokens) are deleted. At most
    /// ARGV[2] users per call (taken from the dead incarnation's set as they are done), so a big dead node is
    /// cleaned in short steps; the caller calls again while more remain. Atomic, so when several survivors run it,
    /// each user is cleaned by exactly one of them.
    /// ARGV: now, batch
    /// Returns {users cleaned, 1 when more remain}.
    static let reap = RedisScript(
        name: "reap",
        source: """
            local cleaned = 0
            local budget = tonumber(ARGV[2])
            for _, inc in ipairs(redis.call('SMEMBERS', 'chat:incarnations')) do
                if budget <= 0 then return {cleaned, 1} end
                if redis.call('EXISTS', 'chat:incarnation:' .. inc) == 0 then
                    local usersKey = 'chat:incarnation:' .. inc .. ':users'
                    for _, user in ipairs(redis.call('SPOP', usersKey, budget)) do
                        budget = budget - 1
                        local session = 'chat:session:' .. user
                        if redis.call('HGET', session, 'inc') == inc then
                            local name = redis.call('HGET', session, 'name')
                            for _, room in ipairs(redis.call('SMEMBERS', session .. ':rooms')) do
                                local members = 'chat:members:{' .. room .. '}'
                                if redis.call('HGET', members, user) == inc then
                                    redis.call('HDEL', members, user)
                                    local left = redis.call('HLEN', members)
                                    if left == 0 then redis.call('SREM', 'chat:rooms', room) end
                                    if left <= \(quietRoomSize) then
                                        redis.call('PUBLISH', 'chat:room:' .. room, cjson.encode({k = 'leave', room = room,
                                            name = name, reason = 'connection lost', ts = tonumber(ARGV[1])}))
                                    end
                                end
                            end
                            redis.call('DEL', session, session .. ':rooms', 'chat:held-directs:' .. user)
                            if redis.call('EXISTS', 'chat:seen:' .. user) == 1 then
                                redis.call('HSET', 'chat:seen:' .. user, 'disconnected', ARGV[1])
                            end
                            cleaned = cleaned + 1
                        end
                        local claim = 'chat:name:' .. user
                        local token = redis.call('GET', claim)
                        if token and string.sub(token, 1, #inc + 1) == inc .. ':' then redis.call('DEL', claim) end
                    end
                    if redis.call('SCARD', usersKey) > 0 then return {cleaned, 1} end
                    redis.call('DEL', usersKey)
                    redis.call('SREM', 'chat:incarnations', inc)
                end
            end
            return {cleaned, 0}
            """)

    /// A typing notice, published only where joins are announced: in a quiet room it would cost as much.
    /// KEYS: members
    /// ARGV: channel, payload
    static let typing = RedisScript(
        name: "typing",
        source: """
            if redis.call('HLEN', KEYS[1]) > \(quietRoomSize) then return 0 end
            return redis.call('PUBLISH', ARGV[1], ARGV[2])
            """)

    /// A script's refusal (`redis.error_reply('CHAT <code> <explanation>')`) as the client's error; nil for any
    /// other error.
    static func chatError(_ error: any Error) -> ChatError? {
        guard let error = error as? RedisError, error.code == .server, error.message.hasPrefix("CHAT ") else { return nil }
        let rest = error.message.dropFirst(5)
        let code = rest.prefix { $0 != " " }
        return ChatError(ChatError.Code(rawValue: String(code)), String(rest.dropFirst(code.count + 1)))
    }

    static let all: [RedisScript] =
        IdentityScripts.all + [keepAlive, release, join, leave, publishMessage, presence, who, rooms, seen, reap, typing]
        + [ClusterStore.setTopicScript]
}
