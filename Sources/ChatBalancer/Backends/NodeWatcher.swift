import ChatCore
import ChatStore
import Endpoints
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisClient

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the pool true: reads Redis discovery (when configured) and probes every known node.
///
/// - Discovery: every `discoveryInterval` it reads `chat:endpoints` and each `chat:endpoint:<incarnation>`; a node
///   appears as soon as it announces itself and disappears when its announcement expires (1.5 s) or is withdrawn.
/// - Probes: every `healthInterval` each node's chat port must answer (its greeting) within the interval, or the
///   node leaves the rotation until it answers again; one that discovery no longer lists is then forgotten. A
///   refused client connection takes a node out at once (in `ProxyListener`).
final class NodeWatcher: Sendable {
    private let pool: BackendPool
    private let configuration: BalancerConfiguration
    private let eventLoop: any EventLoop
    private let logger: Logger
    /// The discovery connection, when nodes are discovered in Redis; the status page reads INFO over it.
    let redis: (any RedisConnection)?
    /// Whether the last discovery found Redis unreachable after having read it, so the outage is logged once.
    private let redisWasDown = NIOLockedValueBox(false)
    private let redisEverRead = NIOLockedValueBox(false)
    private let uptime = NIOLockedValueBox(0)
    /// Where discovery reads, for logs (never a password).
    private let redisDescription: String
    /// The network's bans, read with discovery every `banReadTicks` ticks: connections from a banned address are
    /// refused here, before any node spends anything on them (docs/moderation.md).
    private let networkBans = NIOLockedValueBox(NetworkBans())
    private let discoveryTicks = NIOLockedValueBox(0)
    static let banReadTicks = 8

    init(pool: BackendPool, configuration: BalancerConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        switch configuration.nodes {
        case .fixed(let endpoints):
            pool.replace(with: endpoints)
            redis = nil
            redisDescription = "-"
        case .redis(let deployment):
            redis = deployment.makeConnection(eventLoop: eventLoop, logger: logger)
            redisDescription = deployment.description
        }
    }

    func start() -> [RepeatedTask] {
        var tasks: [RepeatedTask] = []
        if let redis {
            redis.start()
            tasks.append(
                eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: configuration.discoveryInterval) { _ in
                    self.discover(redis)
                })
        }
        tasks.append(
            eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: configuration.healthInterval) { _ in
                self.probeAll()
            })
        return tasks
    }

    func stop() async {
        await redis?.stop()
    }

    /// The network ban in force for a client's address, if any.
    func ban(forAddress address: String) -> RoomBan? {
        networkBans.withLockedValue { $0 }.ban(
            for: nil, address: address, now: Millis((Date().timeIntervalSince1970 * 1000).rounded()))
    }

    /// Whether discovery can currently read Redis (always true for a fixed list).
    var discoveryHealthy: Bool { redis?.isConnected ?? true }

    private func discover(_ redis: any RedisConnection) {
        guard redis.isConnected else {
            // At start the connection may simply not be up yet; say so only if it stays down.
            let startingUp = !redisEverRead.withLockedValue { $0 }
            if startingUp,
                uptime.withLockedValue({
                    $0 += 1
                    return $0
                }) < 8
            {
                return
            }
            if !redisWasDown.withLockedValue({ $0 }) {
                redisWasDown.withLockedValue { $0 = true }
                logger.error(
                    "cannot reach Redis for node discovery; keeping the last known nodes and retrying",
                    metadata: ["redis.address": "\(redisDescription)"])
            }
            return
        }
        redisEverRead.withLockedValue { $0 = true }
        if redisWasDown.withLockedValue({ $0 }) {
            redisWasDown.withLockedValue { $0 = false }
            logger.info("node discovery reads Redis again", metadata: ["redis.address": "\(redisDescription)"])
        }
        if discoveryTicks.withLockedValue({ ticks in
            defer { ticks += 1 }
            return ticks % Self.banReadTicks == 0
        }) {
            redis.send("HGETALL", ChatKeys.networkBans).whenSuccess { reply in
                let bans = NetworkBans(
                    ChatStore.networkBans(from: reply, now: Millis((Date().timeIntervalSince1970 * 1000).rounded())))
                self.networkBans.withLockedValue { $0 = bans }
            }
        }
        redis.send("SMEMBERS", ChatKeys.endpoints).flatMap { reply -> EventLoopFuture<[Announcement]> in
            let incarnations = (reply.array ?? []).compactMap(\.string)
            guard !incarnations.isEmpty else { return self.eventLoop.makeSucceededFuture([]) }
            // One GET per node, pipelined (one write, one round trip): on a Redis Cluster the endpoint keys live in
            // different slots, which one MGET may not span.
            let reads = incarnations.map { redis.send("GET", ChatKeys.endpoint($0)) }
            return EventLoopFuture.whenAllSucceed(reads, on: self.eventLoop).map { values in
                var found: [Announcement] = []
                var expired: [String] = []
                for (incarnation, value) in zip(incarnations, values) {
                    if let announcement = value.string.flatMap(Self.parseAnnouncement) {
                        found.append(announcement)
                    } else {
                        expired.append(incarnation)
                    }
                }
                if !expired.isEmpty { _ = redis.send(RedisCommand(["SREM", ChatKeys.endpoints] + expired)) }
                return found
            }
        }.whenSuccess { announcements in
            let changes = self.pool.discovered(
                announced: announcements.filter { !$0.draining }.map(\.endpoint),
                draining: announcements.filter(\.draining).map(\.endpoint))
            for node in changes.added { self.logger.info("node discovered", metadata: ["node": "\(node)"]) }
            for node in changes.drained {
                self.logger.info("node draining: no new clients", metadata: ["node": "\(node)"])
            }
        }
    }

    struct Announcement {
        var endpoint: NodeEndpoint
        var draining: Bool
    }

    /// "<node id> <chat host:port> <http host:port> [irc=<host:port>] [ops=<host:port>]", with " draining" after it
    /// once the node is shutting down. Options of a later version (`name=value`) are skipped, so nodes can be
    /// upgraded after balancers. (A balancer from before the options reads only three fields: upgrade balancers
    /// before nodes.)
    static func parseAnnouncement(_ value: String) -> Announcement? {
        var fields = value.split(separator: " ")
        let draining = fields.last == "draining"
        if draining { fields.removeLast() }
        var options: [Substring: Substring] = [:]
        while fields.count > 3, let last = fields.last, let equals = last.firstIndex(of: "=") {
            options[last[..<equals]] = last[last.index(after: equals)...]
            fields.removeLast()
        }
        func endpoint(_ key: Substring) -> (valid: Bool, value: HostPort?) {
            guard let text = options[key] else { return (true, nil) }
            guard let parsed = HostPort(parsing: text), parsed.port != 0 else { return (false, nil) }
            return (true, parsed)
        }
        let irc = endpoint("irc")
        // A bad operations address costs the status page its figures, not the node its clients: it is ignored.
        let operations = endpoint("ops")
        // Port 0 would parse, but a node announces the ports it is bound to, never 0.
        // An option where an endpoint belongs is a malformed announcement, not a host named "ops=...".
        guard irc.valid, fields.count == 3, !fields[1...].contains(where: { $0.contains("=") }),
            let chat = HostPort(parsing: fields[1]),
            let http = HostPort(parsing: fields[2]), chat.port != 0, http.port != 0
        else { return nil }
        return Announcement(
            endpoint: NodeEndpoint(
                name: String(fields[0]), chat: chat, http: http, irc: irc.value, operations: operations.value),
            draining: draining)
    }

    /// A node is alive when its chat port answers with its first bytes (the greeting) within the interval: a
    /// bare TCP accept would also succeed for a frozen process, whose kernel still completes handshakes. A connection
    /// refused takes it out at once; one accepted without a greeting, or not made in time, only after a few in a row
    /// (`BackendPool.silentProbesToFall`).
    private func probeAll() {
        for endpoint in pool.endpoints {
            let answered = eventLoop.makePromise(of: Void.self)
            let sendProxy = configuration.sendProxy
            ClientBootstrap(group: eventLoop)
                .connectTimeout(configuration.healthInterval)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            FirstBytes(answered: answered, sendProxy: sendProxy))
                    }
                }
                .connect(host: endpoint.chat.host, port: endpoint.chat.port)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        channel.eventLoop.scheduleTask(in: self.configuration.healthInterval) {
                            answered.fail(ProbeTimeout())
                        }
                        answered.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    case .failure(let error):
                        answered.fail(error)
                    }
                }
            answered.futureResult.whenComplete { result in
                let probe: BackendPool.Probe
                switch result {
                case .success: probe = .answered
                // A node that took the connection and did not greet is busy, and so is one whose connect did not
                // complete in time: a storm fills a node's accept queue, and the kernel then drops handshakes for
                // the client to retry a second later (the CI run where every node went out at once and 81 clients
                // were refused). One that refuses (nothing listens) or cannot be reached is gone. A host cut off
                // also times out: out after the silent probes, and a fallback only when no node is healthy.
                case .failure(let error):
                    let late: Bool
                    if case ChannelError.connectTimeout = error { late = true } else { late = error is ProbeTimeout }
                    probe = late ? .silent : .refused
                }
                let alive = probe == .answered
                let outcome = self.pool.probed(endpoint, probe)
                guard outcome.changed else { return }
                if outcome.forgotten {
                    self.logger.info(
                        "node forgotten: gone from discovery and not answering", metadata: ["node": "\(endpoint)"])
                } else if alive {
                    self.logger.info("node back in rotation", metadata: ["node": "\(endpoint)"])
                } else {
                    self.logger.warning("node out of rotation: probe failed", metadata: ["node": "\(endpoint)"])
                }
            }
        }
    }
}

private struct ProbeTimeout: Error {}

extension NodeWatcher {
    /// Whether a client's connection to a node was refused (nothing listens: the process is gone), rather than slow
    /// to complete (a node whose accept queue a storm filled).
    static func isRefusal(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        if let error = error as? NIOConnectionError {
            return !error.connectionErrors.isEmpty && error.connectionErrors.allSatisfy { isRefusal($0.error) }
        }
        return false
    }
}

/// Completes the probe on the first bytes the node sends. With the PROXY protocol it first says
/// `PROXY UNKNOWN`, which nodes accept without counting it against any client address.
private final class FirstBytes: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let answered: EventLoopPromise<Void>
    private let sendProxy: Bool

    init(answered: EventLoopPromise<Void>, sendProxy: Bool) {
        self.answered = answered
        self.sendProxy = sendProxy
    }

    func channelActive(context: ChannelHandlerContext) {
        if sendProxy {
            context.writeAndFlush(NIOAny(ByteBuffer(string: ProxyHeader.unknown.line)), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answered.succeed()
    }

    func channelInactive(context: ChannelHandlerContext) {
        answered.fail(ProbeTimeout())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answered.fail(error)
        context.close(promise: nil)
    }
}
