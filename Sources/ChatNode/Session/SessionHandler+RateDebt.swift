import ChatCore

/// The line rate across connections: what a connection spent and had not earned back is left in Redis for its
/// address group when it closes, and the next connection from there that names itself starts owing it
/// (`SessionMachine.inheritDebt`), on any node.
extension SessionHandler {
    /// The line rate holds across connections: a connection starts owing what the last ones from its address
    /// group spent and had not earned back, on any node, so quitting and reconnecting buys no fresh burst. Asked
    /// of Redis with the connection's first claim (its hello, which always gets through), not as it is accepted:
    /// connections that never name themselves cost Redis nothing.
    func inheritRateDebt() {
        guard !debtAsked, clientIP != nil else { return }
        debtAsked = true
        store.rateDebt(address: addressGroup).hop(to: hub.eventLoop).assumeIsolated().whenSuccess { milliseconds in
            self.machine.inheritDebt(nanos: UInt64(milliseconds) * 1_000_000, now: Self.clock())
        }
    }

    /// What this connection spent of the rate and had not earned back is left to the next from its address. Only
    /// a connection that claimed a name leaves one: the others could send nobody anything.
    func leaveRateDebt() {
        guard clientIP != nil, debtAsked else { return }
        let debt = machine.rateDebtNanos(now: Self.clock())
        if debt >= 1_000_000 { _ = store.noteRateDebt(address: addressGroup, milliseconds: Int(debt / 1_000_000)) }
    }
}
