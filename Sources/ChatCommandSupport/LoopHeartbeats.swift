import NIOConcurrencyHelpers
import NIOCore

/// Whether a server's event loops still run: what `/livez` answers. Each loop stamps the time every half second
/// from a task of its own; a loop whose stamp is older than `stuckAfter` is stuck (a task that never returns, a
/// deadlock), and serves none of the clients it holds however healthy the rest looks. Liveness says nothing of
/// Redis: an orchestrator restarts a process that fails it, and restarting nodes during a Redis failover would only
/// add to the outage (that is `/readyz`'s, which takes a node out of rotation instead).
public final class LoopHeartbeats: Sendable {
    public static let interval = TimeAmount.milliseconds(500)
    /// Several missed beats: a loop busy with a storm of logins for a second is slow, not stuck.
    public static let stuckAfter = TimeAmount.seconds(5)

    private let beats: NIOLockedValueBox<[NIODeadline]>
    private let tasks: NIOLockedValueBox<[RepeatedTask]>

    /// Starts beating on every loop in `loops`.
    public init(_ loops: [any EventLoop]) {
        let now = NIODeadline.now()
        beats = NIOLockedValueBox(Array(repeating: now, count: loops.count))
        tasks = NIOLockedValueBox([])
        let beats = self.beats
        let started = loops.enumerated().map { index, loop in
            loop.scheduleRepeatedTask(initialDelay: .zero, delay: Self.interval) { _ in
                beats.withLockedValue { $0[index] = .now() }
            }
        }
        tasks.withLockedValue { $0 = started }
    }

    /// The loops (by index) that have not run their beat for `stuckAfter`, and for how long the oldest has not.
    public func stuck(now: NIODeadline = .now()) -> (loops: [Int], longest: TimeAmount) {
        let beats = self.beats.withLockedValue { $0 }
        let late = beats.enumerated().filter { now - $0.element > Self.stuckAfter }
        return (late.map(\.offset), late.map { now - $0.element }.max() ?? .zero)
    }

    /// `/livez`'s answer: 200 `ok`, or 503 naming the stuck loops.
    public func livenessAnswer() -> (ok: Bool, body: String) {
        let (loops, longest) = stuck()
        guard !loops.isEmpty else { return (true, "ok\n") }
        let seconds = Double(longest.nanoseconds) / 1e9
        return (
            false, "stuck: event loop(s) \(loops.map(String.init).joined(separator: ",")) silent for \(seconds) s\n"
        )
    }

    public func stop() {
        for task in tasks.withLockedValue({ $0 }) { task.cancel() }
    }
}
