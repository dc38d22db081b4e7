/// A validated room name. Rooms are case-insensitive like IRC channels, so the name is stored case-folded (NFKC:
/// fullwidth letters are the plain ones); a leading `#` is accepted and dropped, because people type it out of
/// habit. Invisible characters and mixed scripts (a Cyrillic `е` in `dеv`) are refused.
public struct RoomName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String
    /// The look, worked out once when the name was validated: every message a member sends names its room's look
    /// (the publish script keeps the room's look claimed), and the skeleton is an ICU transform. Not part of the
    /// identity: two values of one name are equal however they were made.
    private let validatedLook: String?

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
        switch UnicodeSecurity.problem(String(name)) {
        case .invisible?: throw ChatError(.roomInvalid, "room names cannot contain invisible characters")
        case .mixedScripts?:
            throw ChatError(
                .roomInvalid, "room names cannot mix scripts that imitate each other (Latin with Cyrillic, say)")
        case nil: break
        }
        guard name.unicodeScalars.allSatisfy(UserName.isAllowed) else {
            throw ChatError(.roomInvalid, "room names use letters, digits, '_', '-' and '.' only")
        }
        let folded = UnicodeSecurity.fold(String(name))
        guard !folded.isEmpty, folded.unicodeScalars.allSatisfy(UserName.isAllowed) else {
            throw ChatError(.roomInvalid, "room names use letters, digits, '_', '-' and '.' only")
        }
        self.value = folded
        self.validatedLook = UnicodeSecurity.skeleton(folded)
    }

    /// What the room looks like (UTS #39): two rooms of one look cannot both be in use.
    public var look: String { validatedLook ?? UnicodeSecurity.skeleton(value) }

    /// For names that come from this system itself (Redis keys, constants), already validated once.
    public init(trusted value: String) {
        self.value = value
        self.validatedLook = nil
    }

    public static func == (lhs: RoomName, rhs: RoomName) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }
    public static func < (lhs: RoomName, rhs: RoomName) -> Bool { lhs.value < rhs.value }
}
