/// A `host:port` as people type it on command lines and as nodes announce themselves: `chat.example.com:7000`,
/// `192.0.2.7:7000`, `[2001:db8::1]:7000`.
///
/// The host is never empty: a `host:port` names a place to connect to, and `:7000` names none (connecting to an
/// empty host only fails later, with a less helpful message). Port 0 parses, because binding to it is meaningful;
/// callers that connect refuse it themselves, with their own message.
public struct HostPort: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// A name or an address, without the brackets an IPv6 literal is written with.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Splits at the last colon, so an unbracketed IPv6 address still finds its port (`::1:7000` is `::1`, 7000);
    /// brackets around the host are taken off. The port is plain ASCII digits, 0 to 65535: no sign, no spaces.
    /// Nil when the text is not of that form, or its host is empty.
    public init?(parsing text: some StringProtocol) {
        // StringProtocol's slices are not known to be Substring, so work on one concrete type.
        let text = String(text)
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let digits = text[text.index(after: colon)...]
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let port = Int(digits), (0...65535).contains(port)
        else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") || host.hasSuffix("]") {
            guard host.count >= 2, host.hasPrefix("["), host.hasSuffix("]") else { return nil }
            host = host.dropFirst().dropLast()
        }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    /// Brackets an IPv6 literal again, so the text parses back to the same host and port.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
