import ChatCore
import RedisClient

// One file because these scripts are one person's session schema: the claim, the session record and the
// session's rooms share the person's hash tag, and each script here decides, from the token or the incarnation
// in the record, whether the session is still the one it was asked about.

/// The scripts that touch one person's session: every key they are given has the person's tag (`{user}`). What a
/// session change means for its rooms (leave notices, memberships) is done by the store after them, room by room
/// (`ChatStore`): these return the rooms concerned.
enum SessionScripts {
    /// Lua for scripts that let one of a person's several connections go (`ChatKeys.connections`): the session's
    /// own fields become a remaining connection's (a lone connection's hold and release, and the reaper, read
    /// them), and with one left the list goes, one connection being the session alone. Answers how many remain.
    static let adoptConnection = """
        local function adoptConnection(connections, session)
            local entries = redis.call('HGETALL', connections)
            if #entries == 0 then return 0 end
            local incarnation, node, resume = string.match(entries[2], '^(%S*) (%S*) (%S*)')
            redis.call('HSET', session, 'sid', entries[1], 'inc', incarnation or '', 'node', node or '',
                'rtok', resume or '')
            if #entries == 2 then redis.call('DEL', connections) end
            return #entries / 2
        end
        """

    /// The keys and arguments of `keepAlive`, in the order it declares them.
    struct KeepAliveParameters {
        var claimKey: String
        var sessionKey: String
        var sessionRoomsKey: String
        var connectionsKey: String
        var token: String
        /// The connection's id ('' for none): written when the session is put back, never over another's.
        var connection: String
        /// The name as the person typed it.
        var name: String
        var incarnation: String
        var node: String
        var since: Millis
        var active: Millis
        var away: String?
        var claimTTL: Int
        /// Put the session back if Redis lost it, rather than fail.
        var restore: Bool
        var addressGroup: String
        var sessionTTL: Int
        /// The session's rooms, as the node holds them.
        var rooms: [String]
    }

    /// Keeps a session alive, or puts it back after Redis lost it (restart, failover), as the node that holds it
    /// sees it. A refresh fails when the claim is gone or somebody else's; a restore re-takes a claim that is gone,
    /// never one that another token holds.
    /// Returns 1 when the session is alive, 0 when the name is lost.
    static let keepAlive = NamedScript<KeepAliveParameters>(
        name: "keepAlive",
        keys: [
            .init("claimKey", \.claimKey), .init("sessionKey", \.sessionKey),
            .init("sessionRoomsKey", \.sessionRoomsKey), .init("connectionsKey", \.connectionsKey),
        ],
        arguments: [
            .init("token", \.token), .init("connection", \.connection), .init("name", \.name),
            .init("incarnation", \.incarnation), .init("node", \.node),
            .init("since", \.since), .init("active", \.active), .init("away", \.away), .init("claimTTL", \.claimTTL),
            .init("restore", \.restore), .init("addressGroup", \.addressGroup), .init("sessionTTL", \.sessionTTL),
        ],
        rest: .init("rooms", \.rooms),
        body: """
            local holder = redis.call('GET', claimKey)
            if holder ~= token then
                if holder or restore ~= '1' then return 0 end
                redis.call('SET', claimKey, token, 'EX', claimTTL)
            else
                redis.call('EXPIRE', claimKey, claimTTL)
            end
            -- One of a person's several connections: the session's node, incarnation and rooms are all of theirs,
            -- so this one's keep-alive writes neither where the session is nor which rooms it is in (only adds).
            local function keptAsOneOfSeveral()
                redis.call('HSET', sessionKey, 'name', name, 'active', active)
                redis.call('EXPIRE', sessionKey, sessionTTL)
                redis.call('EXPIRE', connectionsKey, sessionTTL)
                for _, room in ipairs(rooms) do redis.call('SADD', sessionRoomsKey, room) end
                if #rooms > 0 then redis.call('EXPIRE', sessionRoomsKey, sessionTTL) end
                return 1
            end
            if redis.call('EXISTS', connectionsKey) == 1 then
                -- A connection no longer listed (replaced, or closed by a password change) has lost the name; one
                -- that Redis forgot (a restore) is listed again.
                if connection ~= '' and redis.call('HEXISTS', connectionsKey, connection) == 0 then
                    if restore ~= '1' then return 0 end
                    redis.call('HSET', connectionsKey, connection, incarnation .. ' ' .. node .. '  ' .. since)
                end
                return keptAsOneOfSeveral()
            end
            -- The session is another connection's: this one lost the name (replaced, or closed by a password
            -- change), unless Redis forgot the two were two (a restore after a restart or failover): then both
            -- are listed again, so that either one's going leaves the other the session.
            local own = redis.call('HMGET', sessionKey, 'sid', 'tok', 'inc', 'node', 'rtok', 'since')
            if connection ~= '' and own[1] and own[1] ~= '' and own[1] ~= connection and own[2] == token then
                if restore ~= '1' then return 0 end
                redis.call('HSET', connectionsKey, own[1], (own[3] or '') .. ' ' .. (own[4] or '') .. ' '
                    .. (own[5] or '') .. ' ' .. (own[6] or since), connection,
                    incarnation .. ' ' .. node .. '  ' .. since)
                return keptAsOneOfSeveral()
            end
            redis.call('HSET', sessionKey, 'name', name, 'inc', incarnation, 'node', node, 'since', since,
                'active', active, 'addr', addressGroup, 'tok', token)
            if connection ~= '' then redis.call('HSET', sessionKey, 'sid', connection) end
            if away == '' then redis.call('HDEL', sessionKey, 'away') else redis.call('HSET', sessionKey, 'away', away) end
            redis.call('EXPIRE', sessionKey, sessionTTL)
            -- Only added: a room this connection does not know of may be another's (left rooms are taken out
            -- by the leave).
            for _, room in ipairs(rooms) do redis.call('SADD', sessionRoomsKey, room) end
            if #rooms > 0 then redis.call('EXPIRE', sessionRoomsKey, sessionTTL) end
            return 1
            """)

    /// A room about to be joined is added to the session's rooms first: were the node to stop between the two, a
    /// survivor reaping it still finds the membership. Answers when the name's account was made ('' for a guest):
    /// the join notice says whether the name is registered (IRC's extended-join shows it), and a registered room
    /// knows its owner and its listed names by their key and this time, so that an account registered again under
    /// a name that lapsed is somebody else.
    /// KEYS: sessionRooms, account
    /// ARGV: room, session ttl
    static let enterRoom = RedisScript(
        name: "enterRoom",
        source: """
            redis.call('SADD', KEYS[1], ARGV[1])
            redis.call('EXPIRE', KEYS[1], ARGV[2])
            return redis.call('HGET', KEYS[2], 'created') or ''
            """)

    /// Ends a session: deletes the claim only if it still holds this token and the session only if it is still
    /// this one (same token), so a retried or late release never touches a newer session of the same name, and
    /// records the disconnect for /seen. Direct messages held for the session go with it: nobody who takes the name
    /// later may read them. Answers the session's rooms, which the store leaves next (each leave guarded by this
    /// token, so a newer session of the name, even on this node, keeps its own memberships).
    ///
    /// One of a registered name's several connections only goes from their list (`detached`): the session, its
    /// name and rooms stay the others'. A connection whose place a resume took (its id no longer the session's)
    /// ends nothing.
    /// KEYS: claim, session, sessionRooms, held directs, seen, connections
    /// ARGV: token, now, connection id ('' for any)
    /// Returns {'ended', room...}, {'detached'}, or {} when the session was no longer this one.
    static let endSession = RedisScript(
        name: "endSession",
        source: adoptConnection + "\n" + """
            local ours = redis.call('HGET', KEYS[2], 'tok') == ARGV[1]
            if ours and redis.call('EXISTS', KEYS[6]) == 1 then
                if redis.call('HDEL', KEYS[6], ARGV[3]) == 0 then return {} end
                if adoptConnection(KEYS[6], KEYS[2]) > 0 then return {'detached'} end
            end
            local connection = redis.call('HGET', KEYS[2], 'sid')
            if ours and ARGV[3] ~= '' and connection and connection ~= '' and connection ~= ARGV[3] then return {} end
            if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
            if not ours then return {} end
            local result = {'ended'}
            for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do table.insert(result, room) end
            redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[6])
            -- Only a record /seen still keeps: one forgotten past its cap is not brought back half-empty.
            if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('HSET', KEYS[5], 'disconnected', ARGV[2]) end
            return result
            """)

    /// The session of a dead incarnation, if it is still that incarnation's: its name, token and rooms, so that
    /// the reaper leaves them (each leave guarded by the token, so reapers that overlap announce each departure
    /// once). The claim goes now, if it is still that incarnation's (its token starts with the incarnation, or the
    /// session, that incarnation's, holds it); the
    /// session stays until its rooms are left (`endReapedSession`), so a reaper that stops midway leaves it for
    /// the next.
    ///
    /// A registered name connected from several places loses only the dead incarnation's connections: while any
    /// other remains, the claim, the session and its rooms are theirs (`adoptConnection`).
    /// KEYS: claim, session, sessionRooms, connections
    /// ARGV: incarnation
    /// Returns {name, token, room...}, or {} when the session is not that incarnation's.
    static let reapedSession = RedisScript(
        name: "reapedSession",
        source: adoptConnection + "\n" + """
            if redis.call('EXISTS', KEYS[4]) == 1 then
                local entries = redis.call('HGETALL', KEYS[4])
                for i = 1, #entries, 2 do
                    if string.match(entries[i + 1], '^(%S*)') == ARGV[1] then redis.call('HDEL', KEYS[4], entries[i]) end
                end
                if adoptConnection(KEYS[4], KEYS[2]) > 0 then return {} end
                -- Every connection the session had was the dead incarnation's: the session is, whatever node its
                -- own fields still named.
                redis.call('HSET', KEYS[2], 'inc', ARGV[1])
            end
            local token = redis.call('GET', KEYS[1])
            local session = redis.call('HMGET', KEYS[2], 'inc', 'tok')
            -- The claim's token names the node that made it. It goes when no session holds it, or when the
            -- session holding it is the dead incarnation's; a session that outlived the node that made its claim,
            -- on another connection (`adoptConnection`), keeps it.
            local madeThere = token and string.sub(token, 1, #ARGV[1] + 1) == ARGV[1] .. ':'
            if token and ((madeThere and session[2] ~= token) or (session[1] == ARGV[1] and session[2] == token)) then
                redis.call('DEL', KEYS[1])
            end
            if session[1] ~= ARGV[1] then return {} end
            local result = {redis.call('HGET', KEYS[2], 'name') or '', redis.call('HGET', KEYS[2], 'tok') or ''}
            for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do table.insert(result, room) end
            return result
            """)

    /// Ends a dead incarnation's session once its rooms are left, if it is still that incarnation's, and records
    /// the disconnect for /seen.
    /// KEYS: session, sessionRooms, held directs, seen
    /// ARGV: incarnation, now
    /// Returns 1 when it ended the session.
    static let endReapedSession = RedisScript(
        name: "endReapedSession",
        source: """
            if redis.call('HGET', KEYS[1], 'inc') ~= ARGV[1] then return 0 end
            redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
            if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('HSET', KEYS[4], 'disconnected', ARGV[2]) end
            return 1
            """)

    /// Sets or clears away and marks the session active; answers the rooms to tell (nothing when the session is
    /// gone).
    /// KEYS: session, sessionRooms
    /// ARGV: away text ('' = back), now
    static let presence = RedisScript(
        name: "presence",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
            if ARGV[1] == '' then redis.call('HDEL', KEYS[1], 'away') else redis.call('HSET', KEYS[1], 'away', ARGV[1]) end
            redis.call('HSET', KEYS[1], 'active', ARGV[2])
            return redis.call('SMEMBERS', KEYS[2])
            """)

    /// Marks a live session active (for the idle time `who` and WHOIS show). Only a live session: a write here must
    /// not re-create a reaped session without its TTL.
    /// KEYS: session
    /// ARGV: now
    static let markActive = RedisScript(
        name: "markActive",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
            return redis.call('HSET', KEYS[1], 'active', ARGV[1])
            """)

    /// KEYS: seen, session
    /// Returns name, connected, disconnected, node, whether a live session exists (1/0), whether its name is held
    /// while it reconnects (1/0), the real name, and of a live session: away text, `acct`, `oper`, last active,
    /// `bot`.
    static let seen = RedisScript(
        name: "seen",
        source: """
            local fields = redis.call('HMGET', KEYS[1], 'name', 'connected', 'disconnected', 'node', 'real')
            local live = redis.call('HMGET', KEYS[2], 'name', 'since', 'node', 'held', 'real', 'away', 'acct', 'oper',
                'active', 'bot')
            if live[1] then
                return {live[1], live[2], '', live[3], 1, live[4] and 1 or 0, live[5] or '', live[6] or '',
                    live[7] or '', live[8] or '', live[9] or '', live[10] or ''}
            end
            if not fields[1] then return {} end
            return {fields[1], fields[2] or '0', fields[3] or '', fields[4] or '', 0, 0, fields[5] or '', '', '', '', '',
                ''}
            """)

    /// Forgets a /seen record that fell past the cap, unless its owner connected again since (a newer record).
    /// KEYS: seen
    /// ARGV: connected time the index had for it
    static let forgetSeen = RedisScript(
        name: "forgetSeen",
        source: """
            if redis.call('HGET', KEYS[1], 'connected') ~= ARGV[1] then return 0 end
            return redis.call('DEL', KEYS[1])
            """)

    /// The peak of people connected at once, raised to a new count if higher.
    /// KEYS: peak
    /// ARGV: count
    /// Returns the peak.
    static let raisePeak = RedisScript(
        name: "raisePeak",
        source: """
            local peak = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
            local count = tonumber(ARGV[1])
            if count > peak then
                redis.call('SET', KEYS[1], count)
                return count
            end
            return peak
            """)

    static let all: [RedisScript] = [
        keepAlive.script, enterRoom, endSession, reapedSession, endReapedSession, presence, markActive, seen,
        forgetSeen, raisePeak,
    ]
}
