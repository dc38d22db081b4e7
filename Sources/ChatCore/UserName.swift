import Foundation

/// A validated user name: shown as typed, unique cluster-wide by its `key`, the UTS #39 skeleton of its NFKC case
/// fold, so that names that look alike are one name (`Alice`, `alice`, `ａｌｉｃｅ`, Cyrillic `аlісе`).
public struct UserName: Hashable, Sendable, CustomStringConvertible {
    /// What people see, as the user typed it, in Unicode canonical composition (NFC), so that "é" typed as one
    /// character or as "e" plus an accent is the same name.
    public let display: String
    /// The identity: what the name looks like, whatever its case, width or script. Used in Redis keys.
    public let key: String

    public static let maximumLength = 32

    /// Names that would let somebody pose as the service.
    public static let reserved: Set<String> = [
        "server", "system", "admin", "administrator", "root", "operator", "op", "moderator", "mod", "chat",
        "nobody", "everyone", "here", "all", "anonymous", "guest", "redis", "node", "balancer", "support",
        "chanserv", "nickserv", "histserv", "services",
    ]

    public var description: String { display }

    /// The reserved names and everything that looks like them, in any case.
    static let reservedKeys = Set(
        reserved.flatMap { UnicodeSecurity.lookAlikes($0).union(UnicodeSecurity.lookAlikes($0.uppercased())) })

    public init(validating raw: String) throws(ChatError) {
        let name = raw.trimmingWhitespace().precomposedStringWithCanonicalMapping
        guard !name.isEmpty else {
            throw ChatError(.nameInvalid, "a name needs 1 to \(Self.maximumLength) characters")
        }
        let scalars = name.unicodeScalars
        guard scalars.count <= Self.maximumLength else {
            throw ChatError(.nameInvalid, "a name has at most \(Self.maximumLength) characters")
        }
        switch UnicodeSecurity.problem(name) {
        case .invisible?: throw ChatError(.nameInvalid, "names cannot contain invisible characters")
        case .mixedScripts?:
            throw ChatError(.nameInvalid, "names cannot mix scripts that imitate each other (Latin with Cyrillic, say)")
        case nil: break
        }
        for scalar in scalars where !Self.isAllowed(scalar) {
            throw ChatError(.nameInvalid, "names use letters, digits, '_', '-' and '.' only")
        }
        if let first = scalars.first, first.properties.generalCategory.isMark {
            throw ChatError(.nameInvalid, "a name cannot start with a combining mark")
        }
        let key = UnicodeSecurity.skeleton(name)
        // A look-alike may be punctuation (a modifier colon looks like ':'): keys stay letters and digits, so no
        // name can forge another's Redis key.
        guard key.unicodeScalars.allSatisfy(Self.isAllowed) else {
            throw ChatError(
                .nameInvalid, "'\(name)' looks like punctuation; names use letters, digits, '_', '-' and '.'")
        }
        guard Self.reservedKeys.isDisjoint(with: UnicodeSecurity.lookAlikes(name)) else {
            throw ChatError(.nameInvalid, "'\(name)' is reserved")
        }
        self.display = name
        self.key = key
    }

    /// The keys of names this one may be mistaken for besides its own: the skeleton of its letters as typed, where
    /// a capital I still looks like a small l (`aIice` looks like `alice`, though its key, folded first, is
    /// `aiice`). A claim is refused while one of them is held or registered (`ChatStore.claimName`).
    public var lookAlikeKeys: Set<String> {
        UnicodeSecurity.lookAlikes(display).subtracting([key]).filter { $0.unicodeScalars.allSatisfy(Self.isAllowed) }
    }

    /// Letters and digits of any script (so people can use their own), plus three ASCII punctuation marks.
    /// Everything else, including spaces, controls, symbols, emoji and bidirectional overrides, is refused so that
    /// no name can hide, spoof another or break a terminal.
    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "_", "-", ".": return true
        default:
            let category = scalar.properties.generalCategory
            return category.isLetter || category == .decimalNumber || category.isMark
        }
    }
}

extension Unicode.GeneralCategory {
    var isLetter: Bool {
        switch self {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    var isMark: Bool {
        switch self {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[start...end])
    }
}
