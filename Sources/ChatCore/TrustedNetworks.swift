import Foundation

/// Address ranges (CIDR) trusted to speak for others: only a peer in them may send a PROXY header naming the real
/// client. Anything else that reaches a node directly is taken for what it is, so it cannot claim another address
/// (or none, with `PROXY UNKNOWN`) to slip past per-address limits.
public struct TrustedNetworks: Sendable, Equatable, CustomStringConvertible {
    struct Range: Sendable, Equatable {
        var address: [UInt8]
        var prefix: Int
    }

    var ranges: [Range]
    public let description: String

    /// Loopback only: a balancer on the same host, as `scripts/cluster.sh` runs it.
    public static let loopback = TrustedNetworks(parsing: "127.0.0.0/8,::1/128")!

    /// `10.0.0.0/8,::1/128,192.0.2.7` (a bare address is a range of one); nil when any part is malformed.
    public init?(parsing text: String) {
        var ranges: [Range] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let pieces = part.split(separator: "/", maxSplits: 1).map(String.init)
            guard let address = Self.bytes(of: pieces[0]) else { return nil }
            let prefix = pieces.count == 2 ? Int(pieces[1]) : address.count * 8
            guard let prefix, (0...(address.count * 8)).contains(prefix) else { return nil }
            ranges.append(Range(address: address, prefix: prefix))
        }
        self.ranges = ranges
        self.description = text
    }

    public func contains(_ ip: String) -> Bool {
        guard var address = Self.bytes(of: ip) else { return false }
        // An IPv4 client seen on an IPv6 socket (::ffff:a.b.c.d) is that IPv4 client.
        if address.count == 16, address.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            address = Array(address.suffix(4))
        }
        return ranges.contains { range in
            guard range.address.count == address.count else { return false }
            let whole = range.prefix / 8
            let rest = range.prefix % 8
            guard address.prefix(whole) == range.address.prefix(whole) else { return false }
            guard rest > 0 else { return true }
            let mask = UInt8(0xFF) << (8 - rest)
            return address[whole] & mask == range.address[whole] & mask
        }
    }

    static func bytes(of ip: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
