/// A password as a client sent it. It never prints: its description, debug description and mirror are all
/// "<password>", so no log line, `dump`, interpolated request or failing test's message can show one.
public struct Password: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The bytes to hash. Never empty (the hash function needs at least one byte), at most `maximumBytes`.
    public let text: String

    /// Long enough for a passphrase, short enough that hashing one costs what hashing any other does.
    public static let maximumBytes = 256
    /// What `/register` and `/password` ask of a new password.
    public static let minimumNewBytes = 8

    /// A password given to log in (or to confirm a change): anything non-empty within the size limit, so a client
    /// learns nothing from a refusal but "wrong".
    public init(given text: String) throws(ChatError) {
        guard !text.isEmpty else { throw ChatError(.badRequest, "the password is empty") }
        guard text.utf8.count <= Self.maximumBytes else {
            throw ChatError(.badRequest, "passwords are at most \(Self.maximumBytes) bytes")
        }
        self.text = text
    }

    /// A new password: long enough, and one that every client can type the same way. Text mode strips control
    /// and format characters (bidirectional marks, zero-width joiners) from every line and trims its ends, so a
    /// password with those could be set over JSON but never typed over nc: such a password is refused.
    public init(new text: String) throws(ChatError) {
        guard text.utf8.count >= Self.minimumNewBytes else {
            throw ChatError(.badRequest, "a password needs at least \(Self.minimumNewBytes) bytes")
        }
        guard !text.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) })
        else {
            throw ChatError(.badRequest, "a password may not contain control or invisible formatting characters")
        }
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            !first.properties.isWhitespace, !last.properties.isWhitespace
        else { throw ChatError(.badRequest, "a password may not begin or end with a space") }
        try self.init(given: text)
    }

    public var description: String { "<password>" }
    public var debugDescription: String { "<password>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// What a `hello` brings besides the name: the password of a registered name, the resume token a previous
/// connection's `welcome` gave, and what the person calls themselves (IRC's real name, from USER).
public struct Login: Equatable, Sendable {
    public var password: Password?
    public var resume: String?
    /// Shown by WHOIS, WHO and WHOWAS (and `/seen`): free text, cleaned and cut to `maximumRealNameBytes`.
    public var realName: String?

    /// InspIRCd's default `maxreal`.
    public static let maximumRealNameBytes = 128

    public init(password: Password? = nil, resume: String? = nil, realName: String? = nil) {
        self.password = password
        self.resume = resume
        self.realName = realName
    }

    /// Resume tokens are what `welcome` hands out: URL-safe base64, a few dozen characters. Anything else is not
    /// one of ours and is ignored rather than sent to Redis.
    public static func isWellFormedResumeToken(_ token: String) -> Bool {
        (16...128).contains(token.utf8.count)
            && token.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    true
                default: false
                }
            }
    }
}
