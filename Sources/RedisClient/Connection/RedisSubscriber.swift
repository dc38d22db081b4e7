import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

// One file because a subscription's life (wanted, sent, confirmed, lost on a disconnect, dropped by a shard) is one
// state machine on one connection, which both modes (plain and sharded) share.

/// One message read from a subscribed channel.
public struct PubSubMessage: Sendable {
    public var channel: String
    public var payload: [UInt8]
}

/// The pub/sub connection. It keeps the set of channels it should be subscribed to and restores them after every
/// reconnect, so callers only say what they want. All of its state lives on `eventLoop`: call it from there.
///
/// Messages are handed on in batches, one per socket read, so a burst costs one hop per event loop downstream
/// instead of one per message.
public final class RedisSubscriber: RedisPubSub, @unchecked Sendable {
    public let eventLoop: any EventLoop
    private let address: RedisAddress
    /// When set, the sentinels name where to connect before every connection (see `RedisSentinel`).
    private let sentinel: RedisSentinel?
    private let logger: Logger
    private let pingTimeout: TimeAmount

    /// Receives each batch of messages, on `eventLoop`.
    public var onMessages: ([PubSubMessage]) -> Void = { _ in }
    /// Told of channels subscribed again after a reconnect: whatever was published to them meanwhile was missed.
    public var onResubscribed: (String) -> Void = { _ in }
    /// Sharded mode: told of a channel the server dropped by itself (an unasked `sunsubscribe`: its slot moved to
    /// another shard, or this one stopped serving it) and of a slot a refused `SSUBSCRIBE` named in its MOVED. The
    /// channel is no longer subscribed here; the owner of the routing moves it (`RedisShardedSubscriber`).
    var onDropped: (String) -> Void = { _ in }
    var onRedirected: (Redirect) -> Void = { _ in }
    /// Sharded mode: the connection to this member was lost (it may have failed: its slots may have a new owner).
    var onDisconnected: () -> Void = {}

    /// `SSUBSCRIBE` and shard channels (a Redis Cluster member) rather than `SUBSCRIBE`.
    let sharded: Bool
    private var subscribeCommand: String { sharded ? "SSUBSCRIBE" : "SUBSCRIBE" }

    private var channel: (any Channel)?
    /// Why this side closed the current connection, if it did (for the log when it is lost).
    fileprivate var closedBecause: String?
    private var wanted: Set<String> = []
    private var confirmed: Set<String> = []
    /// Channels that were confirmed before the connection dropped: their next confirmation is a re-subscription.
    /// (Sharded: also channels moved here from another shard, which missed what was published during the move.)
    private var lostOnDisconnect: Set<String> = []
    /// Sharded: SUNSUBSCRIBEs sent and not yet confirmed, per channel, so that a confirmation arriving after the
    /// channel was subscribed again is not taken for the server dropping it.
    private var askedUnsubscribes: [String: Int] = [:]
    private var waiters: [String: [EventLoopPromise<Void>]] = [:]
    /// The callers of the `barrier` PING in flight on the current connection (at most one is), and of the next,
    /// sent when it is answered: however many clients ping, one PING at a time per connection.
    private var barrierInFlight: [EventLoopPromise<Void>]?
    private var nextBarrier: [EventLoopPromise<Void>] = []
    private var backoff = Backoff()
    private var stopped = false
    private var started = false
    /// From `start` until the first connection attempt has ended.
    private var firstAttemptPending = false

    /// `sharded`: shard channels (`SSUBSCRIBE`), which the chat publishes with `SPUBLISH` on one Redis as on a
    /// cluster member.
    public init(
        address: RedisAddress, eventLoop: any EventLoop, pingTimeout: TimeAmount = .seconds(3), logger: Logger,
        sharded: Bool = false, sentinel: RedisSentinel? = nil
    ) {
        self.sentinel = sentinel
        self.address = address
        self.eventLoop = eventLoop
        self.pingTimeout = pingTimeout
        self.logger = logger
        self.sharded = sharded
    }

    private let connectedFlag = Atomic<Bool>(false)

    /// Safe from any thread (for health checks).
    public var isConnected: Bool { connectedFlag.load(ordering: .relaxed) }

    public func start() {
        func begin() {
            guard !started else { return }
            started = true
            firstAttemptPending = true
            connect()
        }
        // On the loop already (a shard's subscriber made while subscribing), at once: the subscription that
        // follows waits for the first connection instead of failing.
        if eventLoop.inEventLoop { begin() } else { eventLoop.execute { begin() } }
    }

    public func stop() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            self.stopped = true
            self.failWaiters(RedisError(.unavailable, "subscriber stopped"))
            return self.channel?.close() ?? self.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Subscribes (idempotently); the future completes once Redis has confirmed, so nothing published after it can be
    /// missed. Fails at once while disconnected, but the channel stays wanted until `unsubscribe`.
    public func subscribe(_ name: String) -> EventLoopFuture<Void> { subscribe(name, missedSome: false) }

    /// `missedSome`: report the channel through `onResubscribed` once confirmed (it moved here from another shard).
    func subscribe(_ name: String, missedSome: Bool) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if confirmed.contains(name) { return eventLoop.makeSucceededVoidFuture() }
        if missedSome { lostOnDisconnect.insert(name) }
        let inserted = wanted.insert(name).inserted
        guard let channel else {
            // The first connection under way (a shard's subscriber just made): the channel goes with it.
            guard firstAttemptPending else {
                return eventLoop.makeFailedFuture(RedisError(.unavailable, "pub/sub connection to \(address) is down"))
            }
            let promise = eventLoop.makePromise(of: Void.self)
            waiters[name, default: []].append(promise)
            return promise.futureResult
        }
        let promise = eventLoop.makePromise(of: Void.self)
        waiters[name, default: []].append(promise)
        if inserted { send([subscribeCommand, name], on: channel) }
        return promise.futureResult
    }

    public func unsubscribe(_ name: String) {
        eventLoop.preconditionInEventLoop()
        guard wanted.remove(name) != nil else { return }
        confirmed.remove(name)
        lostOnDisconnect.remove(name)
        if let promises = waiters.removeValue(forKey: name) {
            for promise in promises { promise.fail(RedisError(.unavailable, "unsubscribed before confirmation")) }
        }
        guard let channel else { return }
        if sharded { askedUnsubscribes[name, default: 0] += 1 }
        send([sharded ? "SUNSUBSCRIBE" : "UNSUBSCRIBE", name], on: channel)
    }

    /// A `PING barrier` on the pub/sub connection: Redis answers it after every message it pushed here before, and
    /// the handler hands those on before it completes this. At once while disconnected: nothing is on its way then.
    /// Callers that come while one is in flight share the next one (it must be sent after they came).
    public func barrier() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        guard let channel else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        if barrierInFlight == nil {
            barrierInFlight = [promise]
            send(["PING", Self.barrierToken], on: channel)
        } else {
            nextBarrier.append(promise)
        }
        return promise.futureResult
    }

    fileprivate static let barrierToken = "barrier"

    fileprivate func barrierAnswered() {
        guard let answered = barrierInFlight else { return }
        barrierInFlight = nil
        if !nextBarrier.isEmpty, let channel {
            barrierInFlight = nextBarrier
            nextBarrier = []
            send(["PING", Self.barrierToken], on: channel)
        }
        for promise in answered { promise.succeed() }
    }

    public var subscriptionCount: Int {
        eventLoop.preconditionInEventLoop()
        return wanted.count
    }

    private func send(_ arguments: [String], on channel: any Channel) {
        var buffer = channel.allocator.buffer(capacity: 32)
        RedisCommand(arguments).write(into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func connect() {
        guard !stopped else { return }
        let tls = try? address.tlsContext()
        if address.tls, tls == nil {  // the command connection says why
            if firstAttemptPending {
                firstAttemptPending = false
                failWaiters(RedisError(.tls, "pub/sub to \(address): no TLS context"))
            }
            return scheduleReconnect()
        }
        let located =
            sentinel.map { $0.primary(on: eventLoop, timeout: pingTimeout, startingAt: backoff.attempt) }
            ?? eventLoop.makeSucceededFuture(address)
        located.flatMap { address in self.open(address, tls: tls) }
            .whenComplete { result in
                let first = self.firstAttemptPending
                self.firstAttemptPending = false
                switch result {
                case .success(let channel): self.connected(channel)
                case .failure:
                    if first {
                        self.failWaiters(
                            RedisError(
                                .unavailable,
                                "pub/sub connection to \(self.sentinel.map { "\($0)" } ?? "\(self.address)") failed"))
                    }
                    self.scheduleReconnect()
                }
            }
    }

    private func open(_ address: RedisAddress, tls: NIOSSLContext?) -> EventLoopFuture<any Channel> {
        let pingTimeout = self.pingTimeout
        return address.connect(on: eventLoop, tls: tls) {
            SubscriberHandler(subscriber: self, pingTimeout: pingTimeout)
        }
    }

    private func connected(_ channel: any Channel) {
        guard !stopped else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        closedBecause = nil
        connectedFlag.store(true, ordering: .relaxed)
        backoff.reset()
        logger.info(
            "redis pub/sub connected", metadata: ["redis.address": "\(sentinel.map { "\($0)" } ?? "\(address)")"])
        if let authentication = address.authentication { send(authentication, on: channel) }
        // Everything wanted, in chunks, so a node with many rooms does not build one enormous command; sharded, one
        // slot per call (channels of several slots in one SSUBSCRIBE are refused with CROSSSLOT).
        let groups = sharded ? Array(Dictionary(grouping: wanted, by: { HashSlot(key: $0) }).values) : [Array(wanted)]
        for names in groups {
            for start in stride(from: 0, to: names.count, by: 512) {
                send([subscribeCommand] + names[start..<min(start + 512, names.count)], on: channel)
            }
        }
        channel.closeFuture.whenComplete { _ in self.disconnected(channel) }
    }

    private func disconnected(_ channel: any Channel) {
        guard self.channel === channel else { return }
        self.channel = nil
        connectedFlag.store(false, ordering: .relaxed)
        lostOnDisconnect.formUnion(confirmed)
        confirmed.removeAll()
        askedUnsubscribes.removeAll()
        failWaiters(RedisError(.unavailable, "pub/sub connection to \(address) lost"))
        // Nothing more comes on that connection: whatever waited behind it has all there will be.
        let answered = (barrierInFlight ?? []) + nextBarrier
        barrierInFlight = nil
        nextBarrier = []
        for promise in answered { promise.succeed() }
        guard !stopped else { return }
        logger.warning(
            "redis pub/sub connection lost; reconnecting",
            metadata: [
                "redis.address": "\(address)",
                "redis.reason": "\(closedBecause ?? "closed by the server or the network")",
            ])
        closedBecause = nil
        scheduleReconnect()
        onDisconnected()
    }

    private func scheduleReconnect() {
        guard !stopped else { return }
        eventLoop.scheduleTask(in: .milliseconds(backoff.next())) { self.connect() }
    }

    private func failWaiters(_ error: RedisError) {
        let all = waiters
        waiters.removeAll()
        for promises in all.values { for promise in promises { promise.fail(error) } }
    }

    fileprivate func didConfirm(_ name: String) {
        guard wanted.contains(name) else { return }  // an unsubscribe overtook it
        confirmed.insert(name)
        if let promises = waiters.removeValue(forKey: name) { for promise in promises { promise.succeed() } }
        if lostOnDisconnect.remove(name) != nil { onResubscribed(name) }
    }

    /// Whether the connection must be dropped for it: a refusal (NOPERM, NOAUTH, ...) yes; a sharded channel's
    /// MOVED no: the routing above moves the channel. (CROSSSLOT cannot happen: one slot per SSUBSCRIBE.)
    fileprivate func refused(_ message: String) -> Bool {
        if sharded, let redirect = Redirect(message) {
            onRedirected(redirect)
            return false
        }
        logger.error("redis refused a pub/sub command", metadata: ["redis.error": "\(message)"])
        return true
    }

    /// A refused `SSUBSCRIBE` (MOVED: this shard does not serve the slot, or not yet, in the middle of a migration):
    /// its channels are no longer wanted here and their waiters fail; the names go back to the caller to be placed
    /// where the map says. Left wanted, they would sit unconfirmed for good when the map already names this shard.
    func dropRefused(slot: Int) -> [String] {
        eventLoop.preconditionInEventLoop()
        let refused = wanted.filter { !confirmed.contains($0) && HashSlot(key: $0).value == slot }
        for name in refused {
            wanted.remove(name)
            lostOnDisconnect.remove(name)
            for promise in waiters.removeValue(forKey: name) ?? [] {
                promise.fail(RedisError(.unavailable, "\(name): its slot is moving between shards"))
            }
        }
        return Array(refused)
    }

    /// An `sunsubscribe` for a channel still wanted was not asked for: the server dropped it.
    fileprivate func serverUnsubscribed(_ name: String) {
        guard sharded else { return }
        if let asked = askedUnsubscribes[name] {
            askedUnsubscribes[name] = asked > 1 ? asked - 1 : nil
            return
        }
        guard wanted.remove(name) != nil else { return }
        confirmed.remove(name)
        lostOnDisconnect.remove(name)
        if let promises = waiters.removeValue(forKey: name) {
            for promise in promises { promise.fail(RedisError(.unavailable, "\(name) moved to another shard")) }
        }
        onDropped(name)
    }

    fileprivate func deliver(_ batch: [PubSubMessage]) {
        onMessages(batch)
    }
}

/// Reads pub/sub pushes; a batch ends where the socket read ends. It also PINGs: a Redis that stays silent past the
/// timeout (hung, or a cut link that TCP has not noticed) gets its connection dropped and re-made instead of leaving
/// every room deaf.
private final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = RedisValue
    typealias OutboundOut = ByteBuffer
    let subscriber: RedisSubscriber
    private let pingTimeout: TimeAmount
    /// Since the last push or reply, counted only while this loop was free to read (see `SilenceClock`).
    private var silence: SilenceClock
    private var pinger: RepeatedTask?
    private var batch: [PubSubMessage] = []

    init(subscriber: RedisSubscriber, pingTimeout: TimeAmount) {
        self.subscriber = subscriber
        self.pingTimeout = pingTimeout
        self.silence = SilenceClock(tick: .nanoseconds(pingTimeout.nanoseconds / 3))
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        silence = SilenceClock(tick: silence.tick)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: silence.tick, delay: silence.tick) { _ in
            let (handler, context) = bound.value
            handler.ping(context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        context.fireChannelInactive()
    }

    private func ping(context: ChannelHandlerContext) {
        let silent = silence.silence()
        guard silent <= pingTimeout else {
            subscriber.closedBecause = "no reply to PING for \(silent.nanoseconds / 1_000_000) ms"
            pinger?.cancel()
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 16)
        RedisCommand("PING").write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        silence.heard()
        let value = unwrapInboundIn(data)
        // A connection subscribed to nothing (or speaking RESP3) answers PING as a plain reply, not a push.
        if case .bulk = value, value.string == RedisSubscriber.barrierToken { return barrierAnswered() }
        if case .error(let message) = value {
            // A refused SUBSCRIBE (NOPERM, NOAUTH, ...) must not leave a join waiting for a confirmation that
            // never comes: drop the connection, which fails every waiter, and let the reconnect try again.
            if subscriber.refused(message) {
                subscriber.closedBecause = "refused: \(message.prefix(200))"
                context.close(promise: nil)
            }
            return
        }
        guard case .array(let parts) = value, let kind = parts.first?.string else { return }
        switch kind {
        case "message" where parts.count == 3, "smessage" where parts.count == 3:
            guard let name = parts[1].string, case .bulk(let payload) = parts[2] else { return }
            batch.append(PubSubMessage(channel: name, payload: payload))
        case "subscribe" where parts.count == 3, "ssubscribe" where parts.count == 3:
            if let name = parts[1].string { subscriber.didConfirm(name) }
        case "sunsubscribe" where parts.count == 3:
            if let name = parts[1].string { subscriber.serverUnsubscribed(name) }
        case "pong" where parts.count == 2 && parts[1].string == RedisSubscriber.barrierToken:
            barrierAnswered()
        default:
            break  // unsubscribe confirmations and PONGs need nothing more
        }
    }

    /// What came before the barrier's reply is handed on first: its waiters count on it.
    private func barrierAnswered() {
        if !batch.isEmpty {
            let delivered = batch
            batch.removeAll(keepingCapacity: true)
            subscriber.deliver(delivered)
        }
        subscriber.barrierAnswered()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !batch.isEmpty else { return }
        let delivered = batch
        batch.removeAll(keepingCapacity: true)
        subscriber.deliver(delivered)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        subscriber.closedBecause = "\(error)"
        context.close(promise: nil)
    }
}
