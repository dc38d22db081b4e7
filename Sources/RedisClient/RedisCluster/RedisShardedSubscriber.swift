import Endpoints
import Logging
import NIOCore
import Synchronization

/// Sharded pub/sub on a Redis Cluster: each shard channel is subscribed (`SSUBSCRIBE`) on the primary that owns
/// its slot, through one `RedisSubscriber` per primary, and moved when the slot moves. Other libraries' known
/// failure is messages that silently stop after a reshard or a failover; here:
///
/// - an unasked `sunsubscribe` (the slot migrated) or a MOVED to an `SSUBSCRIBE` makes it read the map again and
///   subscribe the channel where its slot now lives;
/// - every second it compares each channel's shard with the map (which `RedisClusterClient` keeps fresh): after a
///   failover the promoted replica's address differs from the dead primary's, and the channel moves there;
/// - a channel subscribed again anywhere (a move, or a reconnect) is reported through `onResubscribed`, so the
///   caller reads what it missed from history, as it does after a reconnect to one Redis.
///
/// Channels are never subscribed on replicas, although Redis allows it: a cluster sends `SPUBLISH` to a shard's
/// replicas over the cluster bus, best effort (a link being rebuilt drops messages, and nothing tells the
/// subscriber), whereas a primary's subscribers get every message it published.
///
/// All of its state lives on `eventLoop`; call it from there.
public final class RedisShardedSubscriber: RedisPubSub, @unchecked Sendable {
    public let eventLoop: any EventLoop
    private let cluster: RedisClusterClient
    private let template: RedisAddress
    private let pingTimeout: TimeAmount
    private let logger: Logger

    public var onMessages: ([PubSubMessage]) -> Void = { _ in }
    public var onResubscribed: (String) -> Void = { _ in }

    private var subscribers: [HostPort: RedisSubscriber] = [:]
    /// Each wanted channel and the primary it is subscribed on (nil while its slot has no known owner).
    private var homes: [String: HostPort?] = [:]
    private var checker: RepeatedTask?
    private var stopped = false

    static let checkInterval = TimeAmount.seconds(1)

    public init(
        cluster: RedisClusterClient, template: RedisAddress, eventLoop: any EventLoop,
        pingTimeout: TimeAmount = .seconds(3), logger: Logger
    ) {
        self.cluster = cluster
        self.template = template
        self.eventLoop = eventLoop
        self.pingTimeout = pingTimeout
        self.logger = logger
    }

    public func start() {
        eventLoop.execute {
            self.checker = self.eventLoop.scheduleRepeatedTask(
                initialDelay: Self.checkInterval, delay: Self.checkInterval
            ) {
                _ in
                // Channels whose shard is unreachable: the map is read again each second until it names their new
                // owner (a failover takes a few seconds to be decided); otherwise the map in hand is compared.
                if self.isConnected { self.rehome() } else { self.refreshThenRehome() }
            }
        }
    }

    public func stop() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            self.stopped = true
            self.checker?.cancel()
            let all = self.subscribers.values.map { $0.stop() }
            self.subscribers = [:]
            return EventLoopFuture.andAllComplete(all, on: self.eventLoop)
        }
    }

    /// Whether every wanted channel is subscribed on a connected primary, as of the last check (at most a second
    /// old). Safe from any thread (for health checks).
    public var isConnected: Bool { connectedFlag.load(ordering: .relaxed) }
    private let connectedFlag = Atomic<Bool>(true)

    /// Subscribes on the shard that owns the channel's slot; completes once that shard confirmed.
    public func subscribe(_ name: String) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if let home = homes[name] ?? nil, let subscriber = subscribers[home] { return subscriber.subscribe(name) }
        // Dropped by its old shard and not yet followed (`dropped`): whatever was published meanwhile was missed,
        // so the new subscription reports itself (`onResubscribed`) as `rehome` would have.
        let homeless = homes[name] != nil
        guard let owner = owner(of: name) else {
            homes[name] = .some(nil)
            _ = cluster.refresh()
            return eventLoop.makeFailedFuture(RedisError(.unavailable, "no shard serves \(name) right now"))
        }
        homes[name] = owner
        return subscriber(for: owner).subscribe(name, missedSome: homeless)
    }

    /// Every shard's connection: a room's messages come on its shard's.
    public func barrier() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        let all = subscribers.values.map { $0.barrier() }
        return EventLoopFuture.andAllComplete(all, on: eventLoop)
    }

    public func unsubscribe(_ name: String) {
        eventLoop.preconditionInEventLoop()
        guard let home = homes.removeValue(forKey: name) else { return }
        if let home { subscribers[home]?.unsubscribe(name) }
    }

    private func owner(of name: String) -> HostPort? {
        cluster.slotMap.flatMap { home(of: name, in: $0) }
    }

    /// Where a channel is to be subscribed, by the map: its shard's primary.
    private func home(of name: String, in map: SlotMap) -> HostPort? {
        map.shard(for: HashSlot(key: name))?.primary?.address
    }

    private func subscriber(for address: HostPort) -> RedisSubscriber {
        if let subscriber = subscribers[address] { return subscriber }
        let member = template.member(at: address)
        let subscriber = RedisSubscriber(
            address: member, eventLoop: eventLoop, pingTimeout: pingTimeout, logger: logger, sharded: true)
        subscriber.onMessages = { [weak self] batch in self?.onMessages(batch) }
        subscriber.onResubscribed = { [weak self] name in self?.onResubscribed(name) }
        subscriber.onDropped = { [weak self] name in self?.dropped(name) }
        subscriber.onRedirected = { [weak self] redirect in self?.redirected(redirect, at: address) }
        // A member gone may have failed over: read the map (the command side may not be asking, on a node whose
        // clients only listen there) rather than wait for its next periodic reading.
        subscriber.onDisconnected = { [weak self] in self?.refreshThenRehome() }
        subscribers[address] = subscriber
        if !stopped { subscriber.start() }
        return subscriber
    }

    /// The server dropped `name` (its slot moved): it is no longer subscribed anywhere until the map says where.
    private func dropped(_ name: String) {
        guard homes[name] != nil else { return }
        homes[name] = .some(nil)
        logger.info("redis shard channel moved; following it", metadata: ["redis.channel": "\(name)"])
        refreshThenRehome()
    }

    /// A shard refused channels of a slot (MOVED): they are homeless until the map is read again, then subscribed
    /// where it says, even on this same shard once it owns the slot, and reported as resubscribed (what was
    /// published meanwhile is read from history).
    /// Mid-migration the members disagree for a while (the map may name a shard that still refuses): the map is
    /// read at once for the first refusal, then by the checker, once a second, not once per refusal.
    private func redirected(_ redirect: Redirect, at address: HostPort) {
        for name in subscribers[address]?.dropRefused(slot: redirect.slot) ?? [] where homes[name] == address {
            homes[name] = .some(nil)
        }
        let now = NIODeadline.now()
        guard now - lastRedirectRefresh >= Self.checkInterval else { return }
        lastRedirectRefresh = now
        refreshThenRehome()
    }

    private var lastRedirectRefresh = NIODeadline.uptimeNanoseconds(0)

    /// Many channels of one slot dropped at once ask once: one reading, one pass.
    private var rehomeScheduled = false

    private func refreshThenRehome() {
        guard !rehomeScheduled else { return }
        rehomeScheduled = true
        cluster.refresh().hop(to: eventLoop).whenComplete { _ in
            self.rehomeScheduled = false
            self.rehome()
        }
    }

    /// Moves every channel whose slot now lives on another primary (or had none), and reports each moved channel
    /// as subscribed again once its new shard confirms. Subscribers of members that no longer own anything go.
    private func rehome() {
        defer {
            let connected = homes.values.allSatisfy { home in home.flatMap { subscribers[$0]?.isConnected } ?? false }
            connectedFlag.store(connected, ordering: .relaxed)
        }
        guard !stopped, let map = cluster.slotMap else { return }
        for (name, home) in homes {
            guard let owner = self.home(of: name, in: map), owner != home else { continue }
            if let home { subscribers[home]?.unsubscribe(name) }
            homes[name] = owner
            // Reported once the new shard confirms, whenever that is (its connection may still be coming up).
            _ = subscriber(for: owner).subscribe(name, missedSome: true)
        }
        let used = Set(homes.values.compactMap { $0 })
        for (address, subscriber) in subscribers where !used.contains(address) && subscriber.subscriptionCount == 0 {
            subscribers[address] = nil
            _ = subscriber.stop()
        }
    }
}
