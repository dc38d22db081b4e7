import NIOCore
import Synchronization

/// A log line anybody can cause (a refused request from a stranger) is written a few times a second at most,
/// however fast the requests come: else one client fills the disk and buries every other line. A token bucket,
/// shared by every event loop; lines refused meanwhile are counted, and the next line written can say how many.
public final class LogThrottle: Sendable {
    private struct State {
        var tokens: Double
        var last: NIODeadline
        var suppressed: Int
    }

    private let perSecond: Double
    private let burst: Double
    private let state: Mutex<State>

    public init(perSecond: Double = 5, burst: Double = 20) {
        self.perSecond = perSecond
        self.burst = burst
        state = Mutex(State(tokens: burst, last: .now(), suppressed: 0))
    }

    /// Whether to write the line now; when it is, how many were not written since the last one that was.
    public func admit(now: NIODeadline = .now()) -> (admitted: Bool, suppressed: Int) {
        state.withLock { state in
            let elapsed = Double((now - state.last).nanoseconds) / 1e9
            state.last = now
            state.tokens = min(burst, state.tokens + max(0, elapsed) * perSecond)
            guard state.tokens >= 1 else {
                state.suppressed += 1
                return (false, 0)
            }
            state.tokens -= 1
            defer { state.suppressed = 0 }
            return (true, state.suppressed)
        }
    }
}
