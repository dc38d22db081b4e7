/// The PROXY protocol, version 1 (HAProxy's text form): the line a proxy sends first on each connection so the
/// server knows the real client, e.g. `PROXY TCP4 192.0.2.7 198.51.100.1 51324 7001\r\n`.
public struct ProxyHeader: Equatable, Sendable {
    public enum Family: String, Sendable {
        case tcp4 = "TCP4"
        case tcp6 = "TCP6"
    }

    /// nil for `PROXY UNKNOWN`: the proxy does not know (a health check, say); use the connection's own address.
    public var source: (family: Family, address: String, port: Int, destination: String, destinationPort: Int)?

    /// The specification caps a v1 header at 107 bytes including CRLF.
    public static let maximumLength = 107

    public init(family: Family, source: String, sourcePort: Int, destination: String, destinationPort: Int) {
        self.source = (family, source, sourcePort, destination, destinationPort)
    }

    public static let unknown = ProxyHeader()
    private init() { source = nil }

    public var line: String {
        guard let source else { return "PROXY UNKNOWN\r\n" }
        return
            "PROXY \(source.family.rawValue) \(source.address) \(source.destination) \(source.port) \(source.destinationPort)\r\n"
    }

    /// The client's address as the node shows it: `192.0.2.7:51324`, `[2001:db8::1]:51324`.
    public var clientDescription: String? {
        guard let source else { return nil }
        return source.family == .tcp6 ? "[\(source.address)]:\(source.port)" : "\(source.address):\(source.port)"
    }

    /// Parses one header line without its CRLF. Nil when it is not a valid v1 header.
    public init?(parsing line: Substring) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.first == "PROXY", fields.count >= 2 else { return nil }
        if fields[1] == "UNKNOWN" {
            self.init()
            return
        }
        guard fields.count == 6, let family = Family(rawValue: String(fields[1])),
            let sourcePort = Self.port(fields[4]), let destinationPort = Self.port(fields[5]),
            (0...65535).contains(sourcePort), (0...65535).contains(destinationPort),
            Self.isAddress(fields[2], family), Self.isAddress(fields[3], family)
        else { return nil }
        self.init(
            family: family, source: String(fields[2]), sourcePort: sourcePort, destination: String(fields[3]),
            destinationPort: destinationPort)
    }

    /// Plain ASCII digits, no sign, no leading zero (the specification's form).
    private static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ ("0"..."9").contains($0) }),
            text == "0" || text.first != "0"
        else { return nil }
        return Int(text)
    }

    private static func isAddress(_ text: Substring, _ family: Family) -> Bool {
        switch family {
        case .tcp4:
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4
                && octets.allSatisfy { octet in
                    !octet.isEmpty && octet.count <= 3 && octet.allSatisfy({ ("0"..."9").contains($0) })
                        && (Int(octet).map { $0 <= 255 } ?? false)
                }
        case .tcp6:
            // A real IPv6 address, as the system parses one: it becomes a counter key and a /64 group.
            return text.contains(":") && text.count <= 45
                && text.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }
                && TrustedNetworks.bytes(of: String(text))?.count == 16
        }
    }

    public static func == (lhs: ProxyHeader, rhs: ProxyHeader) -> Bool { lhs.line == rhs.line }
}
