import ArgumentParser
import ChatBalancer
import ChatCommandSupport
import ChatCore
import Foundation
import Logging
import NIOCore
import Prometheus
import RedisClient

/// `chat-balancer`: the front TCP balancer. Clients connect here; each is spliced to a chat node chosen
/// round-robin among the healthy ones.
@main
struct ChatBalancerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-balancer",
        abstract: "Round-robins chat (and HTTP) clients over the healthy chat nodes.",
        discussion:
            "Nodes come from --nodes (a fixed list) or from Redis (--redis), where every node announces itself.",
        version: ChatVersion.number
    )

    @Option(help: "Address to listen on. [BALANCER_HOST]")
    var host = env("BALANCER_HOST") ?? "0.0.0.0"

    @Option(help: "Chat port for clients. [BALANCER_PORT]")
    var port = env("BALANCER_PORT").flatMap(Int.init) ?? 7000

    @Option(name: .customLong("http-port"), help: "HTTP port, proxied to the nodes' HTTP ports. [BALANCER_HTTP_PORT]")
    var httpPort = env("BALANCER_HTTP_PORT").flatMap(Int.init) ?? 8080

    @OptionGroup(title: "TLS, threads, logging")
    var server: ServerOptions<BalancerEnvironment>

    @Option(
        name: .customLong("irc-port"),
        help: "IRC port, to the nodes' IRC ports; none unless set (6667 is IRC's). [BALANCER_IRC_PORT]")
    var ircPortOption: Int?
    var ircPort: Int? { ircPortOption ?? env("BALANCER_IRC_PORT").flatMap(Int.init) }

    @Option(
        name: .customLong("irc-tls-port"),
        help: "IRC over TLS; none unless set (6697 is IRC's; needs --tls-cert and --tls-key). [BALANCER_IRC_TLS_PORT]")
    var ircTLSPortOption: Int?
    var ircTLSPort: Int? { ircTLSPortOption ?? env("BALANCER_IRC_TLS_PORT").flatMap(Int.init) }

    @Flag(
        name: .customLong("no-plain"),
        help: "Serve only the TLS ports: no plain chat or HTTP port. [BALANCER_NO_PLAIN=1]")
    var noPlainFlag = false
    // A flag's default must be false (swift-argument-parser refuses a flag that is true by default, in debug
    // builds): the environment variable (or a configuration file) is read here.
    var noPlain: Bool { noPlainFlag || CommandSupport.flag("BALANCER_NO_PLAIN") == true }

    @Option(
        name: .customLong("admin-port"),
        help:
            "Port for the status page (/), GET /status, /nodes, /metrics, /health, /livez and /readyz. [BALANCER_ADMIN_PORT]"
    )
    var adminPort = env("BALANCER_ADMIN_PORT").flatMap(Int.init) ?? 9000

    @Option(
        name: .customLong("admin-hosts"),
        help:
            "Host names (comma-separated) the admin port answers, besides IP addresses and localhost. [BALANCER_ADMIN_HOSTS]"
    )
    var adminHosts = env("BALANCER_ADMIN_HOSTS") ?? ""

    @Option(
        name: .customLong("admin-host"),
        help: "Address for the admin port (never proxied). [BALANCER_ADMIN_HOST]")
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

    @Flag(
        name: .customLong("send-proxy"),
        help:
            "Open chat connections to nodes with a PROXY protocol v1 header (nodes run --proxy-protocol). [BALANCER_SEND_PROXY=1]"
    )
    var sendProxyFlag = false
    var sendProxy: Bool { sendProxyFlag || CommandSupport.flag("BALANCER_SEND_PROXY") == true }

    @Option(
        name: .customLong("max-clients"),
        help: "Open client connections before new ones are refused. [BALANCER_MAX_CLIENTS]")
    var maxClients = env("BALANCER_MAX_CLIENTS").flatMap(Int.init) ?? 20_000

    @Option(
        name: .customLong("drain-seconds"),
        help: "On SIGTERM, how long open connections may carry on. [BALANCER_DRAIN_SECONDS]")
    var drainSeconds = env("BALANCER_DRAIN_SECONDS").flatMap(Int.init) ?? 10

    @Option(
        name: .customLong("tls-handshake-seconds"),
        help: "How long a TLS client has to finish its handshake before it is closed. [BALANCER_TLS_HANDSHAKE_SECONDS]")
    var tlsHandshakeSeconds = env("BALANCER_TLS_HANDSHAKE_SECONDS").flatMap(Int.init) ?? 10

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
            do { return .redis(try RedisDeployment(url: url, caFile: server.redisCAFile)) } catch {
                throw ValidationError("--redis: \(error.message)")
            }
        case (nil, nil):
            throw ValidationError("say where the nodes are: --nodes HOST:PORT[,...] or --redis redis://HOST:PORT")
        }
    }

    /// `--connect-rate-per-address`: PER_SECOND,BURST, or 0 for no limit.
    func connectRate() throws -> (perSecond: Double, burst: Double) {
        let rate = connectRatePerAddress.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        switch rate.count {
        case 1 where rate[0] == 0: return (0, 1)
        case 2 where rate.allSatisfy({ ($0 ?? -1) >= 0 && ($0 ?? 0).isFinite }) && (rate[1] ?? 0) >= 1:
            return (rate[0]!, rate[1]!)
        default:
            throw ValidationError(
                "--connect-rate-per-address takes PER_SECOND,BURST (10,50) or 0 (got '\(connectRatePerAddress)')")
        }
    }

    func validate() throws {
        if server.printConfig { return }  // prints the defaults, whatever else is given
        _ = try nodeSource()
        _ = try connectRate()
        guard maxClients >= 1 else { throw ValidationError("--max-clients must be at least 1") }
        try CommandSupport.checkPorts([
            ("--port", port), ("--http-port", httpPort), ("--admin-port", adminPort), ("--irc-port", ircPort),
            ("--irc-tls-port", ircTLSPort),
        ])
        _ = try server.certificates(alsoFor: ircTLSPort)
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
        guard !noPlain || server.tlsPort != nil || server.httpsPort != nil || ircTLSPort != nil else {
            throw ValidationError("--no-plain leaves no port: add --tls-port or --https-port")
        }
    }

    static func main() async { await CommandSupport.main(Self.self, prefix: BalancerEnvironment.prefix) }

    func run() async throws {
        if server.printConfig {
            return print(
                ConfigurationFile.defaultFile(Self.self, program: "chat-balancer", prefix: BalancerEnvironment.prefix))
        }
        let registry = CommandSupport.bootstrap(logLevel: server.logLevel, format: server.logFormat)

        var configuration = BalancerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.httpPort = httpPort
        configuration.adminPort = adminPort
        configuration.adminHost = adminHost
        configuration.adminHostNames = HostAllowList(parsing: adminHosts)
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.connectRatePerAddress = try connectRate()
        configuration.nodes = try nodeSource()
        configuration.sendProxy = sendProxy
        configuration.maxClients = maxClients
        configuration.tcpKeepAlive = server.tcpKeepAlive
        configuration.drainTimeout = .seconds(Int64(drainSeconds))
        configuration.tlsHandshakeTimeout = .seconds(Int64(max(1, tlsHandshakeSeconds)))
        configuration.threads = server.threads
        configuration.plainPorts = !noPlain
        configuration.tlsPort = server.tlsPort
        configuration.httpsPort = server.httpsPort
        configuration.tls = try server.certificates(alsoFor: ircTLSPort)
        configuration.ircPort = ircPort
        configuration.ircTLSPort = ircTLSPort

        let logger = Logger(label: "chat-balancer")
        let balancer = ChatBalancerServer(
            configuration: configuration, logger: logger, metrics: BalancerMetrics(registry: registry),
            onListening: { addresses in
                CommandSupport.announceListening(
                    "chat-balancer",
                    [
                        ("chat", addresses.chat), ("http", addresses.http), ("admin", addresses.admin),
                        ("tls", addresses.tlsChat), ("https", addresses.https), ("irc", addresses.irc),
                        ("ircs", addresses.ircTLS),
                    ])
            })
        // SIGHUP, with a configuration file: the log level changes while running; the rest needs a restart. (TLS
        // certificates are reread by their own handler.)
        let hangups = CommandSupport.reloadConfigurationOnHangup(logger: logger) { changed, arguments in
            let command: Self
            do { command = try Self.parse(arguments) } catch {
                throw ConfigurationFile.Problem(description: Self.message(for: error))
            }
            CommandSupport.logLevel = command.server.logLevel
            return changed.filter { $0 == "log-level" }
        }
        defer { hangups.cancel() }
        try await CommandSupport.run(balancer, logger: logger)
    }
}

enum BalancerEnvironment: EnvironmentPrefix {
    static let prefix = "BALANCER"
}

private func env(_ name: String) -> String? { CommandSupport.environment(name) }
