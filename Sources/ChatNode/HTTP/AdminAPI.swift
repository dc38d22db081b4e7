import ChatCore
import ChatStore
import Foundation
import NIOCore
import NIOHTTP1

/// The admin API (docs/admin-api.md): what a server operator does, for the people and programs that run the
/// cluster, on the operations port only (never proxied; loopback unless configured), behind a bearer token read
/// from a file at start (`--admin-token-file`). JSON in and out. Every action is the one a server operator's
/// session would perform (`ChatStore.operate`), shown to people as done by `server` and logged as `admin API`.
struct AdminAPI: Sendable {
    let node: NodeContext
    let token: String

    /// A request body holds at most this much: an announcement or a message of the day, with room to spare.
    static let maximumBodyBytes = 16 * 1024

    struct Reply: Sendable {
        var status: HTTPResponseStatus
        var body: String
    }

    /// Whether the request carries the token (`Authorization: Bearer ...`), compared in constant time.
    func authorizes(_ headers: HTTPHeaders) -> Bool {
        guard let value = headers.first(name: "authorization"), value.hasPrefix("Bearer ") else { return false }
        let given = Array(value.utf8.dropFirst("Bearer ".utf8.count))
        let expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0
    }

    func handle(_ head: HTTPRequestHead, body: [UInt8], on loop: any EventLoop) -> EventLoopFuture<Reply> {
        guard authorizes(head.headers) else {
            return loop.makeSucceededFuture(
                Self.error(.unauthorized, "unauthorized", "send Authorization: Bearer <token>"))
        }
        let path = NodeHTTPServer.path(of: head.uri)
        let query = Self.query(of: head.uri)
        let fields: [String: FlatJSON.Value]
        if head.method == .POST {
            guard let parsed = FlatJSON.parse(body) else {
                return loop.makeSucceededFuture(
                    Self.error(.badRequest, "bad-request", "the body must be one JSON object"))
            }
            fields = parsed
        } else {
            fields = [:]
        }
        func string(_ key: String) -> String? {
            if case .string(let value)? = fields[key] { return value }
            return nil
        }
        let now = WallClock.now()
        let request: OperatorRequest
        do throws(ChatError) {
            switch (head.method, path) {
            case (.GET, "/admin/sessions"):
                return sessions(cursor: query["cursor"], on: loop)
            case (.GET, "/admin/rooms"):
                return rooms(on: loop)
            case (.GET, "/admin/bans"): request = .bans
            case (.GET, "/admin/audit"):
                request = .audit(count: query["count"].flatMap { Int($0) }, room: query["room"])
            case (.POST, "/admin/disconnect"):
                request = .kill(name: try Self.required(string("name"), "name"), reason: string("reason"))
            case (.POST, "/admin/suspend"):
                request = .suspend(
                    name: try Self.required(string("name"), "name"), duration: try Self.duration(string("duration")),
                    reason: string("reason"))
            case (.POST, "/admin/unsuspend"): request = .unsuspend(name: try Self.required(string("name"), "name"))
            case (.POST, "/admin/bans"):
                request = .ban(
                    mask: try Self.required(string("mask"), "mask"), duration: try Self.duration(string("duration")),
                    reason: string("reason"))
            case (.POST, "/admin/unban"): request = .unban(mask: try Self.required(string("mask"), "mask"))
            case (.POST, "/admin/announce"): request = .announce(text: try Self.required(string("text"), "text"))
            case (.POST, "/admin/motd"): request = .setMOTD(text: string("text") ?? "")
            case (.POST, "/admin/close-room"):
                request = .closeRoom(room: try Self.required(string("room"), "room"), reason: string("reason"))
            case (_, let path) where Self.routes.contains(String(path)):
                return loop.makeSucceededFuture(Self.error(.methodNotAllowed, "bad-request", "see docs/admin-api.md"))
            default:
                return loop.makeSucceededFuture(Self.error(.notFound, "not-found", "see docs/admin-api.md"))
            }
            let action = try request.sanitized().validated(now: now)
            let node = self.node
            return node.store.operate(
                action, by: OperatorRequest.serverActor, auditActor: AuditEntry.adminActor, now: now
            ).map { reply in
                node.logOperatorAction(action, by: AuditEntry.adminActor)
                return Reply(status: .ok, body: Self.body(reply, action: action))
            }.recover { error in
                guard let refusal = SessionHandler.clientError(error) as? ChatError else {
                    return Self.error(.serviceUnavailable, "redis-unavailable", "the chat store is unreachable")
                }
                return Self.error(
                    refusal.code == .noSuchUser ? .notFound : .badRequest, refusal.code.rawValue, refusal.message)
            }
        } catch {
            return loop.makeSucceededFuture(Self.error(.badRequest, error.code.rawValue, error.message))
        }
    }

    static let routes: Set<String> = [
        "/admin/sessions", "/admin/rooms", "/admin/bans", "/admin/audit", "/admin/disconnect", "/admin/suspend",
        "/admin/unsuspend", "/admin/unban", "/admin/announce", "/admin/motd", "/admin/close-room",
    ]

    private func sessions(cursor: String?, on loop: any EventLoop) -> EventLoopFuture<Reply> {
        node.store.sessions(cursor: cursor).map { page in
            var json = JSONWriter()
            json.array(
                "sessions",
                page.sessions.map { session in
                    var entry = JSONWriter()
                    entry.field("name", session.name)
                    entry.field("node", session.node)
                    entry.field("since", session.since)
                    if !session.address.isEmpty { entry.field("address", session.address) }
                    if let away = session.away { entry.field("away", away) }
                    return entry.finish()
                })
            if let next = page.next { json.field("next", next) }
            return Reply(status: .ok, body: json.finish() + "\n")
        }.recover { _ in Self.error(.serviceUnavailable, "redis-unavailable", "the chat store is unreachable") }
    }

    /// The busiest rooms (at most `ProtocolLimits.maximumListedRooms`, as `/rooms` lists them), read through the
    /// node's room list cache: asking again and again costs the store one listing every few seconds.
    private func rooms(on loop: any EventLoop) -> EventLoopFuture<Reply> {
        let limit = node.configuration.limits.maximumListedRooms
        return node.roomList.rooms().map { rooms in
            var json = JSONWriter()
            json.array(
                "rooms",
                rooms.sorted { $0.members > $1.members }.prefix(limit).map { room, members, secret in
                    var entry = JSONWriter()
                    entry.field("room", room.value)
                    entry.field("members", members)
                    if secret { entry.field("secret", true) }
                    return entry.finish()
                })
            json.field("total", rooms.count)
            return Reply(status: .ok, body: json.finish() + "\n")
        }.recover { _ in Self.error(.serviceUnavailable, "redis-unavailable", "the chat store is unreachable") }
    }

    private static func body(_ reply: StoreReply, action: OperatorAction) -> String {
        var json = JSONWriter()
        switch reply {
        case .networkBans(let bans): json.array("bans", bans.map(JSONRenderer.banObject))
        case .audit(let entries): json.array("entries", entries.map(JSONRenderer.auditObject))
        default:
            json.field("ok", true)
            json.field("text", action.doneText)
        }
        return json.finish() + "\n"
    }

    static func error(_ status: HTTPResponseStatus, _ code: String, _ message: String) -> Reply {
        var json = JSONWriter()
        json.field("error", code)
        json.field("message", message)
        return Reply(status: status, body: json.finish() + "\n")
    }

    private static func required(_ value: String?, _ key: String) throws(ChatError) -> String {
        guard let value, !value.isEmpty else { throw ChatError(.badRequest, "\"\(key)\" is required") }
        return value
    }

    private static func duration(_ text: String?) throws(ChatError) -> Millis? {
        guard let text else { return nil }
        guard let millis = ModerationDuration.parse(text) else {
            throw ChatError(.badRequest, "\"duration\" is like \"90s\", \"10m\", \"2h\" or \"7d\" (at most a year)")
        }
        return millis
    }

    /// `?a=1&b=x%20y` -> ["a": "1", "b": "x y"].
    static func query(of uri: String) -> [String: String] {
        guard let mark = uri.firstIndex(of: "?") else { return [:] }
        var fields: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first?.removingPercentEncoding else { continue }
            fields[key] =
                parts.count > 1 ? parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
        }
        return fields
    }
}
