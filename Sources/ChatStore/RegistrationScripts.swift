import ChatCore
import RedisClient

/// Registered rooms (docs/moderation.md, "Registered rooms"): the room's registration is its rules' `owner` field
/// (owner's user key, when their account was made, their name, since when) and its list `access:<user>` (letters,
/// when that account was made, name), so every script that reads the room's rules sees at once whether it is
/// registered. Each script runs on the room's tag; the owner's count of rooms (`ChatKeys.ownedRooms`) is kept
/// around them by the store.
enum RegistrationScripts {
    /// The room's operator registers it and becomes its owner (`q` before their letters). Its rules, bans and topic
    /// then live the accounts' lifetime from now, renewed by each of the owner's joins.
    /// KEYS: members, roles, rules, bans, topic
    /// ARGV: actor, account (when the actor's account was made, '' for a guest), name, now, lifetime, room
    static let register = RedisScript(
        name: "registerRoom",
        source: """
            local rolesKey, rulesKey = KEYS[2], KEYS[3]
            local actor, account, name, now, lifetime, room = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
            \(ModerationScripts.helpers)
            if not isOperator(actor) then return refuse('not-operator', 'only an operator of #' .. room .. ' may register it') end
            if account == '' then
                return refuse('not-registered', 'a room belongs to a registered name: /register PASSWORD first')
            end
            local registration = redis.call('HGET', rulesKey, 'owner')
            if registration then
                return refuse('already-registered', '#' .. room .. ' is registered to ' .. lines(registration)[3] .. ' already')
            end
            redis.call('HSET', rulesKey, 'owner', actor .. '\\n' .. account .. '\\n' .. name .. '\\n' .. now)
            local letters = string.gsub(redis.call('HGET', rolesKey, actor) or '', 'q', '')
            redis.call('HSET', rolesKey, actor, 'q' .. letters)
            for _, key in ipairs({KEYS[3], KEYS[4], KEYS[5]}) do redis.call('EXPIRE', key, lifetime) end
            return 1
            """)

    /// The owner (or, `force` 1, a server operator) gives up the registration: the list goes, the owner keeps
    /// operator without `q`, and the room's keys live an ordinary room's idle days again (an empty room's go now,
    /// as `ModerationScripts.emptied` would have taken them). The owner is the account, not the name: a later
    /// account under a name that lapsed is refused. Returns {owner's user key, owner's name, 1 when the room is left
    /// vacant (no members, no history: it no longer exists) else 0}.
    /// KEYS: members, roles, rules, bans, topic, history
    /// ARGV: actor, when the actor's account was made, force (0: the owner; 1: a server operator; 2: the owner's
    ///       name is being unregistered), room idle ttl, room
    static let unregister = RedisScript(
        name: "unregisterRoom",
        source: """
            local membersKey, rolesKey, rulesKey, bansKey, topicKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
            local actor, account, force, idle, room = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
            \(ModerationScripts.helpers)
            local registration = redis.call('HGET', rulesKey, 'owner')
            if not registration then return refuse('not-registered', '#' .. room .. ' is not registered') end
            local owner = lines(registration)
            -- force 1: a server operator; 2: the name's owner unregistering the name (whichever account it had).
            if (force == '2' and owner[1] ~= actor)
                    or (force == '0' and (owner[1] ~= actor or owner[2] ~= account)) then
                return refuse('not-owner', 'only the owner of #' .. room .. ' may unregister it')
            end
            redis.call('HDEL', rulesKey, 'owner')
            local fields = redis.call('HKEYS', rulesKey)
            for _, field in ipairs(fields) do
                if string.sub(field, 1, 7) == 'access:' then redis.call('HDEL', rulesKey, field) end
            end
            local letters = redis.call('HGET', rolesKey, owner[1])
            if letters then
                letters = string.gsub(letters, 'q', '')
                if letters == '' then redis.call('HDEL', rolesKey, owner[1])
                else redis.call('HSET', rolesKey, owner[1], letters) end
            end
            local vacant = 0
            if redis.call('HLEN', membersKey) == 0 then
                redis.call('DEL', rolesKey, rulesKey, bansKey)
                if redis.call('EXISTS', KEYS[6]) == 0 then
                    redis.call('DEL', topicKey)
                    vacant = 1
                end
            end
            for _, key in ipairs({rulesKey, bansKey, topicKey}) do
                if redis.call('TTL', key) > idle then redis.call('EXPIRE', key, idle) end
            end
            return {owner[1], owner[3], vacant}
            """)

    /// The owner (the account, as for `unregister`) gives the room to another member whose name is registered:
    /// they become its owner (`qo`); the old owner stays an operator, on the list. Returns the old owner's name.
    /// KEYS: members, roles, rules
    /// ARGV: actor, actor's account, target, target's account (when made, '' for a guest), target's name, now, room
    static let transfer = RedisScript(
        name: "transferRoom",
        source: """
            local membersKey, rolesKey, rulesKey = KEYS[1], KEYS[2], KEYS[3]
            local actor, actorAccount, target, account, name, now, room =
                ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
            \(ModerationScripts.helpers)
            local registration = redis.call('HGET', rulesKey, 'owner')
            if not registration then return refuse('not-registered', '#' .. room .. ' is not registered') end
            local owner = lines(registration)
            if owner[1] ~= actor or owner[2] ~= actorAccount then
                return refuse('not-owner', 'only the owner of #' .. room .. ' may give it away')
            end
            if target == actor then return refuse('bad-request', '#' .. room .. ' is yours already') end
            if redis.call('HEXISTS', membersKey, target) == 0 then
                return refuse('not-in-room', name .. ' is not in #' .. room)
            end
            if account == '' then
                return refuse('not-registered', name .. ' is a guest: a room belongs to a registered name')
            end
            redis.call('HSET', rulesKey, 'owner', target .. '\\n' .. account .. '\\n' .. name .. '\\n' .. now)
            redis.call('HSET', rulesKey, 'access:' .. actor, 'o\\n' .. owner[2] .. '\\n' .. owner[3])
            redis.call('HDEL', rulesKey, 'access:' .. target)
            local mine = string.gsub(string.gsub(redis.call('HGET', rolesKey, actor) or '', 'q', ''), 'o', '')
            redis.call('HSET', rolesKey, actor, 'o' .. mine)
            local theirs = string.gsub(string.gsub(redis.call('HGET', rolesKey, target) or '', 'q', ''), 'o', '')
            redis.call('HSET', rolesKey, target, 'qo' .. theirs)
            return owner[3]
            """)

    /// Counts a room among a person's owned ones, at most `cap`; the count lives as long as the account (renewed
    /// here and at each login with the password, `IdentityScripts.claim`). Returns 2 when it was counted already,
    /// 1 when counted now, 0 when the person owns as many as they may.
    /// KEYS: owned rooms
    /// ARGV: room, cap, lifetime
    static let reserve = RedisScript(
        name: "reserveRoom",
        source: """
            if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
                redis.call('EXPIRE', KEYS[1], ARGV[3])
                return 2
            end
            if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
            redis.call('SADD', KEYS[1], ARGV[1])
            redis.call('EXPIRE', KEYS[1], ARGV[3])
            return 1
            """)

    static let all: [RedisScript] = [register, unregister, transfer, reserve]
}
