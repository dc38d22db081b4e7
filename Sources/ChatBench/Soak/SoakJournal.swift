import ChatCore
import Foundation

/// What a soak's clients did and saw, one JSON line per entry, written as it happens: the history the checker
/// (`SoakChecker`) reads afterwards. In the spirit of Jepsen's histories: operations as the clients saw them, with
/// nothing taken from the servers' own account.
public struct SoakEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The client joined `room` for the first time; `msgid` is the newest message it was shown on joining (none
        /// for an empty room): everything after it is owed to the client.
        case joined
        /// A message was sent (`text` is unique in the whole soak).
        case sent
        /// Its acknowledgement: stored as `msgid`; `confirmed` false when the replicas did not confirm it in time.
        case acknowledged
        /// Its sender was told it failed (`code`), or never heard back before the connection dropped (`code`
        /// "no-reply"): it may or may not have been stored.
        case failed
        /// A message the client was shown in `room`; `code` says how: "live" (from others, as it happened), "own"
        /// (its own, the acknowledgement), "page" (in a join's history or a page read on).
        case received
        /// The server said messages were missed: `lost` true when they are gone for good (before `msgid`, the
        /// first one it still keeps), false when the client should read on (it does, from `msgid`).
        case gap
        /// The connection dropped (`code`: why, as the client saw it), or came back (`code` "resumed").
        case dropped, resumed
    }

    public var kind: Kind
    public var client: String
    public var room: String? = nil
    public var text: String? = nil
    public var msgid: String? = nil
    public var confirmed: Bool? = nil
    public var lost: Bool? = nil
    public var code: String? = nil
    /// Milliseconds since the soak began, for the report.
    public var at: Int = 0

    public init(
        _ kind: Kind, client: String, room: String? = nil, text: String? = nil, msgid: String? = nil,
        confirmed: Bool? = nil, lost: Bool? = nil, code: String? = nil, at: Int = 0
    ) {
        self.kind = kind
        self.client = client
        self.room = room
        self.text = text
        self.msgid = msgid
        self.confirmed = confirmed
        self.lost = lost
        self.code = code
        self.at = at
    }

    /// Reads a journal, skipping lines that are not entries (a truncated last line after a crash).
    public static func read(_ path: String) throws -> [SoakEntry] {
        let decoder = JSONDecoder()
        return try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline).compactMap {
            try? decoder.decode(SoakEntry.self, from: Data($0.utf8))
        }
    }

    public func line() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? ""
    }
}
