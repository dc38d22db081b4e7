import ChatArchive
import ChatCore
import Testing

@Suite("The archive's address and search pages")
struct ArchiveAddressTests {
    @Test("postgres:// URLs as libpq writes them: credentials percent-decoded, sslmode's five modes, a CA file")
    func addresses() throws {
        let plain = try #require(ArchiveAddress("postgres://chat@db.example:6543/chat"))
        #expect(plain.user == "chat" && plain.password == nil && plain.host == "db.example" && plain.port == 6543)
        #expect(plain.database == "chat" && plain.tls == .prefer)
        let escaped = try #require(
            ArchiveAddress("postgresql://chat:p%40ss%3Aw@[::1]/chat?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"))
        #expect(escaped.password == "p@ss:w" && escaped.host == "::1" && escaped.port == 5432)
        #expect(escaped.tls == .verifyFull && escaped.rootCertificates == "/etc/ca.pem")
        #expect(!escaped.description.contains("p@ss"), "logs never show the password")
        #expect(ArchiveAddress("postgres://chat@%2Frun%2Fpostgresql/chat")?.host == "/run/postgresql")
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            #expect(ArchiveAddress("postgres://chat@h/db?sslmode=\(mode)")?.tls.rawValue == mode)
        }
        for bad in [
            "redis://chat@h/db", "postgres://h/db", "postgres://chat@h", "postgres://chat@h:0/db",
            "postgres://chat@h/db?sslmode=allow", "postgres://chat@h/db?connect_timeout=3", "postgres://chat@h/db?x",
            "postgres://ch%ZZat@h/db", "postgres://@h/db",
        ] {
            #expect(ArchiveAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("retention rooms parse as ROOM=DAYS, with or without #; anything else is refused")
    func retentionRooms() {
        #expect(ChatArchive.Retention.parseRooms("#short=1, long=400") == ["short": 1, "long": 400])
        #expect(ChatArchive.Retention.parseRooms("") == [:])
        #expect(ChatArchive.Retention.parseRooms("short=0") == nil)
        #expect(ChatArchive.Retention.parseRooms("short") == nil)
        #expect(ChatArchive.Retention.parseRooms("bad room=3") == nil)
    }

    @Test("a search's next page keeps its room, name and words, and none is offered past the last page")
    func nextPage() throws {
        let search = SearchRequest(text: "ship it", room: "dev", from: "bob", page: 2)
        let results = SearchResults(of: search, found: [], more: true)
        #expect(results.more && results.nextPage == "#dev from:bob page:3 ship it")
        #expect(
            try SearchRequest.parseText(results.nextPage[...])
                == SearchRequest(text: "ship it", room: "dev", from: "bob", page: 3))
        let last = SearchResults(
            of: SearchRequest(text: "x", page: SearchRequest.maximumPage), found: [], more: true)
        #expect(!last.more)
    }
}
