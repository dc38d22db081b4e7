import ChatCore
import RedisClient

/// The Lua scripts, by what they touch: one room (`RoomScripts`), one person's session (`SessionScripts`), names
/// and accounts (`IdentityScripts`), and the chat-wide indexes and per-address counters (`IndexScripts`). Each
/// runs atomically in Redis, which is what makes the claims safe (compare the token, then act) and history ordered
/// (append and publish in one step). Every key a script touches is one it is given, and all of them share one hash
/// tag, so each script runs on one shard of a Redis Cluster; what spans a person and their rooms is done by the
/// store around the scripts, in an order that keeps the two sides consistent (see `ChatStore` and
/// docs/redis-cluster.md).
///
/// A script of five or more arguments declares its keys and arguments by name (`NamedScript`, with a parameters
/// struct beside it), so its caller and its Lua cannot disagree about positions; a short one lists its `KEYS` and
/// `ARGV` in its doc comment.
enum ChatScripts {
    /// A script's refusal (`redis.error_reply('CHAT <code> <explanation>')`) as the client's error; nil for any
    /// other error.
    static func chatError(_ error: any Error) -> ChatError? {
        guard let error = error as? RedisError, error.code == .server, error.message.hasPrefix("CHAT ") else {
            return nil
        }
        let rest = error.message.dropFirst(5)
        let code = rest.prefix { $0 != " " }
        return ChatError(ChatError.Code(rawValue: String(code)), String(rest.dropFirst(code.count + 1)))
    }

    static let all: [RedisScript] =
        RoomScripts.all + ModerationScripts.all + RegistrationScripts.all + SessionScripts.all + IdentityScripts.all
        + IndexScripts.all
        + OperatorScripts.all + RenameScripts.all + MessageScripts.all
}
