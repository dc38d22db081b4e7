import NIOCore

/// How long a connection has heard nothing from Redis, counted only in time its event loop was free to read. The
/// watchdogs that drop a silent connection (`RedisCommandHandler`, the subscriber's pinger) tick on the same loop
/// that reads the socket: when that loop is busy (a connect storm renders thousands of replies on it), a tick comes
/// late and whatever Redis sent meanwhile still sits unread in the socket. That time is the node's own, not Redis's
/// silence, so a late tick moves the last sign of life forward by its lateness: Redis is declared dead when it stops
/// answering, not when the node falls behind reading it.
struct SilenceClock {
    /// How often the watchdog looks.
    let tick: TimeAmount
    private var heardAt: NIODeadline
    private var tickedAt: NIODeadline

    init(tick: TimeAmount, now: NIODeadline = .now()) {
        self.tick = tick
        self.heardAt = now
        self.tickedAt = now
    }

    /// A reply arrived, or (for a connection that had nothing to wait for) the wait starts now.
    mutating func heard(at now: NIODeadline = .now()) {
        heardAt = now
    }

    /// At each watchdog tick: how long Redis has been silent, without the time this tick was late.
    mutating func silence(at now: NIODeadline = .now()) -> TimeAmount {
        let late = now - tickedAt - tick
        if late > .zero { heardAt = min(heardAt + late, now) }
        tickedAt = now
        return now - heardAt
    }
}
