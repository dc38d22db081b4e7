/// What limits per client address count: an IPv4 address, or the /64 of an IPv6 address. One host usually holds a
/// whole /64 (and can pick any address in it), so counting single IPv6 addresses would count nothing.
public enum AddressGroup {
    /// `192.0.2.7` -> `192.0.2.7`; `2001:db8::1` -> `20010db800000000::/64`; an IPv4 client on an IPv6 socket
    /// (`::ffff:192.0.2.7`) is that IPv4 address; nil or '' -> ''.
    public static func of(_ ip: String?) -> String {
        guard let ip, !ip.isEmpty else { return "" }
        guard ip.contains(":"), let bytes = TrustedNetworks.bytes(of: ip), bytes.count == 16 else { return ip }
        if bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            return bytes.suffix(4).map(String.init).joined(separator: ".")
        }
        return bytes.prefix(8).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined() + "::/64"
    }
}
