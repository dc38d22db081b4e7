/// An event relayed to a session, in whatever form the node keeps it (pre-rendered, say): what `JoinReplay` holds.
public protocol RelayedEvent {
    var envelope: RelayEnvelope { get }
}

extension RelayEnvelope: RelayedEvent {
    public var envelope: RelayEnvelope { self }
}

/// What a session shows of a room's live events around its join, so that a join shows nothing twice and nothing out
/// of order. A join subscribes, then reads the history: live events that arrive in between are held
/// (`RelayView.route` says `.hold`), and once the history is shown they are replayed without the messages it had.
/// A message the history had may also still be on its way live: its pub/sub copy crosses the relay's event loop
/// while the history came on the command connection, so under load it can arrive after the replay. Such copies are
/// dropped when they come, until the first newer message shows the room's live order has passed the history.
///
/// One per session, beside its machine (the machine decides what is held; this keeps what was held, of the node's
/// own event type). Usually empty: it holds something only for a room being joined.
public struct JoinReplay<Event: RelayedEvent> {
    // Inlinable where every delivery passes (`admits`), so the node's fan-out pays no generic call for it.
    @usableFromInline var held: [RoomName: [Event]] = [:]
    /// Per room just joined, the newest message its history showed.
    @usableFromInline var floors: [RoomName: StreamID] = [:]

    public init() {}

    /// Whether a relayed event is shown now. `route` is the machine's decision for it (`RelayView.route`): an event
    /// to hold is kept for `replay`; one to deliver is shown unless its room's history showed it already.
    @inlinable
    public mutating func admits(_ event: Event, route: RelayRoute) -> Bool {
        switch route {
        case .skip:
            return false
        case .hold:
            if let room = event.envelope.event.room { held[room, default: []].append(event) }
            return false
        case .deliver:
            return floors.isEmpty || !isInHistoryAlready(event.envelope.event)
        }
    }

    /// The room's history is shown, up to the message `seen` (nil: it had none): the events held since the
    /// subscription, in their order, without the messages the history had. Live copies of those still to come are
    /// dropped by `admits`.
    public mutating func replay(_ room: RoomName, after seen: StreamID?) -> [Event] {
        let events = (held.removeValue(forKey: room) ?? []).filter { event in
            guard let seen, let id = event.envelope.streamID else { return true }
            return id > seen
        }
        if let seen { floors[room] = seen }
        return events
    }

    /// The session stopped listening to the room (a leave, a failed join): nothing of it is kept.
    public mutating func forget(_ room: RoomName) {
        held[room] = nil
        floors[room] = nil
    }

    /// The session ended.
    public mutating func forgetAll() {
        held = [:]
        floors = [:]
    }

    @usableFromInline
    mutating func isInHistoryAlready(_ event: ChatEvent) -> Bool {
        let id: StreamID
        let room: RoomName
        switch event {
        case .message(let message): (id, room) = (message.id, message.room)
        // A change the page already carried (a resume's) is not applied twice either.
        case .messageChanged(let change): (id, room) = (change.id, change.room)
        default: return false
        }
        guard let floor = floors[room] else { return false }
        if id <= floor { return true }
        // Only a message moves past the floor: the changes before it were read with the page.
        if case .message = event { floors[room] = nil }
        return false
    }
}
