import ChatCore
import RedisClient

// One file because these scripts are one room's schema: the members hash, the history stream, the topic and the
// room's channel share the room's hash tag, and every notice a room gets (join, leave, presence, typing) is
// published by one of them only while the room is not quiet.

/// The scripts that touch one room: every key they are given is the room's (`{room}`), and the channel they
/// publish to is the room's shard channel, so on a Redis Cluster each runs on the shard owning the room. Work
/// that also concerns a person or an index (the session's rooms, the room list, the room cap) is done by the
/// store around them (`ChatStore`), in an order that keeps them consistent (docs/redis-cluster.md).
enum RoomScripts {
    /// The keys and arguments of `join`, in the order it declares them.
    struct JoinParameters {
        var membersKey: String
        var historyKey: String
        var topicKey: String
        var rolesKey: String
        var rulesKey: String
        var bansKey: String
        /// The user key.
        var user: String
        /// The keys of the names this one looks like, space-separated (bans by name cover them).
        var lookAlikes: String
        /// The session's claim token.
        var token: String
        var room: String
        var roomIdleTTL: Int
        /// The join notice the room is sent.
        var notice: String
        /// The node admitted the room as a new one.
        var admitted: Bool
        var channel: String
        /// The name is a registered one (for a registered-only room).
        var registered: Bool
        /// When the name's account was made ('' for a guest): a registered room gives its owner and listed names
        /// their roles by their key and this time.
        var account: String
        /// How long a registered room's keys live past its owner's visit: the accounts' lifetime.
        var registrationTTL: Int
        /// The client's address as bans compare it (`BanMask.addressBits(ofClient:)`).
        var addressBits: String
        /// The host IRC shows for the client, which a ban's host pattern is matched against.
        var shownHost: String
        /// The key the join gave ('' for none).
        var givenKey: String
        var now: Millis
    }

    /// Makes a session a member (user key -> the session's claim token, which starts with its incarnation), and
    /// announces it unless it already was one (a resumed
    /// session rejoining a room it never left is not news) or the room is quiet. A room with neither members nor
    /// history is new: it is joined only once the node has admitted it (room cap, look-alikes, creation rates:
    /// `ChatStore.admit`), else the answer is 0 and nothing changes. The lobby is always there. A room made
    /// again starts without the topic an emptied room may have left.
    ///
    /// A session that is not a member yet passes the room's settings and bans first
    /// (`ModerationScripts.admissionCheck`, refusing with a `CHAT` error), and holds no role it may have had under
    /// another session; the first member of an empty room (but the lobby) becomes its operator, as on IRC. A
    /// registered room (`owner` in its rules) makes nobody operator that way: it gives its owner `qo` (past its
    /// settings and bans) and a listed account the letters its list keeps, and exists while registered.
    /// Returns 1 when joined, 0 when the room is new and not admitted, or the role letters a registered room gave
    /// (after a `-` when the room is not to be told: it was not told of the join either).
    static let join = NamedScript<JoinParameters>(
        name: "join",
        keys: [
            .init("membersKey", \.membersKey), .init("historyKey", \.historyKey), .init("topicKey", \.topicKey),
            .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey), .init("bansKey", \.bansKey),
        ],
        arguments: [
            .init("user", \.user), .init("lookAlikes", \.lookAlikes), .init("token", \.token), .init("room", \.room),
            .init("roomIdleTTL", \.roomIdleTTL), .init("notice", \.notice), .init("admitted", \.admitted),
            .init("channel", \.channel), .init("registered", \.registered), .init("account", \.account),
            .init("registrationTTL", \.registrationTTL), .init("addressBits", \.addressBits),
            .init("shownHost", \.shownHost), .init("givenKey", \.givenKey), .init("now", \.now),
        ],
        body: ModerationScripts.helpers + """
            -- A registered room exists while registered, with or without members and history.
            local registration = redis.call('HGET', rulesKey, 'owner')
            if room ~= 'lobby' and not registration and redis.call('EXISTS', membersKey) == 0
                    and redis.call('EXISTS', historyKey) == 0 then
                if admitted ~= '1' then return 0 end
                redis.call('DEL', topicKey, rolesKey, rulesKey, bansKey)
            end
            -- The roles a registered room gives this person: its owner's, or those its list keeps for the account.
            local given = ''
            if registration and account ~= '' then
                local owner = lines(registration)
                if owner[1] == user and owner[2] == account then
                    given = 'qo'
                else
                    local listed = lines(redis.call('HGET', rulesKey, 'access:' .. user) or '')
                    if listed[2] == account then given = listed[1] end
                end
            end
            local newcomer = redis.call('HGET', membersKey, user) ~= token
            if newcomer then
                -- The owner comes into their room whatever its settings and bans say.
                if given ~= 'qo' then
                    \(ModerationScripts.admissionCheck)
                end
                redis.call('HDEL', rolesKey, user)
            end
            -- A join renews what the room keeps, so a quiet room of idle members keeps its operators and bans; the
            -- owner's renews a registered room's for the accounts' lifetime.
            local life = given == 'qo' and registrationTTL or lifeOf(rulesKey, roomIdleTTL)
            for _, key in ipairs({topicKey, rolesKey, rulesKey, bansKey}) do keep(key, life) end
            local added = redis.call('HSET', membersKey, user, token) == 1
            local count = added and redis.call('HLEN', membersKey) or 0
            if added and count <= \(ChatStore.quietRoomSize) then redis.call('SPUBLISH', channel, notice) end
            if newcomer and given ~= '' then
                redis.call('HSET', rolesKey, user, given)
                keep(rolesKey, roomIdleTTL)
                -- Told to the room where a join is (`-` before the letters: a quiet room, or no new membership).
                if added and count <= \(ChatStore.quietRoomSize) then return given end
                return '-' .. given
            end
            if count == 1 and room ~= 'lobby' and not registration then
                redis.call('HSET', rolesKey, user, 'o')
                keep(rolesKey, roomIdleTTL)
            end
            return 1
            """)

    /// The keys and arguments of `leave`, in the order it declares them.
    struct LeaveParameters {
        var membersKey: String
        var historyKey: String
        var topicKey: String
        var rolesKey: String
        var rulesKey: String
        var bansKey: String
        /// The user key.
        var user: String
        /// The session's claim token.
        var token: String
        var channel: String
        var notice: String
        /// The lobby, always there, keeps its topic.
        var room: String
    }

    /// Ends a membership, if the given session (its claim token) still holds it: a late or repeated leave never
    /// announces a second departure, nor removes the membership of a newer session of the same person, even one on
    /// the same node. A notice unless the room is quiet.
    /// Returns how many members are left, -1 when that session was not a member, or -2 when it left the room
    /// vacant: no members and no history, so the room no longer exists (a join would make it anew, without the
    /// topic, which goes now: a room made, given a topic and left must not keep a key the room cap no longer
    /// counts). A registered room is never vacant: it keeps its topic, settings and bans.
    static let leave = NamedScript<LeaveParameters>(
        name: "leave",
        keys: [
            .init("membersKey", \.membersKey), .init("historyKey", \.historyKey), .init("topicKey", \.topicKey),
            .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey), .init("bansKey", \.bansKey),
        ],
        arguments: [
            .init("user", \.user), .init("token", \.token), .init("channel", \.channel), .init("notice", \.notice),
            .init("room", \.room),
        ],
        body: """
            if redis.call('HGET', membersKey, user) ~= token then return -1 end
            redis.call('HDEL', membersKey, user)
            redis.call('HDEL', rolesKey, user)
            local left = redis.call('HLEN', membersKey)
            if left <= \(ChatStore.quietRoomSize) then redis.call('SPUBLISH', channel, notice) end
            if left == 0 then
                \(ModerationScripts.emptied)
                \(ModerationScripts.vacated)
            end
            return left
            """)

    /// Sets a member's session token when it is `expected` (a session taken over keeps its rooms), or, with
    /// `expected` '*', when the member is missing or already this session's (a restore puts back memberships Redis
    /// lost, never one another session holds now).
    /// KEYS: members
    /// ARGV: user, expected token ('*': none or the same), token
    static let setMember = RedisScript(
        name: "setMember",
        source: """
            local current = redis.call('HGET', KEYS[1], ARGV[1])
            if ARGV[2] == '*' then
                if current and current ~= ARGV[3] then return 0 end
            elseif current ~= ARGV[2] then
                return 0
            end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
            return 1
            """)

    /// A notice that is published only where joins are announced (typing, away changes): in a quiet room it would
    /// cost as much as a join notice.
    /// KEYS: members
    /// ARGV: channel, payload
    static let announce = RedisScript(
        name: "announce",
        source: """
            if redis.call('HLEN', KEYS[1]) > \(ChatStore.quietRoomSize) then return 0 end
            return redis.call('SPUBLISH', ARGV[1], ARGV[2])
            """)

    /// The keys and arguments of `publishMessage`, in the order it declares them.
    struct PublishParameters {
        var historyKey: String
        var topicKey: String
        var rolesKey: String
        var rulesKey: String
        /// What was done to the room's messages (`MessageScripts`): renewed with the topic, so reactions and edits
        /// last as long as the messages they are on.
        var changesKey: String
        var changeIndexKey: String
        var channel: String
        /// The message's JSON, without its id.
        var body: String
        /// Entries the stream keeps, about.
        var maxLength: Int
        var roomIdleTTL: Int
        var renewsTopic: Bool
        /// The sender's user key, and the message's time, for mutes.
        var user: String
        var now: Millis
        /// The message's trace (`traceparent`), or empty: carried by the published copy only (`tracedCopy`).
        var trace = ""

        /// The keys and arguments in `publishMessage`'s declared order, written out directly: this runs for every
        /// message, and the declared fields' key-path encoding cost the flood about a tenth of its throughput once
        /// the moderation check added four of them (`RoomScriptsTests` checks the two agree).
        var encoded: (keys: [String], arguments: [String]) {
            (
                [historyKey, topicKey, rolesKey, rulesKey, changesKey, changeIndexKey],
                [
                    channel, body, String(maxLength), String(roomIdleTTL), renewsTopic ? "1" : "0", user,
                    String(now), trace,
                ]
            )
        }
    }

    /// Stores a message in the room's history and publishes it, in one atomic step, so history order is live
    /// order. XADD's `*` picks the id (Redis's clock, above the stream's last id even after a hand-made XDEL); the
    /// channel gets the payload framed with it (`<id> <json>`, see `RelayCodec`), the stream keeps the JSON under
    /// that id, and a history read frames it with the entry's id: both decode to the same message.
    /// This runs once per message, so it does the least a message needs (one room's flood costs Redis about 4 µs
    /// here against 9 µs when it also renewed everything, see docs/benchmarks.md). The history's expiry is renewed
    /// every time (XADD alone would leave a new stream without one); the topic's only when the node renews the
    /// room (`PublishUpkeep`), which it does at most every few seconds, along with the room's activity (an index,
    /// elsewhere on a cluster, so sent beside this script). A muted sender, or one without voice in a moderated
    /// room, is refused (operators never are); a room with neither costs one lookup of a missing hash.
    /// Returns the stream id.
    static let publishMessage = NamedScript<PublishParameters>(
        name: "publishMessage",
        keys: [
            .init("historyKey", \.historyKey), .init("topicKey", \.topicKey), .init("rolesKey", \.rolesKey),
            .init("rulesKey", \.rulesKey), .init("changesKey", \.changesKey),
            .init("changeIndexKey", \.changeIndexKey),
        ],
        arguments: [
            .init("channel", \.channel), .init("body", \.body), .init("maxLength", \.maxLength),
            .init("roomIdleTTL", \.roomIdleTTL), .init("renewsTopic", \.renewsTopic), .init("user", \.user),
            .init("now", \.now), .init("trace", \.trace),
        ],
        body: """
            \(renewRoomKey)
            \(refusedSpeech)
            \(tracedCopy)
            local refused = refusedSpeech(rulesKey, rolesKey, user, now)
            if refused then return refused end
            local id = redis.call('XADD', historyKey, 'MAXLEN', '~', maxLength, '*', 'p', body)
            redis.call('SPUBLISH', channel, id .. ' ' .. tracedCopy(body, trace))
            redis.call('EXPIRE', historyKey, roomIdleTTL)
            if renewsTopic == '1' then
                for _, key in ipairs({topicKey, rolesKey, rulesKey, changesKey, changeIndexKey}) do
                    renewRoomKey(key, roomIdleTTL)
                end
            end
            return id
            """)

    /// The keys and arguments of `setTopic`, in the order it declares them.
    struct SetTopicParameters {
        var topicKey: String
        var rolesKey: String
        var rulesKey: String
        /// The setter's user key (a locked topic is their operators' to set).
        var user: String
        /// Empty clears the topic.
        var text: String
        var by: String
        var time: Millis
        var roomIdleTTL: Int
        var channel: String
        var notice: String
    }

    /// Stores the topic (an empty text deletes it) and tells the room, whatever its size: unlike joins and leaves,
    /// a topic is news to everyone in it.
    static let setTopic = NamedScript<SetTopicParameters>(
        name: "setTopic",
        keys: [.init("topicKey", \.topicKey), .init("rolesKey", \.rolesKey), .init("rulesKey", \.rulesKey)],
        arguments: [
            .init("user", \.user), .init("text", \.text), .init("by", \.by), .init("time", \.time),
            .init("roomIdleTTL", \.roomIdleTTL), .init("channel", \.channel), .init("notice", \.notice),
        ],
        body: ModerationScripts.helpers + """
            if redis.call('HEXISTS', rulesKey, 't') == 1 and not isOperator(user) then
                return refuse('not-operator', 'the topic of this room is locked: only its operators set it')
            end
            if text == '' then
                redis.call('DEL', topicKey)
            else
                redis.call('HSET', topicKey, 'text', text, 'by', by, 'time', time)
                keep(topicKey, lifeOf(rulesKey, roomIdleTTL))
            end
            redis.call('SPUBLISH', channel, notice)
            return 1
            """)

    /// Whether `user` may speak in a room (a message, a reaction): refused while muted, or without voice in a
    /// moderated room; operators never are. Most rooms have no rules: one lookup of a missing key, and nothing
    /// more. A lapsed mute is removed on the way. Returns the refusal, or nil.
    /// A room key besides its history renewed as the history is, by the renewal interval more: the topic outlives
    /// the history by it, so it cannot go first when the last renewal came up to that much before the last message.
    /// Never shorter than it is: a registered room's keys live a year past its owner's visit.
    static let renewRoomKey = """
        local function renewRoomKey(key, roomIdleTTL)
            local seconds = tonumber(roomIdleTTL) + \(PublishUpkeep.renewalIntervalSeconds)
            redis.call('EXPIRE', key, seconds, 'NX')
            redis.call('EXPIRE', key, seconds, 'GT')
        end
        """

    /// The published copy of a message's JSON with its trace (`"tp"`, a W3C `traceparent` the node wrote) before the
    /// closing brace, so the nodes fanning it out continue the sender's trace; the stream keeps the JSON without it
    /// (history is no place for a trace id). Untraced, the JSON as it is.
    static let tracedCopy = """
        local function tracedCopy(json, trace)
            if not trace or trace == '' then return json end
            return string.sub(json, 1, -2) .. ',"tp":"' .. trace .. '"}'
        end
        """

    static let refusedSpeech = """
        local function refusedSpeech(rulesKey, rolesKey, user, now)
            local rules = redis.call('EXISTS', rulesKey) == 1 and redis.call('HMGET', rulesKey, 'm', 'mute:' .. user)
            if not (rules and (rules[1] or rules[2])) then return nil end
            local roles = redis.call('HGET', rolesKey, user) or ''
            if string.find(roles, '[oq]') then return nil end
            if rules[2] then
                local lapse = tonumber(string.match(rules[2], '^%d+')) or 0
                if lapse == 0 or lapse > tonumber(now) then
                    return redis.error_reply('CHAT cannot-speak you are muted in this room'
                        .. (lapse == 0 and '' or ' for ' .. math.ceil((lapse - tonumber(now)) / 60000) .. ' more minutes'))
                end
                redis.call('HDEL', rulesKey, 'mute:' .. user)
            end
            if rules[1] and roles == '' then
                return redis.error_reply('CHAT cannot-speak this room is moderated: only people with voice speak')
            end
            return nil
        end
        """

    /// Client tags (IRC's TAGMSG) to a room's members: refused as a message would be to someone muted, or without
    /// voice in a moderated room (a reaction is a word said); typing alone is dropped in a quiet room, as `announce`
    /// drops it. Never stored.
    /// KEYS: members, roles, rules
    /// ARGV: channel, payload, user, now, '1' when the tags are typing alone
    /// Returns the receivers, or 0.
    static let announceTags = RedisScript(
        name: "announceTags",
        source: """
            if ARGV[5] == '1' and redis.call('HLEN', KEYS[1]) > \(ChatStore.quietRoomSize) then return 0 end
            \(refusedSpeech)
            local refused = refusedSpeech(KEYS[3], KEYS[2], ARGV[3], ARGV[4])
            if refused then return refused end
            return redis.call('SPUBLISH', ARGV[1], ARGV[2])
            """)

    static let all: [RedisScript] = [
        join.script, leave.script, setMember, announce, publishMessage.script, setTopic.script, announceTags,
    ]
}
