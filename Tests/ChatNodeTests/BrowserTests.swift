import ChatTestSupport
import Foundation
import Testing

/// The web page in a real headless Chromium, through the balancer, chatting with an nc user on another node.
@Suite("The web client in a real browser", .serialized)
struct BrowserTests {
    @Test("a browser picks a name, chats with nc across nodes, and shows hostile text as text")
    func chatInChromium() throws {
        let setup = try BalancedCluster(nodes: 2)
        let browser = try WebDriver(logDirectory: setup.cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(setup.balancer.httpPort)/")

        // A taken name is asked for again, with the reason.
        let (holder, _) = try setup.balancer.login("bob")
        try browser.type("bob", into: "#name")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#login-error") { $0.contains("taken") }
        _ = try browser.execute("document.getElementById('name').value = ''")
        try browser.type("alice", into: "#name")
        try browser.click("#login button[type=submit]")
        let status = try browser.waitForText("#status") { $0.contains("alice on node") }
        let aliceNode = String(status.split(separator: " ").last ?? "")
        #expect(
            try browser.execute("return getComputedStyle(document.getElementById('login')).display") as? String
                == "none",
            "the name form is gone once the name is taken")
        holder.close()

        // An nc user on the other node (round robin: at most two tries).
        var nc: TestSocket?
        for name in ["carol", "dave"] {
            let (client, node) = try setup.balancer.login(name)
            if node != aliceNode {
                nc = client
                break
            }
        }
        let other = try #require(nc, "no nc user landed on the node alice is not on")
        let otherName = other.received.contains { $0.contains("welcome carol") } ? "carol" : "dave"

        try browser.type("hello from the browser", into: "#input")
        try browser.click("#compose button[type=submit]")
        try other.expectLine("the browser's message") { $0.hasSuffix("<alice> hello from the browser") }

        try other.send("hi alice <img src=x onerror=alert(1)> see https://example.com/x?y=1")
        do {
            try browser.waitForText("#log") { $0.contains("hi alice <img src=x onerror=alert(1)>") }
        } catch {
            Issue.record(
                "\(error)\npage log:\n\(browser.consoleLog())\nDOM: \((try? browser.execute("return document.getElementById('log').innerHTML")) ?? "")"
            )
            throw error
        }
        #expect(try browser.execute("return document.querySelectorAll('#log img').length") as? Int == 0)
        #expect(
            try browser.execute("return document.querySelector('#log a') && document.querySelector('#log a').href")
                as? String
                == "https://example.com/x?y=1")
        #expect(try browser.text("#people").contains(otherName))

        // A direct message shows, marked as one.
        try other.send("/msg alice a secret")
        try browser.waitForText("#log") { $0.contains("[DM] \(otherName): a secret") }

        // A topic set by the nc user heads the room, and its change shows in the log; the page sets one too.
        try other.send("/topic hostile <b>topics</b> are text")
        try browser.waitForText("#room-topic") { $0 == "hostile <b>topics</b> are text" }
        try browser.waitForText("#log") { $0.contains("\(otherName) set the topic: hostile <b>topics</b> are text") }
        try browser.type("/topic from the page", into: "#input")
        try browser.click("#compose button[type=submit]")
        try other.expect("alice set the topic of #lobby: from the page")
        try browser.waitForText("#room-topic") { $0 == "from the page" }

        // Name changes: the nc user's shows in the log and the member list; the page's own, typed as a command,
        // changes its status line and reaches the nc user.
        try other.send("/nick \(otherName)2")
        try browser.waitForText("#log") { $0.contains("\(otherName) is now known as \(otherName)2") }
        try browser.waitForText("#people") { $0.contains("\(otherName)2") }
        try browser.type("/nick alicia", into: "#input")
        try browser.click("#compose button[type=submit]")
        try browser.waitForText("#status") { $0.contains("alicia on node") }
        try other.expect("#lobby: alice is now known as alicia")

        // A program's typing notice shows as "… is typing".
        let typist = try setup.balancer.connect("typist")
        try typist.sendJSON(["op": "hello", "name": "erin"])
        _ = try typist.expectEvent(type: "joined")
        try typist.sendJSON(["op": "typing", "room": "lobby"])
        try browser.waitForText("#typing") { $0.contains("erin is typing") }

        let artifact = TestEnvironment.packageDirectory + "/.build/test-artifacts/web-client.png"
        try browser.screenshot(to: artifact)
        #expect(FileManager.default.fileExists(atPath: artifact))
        // The same page at a phone's width: one column, nothing wider than the screen.
        try browser.resize(width: 390, height: 844)
        #expect(
            try browser.execute("return document.documentElement.scrollWidth <= window.innerWidth") as? Bool == true)
        try browser.screenshot(to: TestEnvironment.packageDirectory + "/.build/test-artifacts/web-client-phone.png")
    }

    @Test(
        "when its node dies the page comes back on another in exactly its rooms (not the lobby it left) and shows what it missed once"
    )
    func reconnectInChromium() throws {
        let setup = try BalancedCluster(nodes: 2)
        let browser = try WebDriver(logDirectory: setup.cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(setup.balancer.httpPort)/")
        try browser.type("alice", into: "#name")
        try browser.click("#login button[type=submit]")
        let status = try browser.waitForText("#status") { $0.contains("alice on node") }
        let aliceNode = String(status.split(separator: " ").last ?? "")
        var nc: TestSocket?
        var otherNode = ""
        for name in ["carol", "dave"] {
            let (client, node) = try setup.balancer.login(name)
            if node != aliceNode {
                (nc, otherNode) = (client, node)
                break
            }
        }
        let other = try #require(nc)
        try browser.waitForText("#people") { $0.contains("carol") || $0.contains("dave") }
        // Alice moves to #dev and leaves the lobby; the nc user follows her there.
        for command in ["/join dev", "/leave lobby"] {
            try browser.type(command, into: "#input")
            try browser.click("#compose button[type=submit]")
        }
        try browser.waitForText("#rooms") { $0.contains("dev") && !$0.contains("lobby") }
        try other.send("/join dev")
        try other.expect("you joined #dev")

        try #require(setup.cluster.nodes.first { $0.id == aliceNode }).kill9()
        try other.send("said while alice was away")
        try browser.waitForText("#status") { $0.contains("reconnecting") || $0.contains("waiting for the name") }
        try browser.waitForText("#status", timeout: 30) { $0.contains("alice on node \(otherNode)") }
        try browser.waitForText("#log") { $0.contains("said while alice was away") }
        #expect(
            try browser.text("#rooms").contains("dev") && !browser.text("#rooms").contains("lobby"),
            "back in exactly the rooms it had")
        #expect(
            !other.drain().contains { $0.contains("alice joined #lobby") }, "the server never put alice in the lobby")
        let copies = try browser.execute(
            "return [...document.querySelectorAll('#log li')].filter(li => li.textContent.includes('said while alice was away')).length"
        )
        #expect(copies as? Int == 1)
        try other.send("and after")
        try browser.waitForText("#log") { $0.contains("and after") }
        try browser.type("back again", into: "#input")
        try browser.click("#compose button[type=submit]")
        try other.expectLine(
            "alice's message after the reconnect", where: { $0.hasSuffix("<alice> back again") }, timeout: 10)
    }

    @Test("a registered name: the page asks for the password, and a reload of the tab gets the name back by its token")
    func passwordAndResumeInChromium() throws {
        let setup = try BalancedCluster(nodes: 2, nodeArguments: ["--scrypt-cost", "ln=10,r=8,p=1"])
        try setup.balancer.register("rita", password: "rita's secret")
        let (watcher, _) = try setup.balancer.login("watcher")

        let browser = try WebDriver(logDirectory: setup.cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(setup.balancer.httpPort)/")
        try browser.type("rita", into: "#name")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#login-error") { $0.contains("registered") }
        #expect(try browser.execute("return document.getElementById('password-row').hidden") as? Bool == false)
        try browser.type("not it", into: "#password")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#login-error") { $0.contains("not registered with that password") }
        try browser.type("rita's secret", into: "#password")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#status") { $0.contains("rita on node") }
        try watcher.expect("rita joined #lobby")
        #expect(try browser.execute("return localStorage.length") as? Int == 0, "nothing in localStorage")
        let stored = try browser.execute("return sessionStorage.getItem('chat.resume') || ''") as? String ?? ""
        #expect(stored.contains("rita") && !stored.contains("secret"), "the tab keeps its token, never the password")

        // A reload: the tab's token gets the name back at once, with no password and no leave or join notice.
        try browser.open("http://127.0.0.1:\(setup.balancer.httpPort)/")
        try browser.waitForText("#status") { $0.contains("rita on node") }
        let seen = watcher.drain(timeout: 1.5)
        #expect(!seen.contains { $0.contains("rita left") || $0.contains("rita joined") }, "\(seen)")
    }

    @Test(
        "a room's operator in the page: the member menu kicks a person on the other node; the settings panel makes the room invite-only, lifts a ban and registers the room"
    )
    func moderationInChromium() throws {
        // The panel asks three things each time it opens; the script below clicks through it faster than a person,
        // about the default burst of 20 in all: the rate is not what this tests.
        let cluster = try TestCluster(nodes: 2, nodeArguments: ["--rate-burst", "100"])
        let browser = try WebDriver(logDirectory: cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(cluster[0].httpPort)/")
        try browser.logIn(as: "webop")
        let say = browser.say
        func click(_ selector: String, text: String) throws {
            _ = try browser.execute(
                "[...document.querySelectorAll('\(selector)')].find((b) => b.textContent.endsWith('\(text)')).click()")
        }
        try say("/join club")
        try browser.waitForText("#people") { $0.contains("@webop") }
        let bob = try cluster[1].login("bob")
        try bob.send("/join club")
        try bob.expect("you joined #club")
        try browser.waitForText("#people") { $0.contains("bob") }

        // A person's menu: an operator's actions, carried out on the other node.
        try click("#people button", text: "bob")
        try browser.waitForText("#people") { $0.contains("Kick") && $0.contains("Make operator") }
        try click(".person-menu button", text: "Kick")
        try bob.expect("webop removed you from #club")

        // The settings panel: invite-only and a key, saved as one mode change.
        try browser.click("#settings-button")
        try browser.waitForText("#settings-note") { $0.contains("you are its operator") }
        try browser.click("#flag-i")
        try browser.type("sesame", into: "#settings-key")
        try browser.click("#settings button[type=submit]")
        try browser.waitForText("#log") { $0.contains("made #club invite-only") && $0.contains("set a key on #club") }
        try bob.send("/join club sesame")
        try bob.expect("! invite-only")
        // The ban list, with a button that lifts each.
        try say("/ban troll 1h")
        try browser.click("#settings-close")
        try browser.click("#settings-button")
        try browser.waitForText("#bans-list") { $0.contains("troll!*@*") }
        try click("#bans-list button", text: "Lift")
        try browser.waitForText("#bans-list") { $0.contains("nobody") }

        // Registering the room from the panel, once the name is registered: webop owns it (~), seen on node 2.
        try say("/register secret-webop-1")
        try browser.waitForText("#log") { $0.contains("webop is registered") }
        try browser.click("#settings-close")
        try browser.click("#settings-button")
        try browser.waitForText("#registration") { $0.contains("Not registered") }
        try browser.click("#registration-button")
        try browser.waitForText("#registration") { $0.contains("Registered to webop") }
        try browser.waitForText("#people") { $0.contains("~webop") }
        try bob.send("/room info #club")
        try bob.expect("#club is registered to webop")
    }
    @Test("in the page: react, reply, edit and delete, seen live by a JSON program on the other node, and theirs shown")
    func actOnMessagesInChromium() throws {
        let cluster = try TestCluster(nodes: 2)
        let browser = try WebDriver(logDirectory: cluster.logDirectory)
        try browser.open("http://127.0.0.1:\(cluster[0].httpPort)/")
        try browser.logIn(as: "webby")
        let bot = try cluster[1].loginJSON("botty")
        try bot.sendJSON(["op": "say", "text": "what do you think?", "id": 2])
        let asked = try bot.expectEvent("the acknowledgement") { $0["type"] as? String == "message" }
        let question = try #require(asked["msgid"] as? String)
        try browser.waitForText("#log") { $0.contains("what do you think?") }
        /// Clicks a message's action (hidden until hovered or tapped, so clicked by script).
        func act(on text: String, _ label: String) throws {
            _ = try browser.execute(
                """
                const line = [...document.querySelectorAll('#log li')].find((li) => li.textContent.includes('\(text)'));
                [...line.querySelectorAll('.actions button')].find((b) => b.getAttribute('aria-label') === '\(label)').click();
                """)
        }

        try act(on: "what do you think?", "React 👍")
        let reacted = try bot.expectEvent("the reaction") { $0["type"] as? String == "reacted" }
        #expect(reacted["from"] as? String == "webby" && reacted["msgid"] as? String == question, "\(reacted)")
        try browser.waitForText("#log") { $0.contains("👍 1") }

        try act(on: "what do you think?", "Reply")
        try browser.waitForText("#composing") { $0.contains("Replying in #lobby to botty") }
        try browser.say("looks good")
        let reply = try bot.expectEvent("the reply") {
            $0["type"] as? String == "message" && $0["from"] as? String == "webby"
        }
        #expect((reply["reply"] as? [String: Any])?["msgid"] as? String == question, "\(reply)")
        let replyID = try #require(reply["msgid"] as? String)
        try browser.waitForText("#log") { $0.contains("↳ botty: what do you think?") }

        // The program reacts to the page's reply and edits its question: both show in place.
        try bot.sendJSON(["op": "react", "msgid": replyID, "emoji": "🎉", "id": 3])
        try browser.waitForText("#log") { $0.contains("🎉 1") }
        try bot.sendJSON(["op": "edit", "msgid": question, "text": "what do you all think?", "id": 4])
        try browser.waitForText("#log") { $0.contains("what do you all think? (edited)") }

        // The page edits its own message (the input takes its text) and deletes it, asked once more.
        try act(on: "looks good", "Edit")
        try browser.waitForText("#composing") { $0.contains("Editing") }
        _ = try browser.execute("document.getElementById('input').value = ''")
        try browser.say("looks great")
        let edited = try bot.expectEvent("the edit") {
            $0["type"] as? String == "edited" && $0["from"] as? String == "webby"
        }
        #expect(edited["text"] as? String == "looks great" && edited["msgid"] as? String == replyID, "\(edited)")
        try browser.waitForText("#log") { $0.contains("looks great (edited)") }
        try act(on: "looks great", "Delete")
        try act(on: "looks great", "Delete")
        _ = try bot.expectEvent("the delete") {
            $0["type"] as? String == "deleted" && $0["msgid"] as? String == replyID
        }
        try browser.waitForText("#log") { !$0.contains("looks great") }

        // On a phone in dark mode: one column as wide as the screen, dark colours, and a person's consecutive
        // messages grouped under one name.
        try browser.resize(width: 390, height: 844)
        try browser.prefersColorScheme("dark")
        for text in ["first of two", "second of two"] {
            try bot.sendJSON(["op": "say", "text": text])
        }
        try browser.waitForText("#log") { $0.contains("second of two") }
        #expect(
            try browser.execute("return document.documentElement.scrollWidth <= window.innerWidth") as? Bool == true)
        #expect(
            try browser.execute("return getComputedStyle(document.body).backgroundColor") as? String
                == "rgb(18, 18, 18)")
        let grouped = try browser.execute(
            "return [...document.querySelectorAll('#log li')].find((li) => li.textContent.includes('second of two')).className"
        )
        #expect((grouped as? String)?.contains("grouped") == true, "\(grouped)")
        try browser.screenshot(
            to: TestEnvironment.packageDirectory + "/.build/test-artifacts/web-client-phone-dark.png")
        #expect(!browser.consoleLog().contains("SEVERE"), "\(browser.consoleLog())")
    }
}
