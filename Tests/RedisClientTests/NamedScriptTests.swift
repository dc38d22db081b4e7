import RedisClient
import Testing

/// A script's keys and arguments declared once by name: the Lua's bindings and the caller's positions come from the
/// same declaration.
@Suite("Named script parameters")
struct NamedScriptTests {
    struct Parameters {
        var roomKey: String
        var now: Int64
        var limit: Int
        var quiet: Bool
        var token: String?
        var rooms: [String]
    }

    let script = NamedScript<Parameters>(
        name: "example",
        keys: [.init("roomKey", \.roomKey)],
        arguments: [.init("now", \.now), .init("limit", \.limit), .init("quiet", \.quiet), .init("token", \.token)],
        rest: .init("rooms", \.rooms),
        body: "return {roomKey, now, #rooms}\n")

    @Test("the Lua binds each declared name to its position; the caller's values land in those positions")
    func bindingsAndPositions() {
        #expect(
            script.script.source == """
                local roomKey = KEYS[1]
                local now, limit, quiet, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
                local rooms = {}
                for i = 5, #ARGV do rooms[#rooms + 1] = ARGV[i] end
                return {roomKey, now, #rooms}

                """)
        let parameters = Parameters(
            roomKey: "{r}:room", now: 1_700, limit: 20, quiet: true, token: nil, rooms: ["a", "b"])
        #expect(script.keys(parameters) == ["{r}:room"])
        // Booleans are '1'/'0' and a missing optional is '': what the Lua compares with.
        #expect(script.arguments(parameters) == ["1700", "20", "1", "", "a", "b"])
    }
}
