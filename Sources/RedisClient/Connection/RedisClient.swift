// One file (about 310 lines) because queueing, the pipelined flush, the handshake and reconnecting share one
// locked state: a command's path from `send` to its reply is read top to bottom here.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A command connection to Redis that pipelines: every command queued while a flush is pending goes out in the same
/// write and one syscall, so many sessions' requests share one round trip. It reconnects by itself with capped
/// backoff; while it is down, commands fail at once with `.unavailable` instead of waiting, so users hear about it.
public final class RedisClient: Sendable {
    public let eventLoop: any EventLoop
    public let address: RedisAddress
    /// When set, the sentinels name the address to connect to, before every connection (`address` then gives the
    /// credentials, database and TLS settings).
    let sentinel: RedisSentinel?
    private let logger: Logger
    private let commandTimeout: TimeAmount
    private let scripts: [RedisScript]
    private let state = NIOLockedValueBox(State())
    /// Called on `eventLoop` each time a connection is ready, including the first; `reconnected` is false only then.
    private let onConnected: @Sendable (_ reconnected: Bool) -> Void
    /// Told how many commands each flush carried: the pipelining actually achieved.
    private let onFlush: @Sendable (Int) -> Void
    /// For `rediss://`; its failure to build (an unreadable CA file) fails every connect with the reason.
    private let tls: Result<NIOSSLContext?, any Error>
    private let firstAttemptDone: EventLoopPromise<Void>

    private struct State {
        var channel: (any Channel)?
        var queue: [PendingCommand] = []
        var drainScheduled = false
        var stopped = false
        var everConnected = false
        var backoff = Backoff()
        /// Why this side closed the current connection, if it did (for the log when it is lost).
        var closedBecause: String?
        var scriptSHAs: [String: String] = [:]
        var reconnects = 0
        /// Where the connection goes (with Sentinel, the primary last named).
        var connectedTo: RedisAddress?
    }

    public init(
        address: RedisAddress, eventLoop: any EventLoop, scripts: [RedisScript] = [],
        commandTimeout: TimeAmount = .seconds(3), logger: Logger,
        onConnected: @escaping @Sendable (_ reconnected: Bool) -> Void = { _ in },
        onFlush: @escaping @Sendable (Int) -> Void = { _ in }, sentinel: RedisSentinel? = nil
    ) {
        self.address = address
        self.sentinel = sentinel
        self.eventLoop = eventLoop
        self.scripts = scripts
        self.commandTimeout = commandTimeout
        self.logger = logger
        self.onConnected = onConnected
        self.onFlush = onFlush
        self.tls = Result { try address.tlsContext() }
        self.firstAttemptDone = eventLoop.makePromise()
    }

    /// Completes when the first connection attempt has ended: succeeded, or failed with why. A caller that must
    /// not run with wrong credentials (a node at start) checks `RedisClient.isRefusal` on the error; a Redis that
    /// is not up yet is worth waiting for, a password it refuses is not.
    public var firstAttempt: EventLoopFuture<Void> { firstAttemptDone.futureResult }

    /// Whether Redis (or its TLS certificate) refused us, rather than being unreachable: another attempt with the
    /// same settings would fail the same way.
    public static func isRefusal(_ error: any Error) -> Bool {
        if error is NIOSSLError || error is BoringSSLError { return true }
        guard let redis = error as? RedisError else { return false }
        if redis.code == .tls { return true }
        if redis.code == .protocolViolation, redis.message.contains("CA certificates") { return true }
        guard redis.code == .server else { return false }
        return [
            "WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password", "ERR Client sent AUTH",
            RedisSentinel.unknownServicePrefix,
        ]
        .contains { redis.message.hasPrefix($0) }
    }

    public var isConnected: Bool { state.withLockedValue { $0.channel != nil } }

    /// For logs: where the connection goes or went (with Sentinel, the primary last named, else `address`).
    private var currentAddress: String {
        sentinel.map { sentinel in
            state.withLockedValue { $0.connectedTo.map { "\($0) (\(sentinel))" } } ?? "\(sentinel)"
        }
            ?? "\(address)"
    }
    /// How many times a lost connection has been re-made.
    public var reconnectCount: Int { state.withLockedValue { $0.reconnects } }

    /// Starts connecting in the background; `send` fails with `.unavailable` until the first connection is ready.
    public func start() {
        eventLoop.execute { self.connect() }
    }

    public func stop() async {
        let channel = state.withLockedValue { state -> (any Channel)? in
            state.stopped = true
            defer { state.channel = nil }
            return state.channel
        }
        try? await channel?.close()
    }

    /// Sends one command. The future completes on `eventLoop`.
    public func send(_ command: RedisCommand) -> EventLoopFuture<RedisValue> { send(command, scriptSource: nil) }

    /// `asking`: preceded by ASKING on the same connection, in the same write (a Redis Cluster slot being migrated
    /// here answers the next command only after it; see `RedisClusterClient`).
    func send(
        _ command: RedisCommand, scriptSource: String?, asking: Bool = false,
        acknowledgement: PendingAcknowledgement? = nil
    ) -> EventLoopFuture<RedisValue> {
        let promise = eventLoop.makePromise(of: RedisValue.self)
        let pending = PendingCommand(
            command: command, promise: promise, scriptSource: scriptSource, acknowledgement: acknowledgement)
        let (accepted, scheduleDrain) = state.withLockedValue { state -> (Bool, Bool) in
            guard state.channel != nil else { return (false, false) }
            if asking {
                state.queue.append(PendingCommand(command: RedisCommand("ASKING"), promise: eventLoop.makePromise()))
            }
            state.queue.append(pending)
            defer { state.drainScheduled = true }
            return (true, !state.drainScheduled)
        }
        guard accepted else {
            pending.fail(RedisError(.unavailable, "not connected to \(address)"))
            return promise.futureResult
        }
        if scheduleDrain { eventLoop.execute { self.drain() } }
        if sentinel != nil {
            promise.futureResult.whenFailure { error in
                // The primary was demoted under this connection: the sentinels name the new one.
                guard let error = error as? RedisError, error.code == .server, error.message.hasPrefix("READONLY")
                else { return }
                self.state.withLockedValue { $0.channel }?.close(promise: nil)
            }
        }
        return promise.futureResult
    }

    /// Runs a registered script by its SHA, sending the source only when Redis does not have it.
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) -> EventLoopFuture<RedisValue> {
        run(script, keys: keys, arguments: arguments, asking: false)
    }

    /// Runs a script whose caller is told only once `wanted.replicas` replicas have its writes, or `wanted.timeout`
    /// has passed (see `ReplicaWaits`: many writes share one WAIT). Only the reply's wait for replicas is held up;
    /// give such writes a connection of their own, since WAIT holds every command behind it on its connection.
    public func run(
        _ script: RedisScript, keys: [String], arguments: [String], acknowledgedBy wanted: ReplicaAcknowledgement
    ) -> EventLoopFuture<AcknowledgedReply> {
        let acknowledgement = PendingAcknowledgement(wanted: wanted, promise: eventLoop.makePromise())
        return run(script, keys: keys, arguments: arguments, asking: false, acknowledgement: acknowledgement)
            .and(acknowledgement.promise.futureResult)
            .map { AcknowledgedReply(reply: $0, replicas: $1) }
    }

    func run(
        _ script: RedisScript, keys: [String], arguments: [String], asking: Bool,
        acknowledgement: PendingAcknowledgement? = nil
    ) -> EventLoopFuture<RedisValue> {
        // After ASKING, the source itself: a NOSCRIPT retry would go without ASKING and be sent back (MOVED).
        let sha = asking ? nil : state.withLockedValue { $0.scriptSHAs[script.name] }
        var command: [String] = []
        command.reserveCapacity(3 + keys.count + arguments.count)
        command.append(sha == nil ? "EVAL" : "EVALSHA")
        command.append(sha ?? script.source)
        command.append(String(keys.count))
        command.append(contentsOf: keys)
        command.append(contentsOf: arguments)
        return send(
            RedisCommand(command), scriptSource: sha == nil ? nil : script.source, asking: asking,
            acknowledgement: acknowledgement)
    }

    private func drain() {
        let (channel, batch) = state.withLockedValue { state -> ((any Channel)?, [PendingCommand]) in
            state.drainScheduled = false
            defer { state.queue.removeAll(keepingCapacity: true) }
            return (state.channel, state.queue)
        }
        guard let channel else {
            for pending in batch { pending.fail(RedisError(.unavailable, "not connected to \(address)")) }
            return
        }
        for pending in batch { channel.write(pending, promise: nil) }
        channel.flush()
        onFlush(batch.count)
    }

    private func connect() {
        guard !state.withLockedValue({ $0.stopped }) else { return }
        let timeout = commandTimeout
        let tls: NIOSSLContext?
        switch self.tls {
        case .success(let context): tls = context
        case .failure(let error):
            firstAttemptDone.fail(error)
            return scheduleReconnect(after: error)
        }
        // After a failed attempt the next starts at another sentinel: one that lost touch keeps naming the old primary.
        let attempt = state.withLockedValue { $0.backoff.attempt }
        let located =
            sentinel.map { $0.primary(on: eventLoop, timeout: timeout, startingAt: attempt) }
            ?? eventLoop.makeSucceededFuture(address)
        located.flatMap { address in self.open(address, tls: tls, timeout: timeout) }
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.connected(channel)
                    self.firstAttemptDone.succeed()
                case .failure(let error):
                    self.firstAttemptDone.fail(error)
                    self.scheduleReconnect(after: error)
                }
            }
    }

    private func open(_ address: RedisAddress, tls: NIOSSLContext?, timeout: TimeAmount) -> EventLoopFuture<any Channel>
    {
        state.withLockedValue { $0.connectedTo = address }
        state.withLockedValue { $0.closedBecause = nil }
        return address.connect(on: eventLoop, tls: tls) {
            RedisCommandHandler(timeout: timeout) { reason in self.state.withLockedValue { $0.closedBecause = reason } }
        }
        .flatMap { channel in self.handshake(channel).map { channel } }
    }

    /// AUTH, SELECT and SCRIPT LOAD before the connection is offered to anyone, so no command can overtake them.
    private func handshake(_ channel: any Channel) -> EventLoopFuture<Void> {
        func direct(_ arguments: [String]) -> EventLoopFuture<RedisValue> {
            let promise = channel.eventLoop.makePromise(of: RedisValue.self)
            channel.write(PendingCommand(command: RedisCommand(arguments), promise: promise), promise: nil)
            return promise.futureResult
        }
        var steps: [EventLoopFuture<Void>] = []
        if let authentication = address.authentication { steps.append(direct(authentication).map { _ in }) }
        if address.database != 0 { steps.append(direct(["SELECT", String(address.database)]).map { _ in }) }
        if sentinel != nil {
            // What the sentinels named may have been demoted since (a failover they have not told of yet). INFO, not
            // ROLE: ROLE is an @admin command the chat's ACL users do not have.
            steps.append(
                direct(["INFO", "replication"]).flatMapThrowing { reply in
                    guard reply.string?.contains("role:master") == true else {
                        throw RedisError(.unavailable, "the server the sentinels named is not the primary (any more)")
                    }
                })
        }
        for script in scripts {
            steps.append(
                direct(["SCRIPT", "LOAD", script.source]).map { reply in
                    if let sha = reply.string { self.state.withLockedValue { $0.scriptSHAs[script.name] = sha } }
                })
        }
        channel.flush()
        return EventLoopFuture.andAllSucceed(steps, on: channel.eventLoop).flatMapError { error in
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    private func connected(_ channel: any Channel) {
        let (reconnected, stopped) = state.withLockedValue { state -> (Bool, Bool) in
            if state.stopped { return (false, true) }
            state.channel = channel
            state.backoff.reset()
            defer { state.everConnected = true }
            if state.everConnected { state.reconnects += 1 }
            return (state.everConnected, false)
        }
        if stopped {
            channel.close(promise: nil)
            return
        }
        logger.info(
            "redis connected", metadata: ["redis.address": "\(currentAddress)", "redis.reconnect": "\(reconnected)"])
        channel.closeFuture.whenComplete { _ in self.disconnected(channel) }
        onConnected(reconnected)
    }

    private func disconnected(_ channel: any Channel) {
        let (stopped, reason) = state.withLockedValue { state -> (Bool, String?) in
            if state.channel === channel { state.channel = nil }
            return (state.stopped, state.closedBecause)
        }
        guard !stopped else { return }
        logger.warning(
            "redis connection lost; reconnecting",
            metadata: [
                "redis.address": "\(currentAddress)",
                "redis.reason": "\(reason ?? "closed by the server or the network")",
            ])
        scheduleReconnect(after: nil)
    }

    private func scheduleReconnect(after error: (any Error)?) {
        let delay = state.withLockedValue { $0.backoff.next() }
        if let error {
            // A refusal (credentials, certificate) will not go away by itself: say it loudly.
            let level: Logger.Level = Self.isRefusal(error) ? .error : .debug
            logger.log(
                level: level, "redis connect failed",
                metadata: ["redis.address": "\(currentAddress)", "error": "\(error)"])
        }
        eventLoop.scheduleTask(in: .milliseconds(delay)) { self.connect() }
    }
}
