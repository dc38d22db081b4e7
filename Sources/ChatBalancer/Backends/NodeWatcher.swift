import ChatRedis
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Keeps the pool true: reads Redis discovery (when configured) and probes every known node.
///
/// - Discovery: every `discoveryInterval` it reads `chat:endpoints` and each `chat:endpoint:<incarnation>`; a node
///   appears as soon as it announces itself and disappears when its announcement expires (1.5 s) or is withdrawn.
/// - Probes: every `healthInterval` a TCP connect to each node's HTTP port; a node that does not accept within the
///   interval is taken out of rotation, and put back when it accepts again. A refused client connection takes it
///   out at once (in `ProxyListener`).
final class NodeWatcher: Sendable {
    private let pool: BackendPool
    private let configuration: BalancerConfiguration
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let redis: RedisClient?
    /// Whether the last discovery found Redis unreachable after having read it, so the outage is logged once.
    private let redisWasDown = NIOLockedValueBox(false)
    private let redisEverRead = NIOLockedValueBox(false)
    private let uptime = NIOLockedValueBox(0)

    init(pool: BackendPool, configuration: BalancerConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        switch configuration.nodes {
        case .fixed(let endpoints):
            pool.replace(with: endpoints)
            redis = nil
        case .redis(let address):
            redis = RedisClient(address: address, eventLoop: eventLoop, logger: logger)
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

    /// Whether discovery can currently read Redis (always true for a fixed list).
    var discoveryHealthy: Bool { redis?.isConnected ?? true }

    private func discover(_ redis: RedisClient) {
        guard redis.isConnected else {
            // At start the connection may simply not be up yet; say so only if it stays down.
            let startingUp = !redisEverRead.withLockedValue { $0 }
            if startingUp, uptime.withLockedValue({ $0 += 1; return $0 }) < 8 { return }
            if !redisWasDown.withLockedValue({ $0 }) {
                redisWasDown.withLockedValue { $0 = true }
                logger.error(
                    "cannot reach Redis for node discovery; keeping the last known nodes and retrying",
                    metadata: ["redis.address": "\(redis.address)"])
            }
            return
        }
        redisEverRead.withLockedValue { $0 = true }
        if redisWasDown.withLockedValue({ $0 }) {
            redisWasDown.withLockedValue { $0 = false }
            logger.info("node discovery reads Redis again", metadata: ["redis.address": "\(redis.address)"])
        }
        redis.send("SMEMBERS", ClusterKeys.endpoints).flatMap { reply -> EventLoopFuture<[NodeEndpoint]> in
            let incarnations = (reply.array ?? []).compactMap(\.string)
            guard !incarnations.isEmpty else { return self.eventLoop.makeSucceededFuture([]) }
            return redis.send(RedisCommand(["MGET"] + incarnations.map(ClusterKeys.endpoint))).map { values in
                var found: [NodeEndpoint] = []
                var expired: [String] = []
                for (incarnation, value) in zip(incarnations, values.array ?? []) {
                    if let endpoint = value.string.flatMap(Self.parseAnnouncement) {
                        found.append(endpoint)
                    } else {
                        expired.append(incarnation)
                    }
                }
                if !expired.isEmpty { _ = redis.send(RedisCommand(["SREM", ClusterKeys.endpoints] + expired)) }
                return found
            }
        }.whenSuccess { endpoints in
            let before = Set(self.pool.endpoints)
            self.pool.replace(with: endpoints)
            let after = Set(endpoints)
            for added in after.subtracting(before) { self.logger.info("node discovered", metadata: ["node": "\(added)"]) }
            for removed in before.subtracting(after) { self.logger.info("node gone from discovery", metadata: ["node": "\(removed)"]) }
        }
    }

    /// "<node id> <chat host:port> <http host:port>"
    static func parseAnnouncement(_ value: String) -> NodeEndpoint? {
        let fields = value.split(separator: " ")
        guard fields.count == 3, let chat = HostPort(String(fields[1])), let http = HostPort(String(fields[2])) else {
            return nil
        }
        return NodeEndpoint(name: String(fields[0]), chat: chat, http: http)
    }

    private func probeAll() {
        for endpoint in pool.endpoints {
            ClientBootstrap(group: eventLoop)
                .connectTimeout(configuration.healthInterval)
                .connect(host: endpoint.http.host, port: endpoint.http.port)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        channel.close(promise: nil)
                        if self.pool.mark(endpoint, .up) {
                            self.logger.info("node back in rotation", metadata: ["node": "\(endpoint)"])
                        }
                    case .failure(let error):
                        if self.pool.mark(endpoint, .down) {
                            self.logger.warning(
                                "node out of rotation: probe failed",
                                metadata: ["node": "\(endpoint)", "error": "\(error)"])
                        }
                    }
                }
        }
    }
}
