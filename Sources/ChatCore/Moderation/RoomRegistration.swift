/// Registered rooms (docs/moderation.md, "Registered rooms"), ChanServ's as Ergo has them: an operator logged in to
/// a registered name registers a room and becomes its owner. A registered room keeps its owner, the roles its owner
/// and operators gave registered names, its settings, bans and topic while it is empty and across restarts; whoever
/// comes into it empty first is nobody's operator unless the room's list says so.
public enum RoomRegistrationRequest: Equatable, Sendable {
    /// Register the room, its operator asking: they become its owner.
    case register
    /// The owner (or a server operator) gives up the registration: the room becomes an ordinary one again.
    case unregister
    /// The owner gives the room to another registered member of it.
    case transfer(to: String)
    /// Who owns the room since when, and (to its operators) whose roles it keeps.
    case info
}

/// A room's registration as `/room info` shows it.
public struct RoomRegistration: Equatable, Sendable {
    public var room: RoomName
    /// The owner's name; nil when the room is not registered.
    public var owner: String?
    public var since: Millis?
    /// The registered names the room gives roles to at their join; nil when the viewer does not operate the room.
    public var access: [RoomAccess]?

    public init(room: RoomName, owner: String? = nil, since: Millis? = nil, access: [RoomAccess]? = nil) {
        self.room = room
        self.owner = owner
        self.since = since
        self.access = access
    }
}

/// A name a registered room gives a role to whenever its account's owner joins.
public struct RoomAccess: Equatable, Sendable {
    public var name: String
    public var roles: RoomRoles

    public init(name: String, roles: RoomRoles) {
        self.name = name
        self.roles = roles
    }
}

public enum RoomRegistrationLimits {
    /// Rooms one registered name may own, as Ergo's `max-channels-per-account`: a registered room lasts a year past
    /// its owner's last visit, so the rooms one person keeps are bounded.
    public static let roomsPerOwner = 10
}
