import ChatCore
import RedisClient

// One file because these scripts share one record and its helpers: a room's messages as they stand now (the
// stream's entries, and `chat:changes:{room}`, what was done to each since), written by the reply and change
// scripts and read back by the history script.

/// Replies, reactions, edits and deletes of a room's messages (docs/architecture.md, "Acting on messages"). Each
/// runs on the room's tag: its stream, its changes record, its roles and rules.
///
/// A change is an entry of the room's stream (`k = 'chg'`), published like a message, so live delivery, a resume
/// (`XRANGE` after an id) and a node's catch-up carry it in order. What it did is also folded into the message's
/// record in the changes hash (field: the message id; value: cjson `{t = edited text, et = when, e = {edit entry
/// ids}, r = {{emoji, {names}, {user keys}}, ...}}`), which the history script hands back with each message, so a
/// late joiner gets messages as they stand without replaying changes. A delete removes the message and its edits
/// from the stream (XDEL) and its record: deleted is gone, for everyone.
///
/// A changes record exists only for a message still in the stream, and the hash is trimmed to the stream's
/// oldest entry when it passes the stream's length (plus slack): a room's records are bounded by its history, each
/// by the reaction and edit limits (`MessageActions`).
enum MessageScripts {
    /// Lua shared by the scripts: a stream entry's JSON, a cut at a character boundary, id order, and finding the
    /// message a request names.
    static let helpers = """
        local function entryJSON(fields)
            local body = fields[2] or ''
            local at = string.find(body, '{', 1, true)
            return at and string.sub(body, at) or ''
        end
        local function snippet(text)
            local bytes = \(MessageActions.snippetBytes)
            if type(text) ~= 'string' then return '' end
            if #text <= bytes then return text end
            local n = bytes
            while n > 0 do
                local byte = string.byte(text, n + 1)
                if byte < 128 or byte >= 192 then break end
                n = n - 1
            end
            return string.sub(text, 1, n)
        end
        \(idLess)
        -- spec: a message id; '~': the newest message by `author`; '~name': the newest from name (ASCII case aside);
        -- '': the newest message. Looks through the newest messages only (changes between them do not count, up to
        -- four times as many entries). Returns the id and the decoded message.
        local function findMessage(historyKey, spec, author)
            if string.match(spec, '^%d+%-%d+$') then
                local found = redis.call('XRANGE', historyKey, spec, spec)[1]
                if not found then return nil end
                local ok, message = pcall(cjson.decode, entryJSON(found[2]))
                if not ok or message.k ~= 'msg' then return nil end
                return found[1], message
            end
            local wanted = string.lower(string.sub(spec, 2))
            local entries = redis.call('XREVRANGE', historyKey, '+', '-', 'COUNT', \(4 * MessageActions.latestSearchDepth))
            local seen = 0
            for _, entry in ipairs(entries) do
                local json = entryJSON(entry[2])
                local isMessage = string.find(json, '"k":"msg"', 1, true) ~= nil
                if isMessage then seen = seen + 1 end
                if seen > \(MessageActions.latestSearchDepth) then return nil end
                if isMessage and (spec ~= '~' or (author ~= '' and string.find(json, '"au":"' .. author .. '"', 1, true))) then
                    local ok, message = pcall(cjson.decode, json)
                    if ok and (spec == '' or spec == '~'
                        or (type(message.from) == 'string' and string.lower(message.from) == wanted)) then
                        return entry[1], message
                    end
                end
            end
            return nil
        end
        local function notFound(spec, room)
            if spec == '' then return 'nothing has been said in #' .. room .. ' lately' end
            if spec == '~' then return 'none of the newest messages in #' .. room .. ' is yours' end
            if string.sub(spec, 1, 1) == '~' then
                return 'none of the newest messages in #' .. room .. ' is from ' .. string.sub(spec, 2)
            end
            return 'message ' .. spec .. ' is not in the history of #' .. room .. ' (deleted, or older than it keeps)'
        end
        \(RoomScripts.renewRoomKey)
        """

    /// Stream ids in order (`<ms>-<seq>`, compared as numbers); an id that is not one sorts first.
    static let idLess = """
        local function idLess(a, b)
            local am, as = string.match(a, '^(%d+)%-(%d+)$')
            local bm, bs = string.match(b, '^(%d+)%-(%d+)$')
            if not am or not bm then return am == nil end
            if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
            return tonumber(as) < tonumber(bs)
        end
        """

    /// The keys and arguments of `publishReply`, in the order it declares them.
    struct ReplyParameters {
        var historyKey: String
        var topicKey: String
        var rolesKey: String
        var rulesKey: String
        var changesKey: String
        var changeIndexKey: String
        var channel: String
        /// The reply's JSON as `RelayCodec.messageBody` writes it.
        var body: String
        var maxLength: Int
        var roomIdleTTL: Int
        var user: String
        var now: Millis
        /// `MessageTarget.scriptSpec`.
        var spec: String
        var author: String
        var room: String
        var renewsTopic: Bool
        /// The message's trace, or empty (`RoomScripts.tracedCopy`).
        var trace = ""
    }

    /// A message that answers another: refused as any message is (muted, unvoiced in +m), and when the answered
    /// message is not in the stream. The stored entry gains `re` (the answered id: history finds the rest when it
    /// is read, so a later edit or delete shows there); the published copy also `rf` and `rt`, its author and the
    /// start of its text as it stands, for the clients showing it live. The only JSON a script appends to: two or
    /// three fields before the closing brace of what Swift wrote. A reply to a message no longer there (deleted,
    /// trimmed) is said as a plain message rather than lost. The room's keys are renewed as `publishMessage` does.
    /// Returns {id, answered id, its author, the start of its text} (the last three '' for a plain message).
    static let publishReply = NamedScript<ReplyParameters>(
        name: "publishReply",
        keys: [
            .init("historyKey", \.historyKey), .init("topicKey", \.topicKey), .init("rolesKey", \.rolesKey),
            .init("rulesKey", \.rulesKey), .init("changesKey", \.changesKey),
            .init("changeIndexKey", \.changeIndexKey),
        ],
        arguments: [
            .init("channel", \.channel), .init("body", \.body), .init("maxLength", \.maxLength),
            .init("roomIdleTTL", \.roomIdleTTL), .init("user", \.user), .init("now", \.now), .init("spec", \.spec),
            .init("author", \.author), .init("room", \.room), .init("renewsTopic", \.renewsTopic),
            .init("trace", \.trace),
        ],
        body: RoomScripts.refusedSpeech + "\n" + RoomScripts.tracedCopy + "\n" + helpers + "\n" + """
            local refused = refusedSpeech(rulesKey, rolesKey, user, now)
            if refused then return refused end
            local function renewRoom()
                redis.call('EXPIRE', historyKey, roomIdleTTL)
                if renewsTopic ~= '1' then return end
                for _, key in ipairs({topicKey, rolesKey, rulesKey, changesKey, changeIndexKey}) do
                    renewRoomKey(key, roomIdleTTL)
                end
            end
            local answered, message = findMessage(historyKey, spec, author)
            if not answered then
                local id = redis.call('XADD', historyKey, 'MAXLEN', '~', maxLength, '*', 'p', body)
                redis.call('SPUBLISH', channel, id .. ' ' .. tracedCopy(body, trace))
                renewRoom()
                return {id, '', '', ''}
            end
            local text = message.text
            local state = redis.call('HGET', changesKey, answered)
            if state then text = cjson.decode(state).t or text end
            local from = type(message.from) == 'string' and message.from or ''
            local short = snippet(text)
            local stored = string.sub(body, 1, -2) .. ',"re":"' .. answered .. '"}'
            local id = redis.call('XADD', historyKey, 'MAXLEN', '~', maxLength, '*', 'p', stored)
            redis.call('SPUBLISH', channel, id .. ' ' .. tracedCopy(string.sub(stored, 1, -2) .. ',"rf":'
                .. cjson.encode(from) .. ',"rt":' .. cjson.encode(short) .. '}', trace))
            renewRoom()
            return {id, answered, from, short}
            """)

    /// The keys and arguments of `changeMessage`, in the order it declares them.
    struct ChangeParameters {
        var historyKey: String
        var changesKey: String
        /// The changes records' ids by time (a sorted set), to drop those of messages trimmed from the stream.
        var changeIndexKey: String
        var rolesKey: String
        var rulesKey: String
        var channel: String
        /// `MessageAction.operation`.
        var operation: String
        /// `MessageTarget.scriptSpec`.
        var spec: String
        /// The emoji, or the new text (empty for a delete).
        var value: String
        var user: String
        var name: String
        var author: String
        var now: Millis
        var maxLength: Int
        var roomIdleTTL: Int
        var origin: String
        var room: String
        /// '1': the actor is a server operator, who may delete any message.
        var serverOperator: Bool
    }

    /// Reacts to, takes back a reaction from, edits or deletes a message: checks who may (an edit is its author's;
    /// a delete its author's, or in a registered room its operators': an unregistered room's first comer is its
    /// operator, and must not be able to wipe what was said before they came; a reaction or an edit is speech,
    /// refused to the muted and the unvoiced in +m) and the limits (reactions counted per author identity, so a
    /// later holder of a guest's name is someone else), appends the change to the stream and publishes it, and folds
    /// it into the message's record (a delete removes the message, its edits and its record). A reaction already
    /// there, or one taken back that was not, changes nothing and is answered as done. A delete naming a change
    /// (IRC clients see a reaction's or an edit's own msgid) deletes the edited message, or takes the reaction back.
    /// Records of messages trimmed from the stream go (by the index, a few at a time).
    /// Returns {change id, the message's id, its author, the start of its text, the operation done, its value}; the
    /// change id is '' when nothing changed.
    static let changeMessage = NamedScript<ChangeParameters>(
        name: "changeMessage",
        keys: [
            .init("historyKey", \.historyKey), .init("changesKey", \.changesKey),
            .init("changeIndexKey", \.changeIndexKey), .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey),
        ],
        arguments: [
            .init("channel", \.channel), .init("operation", \.operation), .init("spec", \.spec),
            .init("value", \.value), .init("user", \.user), .init("name", \.name), .init("author", \.author),
            .init("now", \.now), .init("maxLength", \.maxLength), .init("roomIdleTTL", \.roomIdleTTL),
            .init("origin", \.origin), .init("room", \.room), .init("serverOperator", \.serverOperator),
        ],
        body: RoomScripts.refusedSpeech + "\n" + helpers + "\n" + """
            local function refuse(code, text) return redis.error_reply('CHAT ' .. code .. ' ' .. text) end
            local id, message = findMessage(historyKey, spec, author)
            if not id and operation == 'delete' and string.match(spec, '^%d+%-%d+$') then
                local found = redis.call('XRANGE', historyKey, spec, spec)[1]
                local ok, change = false, nil
                if found then ok, change = pcall(cjson.decode, entryJSON(found[2])) end
                if ok and change.k == 'chg' and type(change.msg) == 'string' then
                    if change.op == 'edit' then
                        id, message = findMessage(historyKey, change.msg, author)
                    elseif change.op == 'react' and author ~= '' and change.au == author then
                        operation, value = 'unreact', change.text or ''
                        id, message = findMessage(historyKey, change.msg, author)
                    end
                end
            end
            if not id then return refuse('no-such-message', notFound(spec, room)) end
            local own = author ~= '' and message.au == author
            local state = redis.call('HGET', changesKey, id)
            state = state and cjson.decode(state) or {}
            local text = state.t or message.text
            local entry = {k = 'chg', op = operation, room = room, from = name, msg = id, ts = tonumber(now),
                sid = origin, rf = message.from, au = author}
            local reason = nil
            if operation == 'edit' then
                if not own then return refuse('not-yours', 'only its author edits a message') end
                local refused = refusedSpeech(rulesKey, rolesKey, user, now)
                if refused then return refused end
                state.e = state.e or {}
                if #state.e >= \(MessageActions.maximumEdits) then
                    return refuse('message-full', 'a message is edited at most \(MessageActions.maximumEdits) times')
                end
                entry.text = value
            elseif operation == 'delete' then
                if not own and serverOperator ~= '1' then
                    local roles = redis.call('HGET', rolesKey, user) or ''
                    if not string.find(roles, '[oq]') or redis.call('HEXISTS', rulesKey, 'owner') == 0 then
                        return refuse('not-yours', 'only its author deletes a message (or, in a registered room, its operators)')
                    end
                end
                if value ~= '' then reason = value end
            else
                if author == '' then return refuse('not-yours', 'this session cannot react') end
                state.r = state.r or {}
                local total, mine, found, had = 0, 0, nil, nil
                for index, reaction in ipairs(state.r) do
                    total = total + #reaction[3]
                    if reaction[1] == value then found = index end
                    for position, key in ipairs(reaction[3]) do
                        if key == author then
                            mine = mine + 1
                            if reaction[1] == value then had = position end
                        end
                    end
                end
                if operation == 'react' then
                    local refused = refusedSpeech(rulesKey, rolesKey, user, now)
                    if refused then return refused end
                    if had then return {'', id, message.from or '', '', operation, value} end
                    if not found and #state.r >= \(MessageActions.maximumDistinctReactions) then
                        return refuse('message-full', 'a message holds at most \(MessageActions.maximumDistinctReactions) different reactions')
                    end
                    if mine >= \(MessageActions.maximumReactionsPerPerson) then
                        return refuse('message-full', 'you put at most \(MessageActions.maximumReactionsPerPerson) reactions on one message')
                    end
                    if total >= \(MessageActions.maximumReactions) then
                        return refuse('message-full', 'a message holds at most \(MessageActions.maximumReactions) reactions')
                    end
                    if not found then
                        state.r[#state.r + 1] = {value, {}, {}}
                        found = #state.r
                    end
                    local reaction = state.r[found]
                    reaction[2][#reaction[2] + 1] = name
                    reaction[3][#reaction[3] + 1] = author
                else
                    if not had then return {'', id, message.from or '', '', operation, value} end
                    local reaction = state.r[found]
                    table.remove(reaction[2], had)
                    table.remove(reaction[3], had)
                    if #reaction[3] == 0 then table.remove(state.r, found) end
                end
                entry.text = value
            end
            local stored = cjson.encode(entry)
            local change = redis.call('XADD', historyKey, 'MAXLEN', '~', maxLength, '*', 'p', stored)
            local millis = tonumber(string.match(id, '^(%d+)'))
            if operation == 'delete' then
                local gone = {id}
                for _, edit in ipairs(state.e or {}) do gone[#gone + 1] = edit end
                local deleted = redis.call('XDEL', historyKey, unpack(gone))
                -- What the chat deleted itself, and the stream's own count of entries added then: a stream made
                -- again later (its count starts over) is not this one.
                local info = redis.call('XINFO', 'STREAM', historyKey)
                local added = 0
                for i = 1, #info - 1, 2 do if info[i] == 'entries-added' then added = info[i + 1] end end
                -- Counts kept for a stream that expired and was made again since are not this one's.
                if tonumber(redis.call('HGET', changesKey, '_added') or '0') > added then
                    redis.call('HDEL', changesKey, '_ndel', '_maxdel')
                end
                redis.call('HINCRBY', changesKey, '_ndel', deleted)
                redis.call('HSET', changesKey, '_added', added)
                local newest = gone[#gone]
                local before = redis.call('HGET', changesKey, '_maxdel')
                if not before or idLess(before, newest) then redis.call('HSET', changesKey, '_maxdel', newest) end
                redis.call('HDEL', changesKey, id)
                redis.call('ZREM', changeIndexKey, id)
            else
                if operation == 'edit' then
                    state.t, state.et = value, tonumber(now)
                    state.e[#state.e + 1] = change
                end
                if state.t == nil and (state.r == nil or #state.r == 0) then
                    redis.call('HDEL', changesKey, id)
                    redis.call('ZREM', changeIndexKey, id)
                else
                    redis.call('HSET', changesKey, id, cjson.encode(state))
                    redis.call('ZADD', changeIndexKey, millis, id)
                end
            end
            -- Live, a reaction names the start of the text it is on (what text mode shows), a delete its reason
            -- (IRC's REDACT carries it); neither is kept.
            if operation == 'react' or operation == 'unreact' then entry.rt = snippet(text) end
            if reason then entry.text = reason end
            redis.call('SPUBLISH', channel, change .. ' ' .. cjson.encode(entry))
            redis.call('EXPIRE', historyKey, roomIdleTTL)
            renewRoomKey(changesKey, roomIdleTTL)
            renewRoomKey(changeIndexKey, roomIdleTTL)
            -- Records of messages the stream no longer holds: the oldest few each time, so none lingers for long.
            local first = redis.call('XRANGE', historyKey, '-', '+', 'COUNT', 1)[1]
            if first then
                local firstMillis = tonumber(string.match(first[1], '^(%d+)'))
                for _, old in ipairs(redis.call('ZRANGEBYSCORE', changeIndexKey, '-inf', '(' .. firstMillis, 'LIMIT', 0, 20)) do
                    redis.call('HDEL', changesKey, old)
                    redis.call('ZREM', changeIndexKey, old)
                end
            end
            return {change, id, message.from or '', operation == 'delete' and '' or snippet(text), operation, value}
            """)

    /// A page of a room's stream, with what history shows of each message beyond its entry.
    /// KEYS: history, changes; ARGV: start, count, '1' to read backward (newest first)
    /// Returns {entries (as XRANGE gives them), notes}: a note for each message with a record or a reply,
    /// {id, edited text or '', edited time or 0, {emoji, count, names..., ...}, answered id or '', its author or '',
    /// the start of its text or ''} (an answered message no longer there has no author).
    static let readEntries = RedisScript(
        name: "readEntries",
        source: helpers + "\n" + """
            local entries
            if ARGV[3] == '1' then
                entries = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])
            else
                entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
            end
            local changed = redis.call('EXISTS', KEYS[2]) == 1
            local notes = {}
            for _, entry in ipairs(entries) do
                local json = entryJSON(entry[2])
                local answered = string.match(json, '"re":"(%d+%-%d+)"')
                local state = changed and redis.call('HGET', KEYS[2], entry[1])
                if state or answered then
                    local note = {entry[1], '', 0, {}, '', '', ''}
                    if state then
                        state = cjson.decode(state)
                        if state.t then note[2], note[3] = state.t, state.et end
                        local flat = {}
                        for _, reaction in ipairs(state.r or {}) do
                            flat[#flat + 1] = reaction[1]
                            flat[#flat + 1] = #reaction[2]
                            for _, name in ipairs(reaction[2]) do flat[#flat + 1] = name end
                        end
                        note[4] = flat
                    end
                    if answered then
                        note[5] = answered
                        local found = redis.call('XRANGE', KEYS[1], answered, answered)[1]
                        local ok, message = false, nil
                        if found then ok, message = pcall(cjson.decode, entryJSON(found[2])) end
                        if ok and message.k == 'msg' and type(message.from) == 'string' then
                            local text = message.text
                            local record = changed and redis.call('HGET', KEYS[2], answered)
                            if record then text = cjson.decode(record).t or text end
                            note[6], note[7] = message.from, snippet(text)
                        end
                    end
                    notes[#notes + 1] = note
                end
            end
            return {entries, notes}
            """)

    /// Counts the messages after a read marker that are not the reader's own.
    /// KEYS: history; ARGV: the marker, the reader's name as JSON writes it (quoted), the most to count, the reader's
    /// author identity (their messages under another case of the name are theirs too)
    /// Returns {count, 1 when there are more (or more entries than were read)}.
    static let countUnread = RedisScript(
        name: "countUnread",
        source: """
            local most = tonumber(ARGV[3])
            local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', 2 * most + 2)
            local count = 0
            for _, entry in ipairs(entries) do
                local json = entry[2][2] or ''
                local own = string.find(json, '"from":' .. ARGV[2], 1, true)
                    or (ARGV[4] ~= '' and string.find(json, '"au":"' .. ARGV[4] .. '"', 1, true))
                if string.find(json, '"k":"msg"', 1, true) and not own then
                    count = count + 1
                    if count > most then return {most, 1} end
                end
            end
            return {count, #entries == 2 * most + 2 and 1 or 0}
            """)

    static let all: [RedisScript] = [publishReply.script, changeMessage.script, readEntries, countUnread]
}
