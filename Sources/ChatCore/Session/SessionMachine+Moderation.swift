/// Room moderation requests (docs/moderation.md): the session checks what it can alone (that it is in the room, that
/// names could be held, lengths), and the store decides the rest (whether it is an operator, the room's state) in
/// one step.
extension SessionMachine {
    /// Room moderation: what the session may check here (membership, names, lengths); whether it is an operator,
    /// and everything that depends on the room's state, the store decides in one step.
    func moderation(
        _ request: ClientRequest, id: RequestID?, now: SessionClock, session: ActiveSession
    ) throws(ChatError) -> [SessionAction] {
        func name(_ raw: String) throws(ChatError) -> UserName {
            guard let name = try? UserName(validating: raw) else {
                throw ChatError(.noSuchUser, "'\(raw)' is not a name anyone can have")
            }
            return name
        }
        func reasonChecked(_ reason: String?) throws(ChatError) -> String? {
            guard let reason else { return nil }
            guard reason.utf8.count <= LeaveReason.maximumMessageBytes else {
                throw ChatError(.messageTooLong, "a reason is limited to \(LeaveReason.maximumMessageBytes) bytes")
            }
            return reason
        }
        switch request {
        case .mode(let raw, .show):
            return [.perform(.readSettings(try resolve(raw, session: session)), id: id)]
        case .mode(let raw, .bans):
            return [.perform(.readBans(try member(raw, session: session, why: "/join it first")), id: id)]
        case .mode(let raw, .change(let changes)):
            let room = try member(raw, session: session, why: "/join it first")
            // Names as their holders could have typed them: a role or a mute for an impossible name is no change.
            var checked: [RoomModeChange] = []
            for change in changes {
                switch change {
                case .role(let role, let raw, let granted):
                    checked.append(.role(role, name: try name(raw).display, granted: granted))
                case .mute(let raw, let on, let until):
                    checked.append(.mute(name: try name(raw).display, on: on, until: until))
                default: checked.append(change)
                }
            }
            return [.perform(.moderate(room, checked), id: id)]
        case .kick(let raw, let target, let reason):
            let room = try member(raw, session: session, why: "/join it first")
            let kicked = try name(target)
            guard kicked.key != session.user.key else { throw ChatError(.badRequest, "to leave #\(room): /leave") }
            return [.perform(.kick(room, kicked, reason: try reasonChecked(reason)), id: id)]
        case .ban(let raw, let target, let duration, let reason):
            let room = try member(raw, session: session, why: "/join it first")
            let mask = try BanMask(parsing: target)
            // A plain name is also removed from the room; a pattern or an address keeps out whoever it matches
            // from their next join (finding them among the members would cost a look at every member).
            let removing = target.contains(where: { "!@*?".contains($0) }) ? nil : try? UserName(validating: target)
            let change = RoomModeChange.ban(mask, on: true, until: duration.map { now.wall + $0 })
            return [
                .perform(.moderate(room, [change], reason: try reasonChecked(reason), removing: removing), id: id)
            ]
        case .mute(let raw, let target, let duration, let reason):
            let room = try member(raw, session: session, why: "/join it first")
            let change = RoomModeChange.mute(
                name: try name(target).display, on: true, until: duration.map { now.wall + $0 })
            return [.perform(.moderate(room, [change], reason: try reasonChecked(reason)), id: id)]
        case .invite(let raw, let target):
            let room = try member(raw, session: session, why: "only its members invite")
            return [.perform(.invite(room, try name(target)), id: id)]
        case .room(let raw, .info):
            return [.perform(.registerRoom(try resolve(raw, session: session), .info), id: id)]
        case .room(let raw, .unregister) where session.grant.isServerOperator:
            // A server operator takes a registration off any room, in it or not (an owner gone for good).
            let room = try resolve(raw, session: session)
            return [.perform(.registerRoom(room, .unregister, asServerOperator: true), id: id)]
        case .room(let raw, .transfer(let target)):
            let room = try member(raw, session: session, why: "/join it first")
            let owner = try name(target)
            guard owner.key != session.user.key else { throw ChatError(.badRequest, "#\(room) is yours already") }
            return [.perform(.registerRoom(room, .transfer(to: owner.display)), id: id)]
        case .room(let raw, let request):
            let room = try member(raw, session: session, why: "/join it first")
            guard room != .lobby else { throw ChatError(.badRequest, "the lobby is everyone's: it is not registered") }
            return [.perform(.registerRoom(room, request), id: id)]
        default:
            return []
        }
    }
}
