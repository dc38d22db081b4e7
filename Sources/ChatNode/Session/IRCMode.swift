import ChatCore
import NIOCore

/// IRC clients (irssi, WeeChat, bots) on the node's IRC port: each line an IRC message, registration and the
/// commands handled by `IRCSession`, every event rendered by `IRCRenderer`. A class, unlike the other modes: an
/// IRC connection has state of its own (its registration, its capabilities), kept here beside the chat session.
final class IRCMode: SessionMode, FollowsUpEvents {
    private var session: IRCSession
    /// The chat tells each room when someone leaves or goes away; IRC tells each client once. The last such line
    /// per person is remembered, so the copies from the other rooms they shared are not sent again.
    private var lastPersonLine: [String: String] = [:]
    /// A join's recent messages, kept until its NAMES has been sent (at most one page per room joined).
    private var replayAfterNames: [RoomName: [ChatMessage]] = [:]
    /// Responses to labeled commands being gathered (IRCv3 labeled-response).
    private var labels: IRCLabeledResponses

    init(serverName: String) {
        session = IRCSession(serverName: serverName)
        labels = IRCLabeledResponses(serverName: serverName)
    }

    var traits: ModeTraits { ModeTraits(answersPings: true, waitsWhenLimited: true, resumes: false) }

    func input(_ frame: [UInt8], stage: SessionStage, allocator: ByteBufferAllocator) -> ModeInput {
        // IRC is UTF-8 here (ISUPPORT UTF8ONLY): a line that is not is refused (`refuseInvalidUTF8`), after parsing
        // it with invalid bytes as U+FFFD to name its command. A NUL is refused with its line by
        // the parser; a CR inside a line is removed from its text like any control character.
        let valid = String(validating: frame, as: UTF8.self)
        var text = valid ?? String(decoding: frame, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        let message: IRCMessage
        do {
            message = try IRCMessage(parsing: text[...])
        } catch .empty {
            return ModeInput()
        } catch .forbiddenCharacter {
            return reply(
                IRCMessage(
                    source: session.serverName, command: "NOTICE",
                    parameters: [session.view.nick, "a line with a NUL byte was discarded"]), allocator)
        } catch .tooLong {
            return reply(
                IRCMessage(
                    source: session.serverName, command: "417",
                    parameters: [session.view.nick, "Input line was too long"]), allocator)
        } catch {
            return reply(
                IRCMessage(
                    source: session.serverName, command: "421", parameters: [session.view.nick, "*", "Unknown command"]),
                allocator)
        }
        var output =
            valid == nil ? session.refuseInvalidUTF8(message) : session.receive(message, now: WallClock.now())
        if let label = message.tags.first(where: { $0.key == "label" })?.value, !label.isEmpty,
            label.utf8.count <= IRCLabeledResponses.maximumLabelBytes,
            session.capabilities.contains("labeled-response"),
            session.registered
        {
            (output.replies, output.requests) = labels.begin(
                label: label, replies: output.replies, requests: output.requests, batches: batches)
        }
        if message.command == "CAP" {
            let enabled = session.capabilities
            renderingVariant = Self.renderingCapabilities.enumerated().reduce(0) { key, entry in
                enabled.contains(entry.element) ? key | 1 << entry.offset : key
            }
        }
        var input = ModeInput()
        input.replies = output.replies.map { allocator.buffer(string: Self.wire($0)) }
        // Message text is cleaned as text mode cleans it (escape sequences, control characters), so nothing an IRC
        // client sends reaches an nc user's terminal raw; its formatting codes stay, for the other IRC clients,
        // and the other protocols' renderers remove them.
        input.requests = output.requests.map {
            ParsedRequest(request: .success($0.request.sanitized(keepingIRCFormatting: true)), id: $0.id)
        }
        return input
    }

    private func reply(_ message: IRCMessage, _ allocator: ByteBufferAllocator) -> ModeInput {
        ModeInput(replies: [allocator.buffer(string: Self.wire(message))])
    }

    /// A message as sent: the last parameter with a colon when it is text (what clients are used to seeing, and
    /// what some parse on), without one where it is a token (the channel of JOIN and PART, 004's modes).
    static func wire(_ message: IRCMessage) -> String {
        message.serialized(
            trailingColon: ![
                "JOIN", "PART", "MODE", "INVITE", "SILENCE", "004", "221", "271", "324", "333", "341", "367",
                "AUTHENTICATE",
                "BATCH", "TAGMSG",
            ].contains(message.command)) + "\r\n"
    }

    private var batches: Bool { session.capabilities.contains("batch") }

    func followUp(after event: ChatEvent, requestID: RequestID?) -> [ParsedRequest] {
        let (key, id) = IRCLabeledResponses.split(requestID)
        return labels.followUp(session.observe(event, requestID: id), key: key).map {
            ParsedRequest(request: .success($0.request), id: $0.id, charged: false)
        }
    }

    func render(
        _ event: ChatEvent, requestID: RequestID?, viewer: String?, now: Millis, allocator: ByteBufferAllocator
    )
        -> ByteBuffer?
    {
        let view = session.view
        let (label, requestID) = IRCLabeledResponses.split(requestID)
        var lines = IRCRenderer.lines(event, requestID: requestID, view: view, now: now)
        switch event {
        case .youJoined(let room, let history, _) where !history.isEmpty && IRCRenderer.replaysHistory(to: view):
            replayAfterNames[room] = history
        case .who(let room, _, _, _) where IRCRenderer.Purpose(requestID) == .names:
            if let history = replayAfterNames.removeValue(forKey: room) {
                lines += IRCRenderer.joinReplay(room, history, view: view, now: now)
            }
        case .youLeft(let room, _):
            replayAfterNames[room] = nil
        default:
            break
        }
        if let label {
            // A message to oneself: its echo answers the command, its delivery (the second half) is not part of it.
            var delivery: [IRCMessage] = []
            if case .direct(let direct) = event, direct.from.lowercased() == direct.to.lowercased(),
                session.capabilities.contains("echo-message")
            {
                delivery = Array(lines.suffix(lines.count / 2))
                lines.removeLast(lines.count / 2)
            }
            let final = IRCLabeledResponses.isFinal(event, purpose: IRCRenderer.Purpose(requestID))
            lines =
                labels.collect(
                    lines, key: label, final: final, held: IRCLabeledResponses.isHeld(event), batches: batches)
                + delivery
        }
        guard !lines.isEmpty else { return nil }
        return allocator.buffer(string: lines.map { Self.wire($0) }.joined())
    }

    func render(relayed event: RenderedEvent, viewer: String?, allocator: ByteBufferAllocator) -> ByteBuffer? {
        // Room messages, nearly everything relayed, go straight to the shared rendering.
        if case .message = event.envelope.event { return shared(event) }
        // One QUIT or AWAY per person, however many rooms this client shares with them.
        switch event.envelope.event {
        case .left(_, let name, let reason, _, _) where reason != .left:
            guard once(name, "QUIT \(reason.rawValue)") else { return nil }
        case .presence(_, let name, let presence, _):
            guard once(name, "AWAY \(presence)") else { return nil }
        case .renamed(_, let from, let to, _):
            guard once(from, "NICK \(to)") else { return nil }
            if to.lowercased() != from.lowercased() { lastPersonLine[to.lowercased()] = nil }
        case .joined(_, let name, _, _):
            lastPersonLine[name.lowercased()] = nil  // back: their next QUIT is news again
        case .kicked:
            _ = session.observe(event.envelope.event, requestID: nil)  // kicked out: the channel is no longer ours
        default:
            break
        }
        // A direct message reads differently for its sender and its recipient; everything else depends only on the
        // capabilities that add tags or lines, so the clients that share them share one rendering.
        if case .direct = event.envelope.event {
            return render(event.envelope.event, requestID: nil, viewer: viewer, now: event.now, allocator: allocator)
        }
        return shared(event)
    }

    private func shared(_ event: RenderedEvent) -> ByteBuffer? {
        event.cachedForIRC(renderingVariant) {
            let lines = IRCRenderer.lines(event.envelope.event, requestID: nil, view: session.view, now: event.now)
            return lines.isEmpty ? nil : lines.map { Self.wire($0) }.joined()
        }
    }

    /// The capabilities that change how a relayed room event is written.
    static let renderingCapabilities = ["server-time", "message-tags", "away-notify"]

    /// Which of `renderingCapabilities` the client enabled, as bits: the key of its shared renderings. Changes only
    /// with CAP, so it is worked out after each input rather than for each event.
    private var renderingVariant = 0

    /// Whether this person-wide line is new for this client (and remembers it). Bounded: a client sees as many
    /// people as its rooms hold, and the memory is cleared past a few thousand.
    private func once(_ name: String, _ line: String) -> Bool {
        let key = name.lowercased()
        guard lastPersonLine[key] != line else { return false }
        if lastPersonLine.count >= 4096 { lastPersonLine.removeAll(keepingCapacity: true) }
        lastPersonLine[key] = line
        return true
    }
}
