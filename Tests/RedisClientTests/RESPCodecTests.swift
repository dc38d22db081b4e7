import Endpoints
import NIOCore
import NIOEmbedded
import Testing

@testable import RedisClient

@Suite("RESP through hiredis")
struct RESPCodecTests {
    @Test("commands are formatted as RESP arrays of bulk strings, any bytes included")
    func encoding() {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        RedisCommand("SET", "k", "a b\r\n", "").write(into: &buffer)
        #expect(String(buffer: buffer) == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n$0\r\n\r\n")
    }

    @Test("an array that declares more than a million elements is refused before anything is allocated")
    func hugeArrayHeader() throws {
        // Found by the resp fuzz target (Fuzz/Regressions/resp): hiredis allocated 12 GB for this header at once.
        let reader = HiredisReader()
        try reader.feed(ByteBuffer(string: "*1555555555\r\n:42\r\n"))
        #expect(throws: RedisError.self) { _ = try reader.next() }
        let fine = HiredisReader()
        try fine.feed(ByteBuffer(string: "*\(1 << 20)\r\n"))
        #expect(try fine.next() == nil, "a million elements is allowed; the rest has not come yet")
    }

    @Test("replies are decoded whole even when they arrive a byte at a time")
    func decodingInPieces() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
        let wire = "+OK\r\n-ERR bad\r\n:42\r\n$-1\r\n$3\r\nabc\r\n*3\r\n:1\r\n*1\r\n+x\r\n$0\r\n\r\n"
        for byte in wire.utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        var values: [RedisValue] = []
        while let value = try channel.readInbound(as: RedisValue.self) { values.append(value) }
        #expect(
            values == [
                .simple("OK"), .error("ERR bad"), .integer(42), .null, .bulk(Array("abc".utf8)),
                .array([.integer(1), .array([.simple("x")]), .bulk([])]),
            ])
        _ = try channel.finish()
    }

    @Test("bytes that are not RESP are a protocol error")
    func garbage() {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
        #expect(throws: RedisError.self) { try channel.writeInbound(ByteBuffer(string: "?what\r\n")) }
    }

    @Test(
        "Redis URLs",
        arguments: [
            ("redis://127.0.0.1:6379", RedisAddress(host: "127.0.0.1", port: 6379)),
            ("redis://redis", RedisAddress(host: "redis", port: 6379)),
            ("redis://:secret@cache:6380/2", RedisAddress(host: "cache", port: 6380, password: "secret", database: 2)),
            ("redis://user:pw@h/", RedisAddress(host: "h", port: 6379, username: "user", password: "pw")),
            (
                "redis://chat-node:p%40ss%3Aword@h",
                RedisAddress(host: "h", port: 6379, username: "chat-node", password: "p@ss:word")
            ),
        ])
    func urls(_ url: String, _ expected: RedisAddress) throws {
        #expect(try RedisAddress(url: url) == expected)
    }

    @Test(
        "bad Redis URLs are refused clearly",
        arguments: ["http://x", "redis://", "redis://h:0", "redis://h:port", "redis://h/db"])
    func badURLs(_ url: String) {
        #expect(throws: RedisError.self) { try RedisAddress(url: url) }
    }

    @Test(
        "a refused Redis URL's error never shows its password (it ends up in logs)",
        arguments: [
            "redis://node:s3cret-pw@h:99999", "redis://:s3cret-pw@h/db", "rediz://user:s3cret-pw@h",
            "u:s3cret-pw@redis:6379",
            "redis:/u:s3cret-pw@h",
        ])
    func refusalHidesPassword(_ url: String) {
        do {
            _ = try RedisAddress(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(!error.message.contains("s3cret"), "\(error.message)")
            #expect(error.message.contains("***"))
        }
    }

    @Test("Redis Cluster URLs: any members as seeds, the credentials (escaped as chat-redis-auth writes them) for all")
    func clusterURLs() throws {
        let deployment = try RedisDeployment(
            url: "redis-cluster://%63hat-node:p%40ss@redis-1:6379,10.0.0.7:7001,[::1]:7002")
        guard case .cluster(let seeds, let template) = deployment else {
            Issue.record("not a cluster: \(deployment)")
            return
        }
        #expect(
            seeds == [
                HostPort(host: "redis-1", port: 6379), HostPort(host: "10.0.0.7", port: 7001),
                HostPort(host: "::1", port: 7002),
            ])
        #expect(template.username == "chat-node" && template.password == "p@ss" && !template.tls)
        #expect(!deployment.description.contains("p@ss") && deployment.description.contains("chat-node@"))
        if case .cluster(_, let secure) = try RedisDeployment(url: "rediss-cluster://u:p?w@h:1") {
            #expect(secure.tls && secure.password == "p?w")
        } else {
            Issue.record("rediss-cluster:// is a cluster")
        }
        #expect(try RedisDeployment(url: "redis://h:1") == .single(RedisAddress(host: "h", port: 1)))
    }

    @Test(
        "Redis Sentinel URLs: the sentinels (port 26379 unless given), the service they watch, the primary's credentials"
    )
    func sentinelURLs() throws {
        guard
            case .sentinel(let sentinel) = try RedisDeployment(
                url: "redis-sentinel://chat-node:p%40ss@s1,s2:26380,[::1]/chat")
        else {
            Issue.record("not a sentinel deployment")
            return
        }
        #expect(
            sentinel.sentinels == [
                HostPort(host: "s1", port: 26379), HostPort(host: "s2", port: 26380),
                HostPort(host: "::1", port: 26379),
            ])
        #expect(
            sentinel.service == "chat" && sentinel.template.username == "chat-node"
                && sentinel.template.password == "p@ss")
        #expect(!sentinel.description.contains("p@ss"))
    }

    @Test(
        "bad Redis Cluster URLs are refused clearly, never showing the password",
        arguments: [
            "redis-cluster://", "redis-cluster://u:s3cret-pw@", "redis-cluster://u:s3cret-pw@h:1,,h:2",
            "redis-cluster://u:s3cret-pw@h:1/2",
            "redis-cluster://u:s3cret-pw@h:0", "redis-cluster://u:s3cret-pw@h:1,h:port",
            "rediz-cluster://u:s3cret-pw@h:1",
            "redis-sentinel://u:s3cret-pw@s1:26379", "redis-sentinel://u:s3cret-pw@s1/",
            "redis-sentinel://u:s3cret-pw@/chat",
            "redis-sentinel://u:s3cret-pw@s1,,s2/chat", "redis-sentinel://u:s3cret-pw@s1/a b",
            "redis-sentinel://u:s3cret-pw@s1/a/b",
        ])
    func badClusterURLs(_ url: String) {
        do {
            _ = try RedisDeployment(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(!error.message.contains("s3cret"), "\(error.message)")
        }
    }
}
