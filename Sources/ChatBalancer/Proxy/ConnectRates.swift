import NIOConcurrencyHelpers
import NIOCore

/// New connections per client address group: a burst, then a sustained rate (HAProxy's `sc_conn_rate` limit). The
/// open-connection cap holds how many one address keeps; this holds how fast it may open and drop them, each of
/// which costs a node a connection, a greeting and, once it names itself, a claim. Shared by every event loop, so
/// behind a lock; a rate of 0 counts nothing. Addresses whose bucket has filled up again are forgotten when the
/// table grows, so it holds only those that connected lately.
final class ConnectRates: Sendable {
    private struct Bucket {
        var tokens: Double
        var last: NIODeadline
    }

    let perSecond: Double
    let burst: Double
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])
    /// Past this many addresses, full buckets are forgotten before another is added.
    private let pruneAbove = 10_000

    init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = max(1, burst)
    }

    /// Takes a token for a new connection from `address`; false when it has none left.
    func admit(_ address: String, now: NIODeadline = .now()) -> Bool {
        guard perSecond > 0 else { return true }
        return buckets.withLockedValue { buckets in
            if buckets.count > pruneAbove, buckets[address] == nil { prune(&buckets, now: now) }
            var bucket = buckets[address].map { refilled($0, now: now) } ?? Bucket(tokens: burst, last: now)
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            buckets[address] = bucket
            return admitted
        }
    }

    private func refilled(_ bucket: Bucket, now: NIODeadline) -> Bucket {
        let elapsed = Double(max(0, (now - bucket.last).nanoseconds)) / 1e9
        return Bucket(tokens: min(burst, bucket.tokens + elapsed * perSecond), last: now)
    }

    private func prune(_ buckets: inout [String: Bucket], now: NIODeadline) {
        buckets = buckets.filter { refilled($0.value, now: now).tokens < burst }
    }
}
