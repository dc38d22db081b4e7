/// A ban: who it keeps out of a room, as an IRC mask `nick!user@host`, a plain name (`bob` is `bob!*@*`), or an
/// address or range (`*!*@192.0.2.7`, `*!*@2001:db8::/32`). The nick part is a glob (`*` any run, `?` one
/// character) over the name's identity (its key: `Bob*` also bans `bob2` and a look-alike `ᏴOB`); the host part is
/// an address or CIDR range matched against the client's address, or a glob over the host IRC shows (a cloak of
/// the nick, `IRCRenderer.host(of:)`: what irssi's and WeeChat's own `/ban nick` masks name).
///
/// The store matches bans in a script when somebody joins (`RoomScripts.join`), so a mask is compiled here into
/// what the script checks cheaply: the nick's glob over key material, the host's glob, and for an address the
/// leading bits the client's address must start with (`4:` or `6:` and a string of 0s and 1s). The script
/// matches globs itself, in linear time (`ModerationScripts.helpers`), never as Lua patterns, which backtrack.
public struct BanMask: Equatable, Hashable, Sendable {
    /// As shown in ban lists, and the ban's identity in its room: `nick!user@host`.
    public let text: String
    /// The nick's glob, its literal runs as name keys are made (folded, look-alikes mapped), over the user key.
    public let nickGlob: String
    /// The host's glob, over the host IRC shows; nil for an address ban.
    public let hostGlob: String?
    /// The address bits an address ban covers (`4:1100000000000000`); nil for a host glob.
    public let addressPrefix: String?

    public static let maximumBytes = 100

    /// Whether the mask names an address: such bans are shown to operators only.
    public var namesAddress: Bool { addressPrefix != nil }

    public init(parsing raw: String) throws(ChatError) {
        guard !raw.isEmpty, raw.utf8.count <= Self.maximumBytes,
            raw.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace && $0.value >= 0x21 && $0 != "," }),
            Sanitizer.clean(raw) == raw, UnicodeSecurity.problem(raw) != .invisible
        else {
            throw ChatError(.badRequest, "a ban mask is one word of up to \(Self.maximumBytes) bytes")
        }
        var nick = raw
        var user = "*"
        var host = "*"
        if let at = raw.lastIndex(of: "@") {
            host = String(raw[raw.index(after: at)...])
            nick = String(raw[..<at])
            if let bang = nick.firstIndex(of: "!") {
                user = String(nick[nick.index(after: bang)...])
                nick = String(nick[..<bang])
            } else {
                user = nick
                nick = "*"
            }
        } else if let bang = raw.firstIndex(of: "!") {
            nick = String(raw[..<bang])
            user = String(raw[raw.index(after: bang)...])
        }
        if nick.isEmpty { nick = "*" }
        if user.isEmpty { user = "*" }
        if host.isEmpty { host = "*" }
        // No name has a colon: `m:` and `mute:` are how mutes are written, and a ban must not read as one.
        guard !nick.contains(":") else {
            throw ChatError(.badRequest, "'\(raw)' is not a ban mask (to mute: /mute NAME, or +b m:NAME)")
        }
        guard Self.glob(user, matches: IRCRenderer.shownUser) else {
            throw ChatError(
                .badRequest, "everyone's user name here is \(IRCRenderer.shownUser): ban by nick or by address")
        }
        self.nickGlob = Self.keyGlob(nick)
        if let prefix = Self.addressBits(host) {
            self.text = "\(nick)!\(user)@\(host)"
            self.addressPrefix = prefix
            self.hostGlob = nil
        } else {
            // Hosts are not addresses here but cloaks of nicks (hex digits and `.chat`): a host glob no cloak can
            // match (say `example.org`) would ban nobody, silently.
            let cloak = host.lowercased()
            self.text = "\(nick)!\(user)@\(cloak)"
            let samples = ["01234567", "89abcdef"].map { $0 + IRCRenderer.hostSuffix }
            let shaped =
                cloak.hasSuffix(IRCRenderer.hostSuffix)
                && cloak.dropLast(IRCRenderer.hostSuffix.count).allSatisfy { "0123456789abcdef*?".contains($0) }
            guard shaped || samples.contains(where: { Self.glob(cloak, matches: $0) }) else {
                throw ChatError(
                    .badRequest,
                    "hosts here are cloaks of nicks, like \(IRCRenderer.host(of: "bob")) (WHO shows them): ban a nick, "
                        + "a host, or an address or range (*!*@192.0.2.7, *!*@192.0.2.0/24, *!*@192.0.2.*)")
            }
            self.addressPrefix = nil
            self.hostGlob = cloak
            guard nick.contains(where: { $0 != "*" }) || !samples.allSatisfy({ Self.glob(cloak, matches: $0) }) else {
                throw ChatError(
                    .badRequest,
                    "'\(raw)' would ban everyone: ban a nick (bob!*@*), a host WHO shows, or an address (*!*@192.0.2.7)"
                )
            }
        }
    }

    /// `m:bob` or `m:bob!*@*`: a mute names one person (mutes are checked on every message, so by name only).
    public static func mutedName(_ mask: String) throws(ChatError) -> String {
        let parts = mask.split(separator: "!", maxSplits: 1, omittingEmptySubsequences: false)
        let nick = String(parts[0])
        guard parts.count == 1 || parts[1] == "*@*", let name = try? UserName(validating: nick) else {
            throw ChatError(.badRequest, "a mute names one person: m:NAME")
        }
        return name.display
    }

    // MARK: Compiling

    /// The glob with its literal runs made key material as names' keys are (`Bob*` -> `bob*`; a run of stars is
    /// one star).
    static func keyGlob(_ glob: String) -> String {
        var result = ""
        var literal = ""
        func flush() {
            if !literal.isEmpty { result += UnicodeSecurity.skeleton(literal) }
            literal = ""
        }
        for character in glob {
            switch character {
            case "*":
                flush()
                if !result.hasSuffix("*") { result += "*" }
            case "?":
                flush()
                result += "?"
            default: literal.append(character)
            }
        }
        flush()
        return result
    }

    /// Whether a glob matches a text, for the parts every client shares.
    static func glob(_ glob: String, matches text: String) -> Bool {
        func match(_ pattern: Substring, _ text: Substring) -> Bool {
            guard let first = pattern.first else { return text.isEmpty }
            if first == "*" {
                var rest = text
                while true {
                    if match(pattern.dropFirst(), rest) { return true }
                    guard !rest.isEmpty else { return false }
                    rest = rest.dropFirst()
                }
            }
            guard let head = text.first, first == "?" || first.lowercased() == head.lowercased() else { return false }
            return match(pattern.dropFirst(), text.dropFirst())
        }
        return match(Substring(glob), Substring(text))
    }

    /// `192.0.2.0/24` -> `4:110000000000000000000010`; nil when the host is not an address or range.
    static func addressBits(_ host: String) -> String? {
        // `192.0.2.*` (and `10.*`), as IRC operators write a range: `192.0.2.0/24`.
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count >= 2, octets.count <= 4, octets.last == "*",
            octets.dropLast().allSatisfy({ UInt8($0) != nil })
        {
            let known = octets.dropLast().map(String.init)
            let address = (known + Array(repeating: "0", count: 4 - known.count)).joined(separator: ".")
            return addressBits("\(address)/\(known.count * 8)")
        }
        let parts = host.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, var bytes = TrustedNetworks.bytes(of: first) else { return nil }
        var length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        // An IPv4 range written as IPv6 (`::ffff:192.0.2.0/120`) is the IPv4 range: clients are compared so.
        if bytes.count == 16, bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], let given = length,
            given >= 96
        {
            bytes = Array(bytes.suffix(4))
            length = given - 96
        }
        let width = bytes.count * 8
        guard let length, (1...width).contains(length) else { return nil }
        let bits = Self.bits(bytes)
        return (bytes.count == 4 ? "4:" : "6:") + String(bits.prefix(length))
    }

    /// A client's address as the bits address bans compare (`4:...` or `6:...`); '' for none.
    public static func addressBits(ofClient ip: String?) -> String {
        guard let ip, var bytes = TrustedNetworks.bytes(of: ip) else { return "" }
        if bytes.count == 16, bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            bytes = Array(bytes.suffix(4))
        }
        return (bytes.count == 4 ? "4:" : "6:") + bits(bytes)
    }

    private static func bits(_ bytes: [UInt8]) -> String {
        var text = ""
        text.reserveCapacity(bytes.count * 8)
        for byte in bytes {
            for shift in stride(from: 7, through: 0, by: -1) { text += (byte >> UInt8(shift)) & 1 == 1 ? "1" : "0" }
        }
        return text
    }
}

/// A ban as a room keeps it.
public struct RoomBan: Equatable, Sendable {
    public var mask: String
    /// Who set it, as they typed their name.
    public var by: String
    public var time: Millis
    /// When it lapses; nil for never.
    public var until: Millis?
    public var reason: String?

    public init(mask: String, by: String, time: Millis, until: Millis? = nil, reason: String? = nil) {
        self.mask = mask
        self.by = by
        self.time = time
        self.until = until
        self.reason = reason
    }
}
