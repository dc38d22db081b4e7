import NIOConcurrencyHelpers
import NIOCore

/// New connections per client address group: a burst, then a sustained rate (HAProxy's `sc_conn_rate` limit). The
/// open-connection cap holds how many one address keeps; this holds how fast it may open and drop them, each of
/// which costs a node a connection, a greeting and, once it names itself, a claim. Shared by every event loop, so
/// behind a lock; a rate of 0 counts nothing. Addresses whose bucket has filled up again are forgotten when the
/// table grows (at most once a second, so a flood of new addresses does not make every accept walk the table),
/// and past `hardLimit` addresses that connected within a burst's time the table starts again: the limit fails
/// open for a moment rather than grow without bound.
final class ConnectRates: Sendable {
    private struct Bucket {
        var tokens: Double
        var last: NIODeadline
    }

    let perSecond: Double
    let burst: Double
    private let buckets = NIOLockedValueBox<(table: [String: Bucket], pruned: NIODeadline)>(([:], .distantPast))
    /// Past this many addresses, full buckets are forgotten before another is added.
    private let pruneAbove = 10_000
    private let hardLimit = 100_000

    init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = max(1, burst)
    }

    /// Takes a token for a new connection from `address`; false when it has none left.
    func admit(_ address: String, now: NIODeadline = .now()) -> Bool {
        guard perSecond > 0 else { return true }
        return buckets.withLockedValue { state in
            if state.table.count > pruneAbove, state.table[address] == nil, now - state.pruned > .seconds(1) {
                state.table = state.table.filter { refilled($0.value, now: now).tokens < burst }
                state.pruned = now
            }
            if state.table.count > hardLimit { state.table = [:] }
            var bucket = state.table[address].map { refilled($0, now: now) } ?? Bucket(tokens: burst, last: now)
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            state.table[address] = bucket
            return admitted
        }
    }

    private func refilled(_ bucket: Bucket, now: NIODeadline) -> Bucket {
        let elapsed = Double(max(0, (now - bucket.last).nanoseconds)) / 1e9
        return Bucket(tokens: min(burst, bucket.tokens + elapsed * perSecond), last: now)
    }
}
