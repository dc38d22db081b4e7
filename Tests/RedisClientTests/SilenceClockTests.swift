import NIOCore
import Testing

@testable import RedisClient

/// The watchdogs' clock: Redis's silence, without the time the node's own loop was too busy to read.
@Suite("Silence clock")
struct SilenceClockTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("ticks on time count the silence since the last reply")
    func onTime() {
        var clock = SilenceClock(tick: .milliseconds(500), now: start)
        #expect(clock.silence(at: start + .milliseconds(500)) == .milliseconds(500))
        #expect(clock.silence(at: start + .milliseconds(1000)) == .milliseconds(1000))
        clock.heard(at: start + .milliseconds(1200))
        #expect(clock.silence(at: start + .milliseconds(1500)) == .milliseconds(300))
    }

    @Test("a tick that comes late leaves out its lateness: the loop was busy, and the replies sit unread")
    func lateTick() {
        var clock = SilenceClock(tick: .milliseconds(500), now: start)
        // The loop was stuck for 5 s (a connect storm's replies being rendered): the tick due at 0.5 s runs at 5.5 s.
        #expect(clock.silence(at: start + .milliseconds(5500)) == .milliseconds(500))
        // Redis really silent from then on: the next ticks, on time, see the silence grow.
        #expect(clock.silence(at: start + .milliseconds(6000)) == .milliseconds(1000))
        #expect(clock.silence(at: start + .milliseconds(8000)) > .milliseconds(1000))
    }

    @Test("a reply heard just before a late tick is never silence below zero")
    func heardDuringLateness() {
        var clock = SilenceClock(tick: .milliseconds(500), now: start)
        clock.heard(at: start + .milliseconds(4900))
        #expect(clock.silence(at: start + .milliseconds(5000)) == .zero)
    }
}
