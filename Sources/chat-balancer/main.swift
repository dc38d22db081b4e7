import ArgumentParser
import ChatBalancer
import ChatCommandSupport
import ChatCore
import Foundation
import Logging
import NIOCore
import Prometheus
import RedisClient
import ServiceLifecycle

/// `chat-balancer`: the front TCP balancer. Clients connect here; each is spliced to a chat node chosen
/// round-robin among the healthy ones.
@main
struct ChatBalancerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-balancer",
        abstract: "Round-robins chat (and HTTP) clients over the healthy chat nodes.",
        discussion: "Nodes come from --nodes (a fixed list) or from Redis (--redis), where every node announces itself."
    )

    @Option(help: "Address to listen on. [BALANCER_HOST]")
    var host = env("BALANCER_HOST") ?? "0.0.0.0"

    @Option(help: "Chat port for clients. [BALANCER_PORT]")
    var port = env("BALANCER_PORT").flatMap(Int.init) ?? 7000

    @Option(name: .customLong("http-port"), help: "HTTP port, proxied to the nodes' HTTP ports. [BALANCER_HTTP_PORT]")
    var httpPort = env("BALANCER_HTTP_PORT").flatMap(Int.init) ?? 8080

    @Option(
        name: .customLong("tls-port"), help: "Chat port over TLS (needs --tls-cert and --tls-key). [BALANCER_TLS_PORT]")
    var tlsPortOption: Int?

    @Option(
        name: .customLong("https-port"),
        help: "HTTPS (and WSS) port, proxied to the nodes' HTTP ports. [BALANCER_HTTPS_PORT]")
    var httpsPortOption: Int?

    @Option(name: .customLong("irc-port"), help: "IRC port (6667), to the nodes' IRC ports. [BALANCER_IRC_PORT]")
    var ircPortOption: Int?
    var ircPort: Int? { ircPortOption ?? env("BALANCER_IRC_PORT").flatMap(Int.init) }

    @Option(
        name: .customLong("irc-tls-port"),
        help: "IRC over TLS (6697; needs --tls-cert and --tls-key). [BALANCER_IRC_TLS_PORT]")
    var ircTLSPortOption: Int?
    var ircTLSPort: Int? { ircTLSPortOption ?? env("BALANCER_IRC_TLS_PORT").flatMap(Int.init) }

    @Option(
        name: .customLong("tls-cert"),
        help: "PEM file with the certificate chain, server first; reread on SIGHUP. [BALANCER_TLS_CERT]")
    var tlsCertOption: String?

    @Option(
        name: .customLong("tls-key"),
        help: "PEM file with the certificate's private key; reread on SIGHUP. [BALANCER_TLS_KEY]")
    var tlsKeyOption: String?

    // Optional options take their environment variable when the flag is absent (a default would make them
    // non-optional).
    var tlsPort: Int? { tlsPortOption ?? env("BALANCER_TLS_PORT").flatMap(Int.init) }
    var httpsPort: Int? { httpsPortOption ?? env("BALANCER_HTTPS_PORT").flatMap(Int.init) }
    var tlsCert: String? { tlsCertOption ?? env("BALANCER_TLS_CERT") }
    var tlsKey: String? { tlsKeyOption ?? env("BALANCER_TLS_KEY") }

    @Flag(
        name: .customLong("no-plain"),
        help: "Serve only the TLS ports: no plain chat or HTTP port. [BALANCER_NO_PLAIN=1]")
    var noPlain = CommandSupport.flag("BALANCER_NO_PLAIN") ?? false

    @Option(
        name: .customLong("admin-port"),
        help: "Port for the status page (/), GET /status, /nodes and /metrics. [BALANCER_ADMIN_PORT]")
    var adminPort = env("BALANCER_ADMIN_PORT").flatMap(Int.init) ?? 9000

    @Option(
        name: .customLong("admin-hosts"),
        help:
            "Host names (comma-separated) the admin port answers, besides IP addresses and localhost. [BALANCER_ADMIN_HOSTS]"
    )
    var adminHosts = env("BALANCER_ADMIN_HOSTS") ?? ""

    @Option(
        name: .customLong("admin-host"),
        help: "Address for the admin port (status page, /nodes, /metrics). [BALANCER_ADMIN_HOST]")
    var adminHost = env("BALANCER_ADMIN_HOST") ?? "127.0.0.1"

    @Option(
        name: .customLong("max-connections-per-address"),
        help: "Open connections one client address may hold; 0 for no limit. [BALANCER_MAX_CONNECTIONS_PER_ADDRESS]")
    var maxConnectionsPerAddress = env("BALANCER_MAX_CONNECTIONS_PER_ADDRESS").flatMap(Int.init) ?? 50

    @Option(
        name: .customLong("connect-rate-per-address"),
        help:
            "New connections one client address (an IPv6 /64) may open: PER_SECOND,BURST; 0 for no limit. [BALANCER_CONNECT_RATE_PER_ADDRESS]"
    )
    var connectRatePerAddress = env("BALANCER_CONNECT_RATE_PER_ADDRESS") ?? "10,50"

    @Option(
        help:
            "Fixed nodes: HOST:PORT[/HTTPPORT[/OPSPORT]],... (HTTP port 8081 when omitted; the operations port feeds the status page). [BALANCER_NODES]"
    )
    var nodes: String?

    @Option(
        help:
            "Discover nodes in Redis instead: redis://[[user]:password@]host:port, or rediss:// for TLS; redis-cluster://host:port,host:port for a Redis Cluster, redis-sentinel://sentinel:port,sentinel:port/service for Sentinel. [BALANCER_REDIS_URL]"
    )
    var redis: String?

    @Option(
        name: .customLong("redis-ca-file"),
        help: "PEM certificates to trust for rediss:// instead of the system's. [BALANCER_REDIS_CA_FILE]")
    var redisCAFileOption: String?
    var redisCAFile: String? { redisCAFileOption ?? env("BALANCER_REDIS_CA_FILE") }

    @Flag(
        name: .customLong("send-proxy"),
        help:
            "Open chat connections to nodes with a PROXY protocol v1 header (nodes run --proxy-protocol). [BALANCER_SEND_PROXY=1]"
    )
    var sendProxy = CommandSupport.flag("BALANCER_SEND_PROXY") ?? false

    @Option(
        name: .customLong("max-clients"),
        help: "Open client connections before new ones are refused. [BALANCER_MAX_CLIENTS]")
    var maxClients = env("BALANCER_MAX_CLIENTS").flatMap(Int.init) ?? 20_000

    @Option(
        name: .customLong("drain-seconds"),
        help: "On SIGTERM, how long open connections may carry on. [BALANCER_DRAIN_SECONDS]")
    var drainSeconds = env("BALANCER_DRAIN_SECONDS").flatMap(Int.init) ?? 10

    @Option(
        name: .customLong("tcp-keepalive"),
        help: "TCP keepalive on client sockets: IDLE,INTERVAL,COUNT seconds. [BALANCER_TCP_KEEPALIVE]")
    var tcpKeepAlive = env("BALANCER_TCP_KEEPALIVE") ?? TCPKeepAlive().description

    @Option(help: "Event-loop threads (default: one per core). [BALANCER_THREADS]")
    var threads = env("BALANCER_THREADS").flatMap(Int.init) ?? System.coreCount

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, notice, warning, error or critical. [BALANCER_LOG_LEVEL]")
    var logLevel = env("BALANCER_LOG_LEVEL") ?? "info"

    func nodeSource() throws -> NodeSource {
        let nodes = self.nodes ?? env("BALANCER_NODES")
        let redis = self.redis ?? env("BALANCER_REDIS_URL")
        switch (nodes, redis) {
        case (.some, .some):
            throw ValidationError("give either --nodes or --redis, not both")
        case (.some(let list), nil):
            let endpoints = try list.split(separator: ",").map { item in
                do { return try NodeEndpoint(parsing: item.trimmingCharacters(in: .whitespaces)) } catch {
                    throw ValidationError("--nodes: \(error)")
                }
            }
            guard !endpoints.isEmpty else { throw ValidationError("--nodes needs at least one HOST:PORT") }
            return .fixed(endpoints)
        case (nil, .some(let url)):
            do { return .redis(try RedisDeployment(url: url, caFile: redisCAFile)) } catch {
                throw ValidationError("--redis: \(error.message)")
            }
        case (nil, nil):
            throw ValidationError("say where the nodes are: --nodes HOST:PORT[,...] or --redis redis://HOST:PORT")
        }
    }

    func validate() throws {
        guard TCPKeepAlive(parsing: tcpKeepAlive) != nil else {
            throw ValidationError(
                "--tcp-keepalive must be IDLE,INTERVAL,COUNT, each at least 1 (got '\(tcpKeepAlive)')")
        }
        _ = try nodeSource()
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        for (name, value) in [("--port", port), ("--http-port", httpPort), ("--admin-port", adminPort)]
        where !(0...65535).contains(value) {
            throw ValidationError("\(name) must be 0 to 65535")
        }
        do {
            _ = try TLSCertificates.fromOptions(
                tlsPort: tlsPort ?? ircTLSPort, httpsPort: httpsPort, certificate: tlsCert, key: tlsKey)
        } catch { throw ValidationError("\(error)") }
        for (name, value) in [("--irc-port", ircPort ?? 0), ("--irc-tls-port", ircTLSPort ?? 0)]
        where !(0...65535).contains(value) {
            throw ValidationError("\(name) must be 0 to 65535")
        }
        if ircPort != nil || ircTLSPort != nil {
            guard redis != nil || env("BALANCER_REDIS_URL") != nil else {
                throw ValidationError(
                    "--irc-port and --irc-tls-port need nodes found through Redis (--redis): a fixed --nodes list names no IRC ports"
                )
            }
            guard !(noPlain && ircPort != nil) else {
                throw ValidationError("--no-plain turns plain ports off: use --irc-tls-port, not --irc-port")
            }
        }
        guard !noPlain || tlsPort != nil || httpsPort != nil || ircTLSPort != nil else {
            throw ValidationError("--no-plain leaves no port: add --tls-port or --https-port")
        }
    }

    func run() async throws {
        let registry = CommandSupport.bootstrap(logLevel: Logger.Level(rawValue: logLevel) ?? .info)

        var configuration = BalancerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.httpPort = httpPort
        configuration.adminPort = adminPort
        configuration.adminHost = adminHost
        configuration.adminHostNames = HostAllowList(parsing: adminHosts)
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress
        let rate = connectRatePerAddress.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        switch rate.count {
        case 1 where rate[0] == 0: configuration.connectRatePerAddress = (0, 1)
        case 2 where rate.allSatisfy({ ($0 ?? -1) >= 0 }) && (rate[1] ?? 0) >= 1:
            configuration.connectRatePerAddress = (rate[0]!, rate[1]!)
        default:
            throw ValidationError(
                "--connect-rate-per-address takes PER_SECOND,BURST (10,50) or 0 (got '\(connectRatePerAddress)')")
        }
        configuration.nodes = try nodeSource()
        configuration.sendProxy = sendProxy
        configuration.maxClients = maxClients
        configuration.tcpKeepAlive = TCPKeepAlive(parsing: tcpKeepAlive) ?? TCPKeepAlive()
        configuration.drainTimeout = .seconds(Int64(drainSeconds))
        configuration.threads = threads
        configuration.plainPorts = !noPlain
        configuration.tlsPort = tlsPort
        configuration.httpsPort = httpsPort
        // A certificate that cannot be read stops the start: better than serving without the TLS asked for.
        do {
            configuration.tls = try TLSCertificates.fromOptions(
                tlsPort: tlsPort ?? ircTLSPort, httpsPort: httpsPort, certificate: tlsCert, key: tlsKey)
        } catch { throw ValidationError("\(error)") }
        configuration.ircPort = ircPort
        configuration.ircTLSPort = ircTLSPort

        let logger = Logger(label: "chat-balancer")
        let balancer = ChatBalancerServer(
            configuration: configuration, logger: logger, metrics: BalancerMetrics(registry: registry),
            onListening: { addresses in
                let ports: [(String, SocketAddress?)] = [
                    ("chat", addresses.chat), ("http", addresses.http), ("admin", addresses.admin),
                    ("tls", addresses.tlsChat), ("https", addresses.https), ("irc", addresses.irc),
                    ("ircs", addresses.ircTLS),
                ]
                let line = ports.map { "\($0.0)=\($0.1.map(CommandSupport.describe) ?? "off")" }.joined(separator: " ")
                CommandSupport.announce("chat-balancer listening " + line)
            })
        let services = ServiceGroup(
            configuration: .init(services: [balancer], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
    }
}

private func env(_ name: String) -> String? { CommandSupport.environment(name) }
