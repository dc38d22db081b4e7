import ChatTestSupport
import Foundation
import Testing

@testable import ChatCommandSupport

#if canImport(Glibc)
import Glibc
#endif

/// `--config FILE`: a node configured from one YAML file, with the environment and flags winning over it, SIGHUP
/// applying what can change while running, and `--print-config` writing a file the node reads back.
@Suite("Configuration files", .serialized)
struct ConfigurationFileTests {
    static let settings = [
        ConfigurationFile.Setting(
            key: "rate-limit", environment: "CHAT_RATE_LIMIT", isFlag: false, help: "", defaultValue: "10.0"),
        ConfigurationFile.Setting(
            key: "operators", environment: "CHAT_OPERATORS", isFlag: false, help: "", defaultValue: nil),
        ConfigurationFile.Setting(
            key: "proxy-protocol", environment: "CHAT_PROXY_PROTOCOL", isFlag: true, help: "", defaultValue: nil),
        ConfigurationFile.Setting(
            key: "max-clients", environment: "CHAT_MAX_CLIENTS", isFlag: false, help: "", defaultValue: "10000"),
        ConfigurationFile.Setting(
            key: "redis", environment: "CHAT_REDIS_URL", isFlag: false, help: "", defaultValue: "redis://127.0.0.1:6379"
        ),
    ]

    @Test(
        "values are read as written, lists joined, flags true or false; a key that is no option is an error naming its line"
    )
    func parsing() throws {
        let values = try ConfigurationFile.values(
            yaml: "# a comment\nrate-limit: 2.5\noperators: [alice, bob]\nproxy-protocol: true\n", source: "f",
            settings: Self.settings)
        #expect(
            values.map { "\($0.0)=\($0.1)" } == [
                "CHAT_RATE_LIMIT=2.5", "CHAT_OPERATORS=alice,bob", "CHAT_PROXY_PROTOCOL=1",
            ])
        #expect(try ConfigurationFile.values(yaml: "# nothing\n", source: "f", settings: Self.settings).isEmpty)
        #expect(try ConfigurationFile.values(yaml: "rate-limit:\n", source: "f", settings: Self.settings).isEmpty)
        #expect(throws: ConfigurationFile.Problem.self) {
            try ConfigurationFile.values(yaml: "rate-limit: 1\nrate-limt: 2\n", source: "f", settings: Self.settings)
        }
        do {
            _ = try ConfigurationFile.values(
                yaml: "rate-limit: 1\nrate-limt: 2\n", source: "node.yaml", settings: Self.settings)
        } catch { #expect("\(error)".contains("node.yaml:2: 'rate-limt' is not an option")) }
        #expect(throws: ConfigurationFile.Problem.self) {
            try ConfigurationFile.values(yaml: "proxy-protocol: maybe\n", source: "f", settings: Self.settings)
        }
        #expect(throws: ConfigurationFile.Problem.self) {
            try ConfigurationFile.values(yaml: "rate-limit:\n  nested: 1\n", source: "f", settings: Self.settings)
        }
        #expect(throws: ConfigurationFile.Problem.self) {
            try ConfigurationFile.values(yaml: "[1, 2]\n", source: "f", settings: Self.settings)
        }
        // A number option takes numbers: `10_000` or `1e4` would otherwise fall back to the default unsaid.
        for bad in ["10_000", "1e4", "10k", ".inf"] {
            #expect(throws: ConfigurationFile.Problem.self) {
                try ConfigurationFile.values(yaml: "max-clients: \(bad)\n", source: "f", settings: Self.settings)
            }
        }
        #expect(throws: ConfigurationFile.Problem.self) {
            try ConfigurationFile.values(yaml: "rate-limit: .inf\n", source: "f", settings: Self.settings)
        }
        // A syntax error is told by line and column, never by quoting the line: it may hold a password.
        do {
            _ = try ConfigurationFile.values(
                yaml: "max-clients: 5\nredis: \"redis://chat-node:S3CRET@redis:6379\n", source: "f",
                settings: Self.settings)
            Issue.record("an unterminated quote was accepted")
        } catch {
            #expect("\(error)".contains("line ") && !"\(error)".contains("S3CRET"), "\(error)")
        }
    }

    @Test(
        "a node takes its options from the file, the environment and flags winning; SIGHUP applies the connection limit and says what needs a restart"
    )
    func nodeFromFile() throws {
        let redis = try RedisServer()
        let directory = TestEnvironment.temporaryDirectory("config-file")
        let file = directory + "/node.yaml"
        // history-on-join: the environment's 2 wins; log-level: the flag's info wins; max-clients: the file's.
        try "max-clients: 2\nhistory-on-join: 1\nlog-level: warning\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let node = try NodeProcess(
            id: "n1", redis: redis, logDirectory: directory, extraArguments: ["--config", file],
            environment: ["CHAT_HISTORY_ON_JOIN": "2"])
        #expect(node.process.stderr().contains("listening"), "the flag's log level, not the file's")
        let alice = try node.login("alice")
        for text in ["one", "two", "three"] { try alice.send(text) }
        _ = alice.drain(timeout: 0.5)
        let bob = try node.login("bob")
        let history = bob.drain(timeout: 0.5).filter { $0.contains("<alice>") }
        #expect(history.count == 2, "the environment's history-on-join: \(history)")
        let third = try node.connect("third")
        try third.expect("! server-full")

        try "max-clients: 3\nhistory-on-join: 5\nmax-rooms: 50\nlog-level: warning\noperators: [mallory]\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        node.process.signal(SIGHUP)
        #expect(eventually(timeout: 5) { node.process.stderr().contains("configuration reloaded") })
        let log = node.process.stderr()
        #expect(log.contains("config.applied=max-clients,operators "), "\(log.suffix(600))")
        // An operator name the reload added and nobody registered: said at once, as at start.
        #expect(
            eventually(timeout: 5) {
                node.process.stderr().contains("is not registered")  // (logged by its key, a skeleton: "rnallory")
            })
        #expect(log.contains("config.needs_restart=max-rooms "), "\(log.suffix(600))")
        #expect(log.contains("config.overridden=history-on-join "), "\(log.suffix(600))")
        let carol = try node.login("carol")
        let fourth = try node.connect("fourth")
        try fourth.expect("! server-full")

        // A file the node cannot take changes nothing, and the log says why.
        try "rate-limit: -1\n".write(toFile: file, atomically: true, encoding: .utf8)
        node.process.signal(SIGHUP)
        #expect(eventually(timeout: 5) { node.process.stderr().contains("configuration not reloaded") })
        #expect(node.process.stderr().contains("--rate-limit must be positive"))
        // Nothing of it was taken: the file also dropped max-clients, and the limit is still the reloaded 3.
        let stillFull = try node.connect("fifth")
        try stillFull.expect("! server-full")
        // All or nothing: the same file again is refused again, not taken for unchanged.
        node.process.signal(SIGHUP)
        #expect(
            eventually(timeout: 5) {
                node.process.stderr().components(separatedBy: "configuration not reloaded").count == 3
            })
        try carol.send("still here")
        try alice.expect("<carol> still here")
    }

    @Test(
        "a reload that leaves an operator's name out ends its powers at once on each of its connections and in WHOIS; one that lists it again gives them back without a new login"
    )
    func operatorsReloaded() throws {
        let redis = try RedisServer()
        let directory = TestEnvironment.temporaryDirectory("config-operators")
        let file = directory + "/node.yaml"
        try "operators: [opal]\n".write(toFile: file, atomically: true, encoding: .utf8)
        let node = try NodeProcess(
            id: "n1", redis: redis, logDirectory: directory,
            extraArguments: ["--config", file, "--irc-port", "0", "--scrypt-cost", "ln=10,r=8,p=1"])
        let password = "operator password 1"
        let registering = try node.login("opal")
        try registering.send("/register \(password)")
        try registering.expect("opal is registered")
        try registering.send("/quit")
        _ = registering.waitForClose()
        // opal on two devices: text mode, and an IRC client with the password.
        let opal = try node.connect("opal")
        try opal.expect("what is your name")
        try opal.send("opal")
        try opal.expect("! password-required")
        try opal.send(password)
        try opal.expect("you are one of this server's operators")
        let ircOpal = try TestSocket(port: try #require(node.ircPort), name: "irc-opal")
        try ircOpal.send("PASS :\(password)")
        try ircOpal.send("NICK opal")
        try ircOpal.send("USER opal 0 * :Opal")
        try ircOpal.expect(" 381 opal ")
        try ircOpal.expect("MODE opal +o")
        let dave = try node.ircLogin("dave")
        try dave.send("WHOIS opal")
        try dave.expect(" 313 dave opal ")

        // Taken off the list: both connections are told and refused from then on; WHOIS no longer says so.
        try "operators: []\n".write(toFile: file, atomically: true, encoding: .utf8)
        node.process.signal(SIGHUP)
        try opal.expect("* you are no longer one of this server's operators")
        try ircOpal.expect("You are no longer an IRC operator")
        try ircOpal.expect("MODE opal -o")
        try opal.send("/announce still in charge")
        try opal.expect("! not-server-operator")
        try ircOpal.send("WALLOPS :still in charge")
        try ircOpal.expect(" 481 opal ")
        try dave.send("WHOIS opal")
        var whois: [String] = []
        while whois.last?.contains(" 318 dave opal ") != true {
            whois.append(try #require(dave.readLine(), "WHOIS ends with 318: \(whois)"))
        }
        #expect(!whois.contains { $0.contains(" 313 ") }, "\(whois)")

        // Listed again: the same logins operate, told as at a welcome. A guest holding a name the same reload
        // lists operates nothing (it never gave a password).
        let sam = try node.login("sam")
        try "operators: [opal, sam]\n".write(toFile: file, atomically: true, encoding: .utf8)
        node.process.signal(SIGHUP)
        try opal.expect("you are one of this server's operators")
        try ircOpal.expect(" 381 opal ")
        try ircOpal.expect("MODE opal +o")
        try opal.send("/announce back in charge")
        try dave.expect("back in charge")
        try dave.send("WHOIS opal")
        try dave.expect(" 313 dave opal ")
        try sam.send("/announce me too")
        try sam.expect("! not-server-operator")
        #expect(!sam.drain(timeout: 0.3).contains { $0.contains("one of this server's operators") })
        #expect(node.process.stderr().contains("server operator no longer"))
    }

    @Test("an environment variable that is not a number or a flag's value stops the start, naming it, as a file's does")
    func environmentChecked() throws {
        // An unknown option after it: without the check, the start would stop there instead, not naming the variable.
        for (program, variable, value) in [
            ("chat-node", "CHAT_MAX_CLIENTS", "5k"), ("chat-node", "CHAT_RATE_LIMIT", "ten"),
            ("chat-node", "CHAT_PROXY_PROTOCOL", "on"), ("chat-balancer", "BALANCER_NO_PLAIN", "on"),
            ("chat-balancer", "BALANCER_DRAIN_SECONDS", "10s"), ("chat-node", "CHAT_IRC_PORT", "irc"),
            // What Kubernetes' service links set for a Service named `chat` (the manifests turn them off).
            ("chat-node", "CHAT_PORT", "tcp://10.0.0.7:7000"), ("chat-balancer", "BALANCER_TLS_PORT", "7443/tcp"),
        ] {
            let binary = TestEnvironment.binDirectory + "/" + program
            let refused = try TestEnvironment.run(binary, ["--no-such-option"], environment: [variable: value])
            #expect(
                refused.status != 0 && refused.output.contains("\(variable) is ")
                    && refused.output.contains("got '\(value)'"),
                "\(program) \(variable)=\(value): \(refused.output.prefix(300))")
        }
        // Values that are what they should be, and a bad one whose option a flag gives (the flag wins, the variable
        // is not read), pass on to the parsing, which refuses the unknown option (the balancer, first, that it
        // was told of no nodes).
        for (program, environment, arguments) in [
            (
                "chat-node",
                [
                    "CHAT_MAX_CLIENTS": "5000", "CHAT_RATE_LIMIT": "12.5", "CHAT_PROXY_PROTOCOL": "yes",
                    "CHAT_IRC_PORT": "0",
                ],
                []
            ),
            (
                "chat-node", ["CHAT_MAX_CLIENTS": "5k", "CHAT_PROXY_PROTOCOL": "on"],
                ["--max-clients", "5", "--proxy-protocol"]
            ),
            (
                "chat-balancer",
                ["BALANCER_NO_PLAIN": "no", "BALANCER_SEND_PROXY": "0", "BALANCER_DRAIN_SECONDS": "3"], []
            ),
        ] {
            let binary = TestEnvironment.binDirectory + "/" + program
            let fine = try TestEnvironment.run(binary, arguments + ["--no-such-option"], environment: environment)
            #expect(
                fine.status != 0 && fine.output.contains("Error: ") && !fine.output.contains("got '"),
                "\(program) \(environment): \(fine.output.prefix(300))")
        }
    }

    @Test("--print-config writes every option commented at its default; uncommented, each server reads it back")
    func printedConfiguration() throws {
        let directory = TestEnvironment.temporaryDirectory("print-config")
        for (program, expected) in [("chat-node", "#rate-limit: 10.0"), ("chat-balancer", "#drain-seconds: 10")] {
            let binary = TestEnvironment.binDirectory + "/" + program
            let printed = try TestEnvironment.run(binary, ["--print-config"])
            #expect(printed.status == 0 && printed.output.contains(expected), "\(printed.output.prefix(400))")
            #expect(!printed.output.contains("#config:") && !printed.output.contains("#print-config"))
            // Every option with a default, uncommented: all of them are keys the server takes.
            let uncommented = printed.output.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("#") && line.dropFirst().first?.isLetter == true && line.contains(": ")
                    ? String(line.dropFirst()) : String(line)
            }.joined(separator: "\n")
            let file = directory + "/\(program).yaml"
            try uncommented.write(toFile: file, atomically: true, encoding: .utf8)
            let readBack = try TestEnvironment.run(binary, ["--config", file, "--print-config"])
            #expect(readBack.status == 0, "\(program): \(readBack.output.prefix(400))")
            try (uncommented + "\nno-such-option: 1\n").write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try TestEnvironment.run(binary, ["--config", file, "--print-config"])
            #expect(refused.status != 0 && refused.output.contains("'no-such-option' is not an option"))
        }
    }
}
