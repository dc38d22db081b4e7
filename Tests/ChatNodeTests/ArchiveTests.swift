import ChatTestSupport
import Foundation
import Testing

// One file, one suite: every test starts its own PostgreSQL, Redis and nodes, and they share the helpers that
// flood a room, read acknowledgements, page back and search.

/// The archive (`--archive`) against a real PostgreSQL and a real Redis, with real nodes and clients.
@Suite("The archive in PostgreSQL", .serialized)
struct ArchiveTests {
    /// Sends `count` room messages as fast as the socket takes them, alternating between `rooms`; each carries its
    /// number as the request id, which the node's acknowledgement (the message event itself) echoes.
    static func flood(_ client: TestSocket, rooms: [String], count: Int, from start: Int) throws {
        var lines = ""
        for number in start..<(start + count) {
            let room = rooms[number % rooms.count]
            lines += "{\"op\":\"say\",\"room\":\"\(room)\",\"text\":\"flood \(number)\",\"id\":\(number)}\n"
        }
        try client.sendRaw(Array(lines.utf8))
    }

    /// Sends `count` direct messages to `name` as fast as the socket takes them, each with its number.
    static func directFlood(_ client: TestSocket, to name: String, count: Int, from start: Int) throws {
        let lines = (start..<(start + count)).map {
            "{\"op\":\"msg\",\"to\":\"\(name)\",\"text\":\"dm \($0)\",\"id\":\($0)}\n"
        }
        try client.sendRaw(Array(lines.joined().utf8))
    }

    /// The message ids acknowledged to `client` (its own messages' events with a request id), read until nothing
    /// comes for `quiet` seconds or the connection closes; a direct message's as `direct TEXT`.
    static func acknowledged(_ client: TestSocket, quiet: Double = 1.5) -> Set<String> {
        var ids: Set<String> = []
        while let line = client.readLine(timeout: quiet) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["id"] != nil
            else { continue }
            if object["type"] as? String == "direct", let text = object["text"] as? String {
                ids.insert("direct \(text)")
            } else if object["type"] as? String == "message", let msgid = object["msgid"] as? String {
                ids.insert("\(object["room"] as? String ?? "") \(msgid)")
            }
        }
        return ids
    }

    /// `room id` of every message in the rooms' Redis streams.
    static func streamed(_ cluster: TestCluster, rooms: [String]) throws -> Set<String> {
        var ids: Set<String> = []
        for room in rooms {
            let output = try cluster.redis.cli(["XRANGE", "chat:history:{\(room)}", "-", "+"])
            // redis-cli prints an entry's id on its own line before its fields.
            for line in output.split(separator: "\n") {
                if line.range(of: #"^\d+-\d+$"#, options: .regularExpression) != nil { ids.insert("\(room) \(line)") }
            }
        }
        return ids
    }

    @Test(
        "every message Redis acknowledged, room or direct, is archived exactly once, through the archiving node killed mid-flood and PostgreSQL restarted"
    )
    func exactlyOnce() throws {
        let postgres = try PostgresServer()
        let cluster = try TestCluster(
            nodes: 2,
            nodeArguments: [
                "--archive", postgres.url + "?sslmode=disable", "--rate-limit", "500", "--rate-burst", "500",
            ])
        let rooms = ["lobby", "flood"]
        // n1 started first: its archiver takes the lease.
        #expect(eventually(timeout: 10) { Self.metric("chat_archive_leader", of: cluster[0]) == 1 })
        var clients: [TestSocket] = []
        for (index, name) in ["ann", "abe", "bea", "bob"].enumerated() {
            let client = try cluster[index < 2 ? 0 : 1].loginJSON(name)
            try client.sendJSON(["op": "join", "room": "flood"])
            _ = try client.expectEvent(type: "joined")
            clients.append(client)
        }
        var acknowledged: Set<String> = []
        for client in clients { try Self.flood(client, rooms: rooms, count: 100, from: 0) }
        for client in clients { acknowledged.formUnion(Self.acknowledged(client)) }
        #expect(acknowledged.count == 400)
        #expect(eventually(timeout: 10) { (try? postgres.psql("SELECT count(*) FROM chat_messages")) == "400" })

        // The archiving node killed while its clients' lines are still coming in: what Redis took from it before
        // it died is archived by the other node once the lease passes.
        for client in clients { try Self.flood(client, rooms: rooms, count: 200, from: 1000) }
        // Direct messages too, from the node about to die and from the other.
        try Self.directFlood(clients[0], to: "bob", count: 100, from: 0)
        try Self.directFlood(clients[2], to: "bob", count: 100, from: 1000)
        usleep(30_000)
        cluster[0].kill9()
        for client in clients { acknowledged.formUnion(Self.acknowledged(client, quiet: 1)) }
        // PostgreSQL restarted (killed) while the survivors flood on.
        for client in clients[2...] { try Self.flood(client, rooms: rooms, count: 200, from: 2000) }
        postgres.kill()
        for client in clients[2...] { acknowledged.formUnion(Self.acknowledged(client, quiet: 1)) }
        try postgres.start()
        for client in clients[2...] { try Self.flood(client, rooms: rooms, count: 50, from: 3000) }
        try Self.directFlood(clients[2], to: "bob", count: 50, from: 3000)
        for client in clients[2...] { acknowledged.formUnion(Self.acknowledged(client)) }

        // Every direct message acknowledged is archived, once (its text is its number), and the log in Redis
        // keeps none of what was archived, nor the marks.
        let directs = Set(acknowledged.filter { $0.hasPrefix("direct ") }.map { String($0.dropFirst(7)) })
        acknowledged.subtract(acknowledged.filter { $0.hasPrefix("direct ") })
        #expect(directs.count >= 150, "bea's direct messages at least")
        var archivedDirects: Set<String> = []
        #expect(
            eventually(timeout: 40, interval: 0.5) {
                let rows = (try? postgres.psql("SELECT body FROM chat_directs")) ?? ""
                archivedDirects = Set(rows.split(separator: "\n").map(String.init))
                return directs.isSubset(of: archivedDirects)
            }, "archived \(archivedDirects.count) of \(directs.count) direct messages")
        #expect(try postgres.psql("SELECT count(*) - count(DISTINCT body) FROM chat_directs") == "0")
        #expect(
            eventually(timeout: 10) {
                (try? cluster.redis.cli(["XLEN", "chat:dm-log:{bob}"])) == "0"
                    && (try? cluster.redis.cli(["ZCARD", "chat:archive:pending-dms"])) == "0"
            })

        let streamed = try Self.streamed(cluster, rooms: rooms)
        #expect(acknowledged.isSubset(of: streamed))
        var archived: Set<String> = []
        let settled = eventually(timeout: 40, interval: 0.5) {
            let rows = (try? postgres.psql("SELECT room || ' ' || ms || '-' || seq FROM chat_messages")) ?? ""
            archived = Set(rows.split(separator: "\n").map(String.init))
            return archived == streamed
        }
        #expect(settled, "archived \(archived.count), streamed \(streamed.count)")
        #expect(acknowledged.count > 400 + 2 * 250, "the survivors' messages at least")
        #expect(Self.metric("chat_archive_leader", of: cluster[1]) == 1)
        // Exactly once: the rows are the stream's entries, one each (the key is the room and the id).
        #expect(try postgres.psql("SELECT count(*) FROM chat_messages") == String(streamed.count))
        #expect(try postgres.psql("SELECT count(*) FROM chat_archive_gaps") == "0")
        #expect(try postgres.psql("SELECT max(version) FROM chat_schema") == "2")
        #expect(
            try postgres.psql(
                "SELECT sender || ': ' || body FROM chat_messages WHERE body = 'flood 3049' AND sender = 'bob'")
                == "bob: flood 3049")
    }

    /// Every message of `room` read back page by page (`history` before the oldest so far), oldest first.
    static func pagedBack(_ client: TestSocket, room: String, limit: Int = 50) throws -> [[String: Any]] {
        var read: [[String: Any]] = []
        var before: String?
        for page in 0..<100 {
            var request: [String: Any] = ["op": "history", "room": room, "limit": limit, "id": "p\(page)"]
            if let before { request["before"] = before }
            try client.sendJSON(request)
            let event = try client.expectEvent(type: "history")
            let messages = event["messages"] as? [[String: Any]] ?? []
            if messages.isEmpty { break }
            read.insert(contentsOf: messages, at: 0)
            before = messages.first?["msgid"] as? String
        }
        return read
    }

    static func search(_ client: TestSocket, _ fields: [String: Any]) throws -> [String: Any] {
        var request = fields
        request["op"] = "search"
        try client.sendJSON(request)
        return try client.expectLine("search results") {
            $0.contains("\"type\":\"search\"") || $0.contains("\"type\":\"error\"")
        }
        .data(using: .utf8).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
    }

    /// The texts a search found; an error instead is an issue (an empty list would pass checks for "nothing").
    static func texts(_ event: [String: Any]) -> [String] {
        #expect(event["type"] as? String == "search", "a search's results, not \(event)")
        return (event["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
    }

    @Test(
        "history reads on from Redis into the archive in order with no duplicate at the seam; search finds words and phrases in three scripts, only in one's own rooms"
    )
    func historyAndSearch() throws {
        let postgres = try PostgresServer()
        let tokenFile = postgres.directory + "/admin-token"
        try ServerOperatorTests.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let cluster = try TestCluster(
            nodes: 1,
            nodeArguments: [
                "--archive", postgres.url + "?sslmode=disable", "--history-length", "150", "--rate-limit", "500",
                "--rate-burst", "500", "--irc-port", "0", "--admin-token-file", tokenFile,
            ])
        let alice = try cluster[0].loginJSON("alice")
        try Self.pacedFlood(alice, into: "long", cluster: cluster, postgres: postgres)
        #expect(try postgres.psql("SELECT count(*) FROM chat_archive_gaps WHERE stream = 'long'") == "0")
        let read = try Self.pagedBack(alice, room: "long")
        #expect(read.compactMap { $0["text"] as? String } == (0..<300).map { "flood \($0)" })
        #expect(Set(read.compactMap { $0["msgid"] as? String }).count == 300)

        // PostgreSQL down while a room floods past what its stream keeps: what was trimmed before the archive could
        // read it is a gap, recorded, logged and counted; the rest is archived once it is back.
        // Direct messages meanwhile wait in dora's log, which takes 1000: the rest are delivered, and counted lost.
        let dora = try cluster[0].loginJSON("dora")
        postgres.kill()
        try alice.sendJSON(["op": "join", "room": "gappy"])
        _ = try alice.expectEvent(type: "joined")
        try Self.flood(alice, rooms: ["gappy"], count: 400, from: 0)
        var sent = Self.acknowledged(alice).count
        // In slices the rate takes (lines far past it are refused, not queued).
        for slice in 0..<3 {
            try Self.directFlood(alice, to: "dora", count: 335, from: slice * 335)
            sent += Self.acknowledged(alice).count
        }
        #expect(sent == 1405)
        #expect(try cluster.redis.cli(["XLEN", "chat:dm-log:{dora}"]) == "1000")
        dora.close()
        try postgres.start()
        #expect(
            eventually(timeout: 15) {
                (try? postgres.psql("SELECT count(*) FROM chat_directs WHERE recipient_key = 'dora'")) == "1000"
                    && (try? postgres.psql("SELECT lost FROM chat_archive_gaps WHERE stream = '@dora'")) == "5"
            })
        #expect(try cluster.redis.cli(["XLEN", "chat:dm-log:{dora}"]) == "0")
        #expect(
            eventually(timeout: 15) {
                (try? postgres.psql("SELECT count(*) FROM chat_archive_gaps WHERE stream = 'gappy'")) == "1"
            })
        #expect(eventually(timeout: 5) { (Self.metric("chat_archive_gaps_total", of: cluster[0]) ?? 0) == 2 })
        #expect((cluster[0].process.stdout() + cluster[0].process.stderr()).contains("archive gap"))
        let kept = Int(try cluster.redis.cli(["XLEN", "chat:history:{gappy}"])) ?? -1
        #expect(
            eventually(timeout: 10) {
                (try? postgres.psql("SELECT count(*) FROM chat_messages WHERE room = 'gappy'")) == String(kept)
            })

        // Three scripts, a phrase in each; one room alice is not in.
        let bob = try cluster[0].loginJSON("bob")
        try bob.sendJSON(["op": "join", "room": "secret"])
        _ = try bob.expectEvent(type: "joined")
        for text in [
            // What once made an unclosed literal (U+0D4E joins the quote after it into one character), which
            // failed every batch after it: archived like any other message now.
            "x\u{0D4E}' and \u{0D4E}\\",
            "The quick brown fox jumps", "Съешь же ещё этих мягких французских булок", "東京タワーに行きました",
        ] {
            try alice.sendJSON(["op": "say", "room": "long", "text": text, "id": "s"])
            _ = try alice.expectEvent(type: "message")
        }
        try bob.sendJSON(["op": "say", "room": "secret", "text": "the quick brown fox is secret", "id": "s"])
        _ = try bob.expectEvent(type: "message")
        #expect(
            eventually(timeout: 10) {
                (try? postgres.psql("SELECT count(*) FROM chat_messages WHERE room <> 'gappy'")) == "305"
            })
        _ = alice.drain()
        #expect(Self.texts(try Self.search(alice, ["text": "\"QUICK brown\""])) == ["The quick brown fox jumps"])
        #expect(
            Self.texts(try Self.search(alice, ["text": "\"французских булок\""])) == [
                "Съешь же ещё этих мягких французских булок"
            ])
        #expect(Self.texts(try Self.search(alice, ["text": "франц*"])).count == 1)
        #expect(Self.texts(try Self.search(alice, ["text": "京タワ"])) == ["東京タワーに行きました"])
        #expect(Self.texts(try Self.search(alice, ["text": "\"brown quick\""])).isEmpty, "a phrase is in order")
        #expect(Self.texts(try Self.search(bob, ["text": "quick brown"])) == ["the quick brown fox is secret"])
        let refused = try Self.search(alice, ["text": "secret", "room": "secret"])
        #expect(refused["code"] as? String == "not-in-room")
        // Pages: 300 floods, 20 a page, newest first among equals.
        let first = try Self.search(alice, ["text": "flood", "room": "long"])
        #expect(Self.texts(first).count == 20 && first["more"] as? Bool == true)
        #expect(Self.texts(first).first == "flood 299")
        let tenth = try Self.search(alice, ["text": "flood", "room": "long", "page": 10])
        #expect(Self.texts(tenth).last == "flood 100")
        let past = try Self.search(alice, ["text": "flood", "page": 11])
        #expect(past["code"] as? String == "bad-request")

        // A deleted message leaves the archive's index too.
        try alice.sendJSON([
            "op": "delete", "room": "long", "id": "d",
            "msgid": try Self.msgid(of: "The quick brown fox jumps", in: postgres),
        ])
        _ = try alice.expectEvent(type: "deleted")
        #expect(eventually(timeout: 10) { (try? Self.texts(Self.search(alice, ["text": "fox"])))?.isEmpty == true })

        // Text mode and IRC ask the same archive.
        let carol = try cluster[0].login("carol")
        try carol.send("/join long")
        _ = try carol.expect("you joined #long")
        try carol.send("/search мягких")
        _ = try carol.expect("found for \"мягких\"")
        _ = try carol.expect("#long ")
        let dave = try cluster[0].ircLogin("dave")
        try dave.send("JOIN #long")
        _ = try dave.expect(" 366 dave #long ")
        try dave.send("PRIVMSG HistServ :SEARCH #long 東京")
        _ = try dave.expectLine("HistServ's result") {
            $0.hasPrefix(":HistServ!HistServ@services NOTICE dave :#long ") && $0.contains("東京タワーに行きました")
        }

        // A room a server operator closes loses its history everywhere: the archive's too.
        #expect(try postgres.psql("SELECT count(*) FROM chat_messages WHERE room = 'secret'") == "1")
        let closed = try ServerOperatorTests.admin(cluster, "POST", "/admin/close-room", ["room": "secret"])
        #expect(closed.status == 200)
        #expect(
            eventually(timeout: 10) {
                (try? postgres.psql("SELECT count(*) FROM chat_messages WHERE room = 'secret'")) == "0"
            })
    }

    /// Says "flood 0" to "flood 299" in `room`, 50 at a time, each time waiting until the archive has them: all of
    /// it archived, while the stream (`--history-length 150`) keeps only its last hundred or two (it is trimmed a
    /// whole node of 100 entries at a time).
    static func pacedFlood(
        _ client: TestSocket, into room: String, cluster: TestCluster, postgres: PostgresServer
    ) throws {
        try client.sendJSON(["op": "join", "room": room])
        _ = try client.expectEvent(type: "joined")
        for round in 0..<6 {
            try Self.flood(client, rooms: [room], count: 50, from: round * 50)
            #expect(Self.acknowledged(client, quiet: 0.3).count == 50)
            #expect(
                eventually(timeout: 10) {
                    (try? postgres.psql("SELECT count(*) FROM chat_messages WHERE room = '\(room)'"))
                        == String(round * 50 + 50)
                })
        }
        let streamLength = Int(try cluster.redis.cli(["XLEN", "chat:history:{\(room)}"])) ?? 0
        #expect(streamLength < 300)
    }

    @Test(
        "the page scrolls back from Redis into the archive with nothing twice at the seam; its search box finds a message and opens it in its room's history"
    )
    func page() throws {
        let postgres = try PostgresServer()
        let cluster = try TestCluster(
            nodes: 1,
            nodeArguments: [
                "--archive", postgres.url + "?sslmode=disable", "--history-length", "150", "--rate-limit", "500",
                "--rate-burst", "500",
            ])
        let feeder = try cluster[0].loginJSON("feeder")
        try Self.pacedFlood(feeder, into: "long", cluster: cluster, postgres: postgres)

        let browser = try WebDriver(logDirectory: cluster.logDirectory)
        let url = "http://127.0.0.1:\(cluster[0].httpPort)/"
        try browser.open(url)
        try browser.logIn(as: "reader")
        try browser.say("/join long")
        try browser.waitForText("#room-title") { $0 == "#long" }
        try browser.waitForText("#log") { $0.contains("flood 299") }
        // Scrolled to the top again and again: Redis's pages, then the archive's.
        var shown: [String] = []
        for _ in 0..<20 {
            try browser.click("#older")
            Thread.sleep(forTimeInterval: 0.3)
            shown =
                (try browser.execute(
                    "return state.rooms.get('long').lines.filter(l => l.kind === 'message').map(l => l.text)")
                    as? [String]) ?? []
            if shown.first == "flood 0" { break }
        }
        #expect(shown == (0..<300).map { "flood \($0)" })
        let ids = (try browser.execute("return state.rooms.get('long').lines.map(l => l.id)") as? [String]) ?? []
        #expect(Set(ids).count == ids.count)
        try browser.click("#older")
        try browser.waitForText("#older") { $0 == "No older messages" }

        // A fresh page (the tab reloaded: the same name by its token) shows only the newest; a search finds an old
        // message, and opening it reads its room's history around it.
        try browser.open(url)
        try browser.waitForText("#status") { $0.contains("reader on node") }
        try browser.say("/join long")
        try browser.waitForText("#log") { $0.contains("flood 299") }
        #expect(!(try browser.text("#log")).contains("flood 42"))
        try browser.type("\"flood 42\"", into: "#search-text")
        try browser.click("#search button[type=submit]")
        try browser.waitForText("#results-list") { $0.contains("flood 42") }
        #expect(try browser.text("#results-title").contains("flood 42"))
        try browser.click("#results-list button")
        try browser.waitForText(".log li.found") { $0.contains("flood 42") }
        let around =
            (try browser.execute(
                "return state.rooms.get('long').lines.filter(l => l.kind === 'message').map(l => l.text)") as? [String])
            ?? []
        #expect(around.contains("flood 18") && around.contains("flood 41") && !around.contains("flood 17"))
        // A direct message the reader was sent is found too, shown whole (it has no room to open); the reader
        // removes what they sent from the archive with the button, which asks twice.
        let penpal = try cluster[0].loginJSON("penpal")
        try penpal.sendJSON(["op": "msg", "to": "reader", "text": "a parcel of letters", "id": "d"])
        _ = try penpal.expectEvent(type: "direct")
        #expect(eventually(timeout: 10) { (try? postgres.psql("SELECT count(*) FROM chat_directs")) == "1" })
        _ = try browser.execute("document.getElementById('search-text').value = ''")
        try browser.type("letters", into: "#search-text")
        try browser.click("#search button[type=submit]")
        try browser.waitForText("#results-list") { $0.contains("direct ·") && $0.contains("penpal → reader") }
        try browser.click("#forget")
        try browser.waitForText("#forget") { $0.contains("Click again") }
        try browser.click("#forget")
        try browser.waitForText("#log") { $0.contains("of your messages removed from the archive") }
        #expect(!browser.consoleLog().contains("SEVERE"), "\(browser.consoleLog())")

        // The terminal client: PgUp at the top of what it holds reads the page before it, into the archive, until
        // the room's first message; /search lists what it finds.
        let tmux = try Tmux(
            command: "env TERM=screen LANG=C.UTF-8 \(TestEnvironment.binDirectory)/chat --name termie "
                + "--server 127.0.0.1:\(cluster[0].port) 2>\(cluster.logDirectory)/chat-termie.log",
            columns: 100, rows: 30)
        try tmux.waitFor("the terminal client in the lobby") { $0.contains("#lobby") }
        try tmux.type("/join long")
        try tmux.press("Enter")
        try tmux.waitFor("the newest of #long") { $0.contains("flood 299") }
        var top = ""
        for _ in 0..<40 {
            try tmux.press("PPage")
            Thread.sleep(forTimeInterval: 0.15)
            top = tmux.screen
            if top.contains("flood 0\n") || top.contains("flood 0 ") { break }
        }
        #expect(top.contains("flood 0\n") || top.contains("flood 0 "), "\(top)")
        #expect(top.contains("flood 1"))
        try tmux.type("/search \"flood 137\"")
        try tmux.press("Enter")
        try tmux.waitFor("the search's result") {
            $0.contains("found for") && $0.contains("#long") && $0.contains("flood 137")
        }
    }

    @Test("retention removes what is older than the deployment keeps, a room of its own by its own days")
    func retention() throws {
        let postgres = try PostgresServer()
        let arguments = [
            "--archive", postgres.url + "?sslmode=disable", "--archive-keep-days", "30", "--archive-keep-room",
            "#short=1,long=400",
        ]
        // The first node makes the tables, and goes (its lease with it, within the claim TTL).
        let cluster = try TestCluster(nodes: 1, nodeArguments: arguments)
        #expect(eventually(timeout: 10) { (try? postgres.psql("SELECT max(version) FROM chat_schema")) == "2" })
        cluster[0].kill9()
        for (room, days, text) in [
            ("lobby", 40, "old"), ("lobby", 20, "kept"), ("short", 2, "old"), ("short", 0, "kept"),
            ("long", 200, "kept"), ("long", 500, "old"),
        ] {
            try postgres.psql(
                """
                INSERT INTO chat_messages (room, ms, seq, sender, kind, sent_at, body, entry, terms)
                VALUES ('\(room)', \(1_700_000_000_000 - days * 86_400_000), 0, 'ann', 0,
                    now() - make_interval(days => \(days)), '\(text)', '', '')
                """)
        }
        for (days, text) in [(40, "old"), (20, "kept")] {
            try postgres.psql(
                """
                INSERT INTO chat_directs (recipient_key, ms, seq, sender, recipient, recipient_author, kind, sent_at,
                    body, terms)
                VALUES ('bob', \(1_700_000_000_000 - days * 86_400_000), 0, 'ann', 'bob', 'x', 0,
                    now() - make_interval(days => \(days)), '\(text)', '')
                """)
        }
        // The next archiving node applies retention once it has nothing else to do.
        try cluster.addNode(id: "n2")
        #expect(
            eventually(timeout: 15) {
                (try? postgres.psql("SELECT count(*) FROM chat_messages WHERE body = 'old'")) == "0"
            })
        #expect(try postgres.psql("SELECT count(*) FROM chat_messages WHERE body = 'kept'") == "3")
        #expect(
            eventually(timeout: 5) { (try? postgres.psql("SELECT string_agg(body, ',') FROM chat_directs")) == "kept" })
    }

    /// A direct message's search hit as "from>to:text".
    static func directs(_ event: [String: Any]) -> [String] {
        #expect(event["type"] as? String == "search", "a search's results, not \(event)")
        return (event["messages"] as? [[String: Any]] ?? []).compactMap { hit in
            guard hit["type"] as? String == "direct" else { return nil }
            return "\(hit["from"] ?? "")>\(hit["to"] ?? ""):\(hit["text"] ?? "")"
        }
    }

    @Test(
        "direct messages are archived for their two people only, by identity not by name; a person removes what they sent"
    )
    func directsAndForget() throws {
        let postgres = try PostgresServer()
        // A search and a removal cost 5 tokens each (the rate is not what this tests): alice's searches and removal
        // below come within a second, past the default burst of 20 on a fast machine.
        let cluster = try TestCluster(
            nodes: 2,
            nodeArguments: [
                "--archive", postgres.url + "?sslmode=disable", "--irc-port", "0", "--rate-limit", "500",
                "--rate-burst", "500",
            ])
        // A registered name's identity is its account's from the next login with its password (a session that
        // registers keeps the guest identity it started with, as it does for editing its earlier messages).
        let registering = try cluster[0].loginJSON("alice")
        try registering.sendJSON(["op": "register", "password": "lighthouse keeper 7"])
        _ = try registering.expectEvent(type: "ok")
        try registering.sendJSON(["op": "quit"])
        _ = registering.waitForClose()
        let alice = try cluster[0].connect("alice")
        try alice.sendJSON(["op": "hello", "name": "alice", "password": "lighthouse keeper 7", "id": 1])
        _ = try alice.expectEvent(type: "welcome")
        var bob = try cluster[1].loginJSON("bob")
        let carol = try cluster[1].loginJSON("carol")
        func direct(_ from: TestSocket, to: String, _ text: String) throws {
            try from.sendJSON(["op": "msg", "to": to, "text": text, "id": "d"])
            _ = try from.expectLine("\(text) sent") { $0.contains("\"type\":\"direct\"") && $0.contains(text) }
        }
        try direct(alice, to: "bob", "meet at the lighthouse")
        try direct(bob, to: "alice", "the lighthouse at noon")
        try direct(carol, to: "bob", "carol's lighthouse secret")
        try direct(alice, to: "carol", "a lighthouse for carol")
        try alice.sendJSON(["op": "join", "room": "dev"])
        _ = try alice.expectEvent(type: "joined")
        try alice.sendJSON(["op": "say", "room": "dev", "text": "lighthouse talk in the room", "id": "s"])
        _ = try alice.expectEvent(type: "message")
        #expect(eventually(timeout: 10) { (try? postgres.psql("SELECT count(*) FROM chat_directs")) == "4" })
        #expect(eventually(timeout: 10) { (try? postgres.psql("SELECT count(*) FROM chat_messages")) == "1" })

        // Each finds the direct messages they sent or were sent, with their rooms' messages, never another's.
        let found = try Self.search(alice, ["text": "lighthouse"])
        #expect(
            Set(Self.directs(found))
                == [
                    "alice>bob:meet at the lighthouse", "bob>alice:the lighthouse at noon",
                    "alice>carol:a lighthouse for carol",
                ])
        // Which of them she sent, whatever the names.
        #expect(
            (found["messages"] as? [[String: Any]] ?? []).filter { $0["sent"] as? Bool == true }.count == 2)
        #expect(Self.texts(try Self.search(alice, ["text": "lighthouse"])).contains("lighthouse talk in the room"))
        #expect(Self.directs(try Self.search(bob, ["text": "lighthouse"])).count == 3)
        #expect(
            Set(Self.directs(try Self.search(carol, ["text": "lighthouse"])))
                == ["carol>bob:carol's lighthouse secret", "alice>carol:a lighthouse for carol"])
        // A room asked for: that room only.
        #expect(Self.directs(try Self.search(alice, ["text": "lighthouse", "room": "dev"])).isEmpty)
        // The guest name bob, taken by someone else after bob went, is not bob: none of his messages.
        try bob.sendJSON(["op": "quit"])
        _ = bob.waitForClose()
        bob = try cluster[0].loginJSON("bob")
        #expect(Self.directs(try Self.search(bob, ["text": "lighthouse"])).isEmpty)
        // alice's account is alice wherever she logs in again; text mode shows who wrote to whom.
        let again = try cluster[1].connect("alice-text")
        try again.expect("what is your name")
        try again.send("alice")
        try again.expect("password")
        try again.send("lighthouse keeper 7")
        try again.expect("welcome")
        try again.send("/search lighthouse noon")
        try again.expectLine("the direct message found") { $0.contains("bob -> alice") && $0.hasSuffix("(direct)") }
        // IRC: HistServ's notice names the other person.
        let irc = try cluster[0].ircLogin("carol2")
        try irc.send("PRIVMSG HistServ :FORGET")
        try irc.expectLine("HistServ asks to confirm") { $0.contains("HistServ") && $0.contains("FORGET CONFIRM") }

        // alice removes what she sent: her room message goes; her direct messages stay with those she sent them to
        // (carol still finds hers), and she no longer finds any, sent or received; what she sends after is
        // archived as before.
        try alice.sendJSON(["op": "forget", "id": "f"])
        _ = try alice.expectEvent(type: "error")
        try alice.sendJSON(["op": "forget", "confirm": true, "id": "f"])
        let forgotten = try alice.expectEvent(type: "forgotten")
        #expect(forgotten["count"] as? Int == 3)
        #expect(Self.directs(try Self.search(alice, ["text": "lighthouse"])).isEmpty)
        #expect(!Self.texts(try Self.search(alice, ["text": "lighthouse"])).contains("lighthouse talk in the room"))
        #expect(
            Self.directs(try Self.search(carol, ["text": "lighthouse"])).contains("alice>carol:a lighthouse for carol"))
        #expect(try postgres.psql("SELECT count(*) FROM chat_directs WHERE sender_author IS NULL") == "2")
        try alice.sendJSON(["op": "say", "room": "dev", "text": "a lighthouse again", "id": "s"])
        _ = try alice.expectEvent(type: "message")
        #expect(
            eventually(timeout: 10) {
                (try? postgres.psql("SELECT count(*) FROM chat_messages WHERE body = 'a lighthouse again'")) == "1"
            })
        #expect(Self.texts(try Self.search(alice, ["text": "lighthouse"])) == ["a lighthouse again"])
    }

    static func msgid(of text: String, in postgres: PostgresServer) throws -> String {
        try postgres.psql("SELECT ms || '-' || seq FROM chat_messages WHERE body = '\(text)'")
    }

    /// A counter or gauge from a node's /metrics; nil when it is not there.
    static func metric(_ name: String, of node: NodeProcess) -> Double? {
        guard let (status, body) = try? HTTPGet.get(port: node.opsPort, path: "/metrics"), status == 200 else {
            return nil
        }
        let line = body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}
