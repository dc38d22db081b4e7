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

    @Test("letters and digits of any script, and _ - . are allowed", arguments: ["bob_1", "a.b-c", "Émile", "Ξένια", "山田", "x"])
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
        arguments: ["", "   ", "two words", "tab\there", "emoji😀", "semi;colon", "\u{202E}evil", "\u{1b}[31mred",
            String(repeating: "a", count: 33), "\u{301}mark-first"])
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
}
