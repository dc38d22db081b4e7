/// A validated room name. Rooms are case-insensitive like IRC channels, so the name is stored lowercased; a
/// leading `#` is accepted and dropped, because people type it out of habit.
public struct RoomName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String

    public static let maximumLength = 32
    /// Everyone starts here.
    public static let lobby = RoomName(trusted: "lobby")

    public var description: String { value }

    public init(validating raw: String) throws(ChatError) {
        var name = Substring(raw.trimmingWhitespace())
        if name.hasPrefix("#") { name = name.dropFirst() }
        guard !name.isEmpty, name.unicodeScalars.count <= Self.maximumLength else {
            throw ChatError(.roomInvalid, "a room name needs 1 to \(Self.maximumLength) characters")
        }
        guard name.unicodeScalars.allSatisfy(UserName.isAllowed) else {
            throw ChatError(.roomInvalid, "room names use letters, digits, '_', '-' and '.' only")
        }
        self.value = name.lowercased()
    }

    /// For names that come from this system itself (Redis keys, constants), already validated once.
    public init(trusted value: String) { self.value = value }

    public static func < (lhs: RoomName, rhs: RoomName) -> Bool { lhs.value < rhs.value }
}
