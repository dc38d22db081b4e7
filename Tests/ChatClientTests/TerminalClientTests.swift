import ChatTestSupport
import Foundation
import Testing

@Suite("The terminal client in tmux, against a real cluster", .serialized)
struct TerminalClientTests {
    @Test("chat shows others' messages and joins, survives resizes with its input, and resumes after its node dies")
    func endToEnd() throws {
        let setup = try BalancedCluster(nodes: 2)
        let log = setup.cluster.logDirectory + "/chat-alice.log"
        let exitStatus = setup.cluster.logDirectory + "/chat-alice.status"
        let command =
            "env TERM=screen LANG=C.UTF-8 \(TestEnvironment.binDirectory)/chat --name alice "
            + "--server 127.0.0.1:\(setup.balancer.port) 2>\(log); echo $? >\(exitStatus)"
        let tmux = try Tmux(command: command, columns: 100, rows: 30)

        let first = try tmux.waitFor("the client to connect") { $0.contains("connected to n") }
        let aliceNode =
            first.components(separatedBy: "connected to ").dropFirst().first?.split(separator: " ").first.map(
                String.init) ?? "?"
        let (bob, bobNode) = try setup.balancer.login("bob")
        #expect(bobNode != aliceNode, "round robin puts bob on the other node")
        try tmux.waitFor("bob's join notice") { $0.contains("bob joined #lobby") }
        try bob.send("hello from bob, whose message is long enough to need wrapping when the terminal gets narrow")
        try tmux.waitFor("bob's message") { $0.contains("<bob> hello from bob") }
        try tmux.waitFor("the people pane") { $0.contains("People (2)") }
        try bob.send("/topic plans for the week")
        try tmux.waitFor("the topic in the room bar") { screen in
            screen.split(separator: "\n").first?.contains("#lobby  | plans for the week") == true
        }

        try tmux.type("hi from alice ✓ 你好")
        try tmux.press("Enter")
        _ = try bob.expectLine("alice's message") { $0.hasSuffix("<alice> hi from alice ✓ 你好") }

        // Half-typed input survives a resize to narrow (no people pane, re-wrapped messages) and back to wide.
        try tmux.type("half typed words stay")
        try tmux.resize(columns: 50, rows: 16)
        let narrow = try tmux.waitFor("the narrow layout") {
            !$0.contains("People (") && $0.contains("> half typed words stay")
        }
        #expect(narrow.split(separator: "\n").allSatisfy { $0.count <= 50 })
        #expect(narrow.contains("gets narrow"), "the long message is wrapped, not cut: \(narrow)")
        try tmux.resize(columns: 120, rows: 30)
        try tmux.waitFor("the wide layout") { $0.contains("People (2)") && $0.contains("> half typed words stay") }
        try tmux.press("Enter")
        _ = try bob.expectLine("the half-typed line, whole") { $0.hasSuffix("<alice> half typed words stay") }

        // Alice's node dies: the client says it is reconnecting, gets back in, and shows what it missed, once.
        let aliceNodeProcess = try #require(setup.cluster.nodes.first { $0.id == aliceNode })
        aliceNodeProcess.kill9()
        try bob.send("said while alice was away")
        try tmux.waitFor("the reconnecting status") { $0.contains("reconnecting") }
        try tmux.waitFor("the client to be back", timeout: 30) { $0.contains("connected to \(bobNode)") }
        let back = try tmux.waitFor("the missed message") { $0.contains("<bob> said while alice was away") }
        #expect(back.components(separatedBy: "said while alice was away").count == 2, "exactly once: \(back)")
        try bob.send("and after")
        try tmux.waitFor("a live message after resuming") { $0.contains("<bob> and after") }
        try tmux.type("alice is back")
        try tmux.press("Enter")
        _ = try bob.expectLine(
            "alice's message after resuming", where: { $0.hasSuffix("<alice> alice is back") }, timeout: 10)

        // /quit: the client exits cleanly and gives the terminal back (the chat screen is gone).
        try tmux.type("/quit")
        try tmux.press("Enter")
        // (tmux 3.3's #{pane_dead_status} is not reliably set, so the shell writes the exit status down.)
        #expect(eventually(timeout: 10) { FileManager.default.fileExists(atPath: exitStatus) })
        let status = (try? String(contentsOfFile: exitStatus, encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(status == "0", "stderr:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(!tmux.screen.contains("People ("), "the full-screen view is gone after exit")
    }

    @Test("piped input that ends at once is still sent, then the line mode quits")
    func pipedAndDone() throws {
        let setup = try BalancedCluster(nodes: 2)
        let (bob, _) = try setup.balancer.login("bob")
        let input = Pipe()
        let client = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat",
            arguments: ["--name", "piper", "--server", "127.0.0.1:\(setup.balancer.port)"],
            logDirectory: setup.cluster.logDirectory, name: "chat-piped", standardInput: input)
        input.fileHandleForWriting.write(Data("one line from cron\n".utf8))
        try input.fileHandleForWriting.close()
        _ = try bob.expectLine("the piped line", where: { $0.hasSuffix("<piper> one line from cron") }, timeout: 10)
        _ = try bob.expectLine("piper's quit") { $0.contains("piper left #lobby (quit)") }
        #expect(client.waitForExit(timeout: 10))
        #expect(client.process.terminationStatus == 0)
    }

    @Test("with stdout not a terminal, chat is a line mode for scripts: stdin in, text lines out")
    func plainMode() throws {
        let setup = try BalancedCluster(nodes: 2)
        let (bob, _) = try setup.balancer.login("bob")
        let input = Pipe()
        let client = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat",
            arguments: ["--name", "bob", "--server", "127.0.0.1:\(setup.balancer.port)"],
            logDirectory: setup.cluster.logDirectory, name: "chat-plain", standardInput: input)
        // bob is taken: the line mode asks for another name on stdin.
        #expect(eventually(timeout: 10) { client.stdout().contains("type another name") })
        input.fileHandleForWriting.write(Data("robot\nbeep from a script\n".utf8))
        _ = try bob.expectLine("the script's message") { $0.hasSuffix("<robot> beep from a script") }
        try bob.send("hello robot")
        #expect(eventually(timeout: 10) { client.stdout().contains("<bob> hello robot") })
        try input.fileHandleForWriting.close()
        #expect(client.waitForExit(timeout: 10))
        #expect(client.process.terminationStatus == 0)
        _ = try bob.expectLine("robot's quit") { $0.contains("robot left #lobby (quit)") }
    }

    @Test("a registered name: the line mode logs in with --password-file, or asks for the password on stdin")
    func registeredNameInLineMode() throws {
        let setup = try BalancedCluster(nodes: 2, nodeArguments: ["--scrypt-cost", "ln=10,r=8,p=1"])
        try setup.balancer.register("quinn", password: "quinn's passphrase")
        let (bob, _) = try setup.balancer.login("bob")
        let logs = setup.cluster.logDirectory

        let passwordFile = logs + "/quinn.password"
        try "quinn's passphrase\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let scripted = Pipe()
        let withFile = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat",
            arguments: [
                "--name", "quinn", "--server", "127.0.0.1:\(setup.balancer.port)", "--password-file", passwordFile,
            ],
            logDirectory: logs, name: "chat-password-file", standardInput: scripted)
        scripted.fileHandleForWriting.write(Data("logged in from a script\n".utf8))
        _ = try bob.expectLine(
            "the script's message", where: { $0.hasSuffix("<quinn> logged in from a script") }, timeout: 10)
        try scripted.fileHandleForWriting.close()
        #expect(withFile.waitForExit(timeout: 10))
        _ = try bob.expectLine("quinn's quit") { $0.contains("quinn left #lobby (quit)") }

        let typed = Pipe()
        let asking = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat",
            arguments: ["--name", "quinn", "--server", "127.0.0.1:\(setup.balancer.port)"],
            logDirectory: logs, name: "chat-password-asked", standardInput: typed)
        #expect(eventually(timeout: 10) { asking.stdout().contains("type the password") })
        typed.fileHandleForWriting.write(Data("quinn's passphrase\nasked and answered\n".utf8))
        _ = try bob.expectLine(
            "the message after the password", where: { $0.hasSuffix("<quinn> asked and answered") }, timeout: 10)
        #expect(!asking.stdout().contains("passphrase"), "the password is not printed")
        try typed.fileHandleForWriting.close()
        #expect(asking.waitForExit(timeout: 10))
    }
}
