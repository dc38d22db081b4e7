import ArgumentParser
import ChatArchive
import ChatCommandSupport
import ChatCore
import ChatNode
import ChatTracing
import Endpoints
import Foundation
import Logging
import NIOCore
import Prometheus
import RedisClient

// One file because it is the node's whole command line: every option with its environment variable and help, their
// validation and their mapping onto NodeConfiguration, read top to bottom as the reference `chat-node --help` is.

/// `chat-node`: one stateless chat node. Every option can also come from the environment variable named in its help,
/// so containers configure it without a command line.
@main
struct ChatNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-node",
        abstract: "A chat node: TCP clients (nc, telnet or JSON lines) relayed through Redis to every other node.",
        version: ChatVersion.number)

    @Option(help: "Address to listen on for chat clients and HTTP. [CHAT_HOST]")
    var host = env("CHAT_HOST") ?? "0.0.0.0"

    @Option(help: "Chat port (0 picks a free one). [CHAT_PORT]")
    var port = env("CHAT_PORT").flatMap(Int.init) ?? 7001

    @Option(
        name: .customLong("http-port"),
        help:
            "HTTP port for the web page and its WebSocket (/ws); /health and /metrics are on --ops-port. [CHAT_HTTP_PORT]"
    )
    var httpPort = env("CHAT_HTTP_PORT").flatMap(Int.init) ?? 8081

    @Option(
        help:
            "Redis URL, redis://[[user]:password@]host[:port][/db], or rediss:// for TLS; a Redis Cluster: redis-cluster://[[user]:password@]host:port,host:port (any members; rediss-cluster:// for TLS); Sentinel: redis-sentinel://[[user]:password@]sentinel:port,sentinel:port/service. [CHAT_REDIS_URL]"
    )
    var redis = env("CHAT_REDIS_URL") ?? "redis://127.0.0.1:6379"

    @Option(
        name: .customLong("node-id"),
        help: "This node's name in /who, /seen and logs (default host:port). [CHAT_NODE_ID]")
    var nodeID: String?

    @Option(
        help: "HOST:PORT at which other machines reach this node's chat port, announced for discovery. [CHAT_ADVERTISE]"
    )
    var advertise: String?

    @Flag(
        name: .customLong("proxy-protocol"),
        help:
            "Require a PROXY protocol v1 header on every chat connection (behind chat-balancer --send-proxy). [CHAT_PROXY_PROTOCOL=1]"
    )
    var proxyProtocolFlag = false
    // A flag's default must be false (swift-argument-parser refuses a definition whose flag is true, in debug
    // builds), so the environment variable (or a configuration file) is read here, not as its default.
    var proxyProtocol: Bool { proxyProtocolFlag || CommandSupport.flag("CHAT_PROXY_PROTOCOL") == true }

    @Option(
        name: .customLong("allowed-origins"),
        help:
            "Origins (https://chat.example.com,...) whose pages may open /ws; * for any. A page served under an IP address or localhost needs none. [CHAT_ALLOWED_ORIGINS]"
    )
    var allowedOrigins = env("CHAT_ALLOWED_ORIGINS") ?? ""

    @Option(
        name: .customLong("max-clients"),
        help: "Connections this node accepts before '! server-full'. [CHAT_MAX_CLIENTS]")
    var maxClients = env("CHAT_MAX_CLIENTS").flatMap(Int.init) ?? 10_000

    @Option(
        name: .customLong("max-clients-per-address"),
        help:
            "Connections one client address may hold (the real one behind the balancer); 0 = no limit. [CHAT_MAX_CLIENTS_PER_ADDRESS]"
    )
    var maxClientsPerAddress = env("CHAT_MAX_CLIENTS_PER_ADDRESS").flatMap(Int.init) ?? 0

    @Option(name: .customLong("claim-ttl"), help: "Seconds a name outlives its node's last heartbeat. [CHAT_CLAIM_TTL]")
    var claimTTL = env("CHAT_CLAIM_TTL").flatMap(Int.init) ?? 15

    @Option(
        name: .customLong("name-ttl"),
        help:
            "Seconds a name's claim lasts without its session's keep-alive, which comes every third of it. [CHAT_NAME_TTL]"
    )
    var nameTTL = env("CHAT_NAME_TTL").flatMap(Int.init) ?? 3600

    @Option(name: .customLong("rate-limit"), help: "Lines per second a session may send, sustained. [CHAT_RATE_LIMIT]")
    var rateLimit = env("CHAT_RATE_LIMIT").flatMap(Double.init) ?? 10

    @Option(name: .customLong("rate-burst"), help: "Lines a session may send at once above the rate. [CHAT_RATE_BURST]")
    var rateBurst = env("CHAT_RATE_BURST").flatMap(Double.init) ?? 20

    @Option(
        name: .customLong("max-outbound-bytes"),
        help: "Unsent output after which a client is dropped as a slow consumer. [CHAT_MAX_OUTBOUND_BYTES]")
    var maxOutboundBytes = env("CHAT_MAX_OUTBOUND_BYTES").flatMap(Int.init) ?? (1 << 20)

    @Option(
        name: .customLong("ack-replicas"),
        help:
            "Tell a room message's sender it is sent only once this many Redis replicas have it (WAIT); 0 = once the primary has it. [CHAT_ACK_REPLICAS]"
    )
    var ackReplicas = env("CHAT_ACK_REPLICAS").flatMap(Int.init) ?? 0

    @Option(
        name: .customLong("ack-timeout-ms"),
        help:
            "How long --ack-replicas waits for the replicas; then the sender is told with an 'unconfirmed' warning. [CHAT_ACK_TIMEOUT_MS]"
    )
    var ackTimeoutMilliseconds = env("CHAT_ACK_TIMEOUT_MS").flatMap(Int.init) ?? 1000

    @Option(name: .customLong("history-on-join"), help: "Messages shown when joining a room. [CHAT_HISTORY_ON_JOIN]")
    var historyOnJoin = env("CHAT_HISTORY_ON_JOIN").flatMap(Int.init) ?? 20

    @Option(name: .customLong("history-length"), help: "Messages kept per room in Redis. [CHAT_HISTORY_LENGTH]")
    var historyLength = env("CHAT_HISTORY_LENGTH").flatMap(Int.init) ?? 1000

    @Option(
        help:
            "PostgreSQL URL, postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require|verify-ca|verify-full[&sslrootcert=FILE]], where every room and direct message is archived for history past Redis and search (docs/deploy.md). [CHAT_ARCHIVE]"
    )
    var archive = env("CHAT_ARCHIVE")

    @Option(
        name: .customLong("archive-keep-days"),
        help: "Days the archive keeps a message (default: for ever). [CHAT_ARCHIVE_KEEP_DAYS]")
    var archiveKeepDays = env("CHAT_ARCHIVE_KEEP_DAYS")

    @Option(
        name: .customLong("archive-keep-room"),
        help:
            "Rooms kept for a time of their own, ROOM=DAYS,ROOM=DAYS (shorter or longer than --archive-keep-days). [CHAT_ARCHIVE_KEEP_ROOM]"
    )
    var archiveKeepRoom = env("CHAT_ARCHIVE_KEEP_ROOM") ?? ""

    @Option(
        name: .customLong("registration-timeout"),
        help: "Seconds a connection may take to pick a name before it is closed. [CHAT_REGISTRATION_TIMEOUT]")
    var registrationTimeout = env("CHAT_REGISTRATION_TIMEOUT").flatMap(Double.init) ?? 30

    @Option(
        name: .customLong("ping-after"),
        help:
            "Seconds of silence after which a JSON or WebSocket client is pinged; as long again unanswered and it is closed. [CHAT_PING_AFTER]"
    )
    var pingAfter = env("CHAT_PING_AFTER").flatMap(Double.init) ?? 30

    @Option(
        name: .customLong("http-idle-timeout"),
        help: "Seconds a plain HTTP connection may stay silent. [CHAT_HTTP_IDLE_TIMEOUT]")
    var httpIdleTimeout = env("CHAT_HTTP_IDLE_TIMEOUT").flatMap(Double.init) ?? 30

    @Option(
        name: .customLong("trusted-proxies"),
        help:
            "Addresses (CIDR, comma-separated) allowed to send PROXY headers with --proxy-protocol. [CHAT_TRUSTED_PROXIES]"
    )
    var trustedProxies = env("CHAT_TRUSTED_PROXIES") ?? TrustedNetworks.loopback.description

    @Option(
        name: .customLong("ops-host"), help: "Address for the operations port (never proxied). [CHAT_OPS_HOST]")
    var opsHost = env("CHAT_OPS_HOST") ?? "127.0.0.1"

    @Option(
        name: .customLong("ops-hosts"),
        help:
            "Host names (comma-separated) the operations port answers, besides IP addresses and localhost. [CHAT_OPS_HOSTS]"
    )
    var opsHosts = env("CHAT_OPS_HOSTS") ?? ""

    @Option(
        name: .customLong("operators"),
        help:
            "Registered names (comma-separated) that are server operators once logged in with their password; register them first. [CHAT_OPERATORS]"
    )
    var operators = env("CHAT_OPERATORS") ?? ""

    @Option(
        name: .customLong("admin-token-file"),
        help:
            "A file holding the admin API's bearer token (at least 32 characters); without it the operations port has no /admin. [CHAT_ADMIN_TOKEN_FILE]"
    )
    var adminTokenFile = env("CHAT_ADMIN_TOKEN_FILE") ?? ""

    @Option(
        name: .customLong("ops-port"),
        help: "Operations port: /health, /livez, /readyz, /metrics and the admin API (/admin/). [CHAT_OPS_PORT]")
    var opsPort = env("CHAT_OPS_PORT").flatMap(Int.init) ?? 9101

    @Option(name: .customLong("room-idle-days"), help: "Days an idle room keeps its history. [CHAT_ROOM_IDLE_DAYS]")
    var roomIdleDays = env("CHAT_ROOM_IDLE_DAYS").flatMap(Double.init) ?? 7

    @Option(name: .customLong("max-rooms"), help: "Rooms that may exist at once, cluster-wide. [CHAT_MAX_ROOMS]")
    var maxRooms = env("CHAT_MAX_ROOMS").flatMap(Int.init) ?? 10_000

    @Option(
        name: .customLong("room-creations-per-minute"),
        help: "New rooms one address, and one person, may create per minute. [CHAT_ROOM_CREATIONS_PER_MINUTE]")
    var roomCreationsPerMinute = env("CHAT_ROOM_CREATIONS_PER_MINUTE").flatMap(Int.init) ?? 10

    @Option(name: .customLong("max-seen-records"), help: "People /seen remembers. [CHAT_MAX_SEEN_RECORDS]")
    var maxSeenRecords = env("CHAT_MAX_SEEN_RECORDS").flatMap(Int.init) ?? 100_000

    @Option(
        name: .customLong("resume-grace"),
        help:
            "Seconds a dropped connection's name stays held for its resume token (default: --claim-ttl; 0 = release at once). [CHAT_RESUME_GRACE]"
    )
    var resumeGraceOption: Int?
    var resumeGrace: Int? { resumeGraceOption ?? env("CHAT_RESUME_GRACE").flatMap(Int.init) }

    @Option(
        name: .customLong("connections-per-name"),
        help:
            "Connections one registered name may have at once, on any nodes (1: a login takes the session over). [CHAT_CONNECTIONS_PER_NAME]"
    )
    var connectionsPerName = env("CHAT_CONNECTIONS_PER_NAME").flatMap(Int.init) ?? 5

    @Option(
        name: .customLong("connection-seniority"),
        help:
            "Seconds a registered name's connection has lasted before a newer login at --connections-per-name may take its place. [CHAT_CONNECTION_SENIORITY]"
    )
    var connectionSeniority = env("CHAT_CONNECTION_SENIORITY").flatMap(Int.init) ?? 60

    @Option(
        name: .customLong("scrypt-cost"),
        help: "Cost of new password hashes, ln=LOG2(N),r=BLOCK,p=PARALLEL (old hashes keep theirs). [CHAT_SCRYPT_COST]")
    var scryptCost = env("CHAT_SCRYPT_COST") ?? ScryptCost.standard.description

    @Option(
        name: .customLong("password-checks-per-address"),
        help:
            "Password checks one address (an IPv6 /64) may have waiting or running at once. [CHAT_PASSWORD_CHECKS_PER_ADDRESS]"
    )
    var passwordChecksPerAddress = env("CHAT_PASSWORD_CHECKS_PER_ADDRESS").flatMap(Int.init) ?? 2

    @Option(
        name: .customLong("registrations-per-hour"),
        help: "Names one address (an IPv6 /64) may register in an hour. [CHAT_REGISTRATIONS_PER_HOUR]")
    var registrationsPerHour = env("CHAT_REGISTRATIONS_PER_HOUR").flatMap(Int.init) ?? 5

    @Option(
        name: .customLong("login-failures"),
        help:
            "Failed logins allowed per name and per address in 5 minutes, before logins are refused. [CHAT_LOGIN_FAILURES]"
    )
    var loginFailures = env("CHAT_LOGIN_FAILURES") ?? "10,30"

    @Option(
        name: .customLong("otlp-endpoint"),
        help:
            "OpenTelemetry traces of messages and logins, posted as OTLP/HTTP JSON to this collector (http://HOST[:PORT][/PATH], port 4318 by default, /v1/traces appended); none unless set. [CHAT_OTLP_ENDPOINT]"
    )
    var otlpEndpoint = env("CHAT_OTLP_ENDPOINT") ?? ""

    @Option(
        name: .customLong("trace-sample-ratio"),
        help:
            "The share of messages and logins that start a trace, 0 to 1 (a trace started on another node is always continued). [CHAT_TRACE_SAMPLE_RATIO]"
    )
    var traceSampleRatio = env("CHAT_TRACE_SAMPLE_RATIO").flatMap(Double.init) ?? 1

    @Option(
        name: .customLong("irc-port"),
        help: "Port for IRC clients (irssi, WeeChat, bots); none unless set. [CHAT_IRC_PORT]")
    var ircPortOption: Int?
    var ircPort: Int? { ircPortOption ?? env("CHAT_IRC_PORT").flatMap(Int.init) }

    @Option(
        name: .customLong("irc-server-name"),
        help: "The server name IRC clients see (default: the node id). [CHAT_IRC_SERVER_NAME]")
    var ircServerNameOption: String?

    @OptionGroup(title: "TLS, threads, logging")
    var server: ServerOptions<NodeEnvironment>

    static func failureLimits(_ text: String) -> (Int, Int)? {
        let values = text.split(separator: ",").compactMap { Int($0) }
        guard values.count == 2, values.allSatisfy({ $0 >= 1 }) else { return nil }
        return (values[0], values[1])
    }

    func validate() throws {
        if server.printConfig { return }  // prints the defaults, whatever else is given
        guard claimTTL >= 3 else { throw ValidationError("--claim-ttl must be at least 3 seconds") }
        for (name, value) in [
            ("--registration-timeout", registrationTimeout), ("--ping-after", pingAfter),
            ("--http-idle-timeout", httpIdleTimeout),
        ] where !(value > 0) {
            throw ValidationError("\(name) must be a positive number of seconds")
        }
        // The publish script takes a room's newest entry as its last id, so a stream must keep at least one.
        guard historyLength >= 1 else { throw ValidationError("--history-length must be at least 1") }
        if let days = archiveKeepDays, (Int(days) ?? 0) < 1 {
            throw ValidationError("--archive-keep-days is a number of days, at least 1")
        }
        guard ChatArchive.Retention.parseRooms(archiveKeepRoom) != nil else {
            throw ValidationError("--archive-keep-room is ROOM=DAYS,ROOM=DAYS (days at least 1)")
        }
        if !otlpEndpoint.isEmpty, OTLPEndpoint(otlpEndpoint) == nil {
            throw ValidationError(
                "--otlp-endpoint must be http://HOST[:PORT][/PATH] (plain HTTP, to a collector beside the node; got '\(otlpEndpoint)')"
            )
        }
        guard (0...1).contains(traceSampleRatio) else {
            throw ValidationError("--trace-sample-ratio must be between 0 and 1 (got \(traceSampleRatio))")
        }
        if let archive, ArchiveAddress(archive) == nil {
            throw ValidationError(
                "--archive must be postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require|verify-ca|verify-full[&sslrootcert=FILE]]"
            )
        }
        // Bounded above too: a rate past a million a second is no limit, and an infinite one cannot be counted.
        guard rateLimit > 0, rateBurst >= 1, rateLimit <= 1_000_000, rateBurst <= 1_000_000 else {
            throw ValidationError("--rate-limit must be positive and --rate-burst at least 1, both at most 1000000")
        }
        guard maxClients >= 1 else { throw ValidationError("--max-clients must be at least 1") }
        guard roomIdleDays > 0, maxRooms >= 1, roomCreationsPerMinute >= 1, maxSeenRecords >= 1 else {
            throw ValidationError(
                "--room-idle-days, --max-rooms, --room-creations-per-minute and --max-seen-records must be positive")
        }
        guard ackReplicas >= 0 else { throw ValidationError("--ack-replicas must be 0 or more") }
        if ackReplicas > 0, !(1...10_000).contains(ackTimeoutMilliseconds) {
            throw ValidationError("--ack-timeout-ms must be between 1 and 10000 (got \(ackTimeoutMilliseconds))")
        }
        if let resumeGrace, resumeGrace < 0 { throw ValidationError("--resume-grace must be 0 or more seconds") }
        _ = try server.certificates()
        guard ScryptCost(scryptCost) != nil else {
            throw ValidationError("--scrypt-cost must look like ln=15,r=8,p=3 (got '\(scryptCost)')")
        }
        guard Self.failureLimits(loginFailures) != nil else {
            throw ValidationError(
                "--login-failures must be PER_NAME,PER_ADDRESS, each at least 1 (got '\(loginFailures)')")
        }
        guard TrustedNetworks(parsing: trustedProxies) != nil else {
            throw ValidationError(
                "--trusted-proxies must be addresses or CIDR ranges, comma-separated (got '\(trustedProxies)')")
        }
        try CommandSupport.checkPorts([
            ("--port", port), ("--http-port", httpPort), ("--ops-port", opsPort), ("--irc-port", ircPort),
        ])
        do { _ = try RedisDeployment(url: redis, caFile: server.redisCAFile).template.tlsContext() } catch {
            throw ValidationError("--redis: \((error as? RedisError)?.message ?? "\(error)")")
        }
        if let nodeID = nodeID ?? env("CHAT_NODE_ID"), nodeID.isEmpty || nodeID.contains(where: \.isWhitespace) {
            throw ValidationError("--node-id must be non-empty and without spaces (got '\(nodeID)')")
        }
        if let advertise = advertise ?? env("CHAT_ADVERTISE") {
            guard HostPort(parsing: advertise) != nil else {
                throw ValidationError("--advertise must be HOST:PORT (got '\(advertise)')")
            }
        }
    }

    static func main() async { await CommandSupport.main(Self.self, prefix: NodeEnvironment.prefix) }

    func run() async throws {
        if server.printConfig {
            return print(ConfigurationFile.defaultFile(Self.self, program: "chat-node", prefix: NodeEnvironment.prefix))
        }
        let registry = CommandSupport.bootstrap(logLevel: server.logLevel, format: server.logFormat)
        let configuration = try nodeConfiguration()

        let logger = Logger(label: "chat-node")
        let node = ChatNodeServer(
            configuration: configuration, logger: logger,
            metrics: NodeMetrics(registry: registry, eventLoops: configuration.threads),
            onListening: { addresses in
                CommandSupport.announceListening(
                    "chat-node",
                    [
                        ("chat", addresses.chat), ("http", addresses.http), ("ops", addresses.operations),
                        ("tls", addresses.tlsChat), ("https", addresses.https), ("irc", addresses.irc),
                    ])
            })
        let hangups = CommandSupport.reloadConfigurationOnHangup(logger: logger) { changed, arguments in
            try Self.reload(configuration, changed: changed, arguments: arguments)
        }
        defer { hangups.cancel() }
        try await CommandSupport.run(node, logger: logger)
    }

    /// The node's configuration from the options, as at start or as a reread configuration file makes it.
    func nodeConfiguration() throws -> NodeConfiguration {
        var configuration = NodeConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.httpPort = httpPort
        configuration.redis = try RedisDeployment(url: redis, caFile: server.redisCAFile)
        configuration.nodeID = nodeID ?? env("CHAT_NODE_ID")
        configuration.advertise = advertise ?? env("CHAT_ADVERTISE")
        configuration.maxClients = maxClients
        configuration.allowedOrigins = allowedOrigins.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        configuration.maxClientsPerAddress = maxClientsPerAddress
        configuration.claimTTLSeconds = claimTTL
        configuration.nameTTLSeconds = max(nameTTL, claimTTL)
        configuration.rateLimit = rateLimit
        configuration.rateBurst = rateBurst
        configuration.maxOutboundBytes = maxOutboundBytes
        configuration.limits.historyOnJoin = historyOnJoin
        configuration.historyLength = historyLength
        configuration.archive = archive.flatMap(ArchiveAddress.init)
        configuration.otlpEndpoint = OTLPEndpoint(otlpEndpoint)
        configuration.traceSampleRatio = traceSampleRatio
        configuration.archiveRetention = ChatArchive.Retention(
            days: archiveKeepDays.flatMap { Int($0) }, rooms: ChatArchive.Retention.parseRooms(archiveKeepRoom) ?? [:])
        if ackReplicas > 0 {
            configuration.messageAcknowledgement = ReplicaAcknowledgement(
                replicas: ackReplicas, timeout: .milliseconds(Int64(ackTimeoutMilliseconds)))
        }
        configuration.threads = server.threads
        configuration.proxyProtocol = proxyProtocol
        configuration.storeBounds.roomIdleSeconds = max(1, Int(roomIdleDays * 86_400))
        configuration.storeBounds.maxRooms = maxRooms
        configuration.storeBounds.roomCreationsPerMinute = roomCreationsPerMinute
        configuration.storeBounds.maxSeenRecords = maxSeenRecords
        configuration.storeBounds.resumeGraceSeconds = resumeGrace ?? claimTTL
        configuration.scryptCost = ScryptCost(scryptCost) ?? .standard
        configuration.passwordChecksPerAddress = max(1, passwordChecksPerAddress)
        configuration.storeBounds.registrationsPerHour = max(0, registrationsPerHour)
        configuration.storeBounds.connectionsPerName = max(1, connectionsPerName)
        configuration.storeBounds.connectionSenioritySeconds = max(0, connectionSeniority)
        if let (perName, perAddress) = Self.failureLimits(loginFailures) {
            configuration.storeBounds.loginFailuresPerName = perName
            configuration.storeBounds.loginFailuresPerAddress = perAddress
        }
        configuration.ircPort = ircPort
        configuration.ircServerName = ircServerNameOption ?? env("CHAT_IRC_SERVER_NAME")
        configuration.tlsPort = server.tlsPort
        configuration.httpsPort = server.httpsPort
        configuration.tls = try server.certificates()
        configuration.trustedProxies = TrustedNetworks(parsing: trustedProxies) ?? .loopback
        configuration.opsHost = opsHost
        configuration.opsHostNames = HostAllowList(parsing: opsHosts)
        configuration.opsPort = opsPort
        configuration.operators = try NodeConfiguration.operatorKeys(operators)
        if !adminTokenFile.isEmpty {
            configuration.adminToken = try NodeConfiguration.adminToken(file: adminTokenFile)
        }
        configuration.registrationTimeout = .nanoseconds(Int64(registrationTimeout * 1e9))
        configuration.pingAfter = .nanoseconds(Int64(pingAfter * 1e9))
        configuration.pingTimeout = configuration.pingAfter
        configuration.tcpKeepAlive = server.tcpKeepAlive
        configuration.httpIdleTimeout = .nanoseconds(Int64(httpIdleTimeout * 1e9))
        return configuration
    }

    /// SIGHUP, with a configuration file: the operators, the rate limit and burst, the connection limit and the log
    /// level change while the node runs (for logins, sessions and connections from then on); the rest needs a
    /// restart. TLS certificates are reread by their own SIGHUP handler.
    static let reloadable: Set<String> = ["operators", "rate-limit", "rate-burst", "max-clients", "log-level"]

    static func reload(_ running: NodeConfiguration, changed: [String], arguments: [String]) throws -> [String] {
        let command: Self
        do { command = try Self.parse(arguments) } catch {
            throw ConfigurationFile.Problem(description: Self.message(for: error))
        }
        let fresh = try command.nodeConfiguration()
        let applied = changed.filter(Self.reloadable.contains)
        running.live.update { $0 = fresh.live.values }
        CommandSupport.logLevel = command.server.logLevel
        return applied
    }
}

enum NodeEnvironment: EnvironmentPrefix {
    static let prefix = "CHAT"
}

private func env(_ name: String) -> String? { CommandSupport.environment(name) }
