import ChatTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// TLS at the balancer, with a CA and certificates made in the test: the terminal client and a raw TLS socket
/// (openssl s_client) chat through the TLS port, a client that does not trust the CA is refused with a clear error,
/// and a new certificate is picked up on SIGHUP by new connections while open ones stay.
@Suite("TLS at the balancer", .serialized)
struct TLSTests {
    static func tlsArguments(_ certificates: TestCertificates) -> [String] {
        [
            "--tls-port", "0", "--https-port", "0", "--tls-cert", certificates.chainFile, "--tls-key",
            certificates.keyFile,
        ]
    }

    /// A raw TLS client: openssl s_client verifying the server against `caFile`, its stdin a pipe.
    final class RawTLSClient {
        let process: TestProcess
        let input = Pipe()

        init(port: Int, caFile: String, logDirectory: String, name: String) throws {
            process = try TestProcess(
                executable: TestEnvironment.findExecutable("openssl") ?? "/usr/bin/openssl",
                arguments: [
                    "s_client", "-quiet", "-connect", "127.0.0.1:\(port)", "-CAfile", caFile, "-verify_return_error",
                    "-verify_ip", "127.0.0.1",
                ],
                logDirectory: logDirectory, name: name, standardInput: input)
        }

        func send(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

        /// Killed outright: started from the test runner, s_client does not stop on SIGTERM, and each one cost the
        /// teardown the 5 s `TestProcess.stop` waits before its SIGKILL.
        deinit {
            process.signal(SIGKILL)
            process.waitForExit(timeout: 5)
        }

        func expect(_ fragment: String, timeout: Double = 10) throws {
            guard eventually(timeout: timeout, { self.process.stdout().contains(fragment) }) else {
                throw HarnessError(
                    "s_client never saw '\(fragment)': \(process.stdout().suffix(800)) \(process.stderr().suffix(800))")
            }
        }
    }

    @Test(
        "the terminal client and a raw TLS socket chat through the TLS port; an untrusted certificate is a clear error")
    func chatOverTLS() throws {
        let directory = TestEnvironment.temporaryDirectory("tls")
        let certificates = try TestCertificates(directory: directory)
        // A short handshake timeout, so the stalled handshake below is closed in 2 s rather than the default 10.
        let setup = try BalancedCluster(
            nodes: 2, balancerArguments: Self.tlsArguments(certificates) + ["--tls-handshake-seconds", "2"])
        let tlsPort = try #require(setup.balancer.tlsPort)
        let logs = setup.cluster.logDirectory

        let alice = try RawTLSClient(
            port: tlsPort, caFile: certificates.caFile, logDirectory: logs, name: "s_client-alice")
        try alice.expect("what is your name")
        alice.send("alice")
        try alice.expect("welcome alice")

        let input = Pipe()
        let bob = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat",
            arguments: [
                "--name", "bob", "--server", "127.0.0.1:\(tlsPort)", "--tls", "--ca-file", certificates.caFile,
            ],
            logDirectory: logs, name: "chat-tls", standardInput: input)
        try alice.expect("bob joined #lobby")
        input.fileHandleForWriting.write(Data("hello over tls\n".utf8))
        try alice.expect("<bob> hello over tls")
        alice.send("hi bob, encrypted both ways")
        #expect(eventually(timeout: 10) { bob.stdout().contains("<alice> hi bob, encrypted both ways") })

        // Without the CA the client refuses the server, says why, and exits: no retry, no plain text.
        let untrusting = try TestProcess(
            executable: TestEnvironment.binDirectory + "/chat",
            arguments: ["--name", "mallory", "--server", "127.0.0.1:\(tlsPort)", "--tls"],
            logDirectory: logs, name: "chat-untrusting", standardInput: Pipe())
        #expect(untrusting.waitForExit(timeout: 10))
        #expect(untrusting.process.terminationStatus == 1)
        #expect(untrusting.stdout().contains("not trusted"), "\(untrusting.stdout())")
        // Plain text on the TLS port is not chat: refused at once...
        let plain = try TestSocket(port: tlsPort, name: "plain on tls")
        try plain.send("eve wants in")
        #expect(plain.waitForClose(timeout: 5))
        #expect(!plain.received.contains { $0.contains("welcome") || $0.contains("what is your name") })
        // ...and a connection that never finishes its handshake is closed after the handshake timeout (`--tls-handshake-seconds`, 2 s here).
        let stalled = try TestSocket(port: tlsPort, name: "stalled handshake")
        try stalled.sendRaw([0x16, 0x03])
        #expect(stalled.waitForClose(timeout: 10))

        try input.fileHandleForWriting.close()
        #expect(bob.waitForExit(timeout: 10))
    }

    @Test("SIGHUP with a new certificate: the next connection gets it, the open ones stay up")
    func reloadOnHangup() throws {
        let directory = TestEnvironment.temporaryDirectory("tls-reload")
        let first = try TestCertificates(directory: directory, name: "first")
        let second = try TestCertificates(directory: directory, name: "second")
        // The balancer reads the files named on its command line; the reload rereads the same paths.
        let chain = directory + "/live-chain.pem"
        let key = directory + "/live.key"
        try FileManager.default.copyItem(atPath: first.chainFile, toPath: chain)
        try FileManager.default.copyItem(atPath: first.keyFile, toPath: key)
        let setup = try BalancedCluster(
            nodes: 1, balancerArguments: ["--tls-port", "0", "--tls-cert", chain, "--tls-key", key])
        let tlsPort = try #require(setup.balancer.tlsPort)
        let logs = setup.cluster.logDirectory

        let before = try RawTLSClient(port: tlsPort, caFile: first.caFile, logDirectory: logs, name: "s_client-before")
        before.send("early")
        try before.expect("welcome early")

        for (from, to) in [(second.chainFile, chain), (second.keyFile, key)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        setup.balancer.process.signal(SIGHUP)
        #expect(eventually(timeout: 5) { setup.balancer.process.stderr().contains("TLS certificate reloaded") })

        let after = try RawTLSClient(port: tlsPort, caFile: second.caFile, logDirectory: logs, name: "s_client-after")
        after.send("late")
        try after.expect("welcome late")
        after.send("after the reload")
        try before.expect("<late> after the reload")
        // The old certificate is gone for new connections: a client trusting only the first CA is refused.
        let stale = try RawTLSClient(port: tlsPort, caFile: first.caFile, logDirectory: logs, name: "s_client-stale")
        #expect(stale.process.waitForExit(timeout: 10))
        #expect(stale.process.process.terminationStatus != 0)
        #expect(stale.process.stderr().contains("verify"), "\(stale.process.stderr().suffix(500))")

        // A broken certificate file is refused by the reload; the balancer keeps serving the one it has.
        try "not a certificate".write(toFile: chain, atomically: true, encoding: .utf8)
        setup.balancer.process.signal(SIGHUP)
        #expect(eventually(timeout: 5) { setup.balancer.process.stderr().contains("TLS certificate not reloaded") })
        let still = try RawTLSClient(port: tlsPort, caFile: second.caFile, logDirectory: logs, name: "s_client-still")
        still.send("still")
        try still.expect("welcome still")
    }

    @Test("the web page over https and wss in headless Chromium, trusting only the test server's key")
    func webPageOverHTTPS() throws {
        let directory = TestEnvironment.temporaryDirectory("tls-web")
        let certificates = try TestCertificates(directory: directory)
        let setup = try BalancedCluster(nodes: 2, balancerArguments: Self.tlsArguments(certificates))
        let httpsPort = try #require(setup.balancer.httpsPort)
        let browser = try WebDriver(
            logDirectory: setup.cluster.logDirectory,
            extraArguments: ["--ignore-certificate-errors-spki-list=\(try certificates.serverKeyPin())"])
        try browser.open("https://localhost:\(httpsPort)/")
        try browser.type("alice", into: "#name")
        try browser.click("#login button[type=submit]")
        try browser.waitForText("#status") { $0.contains("alice on node") }
        #expect(try browser.execute("return location.protocol") as? String == "https:")
        let (carol, _) = try setup.balancer.login("carol")
        try browser.type("hello over wss", into: "#input")
        try browser.click("#compose button[type=submit]")
        try carol.expectLine("the page's message over wss") { $0.hasSuffix("<alice> hello over wss") }
    }

    @Test("a node serves TLS itself, without the balancer: a TLS client chats with a plain one")
    func nodeServesTLS() throws {
        let directory = TestEnvironment.temporaryDirectory("tls-node")
        let certificates = try TestCertificates(directory: directory)
        let cluster = try TestCluster(
            nodes: 1,
            nodeArguments: ["--tls-port", "0", "--tls-cert", certificates.chainFile, "--tls-key", certificates.keyFile])
        let tlsPort = try #require(cluster[0].tlsPort)
        let secure = try RawTLSClient(
            port: tlsPort, caFile: certificates.caFile, logDirectory: cluster.logDirectory, name: "s_client-node")
        secure.send("tess")
        try secure.expect("welcome tess")
        let plain = try cluster[0].login("pat")
        try secure.expect("pat joined #lobby")
        try plain.send("hello tess")
        try secure.expect("<pat> hello tess")
        secure.send("hello pat")
        try plain.expect("<tess> hello pat")
    }
}
