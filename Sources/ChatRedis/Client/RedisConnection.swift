import NIOCore

/// What the chat needs from Redis, whether it is one server (`RedisClient`) or a cluster (`RedisClusterClient`,
/// which sends each command to the shard owning its key). Every future completes on `eventLoop`.
public protocol RedisConnection: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    /// Whether commands can be sent now (on a cluster: to every shard).
    var isConnected: Bool { get }
    func start()
    func stop() async
    func send(_ command: RedisCommand) -> EventLoopFuture<RedisValue>
    /// Runs a script; on a cluster its keys must share one slot (the first key decides where it runs).
    func run(_ script: RedisScript, keys: [String], arguments: [String]) -> EventLoopFuture<RedisValue>
}

extension RedisConnection {
    public func send(_ arguments: String...) -> EventLoopFuture<RedisValue> { send(RedisCommand(arguments)) }
}

extension RedisClient: RedisConnection {}
extension RedisClusterClient: RedisConnection {}
