import ChatCore
import RedisClient

// One file because these scripts are one protocol: who may hold a name. The claim decides between a resume, a
// registered name's password check and a plain claim; hold, the held direct messages and the account scripts
// keep the fields the claim reads (`tok`, `rtok`, `held` in the session; the account's `hash`) consistent.

/// The scripts of names and identity: claims (plain, by password, by resume token), holding a dropped session's
/// name, direct messages queued meanwhile, and accounts. Key names follow `ChatKeys`.
enum IdentityScripts {
    /// The claim's keys and arguments, in the order `claim` declares them.
    struct ClaimParameters {
        var claimKey, sessionKey, sessionRoomsKey, seenKey, accountKey, nameFailuresKey, heldDirectsKey: String
        /// The person's own preferences (blocks): a guest newly taking the name starts without the last holder's.
        var preferencesKey: String
        /// The rooms the name owns: their count lives as long as the account, renewed with it.
        var ownedRoomsKey: String
        /// The name's connections while it has several (`ChatKeys.connections`), and the resume tokens of those
        /// that dropped (`ChatKeys.droppedResumes`).
        var connectionsKey, droppedResumesKey: String
        var token: String
        /// The name as the person typed it.
        var name: String
        var incarnation, node: String
        var now: Millis
        var claimTTL: Int
        /// '' when unknown: then only the name's limit applies.
        var addressGroup: String
        var sessionTTL, seenTTL: Int
        /// The hash of the resume token the hello brought.
        var resumeHash: String?
        /// The account's hash, once the node has checked the password against it.
        var verifiedHash: String?
        var passwordGiven: Bool
        var failuresPerName: Int
        /// The person's channel, where the connection a takeover replaces hears that it must close.
        var userChannel: String
        var newResumeHash: String
        /// The claiming session, which that notice skips.
        var origin: String
        var failureWindow, accountLifetime: Int
        /// Whether the password check behind `verifiedHash` is still counted as a failure of the name: it is
        /// uncounted here. False when it was uncounted already, or never counted (a known address's).
        var uncountsCheck: Bool
        /// What the person calls themselves ('' for nothing): a new session's `real`, and /seen's.
        var realName: String
        /// How many connections a registered name may have at once (`StoreBounds.connectionsPerName`).
        var connectionsPerName: Int
        /// Seconds a connection has lasted before a login at the limit may take its place.
        var connectionSeniority: Int
        /// Rooms the client is about to rejoin: a takeover keeps these memberships and leaves the others.
        var keeping: [String]
    }

    /// Returns one of
    ///   {'claimed', old token, old name, room...}   the name is this session's, a new session; a stale session
    ///                                               it replaced (token '' when none) was in these rooms
    ///   {'resumed', since, old token, old name, kept count, author, kept room..., left room...}
    ///                                    it took over a session (resume token, or a registered name's password)
    ///   {'attached', token, since, author, name, room...}
    ///                                    one more connection of a registered name's live session (its password,
    ///                                    or the resume token of one of its connections, which it replaces)
    ///   {'crowded', count}               the name has as many connections as it may
    ///   {'held', holder, reconnecting}   somebody holds it (or a name that looks like it)
    ///   {'password'}                     registered; no password given
    ///   {'verify', hash, counted}        registered; check the password against hash, then claim again with it;
    ///                                    counted '1' when the check was counted as a failure of the name
    ///   {'wrong'}                        a password for a name that is not registered (counted nowhere: nothing
    ///                                    was guessed)
    ///   {'locked', seconds}              too many failed logins lately for the name
    ///   {'suspended', entry}             a server operator suspended the name (until, by, reason as lines)
    ///
    /// Only the person's keys are here (their tag): the rooms of a replaced or taken-over session are answered,
    /// and the store moves or ends those memberships, announces the departures, and keeps the incarnations' user
    /// sets and /seen's index (`ChatStore.claimName`). Failed logins from the client's address are counted by
    /// the store too, around this script.
    ///
    /// A takeover (resume token, or a verified password while the name is held) keeps the rooms the client will
    /// rejoin and drops the others, and tells whatever connection still holds the session (on the user's channel)
    /// to close. Its `held` mark stays until `takeHeldDirects`, so a direct message sent in between is queued, not
    /// lost.
    ///
    /// Every password check is counted as a failure *before* it is made (at `verify`), and uncounted when the
    /// verified claim comes back: guesses sent in parallel cannot slip past the limit while the hashes run. A
    /// successful login also extends the account's life (accounts nobody logs in to for a year go).
    ///
    /// The name's limit is for strangers: the account remembers the address groups its owner registered or last
    /// logged in from (`known`, the latest 8), and a check from one of them is neither locked out by the name's
    /// failures nor counted in them (its address's own limit, counted by the store, still holds). So guessing
    /// at a name from elsewhere cannot lock its owner out at home, as sign-in from a known device works in the
    /// big services while strangers are throttled.
    ///
    /// A registered name connected elsewhere gets one more connection, not a takeover (`attach`): the password
    /// (or one of its connections' resume tokens) joins the session, under its token, in all its rooms, up to
    /// `connectionsPerName`; the connections are listed (`ChatKeys.connections`) so that each one's release,
    /// drop and node death lets only that one go. A session held for its one dropped connection is taken over as
    /// before (that connection, coming back, attaches with its password).
    ///
    /// A free name may still have an old session record: its node died and its claim expired a moment before a
    /// survivor reaped it. That session's rooms are answered so that they are told it left, and no membership is
    /// left behind.
    static let claim = NamedScript<ClaimParameters>(
        name: "claim",
        keys: [
            .init("claimKey", \.claimKey), .init("sessionKey", \.sessionKey),
            .init("sessionRoomsKey", \.sessionRoomsKey), .init("seenKey", \.seenKey),
            .init("accountKey", \.accountKey), .init("nameFailuresKey", \.nameFailuresKey),
            .init("heldDirectsKey", \.heldDirectsKey), .init("preferencesKey", \.preferencesKey),
            .init("ownedRoomsKey", \.ownedRoomsKey), .init("connectionsKey", \.connectionsKey),
            .init("droppedResumesKey", \.droppedResumesKey),
        ],
        arguments: [
            .init("token", \.token), .init("name", \.name), .init("incarnation", \.incarnation),
            .init("node", \.node), .init("now", \.now), .init("claimTTL", \.claimTTL),
            .init("addressGroup", \.addressGroup), .init("sessionTTL", \.sessionTTL), .init("seenTTL", \.seenTTL),
            .init("resumeHash", \.resumeHash), .init("verifiedHash", \.verifiedHash),
            .init("passwordGiven", \.passwordGiven), .init("failuresPerName", \.failuresPerName),
            .init("userChannel", \.userChannel), .init("newResumeHash", \.newResumeHash), .init("origin", \.origin),
            .init("failureWindow", \.failureWindow), .init("accountLifetime", \.accountLifetime),
            .init("uncountsCheck", \.uncountsCheck), .init("realName", \.realName),
            .init("connectionsPerName", \.connectionsPerName), .init("connectionSeniority", \.connectionSeniority),
        ],
        rest: .init("keeping", \.keeping),
        body: """
            local nowMillis = tonumber(now)
            -- A suspended name: no login at all, not even a resume, until the suspension lapses (then it goes).
            local suspension = redis.call('HGET', accountKey, 'suspended')
            if suspension then
                local lapse = tonumber(string.match(suspension, '^(%d+)')) or 0
                if lapse == 0 or lapse > nowMillis then return {'suspended', suspension} end
                redis.call('HDEL', accountKey, 'suspended')
                redis.call('EXPIRE', accountKey, accountLifetime)
            end
            -- Logged in with the account's password: the session says so (`acct`), and a resume keeps it.
            local verified = false
            local function takeOver()
                if verified then redis.call('HSET', sessionKey, 'acct', '1') end
                -- What the new connection says of itself; operator status is confirmed again after the login.
                redis.call('HDEL', sessionKey, 'oper')
                if realName ~= '' then redis.call('HSET', sessionKey, 'real', realName) end
                local oldToken = redis.call('HGET', sessionKey, 'tok') or ''
                local heldName = redis.call('HGET', sessionKey, 'name') or ''
                local keep = {}
                for _, room in ipairs(keeping) do keep[room] = true end
                local kept, left = {}, {}
                for _, room in ipairs(redis.call('SMEMBERS', sessionRoomsKey)) do
                    if keep[room] then
                        table.insert(kept, room)
                    else
                        redis.call('SREM', sessionRoomsKey, room)
                        table.insert(left, room)
                    end
                end
                redis.call('SET', claimKey, token, 'EX', claimTTL)
                -- Connections the session had besides lose it with its token (a deployment allowing one).
                redis.call('DEL', connectionsKey, droppedResumesKey)
                redis.call('HSET', sessionKey, 'inc', incarnation, 'node', node, 'tok', token, 'addr', addressGroup,
                    'rtok', newResumeHash, 'held', nowMillis, 'sid', origin)
                redis.call('EXPIRE', sessionKey, sessionTTL)
                redis.call('EXPIRE', sessionRoomsKey, sessionTTL)
                redis.call('SPUBLISH', userChannel, cjson.encode({k = 'resumed', name = heldName, ts = nowMillis, sid = origin}))
                -- Who may edit and delete what the session said (`au`): made at its claim, kept by every resume.
                local author = redis.call('HGET', sessionKey, 'au')
                if not author or author == '' then
                    author = oldToken ~= '' and oldToken or token
                    redis.call('HSET', sessionKey, 'au', author)
                end
                local result = {'resumed', redis.call('HGET', sessionKey, 'since') or now, oldToken, heldName, #kept,
                    author}
                for _, room in ipairs(kept) do table.insert(result, room) end
                for _, room in ipairs(left) do table.insert(result, room) end
                return result
            end

            -- One more connection of a live session: `replacing`, the connection whose resume token it brought
            -- (its client reconnected before the old connection was seen to drop), told to close.
            local function attach(replacing)
                local fields = redis.call('HMGET', sessionKey, 'tok', 'since', 'au', 'name', 'sid')
                -- Only to a session whose claim is its own and whose connection is known (not one Redis lost half
                -- of, nor one the reaper is ending): else the login takes it over.
                if not fields[5] or fields[5] == '' or redis.call('GET', claimKey) ~= fields[1] then return nil end
                local count = redis.call('HLEN', connectionsKey)
                if count == 0 then
                    local own = redis.call('HMGET', sessionKey, 'inc', 'node', 'rtok')
                    redis.call('HSET', connectionsKey, fields[5], (own[1] or '') .. ' ' .. (own[2] or '') .. ' '
                        .. (own[3] or '') .. ' ' .. (fields[2] or now))
                    count = 1
                end
                local evicted = not replacing and count >= tonumber(connectionsPerName)
                if evicted then
                    -- Full: a password login takes the oldest connection's place, if it has lasted a while (the
                    -- owner gets in, and a password change then closes the rest; two clients that reconnect by
                    -- themselves do not take turns); a dropped connection's token does not.
                    if not verified then return {'crowded', count} end
                    local entries = redis.call('HGETALL', connectionsKey)
                    local oldestSince
                    for i = 1, #entries, 2 do
                        local since = tonumber(string.match(entries[i + 1], '^%S* %S* %S* (%d+)') or '0')
                        if not oldestSince or since < oldestSince then replacing, oldestSince = entries[i], since end
                    end
                    if oldestSince > nowMillis - tonumber(connectionSeniority) * 1000 then return {'crowded', count} end
                end
                if replacing then
                    redis.call('HDEL', connectionsKey, replacing)
                    redis.call('SPUBLISH', userChannel, cjson.encode({k = 'resumed', name = fields[4] or name,
                        ts = nowMillis, sid = origin, to = replacing, msg = evicted and 'evicted' or nil}))
                    -- The session's own fields named the connection replaced: they name this one now (the reaper
                    -- finds the session by them).
                    if replacing == fields[5] then
                        redis.call('HSET', sessionKey, 'sid', origin, 'inc', incarnation, 'node', node,
                            'rtok', newResumeHash)
                    end
                end
                redis.call('HSET', connectionsKey, origin, incarnation .. ' ' .. node .. ' ' .. newResumeHash .. ' '
                    .. now)
                redis.call('EXPIRE', connectionsKey, sessionTTL)
                redis.call('EXPIRE', claimKey, claimTTL)
                if verified then redis.call('HSET', sessionKey, 'acct', '1') end
                local result = {'attached', fields[1] or '', fields[2] or now, fields[3] or '', fields[4] or name}
                for _, room in ipairs(redis.call('SMEMBERS', sessionRoomsKey)) do table.insert(result, room) end
                return result
            end

            local live = redis.call('HGET', sessionKey, 'inc')
            if resumeHash ~= '' and live then
                if redis.call('EXISTS', connectionsKey) == 1 then
                    local entries = redis.call('HGETALL', connectionsKey)
                    for i = 1, #entries, 2 do
                        if string.match(entries[i + 1], '^%S* %S* (%S*)') == resumeHash then
                            local attached = attach(entries[i])
                            if attached then return attached end
                        end
                    end
                elseif redis.call('HGET', sessionKey, 'rtok') == resumeHash then
                    return takeOver()
                end
                -- One of several that dropped, back within the grace period: one more connection again (or the
                -- session's, when the others dropped too and it is held). At the limit, a client that brought the
                -- password too goes on to it (which may take the oldest one's place); the token stays.
                local dropped = tonumber(redis.call('HGET', droppedResumesKey, resumeHash) or '0')
                local full = math.max(redis.call('HLEN', connectionsKey), 1) >= tonumber(connectionsPerName)
                if dropped > nowMillis and not (full and passwordGiven == '1') then
                    redis.call('HDEL', droppedResumesKey, resumeHash)
                    if redis.call('HGET', sessionKey, 'held') then return takeOver() end
                    return attach(nil) or takeOver()
                end
            end

            local function charge(by)
                local count = redis.call('INCRBY', nameFailuresKey, by)
                if count <= 0 then redis.call('DEL', nameFailuresKey)
                elseif by > 0 and redis.call('TTL', nameFailuresKey) < 0 then
                    redis.call('EXPIRE', nameFailuresKey, failureWindow)
                end
            end
            local hash = redis.call('HGET', accountKey, 'hash')
            if hash or passwordGiven == '1' then
                if not hash then return {'wrong'} end
                local knownList = redis.call('HGET', accountKey, 'known') or ''
                local known = addressGroup ~= ''
                    and string.find(' ' .. knownList .. ' ', ' ' .. addressGroup .. ' ', 1, true) ~= nil
                local failures = tonumber(redis.call('GET', nameFailuresKey) or '0')
                if verifiedHash == '' and not known and failures >= tonumber(failuresPerName) then
                    return {'locked', math.max(redis.call('TTL', nameFailuresKey), 1)}
                end
                if verifiedHash ~= hash then
                    if passwordGiven == '1' then
                        if known then return {'verify', hash, '0'} end
                        charge(1)
                        return {'verify', hash, '1'}
                    end
                    return {'password'}
                end
                -- The password was right: its check was counted as a failure in advance (unless uncounted since).
                if uncountsCheck == '1' then charge(-1) end
                if addressGroup ~= '' then
                    local list = {addressGroup}
                    for address in string.gmatch(knownList, '%S+') do
                        if address ~= addressGroup and #list < 8 then table.insert(list, address) end
                    end
                    redis.call('HSET', accountKey, 'known', table.concat(list, ' '))
                end
                redis.call('EXPIRE', accountKey, accountLifetime)
                redis.call('EXPIRE', ownedRoomsKey, accountLifetime)
                verified = true
                -- The password is verified: the owner gets the name even from their own dropped or stale session;
                -- a live one gets one more connection.
                if live and redis.call('EXISTS', claimKey) == 1 then
                    if tonumber(connectionsPerName) > 1 and not redis.call('HGET', sessionKey, 'held') then
                        local attached = attach(nil)
                        if attached then return attached end
                    end
                    return takeOver()
                end
            end

            if not redis.call('SET', claimKey, token, 'NX', 'EX', claimTTL) then
                local fields = redis.call('HMGET', sessionKey, 'name', 'held')
                return {'held', fields[1] or '', fields[2] and '1' or '0'}
            end
            local result = {'claimed', live and (redis.call('HGET', sessionKey, 'tok') or '') or '',
                redis.call('HGET', sessionKey, 'name') or ''}
            if live then
                for _, room in ipairs(redis.call('SMEMBERS', sessionRoomsKey)) do table.insert(result, room) end
            end
            redis.call('DEL', sessionKey, sessionRoomsKey, heldDirectsKey, connectionsKey, droppedResumesKey)
            -- A new guest does not inherit the last holder's blocks; a registered name's owner keeps theirs.
            if not verified then redis.call('DEL', preferencesKey) end
            redis.call('HSET', sessionKey, 'name', name, 'inc', incarnation, 'node', node, 'since', now,
                'active', now, 'addr', addressGroup, 'tok', token, 'rtok', newResumeHash, 'acct', verified and '1' or '0',
                'au', token, 'sid', origin,
                'real', realName)
            redis.call('EXPIRE', sessionKey, sessionTTL)
            redis.call('HSET', seenKey, 'name', name, 'connected', now, 'disconnected', '', 'node', node,
                'real', realName)
            redis.call('EXPIRE', seenKey, seenTTL)
            return result
            """)

    /// A dropped connection's name is kept for its resume token's holder: the claim lives `grace` seconds more
    /// and the session is marked held (shown as reconnecting); rooms keep the member. Nothing if the session is
    /// no longer this one. One of a registered name's several connections is only let go (2): the others keep
    /// the session, and the dropped client comes back as one more, with its resume token within the grace period
    /// (`ChatKeys.droppedResumes`) or its password.
    /// KEYS: claim, session, connections, dropped resumes
    /// ARGV: token, grace seconds, now, connection id ('' for any)
    static let hold = RedisScript(
        name: "hold",
        source: SessionScripts.adoptConnection + "\n" + """
            if redis.call('HGET', KEYS[2], 'tok') ~= ARGV[1] then return 0 end
            if redis.call('EXISTS', KEYS[3]) == 1 then
                local entry = redis.call('HGET', KEYS[3], ARGV[4])
                if not entry then return 0 end
                redis.call('HDEL', KEYS[3], ARGV[4])
                local resume = string.match(entry, '^%S* %S* (%S+)')
                if resume then
                    -- Kept for the grace period; those past it go now, so a connection that keeps dropping cannot
                    -- grow the list.
                    local dropped = redis.call('HGETALL', KEYS[4])
                    for i = 1, #dropped, 2 do
                        if tonumber(dropped[i + 1]) <= tonumber(ARGV[3]) then redis.call('HDEL', KEYS[4], dropped[i]) end
                    end
                    redis.call('HSET', KEYS[4], resume, tonumber(ARGV[3]) + tonumber(ARGV[2]) * 1000)
                    redis.call('EXPIRE', KEYS[4], math.max(tonumber(ARGV[2]), 1))
                end
                if adoptConnection(KEYS[3], KEYS[2]) > 0 then return 2 end
            end
            local connection = redis.call('HGET', KEYS[2], 'sid')
            if ARGV[4] ~= '' and connection and connection ~= '' and connection ~= ARGV[4] then return 0 end
            local holder = redis.call('GET', KEYS[1])
            if holder and holder ~= ARGV[1] then return 0 end
            redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
            redis.call('HSET', KEYS[2], 'held', tonumber(ARGV[3]) + tonumber(ARGV[2]) * 1000)
            return 1
            """)

    /// A direct message: published to the user's node, or, while their name is held for them, queued for their
    /// resume (bounded, and gone with the hold). Unless the recipient blocks the sender: then it is dropped, and the
    /// sender is answered as if it were not (sent while somebody holds the name, nobody otherwise), so blocking is
    /// not announced, as with IRC's SILENCE. Or unless the recipient, connected, refuses guests' messages and the
    /// sender is one (told; nothing is said of someone who is not connected).
    /// With an archive, a message delivered or queued is also added to the recipient's direct log
    /// (`ChatKeys.directLog`, which the archiver reads), in the same step, so none the recipient gets is missing
    /// from it; with the sender's identity (`SessionGrant.author`) and the recipient's, as their grant will make it
    /// (`account:<key>:<when made>` for a registered name logged in with its password, `guest:<au>` otherwise): whose
    /// the message is when either searches.
    /// A full log (the archive down for long) takes no more: the message is delivered, and counted as lost to the
    /// archive (`ChatKeys.directLogLost`). A recipient session without its `au` (none should be) gets no identity
    /// (''), so nobody finds the message as theirs.
    /// KEYS: session, held directs, the recipient's preferences, direct log, account, direct log's lost count
    /// ARGV: channel, payload, queue ttl, queued at most, the sender's user key, '1' when the sender is registered,
    ///   'live' or '' ('live': never queued nor archived, for what is worth nothing late, such as client tags),
    ///   log length ('' or '0': no archive), the sender's identity, log ttl, the recipient's user key, the message's
    ///   trace ('' or none: for the published copy only, `RoomScripts.tracedCopy`)
    /// Returns {1, away text} when delivered or queued (or seemingly so; the text '' unless the recipient is away and
    /// does not block the sender), {0, ''} when nobody has the name, {-1, ''} when guests are refused.
    static let direct = RedisScript(
        name: "direct",
        source: RoomScripts.tracedCopy + "\n" + """
            local preferences = redis.call('HMGET', KEYS[3], 'b:' .. ARGV[5], 'dms')
            local session = redis.call('HMGET', KEYS[1], 'inc', 'away', 'held', 'au', 'acct')
            local someone = session[1] ~= false
            local away = session[2] or ''
            if preferences[1] then return {someone and 1 or 0, ''} end
            if someone and preferences[2] == 'registered' and ARGV[6] ~= '1' then return {-1, ''} end
            local function archive()
                local length = tonumber(ARGV[8] or '') or 0
                if length <= 0 or ARGV[7] == 'live' then return end
                if redis.call('XLEN', KEYS[4]) >= length then
                    redis.call('INCR', KEYS[6])
                    redis.call('EXPIRE', KEYS[6], ARGV[10])
                    redis.call('EXPIRE', KEYS[4], ARGV[10])
                    return
                end
                local recipient = ''
                if session[4] and session[4] ~= '' then recipient = 'guest:' .. session[4] end
                if session[5] == '1' then
                    local made = redis.call('HGET', KEYS[5], 'created')
                    if made then recipient = 'account:' .. ARGV[11] .. ':' .. made end
                end
                redis.call('XADD', KEYS[4], '*', 'p', ARGV[2], 'sa', ARGV[9], 'ri', recipient)
                redis.call('EXPIRE', KEYS[4], ARGV[10])
            end
            if redis.call('SPUBLISH', ARGV[1], tracedCopy(ARGV[2], ARGV[12])) > 0 then
                archive()
                return {1, away}
            end
            if not session[3] or ARGV[7] == 'live' then return {0, ''} end
            redis.call('RPUSH', KEYS[2], ARGV[2])
            redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
            redis.call('EXPIRE', KEYS[2], ARGV[3])
            archive()
            return {1, away}
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

    /// The stored hash of a registered name, for checking a password, unless failed logins for the name lock it.
    /// The check about to be made is counted as a failure now (and uncounted when it was right), so checks made in
    /// parallel cannot slip past the limit, as in `claim`; as there, a check from an address the owner logged in
    /// from is neither locked nor counted for the name, and a name that is not registered is counted nowhere.
    /// (The client's address is counted by the store, with `IndexScripts.count`.)
    /// KEYS: account, failures by name
    /// ARGV: failures per name, window seconds, address group
    /// Returns {'hash', hash, counted ('1': counted for the name)}, {'none'} or {'locked', seconds}.
    static let accountHash = RedisScript(
        name: "accountHash",
        source: """
            local hash = redis.call('HGET', KEYS[1], 'hash')
            if not hash then return {'none'} end
            local known = redis.call('HGET', KEYS[1], 'known') or ''
            if ARGV[3] ~= '' and string.find(' ' .. known .. ' ', ' ' .. ARGV[3] .. ' ', 1, true) then
                return {'hash', hash, '0'}
            end
            if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[1]) then
                return {'locked', math.max(redis.call('TTL', KEYS[2]), 1)}
            end
            if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
            return {'hash', hash, '1'}
            """)

    /// Whether a session may register its name: it holds the claim and the name is not registered yet. (Its
    /// address's registrations in the last hour are counted by the store next, before the hash is made, so a
    /// refused registration costs no hashing.)
    /// KEYS: account, claim
    /// ARGV: token
    static let mayRegister = RedisScript(
        name: "mayRegister",
        source: """
            if redis.call('GET', KEYS[2]) ~= ARGV[1] then
                return redis.error_reply('CHAT name-lost your name is no longer yours; reconnect')
            end
            if redis.call('EXISTS', KEYS[1]) == 1 then
                return redis.error_reply('CHAT bad-request this name is registered already')
            end
            return 1
            """)

    /// The keys and arguments of `setAccount`, in the order it declares them.
    struct SetAccountParameters {
        var accountKey: String
        var claimKey: String
        /// The person's session, connections, dropped connections' resume tokens and channel: a new password (or
        /// none) closes every other connection of the name.
        var sessionKey, connectionsKey, droppedResumesKey, userChannel: String
        /// The connection that changes the password, which stays, its resume token's hash, and where it is.
        var origin, resumeHash, incarnation, node: String
        /// The claim token of the session that holds the name.
        var token: String
        /// The hash the old password was checked against; nil: no account yet.
        var expectedHash: String?
        /// Nil removes the account.
        var newHash: String?
        var name: String
        var now: Millis
        /// Seconds.
        var lifetime: Int
        var addressGroup: String
    }

    /// Registers, re-hashes or removes an account, for the session that holds the name (its claim token), and
    /// only if the stored hash is still the one the node checked the old password against ('' = no account yet).
    /// An account lives `lifetime` seconds from its last login (or change).
    /// A new account remembers the address group it was registered from as its owner's (see `claim`).
    ///
    /// A password changed (or the account removed) by one of a registered name's several connections closes the
    /// others (a `resumed` notice for all but `origin`), so someone who had the old password is out with it, and
    /// none of their resume tokens comes back.
    static let setAccount = NamedScript<SetAccountParameters>(
        name: "setAccount",
        keys: [
            .init("accountKey", \.accountKey), .init("claimKey", \.claimKey), .init("sessionKey", \.sessionKey),
            .init("connectionsKey", \.connectionsKey), .init("droppedResumesKey", \.droppedResumesKey),
        ],
        arguments: [
            .init("userChannel", \.userChannel), .init("origin", \.origin), .init("resumeHash", \.resumeHash),
            .init("incarnation", \.incarnation), .init("node", \.node),
            .init("token", \.token), .init("expectedHash", \.expectedHash), .init("newHash", \.newHash),
            .init("name", \.name), .init("now", \.now), .init("lifetime", \.lifetime),
            .init("addressGroup", \.addressGroup),
        ],
        body: """
            if redis.call('GET', claimKey) ~= token then
                return redis.error_reply('CHAT name-lost your name is no longer yours; reconnect')
            end
            local current = redis.call('HGET', accountKey, 'hash') or ''
            if current ~= expectedHash then
                if expectedHash == '' then return redis.error_reply('CHAT bad-request this name is registered already') end
                return redis.error_reply('CHAT bad-password the password was changed meanwhile; try again')
            end
            if expectedHash ~= '' and origin ~= '' and redis.call('HGET', sessionKey, 'tok') == token then
                local others = redis.call('EXISTS', connectionsKey) == 1 or redis.call('EXISTS', droppedResumesKey) == 1
                redis.call('DEL', connectionsKey, droppedResumesKey)
                redis.call('HSET', sessionKey, 'sid', origin, 'rtok', resumeHash, 'inc', incarnation, 'node', node)
                if others then
                    redis.call('SPUBLISH', userChannel, cjson.encode({k = 'resumed', name = name,
                        ts = tonumber(now), sid = origin, msg = 'password'}))
                end
            end
            if newHash == '' then
                redis.call('DEL', accountKey)
                return 1
            elseif expectedHash == '' then
                redis.call('HSET', accountKey, 'name', name, 'hash', newHash, 'created', now, 'known', addressGroup)
            else
                redis.call('HSET', accountKey, 'hash', newHash)
            end
            redis.call('EXPIRE', accountKey, lifetime)
            return 1
            """)

    static let all: [RedisScript] = [
        claim.script, hold, direct, takeHeldDirects, accountHash, mayRegister, setAccount.script,
    ]
}
