import ChatCore

/// What one pass of the archiver writes: messages, changes to archived ones, how far each room's stream was read,
/// and what it found trimmed before it could read it.
public struct ArchiveBatch: Sendable {
    public struct Message: Sendable {
        public enum Kind: Int16, Sendable {
            case say = 0
            case action = 1
            case notice = 2
        }
        public var room: String
        public var id: StreamID
        public var sender: String
        /// The author's identity key (`OutgoingMessage.author`): whose the message is when a person asks for theirs
        /// to be removed.
        public var author: String?
        public var kind: Kind
        public var time: Millis
        public var text: String
        /// The stream entry's payload as stored.
        public var entry: String

        public init(
            room: String, id: StreamID, sender: String, author: String?, kind: Kind, time: Millis, text: String,
            entry: String
        ) {
            self.room = room
            self.id = id
            self.sender = sender
            self.author = author
            self.kind = kind
            self.time = time
            self.text = text
            self.entry = entry
        }
    }

    /// A direct message, from a user's direct log (`ChatKeys.directLog`): `recipientKey` and its id there are
    /// what makes it one.
    public struct Direct: Sendable {
        public var recipientKey: String
        public var id: StreamID
        public var sender: String
        public var recipient: String
        /// Whose it is (`SessionGrant.author`, both ends): who finds it when they search, and whose it is when they
        /// ask for theirs to be removed.
        public var senderAuthor: String?
        public var recipientAuthor: String?
        public var kind: Message.Kind
        public var time: Millis
        public var text: String
    }

    public struct Edit: Sendable {
        public var room: String
        public var target: StreamID
        /// The edit's own id: an edit applies only over an older one.
        public var change: StreamID
        public var text: String
        public var time: Millis
    }

    public struct Deletion: Sendable {
        public var room: String
        public var target: StreamID
    }

    public struct Gap: Sendable {
        public var room: String
        /// The archive's cursor then.
        public var after: StreamID
        /// Where the stream started when it was read.
        public var resumedAt: StreamID
        /// How many messages were lost, when that is known (a full direct log counts them).
        public var lost: Int?

        public init(room: String, after: StreamID, resumedAt: StreamID, lost: Int? = nil) {
            self.room = room
            self.after = after
            self.resumedAt = resumedAt
            self.lost = lost
        }
    }

    public var messages: [Message] = []
    public var directs: [Direct] = []
    public var edits: [Edit] = []
    public var deletions: [Deletion] = []
    public var cursors: [String: StreamID] = [:]
    public var gaps: [Gap] = []

    public init() {}

    public var isEmpty: Bool {
        messages.isEmpty && directs.isEmpty && edits.isEmpty && deletions.isEmpty && cursors.isEmpty && gaps.isEmpty
    }

    /// Adds one entry of a user's direct log.
    public mutating func addDirect(
        entry payload: [UInt8], id: StreamID, recipientKey: String, senderAuthor: String?, recipientAuthor: String?
    ) {
        guard case .direct(let message)? = RelayCodec.decode(payload)?.event else { return }
        directs.append(
            Direct(
                recipientKey: recipientKey, id: id, sender: message.from, recipient: message.to,
                senderAuthor: senderAuthor, recipientAuthor: recipientAuthor,
                kind: message.isNotice ? .notice : message.isAction ? .action : .say, time: message.time,
                text: message.text))
    }

    /// Adds one stream entry: a message, or a change to one (reactions are not archived: history past the
    /// stream shows messages as edited, without their reactions).
    public mutating func add(entry payload: [UInt8], id: StreamID, room: String) {
        guard let envelope = RelayCodec.decode(payload, entryID: id) else { return }
        switch envelope.event {
        case .message(let message):
            let author: String?
            if case .string(let key) = FlatJSON.parse(payload)?["au"] {
                author = key
            } else {
                author = nil
            }
            messages.append(
                Message(
                    room: room, id: id, sender: message.from, author: author,
                    kind: message.isNotice ? .notice : message.isAction ? .action : .say, time: message.time,
                    text: message.text, entry: String(decoding: payload, as: UTF8.self)))
        case .messageChanged(let change):
            switch change.kind {
            case .edited(let text):
                edits.append(Edit(room: room, target: change.target, change: id, text: text, time: change.time))
            case .deleted:
                deletions.append(Deletion(room: room, target: change.target))
            case .reacted, .unreacted:
                break
            }
        default:
            break
        }
    }
}
