import ChatCore
import Testing

@Suite("PROXY protocol v1")
struct ProxyHeaderTests {
    // "\r\n" is one Character in Swift, so dropLast(1) removes the whole line end.
    @Test("headers are written and read back")
    func roundTrip() {
        let v4 = ProxyHeader(
            family: .tcp4, source: "192.0.2.7", sourcePort: 51324, destination: "198.51.100.1", destinationPort: 7000)
        #expect(v4.line == "PROXY TCP4 192.0.2.7 198.51.100.1 51324 7000\r\n")
        #expect(ProxyHeader(parsing: v4.line.dropLast(1)) == v4)
        #expect(v4.clientDescription == "192.0.2.7:51324")
        let v6 = ProxyHeader(
            family: .tcp6, source: "2001:db8::1", sourcePort: 1, destination: "::1", destinationPort: 2)
        #expect(ProxyHeader(parsing: v6.line.dropLast(1)) == v6)
        #expect(v6.clientDescription == "[2001:db8::1]:1")
        #expect(ProxyHeader(parsing: "PROXY UNKNOWN") == .unknown)
        #expect(ProxyHeader(parsing: "PROXY UNKNOWN anything at all")?.clientDescription == nil)
    }

    @Test(
        "malformed headers are refused",
        arguments: [
            "", "PROXY", "HELLO TCP4 1.2.3.4 5.6.7.8 1 2", "PROXY TCP4 1.2.3.4 5.6.7.8 1",
            "PROXY TCP5 1.2.3.4 5.6.7.8 1 2",
            "PROXY TCP4 1.2.3.256 5.6.7.8 1 2", "PROXY TCP4 1.2.3 5.6.7.8 1 2", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2",
            "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2",
            "PROXY TCP6 1.2.3.4 5.6.7.8 1 2", "PROXY TCP6 ２００１::1 ::1 1 2", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 extra",
            // Shaped like IPv6 but not addresses: each would have become a counter key of its own.
            "PROXY TCP6 :::::: ::1 1 2", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2", "PROXY TCP6 fffff::1 ::1 1 2",
            "PROXY TCP6 ::1 1::2::3 1 2", "PROXY TCP6 ::1.2.3 ::1 1 2",
        ])
    func malformed(_ line: String) {
        #expect(ProxyHeader(parsing: Substring(line)) == nil)
    }
}
