/// A token bucket: `burst` messages at once, then `ratePerSecond` sustained. Time is passed in, so it is tested
/// without clocks; the node feeds it a monotonic clock in nanoseconds.
public struct TokenBucket: Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    private var tokens: Double
    private var lastRefillNanos: UInt64

    public init(ratePerSecond: Double, burst: Double, nowNanos: UInt64) {
        precondition(ratePerSecond > 0 && burst >= 1, "a bucket that never admits anything is a configuration bug")
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.tokens = burst
        self.lastRefillNanos = nowNanos
    }

    /// Takes one token if there is one. A refused call takes nothing, so a flooding client recovers as soon as it
    /// slows down.
    public mutating func tryTake(nowNanos: UInt64) -> Bool {
        refill(nowNanos: nowNanos)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Takes `count` more tokens without asking, going into debt if it must: for one request that does the work
    /// of several (a `hello` that rejoins many rooms), paid for by waiting before the next requests are admitted.
    public mutating func charge(_ count: Double, nowNanos: UInt64) {
        refill(nowNanos: nowNanos)
        tokens -= count
    }

    /// How long until the bucket is full again, in nanoseconds (0: full): what a client that left with it spent
    /// and has not yet earned back.
    public mutating func debtNanos(nowNanos: UInt64) -> UInt64 {
        refill(nowNanos: nowNanos)
        guard tokens < burst else { return 0 }
        return UInt64((burst - tokens) / ratePerSecond * 1_000_000_000)
    }

    /// How long until a token is there (0: now).
    public mutating func wait(nowNanos: UInt64) -> UInt64 {
        refill(nowNanos: nowNanos)
        guard tokens < 1 else { return 0 }
        return UInt64((1 - tokens) / ratePerSecond * 1_000_000_000) + 1
    }

    private mutating func refill(nowNanos: UInt64) {
        guard nowNanos > lastRefillNanos else { return }
        let elapsed = Double(nowNanos - lastRefillNanos) / 1_000_000_000
        tokens = min(burst, tokens + elapsed * ratePerSecond)
        lastRefillNanos = nowNanos
    }
}
