/// Writes requests as JSON lines: the inverse of `JSONRequestParser`, for clients (the terminal client turns the
/// /commands people type into these).
public enum JSONRequestEncoder {
    /// One JSON object, without the newline. `id` is sent as a string and comes back in the reply.
    public static func object(_ request: ClientRequest, id: String? = nil) -> String {
        var json = JSONWriter()
        func op(_ name: String) {
            json.field("op", name)
            if let id { json.field("id", id) }
        }
        switch request {
        case .hello(let name, let rooms, let login):
            op("hello")
            json.field("name", name)
            if let password = login.password { json.field("password", password.text) }
            if let resume = login.resume { json.field("resume", resume) }
            if let rooms {
                json.array(
                    "rooms",
                    rooms.map { entry in
                        var room = JSONWriter()
                        room.field("room", entry.room)
                        if let since = entry.since { room.field("since", since) }
                        return room.finish()
                    })
            }
        case .say(let room, let text, let isAction):
            op(isAction ? "me" : "say")
            if let room { json.field("room", room) }
            json.field("text", text)
        case .reply(let room, let target, let text, let isAction):
            op(isAction ? "me" : "say")
            if let room { json.field("room", room) }
            json.field("text", text)
            switch target {
            case .id(let id): json.field("reply", id.description)
            case .latest(let name): json.field("reply-to", name ?? "")
            case .ownLatest: json.field("reply-to", "~")
            }
        case .markRead(let room, let id):
            op("read")
            if let room { json.field("room", room) }
            if let id { json.field("msgid", id) }
        case .actOn(let room, let target, let action):
            switch action {
            case .react(let emoji), .unreact(let emoji):
                op(action.operation)
                json.field("emoji", emoji)
            case .edit(let text):
                op("edit")
                json.field("text", text)
            case .delete(let reason):
                op("delete")
                if let reason { json.field("text", reason) }
            }
            if let room { json.field("room", room) }
            switch target {
            case .id(let id): json.field("msgid", id.description)
            case .latest(let name?): json.field("of", name)
            case .latest(nil), .ownLatest: break
            }
        case .join(let room, let since, let key):
            op("join")
            json.field("room", room)
            if let since { json.field("since", since) }
            if let key { json.field("key", key) }
        case .mode(let room, let request):
            op(request == .bans ? "bans" : "mode")
            if let room { json.field("room", room) }
            if case .change(let changes) = request {
                let (modes, arguments) = ModerationText.modeLine(changes, showingKeys: true)
                json.field("modes", modes)
                json.array("args", arguments.map(JSONWriter.quoted))
            }
        case .kick(let room, let name, let reason):
            op("kick")
            if let room { json.field("room", room) }
            json.field("name", name)
            if let reason { json.field("text", reason) }
        case .ban(let room, let target, let duration, let reason),
            .mute(let room, let target, let duration, let reason):
            if case .ban = request { op("ban") } else { op("mute") }
            if let room { json.field("room", room) }
            json.field("name", target)
            if let duration { json.field("duration", "\(max(1, duration / 1000))s") }
            if let reason { json.field("text", reason) }
        case .invite(let room, let name):
            op("invite")
            if let room { json.field("room", room) }
            json.field("name", name)
        case .room(let room, let request):
            switch request {
            case .register: op("room-register")
            case .unregister: op("room-unregister")
            case .info: op("room-info")
            case .transfer(let name):
                op("room-transfer")
                json.field("name", name)
            }
            if let room { json.field("room", room) }
        case .leave(let room, let message):
            op("leave")
            if let room { json.field("room", room) }
            if let message { json.field("text", message) }
        case .rooms:
            op("rooms")
        case .who(let room, let listing):
            op("who")
            if let room { json.field("room", room) }
            if case .page(let after?) = listing { json.field("after", after) }
        case .direct(let to, let text, let isAction):
            op("msg")
            json.field("to", to)
            json.field("text", text)
            if isAction { json.field("action", true) }
        case .notice(let to, let text):
            op("notice")
            if to.hasPrefix("#") { json.field("room", String(to.dropFirst())) } else { json.field("to", to) }
            json.field("text", text)
        case .away(let text):
            op("away")
            if let text { json.field("text", text) }
        case .back:
            op("back")
        case .topic(let room, let text):
            op("topic")
            if let room { json.field("room", room) }
            if let text { json.field("text", text) }
        case .history(let room, let limit, let before, let after):
            op("history")
            if let room { json.field("room", room) }
            if let limit { json.field("limit", limit) }
            if let before { json.field("before", before) }
            if let after { json.field("after", after) }
        case .forgetMine:
            op("forget")
            json.field("confirm", true)
        case .search(let search):
            op("search")
            json.field("text", search.text)
            if let room = search.room { json.field("room", room) }
            if let from = search.from { json.field("from", from) }
            if let before = search.before { json.field("before", before) }
            if let after = search.after { json.field("after", after) }
            if search.page != 1 { json.field("page", search.page) }
        case .typing(let room):
            op("typing")
            if let room { json.field("room", room) }
        case .online(let names):
            op("online")
            json.array("names", names.map(JSONWriter.quoted))
        case .seen(let name):
            op("seen")
            json.field("name", name)
        case .password(let password):
            // Text mode's bare password line has no JSON form: a JSON client sends `hello` again with it.
            op("hello")
            json.field("password", password.text)
        case .register(let password):
            op("register")
            json.field("password", password.text)
        case .changePassword(let old, let new):
            op("password")
            json.field("old", old.text)
            json.field("new", new.text)
        case .unregister(let password):
            op("unregister")
            json.field("password", password.text)
        case .authenticate(let name, let password):
            // IRC's; JSON clients put the password in their hello.
            op("hello")
            json.field("name", name)
            json.field("password", password.text)
        case .help:
            op("help")
        case .quit(let message):
            op("quit")
            if let message { json.field("text", message) }
        case .pong:
            op("pong")
        case .ping:
            op("ping")
        case .motd:
            op("motd")
        case .counts:
            op("counts")
        case .nick(let name):
            op("nick")
            json.field("name", name)
        case .tagMessage(let to, let tags):
            op("tagmsg")
            json.field("to", to)
            json.field("text", TagMessage(room: nil, from: "", tags: tags, id: "", time: 0).encodedTags)
        case .bot(let on):
            op("bot")
            json.field("text", on ? "on" : "off")
        case .block(let name), .unblock(let name):
            if case .block = request { op("block") } else { op("unblock") }
            json.field("name", name)
        case .blocks:
            op("blocks")
        case .directMessages(let registeredOnly):
            op("dms")
            json.field("text", registeredOnly ? "registered" : "everyone")
        case .operate(let request):
            func duration(_ millis: Millis?) {
                if let millis { json.field("duration", "\(max(1, millis / 1000))s") }
            }
            func reason(_ text: String?) { if let text { json.field("text", text) } }
            switch request {
            case .kill(let name, let why):
                op("kill")
                json.field("name", name)
                reason(why)
            case .suspend(let name, let lasting, let why):
                op("suspend")
                json.field("name", name)
                duration(lasting)
                reason(why)
            case .unsuspend(let name):
                op("unsuspend")
                json.field("name", name)
            case .ban(let mask, let lasting, let why):
                op("network-ban")
                json.field("name", mask)
                duration(lasting)
                reason(why)
            case .unban(let mask):
                op("network-unban")
                json.field("name", mask)
            case .bans:
                op("network-bans")
            case .announce(let text):
                op("announce")
                json.field("text", text)
            case .wallops(let text):
                op("wallops")
                json.field("text", text)
            case .setMOTD(let text):
                op("motd")
                json.field("text", text)
            case .closeRoom(let room, let why):
                op("close-room")
                json.field("room", room)
                reason(why)
            case .audit(let count, let room):
                op("audit")
                if let count { json.field("limit", count) }
                if let room { json.field("room", room) }
            }
        }
        return json.finish()
    }
}
