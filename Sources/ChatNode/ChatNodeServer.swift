import ChatArchive
import ChatCommandSupport
import ChatCore
import ChatStore
import ChatTracing
import Endpoints
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisClient
import ServiceLifecycle

/// Where a running node listens; reported once both ports are bound (port 0 picks free ones).
public struct NodeAddresses: Sendable {
    public var chat: SocketAddress
    public var http: SocketAddress
    /// /health and /metrics.
    public var operations: SocketAddress
    /// Chat over TLS and HTTPS, when the node serves them.
    public var tlsChat: SocketAddress? = nil
    public var https: SocketAddress? = nil
    public var irc: SocketAddress? = nil
}

/// The chat node as a service: TCP chat on `port`, /health and /metrics on `httpPort`, its state in Redis.
/// On graceful shutdown (SIGTERM, SIGINT) it stops accepting, tells its clients, releases their names and rooms in
/// Redis, forgets its incarnation, and exits.
public final class ChatNodeServer: Service, Sendable {
    public let configuration: NodeConfiguration
    private let logger: Logger
    private let metrics: NodeMetrics
    private let onListening: @Sendable (NodeAddresses) -> Void

    public init(
        configuration: NodeConfiguration, logger: Logger, metrics: NodeMetrics = NodeMetrics(),
        onListening: @escaping @Sendable (NodeAddresses) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.onListening = onListening
    }

    public func run() async throws {
        let configuration = self.configuration
        let metrics = self.metrics
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let loops = Array(group.makeIterator())
        let hubs = loops.enumerated().map { LoopHub(eventLoop: $1, index: $0, metrics: metrics) }
        let hubByLoop = Dictionary(uniqueKeysWithValues: hubs.map { (ObjectIdentifier($0.eventLoop), $0) })

        let incarnation = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let nodeID = configuration.nodeID ?? Self.defaultNodeID(port: configuration.port)
        metrics.identify(nodeID: nodeID)
        let logger = {
            var logger = self.logger
            logger[metadataKey: "node.id"] = "\(nodeID)"
            return logger
        }()

        let connectedHook = NIOLockedValueBox<(@Sendable (Bool) -> Void)?>(nil)
        let (redis, subscriber) = configuration.redis.makeClients(
            commandLoop: loops[1 % loops.count], subscriberLoop: loops[0], scripts: ChatStore.scripts,
            commandTimeout: configuration.redisTimeout, logger: logger,
            onConnected: { reconnected in connectedHook.withLockedValue { $0 }?(reconnected) },
            onFlush: { batch in metrics.publishBatch.record(Int64(batch)) })
        var store = ChatStore(
            redis: redis, incarnation: incarnation, nodeID: nodeID, claimTTLSeconds: configuration.claimTTLSeconds,
            historyLength: configuration.historyLength, nameTTLSeconds: configuration.nameTTLSeconds)
        store.bounds = configuration.storeBounds
        // Its own connection (on the command connection's loop, where the store's replies complete): WAIT holds up
        // whatever comes after it on a connection, and joins and reads must not wait for replicas.
        store.acknowledgedMessages = configuration.messageAcknowledgement.map { wanted in
            AcknowledgedWrites(
                redis: configuration.redis.makeConnection(
                    eventLoop: redis.eventLoop, commandTimeout: configuration.redisTimeout, logger: logger,
                    scripts: ChatStore.scripts),
                wanted: wanted)
        }
        let acknowledgedRedis = store.acknowledgedMessages?.redis
        let archive = configuration.archive.map { ChatArchive(address: $0, logger: logger) }
        if archive != nil { store.archiveMarks = ArchiveMarks() }
        let tracer = configuration.otlpEndpoint.map { endpoint in
            Tracer(
                settings: Tracer.Settings(
                    endpoint: endpoint, sampleRatio: configuration.traceSampleRatio, serviceName: "chat-node",
                    serviceVersion: ChatVersion.number, instanceID: nodeID),
                counts: metrics.traceCounts, logger: logger)
        }
        tracer?.start()
        let relay = Relay(
            subscriber: subscriber, hubs: hubs, store: store, limits: configuration.limits, logger: logger,
            metrics: metrics, tracer: tracer)
        let node = NodeContext(
            configuration: configuration, nodeID: nodeID, store: store, relay: relay, metrics: metrics, logger: logger,
            archive: archive, tracer: tracer)
        let keeper = PresenceKeeper(node: node, hubs: hubs, eventLoop: loops[1 % loops.count])
        connectedHook.withLockedValue { $0 = { keeper.redisConnected(reconnected: $0) } }

        redis.start()
        acknowledgedRedis?.start()
        // Redis that is down may come up; Redis that refuses our password or certificate will not: then the node
        // stops here, saying why, instead of running unhealthy forever.
        if case .failure(let error) = await Self.firstAttempt(of: redis), RedisClient.isRefusal(error) {
            logger.critical(
                "Redis refused this node; check --redis (user, password) and --redis-ca-file",
                metadata: ["redis.address": "\(configuration.redis)", "error": "\(error)"])
            await redis.stop()
            await acknowledgedRedis?.stop()
            await tracer?.shutdown()
            try? await group.shutdownGracefully()
            throw RedisRefused(description: "Redis at \(configuration.redis) refused this node: \(error)")
        }
        if let acknowledged = store.acknowledgedMessages { Self.checkReplicas(for: acknowledged, logger: logger) }
        subscriber.start()
        // Every loop hears the network's channel (announcements, changed bans), once per node, for all its sessions.
        relay.onNetworkChanged = { _ = node.network.refresh() }
        node.network.onNewBans { bans in
            for hub in hubs {
                hub.eventLoop.execute { for session in hub.allSessions { session.checkNetworkBans(bans) } }
            }
        }
        for hub in hubs { relay.attach(ChatKeys.networkChannel, hub: hub).whenFailure { _ in } }
        _ = try? await node.network.refresh().get()
        Self.checkOperators(configuration.operators, store: store, logger: logger)
        // After a SIGHUP's reload (whose handler was added first, so runs first): the names it added are checked,
        // and the sessions on this node of the names it added or removed operate, or stop, at once.
        let operatorsChecked = NIOLockedValueBox(configuration.operators)
        let operatorStore = store
        let operatorCheck = Hangups.add {
            let listed = configuration.operators
            let (added, removed) = operatorsChecked.withLockedValue { checked in
                defer { checked = listed }
                return (listed.subtracting(checked), checked.subtracting(listed))
            }
            Self.checkOperators(added, store: operatorStore, logger: logger)
            guard !added.isEmpty || !removed.isEmpty else { return }
            for hub in hubs {
                hub.eventLoop.execute {
                    for session in hub.allSessions { session.operatorsChanged(added: added, removed: removed) }
                }
            }
        }
        let timers =
            keeper.start() + hubs.map { $0.startTicking() } + [node.network.startRefreshing(on: loops[1 % loops.count])]
        // The archive's connections, and the archiver (which waits for PostgreSQL, however long it is down).
        let archiving = archive.map { archive in
            let archiver = Archiver(
                store: store, archive: archive, marks: store.archiveMarks ?? ArchiveMarks(),
                metrics: metrics.archive, logger: logger,
                // A node is presumed dead once its claims would lapse: so is its archiving.
                settings: Archiver.Settings(
                    leaseMilliseconds: configuration.claimTTLSeconds * 1000, retention: configuration.archiveRetention))
            return (Task { await archive.run() }, Task { await archiver.run() })
        }

        let heartbeats = LoopHeartbeats(loops)
        let draining = NIOLockedValueBox(false)
        let settings = NodeHTTPServer.Settings(
            isHealthy: { redis.isConnected && subscriber.isConnected && acknowledgedRedis?.isConnected != false },
            isDraining: { draining.withLockedValue { $0 } }, heartbeats: heartbeats,
            allowedOrigins: configuration.allowedOrigins,
            opsHostNames: configuration.opsHostNames, maximumMessageBytes: configuration.limits.maximumLineBytes,
            maximumOutboundBytes: configuration.maxOutboundBytes, idleTimeout: configuration.httpIdleTimeout)
        let listeners: NodeListeners
        do {
            listeners = try await NodeListeners.bind(group: group, node: node, hubByLoop: hubByLoop, settings: settings)
        } catch {
            logger.critical("cannot listen", metadata: ["error": "\(error)"])
            operatorCheck.cancel()
            for timer in timers { timer.cancel() }
            await redis.stop()
            await acknowledgedRedis?.stop()
            try? await subscriber.stop().get()
            await tracer?.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        let chatAddress = listeners.chat.localAddress!
        let httpAddress = listeners.http.localAddress!
        let opsAddress = listeners.operations.localAddress!
        let announcement = NIOLockedValueBox<(EndpointAnnouncer, RepeatedTask)?>(nil)
        let advertised = Self.advertisedEndpoints(configuration, chat: chatAddress, http: httpAddress)
        logger.info(
            "listening",
            metadata: [
                "listen.chat": "\(chatAddress)", "listen.http": "\(httpAddress)", "listen.ops": "\(opsAddress)",
                "advertise.chat": "\(advertised.chat)", "advertise.http": "\(advertised.http)",
            ])
        // The IRC port is announced on the chat endpoint's host, as the HTTP port is.
        let ircAdvertised = listeners.irc?.localAddress?.port.flatMap { port in
            HostPort(parsing: advertised.chat).map { HostPort(host: $0.host, port: port).description }
        }
        let announcer = EndpointAnnouncer(
            store: store, nodeID: nodeID, chat: advertised.chat, http: advertised.http, irc: ircAdvertised,
            operations: Self.advertisedOperations(configuration, chat: advertised.chat, operations: opsAddress),
            eventLoop: loops[1 % loops.count])
        announcement.withLockedValue { $0 = (announcer, announcer.start()) }
        onListening(
            NodeAddresses(
                chat: chatAddress, http: httpAddress, operations: opsAddress, tlsChat: listeners.tlsChat?.localAddress,
                https: listeners.https?.localAddress, irc: listeners.irc?.localAddress))
        let reloads = configuration.tls.map { $0.reloadOnHangup(logger: logger) }

        do {
            try? await gracefulShutdown()
            draining.withLockedValue { $0 = true }  // /readyz: out of a Kubernetes Service's endpoints too
            // Leave discovery first and keep accepting a moment, so the balancer stops sending clients here before
            // the listener closes and nobody is refused.
            let announced = announcement.withLockedValue { $0 }
            if let (announcer, task) = announced {
                try? await announcer.withdraw(task).get()
                logger.info("shutting down: draining, no new clients from the balancer")
                try? await Task.sleep(for: .nanoseconds(configuration.withdrawGrace.nanoseconds))
            }
            logger.info("shutting down: listeners closed; releasing sessions")
            await listeners.close()
            if let (announcer, _) = announced { try? await announcer.remove().get() }
            let allReleased = await self.releaseSessions(hubs: hubs, grace: configuration.shutdownGrace)
            try? await node.releaseHeldNames(on: loops[0]).get()
            node.hasher.shutdown()
            for timer in timers { timer.cancel() }
            // Forgetting the incarnation while a session is still unreleased would hide it from every reaper; in
            // that case its heartbeat is left to expire and a survivor cleans up.
            let unreleased = node.pendingReleases.withLockedValue { $0.count }
            if allReleased, unreleased == 0, redis.isConnected {
                try? await store.deregister().get()
            } else {
                logger.warning("some sessions were not released; a surviving node will clean up after this one")
            }
        }
        reloads?.cancel()
        operatorCheck.cancel()
        heartbeats.stop()
        if let (client, archiver) = archiving {
            archiver.cancel()
            await archiver.value
            client.cancel()
            await client.value
        }
        await tracer?.shutdown()  // the spans still queued, for at most 5 s
        await redis.stop()
        await acknowledgedRedis?.stop()
        try? await subscriber.stop().get()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }

    /// Says when a listed operator name is not registered (at start, and for names a reloaded configuration adds):
    /// whoever registers it first operates the server.
    private static func checkOperators(_ operators: Set<String>, store: ChatStore, logger: Logger) {
        for key in operators.sorted() {
            store.isRegistered(key: key).whenSuccess { registered in
                guard !registered else { return }
                logger.warning(
                    "an --operators name is not registered: register it now, or whoever does first operates the server",
                    metadata: ["operator": "\(key)"])
            }
        }
    }

    /// Says at start, loudly, when a primary has fewer replicas than `--ack-replicas` asks for: every message on
    /// it would be acknowledged with an `unconfirmed` warning.
    private static func checkReplicas(for acknowledged: AcknowledgedWrites, logger: Logger) {
        acknowledged.redis.firstAttempt.flatMap {
            acknowledged.redis.sendToEveryPrimary(RedisCommand("INFO", "replication"))
        }
        .whenSuccess { replies in
            let counts = replies.map { reply in
                reply.string?.split(whereSeparator: \.isNewline)
                    .first { $0.hasPrefix("connected_slaves:") }
                    .flatMap { Int($0.dropFirst("connected_slaves:".count)) } ?? 0
            }
            guard let fewest = counts.min(), fewest < acknowledged.wanted.replicas else { return }
            logger.warning(
                "a Redis primary has fewer replicas than --ack-replicas: its messages will be acknowledged as unconfirmed",
                metadata: ["redis.replicas": "\(fewest)", "ack.replicas": "\(acknowledged.wanted.replicas)"])
        }
    }

    /// The first connection attempt's outcome, or success after a few seconds (a Redis that is slow to answer is
    /// not a refusal).
    private static func firstAttempt(of redis: any RedisConnection) async -> Result<Void, any Error> {
        let outcome = redis.eventLoop.makePromise(of: Void.self)
        let settled = NIOLockedValueBox(false)
        @Sendable func settle(_ result: Result<Void, any Error>) {
            guard
                !settled.withLockedValue({ done in
                    defer { done = true }
                    return done
                })
            else { return }
            outcome.completeWith(result)
        }
        redis.firstAttempt.whenComplete { settle($0) }
        redis.eventLoop.scheduleTask(in: .seconds(6)) { settle(.success(())) }
        do { return .success(try await outcome.futureResult.get()) } catch { return .failure(error) }
    }

    /// Tells every client the node is going away and waits (bounded) until their sessions are released in Redis,
    /// so their names are free and their rooms see them leave before the process ends. Returns whether every
    /// release completed in time.
    private func releaseSessions(hubs: [LoopHub], grace: TimeAmount) async -> Bool {
        var released: [EventLoopFuture<Void>] = []
        for hub in hubs {
            let futures = try? await hub.eventLoop.submit { () -> [EventLoopFuture<Void>] in
                hub.allSessions.map { session in
                    session.shutdown()
                    return session.released.futureResult
                }
            }.get()
            released += futures ?? []
        }
        guard let loop = hubs.first?.eventLoop else { return true }
        let done = loop.makePromise(of: Bool.self)
        EventLoopFuture.andAllComplete(released, on: loop).whenComplete { _ in done.succeed(true) }
        loop.scheduleTask(in: grace) { done.succeed(false) }
        return (try? await done.futureResult.get()) ?? false
    }

    /// What to announce: --advertise (host:port of the chat port), else the listening address. Listening on all
    /// addresses, the node announces its first non-loopback IPv4 address (a container's or a host's own), and
    /// 127.0.0.1 only when it has none. The HTTP endpoint shares the chat endpoint's host.
    static func advertisedEndpoints(
        _ configuration: NodeConfiguration, chat: SocketAddress, http: SocketAddress
    )
        -> (chat: String, http: String)
    {
        let httpPort = http.port ?? configuration.httpPort
        if let advertise = configuration.advertise, let endpoint = HostPort(parsing: advertise) {
            return (endpoint.description, HostPort(host: endpoint.host, port: httpPort).description)
        }
        let host =
            ["0.0.0.0", "::", ""].contains(configuration.host)
            ? (Self.ownAddress() ?? "127.0.0.1") : configuration.host
        return (
            HostPort(host: host, port: chat.port ?? configuration.port).description,
            HostPort(host: host, port: httpPort).description
        )
    }

    /// Where the balancer can scrape this node's /metrics for its status page, or nil where it cannot: on all
    /// addresses, the chat endpoint's host; on one address, that one; on loopback, only when the chat endpoint is
    /// on loopback too (a balancer elsewhere would reach its own loopback: some other process, or nothing).
    static func advertisedOperations(
        _ configuration: NodeConfiguration, chat: String, operations: SocketAddress
    )
        -> String?
    {
        guard let port = operations.port, let chatHost = HostPort(parsing: chat)?.host else { return nil }
        let host = configuration.opsHost
        if ["0.0.0.0", "::", ""].contains(host) { return HostPort(host: chatHost, port: port).description }
        let loopback = { (host: String) in host == "localhost" || host == "::1" || host.hasPrefix("127.") }
        if loopback(host), !loopback(chatHost) { return nil }
        return HostPort(host: host, port: port).description
    }

    /// The first IPv4 address of an interface that is up and not loopback.
    static func ownAddress() -> String? {
        let devices = (try? System.enumerateDevices()) ?? []
        return devices.lazy.compactMap { device -> String? in
            guard let address = device.address, case .v4 = address, let ip = address.ipAddress,
                !ip.hasPrefix("127.")
            else { return nil }
            return ip
        }.first
    }

    static func defaultNodeID(port: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "node"
        return port == 0 ? "\(host)-\(getpid())" : "\(host):\(port)"
    }
}

extension SessionHandler {
    func shutdown() {
        apply(machine.shutdown())
    }
}

/// Redis refused the node's credentials or the node refused Redis's certificate, at start.
public struct RedisRefused: Error, CustomStringConvertible {
    public var description: String
}
