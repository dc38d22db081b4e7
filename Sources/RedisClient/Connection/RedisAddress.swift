import Endpoints
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Where Redis is, and as whom: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. With a user,
/// the connection authenticates as that ACL user (`AUTH user password`, Redis 6 and later); with only a password,
/// as the default user. Percent-escapes in the user and password are decoded, so a password may hold `@` or `:`.
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// `rediss://`: TLS to Redis, verifying its certificate (and its host name, or the address connected to)
    /// against the system's trusted certificates, or `caFile`'s.
    public var tls: Bool
    public var caFile: String?

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, tls: Bool = false, caFile: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.caFile = caFile
    }

    /// The TLS context for `rediss://`; nil for plain TCP. Throws when the CA file cannot be read.
    public func tlsContext() throws -> NIOSSLContext? {
        guard tls else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) } catch {
                throw RedisError(.protocolViolation, "cannot read the Redis CA certificates in \(caFile): \(error)")
            }
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// The name to verify the certificate against and send as SNI: a host name, never an address (an address is
    /// checked against the certificate's IP entries instead).
    var tlsServerName: String? { (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil }

    /// The AUTH command for these credentials, if there are any.
    public var authentication: [String]? {
        guard let password else { return nil }
        return username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
    }

    public init(url: String, caFile: String? = nil) throws(RedisError) {
        let tls = url.hasPrefix("rediss://")
        guard url.hasPrefix("redis://") || tls else {
            throw RedisError(
                .protocolViolation, "a Redis URL starts with redis:// or rediss:// (got '\(Self.redacted(url))')")
        }
        // What errors show: never the password, which may be in a URL that is wrong elsewhere.
        let shown = Self.redacted(url)
        let full = Substring(url.dropFirst(tls ? "rediss://".count : "redis://".count))
        var rest = full
        var username: String? = nil
        var password: String? = nil
        if let at = full.lastIndex(of: "@") {
            let credentials = full[..<at]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : (String(user).removingPercentEncoding ?? String(user))
                let secret = credentials[credentials.index(after: colon)...]
                password = String(secret).removingPercentEncoding ?? String(secret)
            } else {
                password = String(credentials).removingPercentEncoding ?? String(credentials)
            }
            rest = full[full.index(after: at)...]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw RedisError(.protocolViolation, "the database in '\(shown)' must be a number")
                }
                database = number
            }
            rest = rest[..<slash]
        }
        // Unlike a HOST:PORT, a URL may leave the port out: then all of it is the host.
        var endpoint = HostPort(host: String(rest), port: 6379)
        if rest.contains(":") {
            guard let parsed = HostPort(parsing: rest), parsed.port != 0 else {
                // HostPort also refuses an empty host: say which half is wrong.
                let hostless = rest.hasPrefix(":") || rest.hasPrefix("[]")
                throw RedisError(
                    .protocolViolation,
                    hostless ? "'\(shown)' names no host" : "the port in '\(shown)' must be 1 to 65535")
            }
            endpoint = parsed
        }
        guard !endpoint.host.isEmpty else { throw RedisError(.protocolViolation, "'\(shown)' names no host") }
        self.init(
            host: endpoint.host, port: endpoint.port, username: username, password: password, database: database,
            tls: tls, caFile: caFile)
    }

    /// The URL with its password (if any) replaced by `***`, for error messages and logs.
    /// Whatever stands before the last `@` may hold a password, however mistyped the rest is: only a user name
    /// after a well-formed scheme is kept.
    static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        if let scheme = url.range(of: "://"), scheme.upperBound <= at {
            let credentials = url[scheme.upperBound..<at]
            guard let colon = credentials.firstIndex(of: ":") else {
                return String(url[..<scheme.upperBound]) + "***" + url[at...]
            }
            return String(url[..<colon]) + ":***" + url[at...]
        }
        return "***" + url[at...]
    }

    /// Never shows the password (it goes to logs).
    public var description: String {
        "\(tls ? "rediss" : "redis")://\(username.map { "\($0)@" } ?? "")\(host):\(port)/\(database)"
    }
}

/// Capped exponential backoff with jitter, so a fleet of nodes does not reconnect in lockstep after Redis returns.
struct Backoff: Sendable {
    var initialMillis: Int64 = 50
    var maximumMillis: Int64 = 1000
    private(set) var attempt = 0

    mutating func next() -> Int64 {
        let base = min(maximumMillis, initialMillis << min(attempt, 16))
        attempt += 1
        return Int64.random(in: (base * 3 / 4)...max(base * 3 / 4, base))
    }

    mutating func reset() { attempt = 0 }
}

extension RedisAddress {
    /// A TCP connection to this address (TLS first when `tls` is given, verified for the host name), whose pipeline
    /// decodes RESP and then hands values to `handler`: what every Redis connection of the chat opens with.
    func connect(
        on eventLoop: any EventLoop, tls: NIOSSLContext?, connectTimeout: TimeAmount = .seconds(2),
        handler: @escaping @Sendable () -> any ChannelHandler
    ) -> EventLoopFuture<any Channel> {
        let serverName = tlsServerName
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(RESPDecoder()), handler()])
                }
            }
            .connect(host: host, port: port)
    }
}
