import Foundation

/// A certificate authority and a server certificate signed by it, made with the openssl command for one test:
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
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(name)-ca.key \
              -out \(name)-ca.pem -days 1 -subj '/CN=\(name) chat test CA' 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(name)-server.key \
              -out \(name)-server.csr -subj '/CN=localhost' 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > \(name)-ext.cnf
            openssl x509 -req -in \(name)-server.csr -CA \(name)-ca.pem -CAkey \(name)-ca.key -CAcreateserial \
              -out \(name)-server.pem -days 1 -extfile \(name)-ext.cnf 2>/dev/null
            cat \(name)-server.pem \(name)-ca.pem > \(name)-chain.pem
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("openssl could not make test certificates") }
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
        try process.run()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
