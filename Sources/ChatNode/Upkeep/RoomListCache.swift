import ChatCore
import ChatStore
import NIOConcurrencyHelpers
import NIOCore

/// The room list as every session on this node sees it, read from the store at most once every few seconds: a
/// listing costs the store one lookup per room, so one client's `/rooms` (IRC's LIST) asked over and over, or a
/// thousand clients asking at once, cost the store one listing per node per interval, not one each. Requests that
/// arrive while a reading is under way share it. A join or leave on this node makes the next listing read anew,
/// but not more often than twice a second, so the list never lags behind one's own `/join` by more than that;
/// other nodes' changes show within `freshFor`.
final class RoomListCache: Sendable {
    typealias Listing = [(room: RoomName, members: Int, secret: Bool)]

    private struct Entry {
        var reading: EventLoopFuture<Listing>
        var readAt: NIODeadline
        var changedSince = false
    }

    private let store: ChatStore
    private let freshFor: TimeAmount
    private let entry = NIOLockedValueBox<Entry?>(nil)

    private let soonestAfterChange = TimeAmount.milliseconds(500)

    init(store: ChatStore, freshFor: TimeAmount = .seconds(3)) {
        self.store = store
        self.freshFor = freshFor
    }

    func rooms(now: NIODeadline = .now()) -> EventLoopFuture<Listing> {
        let fresh = entry.withLockedValue { entry in
            entry.flatMap { cached in
                let age = now - cached.readAt
                return age < soonestAfterChange || (age < freshFor && !cached.changedSince) ? cached.reading : nil
            }
        }
        if let fresh { return fresh }
        // Read outside the lock (a reading that fails at once, Redis away, completes inline); two requests racing
        // here both read, which is harmless.
        let reading = store.rooms().map { rooms in rooms.map { (room: $0.0, members: $0.1, secret: $0.secret) } }
        entry.withLockedValue { $0 = Entry(reading: reading, readAt: now) }
        // A failed reading is not kept: the next request tries again.
        reading.whenFailure { _ in self.entry.withLockedValue { if $0?.readAt == now { $0 = nil } } }
        return reading
    }

    /// A session on this node joined or left a room.
    func noteChange() {
        entry.withLockedValue { $0?.changedSince = true }
    }
}
