/// What a node checks of every event it reads from Redis before anybody sees it. Redis is trusted, but not blindly:
/// a payload published by something other than a node (a compromised service on Redis's network, a hand-typed
/// PUBLISH, an old bug) must not show a name nobody could claim (`admin`, a look-alike, an invisible character) or
/// land in a room other than its channel's. Such an event is dropped, and the caller logs it.
///
/// Names and rooms repeat constantly, so those already found valid are remembered (up to `cacheLimit`, then the
/// memory is cleared): the check costs a hash lookup per event, not a Unicode analysis.
public struct RelayCheck: Sendable {
    private var validNames: Set<String> = []
    private var validRooms: Set<String> = []
    let cacheLimit: Int

    public init(cacheLimit: Int = 20_000) {
        self.cacheLimit = cacheLimit
    }

    /// Why the event must be dropped, or nil when it may be shown. `room` is the room whose channel (or history)
    /// it came from; nil for a user's channel.
    public mutating func problem(_ event: ChatEvent, in room: RoomName?) -> String? {
        switch event {
        case .message(let message):
            if let answered = message.annotationsIfAny?.replyTo?.from, let wrong = check(name: answered) {
                return wrong
            }
            return check(room: message.room, expected: room) ?? check(name: message.from)
        case .messageChanged(let change):
            switch change.kind {
            case .reacted(let emoji), .unreacted(let emoji):
                guard (try? MessageActions.validatedReaction(emoji)) == emoji else {
                    return "a reaction no node would have stored"
                }
            case .edited, .deleted: break
            }
            if let reason = change.reason, !Self.isReason(reason) { return "a reason no node would have sent" }
            if let author = change.targetFrom, let wrong = check(name: author) { return wrong }
            return check(room: change.room, expected: room) ?? check(name: change.by)
        case .left(_, _, _, _, .some(let message))
        where message.utf8.count > LeaveReason.maximumMessageBytes
            || Sanitizer.clean(message, keepingIRCFormatting: true) != message:
            return "a leave message no node would have sent"
        case .joined(let eventRoom, let name, _, _), .left(let eventRoom, let name, _, _, _),
            .presence(let eventRoom, let name, _, _), .typing(let eventRoom, let name, _):
            return check(room: eventRoom, expected: room) ?? check(name: name)
        case .topicChanged(let eventRoom, let topic):
            guard topic.isStorable else { return "a topic no node would have stored" }
            return check(room: eventRoom, expected: room) ?? check(name: topic.by)
        case .tagMessage(let message):
            guard message.id.utf8.count <= 64, !message.id.contains(" ") else {
                return "a tag message id no node makes"
            }
            if let eventRoom = message.room {
                return check(room: eventRoom, expected: room) ?? check(name: message.from)
            }
            guard room == nil, let to = message.to else { return "a direct tag message on a room's channel" }
            return check(name: message.from) ?? check(name: to)
        case .renamed(let eventRoom?, let from, let to, _):
            return check(room: eventRoom, expected: room) ?? check(name: from) ?? check(name: to)
        case .direct(let direct):
            guard room == nil else { return "a direct message on a room's channel" }
            return check(name: direct.from) ?? check(name: direct.to)
        case .resumedElsewhere(let name, _, _):
            return room == nil ? check(name: name) : "a session notice on a room's channel"
        case .joinedElsewhere(let joined), .leftElsewhere(let joined):
            guard room == nil else { return "a session notice on a room's channel" }
            return (try? RoomName(validating: joined.value)) == joined ? nil : "an invalid room"
        case .kicked(let eventRoom, let name, let by, let reason, _):
            if let reason,
                reason.utf8.count > LeaveReason.maximumMessageBytes
                    || Sanitizer.clean(reason, keepingIRCFormatting: true) != reason
            {
                return "a kick reason no node would have sent"
            }
            return check(room: eventRoom, expected: room) ?? check(name: name) ?? check(name: by)
        case .modeChanged(let eventRoom, let by, let changes, _):
            // The changes were parsed as an operator's request is (names, masks, keys, limits); an address ban is
            // never told to a room.
            guard changes.allSatisfy(\.isPublic) else { return "an address ban told to a room" }
            // The server gives a registered room's roles at a join (`by` the reserved `server`).
            return check(room: eventRoom, expected: room)
                ?? (by == OperatorRequest.serverActor ? nil : check(name: by))
        case .roomRegistered(let eventRoom, let owner, let previous, let by, _):
            if let wrong = check(room: eventRoom, expected: room) { return wrong }
            for name in [owner, previous].compactMap({ $0 }) {
                if let wrong = check(name: name) { return wrong }
            }
            return by == OperatorRequest.serverActor ? nil : check(name: by)
        case .announcement(let from, let text, _, _):
            guard room == nil else { return "an announcement on a room's channel" }
            guard text.utf8.count <= OperatorRequest.maximumTextBytes,
                Sanitizer.clean(text, keepingIRCFormatting: true) == text
            else { return "an announcement no node would have sent" }
            return from == OperatorRequest.serverActor ? nil : check(name: from)
        case .removed(let name, let by, let reason, _):
            guard room == nil else { return "a session notice on a room's channel" }
            if let reason, !Self.isReason(reason) { return "a reason no node would have sent" }
            return check(name: name) ?? (by == OperatorRequest.serverActor ? nil : check(name: by))
        case .readMarker(let marker):
            guard room == nil else { return "a read marker on a room's channel" }
            return (try? RoomName(validating: marker.room.value)) == marker.room ? nil : "an invalid room"
        case .networkChanged:
            return room == nil ? nil : "a network notice on a room's channel"
        case .roomClosed(let eventRoom, let by, let reason, _):
            guard room != nil else { return "a room's closing on a person's channel" }
            if let reason, !Self.isReason(reason) { return "a reason no node would have sent" }
            return check(room: eventRoom, expected: room) ?? (by == OperatorRequest.serverActor ? nil : check(name: by))
        case .invited(let eventRoom, let by, _):
            guard room == nil else { return "an invitation on a room's channel" }
            return (try? RoomName(validating: eventRoom.value)) == eventRoom ? check(name: by) : "an invalid room"
        default:
            return "an event that is never relayed"
        }
    }

    /// A reason as an operator's request leaves it: cleaned, and no longer than a leave message (a removal's
    /// reason carries a few words more: "suspended: ...", "banned from the network: ...").
    static func isReason(_ text: String) -> Bool {
        text.utf8.count <= 2 * LeaveReason.maximumMessageBytes
            && Sanitizer.clean(text, keepingIRCFormatting: true) == text
    }

    private mutating func check(name: String) -> String? {
        if validNames.contains(name) { return nil }
        guard let valid = try? UserName(validating: name), valid.display == name else {
            return "the name '\(name)' is not one a person can hold"
        }
        remember(name, in: &validNames)
        return nil
    }

    private mutating func check(room: RoomName, expected: RoomName?) -> String? {
        if let expected, room != expected { return "an event for #\(room) on #\(expected)'s channel" }
        if validRooms.contains(room.value) { return nil }
        guard let valid = try? RoomName(validating: room.value), valid == room else {
            return "the room '\(room.value)' is not a valid room name"
        }
        remember(room.value, in: &validRooms)
        return nil
    }

    private func remember(_ value: String, in set: inout Set<String>) {
        if set.count >= cacheLimit { set.removeAll(keepingCapacity: true) }
        set.insert(value)
    }
}
