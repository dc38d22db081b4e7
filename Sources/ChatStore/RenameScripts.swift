import RedisClient

/// A name change (IRC's NICK) in three kinds of step, each on one hash tag: the new name is claimed with the
/// session's own token and its records written (`claimRenamed`, the new name's tag), each room moves its member
/// (`moveMember`, the room's tag, with the room's notice), and the old name is given up (`releaseRenamed`, the
/// old name's tag). `ChatStore.rename` runs them in that order: at every point the session holds at least one of
/// the names, and a node that dies in between leaves records its reaper or `who` cleans up, as for any session.
enum RenameScripts {
    /// The new name, for a session already named: refused when it is registered (its password is its owner's) or
    /// anyone else's session holds or held it moments ago (a record not reaped yet); otherwise claimed with the
    /// session's token and given the session's record, its rooms, the guest's blocks and a /seen record.
    /// KEYS: claim, session, session rooms, seen, account, preferences (all of the new name)
    /// ARGV: token, name, incarnation, node, since, active, address group, resume hash, real name, away text,
    ///   claim TTL, session TTL, seen TTL, now, preferences TTL in ms (0: none), preference count n, then n
    ///   field/value pairs, then the rooms; then the session's author identity (`au`, '' for none); the last
    ///   argument is '1' for a bot's session
    /// Returns 'ok', 'registered' or 'held'.
    static let claimRenamed = RedisScript(
        name: "claimRenamed",
        source: """
            if redis.call('EXISTS', KEYS[5]) == 1 then return 'registered' end
            local holder = redis.call('GET', KEYS[1])
            if holder and holder ~= ARGV[1] then return 'held' end
            if not holder and redis.call('EXISTS', KEYS[2]) == 1 then return 'held' end
            redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[11])
            redis.call('DEL', KEYS[2], KEYS[3], KEYS[6])
            redis.call('HSET', KEYS[2], 'name', ARGV[2], 'inc', ARGV[3], 'node', ARGV[4], 'since', ARGV[5],
                'active', ARGV[6], 'addr', ARGV[7], 'tok', ARGV[1], 'rtok', ARGV[8], 'acct', '0', 'real', ARGV[9])
            if ARGV[10] ~= '' then redis.call('HSET', KEYS[2], 'away', ARGV[10]) end
            if ARGV[#ARGV] == '1' then redis.call('HSET', KEYS[2], 'bot', '1') end
            -- Who wrote what the session said goes with it: what it said before is still its own to edit.
            if ARGV[#ARGV - 1] ~= '' then redis.call('HSET', KEYS[2], 'au', ARGV[#ARGV - 1]) end
            redis.call('EXPIRE', KEYS[2], ARGV[12])
            local count = tonumber(ARGV[16])
            for i = 0, count - 1 do
                redis.call('HSET', KEYS[6], ARGV[17 + 2 * i], ARGV[18 + 2 * i])
            end
            if count > 0 and tonumber(ARGV[15]) > 0 then redis.call('PEXPIRE', KEYS[6], ARGV[15]) end
            for i = 17 + 2 * count, #ARGV - 2 do redis.call('SADD', KEYS[3], ARGV[i]) end
            redis.call('EXPIRE', KEYS[3], ARGV[12])
            redis.call('HSET', KEYS[4], 'name', ARGV[2], 'connected', ARGV[14], 'disconnected', '', 'node', ARGV[4],
                'real', ARGV[9])
            redis.call('EXPIRE', KEYS[4], ARGV[13])
            return 'ok'
            """)

    /// A room's member moves from the old name to the new, with their role and an invitation waiting for them, and
    /// the room is told; nothing when the membership is not this session's (it left, or was kicked, meanwhile).
    /// KEYS: members, roles, rules
    /// ARGV: old user, new user, token, channel, notice
    static let moveMember = RedisScript(
        name: "moveMember",
        source: """
            if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[3] then return 0 end
            redis.call('HDEL', KEYS[1], ARGV[1])
            redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
            local roles = redis.call('HGET', KEYS[2], ARGV[1])
            if roles then
                redis.call('HDEL', KEYS[2], ARGV[1])
                redis.call('HSET', KEYS[2], ARGV[2], roles)
            end
            local invitation = redis.call('HGET', KEYS[3], 'invite:' .. ARGV[1])
            if invitation then
                redis.call('HDEL', KEYS[3], 'invite:' .. ARGV[1])
                redis.call('HSET', KEYS[3], 'invite:' .. ARGV[2], invitation)
            end
            redis.call('SPUBLISH', ARGV[4], ARGV[5])
            return 1
            """)

    /// The old name given up, if this session still holds it: its claim and records go (the guest's blocks moved
    /// with the name), and /seen (WHOWAS) says it was left now.
    /// KEYS: claim, session, session rooms, held directs, seen, preferences (all of the old name)
    /// ARGV: token, now
    static let releaseRenamed = RedisScript(
        name: "releaseRenamed",
        source: """
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
            redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6])
            if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('HSET', KEYS[5], 'disconnected', ARGV[2]) end
            return 1
            """)

    /// The same name in another case: the session's and /seen's records say it as now typed.
    /// KEYS: session, seen
    /// ARGV: token, name
    static let renameCase = RedisScript(
        name: "renameCase",
        source: """
            if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
            redis.call('HSET', KEYS[1], 'name', ARGV[2])
            if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'name', ARGV[2]) end
            return 1
            """)

    static let all: [RedisScript] = [claimRenamed, moveMember, releaseRenamed, renameCase]
}
