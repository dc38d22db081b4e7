import Foundation

/// A certificate authority and a server certificate signed by it, made for one test by scripts/dev-cert.sh (openssl):
/// for `localhost` and 127.0.0.1, EC P-256, valid for a day.
public struct TestCertificates: Sendable {
    public let directory: String
    /// The CA's certificate: what a client trusts (`chat --ca-file`, `openssl s_client -CAfile`).
    public let caFile: String
    /// The server's certificate followed by the CA's: the full chain a server presents.
    public let chainFile: String
    public let keyFile: String

    /// `name` tells apart several sets made in one directory (a second CA, to test a reload).
    public init(directory: String, name: String = "test") throws {
        self.directory = directory
        let prefix = directory + "/" + name
        caFile = prefix + "-ca.pem"
        chainFile = prefix + "-chain.pem"
        keyFile = prefix + "-server.key"
        // The same script scripts/cluster.sh uses, so the tests check it too.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.packageDirectory + "/scripts/dev-cert.sh")
        process.arguments = [directory, name, "1"]
        try TestEnvironment.startingProcess()
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("scripts/dev-cert.sh could not make certificates")
        }
    }

    /// The base64 SHA-256 of the server key's SubjectPublicKeyInfo: what Chromium's
    /// `--ignore-certificate-errors-spki-list` pins, so a headless browser trusts this server and nothing else.
    public func serverKeyPin() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c",
            "openssl pkey -in '\(keyFile)' -pubout -outform der | openssl dgst -sha256 -binary | base64",
        ]
        let output = Pipe()
        process.standardOutput = output
        try TestEnvironment.startingProcess()
        try process.run()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
