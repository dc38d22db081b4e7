import ChatCore

/// The writes a published message may skip when they were done a moment ago (see `ClusterScripts.publishMessage`):
/// renewing the room (its activity for the room cap, its topic's expiry) and marking the sender active (the idle
/// time `who` and WHOIS show). A fast sender publishes many messages a second; these need one now and then.
public struct PublishUpkeep: Sendable, Equatable {
    public var renewsRoom: Bool
    public var marksActive: Bool

    public init(renewsRoom: Bool, marksActive: Bool) {
        self.renewsRoom = renewsRoom
        self.marksActive = marksActive
    }

    public static let all = PublishUpkeep(renewsRoom: true, marksActive: true)
}

/// When each room was last renewed from here: one schedule per event loop, so no lock. A room is renewed by its
/// first message here and then at most every `interval`; rooms not renewed for a while are forgotten, so the
/// schedule holds about as many rooms as are busy.
public struct RoomUpkeepSchedule: Sendable {
    public let interval: Millis
    private var renewedAt: [RoomName: Millis] = [:]
    private var nextSweep: Millis = 0

    /// Ten seconds: a room's expiry is days (`StoreBounds.roomIdleSeconds`) and its cap counts rooms active within
    /// that, so a renewal this late changes nothing anyone sees. The scripts allow for it: the topic expires this
    /// much after the history, and the room cap's sweep waits this much past the expiry.
    public static let defaultIntervalSeconds = 10

    public init(interval: Millis = Millis(defaultIntervalSeconds) * 1000) { self.interval = interval }

    /// Whether a message in `room` at `now` renews it (and, when it does, that it was renewed now). Counted as done
    /// before Redis answers: a publish that fails leaves the room unrenewed for one interval, which is harmless.
    /// `now` is the wall clock of the message; a clock that goes back renews at once rather than waiting.
    public mutating func renews(_ room: RoomName, now: Millis) -> Bool {
        if let last = renewedAt[room], now >= last, now - last < interval { return false }
        renewedAt[room] = now
        if now >= nextSweep {
            nextSweep = now + interval
            renewedAt = renewedAt.filter { now - $0.value < interval }
        }
        return true
    }

    public var count: Int { renewedAt.count }
}

/// Whether a message marks its sender active: at most once a second per session, so the idle time shown is never
/// more than a second behind (`interval`).
public struct ActiveMarkSchedule: Sendable {
    public let interval: Millis
    private var markedAt: Millis?

    public init(interval: Millis = 1_000) { self.interval = interval }

    public mutating func marks(now: Millis) -> Bool {
        if let last = markedAt, now >= last, now - last < interval { return false }
        markedAt = now
        return true
    }
}
