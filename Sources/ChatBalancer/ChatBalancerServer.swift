import ChatCommandSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Where a running balancer listens (port 0 picks free ports); nil for a port it does not serve.
public struct BalancerAddresses: Sendable {
    public var chat: SocketAddress?
    public var http: SocketAddress?
    public var admin: SocketAddress
    public var tlsChat: SocketAddress? = nil
    public var https: SocketAddress? = nil
    public var irc: SocketAddress? = nil
    public var ircTLS: SocketAddress? = nil
}

/// The front balancer as a service: chat clients on `port` and HTTP on `httpPort`, each spliced to a node chosen
/// round-robin among the healthy ones; the status page, /status, /nodes and /metrics on `adminPort`. On graceful shutdown it stops
/// accepting, lets open connections carry on for at most `drainTimeout`, then closes them and exits.
public final class ChatBalancerServer: Service, Sendable {
    public let configuration: BalancerConfiguration
    private let logger: Logger
    private let metrics: BalancerMetrics
    private let onListening: @Sendable (BalancerAddresses) -> Void

    public init(
        configuration: BalancerConfiguration, logger: Logger, metrics: BalancerMetrics = BalancerMetrics(),
        onListening: @escaping @Sendable (BalancerAddresses) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.onListening = onListening
    }

    public func run() async throws {
        let configuration = self.configuration
        let logger = self.logger
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let pool = BackendPool()
        let watcher = NodeWatcher(pool: pool, configuration: configuration, eventLoop: group.next(), logger: logger)
        let perAddress = AddressCounts(limit: configuration.maxConnectionsPerAddress)
        let connectRates = ConnectRates(
            perSecond: configuration.connectRatePerAddress.perSecond, burst: configuration.connectRatePerAddress.burst)
        let chat = ProxyListener(
            side: .chat, pool: pool, configuration: configuration, metrics: metrics, perAddress: perAddress,
            connectRates: connectRates, logger: logger, bannedAddress: { watcher.ban(forAddress: $0) })
        let http = ProxyListener(
            side: .http, pool: pool, configuration: configuration, metrics: metrics, perAddress: perAddress,
            connectRates: connectRates, logger: logger, bannedAddress: { watcher.ban(forAddress: $0) })
        let irc = ProxyListener(
            side: .irc, pool: pool, configuration: configuration, metrics: metrics, perAddress: perAddress,
            connectRates: connectRates, logger: logger, bannedAddress: { watcher.ban(forAddress: $0) })

        // Each port a listener of the chat or the HTTP side; the TLS ones terminate TLS first.
        var wanted: [(name: String, listener: ProxyListener, port: Int, tls: TLSCertificates?)] = []
        if configuration.plainPorts {
            wanted += [("chat", chat, configuration.port, nil), ("http", http, configuration.httpPort, nil)]
        }
        if let port = configuration.ircPort, configuration.plainPorts { wanted.append(("irc", irc, port, nil)) }
        if let tls = configuration.tls {
            if let port = configuration.tlsPort { wanted.append(("tls", chat, port, tls)) }
            if let port = configuration.httpsPort { wanted.append(("https", http, port, tls)) }
            if let port = configuration.ircTLSPort { wanted.append(("ircs", irc, port, tls)) }
        }
        var bound: [String: any Channel] = [:]
        do {
            for entry in wanted {
                bound[entry.name] = try await entry.listener.bind(
                    group: group, host: configuration.host, port: entry.port, tls: entry.tls)
            }
        } catch {
            logger.critical(
                "cannot listen",
                metadata: [
                    "listen.address": "\(configuration.host) ports \(wanted.map(\.port))", "error": "\(error)",
                ])
            for channel in bound.values { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        let listening = bound
        let listeners = Array(listening.values)
        let reloads = configuration.tls.map { $0.reloadOnHangup(logger: logger) }
        // The status readings parse other processes' output once a second: on a thread of their own, never on a
        // loop that proxies clients.
        let statusGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let status = StatusReadings(
            pool: pool, metrics: metrics, redis: watcher.redis, eventLoop: statusGroup.next(),
            openConnections: {
                (
                    chat.openConnections.load(ordering: .relaxed) + irc.openConnections.load(ordering: .relaxed),
                    http.openConnections.load(ordering: .relaxed)
                )
            })
        let tasks = watcher.start() + [status.start()]
        let heartbeats = LoopHeartbeats(Array(group.makeIterator()))
        let draining = NIOLockedValueBox(false)
        let admin: any Channel
        do {
            admin = try await AdminEndpoints.bind(
                host: configuration.adminHost, port: configuration.adminPort, group: group, pool: pool,
                metrics: metrics, status: status, hostNames: configuration.adminHostNames, liveness: heartbeats,
                isDraining: { draining.withLockedValue { $0 } })
        } catch {
            logger.critical(
                "cannot listen",
                metadata: [
                    "listen.address": "\(configuration.adminHost) port \(configuration.adminPort)", "error": "\(error)",
                ])
            for task in tasks { task.cancel() }
            heartbeats.stop()
            for listener in listeners { try? await listener.close() }
            await watcher.stop()
            try? await statusGroup.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        let addresses = BalancerAddresses(
            chat: listening["chat"]?.localAddress, http: listening["http"]?.localAddress,
            admin: admin.localAddress!, tlsChat: listening["tls"]?.localAddress,
            https: listening["https"]?.localAddress, irc: listening["irc"]?.localAddress,
            ircTLS: listening["ircs"]?.localAddress)
        logger.info(
            "listening",
            metadata: [
                "listen.chat": "\(addresses.chat.map { "\($0)" } ?? "off")",
                "listen.http": "\(addresses.http.map { "\($0)" } ?? "off")",
                "listen.tls": "\(addresses.tlsChat.map { "\($0)" } ?? "off")",
                "listen.https": "\(addresses.https.map { "\($0)" } ?? "off")",
                "listen.admin": "\(addresses.admin)",
            ])
        onListening(addresses)

        try? await gracefulShutdown()
        draining.withLockedValue { $0 = true }
        logger.info("shutting down: no new connections; letting open ones finish")
        for listener in listeners { try? await listener.close() }
        let deadline = ContinuousClock.now.advanced(by: .nanoseconds(configuration.drainTimeout.nanoseconds))
        while chat.openConnections.load(ordering: .relaxed) + http.openConnections.load(ordering: .relaxed)
            + irc.openConnections.load(ordering: .relaxed) > 0,
            ContinuousClock.now < deadline, !Task.isCancelled
        {
            try? await Task.sleep(for: .milliseconds(100))
        }
        // The status page answers through the drain; then it goes too.
        try? await admin.close()
        for task in tasks { task.cancel() }
        heartbeats.stop()
        reloads?.cancel()
        await watcher.stop()
        try? await statusGroup.shutdownGracefully()
        // Whatever is still open after the drain time is closed with the event loops.
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }
}
