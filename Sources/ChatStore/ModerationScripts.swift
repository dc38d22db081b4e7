import ChatCore
import RedisClient

// One file because these scripts share their Lua helpers and one room's moderation keys (roles, rules, bans), and
// the checks the join, message and topic scripts make are built from the snippets here: read together, they are
// one schema.

/// Room moderation (docs/moderation.md) in scripts on the room's tag: every check of the actor's role, the room's
/// settings and its bans is made where the change is applied, in one step, so two operators on two nodes never
/// leave half a change, and every node enforces the same state. The checks on the common paths (a join, a message,
/// a topic) live in `RoomScripts`, built from the snippets here.
enum ModerationScripts {
    /// Lua helpers every moderation script declares: `lines` splits a stored entry (until, by, reason...),
    /// `isOperator` and `isOwner` read a member's role letters (an owner moderates with or without `o`), `keep`
    /// renews a key's life without ever shortening it (a registered room's keys live for a year, an ordinary room's
    /// for its idle days), `lifeOf` is how long a room's keys are kept, and `globMatches` matches a ban's glob (`*`
    /// any run, `?` one UTF-8 character) against a key or host. Needs `rolesKey`.
    ///
    /// The glob is matched by hand, not as a Lua pattern: Lua's matcher backtracks, and a mask of many stars
    /// (`*a*a*a...*b`) against a long name would hold the shard for minutes. This one remembers the last star
    /// only, so it costs at most the product of the two lengths (100 bytes by 128).
    static let helpers = """
        local function charLength(text, at)
            local byte = string.byte(text, at)
            if byte >= 240 then return 4 elseif byte >= 224 then return 3 elseif byte >= 192 then return 2 end
            return 1
        end
        local function globMatches(glob, text)
            local g, t, star, resume = 1, 1, nil, nil
            while t <= #text do
                local c = string.sub(glob, g, g)
                if c == '*' then
                    star, resume, g = g, t, g + 1
                elseif c == '?' then
                    g, t = g + 1, t + charLength(text, t)
                elseif c ~= '' and c == string.sub(text, t, t) then
                    g, t = g + 1, t + 1
                elseif star then
                    resume = resume + charLength(text, resume)
                    g, t = star + 1, resume
                else
                    return false
                end
            end
            while string.sub(glob, g, g) == '*' do g = g + 1 end
            return g > #glob
        end
        local function lines(text)
            local fields = {}
            for part in string.gmatch(text .. '\\n', '([^\\n]*)\\n') do fields[#fields + 1] = part end
            return fields
        end
        local function isOperator(who)
            return string.find(redis.call('HGET', rolesKey, who) or '', '[oq]') ~= nil
        end
        local function isOwner(who)
            -- A `q` outliving its room's registration (it lapsed a year after the owner's last join) owns nothing.
            return string.find(redis.call('HGET', rolesKey, who) or '', 'q', 1, true) ~= nil
                and redis.call('HEXISTS', rulesKey, 'owner') == 1
        end
        local function keep(key, seconds)
            redis.call('EXPIRE', key, seconds, 'NX')
            redis.call('EXPIRE', key, seconds, 'GT')
        end
        local function lifeOf(rules, idle)
            if redis.call('HEXISTS', rules, 'owner') == 1 then
                return math.max(tonumber(idle), redis.call('TTL', rules))
            end
            return idle
        end
        local function refuse(code, text) return redis.error_reply('CHAT ' .. code .. ' ' .. text) end

        """

    /// What `RoomScripts.join` checks before a session that is not yet a member gets in: registered-only first
    /// (an invitation does not make a guest registered), then, unless an operator invited them, the member limit,
    /// the key, invite-only and the bans, in Ergo's order. A ban's glob is matched against the name's key and
    /// the keys of the names it looks like (`lookAlikes`: `aIice` is banned with `alice`). An expired ban is
    /// removed on the way. An invitation is used up.
    /// Needs `membersKey rulesKey bansKey user lookAlikes room registered addressBits shownHost givenKey now`.
    static let admissionCheck = """
        local rules = redis.call('HMGET', rulesKey, 'i', 'k', 'l', 'R', 'invite:' .. user)
        local invited = rules[5] and (tonumber(string.match(rules[5], '^%d+')) or 0) > tonumber(now)
        if rules[4] and registered ~= '1' then
            return refuse('registered-only', '#' .. room .. ' lets in registered names only: /register one first')
        end
        if not invited then
            if rules[3] and redis.call('HLEN', membersKey) >= tonumber(rules[3]) then
                return refuse('room-full', '#' .. room .. ' is full (' .. rules[3] .. ' members)')
            end
            if rules[2] and rules[2] ~= givenKey then
                return refuse('bad-key', '#' .. room .. ' needs its key: /join #' .. room .. ' KEY')
            end
            if rules[1] then
                return refuse('invite-only', '#' .. room .. ' is invite-only: ask one of its operators to /invite you')
            end
            local keys = {user}
            for key in string.gmatch(lookAlikes, '%S+') do keys[#keys + 1] = key end
            local function named(glob)
                for _, key in ipairs(keys) do if globMatches(glob, key) then return true end end
                return false
            end
            local bans = redis.call('HGETALL', bansKey)
            for i = 1, #bans, 2 do
                local ban = lines(bans[i + 1])
                local lapse = tonumber(ban[1]) or 0
                if lapse ~= 0 and lapse <= tonumber(now) then
                    redis.call('HDEL', bansKey, bans[i])
                elseif named(ban[2]) and ((ban[4] ~= '' and addressBits ~= ''
                        and string.sub(addressBits, 1, #ban[4]) == ban[4])
                        or (ban[4] == '' and globMatches(ban[3], shownHost))) then
                    local why = ban[7] ~= '' and (': ' .. ban[7]) or ''
                    return refuse('banned', 'you are banned from #' .. room .. why)
                end
            end
        end
        if rules[5] then redis.call('HDEL', rulesKey, 'invite:' .. user) end
        """

    /// The keys and arguments of `moderate`, in the order it declares them.
    struct ModerateParameters {
        var membersKey: String
        var rolesKey: String
        var rulesKey: String
        var bansKey: String
        var actor: String
        var roomIdleTTL: Int
        var channel: String
        /// The mode event for the room ('' for none: only an address ban, which the room is not told).
        var notice: String
        /// A member to remove too (a ban by name), by user key; '' for none.
        var removing: String
        var kickNotice: String
        /// Six fields per change: kind, then `role`: user, on, letter, name, and when the account of that name was
        /// made ('' for a guest); `flag`: letter, on; `key` and `limit`: value ('' clears); `ban`: mask, on, entry;
        /// `mute`: user, on, entry, name.
        var changes: [String]
    }

    /// An operator's changes, all or none: first every check (the actor is an operator, a role goes to a member,
    /// the lists have room), then every change, then the room is told. Returns 1 when `removing` was a member and
    /// is one no longer, else 0.
    ///
    /// In a registered room (`owner` in its rules) only the owner grants or takes operator, nobody mutes, bans by
    /// name or takes a role from the owner, and a role given to a registered name is kept in the room's list
    /// (`access:<user>`: letters, when the account was made, name) and given again at each of its joins; a role
    /// taken is taken from the list too. A guest's role lasts their membership, as everywhere.
    static let moderate = NamedScript<ModerateParameters>(
        name: "moderate",
        keys: [
            .init("membersKey", \.membersKey), .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey),
            .init("bansKey", \.bansKey),
        ],
        arguments: [
            .init("actor", \.actor), .init("roomIdleTTL", \.roomIdleTTL), .init("channel", \.channel),
            .init("notice", \.notice), .init("removing", \.removing), .init("kickNotice", \.kickNotice),
        ],
        rest: .init("changes", \.changes),
        body: helpers + """
            if not isOperator(actor) then return refuse('not-operator', 'only the room\\'s operators may do that') end
            local registration = redis.call('HGET', rulesKey, 'owner')
            local actorOwns = isOwner(actor)
            if removing ~= '' and isOwner(removing) then
                return refuse('not-owner', 'the room\\'s owner cannot be banned from it')
            end
            -- Entries this request adds, counted against the caps with those already kept.
            local newRules, newBans = 0, 0
            for i = 1, #changes, 6 do
                local kind, subject, on, value = changes[i], changes[i + 1], changes[i + 2], changes[i + 3]
                if kind == 'role' and value == 'q' then
                    return refuse('not-owner', 'ownership moves only with /room transfer (IRC: ChanServ TRANSFER)')
                elseif kind == 'role' and value == 'o' and registration and not actorOwns then
                    return refuse('not-owner', 'in a registered room only its owner grants or takes operator')
                elseif kind == 'role' and on == '0' and isOwner(subject) and not actorOwns then
                    return refuse('not-owner', 'only the owner takes a role from the owner')
                elseif kind == 'mute' and on == '1' and isOwner(subject) then
                    return refuse('not-owner', 'the room\\'s owner cannot be muted')
                elseif kind == 'role' and on == '1' and redis.call('HEXISTS', membersKey, subject) == 0 then
                    return refuse('not-in-room', changes[i + 4] .. ' is not in the room')
                end
                local field = (kind == 'role' and registration and changes[i + 5] ~= '' and 'access:' .. subject)
                    or (kind == 'mute' and 'mute:' .. subject)
                if on == '1' and field and redis.call('HEXISTS', rulesKey, field) == 0 then
                    newRules = newRules + 1
                    if redis.call('HLEN', rulesKey) + newRules > \(ModerationLimits.maximumRules) then
                        return refuse('list-full', 'the room keeps as many roles, mutes and invitations as it may')
                    end
                elseif kind == 'ban' and on == '1' and redis.call('HEXISTS', bansKey, subject) == 0 then
                    newBans = newBans + 1
                    if redis.call('HLEN', bansKey) + newBans > \(ModerationLimits.maximumBans) then
                        return refuse('list-full', 'the room has \(ModerationLimits.maximumBans) bans already: lift one first')
                    end
                end
            end
            local function withLetter(letters, letter, on)
                local without = string.gsub(letters, letter, '')
                if on ~= '1' then return without end
                -- Highest first, as the letters are read: q, o, v.
                local after = ''
                for _, each in ipairs({'q', 'o', 'v'}) do
                    if each == letter or string.find(without, each, 1, true) then after = after .. each end
                end
                return after
            end
            local ownerKey = registration and lines(registration)[1]
            for i = 1, #changes, 6 do
                local kind, subject, on, value = changes[i], changes[i + 1], changes[i + 2], changes[i + 3]
                if kind == 'role' then
                    local after = withLetter(redis.call('HGET', rolesKey, subject) or '', value, on)
                    if after == '' then redis.call('HDEL', rolesKey, subject)
                    else redis.call('HSET', rolesKey, subject, after) end
                    if registration and subject ~= ownerKey then
                        -- The room's list: a registered name's role is given again at its joins.
                        local field, stamp = 'access:' .. subject, changes[i + 5]
                        local listed = lines(redis.call('HGET', rulesKey, field) or '')
                        if on == '1' and stamp ~= '' then
                            -- An entry of an earlier account of the name (it lapsed, and was registered again) is
                            -- not this person's: theirs starts empty.
                            local letters = listed[2] == stamp and listed[1] or ''
                            redis.call('HSET', rulesKey, field,
                                withLetter(letters, value, '1') .. '\\n' .. stamp .. '\\n' .. changes[i + 4])
                        elseif on == '0' and listed[1] ~= '' then
                            local kept = withLetter(listed[1], value, '0')
                            if kept == '' then redis.call('HDEL', rulesKey, field)
                            else redis.call('HSET', rulesKey, field, kept .. '\\n' .. listed[2] .. '\\n' .. listed[3]) end
                        end
                    end
                elseif kind == 'flag' then
                    if on == '1' then redis.call('HSET', rulesKey, subject, '1')
                    else redis.call('HDEL', rulesKey, subject) end
                elseif kind == 'key' or kind == 'limit' then
                    local field = kind == 'key' and 'k' or 'l'
                    if subject ~= '' then redis.call('HSET', rulesKey, field, subject)
                    else redis.call('HDEL', rulesKey, field) end
                elseif kind == 'ban' then
                    if on == '1' then redis.call('HSET', bansKey, subject, value)
                    else redis.call('HDEL', bansKey, subject) end
                elseif kind == 'mute' then
                    if on == '1' then redis.call('HSET', rulesKey, 'mute:' .. subject, value)
                    else redis.call('HDEL', rulesKey, 'mute:' .. subject) end
                end
            end
            local life = lifeOf(rulesKey, roomIdleTTL)
            for _, key in ipairs({rolesKey, rulesKey, bansKey}) do keep(key, life) end
            local removed = 0
            if removing ~= '' and removing ~= actor and redis.call('HDEL', membersKey, removing) == 1 then
                redis.call('HDEL', rolesKey, removing)
                removed = 1
            end
            if notice ~= '' then redis.call('SPUBLISH', channel, notice) end
            if removed == 1 then redis.call('SPUBLISH', channel, kickNotice) end
            return removed
            """)

    /// The keys and arguments of `kick`, in the order it declares them.
    struct KickParameters {
        var membersKey: String
        var rolesKey: String
        var rulesKey: String
        var bansKey: String
        var historyKey: String
        var topicKey: String
        var actor: String
        var target: String
        /// The target's name as shown, for the refusal.
        var name: String
        var channel: String
        var notice: String
        var room: String
    }

    /// An operator removes a member and the room is told, whatever its size (a kick is news to everyone in it).
    /// Returns the members left, or -2 when the room is left vacant (an operator kicking themselves out of a room
    /// without history), as `RoomScripts.leave` does.
    static let kick = NamedScript<KickParameters>(
        name: "kick",
        keys: [
            .init("membersKey", \.membersKey), .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey),
            .init("bansKey", \.bansKey), .init("historyKey", \.historyKey), .init("topicKey", \.topicKey),
        ],
        arguments: [
            .init("actor", \.actor), .init("target", \.target), .init("name", \.name), .init("channel", \.channel),
            .init("notice", \.notice), .init("room", \.room),
        ],
        body: helpers + """
            if not isOperator(actor) then return refuse('not-operator', 'only the room\\'s operators may kick') end
            if isOwner(target) then return refuse('not-owner', 'the room\\'s owner cannot be kicked from it') end
            if redis.call('HDEL', membersKey, target) == 0 then
                return refuse('not-in-room', name .. ' is not in #' .. room)
            end
            redis.call('HDEL', rolesKey, target)
            redis.call('SPUBLISH', channel, notice)
            local left = redis.call('HLEN', membersKey)
            if left == 0 then
                \(emptied)
                \(vacated)
            end
            return left
            """)

    /// What goes when a room's last member leaves: its operators (as IRC's channels lose theirs), and for any room
    /// but the lobby and registered ones its settings and bans. Needs `rolesKey rulesKey bansKey room`.
    static let emptied = """
        redis.call('DEL', rolesKey)
        if room ~= 'lobby' and redis.call('HEXISTS', rulesKey, 'owner') == 0 then redis.call('DEL', rulesKey, bansKey) end
        """

    /// After `emptied`: a room left with no members and no history no longer exists (-2), and its topic goes (but
    /// the lobby's, and a registered room's, which exists while registered). Needs `historyKey topicKey rulesKey room`.
    static let vacated = """
        if redis.call('EXISTS', historyKey) == 0 and room ~= 'lobby' and redis.call('HEXISTS', rulesKey, 'owner') == 0 then
            redis.call('DEL', topicKey)
            return -2
        end
        """

    /// The keys and arguments of `invite`, in the order it declares them.
    struct InviteParameters {
        var membersKey: String
        var rolesKey: String
        var rulesKey: String
        var actor: String
        var target: String
        var name: String
        var now: Millis
        /// When the invitation lapses.
        var expires: Millis
        var roomIdleTTL: Int
        var room: String
    }

    /// An invitation. An operator's is recorded (until when it lets its person in, past invite-only, the key, the
    /// limit and bans); anybody else's, in a room that is not invite-only, is only a word to the person (it lets
    /// nobody past anything, or a second account could let a banned one in). In an invite-only room only operators
    /// invite, as IRC has it. At the cap, lapsed invitations are swept first.
    /// Returns 1 when recorded, 0 when only to be told.
    static let invite = NamedScript<InviteParameters>(
        name: "invite",
        keys: [.init("membersKey", \.membersKey), .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey)],
        arguments: [
            .init("actor", \.actor), .init("target", \.target), .init("name", \.name), .init("now", \.now),
            .init("expires", \.expires),
            .init("roomIdleTTL", \.roomIdleTTL), .init("room", \.room),
        ],
        body: helpers + """
            if redis.call('HEXISTS', membersKey, target) == 1 then
                return refuse('already-in-room', name .. ' is in #' .. room .. ' already')
            end
            if not isOperator(actor) then
                if redis.call('HEXISTS', rulesKey, 'i') == 1 then
                    return refuse('not-operator', '#' .. room .. ' is invite-only: only its operators invite')
                end
                return 0
            end
            if redis.call('HEXISTS', rulesKey, 'invite:' .. target) == 0
                    and redis.call('HLEN', rulesKey) >= \(ModerationLimits.maximumRules) then
                local fields = redis.call('HGETALL', rulesKey)
                for i = 1, #fields, 2 do
                    if string.sub(fields[i], 1, 7) == 'invite:' and tonumber(fields[i + 1]) <= tonumber(now) then
                        redis.call('HDEL', rulesKey, fields[i])
                    end
                end
                if redis.call('HLEN', rulesKey) >= \(ModerationLimits.maximumRules) then
                    return refuse('list-full', '#' .. room .. ' has as many mutes and invitations as it may keep')
                end
            end
            redis.call('HSET', rulesKey, 'invite:' .. target, expires)
            keep(rulesKey, roomIdleTTL)
            return 1
            """)

    /// The bans, then the mutes (`m:` entries), for an operator: mask, entry, mask, entry...
    /// KEYS: roles, bans, rules
    /// ARGV: actor
    static let bans = RedisScript(
        name: "bans",
        source: """
            local rolesKey = KEYS[1]
            \(helpers)
            if not isOperator(ARGV[1]) then return refuse('not-operator', 'only the room\\'s operators see its bans') end
            local listed = redis.call('HGETALL', KEYS[2])
            local rules = redis.call('HGETALL', KEYS[3])
            for i = 1, #rules, 2 do
                if string.sub(rules[i], 1, 5) == 'mute:' then
                    listed[#listed + 1] = rules[i]
                    listed[#listed + 1] = rules[i + 1]
                end
            end
            return listed
            """)

    static let all: [RedisScript] = [moderate.script, kick.script, invite.script, bans]
}
