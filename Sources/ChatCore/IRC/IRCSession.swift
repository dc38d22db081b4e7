// One file because registration and the commands share the connection's state (the nick, the capabilities, the
// channels) and its two ways out, replies answered here and requests for the chat session.

/// What an IRC connection knows beyond the chat session: registration (CAP negotiation, NICK, USER, PASS), the
/// capabilities the client enabled, the channels it is in. It turns each IRC message into chat requests (with
/// request ids that tell the renderer which numerics to answer with, see `IRCRenderer.Purpose`) or into lines it
/// answers itself (CAP, PING, MODE queries...), and watches the events sent to the client to know when
/// registration is done. No I/O: the node's IRC mode feeds it.
public struct IRCSession: Sendable {
    public struct Output: Sendable {
        public var replies: [IRCMessage] = []
        public var requests: [(request: ClientRequest, id: RequestID?)] = []
    }

    /// Channels one JOIN or PART may name (ISUPPORT TARGMAX): each is a request that waits its turn and costs a
    /// token of the rate limit, so one line cannot queue hundreds.
    public static let maximumTargets = 50

    /// The IRCv3 capabilities offered, in `CAP LS` order.
    public static let capabilities = [
        "away-notify", "batch", "draft/chathistory", "echo-message", "extended-join", "labeled-response",
        "draft/account-registration", "draft/message-redaction", "draft/read-marker", "message-tags", "multi-prefix",
        "sasl", "server-time",
        "userhost-in-names",
    ]

    public let serverName: String
    /// The nick asked for; the chat's display name once registered.
    public private(set) var nick: String?
    private var user: String?
    /// USER's real name: what WHOIS, WHO and WHOWAS show.
    private var realName: String?
    private var password: String?
    private var negotiating = false
    /// SASL PLAIN under way: the base64 received so far (a long one comes in 400-byte chunks).
    private var saslData: String?
    /// The name SASL checked the password of.
    private var saslAccount: String?
    private var helloSent = false
    private var now: Millis = 0
    /// The last hello carried a password: welcomed, the nick is a registered name logged in to.
    private var helloHadPassword = false
    /// Registered with the name's password: the account extended-join shows.
    private var loggedIn = false
    public private(set) var registered = false
    /// The login made this nick one of the server's operators (OPER says so, nothing more).
    public private(set) var isServerOperator = false
    public private(set) var capabilities: Set<String> = []
    public private(set) var channels: [RoomName] = []

    public init(serverName: String) {
        self.serverName = serverName
    }

    public var view: IRCView {
        IRCView(
            serverName: serverName, nick: registered ? (nick ?? "*") : "*", capabilities: capabilities, attempted: nick,
            account: registered ? (loggedIn ? nick : nil) : saslAccount)
    }

    // MARK: From the client

    /// `now`: the wall clock, for what is answered with the time (TIME).
    public mutating func receive(_ message: IRCMessage, now: Millis = 0) -> Output {
        self.now = now
        var output = Output()
        let parameters = message.parameters
        func numeric(_ code: String, _ rest: String...) { reply(code, rest, into: &output) }
        func needs(_ count: Int) -> Bool { has(count, in: message, into: &output) }
        switch message.command {
        case "CAP":
            guard needs(1) else { return output }
            capability(parameters, into: &output)
            return output
        case "PING":
            // A PING names what the PONG echoes: without it, 461, as Ergo and InspIRCd answer.
            guard needs(1) else { return output }
            guard registered else {
                output.replies.append(
                    IRCMessage(source: serverName, command: "PONG", parameters: [serverName, parameters[0]]))
                return output
            }
            // Registered, the PONG waits until whatever was published to this client before has reached it (a
            // QUIT from another node, say), as on a single server: bots and tests use PING as that barrier.
            output.requests.append((.ping, IRCRenderer.Purpose.pong.requestID(parameters[0])))
            return output
        case "PONG":
            output.requests.append((.pong, nil))
            return output
        case "QUIT":
            let message = parameters.first.map { IRCRenderer.prefix($0, bytes: LeaveReason.maximumMessageBytes) }
            output.requests.append((.quit(message: message.flatMap { $0.isEmpty ? nil : $0 }), nil))
            return output
        case "AUTHENTICATE":
            guard needs(1) else { return output }
            authenticate(parameters[0], into: &output)
            return output
        case "PASS":
            guard !registered else {
                numeric("462", "You may not reregister")
                return output
            }
            guard needs(1) else { return output }
            password = parameters[0]
            return output
        case "NICK":
            guard let wanted = parameters.first, !wanted.isEmpty else {
                numeric("431", "No nickname given")
                return output
            }
            guard !registered else {
                // A change: claimed cluster-wide, answered with the NICK line (or 433, 432, 438...). The same
                // nick again is nothing at all.
                if wanted != nick {
                    output.requests.append((.nick(name: wanted), IRCRenderer.Purpose.nick.requestID(wanted)))
                }
                return output
            }
            nick = wanted
            helloIfReady(into: &output)
            return output
        case "REGISTER" where !registered:
            // draft/account-registration without `before-connect`: a nick is registered once it is one's own.
            output.replies.append(
                IRCMessage(
                    source: serverName, command: "FAIL",
                    parameters: [
                        "REGISTER", "COMPLETE_CONNECTION_REQUIRED", parameters.first ?? "*",
                        "Finish connecting first: the nick you register is the one you have",
                    ]))
            return output
        case "USER":
            guard !registered else {
                numeric("462", "You may not reregister")
                return output
            }
            // An empty real name is a missing one (RFC 2812; Ergo and InspIRCd answer 461).
            guard needs(4) else { return output }
            guard !parameters[3].isEmpty else {
                numeric("461", "USER", "Not enough parameters")
                return output
            }
            user = parameters[0]
            realName = parameters[3]
            helloIfReady(into: &output)
            return output
        default:
            break
        }
        guard registered else {
            numeric("451", "You have not registered")
            return output
        }
        registeredCommand(message, into: &output)
        return output
    }

    /// A line that is not UTF-8 (this server is UTF8ONLY) is not executed: `FAIL <command> INVALID_UTF8`, as Ergo
    /// answers, rather than a text or name quietly changed by replacement characters.
    public func refuseInvalidUTF8(_ message: IRCMessage) -> Output {
        var output = Output()
        output.replies.append(
            IRCMessage(
                source: serverName, command: "FAIL",
                parameters: [message.command, "INVALID_UTF8", "Message rejected: it is not valid UTF-8"]))
        return output
    }

    /// A numeric to this client: to its nick once registered, to `*` before.
    private func reply(_ code: String, _ rest: [String], into output: inout Output) {
        output.replies.append(IRCMessage(source: serverName, command: code, parameters: [view.nick] + rest))
    }

    /// Whether the message has `count` parameters; 461 when not.
    private func has(_ count: Int, in message: IRCMessage, into output: inout Output) -> Bool {
        guard message.parameters.count >= count else {
            reply("461", [message.command, "Not enough parameters"], into: &output)
            return false
        }
        return true
    }

    private mutating func capability(_ parameters: [String], into output: inout Output) {
        let target = registered ? (nick ?? "*") : "*"
        func reply(_ rest: String...) {
            output.replies.append(IRCMessage(source: serverName, command: "CAP", parameters: [target] + rest))
        }
        switch parameters[0].uppercased() {
        case "LS":
            if !registered { negotiating = true }
            // CAP 302 clients get values: which SASL mechanisms there are.
            let version302 = parameters.count > 1 && (Int(parameters[1]) ?? 0) >= 302
            reply("LS", Self.capabilities.map { version302 && $0 == "sasl" ? "sasl=PLAIN" : $0 }.joined(separator: " "))
        case "LIST":
            reply("LIST", capabilities.sorted().joined(separator: " "))
        case "REQ":
            if !registered { negotiating = true }
            let asked = (parameters.count > 1 ? parameters[1] : "").split(separator: " ").map(String.init)
            let known = asked.allSatisfy { Self.capabilities.contains($0.hasPrefix("-") ? String($0.dropFirst()) : $0) }
            guard known, !asked.isEmpty else { return reply("NAK", parameters.count > 1 ? parameters[1] : "") }
            for item in asked {
                if item.hasPrefix("-") {
                    capabilities.remove(String(item.dropFirst()))
                } else {
                    capabilities.insert(item)
                }
            }
            reply("ACK", asked.joined(separator: " "))
        case "END":
            negotiating = false
            helloIfReady(into: &output)
        default:
            output.replies.append(
                IRCMessage(
                    source: serverName, command: "410", parameters: [target, parameters[0], "Invalid CAP command"]))
        }
    }

    /// SASL PLAIN (the only mechanism): `AUTHENTICATE PLAIN`, `+`, then base64 of `authzid NUL authcid NUL password`.
    /// The password is checked at once (903 or 904), and the claim that follows uses it.
    private mutating func authenticate(_ argument: String, into output: inout Output) {
        let target = registered ? (nick ?? "*") : "*"
        func numeric(_ code: String, _ text: String) {
            output.replies.append(IRCMessage(source: serverName, command: code, parameters: [target, text]))
        }
        guard !registered else { return numeric("907", "You have already authenticated using SASL") }
        if argument == "*" {
            saslData = nil
            return numeric("906", "SASL authentication aborted")
        }
        guard let data = saslData else {
            guard argument.uppercased() == "PLAIN" else {
                output.replies.append(
                    IRCMessage(
                        source: serverName, command: "908",
                        parameters: [target, "PLAIN", "are available SASL mechanisms"]))
                return numeric("904", "SASL authentication failed")
            }
            saslData = ""
            output.replies.append(IRCMessage(command: "AUTHENTICATE", parameters: ["+"]))
            return
        }
        let chunk = argument == "+" ? "" : argument
        guard chunk.utf8.count <= 400, data.utf8.count + chunk.utf8.count <= 1200 else {
            saslData = nil
            return numeric("905", "SASL message too long")
        }
        saslData = data + chunk
        // A chunk of exactly 400 bytes means more follow.
        guard chunk.utf8.count < 400 else { return }
        defer { saslData = nil }
        guard let decoded = Self.base64Decode(data + chunk) else { return numeric("904", "SASL authentication failed") }
        let fields = decoded.split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count == 3, let account = String(validating: fields[1], as: UTF8.self),
            let secret = String(validating: fields[2], as: UTF8.self), let password = try? Password(given: secret)
        else { return numeric("904", "SASL authentication failed") }
        saslAccount = account
        self.password = secret
        output.requests.append((.authenticate(name: account, password: password), IRCRenderer.Purpose.sasl.requestID))
    }

    static func base64Decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((buffer >> UInt32(bits)) & 0xff))
            }
        }
        return bytes
    }

    /// NICK and USER given and CAP negotiation over: claim the nick as the chat name, in no room (IRC clients join
    /// their channels themselves).
    private mutating func helloIfReady(into output: inout Output) {
        guard let nick, user != nil, !negotiating, !helloSent, !registered else { return }
        helloSent = true
        // A password checked by SASL is for the account it named: a different nick is claimed without it.
        let forThisNick = saslAccount.map { $0.lowercased() == nick.lowercased() } ?? true
        let login = Login(
            password: forThisNick ? password.flatMap { try? Password(given: $0) } : nil, realName: realName)
        helloHadPassword = login.password != nil
        output.requests.append((.hello(name: nick, rooms: [], login: login), IRCRenderer.Purpose.hello.requestID))
    }

    private mutating func registeredCommand(_ message: IRCMessage, into output: inout Output) {
        let parameters = message.parameters
        let me = nick ?? "*"
        func numeric(_ code: String, _ rest: String...) { reply(code, rest, into: &output) }
        func request(_ request: ClientRequest, _ purpose: IRCRenderer.Purpose? = nil, about target: String? = nil) {
            output.requests.append((request, target.flatMap { purpose?.requestID($0) } ?? purpose?.requestID))
        }
        func needs(_ count: Int) -> Bool { has(count, in: message, into: &output) }
        func nickServ(_ text: String) {
            let (parsed, answer) = IRCRenderer.nickServRequest(text)
            if let parsed { return request(parsed, .nickServ) }
            output.replies.append(
                IRCMessage(source: IRCRenderer.nickServ, command: "NOTICE", parameters: [me, answer ?? ""]))
        }
        func fail(_ code: String, _ context: String, _ text: String) {
            output.replies.append(
                IRCMessage(source: serverName, command: "FAIL", parameters: [message.command, code, context, text]))
        }
        func chanServ(_ text: String) {
            let (parsed, help) = Self.chanServRequest(text)
            if let parsed { return request(parsed, .chanServ) }
            output.replies.append(
                IRCMessage(source: IRCRenderer.chanServ, command: "NOTICE", parameters: [me, help ?? ""]))
        }
        func histServ(_ text: String) {
            let (parsed, answer) = IRCRenderer.histServRequest(text)
            if let parsed { return request(parsed, .histServ) }
            output.replies.append(
                IRCMessage(source: IRCRenderer.histServ, command: "NOTICE", parameters: [me, answer ?? ""]))
        }
        switch message.command {
        case "JOIN":
            guard needs(1) else { return }
            if parameters[0] == "0" {
                for room in channels { request(.leave(room: room.value), .part, about: "#" + room.value) }
                return
            }
            let targets = parameters[0].split(separator: ",")
            guard targets.count <= Self.maximumTargets else {
                return numeric("407", parameters[0], "Too many channels at once (at most \(Self.maximumTargets))")
            }
            // `JOIN #a,#b key1,key2`: keys pair with channels in order.
            let keys = parameters.count > 1 ? parameters[1].split(separator: ",").map(String.init) : []
            for (index, target) in targets.enumerated() {
                let key = index < keys.count && !keys[index].isEmpty ? keys[index] : nil
                request(.join(room: String(target), since: nil, key: key), .join, about: String(target))
            }
        case "PART":
            guard needs(1) else { return }
            let targets = parameters[0].split(separator: ",")
            guard targets.count <= Self.maximumTargets else {
                return numeric("407", parameters[0], "Too many channels at once (at most \(Self.maximumTargets))")
            }
            let message =
                parameters.count > 1 && !parameters[1].isEmpty
                ? IRCRenderer.prefix(parameters[1], bytes: LeaveReason.maximumMessageBytes) : nil
            for target in targets {
                request(.leave(room: String(target), message: message), .part, about: String(target))
            }
        case "PRIVMSG", "NOTICE":
            guard parameters.count >= 1 else { return numeric("411", "No recipient given (\(message.command))") }
            guard parameters.count >= 2, !parameters[1].isEmpty else { return numeric("412", "No text to send") }
            let notice = message.command == "NOTICE"
            // Formatting codes (bold, colours...) are kept for the other IRC clients; the other protocols' renderers
            // remove them. A text of nothing but codes says nothing.
            var text = parameters[1]
            guard !IRCFormatting.strip(text).isEmpty else { return numeric("412", "No text to send") }
            var isAction = false
            if text.hasPrefix("\u{1}") {
                // CTCP: an ACTION is a /me; other queries (VERSION, PING...) have no chat meaning and are dropped,
                // as are CTCP replies (NOTICEs).
                let body = text.dropFirst().split(separator: "\u{1}", omittingEmptySubsequences: false).first ?? ""
                guard body.hasPrefix("ACTION "), !notice else { return }
                text = String(body.dropFirst("ACTION ".count))
                isAction = true
            }
            let target = parameters[0]
            // Relayed, the line gains the sender's prefix; one that would then pass 512 bytes is refused rather
            // than cut or split, so the sender knows (irssi and WeeChat split long texts themselves, allowing for it).
            let relayed = ":\(IRCRenderer.mask(me)) \(message.command) \(target) :\(parameters[1])\r\n"
            guard relayed.utf8.count <= IRCMessage.maximumBytes || target.hasPrefix("$") else {
                return numeric(
                    "417",
                    "Input line was too long (relayed with your prefix it would pass 512 bytes; "
                        + "send at most \(IRCMessage.maximumBytes - relayed.utf8.count + parameters[1].utf8.count) bytes of text)"
                )
            }
            let purpose: IRCRenderer.Purpose = notice ? .notice : .message
            if target.lowercased() == "chanserv" {
                if !notice { chanServ(text) }
            } else if target.lowercased() == "nickserv" {
                if !notice { nickServ(text) }
            } else if target.lowercased() == "histserv" {
                if !notice { histServ(text) }
            } else if target.hasPrefix("$") {
                // `$*` (`$$*`): every user on every server, RFC 2812's server mask: a server operator's announcement.
                request(.operate(.announce(text: text)), .operate, about: target)
            } else if notice {
                // Kept a notice for everyone: an IRC client gets a NOTICE, and no bot answers it.
                request(.notice(to: target, text: text), purpose, about: target)
            } else if target.hasPrefix("#") {
                // `+draft/edit=<msgid>` rewrites that message (the message-modification draft); `+draft/reply` answers
                // one. A tag whose value is no message id of ours is ignored, as unknown client tags are.
                func taggedID(_ key: String) -> StreamID? {
                    message.tags.first { $0.key == key }?.value.flatMap(StreamID.init)
                }
                if let edited = taggedID("+draft/edit") {
                    request(.actOn(room: target, target: .id(edited), .edit(text)), purpose, about: target)
                } else if let answered = taggedID("+draft/reply") {
                    request(
                        .reply(room: target, to: .id(answered), text: text, isAction: isAction), purpose, about: target)
                } else {
                    request(.say(room: target, text: text, isAction: isAction), purpose, about: target)
                }
            } else if isAction {
                request(.direct(to: target, text: text, isAction: true), purpose, about: target)
            } else {
                request(.direct(to: target, text: text), purpose, about: target)
            }
        case "NAMES":
            // One channel a time; NAMES without one would list every room's people, which nobody here needs.
            guard let target = parameters.first?.split(separator: ",").first else {
                return numeric("366", "*", "End of /NAMES list")
            }
            // A name that is no channel's lists nobody: 366 with the name as given (RFC 2812, Modern).
            guard target.hasPrefix("#") else {
                return numeric("366", IRCRenderer.middle(String(target)), "End of /NAMES list")
            }
            request(.who(room: String(target), listing: .everyone), .names, about: String(target))
        case "WHO":
            // `WHO #chan` lists its members, `WHO nick` one person; WHOX (`WHO #chan %tnuhraf,42`) answers 354 with
            // the fields asked for. Masks match nobody: everyone is +i, and a search over every connected person
            // of the cluster is not a request one line may make.
            guard needs(1) else { return }
            let mask = parameters[0]
            let whox = parameters.count > 1 && parameters[1].contains("%") ? " " + parameters[1] : ""
            if mask.contains(" ") {
                numeric("315", "*", "End of /WHO list")
            } else if mask.hasPrefix("#") {
                request(.who(room: mask, listing: .everyone), .who, about: mask + whox)
            } else if mask.isEmpty || mask.contains(where: { "*?!@,".contains($0) }) || mask == "0" {
                numeric("315", IRCRenderer.middle(mask), "End of /WHO list")
            } else {
                request(.seen(name: mask), .who, about: mask + whox)
            }
        case "WHOIS":
            // `WHOIS nick` or `WHOIS server nick`: every server is this one.
            guard let nick = parameters.last, !nick.isEmpty else { return numeric("431", "No nickname given") }
            request(.seen(name: nick), .whois, about: nick)
        case "WHOWAS":
            // The last time a nick was connected (/seen's record): one entry, whatever count is asked for.
            guard needs(1) else { return }
            guard let nick = parameters[0].split(separator: ",").first.map(String.init) else {
                return numeric("431", "No nickname given")
            }
            request(.seen(name: nick), .whowas, about: nick)
        case "LIST":
            request(.rooms, .list)
        case "AWAY":
            // Cut at AWAYLEN, as IRC servers do, rather than refused.
            if let text = parameters.first, !text.isEmpty {
                request(.away(IRCRenderer.prefix(text, bytes: Presence.maximumAwayBytes)), .away)
            } else {
                request(.back, .away)
            }
        case "MODE":
            guard needs(1) else { return }
            if parameters[0].hasPrefix("#") {
                let room = parameters[0]
                switch parameters.count == 1 ? "" : parameters[1] {
                case "": request(.mode(room: room, .show), .mode, about: room)
                // No exception or invitation lists are kept: asked (irssi and WeeChat ask after joining), empty.
                case "e", "+e": numeric("349", room, "End of channel exception list")
                case "I", "+I": numeric("347", room, "End of channel invite list")
                case let list where (list == "b" || list == "+b") && parameters.count == 2:
                    // Only operators see the ban list; others get it empty (`IRCRenderer.moderationError`).
                    request(.mode(room: room, .bans), .banList, about: room)
                default:
                    do {
                        let modes = try RoomModeRequest.parse(parameters[1], arguments: Array(parameters.dropFirst(2)))
                        request(.mode(room: room, modes), .mode, about: room)
                    } catch {
                        output.replies += IRCRenderer.errorLines(error, purpose: .mode, target: room, view: view)
                    }
                }
            } else if parameters[0].lowercased() == me.lowercased() {
                // User modes: +R refuses guests' direct messages (Ergo's), kept by the chat, so `MODE nick` asks it;
                // +i is everyone's, and WALLOPS reach operators whatever +w says.
                guard parameters.count > 1 else { return request(.blocks, .userMode, about: "?") }
                var adding = true
                var unknown = false
                for letter in parameters[1] {
                    switch letter {
                    case "+": adding = true
                    case "-": adding = false
                    case "R":
                        request(.directMessages(registeredOnly: adding), .userMode, about: adding ? "+R" : "-R")
                    case "B":
                        // IRCv3 bot mode: WHO shows B, WHOIS 335.
                        request(.bot(on: adding), .userMode, about: adding ? "+B" : "-B")
                    case "i", "w": break
                    default: unknown = true
                    }
                }
                if unknown { numeric("501", "Unknown MODE flag") }
            } else {
                numeric("502", "Can't change mode for other users")
            }
        case "TOPIC":
            guard needs(1) else { return }
            // `TOPIC #dev` asks, `TOPIC #dev :text` sets, `TOPIC #dev :` clears. No operators: any member may. A
            // text of nothing but formatting codes asks (it must not clear), and one over TOPICLEN is cut there, as
            // IRC servers do.
            var text: String?
            if parameters.count > 1, !IRCFormatting.strip(parameters[1]).isEmpty || parameters[1].isEmpty {
                text = IRCRenderer.prefix(parameters[1], bytes: RoomTopic.maximumBytes)
            }
            request(.topic(room: parameters[0], text: text), .topic, about: parameters[0])
        case "KICK":
            // `KICK #room nick[,nick] [:reason]`: one kick a nick (TARGMAX KICK:1 would refuse a list outright).
            guard needs(2) else { return }
            let reason =
                parameters.count > 2 && !parameters[2].isEmpty
                ? IRCRenderer.prefix(parameters[2], bytes: LeaveReason.maximumMessageBytes) : nil
            for nick in parameters[1].split(separator: ",").prefix(Self.maximumTargets) {
                request(
                    .kick(room: parameters[0], name: String(nick), reason: reason), .kick,
                    about: "\(parameters[0]) \(nick)")
            }
        case "INVITE":
            guard needs(2) else { return }
            request(
                .invite(room: parameters[1], name: parameters[0]), .invite, about: "\(parameters[0]) \(parameters[1])")
        case "MOTD":
            request(.motd)
        case "SILENCE":
            // ircu's and InspIRCd's ignore list, by nick: `SILENCE +nick`, `SILENCE -nick`, `SILENCE` lists.
            guard let entry = parameters.first else { return request(.blocks) }
            let sign = entry.first
            let mask = sign == "+" || sign == "-" ? String(entry.dropFirst()) : entry
            let nick = String(mask.prefix { $0 != "!" && $0 != "@" })
            guard !nick.isEmpty, nick != "*" else { return numeric("461", "SILENCE", "SILENCE +nick or -nick") }
            let change = (sign == "-" ? "-" : "+") + nick
            request(sign == "-" ? .unblock(name: nick) : .block(name: nick), .silence, about: change)
        case "OPER":
            // Operators are registered names the deployment lists, made operators by their login: OPER only says
            // whether this one is (Ergo's oper blocks for accounts work the same way).
            guard needs(1) else { return }
            if isServerOperator { return numeric("381", "You are now an IRC operator") }
            numeric("491", "No O-lines for your host (operators log in as a listed registered name with its password)")
        case "KILL":
            guard needs(1) else { return }
            let reason = parameters.count > 1 && !parameters[1].isEmpty ? parameters[1] : nil
            request(.operate(.kill(name: parameters[0], reason: reason)), .operate, about: parameters[0])
        case "WALLOPS":
            guard needs(1) else { return }
            request(.operate(.wallops(text: parameters[0])), .operate)
        case "UBAN":
            // Ergo's: `UBAN ADD <target> [DURATION <d>] [REASON...]`, `UBAN DEL <target>`, `UBAN LIST`.
            guard needs(1) else { return }
            switch parameters[0].uppercased() {
            case "LIST": request(.operate(.bans), .operate)
            case "ADD" where parameters.count >= 2:
                var rest = Array(parameters.dropFirst(2))
                var duration: Millis?
                if rest.count >= 2, rest[0].uppercased() == "DURATION" {
                    guard let parsed = ModerationDuration.parse(rest[1]) else {
                        return numeric("NOTICE", "UBAN: a duration is like 90s, 10m, 2h or 7d")
                    }
                    duration = parsed
                    rest.removeFirst(2)
                }
                let reason = rest.joined(separator: " ")
                request(
                    .operate(.ban(mask: parameters[1], duration: duration, reason: reason.isEmpty ? nil : reason)),
                    .operate, about: parameters[1])
            case "DEL" where parameters.count >= 2:
                request(.operate(.unban(mask: parameters[1])), .operate, about: parameters[1])
            default:
                numeric("461", "UBAN", "usage: UBAN ADD <target> [DURATION <d>] [REASON], UBAN DEL <target>, UBAN LIST")
            }
        case "CS", "CHANSERV":
            chanServ(parameters.joined(separator: " "))
        case "NS", "NICKSERV":
            nickServ(parameters.joined(separator: " "))
        case "HS", "HISTSERV":
            histServ(parameters.joined(separator: " "))
        case "REGISTER":
            // `REGISTER <account> <email> <password>`: the account is the nick (`*` for it); no email is kept.
            guard needs(3) else { return }
            guard !loggedIn else { return fail("ALREADY_AUTHENTICATED", me, "You are logged in already") }
            let account = parameters[0]
            guard account == "*" || account.lowercased() == me.lowercased() else {
                return fail("ACCOUNT_NAME_MUST_BE_NICK", IRCRenderer.middle(account), "The account is your nick")
            }
            do {
                request(.register(try Password(new: parameters[2])), .accountRegistration)
            } catch {
                fail("WEAK_PASSWORD", me, error.message)
            }
        case "SUSPEND", "UNSUSPEND", "CLOSEROOM", "AUDIT":
            // This server's own (docs/protocol.md): the text commands of the same names, in IRC's syntax.
            let words = parameters.dropLast(parameters.count > 1 ? 1 : 0).joined(separator: " ")
            let trailing = parameters.count > 1 ? " " + parameters[parameters.count - 1] : ""
            do {
                let parsed = try TextCommandParser.operatorCommand(
                    message.command.lowercased(), parameters.isEmpty ? "" : words + trailing)
                request(parsed, .operate, about: parameters.first)
            } catch {
                numeric("461", message.command, error.message)
            }
        case "VERSION":
            numeric("351", ChatVersion.irc, serverName, "IRC alongside the chat's own clients")
        case "TIME":
            numeric("391", serverName, TimeFormat.dateTime(now))
        case "LUSERS":
            request(.counts, .lusers)
        case "CHATHISTORY":
            switch IRCChatHistory.step(parameters, view: view, now: 0) {
            case .reply(let lines): output.replies += lines
            case .request(let history, let query): request(history, .chathistory, about: query.encoded)
            }
        case "TAGMSG":
            // Client-only tags to a channel or a nick: `+typing`, `+draft/react`, `+draft/reply` are relayed (live,
            // never stored); the others are denied (CLIENTTAGDENY), and a TAGMSG left with none is nothing.
            guard parameters.count >= 1, !parameters[0].isEmpty else {
                return numeric("411", "No recipient given (TAGMSG)")
            }
            // A reaction to a channel's message (`+draft/react` or `+draft/unreact` with `+draft/reply` naming it)
            // is kept with the message; to a person, it is relayed like the other tags.
            let target = parameters[0]
            if target.hasPrefix("#"),
                let answered = message.tags.first(where: { $0.key == "+draft/reply" })?.value.flatMap(StreamID.init)
            {
                if let emoji = message.tags.first(where: { $0.key == "+draft/react" })?.value {
                    return request(.actOn(room: target, target: .id(answered), .react(emoji)), .message, about: target)
                }
                if let emoji = message.tags.first(where: { $0.key == "+draft/unreact" })?.value {
                    return request(
                        .actOn(room: target, target: .id(answered), .unreact(emoji)), .message, about: target)
                }
            }
            guard let tags = TagMessage.relayed(message.tags) else { return }
            request(.tagMessage(to: target, tags: tags), .message, about: target)
        case "MARKREAD":
            // draft/read-marker: `MARKREAD #channel [timestamp=...]` sets (forward only) or asks; a channel's only,
            // as the chat keeps markers for rooms.
            func fail(_ code: String, _ rest: String...) {
                output.replies.append(
                    IRCMessage(source: serverName, command: "FAIL", parameters: ["MARKREAD", code] + rest))
            }
            guard let target = parameters.first, !target.isEmpty else {
                return fail("NEED_MORE_PARAMS", "Missing parameters")
            }
            guard target.hasPrefix("#") else {
                return fail("INVALID_PARAMS", target, "Read markers are kept for channels")
            }
            guard parameters.count > 1 else {
                return request(.markRead(room: target, id: nil), .markRead, about: target)
            }
            guard parameters[1].hasPrefix("timestamp="),
                let millis = TimeFormat.millis(iso8601: String(parameters[1].dropFirst("timestamp=".count))),
                millis >= 0
            else { return fail("INVALID_PARAMS", target, "Not a timestamp=YYYY-MM-DDThh:mm:ss.sssZ") }
            // Everything said up to the end of that millisecond.
            let id = StreamID(millis: UInt64(millis), sequence: UInt64.max)
            request(.markRead(room: target, id: id.description), .markRead, about: target)
        case "REDACT":
            // IRCv3 draft/message-redaction: `REDACT #channel <msgid> [:reason]` deletes a message for everyone.
            guard needs(2) else { return }
            let target = parameters[0]
            guard target.hasPrefix("#") else {
                return output.replies.append(
                    IRCMessage(
                        source: serverName, command: "FAIL",
                        parameters: ["REDACT", "INVALID_TARGET", target, "Only channel messages can be deleted here"]))
            }
            guard let id = StreamID(parameters[1]) else {
                return output.replies.append(
                    IRCMessage(
                        source: serverName, command: "FAIL",
                        parameters: [
                            "REDACT", "UNKNOWN_MSGID", target, parameters[1],
                            "This message does not exist or is too old",
                        ]))
            }
            let reason = parameters.count > 2 && !parameters[2].isEmpty ? parameters[2] : nil
            request(.actOn(room: target, target: .id(id), .delete(reason: reason)), .redact, about: "\(target) \(id)")
        case "ISON", "USERHOST":
            guard needs(1) else { return }
            // ISON's nicks come as parameters or as one trailing parameter of space-separated nicks.
            let nicks = parameters.flatMap { $0.split(separator: " ").map(String.init) }
            let limit = message.command == "ISON" ? ClientRequest.maximumOnlineNames : 5
            request(.online(names: Array(nicks.prefix(limit))), message.command == "ISON" ? .ison : .userhost)
        default:
            numeric("421", message.command, "Unknown command")
        }
    }

    // MARK: To the client

    /// Sees each event the client is sent (with the id of the request it answers) and returns the requests that
    /// follow from it: NAMES after a join.
    public mutating func observe(
        _ event: ChatEvent, requestID: RequestID?
    ) -> [(request: ClientRequest, id: RequestID?)] {
        switch event {
        case .welcome(let name, _, _, _, _):
            registered = true
            nick = name
            loggedIn = helloHadPassword
            password = nil  // not kept longer than the login needs it
        case .error where IRCRenderer.Purpose(requestID) == .hello:
            // The nick was refused: the client sends another NICK, which claims again.
            helloSent = false
        case .error where IRCRenderer.Purpose(requestID) == .sasl:
            // A wrong password is not kept for the claim.
            password = nil
            saslAccount = nil
        case .youJoined(let room, _, _):
            if !channels.contains(room) { channels.append(room) }
            return [(.who(room: room.value, listing: .everyone), IRCRenderer.Purpose.names.requestID)]
        case .youLeft(let room, _):
            channels.removeAll { $0 == room }
        case .kicked(let room, let name, _, _, _) where name.lowercased() == nick?.lowercased():
            channels.removeAll { $0 == room }
        case .renamed(nil, _, let to, _):
            nick = to
        case .ok where [.nickServ, .accountRegistration].contains(IRCRenderer.Purpose(requestID)):
            loggedIn = true  // registered: the nick is its account now (extended-join, WHOX's account)
        case .serverOperator:
            isServerOperator = true
        case .serverOperatorEnded:
            isServerOperator = false
        case .roomClosed(let room, _, _, _):
            channels.removeAll { $0 == room }
        default:
            break
        }
        return []
    }
}
