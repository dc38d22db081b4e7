/// A Lua script run with EVALSHA; the client loads every registered script on each (re)connect and falls back to
/// EVAL on NOSCRIPT (a Redis restarted, flushed or failed over since).
public struct RedisScript: Sendable, Hashable {
    public let name: String
    public let source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}
