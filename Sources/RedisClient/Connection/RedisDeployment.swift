import Endpoints
import Logging
import NIOCore

/// Where the chat's Redis is: one server (`redis://`, `rediss://`); a Redis Cluster reached through any of its
/// members (`redis-cluster://[user:password@]host1:port1,host2:port2`, `rediss-cluster://` with TLS), whose slot
/// map tells the rest; or one primary that Sentinel fails over
/// (`redis-sentinel://[user:password@]host1:port1,host2:port2/service`, `rediss-sentinel://`), which the sentinels
/// name.
public enum RedisDeployment: Sendable, Equatable, CustomStringConvertible {
    case single(RedisAddress)
    /// `template`: the credentials and TLS settings every member is reached with (the first seed's address).
    case cluster(seeds: [HostPort], template: RedisAddress)
    case sentinel(RedisSentinel)

    public init(url: String, caFile: String? = nil) throws(RedisError) {
        for (scheme, plain) in [("redis-sentinel://", "redis://"), ("rediss-sentinel://", "rediss://")]
        where url.hasPrefix(scheme) {
            let shown = RedisAddress.redacted(url)
            let rest = url.dropFirst(scheme.count)
            let at = rest.lastIndex(of: "@")
            let credentials = at.map { rest[...$0] } ?? ""
            let afterCredentials = at.map { rest[rest.index(after: $0)...] } ?? rest
            guard let slash = afterCredentials.firstIndex(of: "/") else {
                throw RedisError(
                    .protocolViolation, "'\(shown)' names no service: end it with /<name the sentinels monitor>")
            }
            let service = afterCredentials[afterCredentials.index(after: slash)...]
            guard !service.isEmpty, !service.contains("/"),
                service.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
            else {
                throw RedisError(
                    .protocolViolation, "the service in '\(shown)' must be one name (letters, digits, '-', '_', '.')")
            }
            let hosts = afterCredentials[..<slash].split(separator: ",", omittingEmptySubsequences: false)
            guard !hosts.isEmpty, !hosts.contains(where: \.isEmpty) else {
                throw RedisError(.protocolViolation, "'\(shown)' names no sentinels: list host:port,host:port")
            }
            var sentinels: [HostPort] = []
            for host in hosts {
                // A sentinel's port is 26379 unless given.
                let sentinel = try RedisAddress(
                    url: plain + host.description + (host.contains(":") && !host.hasSuffix("]") ? "" : ":26379"),
                    caFile: caFile)
                sentinels.append(HostPort(host: sentinel.host, port: sentinel.port))
            }
            let template = try RedisAddress(url: plain + credentials + sentinels[0].description, caFile: caFile)
            self = .sentinel(RedisSentinel(sentinels: sentinels, service: String(service), template: template))
            return
        }
        for (scheme, plain) in [("redis-cluster://", "redis://"), ("rediss-cluster://", "rediss://")]
        where url.hasPrefix(scheme) {
            let rest = url.dropFirst(scheme.count)
            let at = rest.lastIndex(of: "@")
            let credentials = at.map { rest[...$0] } ?? ""
            var members = at.map { rest[rest.index(after: $0)...] } ?? rest
            if let slash = members.firstIndex(of: "/") {
                // A cluster has database 0 only (SELECT is refused).
                guard members[members.index(after: slash)...].allSatisfy({ $0 == "0" }) else {
                    throw RedisError(
                        .protocolViolation, "a Redis Cluster has database 0 only (got '\(RedisAddress.redacted(url))')")
                }
                members = members[..<slash]
            }
            let hosts = members.split(separator: ",", omittingEmptySubsequences: false)
            guard !members.isEmpty, !hosts.contains(where: \.isEmpty) else {
                throw RedisError(
                    .protocolViolation, "'\(RedisAddress.redacted(url))' names no members: list host:port,host:port")
            }
            var seeds: [HostPort] = []
            for host in hosts {
                let member = try RedisAddress(url: plain + credentials + host, caFile: caFile)
                seeds.append(HostPort(host: member.host, port: member.port))
            }
            self = .cluster(
                seeds: seeds, template: try RedisAddress(url: plain + credentials + hosts[0], caFile: caFile))
            return
        }
        guard url.hasPrefix("redis://") || url.hasPrefix("rediss://") else {
            throw RedisError(
                .protocolViolation,
                "a Redis URL starts with redis://, rediss://, redis-cluster://, rediss-cluster://, redis-sentinel:// or rediss-sentinel:// (got '\(RedisAddress.redacted(url))')"
            )
        }
        self = .single(try RedisAddress(url: url, caFile: caFile))
    }

    /// The address whose credentials and TLS settings every connection uses.
    public var template: RedisAddress {
        switch self {
        case .single(let address): address
        case .cluster(_, let template): template
        case .sentinel(let sentinel): sentinel.template
        }
    }

    /// Never shows the password (it goes to logs).
    public var description: String {
        switch self {
        case .single(let address): address.description
        case .cluster(let seeds, let template):
            "\(template.tls ? "rediss" : "redis")-cluster://\(template.username.map { "\($0)@" } ?? "")"
                + seeds.map(\.description).joined(separator: ",")
        case .sentinel(let sentinel): sentinel.description
        }
    }

    /// The command connection and the pub/sub side, on the loops given. Nothing is started.
    public func makeClients(
        commandLoop: any EventLoop, subscriberLoop: any EventLoop, scripts: [RedisScript], commandTimeout: TimeAmount,
        logger: Logger, onConnected: @escaping @Sendable (_ reconnected: Bool) -> Void = { _ in },
        onFlush: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> (commands: any RedisConnection, subscriber: any RedisPubSub) {
        switch self {
        case .single(let address):
            let commands = RedisClient(
                address: address, eventLoop: commandLoop, scripts: scripts, commandTimeout: commandTimeout,
                logger: logger, onConnected: onConnected, onFlush: onFlush)
            let subscriber = RedisSubscriber(
                address: address, eventLoop: subscriberLoop, pingTimeout: commandTimeout, logger: logger, sharded: true)
            return (commands, subscriber)
        case .cluster(let seeds, let template):
            let cluster = RedisClusterClient(
                seeds: seeds, template: template, eventLoop: commandLoop, scripts: scripts,
                commandTimeout: commandTimeout, logger: logger, onConnected: onConnected, onFlush: onFlush)
            let subscriber = RedisShardedSubscriber(
                cluster: cluster, template: template, eventLoop: subscriberLoop, pingTimeout: commandTimeout,
                logger: logger)
            return (cluster, subscriber)
        case .sentinel(let sentinel):
            let commands = RedisClient(
                address: sentinel.template, eventLoop: commandLoop, scripts: scripts, commandTimeout: commandTimeout,
                logger: logger, onConnected: onConnected, onFlush: onFlush, sentinel: sentinel)
            let subscriber = RedisSubscriber(
                address: sentinel.template, eventLoop: subscriberLoop, pingTimeout: commandTimeout, logger: logger,
                sharded: true, sentinel: sentinel)
            return (commands, subscriber)
        }
    }

    /// A command connection alone (the balancer's discovery and status reads; a node's acknowledged messages).
    public func makeConnection(
        eventLoop: any EventLoop, commandTimeout: TimeAmount = .seconds(3), logger: Logger, scripts: [RedisScript] = []
    )
        -> any RedisConnection
    {
        switch self {
        case .single(let address):
            RedisClient(
                address: address, eventLoop: eventLoop, scripts: scripts, commandTimeout: commandTimeout, logger: logger
            )
        case .cluster(let seeds, let template):
            RedisClusterClient(
                seeds: seeds, template: template, eventLoop: eventLoop, scripts: scripts,
                commandTimeout: commandTimeout,
                logger: logger)
        case .sentinel(let sentinel):
            RedisClient(
                address: sentinel.template, eventLoop: eventLoop, scripts: scripts, commandTimeout: commandTimeout,
                logger: logger, sentinel: sentinel)
        }
    }
}
