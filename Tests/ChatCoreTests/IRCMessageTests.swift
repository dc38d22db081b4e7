import ChatCore
import Testing

extension IRCMessageTests {
    @Test("a parameter holding CR, LF or NUL (from Redis, say) still makes one line")
    func oneLine() {
        let message = IRCMessage(
            source: "n1", command: "332", parameters: ["alice", "#dev", "x\r\nPRIVMSG #dev :owned\0"])
        #expect(message.serialized() == ":n1 332 alice #dev :x  PRIVMSG #dev :owned ")
        let labeled = IRCMessage(tags: [(key: "label", value: "a\r\nFOO")], source: "n1", command: "ACK")
        #expect(labeled.serialized() == "@label=a\\r\\nFOO :n1 ACK", "a tag value CR LF is escaped, not sent")
    }
}

/// The IRC message format, against the examples of the Modern IRC document and the IRCv3 message-tags spec, and
/// the lines real clients send.
@Suite("IRC messages")
struct IRCMessageTests {
    func parse(_ line: String) throws -> IRCMessage { try IRCMessage(parsing: line[...]) }

    @Test("commands, sources, parameters and the trailing parameter")
    func basics() throws {
        #expect(try parse("NICK alice") == IRCMessage(command: "NICK", parameters: ["alice"]))
        #expect(
            try parse("user alice 0 * :Alice Liddell")
                == IRCMessage(command: "USER", parameters: ["alice", "0", "*", "Alice Liddell"]))
        #expect(
            try parse(":dan!d@localhost PRIVMSG #chan :Hey what's up!")
                == IRCMessage(source: "dan!d@localhost", command: "PRIVMSG", parameters: ["#chan", "Hey what's up!"]))
        #expect(try parse("PRIVMSG  #chan   ::-)") == IRCMessage(command: "PRIVMSG", parameters: ["#chan", ":-)"]))
        #expect(try parse("CAP LS 302") == IRCMessage(command: "CAP", parameters: ["LS", "302"]))
        #expect(try parse("PRIVMSG #chan :") == IRCMessage(command: "PRIVMSG", parameters: ["#chan", ""]))
        #expect(try parse("001 alice :Welcome").command == "001")
    }

    @Test("IRCv3 tags, escaped and not")
    func tags() throws {
        let message = try parse(#"@label=42;+draft/reply=abc;time=2026-11-29T10:00:00.000Z;x=a\sb\:c\\d PING :hi"#)
        #expect(message.tags.map(\.key) == ["label", "+draft/reply", "time", "x"])
        #expect(message.tags.last?.value == #"a b;c\d"#)
        #expect(message.command == "PING" && message.parameters == ["hi"])
        let bare = try parse("@flag PING x")
        #expect(bare.tags.first?.key == "flag" && bare.tags.first?.value == nil)
        let written = IRCMessage(
            tags: [("msgid", "1-0"), ("x", "a b;c")], source: "n!u@h", command: "PRIVMSG", parameters: ["#r", "hi"])
        #expect(written.serialized() == #"@msgid=1-0;x=a\sb\:c :n!u@h PRIVMSG #r :hi"#)
        #expect(try parse(written.serialized()) == written)
        // Found by the fuzzer (Fuzz/Regressions/irc): an escape followed by a combining mark is still an escape.
        #expect(try parse("@k=a\\:\u{301}b CMD").tags.first?.value == "a;\u{301}b")
        let marked = IRCMessage(tags: [("k", "x;\u{301}")], command: "CMD")
        #expect(try parse(marked.serialized()) == marked)
    }

    @Test("what is refused: blank lines, no command, over 512 bytes, over 15 parameters folded into the last")
    func limits() throws {
        #expect(throws: IRCMessage.ParseError.empty) { try parse("   ") }
        #expect(throws: IRCMessage.ParseError.noCommand) { try parse(":source-only") }
        #expect(throws: IRCMessage.ParseError.noCommand) { try parse("PRIV/MSG x") }
        // Found by the fuzzer (Fuzz/Regressions/irc): a NUL read as a parameter, then written out as a space.
        #expect(throws: IRCMessage.ParseError.forbiddenCharacter) { try parse("E \0") }
        #expect(try parse("PRIVMSG #a :one\rtwo").parameters == ["#a", "one\rtwo"], "cleaned later, as text")
        #expect(throws: IRCMessage.ParseError.tooLong(tags: false)) {
            try parse("PRIVMSG #a :" + String(repeating: "x", count: 510))
        }
        #expect(throws: IRCMessage.ParseError.tooLong(tags: true)) {
            try parse("@" + String(repeating: "t", count: 5000) + " PING x")
        }
        // Tags do not count against the 512 bytes.
        #expect(
            try parse("@" + String(repeating: "t", count: 3000) + " PRIVMSG #a :" + String(repeating: "x", count: 480))
                .parameters[1].count == 480)
        let many = try parse("CMD " + (1...20).map(String.init).joined(separator: " "))
        #expect(many.parameters.count == 15)
        #expect(many.parameters.last == "15 16 17 18 19 20")
    }

    @Test("serializing: a colon only where the last parameter needs one, unless asked")
    func serializing() {
        #expect(IRCMessage(command: "JOIN", parameters: ["#dev"]).serialized(trailingColon: false) == "JOIN #dev")
        #expect(IRCMessage(command: "JOIN", parameters: ["#dev"]).serialized() == "JOIN :#dev")
        #expect(
            IRCMessage(source: "srv", command: "001", parameters: ["alice", "Welcome to the chat"]).serialized(
                trailingColon: false)
                == ":srv 001 alice :Welcome to the chat")
        #expect(
            IRCMessage(command: "PRIVMSG", parameters: ["#a", ":)"]).serialized(trailingColon: false)
                == "PRIVMSG #a ::)")
    }
}
