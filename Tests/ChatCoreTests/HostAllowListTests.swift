import ChatCore
import Testing

/// DNS rebinding: only IP literals, localhost and listed names are answered.
@Suite("Host header allow list")
struct HostAllowListTests {
    @Test(
        "IP addresses, localhost and listed names are answered, with or without a port",
        arguments: [
            "127.0.0.1", "127.0.0.1:9000", "10.1.2.3:9101", "[::1]:9000", "[2001:db8::7]", "localhost",
            "LOCALHOST:8080", "status.localhost", "balancer:9000", "Balancer.", nil,
        ])
    func allowed(_ host: String?) {
        #expect(HostAllowList(parsing: "balancer, ops.example.com").allows(host: host))
    }

    @Test(
        "any other name is refused, however it is dressed up",
        arguments: [
            "rebind.example", "rebind.example:9000", "127.0.0.1.rebind.example", "localhost.example.com", "[::1",
            "", ":9000", "balancer.evil", "0x7f000001", "[rebind.example]",
        ])
    func refused(_ host: String) {
        #expect(!HostAllowList(parsing: "balancer").allows(host: host))
    }
}

@Suite("Address groups")
struct AddressGroupTests {
    @Test("IPv4 addresses stand alone; IPv6 addresses count as their /64; mapped IPv4 is IPv4")
    func groups() {
        #expect(AddressGroup.of("192.0.2.7") == "192.0.2.7")
        #expect(AddressGroup.of("2001:db8:1:2::1") == AddressGroup.of("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(AddressGroup.of("2001:db8:1:2::1") == "20010db800010002::/64")
        #expect(AddressGroup.of("2001:db8:1:3::1") != AddressGroup.of("2001:db8:1:2::1"))
        #expect(AddressGroup.of("::ffff:192.0.2.7") == "192.0.2.7")
        #expect(AddressGroup.of(nil) == "" && AddressGroup.of("") == "")
    }
}
