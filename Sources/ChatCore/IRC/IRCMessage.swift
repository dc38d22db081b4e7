/// One IRC message, as the Modern IRC client protocol defines it (modern.ircdocs.horse, "Message format"), with
/// IRCv3 message tags:
///
///     [@tag=value;tag2 ]:[source ]COMMAND param param :trailing param
///
/// Parsing is lenient where real clients differ (several spaces between parameters, a bare LF, a lower-case
/// command) and strict where it matters: at most 15 parameters, no NUL, CR or LF inside, and the limits below.
public struct IRCMessage: Equatable, Sendable {
    /// IRCv3 tags in the order they came; a tag without `=` has a nil value.
    public var tags: [(key: String, value: String?)]
    /// Who it is from (`nick!user@host`, or a server name); nil when it names nobody.
    public var source: String?
    /// Upper case: a name (`PRIVMSG`) or a three-digit numeric (`001`).
    public var command: String
    public var parameters: [String]

    /// The message without its tags, CR LF included, is at most this long (RFC 1459, kept by the Modern spec).
    public static let maximumBytes = 512
    /// Tags, `@` and the space after them, from a client: at most this long (IRCv3 message-tags).
    public static let maximumClientTagBytes = 4096
    public static let maximumParameters = 15

    public init(
        tags: [(key: String, value: String?)] = [], source: String? = nil, command: String, parameters: [String] = []
    ) {
        self.tags = tags
        self.source = source
        self.command = command
        self.parameters = parameters
    }

    public static func == (lhs: IRCMessage, rhs: IRCMessage) -> Bool {
        lhs.tags.map(\.key) == rhs.tags.map(\.key) && lhs.tags.map(\.value) == rhs.tags.map(\.value)
            && lhs.source == rhs.source && lhs.command == rhs.command && lhs.parameters == rhs.parameters
    }

    public enum ParseError: Error, Equatable, Sendable {
        /// Nothing but spaces (clients send blank lines; the server ignores them).
        case empty
        /// The part after the tags is over 512 bytes with CR LF, or the tags are over their limit: 417 for tags,
        /// and the line is refused (servers may also cut it; refusing is what Ergo and Solanum do for tags).
        case tooLong(tags: Bool)
        /// No command, or a command that is neither letters nor three digits.
        case noCommand
        /// NUL or LF inside the line: no IRC message holds them (RFC 1459), and one that did could not be written
        /// out again as the same message. (A CR inside is let through, as it always was here: the text it is in
        /// is cleaned of it before anybody sees it.)
        case forbiddenCharacter
    }

    /// One line without its CR LF.
    public init(parsing line: Substring) throws(ParseError) {
        guard !line.utf8.contains(where: { $0 == 0 || $0 == 10 }) else { throw .forbiddenCharacter }
        var rest = line[...]
        var tags: [(key: String, value: String?)] = []
        if rest.first == "@" {
            guard let space = rest.firstIndex(of: " ") else { throw .noCommand }
            let raw = rest[rest.index(after: rest.startIndex)..<space]
            guard raw.utf8.count + 2 <= Self.maximumClientTagBytes else { throw .tooLong(tags: true) }
            for item in raw.split(separator: ";", omittingEmptySubsequences: true) {
                if let equals = item.firstIndex(of: "=") {
                    tags.append((String(item[..<equals]), Self.unescape(item[item.index(after: equals)...])))
                } else {
                    tags.append((String(item), nil))
                }
            }
            rest = rest[space...]
        }
        rest = rest.drop { $0 == " " }
        guard rest.utf8.count + 2 <= Self.maximumBytes else { throw .tooLong(tags: false) }
        guard !rest.isEmpty else { throw tags.isEmpty ? .empty : .noCommand }
        var source: String?
        if rest.first == ":" {
            guard let space = rest.firstIndex(of: " ") else { throw .noCommand }
            source = String(rest[rest.index(after: rest.startIndex)..<space])
            rest = rest[space...].drop { $0 == " " }
        }
        let commandEnd = rest.firstIndex(of: " ") ?? rest.endIndex
        let command = rest[..<commandEnd].uppercased()
        let isNumeric = command.utf8.count == 3 && command.utf8.allSatisfy { (48...57).contains($0) }
        guard !command.isEmpty, isNumeric || command.utf8.allSatisfy({ (65...90).contains($0) }) else {
            throw .noCommand
        }
        rest = rest[commandEnd...]
        var parameters: [String] = []
        while true {
            rest = rest.drop { $0 == " " }
            if rest.isEmpty { break }
            if rest.first == ":" || parameters.count == Self.maximumParameters - 1 {
                // The trailing parameter: the rest of the line, spaces and all.
                parameters.append(String(rest.first == ":" ? rest.dropFirst() : rest))
                break
            }
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            parameters.append(String(rest[..<end]))
            rest = rest[end...]
        }
        self.init(tags: tags, source: source, command: command, parameters: parameters)
    }

    /// The line to send, without CR LF. The last parameter gets a `:` when it needs one (empty, a space, or a
    /// leading colon), as clients expect of a message text even when it needs none (`PRIVMSG #dev :hi`).
    public func serialized(trailingColon: Bool = true) -> String {
        var line = ""
        if !tags.isEmpty {
            line +=
                "@"
                + tags.map { tag in tag.value.map { "\(tag.key)=\(Self.escape($0))" } ?? tag.key }.joined(
                    separator: ";") + " "
        }
        if let source { line += ":" + source + " " }
        line += command
        for (index, raw) in parameters.enumerated() {
            // CR, LF and NUL would end or break the line: whatever let one into a parameter (text stored in
            // Redis by something other than a node, say), the line stays one line.
            let parameter = raw.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) ? Self.oneLine(raw) : raw
            let isLast = index == parameters.count - 1
            let needsColon = parameter.isEmpty || parameter.contains(" ") || parameter.hasPrefix(":")
            line += (isLast && (needsColon || trailingColon) ? " :" : " ") + parameter
        }
        return line
    }

    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { ["\r", "\n", "\0"].contains($0) ? " " : $0 }))
    }

    /// IRCv3 tag value escaping: `;` `\s` `\\` `\r` `\n`.
    static func escape(_ value: String) -> String {
        var out = String.UnicodeScalarView()
        // By scalars: "\r\n" is one Character, which would match neither case below and go out raw.
        for scalar in value.unicodeScalars {
            switch scalar {
            case ";": out.append(contentsOf: "\\:".unicodeScalars)
            case " ": out.append(contentsOf: "\\s".unicodeScalars)
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\0": continue
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    static func unescape(_ value: Substring) -> String {
        var out = String.UnicodeScalarView()
        var escaped = false
        // By scalars, as `escape` writes them: by Characters, `\:` followed by a combining mark is one Character
        // `:́`, which matched no case and came back as a colon (found by the fuzzer, Fuzz/Regressions/irc).
        for scalar in value.unicodeScalars {
            if escaped {
                switch scalar {
                case ":": out.append(";")
                case "s": out.append(" ")
                case "r": out.append("\r")
                case "n": out.append("\n")
                default: out.append(scalar)  // `\\` and an unknown escape: the character itself
                }
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}
