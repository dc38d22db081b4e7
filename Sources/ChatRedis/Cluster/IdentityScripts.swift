import ChatCore

// One file because these scripts are one protocol: who may hold a name. The claim decides between a resume, a
// registered name's password check and a plain claim; hold, the held direct messages and the account scripts
// keep the fields the claim reads (`tok`, `rtok`, `held` in the session; the account's `hash`) consistent.

/// The scripts of names and identity: claims (plain, by password, by resume token), holding a dropped session's
/// name, direct messages queued meanwhile, and accounts. Key names follow `ClusterKeys`.
enum IdentityScripts {
    /// KEYS: claim, session, sessionRooms, incarnationUsers, seen, account, failures by name, failures by address
    /// ARGV: 1 token, 2 name, 3 incarnation, 4 node, 5 now, 6 claim ttl, 7 address group ('' = unknown: not
    ///       counted), 8 session ttl, 9 seen ttl, 10 seen records at most, 11 resume token hash ('' = none),
    ///       12 verified account hash ('' = none), 13 a password was given ('1'/'0'), 14 failures per name,
    ///       15 failures per address, 16 the new resume token's hash, 17 origin (the claiming session),
    ///       18 failure window seconds, 19 account lifetime seconds, 20... rooms to keep
    /// Returns one of
    ///   {'claimed'}                      the name is this session's, a new session
    ///   {'resumed', since}               it took over a session (resume token, or a registered name's password)
    ///   {'held', holder, reconnecting}   somebody holds it (or a name that looks like it)
    ///   {'password'}                     registered; no password given
    ///   {'verify', hash}                 registered; check the password against hash, then claim again with it
    ///   {'wrong'}                        a password for a name that is not registered
    ///   {'locked', seconds}              too many failed logins lately, for the name or from the address
    ///
    /// A takeover (resume token, or a verified password while the name is held) moves the session's memberships
    /// to this incarnation, leaves the rooms the client will not rejoin, and tells whatever connection still
    /// holds the session (on the user's channel) to close. Its `held` mark stays until `takeHeldDirects`, so a
    /// direct message sent in between is queued, not lost.
    ///
    /// Every password check is counted as a failure *before* it is made (at `verify`), and uncounted when the
    /// verified claim comes back: guesses sent in parallel cannot slip past the limit while the hashes run. A
    /// successful login also extends the account's life (accounts nobody logs in to for a year go).
    ///
    /// A free name may still have an old session record: its node died and its claim expired a moment before a
    /// survivor reaped it. That session's rooms are told it left before the record is replaced, so no notice is
    /// lost and no membership is left behind.
    static let claim = RedisScript(
        name: "claim",
        source: """
            local user = string.sub(KEYS[1], 11)
            local now = tonumber(ARGV[5])
            local function leaveNotice(room, name, reason)
                local members = 'chat:members:{' .. room .. '}'
                local left = redis.call('HLEN', members)
                if left == 0 then redis.call('SREM', 'chat:rooms', room) end
                if left <= \(ClusterScripts.quietRoomSize) then
                    redis.call('PUBLISH', 'chat:room:' .. room, cjson.encode({k = 'leave', room = room,
                        name = name, reason = reason, ts = now}))
                end
            end
            local function takeOver()
                local oldInc = redis.call('HGET', KEYS[2], 'inc')
                local name = redis.call('HGET', KEYS[2], 'name')
                local keep = {}
                for i = 20, #ARGV do keep[ARGV[i]] = true end
                for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do
                    local members = 'chat:members:{' .. room .. '}'
                    if redis.call('HGET', members, user) == oldInc and keep[room] then
                        redis.call('HSET', members, user, ARGV[3])
                    else
                        redis.call('SREM', KEYS[3], room)
                        if redis.call('HGET', members, user) == oldInc then
                            redis.call('HDEL', members, user)
                            leaveNotice(room, name, 'connection lost')
                        end
                    end
                end
                redis.call('SREM', 'chat:incarnation:' .. oldInc .. ':users', user)
                redis.call('SADD', KEYS[4], user)
                redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[6])
                redis.call('HSET', KEYS[2], 'inc', ARGV[3], 'node', ARGV[4], 'tok', ARGV[1], 'addr', ARGV[7],
                    'rtok', ARGV[16], 'held', now)
                redis.call('EXPIRE', KEYS[2], ARGV[8])
                redis.call('EXPIRE', KEYS[3], ARGV[8])
                redis.call('PUBLISH', 'chat:user:' .. user, cjson.encode({k = 'resumed', name = name, ts = now,
                    sid = ARGV[17]}))
                return {'resumed', redis.call('HGET', KEYS[2], 'since') or ARGV[5]}
            end

            local live = redis.call('HGET', KEYS[2], 'inc')
            if ARGV[11] ~= '' and live and redis.call('HGET', KEYS[2], 'rtok') == ARGV[11] then return takeOver() end

            local function charge(by)
                for _, key in ipairs({KEYS[7], ARGV[7] ~= '' and KEYS[8] or nil}) do
                    local count = redis.call('INCRBY', key, by)
                    if count <= 0 then redis.call('DEL', key)
                    elseif by > 0 and redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[18]) end
                end
            end
            local hash = redis.call('HGET', KEYS[6], 'hash')
            if hash or ARGV[13] == '1' then
                local failures = tonumber(redis.call('GET', KEYS[7]) or '0')
                local fromAddress = ARGV[7] ~= '' and tonumber(redis.call('GET', KEYS[8]) or '0') or 0
                if ARGV[12] == '' and (failures >= tonumber(ARGV[14]) or fromAddress >= tonumber(ARGV[15])) then
                    return {'locked', math.max(redis.call('TTL', KEYS[7]), redis.call('TTL', KEYS[8]), 1)}
                end
                if not hash then
                    charge(1)
                    return {'wrong'}
                end
                if ARGV[12] ~= hash then
                    if ARGV[13] == '1' then
                        charge(1)
                        return {'verify', hash}
                    end
                    return {'password'}
                end
                -- The password was right: its check was counted as a failure in advance.
                charge(-1)
                redis.call('EXPIRE', KEYS[6], ARGV[19])
                -- The password is verified: the owner gets the name even from their own dropped or stale session.
                if live and redis.call('EXISTS', KEYS[1]) == 1 then return takeOver() end
            end

            if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[6]) then
                local fields = redis.call('HMGET', KEYS[2], 'name', 'held')
                return {'held', fields[1] or '', fields[2] and '1' or '0'}
            end
            if live then
                local oldName = redis.call('HGET', KEYS[2], 'name')
                for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do
                    if redis.call('HGET', 'chat:members:{' .. room .. '}', user) == live then
                        redis.call('HDEL', 'chat:members:{' .. room .. '}', user)
                        leaveNotice(room, oldName, 'connection lost')
                    end
                end
                redis.call('SREM', 'chat:incarnation:' .. live .. ':users', user)
            end
            redis.call('DEL', KEYS[2], KEYS[3], 'chat:held-directs:' .. user)
            redis.call('HSET', KEYS[2], 'name', ARGV[2], 'inc', ARGV[3], 'node', ARGV[4], 'since', ARGV[5],
                'active', ARGV[5], 'addr', ARGV[7], 'tok', ARGV[1], 'rtok', ARGV[16])
            redis.call('EXPIRE', KEYS[2], ARGV[8])
            redis.call('SADD', KEYS[4], user)
            redis.call('HSET', KEYS[5], 'name', ARGV[2], 'connected', ARGV[5], 'disconnected', '', 'node', ARGV[4])
            redis.call('EXPIRE', KEYS[5], ARGV[9])
            -- /seen is bounded: past the cap, whoever connected longest ago is forgotten.
            redis.call('ZADD', '\(ClusterKeys.seenIndex)', ARGV[5], user)
            local extra = redis.call('ZCARD', '\(ClusterKeys.seenIndex)') - tonumber(ARGV[10])
            if extra > 0 then
                local oldest = redis.call('ZPOPMIN', '\(ClusterKeys.seenIndex)', extra)
                for i = 1, #oldest, 2 do redis.call('DEL', 'chat:seen:' .. oldest[i]) end
            end
            return {'claimed'}
            """)

    /// A dropped connection's name is kept for its resume token's holder: the claim lives `grace` seconds more
    /// and the session is marked held (shown as reconnecting); rooms keep the member. Nothing if the session is
    /// no longer this one.
    /// KEYS: claim, session
    /// ARGV: token, grace seconds, now
    static let hold = RedisScript(
        name: "hold",
        source: """
            if redis.call('HGET', KEYS[2], 'tok') ~= ARGV[1] then return 0 end
            local holder = redis.call('GET', KEYS[1])
            if holder and holder ~= ARGV[1] then return 0 end
            redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
            redis.call('HSET', KEYS[2], 'held', tonumber(ARGV[3]) + tonumber(ARGV[2]) * 1000)
            return 1
            """)

    /// A direct message: published to the user's node, or, while their name is held for them, queued for their
    /// resume (bounded, and gone with the hold).
    /// KEYS: session, held directs
    /// ARGV: channel, payload, queue ttl, queued at most
    /// Returns 1 when delivered or queued, 0 when nobody has the name.
    static let direct = RedisScript(
        name: "direct",
        source: """
            if redis.call('PUBLISH', ARGV[1], ARGV[2]) > 0 then return 1 end
            if redis.call('HEXISTS', KEYS[1], 'held') == 0 then return 0 end
            redis.call('RPUSH', KEYS[2], ARGV[2])
            redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
            redis.call('EXPIRE', KEYS[2], ARGV[3])
            return 1
            """)

    /// A resumed session takes the direct messages queued while it was held, and stops being held.
    /// KEYS: session, held directs
    /// ARGV: token
    static let takeHeldDirects = RedisScript(
        name: "takeHeldDirects",
        source: """
            if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return {} end
            local queued = redis.call('LRANGE', KEYS[2], 0, -1)
            redis.call('DEL', KEYS[2])
            redis.call('HDEL', KEYS[1], 'held')
            return queued
            """)

    /// The stored hash of a registered name, for checking a password, unless failed logins lock it. The check about
    /// to be made is counted as a failure now (and uncounted by `loginSucceeded` when it was right), so checks made
    /// in parallel cannot slip past the limit, as in `claim`. A name that is not registered counts as a failure too.
    /// KEYS: account, failures by name, failures by address
    /// ARGV: failures per name, failures per address ('' address: not counted), address, window seconds
    /// Returns {'hash', hash}, {'none'} or {'locked', seconds}.
    static let accountHash = RedisScript(
        name: "accountHash",
        source: """
            local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
            local fromAddress = ARGV[3] ~= '' and tonumber(redis.call('GET', KEYS[3]) or '0') or 0
            if failures >= tonumber(ARGV[1]) or fromAddress >= tonumber(ARGV[2]) then
                return {'locked', math.max(redis.call('TTL', KEYS[2]), redis.call('TTL', KEYS[3]), 1)}
            end
            for _, key in ipairs({KEYS[2], ARGV[3] ~= '' and KEYS[3] or nil}) do
                if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[4]) end
            end
            local hash = redis.call('HGET', KEYS[1], 'hash')
            if not hash then return {'none'} end
            return {'hash', hash}
            """)

    /// A password check counted in advance by `accountHash` was right: uncounted.
    /// KEYS: failures by name, failures by address
    /// ARGV: address ('' = not counted)
    static let loginSucceeded = RedisScript(
        name: "loginSucceeded",
        source: """
            for _, key in ipairs({KEYS[1], ARGV[1] ~= '' and KEYS[2] or nil}) do
                if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
            end
            return 1
            """)

    /// Whether a session may register its name: it holds the claim, the name is not registered yet, and its address
    /// has registered fewer than `per hour` names in the last hour (each counted here, before the hash is made,
    /// so a refused registration costs no hashing).
    /// KEYS: account, claim, registrations by address
    /// ARGV: token, per hour, address group ('' = not counted)
    static let mayRegister = RedisScript(
        name: "mayRegister",
        source: """
            if redis.call('GET', KEYS[2]) ~= ARGV[1] then
                return redis.error_reply('CHAT name-lost your name is no longer yours; reconnect')
            end
            if redis.call('EXISTS', KEYS[1]) == 1 then
                return redis.error_reply('CHAT bad-request this name is registered already')
            end
            if ARGV[3] ~= '' then
                local made = redis.call('INCR', KEYS[3])
                if made == 1 then redis.call('EXPIRE', KEYS[3], 3600) end
                if made > tonumber(ARGV[2]) then
                    return redis.error_reply('CHAT rate-limited at most ' .. ARGV[2] .. ' names registered an hour from one address')
                end
            end
            return 1
            """)

    /// Registers, re-hashes or removes an account, for the session that holds the name (its claim token), and
    /// only if the stored hash is still the one the node checked the old password against ('' = no account yet).
    /// An account lives `lifetime` seconds from its last login (or change).
    /// KEYS: account, claim
    /// ARGV: token, expected hash ('' = none), new hash ('' = remove), name, now, lifetime seconds
    static let setAccount = RedisScript(
        name: "setAccount",
        source: """
            if redis.call('GET', KEYS[2]) ~= ARGV[1] then
                return redis.error_reply('CHAT name-lost your name is no longer yours; reconnect')
            end
            local current = redis.call('HGET', KEYS[1], 'hash') or ''
            if current ~= ARGV[2] then
                if ARGV[2] == '' then return redis.error_reply('CHAT bad-request this name is registered already') end
                return redis.error_reply('CHAT bad-password the password was changed meanwhile; try again')
            end
            if ARGV[3] == '' then
                redis.call('DEL', KEYS[1])
                return 1
            elseif ARGV[2] == '' then
                redis.call('HSET', KEYS[1], 'name', ARGV[4], 'hash', ARGV[3], 'created', ARGV[5])
            else
                redis.call('HSET', KEYS[1], 'hash', ARGV[3])
            end
            redis.call('EXPIRE', KEYS[1], ARGV[6])
            return 1
            """)

    static let all: [RedisScript] = [
        claim, hold, direct, takeHeldDirects, accountHash, loginSucceeded, mayRegister, setAccount,
    ]
}
