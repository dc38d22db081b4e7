/// The writes a published message may skip when they were done a moment ago (see `RoomScripts.publishMessage`):
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

    /// How late a room's renewal may come: ten seconds. A room's expiry is days (`StoreBounds.roomIdleSeconds`) and
    /// its cap counts rooms active within that, so a renewal this late changes nothing anyone sees. The scripts
    /// allow for it: the topic expires this much after the history, and the room cap's sweep waits this much past
    /// the expiry. The node's schedule (`RoomUpkeepSchedule`) renews at most this often.
    public static let renewalIntervalSeconds = 10
}
