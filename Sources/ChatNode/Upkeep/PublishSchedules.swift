import ChatCore
import ChatStore

/// When each room was last renewed from here: one schedule per event loop, so no lock. A room is renewed by its
/// first message here and then at most every `interval`; rooms not renewed for a while are forgotten, so the
/// schedule holds about as many rooms as are busy.
struct RoomUpkeepSchedule: Sendable {
    let interval: Millis
    private var renewedAt: [RoomName: Millis] = [:]
    private var nextSweep: Millis = 0

    init(interval: Millis = Millis(PublishUpkeep.renewalIntervalSeconds) * 1000) { self.interval = interval }

    /// Whether a message in `room` at `now` renews it (and, when it does, that it was renewed now). Counted as done
    /// before Redis answers: a publish that fails leaves the room unrenewed for one interval, which is harmless.
    /// `now` is the wall clock of the message; a clock that goes back renews at once rather than waiting.
    mutating func renews(_ room: RoomName, now: Millis) -> Bool {
        if let last = renewedAt[room], now >= last, now - last < interval { return false }
        renewedAt[room] = now
        if now >= nextSweep {
            nextSweep = now + interval
            renewedAt = renewedAt.filter { now - $0.value < interval }
        }
        return true
    }

    var count: Int { renewedAt.count }
}

/// Whether a message marks its sender active: at most once a second per session, so the idle time shown is never
/// more than a second behind (`interval`).
struct ActiveMarkSchedule: Sendable {
    let interval: Millis
    private var markedAt: Millis?

    init(interval: Millis = 1_000) { self.interval = interval }

    mutating func marks(now: Millis) -> Bool {
        if let last = markedAt, now >= last, now - last < interval { return false }
        markedAt = now
        return true
    }
}
