import ChatCore
import Foundation

/// What a soak's clients did and saw, one JSON line per entry, written as it happens: the history the checker
/// (`SoakChecker`) reads afterwards. In the spirit of Jepsen's histories: operations as the clients saw them, with
/// nothing taken from the servers' own account.
public struct SoakEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The client joined `room` for the first time; `msgid` is the newest message it was shown on joining (none
        /// for an empty room): everything after it is owed to the client. `code` "audit": the auditor, which reads
        /// the whole history after the soak.
        case joined
        /// A message was sent (`text` is unique in the whole soak).
        case sent
        /// Its acknowledgement: stored as `msgid`; `confirmed` false when the replicas did not confirm it in time.
        case acknowledged
        /// Its sender was told it failed (`code`), or never heard back before the connection dropped (`code`
        /// "no-reply"): it may or may not have been stored.
        case failed
        /// A message the client was shown in `room`; `code` says how: "live" (from others, as it happened), "own"
        /// (its own, the acknowledgement), "join:N" (in the history of a join, the Nth page this client was shown),
        /// "page:N" (in a page it read on).
        case received
        /// The server said messages after `after` were missed: `lost` true when some are gone for good (those before
        /// `msgid`, the oldest it still keeps), false when the client should read on (it does, from `after`).
        case gap
        /// The connection dropped, or came back.
        case dropped, resumed
        /// A fault scripts/soak.sh injected (`code`: which), at the time it was done.
        case fault
    }

    public var kind: Kind
    public var client: String
    public var room: String? = nil
    public var text: String? = nil
    public var msgid: String? = nil
    public var confirmed: Bool? = nil
    public var lost: Bool? = nil
    public var after: String? = nil
    public var code: String? = nil
    /// Milliseconds since the soak began, for the report.
    public var at: Int = 0

    public init(
        _ kind: Kind, client: String, room: String? = nil, text: String? = nil, msgid: String? = nil,
        confirmed: Bool? = nil, lost: Bool? = nil, after: String? = nil, code: String? = nil, at: Int = 0
    ) {
        self.kind = kind
        self.client = client
        self.room = room
        self.text = text
        self.msgid = msgid
        self.confirmed = confirmed
        self.lost = lost
        self.after = after
        self.code = code
        self.at = at
    }

    /// Reads a journal. Only its last line may be cut short (the writer stopped mid-line); any other line that is
    /// not an entry is an error, not something to skip.
    public static func read(_ path: String) throws -> [SoakEntry] {
        let decoder = JSONDecoder()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline)
        var entries: [SoakEntry] = []
        entries.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            do {
                entries.append(try decoder.decode(SoakEntry.self, from: Data(line.utf8)))
            } catch  where index == lines.count - 1 {
                break
            } catch {
                throw SoakError("\(path), line \(index + 1): not a journal entry (\(line.prefix(120)))")
            }
        }
        return entries
    }

    public func line() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? ""
    }
}
