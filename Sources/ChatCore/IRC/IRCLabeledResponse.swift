/// IRCv3 `labeled-response` (https://ircv3.net/specs/extensions/labeled-response): a command sent with a `label`
/// tag gets its whole response tagged with that label, as one line, as a `labeled-response` batch, or as `ACK`
/// when it has none. A client (or bot) then knows which lines answer which command.
///
/// A command's response is not all known at once: it may be several chat requests (JOIN #a,#b), each answered
/// later, and a JOIN's NAMES is a request of its own that follows its reply. So the label rides in the request ids
/// (`L<n>|` before the purpose, see `IRCRenderer.Purpose`) and the lines rendered for those ids are gathered until
/// the last request has had its final event. A response whose first lines come before it is whole (a JOIN: its
/// reply, then the NAMES a round trip later) opens its batch with them and sends each line as it comes: nothing
/// is held back behind the channel's live traffic, and nothing waits in memory.
public struct IRCLabeledResponses: Sendable {
    /// Labels longer than this are ignored (the command is answered unlabeled), as the specification allows.
    public static let maximumLabelBytes = 64
    /// Responses being gathered at once; a command past this is answered unlabeled.
    public static let maximumPending = 64

    struct Pending {
        var label: String
        /// Requests whose final event has not come yet.
        var outstanding: Int
        var lines: [IRCMessage]
        /// The batch already sent open, whose lines now go out as they come.
        var openBatch: String?
        /// Lines already sent unlabeled (a several-line response to a client without batches).
        var unlabeled = false
    }

    private var pending: [Int: Pending] = [:]
    private var nextKey = 0
    let serverName: String

    public init(serverName: String) {
        self.serverName = serverName
    }

    /// A labeled command: what `IRCSession` answered at once and the requests it made. Returns the lines to send
    /// now (a whole response, when it made no request) and the requests, their ids carrying the label.
    public mutating func begin(
        label: String, replies: [IRCMessage], requests: [(request: ClientRequest, id: RequestID?)], batches: Bool
    ) -> (replies: [IRCMessage], requests: [(request: ClientRequest, id: RequestID?)]) {
        let answered = requests.filter { $0.id != nil }.count
        guard answered > 0 else {
            return (finish(Pending(label: label, outstanding: 0, lines: replies), batches: batches), requests)
        }
        guard pending.count < Self.maximumPending else { return (replies, requests) }
        let key = nextKey
        nextKey &+= 1
        pending[key] = Pending(label: label, outstanding: answered, lines: replies)
        return ([], requests.map { ($0.request, $0.id.map { Self.labeled($0, key: key) }) })
    }

    /// The key of a labeled request id and the id without the label (what the renderer reads).
    public static func split(_ id: RequestID?) -> (key: Int?, id: RequestID?) {
        guard let id, id.json.hasPrefix("\"L"), let bar = id.json.firstIndex(of: "|"),
            let key = Int(id.json[id.json.index(id.json.startIndex, offsetBy: 2)..<bar])
        else { return (nil, id) }
        return (key, RequestID(json: "\"" + id.json[id.json.index(after: bar)...]))
    }

    static func labeled(_ id: RequestID, key: Int) -> RequestID {
        guard id.json.hasPrefix("\"") else { return id }
        return RequestID(json: "\"L\(key)|" + id.json.dropFirst())
    }

    /// A request that follows from an event of a labeled one (a JOIN's NAMES) belongs to the same response.
    public mutating func followUp(
        _ requests: [(request: ClientRequest, id: RequestID?)], key: Int?
    )
        -> [(request: ClientRequest, id: RequestID?)]
    {
        guard let key, pending[key] != nil else { return requests }
        let answered = requests.filter { $0.id != nil }.count
        pending[key]!.outstanding += answered
        return requests.map { ($0.request, $0.id.map { Self.labeled($0, key: key) }) }
    }

    /// Lines rendered for an event with a labeled id: held until the response is whole, then returned whole.
    /// `final`: the event ends its request (a join's reply does, the topic after it does not). `held`: the event's
    /// lines wait for the rest of the response whatever comes (`isHeld`).
    public mutating func collect(
        _ lines: [IRCMessage], key: Int, final: Bool, held: Bool = false, batches: Bool
    ) -> [IRCMessage] {
        guard var response = pending[key] else { return lines }
        if held, !final, response.openBatch == nil, !response.unlabeled {
            response.lines += lines
            pending[key] = response
            return []
        }
        if final { response.outstanding -= 1 }
        let whole = response.outstanding <= 0
        defer { pending[key] = whole ? nil : response }
        if response.unlabeled { return lines }
        if let reference = response.openBatch {
            return lines.map { Self.inBatch($0, reference) } + (whole ? [close(reference)] : [])
        }
        response.lines += lines
        if whole { return finish(response, batches: batches) }
        guard !response.lines.isEmpty else { return [] }
        // More is to come: what there is goes now, in a batch opened for the rest.
        defer { response.lines = [] }
        guard batches else {
            response.unlabeled = true
            return response.lines
        }
        let reference = "labeled\(key)"
        response.openBatch = reference
        return [open(reference, label: response.label)] + response.lines.map { Self.inBatch($0, reference) }
    }

    /// Whether an event ends the request it answers. Everything does, but what comes before a request's last
    /// word: the topic and the read marker after a JOIN's reply (not the answers to TOPIC and MARKREAD), a gap
    /// notice before a history page, the 301 before a direct message's echo.
    public static func isFinal(_ event: ChatEvent, purpose: IRCRenderer.Purpose?) -> Bool {
        switch event {
        case .topic, .readMarker: purpose != .join
        case .gap, .recipientAway: false
        default: true
        }
    }

    /// Whether an event's lines wait for the rest of the response rather than open its batch: the 301 before a
    /// direct message's echo comes from the same reply, a moment before it, so the two (or the 301 alone, without
    /// echo-message) go out as one labeled response.
    public static func isHeld(_ event: ChatEvent) -> Bool {
        if case .recipientAway = event { return true }
        return false
    }

    private func open(_ reference: String, label: String) -> IRCMessage {
        IRCMessage(
            tags: [(key: "label", value: label)], source: serverName, command: "BATCH",
            parameters: ["+" + reference, "labeled-response"])
    }

    private func close(_ reference: String) -> IRCMessage {
        IRCMessage(source: serverName, command: "BATCH", parameters: ["-" + reference])
    }

    /// A line of this batch; one inside a batch of its own (a CHATHISTORY page) stays in it, and that batch's start
    /// and end lines are what is tagged, which nests it in this one.
    static func inBatch(_ line: IRCMessage, _ reference: String) -> IRCMessage {
        guard !line.tags.contains(where: { $0.key == "batch" }) else { return line }
        var tagged = line
        tagged.tags.insert((key: "batch", value: reference), at: 0)
        return tagged
    }

    private func finish(_ response: Pending, batches: Bool) -> [IRCMessage] {
        let tag = (key: "label", value: Optional(response.label))
        switch response.lines.count {
        case 0:
            return [IRCMessage(tags: [tag], source: serverName, command: "ACK")]
        case 1:
            var line = response.lines[0]
            line.tags.insert(tag, at: 0)
            return [line]
        default:
            // Several lines need a batch; a client without batches gets them unlabeled.
            guard batches else { return response.lines }
            // Unique among open batches: a response goes out whole here, and a streamed one is "labeled<key>".
            let reference = "labeled"
            return [open(reference, label: response.label)] + response.lines.map { Self.inBatch($0, reference) }
                + [close(reference)]
        }
    }
}
