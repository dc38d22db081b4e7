import NIOCore

/// What the chat needs from Redis, whether it is one server (`RedisClient`) or a cluster (`RedisClusterClient`,
/// which sends each command to the shard owning its key). Every future completes on `eventLoop`.
public protocol RedisConnection: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    /// Where it connects, for logs and messages (never a password).
    var displayName: String { get }
    /// Whether commands can be sent now (on a cluster: to every shard).
    var isConnected: Bool { get }
    func start()
    func stop() async
    /// Completes when the first connection attempt has ended: succeeded, or failed with why.
    var firstAttempt: EventLoopFuture<Void> { get }
    func send(_ command: RedisCommand) -> EventLoopFuture<RedisValue>
    /// Runs a script; on a cluster its keys must share one slot (the first key decides where it runs).
    func run(_ script: RedisScript, keys: [String], arguments: [String]) -> EventLoopFuture<RedisValue>
    /// Runs a script and tells its caller once `wanted.replicas` replicas have its writes, or `wanted.timeout` has
    /// passed (`AcknowledgedReply.replicas` says which). WAIT holds the connection: give such writes their own.
    func run(
        _ script: RedisScript, keys: [String], arguments: [String], acknowledgedBy wanted: ReplicaAcknowledgement
    ) -> EventLoopFuture<AcknowledgedReply>
    /// A command without keys on every primary (INFO, for the status page): one reply per primary.
    func sendToEveryPrimary(_ command: RedisCommand) -> EventLoopFuture<[RedisValue]>
}

extension RedisConnection {
    public func send(_ arguments: String...) -> EventLoopFuture<RedisValue> { send(RedisCommand(arguments)) }
}

/// The pub/sub side: one subscriber connection (`RedisSubscriber`), or one per shard (`RedisShardedSubscriber`).
/// It keeps the set of wanted channels and restores it after reconnects, moves and failovers. Everything but
/// `isConnected` is called on `eventLoop`.
public protocol RedisPubSub: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    /// Receives each batch of messages, on `eventLoop`.
    var onMessages: ([PubSubMessage]) -> Void { get set }
    /// Told of channels subscribed again (a reconnect, a slot moved): what was published meanwhile was missed.
    var onResubscribed: (String) -> Void { get set }
    /// Safe from any thread (for health checks).
    var isConnected: Bool { get }
    func start()
    func stop() -> EventLoopFuture<Void>
    /// Completes once Redis confirmed the subscription.
    func subscribe(_ name: String) -> EventLoopFuture<Void>
    func unsubscribe(_ name: String)
    /// Completes once every message Redis pushed to these connections before now has been handed to `onMessages`
    /// (a PING on each pub/sub connection, answered behind them); at once for a connection that is down. Call on
    /// `eventLoop`.
    func barrier() -> EventLoopFuture<Void>
}

extension RedisClient: RedisConnection {
    public var displayName: String { sentinel.map(\.description) ?? address.description }
    public func sendToEveryPrimary(_ command: RedisCommand) -> EventLoopFuture<[RedisValue]> {
        send(command).map { [$0] }
    }
}
extension RedisClusterClient: RedisConnection {
    public var displayName: String { RedisDeployment.cluster(seeds: seeds, template: template).description }
}
