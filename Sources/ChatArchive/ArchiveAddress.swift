import NIOSSL
import PostgresNIO

/// Where the archive is, as `--archive` takes it: `postgres://user[:password]@host[:port]/database[?sslmode=...]`
/// (libpq's URL form; `postgresql://` too). `sslmode` means what it means to libpq: `disable`; `prefer` (the
/// default: TLS when the server offers it, its certificate not checked) and `require` (TLS, not checked), which
/// keep the traffic from being read but not from a server posing as PostgreSQL; `verify-ca` (the certificate
/// must chain to `sslrootcert`, a PEM file, or else to the system's CAs) and `verify-full` (that, and the host
/// name must be the certificate's). A host starting with `/` (percent-encoded: `%2Frun%2Fpostgresql`) is a Unix
/// socket's directory.
public struct ArchiveAddress: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    /// The CA certificates (PEM) a `verify-ca` or `verify-full` server's certificate must chain to.
    public var rootCertificates: String?

    public init?(_ url: String) {
        var rest = Substring(url)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            return nil
        }
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let at = rest.lastIndex(of: "@") else { return nil }
        let credentials = rest[..<at]
        rest = rest[rest.index(after: at)...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let location = rest[..<slash]
        guard let database = Self.decoded(rest[rest.index(after: slash)...]), !database.isEmpty else { return nil }
        if let colon = credentials.firstIndex(of: ":") {
            guard let user = Self.decoded(credentials[..<colon]),
                let password = Self.decoded(credentials[credentials.index(after: colon)...])
            else { return nil }
            self.user = user
            self.password = password
        } else {
            guard let user = Self.decoded(credentials) else { return nil }
            self.user = user
            self.password = nil
        }
        guard !user.isEmpty else { return nil }
        // host, host:port, [v6]:port
        var host = location
        var port = 5432
        if location.hasPrefix("["), let close = location.firstIndex(of: "]") {
            host = location[location.index(after: location.startIndex)..<close]
            let after = location[location.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()) else { return nil }
                port = parsed
            }
        } else if let colon = location.lastIndex(of: ":") {
            host = location[..<colon]
            guard let parsed = Int(location[location.index(after: colon)...]) else { return nil }
            port = parsed
        }
        guard let decodedHost = Self.decoded(host), !decodedHost.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = decodedHost
        self.port = port
        self.database = database
        self.tls = .prefer
        self.rootCertificates = nil
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            switch parts[0] {
            case "sslmode":
                guard let mode = TLSMode(rawValue: String(parts[1])) else { return nil }
                self.tls = mode
            case "sslrootcert":
                guard let path = Self.decoded(parts[1]), !path.isEmpty else { return nil }
                self.rootCertificates = path
            default:
                return nil
            }
        }
    }

    /// The address without its password, for logs.
    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
            + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)")
    }

    var clientConfiguration: PostgresClient.Configuration {
        if host.hasPrefix("/") {
            return PostgresClient.Configuration(
                unixSocketPath: "\(host)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        var client = TLSConfiguration.makeClientConfiguration()
        switch self.tls {
        case .disable, .prefer, .require: client.certificateVerification = .none
        case .verifyCA: client.certificateVerification = .noHostnameVerification
        case .verifyFull: client.certificateVerification = .fullVerification
        }
        if let rootCertificates { client.trustRoots = .file(rootCertificates) }
        let tls: PostgresClient.Configuration.TLS
        switch self.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(client)
        case .require, .verifyCA, .verifyFull: tls = .require(client)
        }
        return PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// Percent-decoding; nil for a malformed escape or bytes that are not UTF-8.
    static func decoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
