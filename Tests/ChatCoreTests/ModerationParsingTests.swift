import ChatCore
import Testing

/// Moderation requests as people type them, and what travels between nodes (docs/moderation.md).
@Suite("Moderation parsing")
struct ModerationParsingTests {
    @Test("mode strings: roles, flags, key and limit, bans and m: mutes; lists; bad letters and missing arguments")
    func modeStrings() throws {
        #expect(
            try RoomModeRequest.parse("+ov", arguments: ["alice", "bob"])
                == .change([
                    .role(.operator, name: "alice", granted: true), .role(.voice, name: "bob", granted: true),
                ]))
        #expect(
            try RoomModeRequest.parse("-i+kl", arguments: ["s3cret", "50"])
                == .change([
                    .flag(.inviteOnly, on: false), .key("s3cret"), .limit(50),
                ]))
        #expect(try RoomModeRequest.parse("b", arguments: []) == .bans)
        #expect(try RoomModeRequest.parse("+n", arguments: []) == .show)
        #expect(try RoomModeRequest.parse("+b", arguments: ["m:bob"]) == .change([.mute(name: "bob", on: true)]))
        #expect(throws: ChatError.self) { try RoomModeRequest.parse("+x", arguments: []) }
        #expect(throws: ChatError.self) { try RoomModeRequest.parse("+o", arguments: []) }
        #expect(throws: ChatError.self) { try RoomModeRequest.parse("+l", arguments: ["0"]) }
        #expect(throws: ChatError.self) { try RoomModeRequest.parse("+k", arguments: ["two words"]) }
        #expect(throws: ChatError.self) {
            try RoomModeRequest.parse("+vvvvvvv", arguments: Array(repeating: "a", count: 7))
        }
    }

    @Test("ban masks: a name, a glob over the name's key, an address or range; masks that ban everyone are refused")
    func banMasks() throws {
        let name = try BanMask(parsing: "Bob")
        #expect(name.text == "Bob!*@*" && name.nickGlob == "bob" && name.addressPrefix == nil)
        let glob = try BanMask(parsing: "spam**!*@*")
        // Over the key: "spam" looks like "sparn", and so does its key; a run of stars is one.
        #expect(glob.nickGlob == "\(try UserName(validating: "spam").key)*")
        let address = try BanMask(parsing: "*!*@192.0.2.0/24")
        #expect(address.namesAddress && address.addressPrefix == "4:110000000000000000000010")
        #expect(try BanMask(parsing: "*!*@192.0.2.*").addressPrefix == address.addressPrefix)
        #expect(try BanMask(parsing: "*!*@::ffff:192.0.2.0/120").addressPrefix == address.addressPrefix)
        #expect(BanMask.addressBits(ofClient: "192.0.2.7").hasPrefix(address.addressPrefix!))
        #expect(!BanMask.addressBits(ofClient: "192.0.3.7").hasPrefix(address.addressPrefix!))
        #expect(BanMask.addressBits(ofClient: "::ffff:192.0.2.7") == BanMask.addressBits(ofClient: "192.0.2.7"))
        let v6 = try BanMask(parsing: "*!*@2001:db8::/32")
        #expect(BanMask.addressBits(ofClient: "2001:db8::1").hasPrefix(v6.addressPrefix!))
        for everyone in ["*!*@*", "*", "*!*u@*.chat", "*!~u@*", "*!*@*chat"] {
            #expect(throws: ChatError.self, "\(everyone)") { try BanMask(parsing: everyone) }
        }
        #expect(throws: ChatError.self) { try BanMask(parsing: "*!bob@*") }  // everyone's user is ~u
        #expect(throws: ChatError.self) { try BanMask(parsing: "*!*@example.org") }  // and hosts are cloaks
        // irssi's own `/ban bob` (`*!*u@host`) and WeeChat's (`*!*@host`): bob's cloak, case aside, and nobody else.
        let host = IRCRenderer.host(of: "Bob")
        #expect(host == IRCRenderer.host(of: "bob") && host != IRCRenderer.host(of: "rob") && host.hasSuffix(".chat"))
        for mask in ["*!*u@\(host)", "*!*@\(host.uppercased())"] {
            let cloaked = try BanMask(parsing: mask)
            #expect(cloaked.hostGlob == host && !cloaked.namesAddress)
            #expect(cloaked.matches(keys: ["bob"], addressBits: "", host: host))
            #expect(!cloaked.matches(keys: ["rob"], addressBits: "", host: IRCRenderer.host(of: "rob")))
            #expect(!cloaked.matches(keys: [], addressBits: "4:1100", host: nil), "before a name: no host to match")
        }
        #expect(throws: ChatError.self) { try BanMask(parsing: "bob\u{202E}x") }
        #expect(throws: ChatError.self) { try BanMask(parsing: "m:bob") }  // a mute is not a ban
        #expect(try BanMask.mutedName("élise!*@*") == "élise")
    }

    @Test("durations: 90s, 10m, 2h, 7d, 1w, 1h30m, a bare number of minutes; at most a year; words are not")
    func durations() {
        #expect(ModerationDuration.parse("90s") == 90_000)
        #expect(ModerationDuration.parse("10m") == 600_000)
        #expect(ModerationDuration.parse("1h30m") == 5_400_000)
        #expect(ModerationDuration.parse("15") == 900_000)
        #expect(ModerationDuration.parse("1w") == 604_800_000)
        #expect(ModerationDuration.parse("400d") == nil)
        #expect(ModerationDuration.parse("spam") == nil)
        #expect(ModerationDuration.parse("m") == nil)
        #expect(ModerationDuration.describe(5_400_000) == "1h 30m")
    }

    @Test("text commands and JSON ops give the same requests")
    func commands() throws {
        #expect(try TextCommandParser.parse("/kick bob go away") == .kick(room: nil, name: "bob", reason: "go away"))
        #expect(
            try TextCommandParser.parse("/ban bob 2h spam")
                == .ban(room: nil, target: "bob", duration: 7_200_000, reason: "spam"))
        #expect(try TextCommandParser.parse("/ban bob spam") == .ban(room: nil, target: "bob", reason: "spam"))
        #expect(
            try TextCommandParser.parse("/op bob")
                == .mode(room: nil, .change([.role(.operator, name: "bob", granted: true)])))
        #expect(
            try TextCommandParser.parse("/devoice bob")
                == .mode(room: nil, .change([.role(.voice, name: "bob", granted: false)])))
        #expect(try TextCommandParser.parse("/mode #dev +l 5") == .mode(room: "#dev", .change([.limit(5)])))
        #expect(try TextCommandParser.parse("/join dev s3cret") == .join(room: "dev", since: nil, key: "s3cret"))
        #expect(
            try TextCommandParser.parse("/join dev 1795250096010-0") == .join(room: "dev", since: "1795250096010-0"))
        let json = try JSONRequestParser.parse(
            #"{"op":"mute","room":"dev","name":"bob","duration":"10m","text":"calm"}"#
        )
        .request.get()
        #expect(json == .mute(room: "dev", name: "bob", duration: 600_000, reason: "calm"))
        let mode = try JSONRequestParser.parse(#"{"op":"mode","room":"dev","modes":"+o","args":["bob"]}"#).request.get()
        #expect(mode == .mode(room: "dev", .change([.role(.operator, name: "bob", granted: true)])))
        // What the terminal client sends reads back as the same request.
        for request: ClientRequest in [
            .kick(room: "dev", name: "bob", reason: "x"),
            .mute(room: "dev", name: "bob", duration: 60_000, reason: nil),
            .mode(
                room: "dev",
                .change([.flag(.moderated, on: true), .ban(try BanMask(parsing: "*!*@10.0.0.0/8"), on: true)])),
            .invite(room: "dev", name: "bob"), .mode(room: "dev", .bans),
        ] {
            #expect(try JSONRequestParser.parse(JSONRequestEncoder.object(request)).request.get() == request)
        }
    }

    @Test("mode changes and kicks cross nodes intact; forged ones are dropped")
    func relayed() throws {
        let room = RoomName(trusted: "dev")
        let changes: [RoomModeChange] = [
            .role(.operator, name: "bob", granted: true),
            .ban(try BanMask(parsing: "eve"), on: true, until: 1_900_000_000_000),
            .mute(name: "carl", on: true), .key("k"), .limit(nil),
        ]
        for event: ChatEvent in [
            .modeChanged(room: room, by: "alice", changes: changes, time: 5),
            .kicked(room: room, name: "bob", by: "alice", reason: "bye", time: 5),
        ] {
            let decoded = RelayCodec.decode(Array(RelayCodec.encode(RelayEnvelope(event: event, origin: "s")).utf8))
            #expect(decoded?.event == event)
            var check = RelayCheck()
            #expect(check.problem(event, in: room) == nil)
        }
        var check = RelayCheck()
        #expect(check.problem(.kicked(room: room, name: "admin", by: "alice", reason: nil, time: 1), in: room) != nil)
        let forged = #"{"k":"mode","room":"dev","from":"alice","text":"+o ad min","ts":1}"#
        #expect(RelayCodec.decode(Array(forged.utf8)) == nil)
    }

    @Test(
        "registered rooms: /room in text, JSON and to ChanServ; the owner's letter and prefix; the events cross nodes")
    func registeredRooms() throws {
        #expect(try TextCommandParser.parse("/room register") == .room(room: nil, .register))
        #expect(try TextCommandParser.parse("/room info #dev") == .room(room: "#dev", .info))
        #expect(try TextCommandParser.parse("/room transfer #dev bob") == .room(room: "#dev", .transfer(to: "bob")))
        #expect(throws: ChatError.self) { try TextCommandParser.parse("/room transfer") }
        #expect(throws: ChatError.self) { try TextCommandParser.parse("/room sell #dev") }
        for request: ClientRequest in [
            .room(room: "dev", .register), .room(room: "dev", .unregister), .room(room: nil, .info),
            .room(room: "dev", .transfer(to: "bob")),
        ] {
            #expect(try JSONRequestParser.parse(JSONRequestEncoder.object(request)).request.get() == request)
        }
        #expect(IRCSession.chanServRequest("register #dev").request == .room(room: "#dev", .register))
        #expect(IRCSession.chanServRequest("TRANSFER #dev bob").request == .room(room: "#dev", .transfer(to: "bob")))
        #expect(IRCSession.chanServRequest("AMODE #dev").request == .room(room: "#dev", .info))
        #expect(IRCSession.chanServRequest("REGISTER").help != nil)

        let owner = RoomRoles(letters: "qo")
        #expect(owner == [.owner, .operator] && owner.prefixes == "~@" && owner.word == "owner" && owner.moderates)
        #expect(RoomRoles(word: "owner") == owner && !RoomRoles.voice.moderates)
        #expect(
            try RoomModeRequest.parse("+q", arguments: ["bob"]) == .change([.role(.owner, name: "bob", granted: true)]))
        #expect(throws: ChatError.self) { try UserName(validating: "ChanServ") }

        let room = RoomName(trusted: "dev")
        for event: ChatEvent in [
            .roomRegistered(room: room, owner: "alice", previous: nil, by: "alice", time: 5),
            .roomRegistered(room: room, owner: "bob", previous: "alice", by: "alice", time: 5),
            .roomRegistered(room: room, owner: nil, previous: "bob", by: "opal", time: 5),
            .modeChanged(room: room, by: "server", changes: [.role(.owner, name: "alice", granted: true)], time: 5),
        ] {
            let decoded = RelayCodec.decode(Array(RelayCodec.encode(RelayEnvelope(event: event)).utf8))
            #expect(decoded?.event == event)
            var check = RelayCheck()
            #expect(check.problem(event, in: room) == nil)
        }
        var check = RelayCheck()
        #expect(
            check.problem(.roomRegistered(room: room, owner: "admin", previous: nil, by: "x", time: 1), in: room) != nil
        )
    }

    @Test("server operators' commands in text, JSON and IRC; network bans match by name key, look-alike and range")
    func serverOperatorCommands() throws {
        #expect(
            try TextCommandParser.parse("/netban *!*@198.51.100.0/24 2h botnet")
                == .operate(.ban(mask: "*!*@198.51.100.0/24", duration: 7_200_000, reason: "botnet")))
        #expect(
            try TextCommandParser.parse("/suspend rita spam links")
                == .operate(.suspend(name: "rita", duration: nil, reason: "spam links")))
        #expect(try TextCommandParser.parse("/motd") == .motd)
        #expect(try TextCommandParser.parse("/motd -delete") == .operate(.setMOTD(text: "")))
        #expect(throws: ChatError.self) { try TextCommandParser.parse("/kill") }
        #expect(
            (try? JSONRequestParser.parse(#"{"op":"network-ban","name":"eve","duration":"1d"}"#).request.get())
                == .operate(.ban(mask: "eve", duration: 86_400_000, reason: nil)))

        var irc = IRCSession(serverName: "n1")
        _ = irc.receive(try! IRCMessage(parsing: "NICK op"[...]))
        _ = irc.receive(try! IRCMessage(parsing: "USER op 0 * :op"[...]))
        _ = irc.observe(.welcome(name: "op", room: nil, node: "n1", time: 0), requestID: nil)
        func requests(_ text: String) -> [ClientRequest] {
            irc.receive(try! IRCMessage(parsing: text[...])).requests.map(\.request)
        }
        #expect(requests("NOTICE $* :maintenance") == [.operate(.announce(text: "maintenance"))])
        #expect(
            requests("UBAN ADD *!*@192.0.2.0/24 DURATION 1h open proxy")
                == [.operate(.ban(mask: "*!*@192.0.2.0/24", duration: 3_600_000, reason: "open proxy"))])
        #expect(
            requests("SUSPEND rita 1d :spam links") == [
                .operate(.suspend(name: "rita", duration: 86_400_000, reason: "spam links"))
            ])
        #expect(requests("KILL bob :flooding") == [.operate(.kill(name: "bob", reason: "flooding"))])
        #expect(irc.receive(try! IRCMessage(parsing: "OPER op x"[...])).replies.first?.command == "491")
        _ = irc.observe(.serverOperator, requestID: nil)
        #expect(irc.receive(try! IRCMessage(parsing: "OPER op x"[...])).replies.first?.command == "381")
        // A reload took the name off the list: OPER is refused again.
        _ = irc.observe(.serverOperatorEnded, requestID: nil)
        #expect(irc.receive(try! IRCMessage(parsing: "OPER op x"[...])).replies.first?.command == "491")

        let bans = NetworkBans([
            RoomBan(mask: "eve!*@*", by: "opal", time: 0), RoomBan(mask: "mallory", by: "opal", time: 0),
            RoomBan(mask: "*!*@198.51.100.0/24", by: "opal", time: 0, until: 1_000),
        ])
        #expect(bans.ban(for: try UserName(validating: "EVE"), address: nil, now: 0) != nil)
        #expect(bans.ban(for: try UserName(validating: "rnallory"), address: nil, now: 0) != nil, "a look-alike")
        #expect(bans.ban(for: nil, address: "198.51.100.9", now: 0)?.mask == "*!*@198.51.100.0/24")
        #expect(bans.ban(for: nil, address: "::ffff:198.51.100.9", now: 0) != nil, "IPv4 written as IPv6")
        #expect(bans.ban(for: nil, address: "198.51.100.9", now: 1_000) == nil, "lapsed")
        #expect(bans.ban(for: try UserName(validating: "steve"), address: "192.0.2.1", now: 0) == nil)
        // A glob of many stars against a long name takes a moment, not forever.
        let stars = try BanMask(parsing: String(repeating: "*a", count: 49) + "*b")
        #expect(!stars.matches(keys: [String(repeating: "a", count: 32)], addressBits: "", host: nil))
    }
}
