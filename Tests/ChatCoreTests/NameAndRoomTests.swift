import ChatCore
import Testing

@Suite("Names and rooms")
struct NameAndRoomTests {
    @Test("names are shown as typed and compared case-insensitively")
    func caseInsensitive() throws {
        let name = try UserName(validating: "  Alice ")
        #expect(name.display == "Alice")
        #expect(name.key == "alice")
        #expect(try UserName(validating: "ALICE").key == name.key)
    }

    @Test(
        "letters and digits of any script, and _ - . are allowed",
        arguments: ["bob_1", "a.b-c", "Émile", "Ξένια", "山田", "x"])
    func allowed(_ raw: String) throws {
        #expect(try UserName(validating: raw).display == raw)
    }

    @Test("composed and decomposed accents are one name")
    func normalized() throws {
        let composed = try UserName(validating: "\u{E9}mile")
        let decomposed = try UserName(validating: "e\u{301}mile")
        #expect(composed.key == decomposed.key)
    }

    @Test(
        "invalid names are refused with name-invalid",
        arguments: [
            "", "   ", "two words", "tab\there", "emoji😀", "semi;colon", "\u{202E}evil", "\u{1b}[31mred",
            String(repeating: "a", count: 33), "\u{301}mark-first",
        ])
    func invalid(_ raw: String) {
        #expect(throws: ChatError.self) { try UserName(validating: raw) }
        do { _ = try UserName(validating: raw) } catch { #expect(error.code == .nameInvalid) }
    }

    @Test("reserved names are refused whatever their case", arguments: ["server", "System", "ADMIN", "root"])
    func reserved(_ raw: String) {
        #expect(throws: ChatError(.nameInvalid, "'\(raw)' is reserved")) { try UserName(validating: raw) }
    }

    @Test("32 characters is the longest name")
    func longest() throws {
        #expect(try UserName(validating: String(repeating: "n", count: 32)).display.count == 32)
    }

    @Test("rooms drop a leading # and are lowercase")
    func rooms() throws {
        #expect(try RoomName(validating: "#Dev").value == "dev")
        #expect(try RoomName(validating: "release-2.0").value == "release-2.0")
        #expect(throws: ChatError.self) { try RoomName(validating: "#") }
        #expect(throws: ChatError.self) { try RoomName(validating: "two words") }
        #expect(throws: ChatError.self) { try RoomName(validating: String(repeating: "r", count: 33)) }
    }

    // MARK: Look-alikes (UTS #39)

    @Test(
        "invisible characters are refused: a joiner, a variation selector, the Hangul filler",
        arguments: [
            "admin\u{034F}", "alice\u{FE0F}", "\u{3164}", "\u{3164}\u{3164}", "bob\u{200D}",
        ])
    func invisible(_ raw: String) {
        #expect(throws: ChatError(.nameInvalid, "names cannot contain invisible characters")) {
            try UserName(validating: raw)
        }
    }

    @Test("a name mixing scripts that imitate each other is refused; Latin with Han is fine")
    func mixedScripts() throws {
        #expect(throws: ChatError.self) { try UserName(validating: "\u{0430}lice") }  // Cyrillic а, Latin lice
        #expect(try UserName(validating: "alice_山田").display == "alice_山田")
        #expect(try UserName(validating: "Émile").display == "Émile")
    }

    @Test("look-alikes are one name: case, width, final sigma and whole-script confusables share a key")
    func lookAlikes() throws {
        let alice = try UserName(validating: "alice").key
        #expect(try UserName(validating: "ALICE").key == alice)
        #expect(try UserName(validating: "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}").key == alice, "fullwidth")
        #expect(
            try UserName(validating: "\u{0441}\u{043E}\u{0441}\u{043E}\u{0430}").key
                == UserName(validating: "cocoa").key, "all Cyrillic")
        #expect(try UserName(validating: "Admin7").key == UserName(validating: "admin7").key)
        #expect(
            try UserName(validating: "\u{03C3}\u{03BF}\u{03C2}").key
                == UserName(validating: "\u{03C3}\u{03BF}\u{03C3}").key, "ς is σ")
        #expect(try UserName(validating: "bob").key != alice)
    }

    @Test(
        "what looks like a reserved name is reserved",
        arguments: ["\u{FF41}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}", "r00t", "ADMlN"])
    func reservedLookAlikes(_ raw: String) {
        #expect(throws: ChatError.self) { try UserName(validating: raw) }
    }

    @Test("rooms are NFKC case-folded and refuse invisible characters and mixed scripts")
    func roomSecurity() throws {
        #expect(try RoomName(validating: "Caf\u{00E9}").value == RoomName(validating: "cafe\u{0301}").value)
        #expect(try RoomName(validating: "\u{FF24}\u{FF45}\u{FF56}").value == "dev", "fullwidth is plain")
        #expect(throws: ChatError.self) { try RoomName(validating: "d\u{0435}v") }  // Cyrillic е
        #expect(throws: ChatError.self) { try RoomName(validating: "dev\u{034F}") }
    }
}
