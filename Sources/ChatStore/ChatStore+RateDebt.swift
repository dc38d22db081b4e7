import ChatCore
import NIOCore
import RedisClient

/// The line rate's debt per client address group (`chat:rate-debt:{<address group>}`, the debt as the key's time to
/// live): kept when a session that named itself closes, read when the next one from there names itself.
extension ChatStore {
    /// A session from `address` ended owing the line rate `milliseconds` (`SessionMachine.rateDebtNanos`): kept
    /// for the address, the larger debt winning, until it is paid back by time alone.
    public func noteRateDebt(address: String, milliseconds: Int) -> EventLoopFuture<Void> {
        guard !address.isEmpty, milliseconds > 0 else { return eventLoop.makeSucceededVoidFuture() }
        return redis.run(
            IndexScripts.noteRateDebt, keys: [ChatKeys.rateDebt(address: address)], arguments: [String(milliseconds)]
        )
        .map { _ in }
    }

    /// What the sessions from `address` that ended lately still owe the line rate, in milliseconds (0: nothing).
    public func rateDebt(address: String) -> EventLoopFuture<Int> {
        guard !address.isEmpty else { return eventLoop.makeSucceededFuture(0) }
        return redis.send("PTTL", ChatKeys.rateDebt(address: address)).map { max(0, Int($0.int ?? 0)) }
    }
}
