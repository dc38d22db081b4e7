import ChatCore
import RedisClient

/// The server operators' scripts (docs/moderation.md, "Server operators"). Each touches one tag: a person's
/// (suspend), a room's (close), or the network's bans key alone.
enum OperatorScripts {
    /// Suspends a registered name and tells its session, wherever it is, to close. Returns 0 when the name is not
    /// registered (a guest name is freed by a kill, and anyone may take it after). While suspended the account does
    /// not expire: a suspension until lifted must not end with the account's year.
    /// KEYS: account; ARGV: entry (until, by, reason as lines), user channel, removal notice
    static let suspend = RedisScript(
        name: "suspend",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
            redis.call('HSET', KEYS[1], 'suspended', ARGV[1])
            redis.call('PERSIST', KEYS[1])
            redis.call('SPUBLISH', ARGV[2], ARGV[3])
            return 1
            """)

    /// Lifts a suspension; the account expires again a lifetime from now. Returns 0 when it was not suspended.
    /// KEYS: account; ARGV: lifetime seconds
    static let unsuspend = RedisScript(
        name: "unsuspend",
        source: """
            if redis.call('HDEL', KEYS[1], 'suspended') == 0 then return 0 end
            redis.call('EXPIRE', KEYS[1], ARGV[1])
            return 1
            """)

    /// Adds or replaces a network ban, unless the list is full. Returns 1, or 0 when full.
    /// KEYS: network bans; ARGV: mask, entry (until, by, time, reason as lines), the most bans, now
    static let addNetworkBan = RedisScript(
        name: "addNetworkBan",
        source: """
            if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
                -- Lapsed bans make room first.
                local entries = redis.call('HGETALL', KEYS[1])
                for i = 1, #entries, 2 do
                    local lapse = tonumber(string.match(entries[i + 1], '^(%d+)')) or 0
                    if lapse ~= 0 and lapse <= tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], entries[i]) end
                end
                if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
            end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            return 1
            """)

    /// Closes a room: its members, history, topic, roles, settings and bans go, and the room is told (each node
    /// takes its members out). Returns the members' user keys, whose own room sets the store then updates (they
    /// live under each person's tag): a member whose name is held for a reconnect must not rejoin it on resume.
    /// KEYS: members, history, topic, roles, rules, bans, changes, change index; ARGV: channel, notice
    static let closeRoom = RedisScript(
        name: "closeRoom",
        source: """
            local members = redis.call('HKEYS', KEYS[1])
            redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
            redis.call('SPUBLISH', ARGV[1], ARGV[2])
            return members
            """)

    /// What a login with a password, or a resume, needs to know beyond the claim: whether the session logged in with
    /// the account's password (`acct`), and the person's own preferences (blocks, refusing guests). A guest's plain
    /// claim needs neither (its claim deleted the last holder's preferences: `IdentityScripts.claim`), and makes no
    /// such read. A registered name's preferences live another account lifetime from each login.
    /// A registered name's read markers come too, renewed like its preferences.
    /// KEYS: session, preferences, read markers, account; ARGV: claim token, lifetime
    /// Returns {acct, preferences (HGETALL), read markers (HGETALL; empty for a guest), when the account was made}.
    static let loginState = RedisScript(
        name: "loginState",
        source: """
            local fields = redis.call('HMGET', KEYS[1], 'tok', 'acct')
            -- A session resumed after its name was unregistered is a guest's, whatever its record says.
            local registered = fields[1] == ARGV[1] and fields[2] == '1' and redis.call('EXISTS', KEYS[4]) == 1
            if registered and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
            if registered and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
            return {registered and '1' or '0', redis.call('HGETALL', KEYS[2]),
                registered and redis.call('HGETALL', KEYS[3]) or {}, redis.call('HGET', KEYS[4], 'created') or ''}
            """)

    /// Moves a registered name's read marker in a room forward (never back), keeping at most `ReadMarker.maximumRooms`
    /// rooms' (the oldest goes), and tells the name's connections on its channel.
    /// Nothing for a name no longer registered (its markers went with its account).
    /// KEYS: read markers, account; ARGV: room, message id, lifetime, most rooms, user channel, payload
    /// Returns the marker as it stands ('' when none is kept).
    static let markRead = RedisScript(
        name: "markRead",
        source: """
            if redis.call('EXISTS', KEYS[2]) == 0 then return '' end
            \(MessageScripts.idLess)
            local current = redis.call('HGET', KEYS[1], ARGV[1])
            if current and not idLess(current, ARGV[2]) then return current end
            if not current and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
                local all = redis.call('HGETALL', KEYS[1])
                local oldest, field = nil, nil
                for i = 1, #all, 2 do
                    if not oldest or idLess(all[i + 1], oldest) then oldest, field = all[i + 1], all[i] end
                end
                redis.call('HDEL', KEYS[1], field)
            end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            redis.call('EXPIRE', KEYS[1], ARGV[3])
            redis.call('SPUBLISH', ARGV[5], ARGV[6])
            return ARGV[2]
            """)

    /// Blocks or unblocks a person, within the limit. The preferences live a registered name's account lifetime, or
    /// a day from a guest's last change (a new guest taking the name deletes them anyway: `loginState`). Returns 1,
    /// or 0 when the list is full.
    /// KEYS: preferences, account; ARGV: '1' to block, the blocked user key, their name as typed, the most, a
    /// registered name's lifetime in seconds
    static let block = RedisScript(
        name: "block",
        source: """
            local lifetime = redis.call('EXISTS', KEYS[2]) == 1 and ARGV[5] or '86400'
            local field = 'b:' .. ARGV[2]
            if ARGV[1] == '1' then
                if redis.call('HEXISTS', KEYS[1], field) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
                    return 0
                end
                redis.call('HSET', KEYS[1], field, ARGV[3])
            else
                redis.call('HDEL', KEYS[1], field)
            end
            if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], lifetime) end
            return 1
            """)

    /// Marks a live session a guest's (`acct` 0): its name was unregistered. Only a live session: a write here must
    /// not re-create a reaped one without its TTL.
    /// KEYS: session
    static let markGuest = RedisScript(
        name: "markGuest",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
            return redis.call('HSET', KEYS[1], 'acct', '0')
            """)

    /// Marks a session a server operator's (`oper`), for what IRC's WHO and WHOIS show; only the session with this
    /// token, so a write here never re-creates a reaped session without its TTL.
    /// KEYS: session
    /// ARGV: token, '1' or '0' (a reload took the name off the list)
    static let markOperator = RedisScript(
        name: "markOperator",
        source: """
            if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
            if ARGV[2] == '0' then return redis.call('HDEL', KEYS[1], 'oper') end
            return redis.call('HSET', KEYS[1], 'oper', '1')
            """)

    /// Marks a session a bot's (`bot`), or not; only the session with this token, as `markOperator`.
    /// KEYS: session
    /// ARGV: token, '1' or '0'
    static let markBot = RedisScript(
        name: "markBot",
        source: """
            if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
            if ARGV[2] == '1' then return redis.call('HSET', KEYS[1], 'bot', '1') end
            return redis.call('HDEL', KEYS[1], 'bot')
            """)

    static let all: [RedisScript] = [
        suspend, unsuspend, addNetworkBan, closeRoom, loginState, markRead, markGuest, block, markOperator, markBot,
    ]
}
