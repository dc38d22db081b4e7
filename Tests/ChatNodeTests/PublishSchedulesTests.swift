import ChatCore
import Testing

@testable import ChatNode

/// The node's schedules for a message's upkeep writes (`PublishUpkeep`): no process, no Redis.
@Suite("Publish upkeep schedules")
struct PublishSchedulesTests {
    let dev = RoomName(trusted: "dev")

    @Test("upkeep schedules: a room once per interval per loop, a sender once a second; old rooms forgotten")
    func upkeepSchedules() {
        var rooms = RoomUpkeepSchedule(interval: 10_000)
        let other = RoomName(trusted: "other")
        let answers = [
            rooms.renews(dev, now: 1_000), rooms.renews(dev, now: 5_000), rooms.renews(other, now: 5_000),
            rooms.renews(dev, now: 11_000), rooms.renews(dev, now: 2_000),
        ]
        // Each room has its own time; a clock that went back renews rather than waits.
        #expect(answers == [true, false, true, true, true])
        _ = rooms.renews(RoomName(trusted: "late"), now: 40_000)
        #expect(rooms.count == 1, "rooms not renewed within the interval are swept")

        var active = ActiveMarkSchedule()
        let marks = [active.marks(now: 100), active.marks(now: 1_099), active.marks(now: 1_100)]
        #expect(marks == [true, false, true])
    }
}
