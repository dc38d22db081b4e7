import Endpoints
import Testing

@Suite("HOST:PORT")
struct HostPortTests {
    @Test(
        "names, IPv4 and bracketed IPv6 addresses parse",
        arguments: [
            ("localhost:7000", "localhost", 7000), ("chat.example.com:1", "chat.example.com", 1),
            ("192.0.2.7:65535", "192.0.2.7", 65535), ("[::1]:7001", "::1", 7001),
            ("[2001:db8::1]:80", "2001:db8::1", 80), ("0.0.0.0:0", "0.0.0.0", 0),
        ])
    func parses(_ text: String, _ host: String, _ port: Int) {
        #expect(HostPort(parsing: text) == HostPort(host: host, port: port))
    }

    // Every call site used to split at the last colon, and an announced `::1:7001` must keep working.
    @Test("an unbracketed IPv6 address takes the last colon as the port's")
    func unbracketedIPv6() {
        #expect(HostPort(parsing: "::1:7001") == HostPort(host: "::1", port: 7001))
    }

    @Test("a substring parses like a string")
    func substring() {
        let line = "node1 10.0.0.2:7001 10.0.0.2:8081"
        #expect(HostPort(parsing: line.split(separator: " ")[1]) == HostPort(host: "10.0.0.2", port: 7001))
    }

    @Test(
        "malformed text is refused",
        arguments: [
            "", "localhost", "localhost:", ":7000", "[]:7000", "[::1]", "localhost:http", "localhost:+80",
            "localhost:-1", "localhost:65536", "localhost: 80", "localhost:80 ", "localhost:８０",
            "[::1:7000", "::1]:7000", "localhost:99999999999999999999999",
        ])
    func malformed(_ text: String) {
        #expect(HostPort(parsing: text) == nil)
    }

    @Test("the description brackets IPv6 literals and parses back")
    func describes() {
        let cases = [
            (HostPort(host: "localhost", port: 7000), "localhost:7000"),
            (HostPort(host: "192.0.2.7", port: 7000), "192.0.2.7:7000"),
            (HostPort(host: "2001:db8::1", port: 7000), "[2001:db8::1]:7000"),
        ]
        for (hostPort, text) in cases {
            #expect(hostPort.description == text)
            #expect(HostPort(parsing: hostPort.description) == hostPort)
        }
    }
}
