import ChatCore
import NIOCore

/// How one client talks: how a frame it sends becomes a request, and how an event becomes the bytes it reads.
/// Framing (lines, WebSocket messages) is done before and after, by the channel's other handlers: a mode sees one
/// frame in and writes one buffer per event out. The session's logic (`SessionMachine`) never learns which mode it
/// talks to; a new protocol is one more mode plus its listener.
protocol SessionMode {
    /// How the session behaves for this protocol's clients.
    var traits: ModeTraits { get }
    /// Everything one frame asks for: requests for the session, in order, and lines the mode answers itself
    /// (IRC's CAP and PING).
    func input(_ frame: [UInt8], stage: SessionStage, allocator: ByteBufferAllocator) -> ModeInput
    /// An event for this client alone (a reply, a notice); nil when this mode does not show it.
    func render(
        _ event: ChatEvent, requestID: RequestID?, viewer: String?, now: Millis, allocator: ByteBufferAllocator
    )
        -> ByteBuffer?
    /// A relayed event, as shared bytes where the event reads the same for everyone; nil when not shown.
    func render(relayed event: RenderedEvent, viewer: String?, allocator: ByteBufferAllocator) -> ByteBuffer?
}

/// How a protocol's clients want their session run; what the shell tells the machine when the mode is chosen.
struct ModeTraits {
    /// Whether clients answer the server's pings (programs do; people on nc do not).
    var answersPings = false
    /// Over the rate limit, requests wait instead of being refused (IRC: clients wait for every reply).
    var waitsWhenLimited = false
    /// A dropped connection's name is held for its resume token (IRC clients have none to come back with).
    var resumes = true
    /// Whether the bytes of several events may go out as one write: true for the byte streams (lines, IRC), false
    /// where each write is one message of its own (a WebSocket frame).
    var coalescesWrites = true
}

/// A mode whose frames are one request each (text, JSON lines, WebSocket).
protocol OneRequestPerFrame: SessionMode {
    /// One frame as a request; nil when there is nothing to answer (a blank line).
    func parse(_ frame: [UInt8], stage: SessionStage) -> ParsedRequest?
}

extension OneRequestPerFrame {
    func input(_ frame: [UInt8], stage: SessionStage, allocator: ByteBufferAllocator) -> ModeInput {
        ModeInput(requests: parse(frame, stage: stage).map { [$0] } ?? [])
    }
}

/// A mode in which an event sent to the client asks for more (IRC: NAMES after a join).
protocol FollowsUpEvents: SessionMode {
    /// Requests that follow from an event sent to this client, to be taken before anything else queued.
    func followUp(after event: ChatEvent, requestID: RequestID?) -> [ParsedRequest]
}

/// What one frame asks for.
struct ModeInput {
    var requests: [ParsedRequest] = []
    var replies: [ByteBuffer] = []
}

/// Where the session is, for modes whose lines mean different things before and after the name (text mode).
enum SessionStage {
    case unnamed
    /// The name is registered and its password is asked for.
    case awaitingPassword
    case named
}

/// What a session takes in its turn: a request for the machine, or a line its mode answered by itself (the
/// answers to write once the rate allows).
enum PendingInput {
    case request(ParsedRequest)
    case answered([ByteBuffer])
    /// Another connection of the person joined this room: joined here too, in turn with the client's requests.
    case joinedElsewhere(RoomName)
}

struct ParsedRequest {
    var request: Result<ClientRequest, ChatError>
    /// Repeated in the reply; JSON modes only.
    var id: RequestID?
    /// False for what the protocol asks by itself (IRC's NAMES after a JOIN): it costs no rate-limit token.
    var charged = true
}

/// A TCP client picks its mode with its first line: a JSON object means JSON lines, anything else is text.
enum LineModes {
    /// Nil while the frame is blank: the choice waits for a line with something on it.
    static func chosen(byFirstLine frame: [UInt8]) -> (any SessionMode)? {
        guard let first = frame.first(where: { !Self.isBlank($0) }) else { return nil }
        return first == UInt8(ascii: "{") ? JSONLinesMode() : TextMode()
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }

    /// A line as text a person or program meant: telnet negotiation, escape sequences and control characters
    /// removed, surrounding spaces trimmed. Nil when nothing is left.
    static func cleanLine(_ frame: [UInt8]) -> String? {
        let text = Sanitizer.clean(TelnetFilter.strip(frame)).trimmingWhitespaceForLine()
        return text.isEmpty ? nil : text
    }
}

/// nc and telnet: `/commands`, a plain line is a message (or, before a name, the name), CRLF-terminated lines.
struct TextMode: OneRequestPerFrame {
    var traits: ModeTraits { ModeTraits() }

    func parse(_ frame: [UInt8], stage: SessionStage) -> ParsedRequest? {
        guard let text = LineModes.cleanLine(frame) else { return nil }
        switch stage {
        case .awaitingPassword:
            // The whole line is the password, slash or not; it is never echoed, logged or kept.
            return ParsedRequest(
                request: Result { () throws(ChatError) in .password(try Password(given: text)) }, id: nil)
        case .unnamed where !text.hasPrefix("/"):
            return ParsedRequest(request: .success(.hello(name: text)), id: nil)
        default: break
        }
        return ParsedRequest(request: Result { () throws(ChatError) in try TextCommandParser.parse(text) }, id: nil)
    }

    func render(
        _ event: ChatEvent, requestID: RequestID?, viewer: String?, now: Millis, allocator: ByteBufferAllocator
    )
        -> ByteBuffer?
    {
        let text = TextRenderer.render(event, viewer: viewer, now: now)
        return text.isEmpty ? nil : allocator.buffer(string: text)
    }

    func render(relayed event: RenderedEvent, viewer: String?, allocator: ByteBufferAllocator) -> ByteBuffer? {
        switch event.envelope.event {
        case .typing:
            // nc users would get a line per pause in somebody's typing.
            return nil
        case .direct:
            // Reads "to" or "from" depending on who looks, so it is not shared.
            return render(event.envelope.event, requestID: nil, viewer: viewer, now: event.now, allocator: allocator)
        case .kicked(_, let name, _, _, _) where viewer?.lowercased() == name.lowercased():
            // The one kicked reads "removed you".
            return render(event.envelope.event, requestID: nil, viewer: viewer, now: event.now, allocator: allocator)
        default:
            return event.cached(.text) { TextRenderer.render(event.envelope.event, viewer: nil, now: event.now) }
        }
    }
}

/// Programs: one JSON request per line in, one JSON event per line out.
struct JSONLinesMode: OneRequestPerFrame {
    var traits: ModeTraits { ModeTraits(answersPings: true) }

    func parse(_ frame: [UInt8], stage: SessionStage) -> ParsedRequest? {
        guard let text = LineModes.cleanLine(frame) else { return nil }
        return JSONParsing.parse(text)
    }

    func render(
        _ event: ChatEvent, requestID: RequestID?, viewer: String?, now: Millis, allocator: ByteBufferAllocator
    )
        -> ByteBuffer?
    {
        JSONRenderer.isSilent(event)
            ? nil : allocator.buffer(string: JSONRenderer.render(event, requestID: requestID, now: now))
    }

    func render(relayed event: RenderedEvent, viewer: String?, allocator: ByteBufferAllocator) -> ByteBuffer? {
        event.cached(.jsonLine) { JSONRenderer.render(event.envelope.event, now: event.now) }
    }
}

/// Browsers: one JSON request per WebSocket text message in, one JSON event per message out. The bytes are the
/// JSON-lines mode's without the newline, so both share one rendering of each relayed event.
struct WebSocketMode: OneRequestPerFrame {
    var traits: ModeTraits { ModeTraits(answersPings: true, coalescesWrites: false) }

    func parse(_ frame: [UInt8], stage: SessionStage) -> ParsedRequest? {
        guard frame.first(where: { !LineModes.isBlank($0) }) == UInt8(ascii: "{"), !frame.contains(UInt8(ascii: "\n"))
        else {
            let error = ChatError(.badRequest, "each WebSocket message must be one JSON object (see docs/protocol.md)")
            return ParsedRequest(request: .failure(error), id: nil)
        }
        let text = Sanitizer.clean(frame).trimmingWhitespaceForLine()
        return JSONParsing.parse(text)
    }

    func render(
        _ event: ChatEvent, requestID: RequestID?, viewer: String?, now: Millis, allocator: ByteBufferAllocator
    )
        -> ByteBuffer?
    {
        JSONRenderer.isSilent(event)
            ? nil : allocator.buffer(string: JSONRenderer.object(event, requestID: requestID, now: now))
    }

    func render(relayed event: RenderedEvent, viewer: String?, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let line = JSONLinesMode().render(relayed: event, viewer: viewer, allocator: allocator)
        return line.flatMap { $0.getSlice(at: $0.readerIndex, length: $0.readableBytes - 1) }
    }
}

enum JSONParsing {
    /// Parsed before the rate limit, so that even a refusal carries the request's id.
    static func parse(_ text: String) -> ParsedRequest {
        let parsed = JSONRequestParser.parse(text)
        return ParsedRequest(request: parsed.request.map { $0.sanitized() }, id: parsed.id)
    }
}

extension String {
    /// Lines lose surrounding spaces; what is inside stays verbatim.
    func trimmingWhitespaceForLine() -> String {
        // Most lines start and end with a printable ASCII byte: nothing to trim, and no walk over Characters.
        if let first = utf8.first, let last = utf8.last, Self.isPrintableNonSpace(first), Self.isPrintableNonSpace(last)
        {
            return self
        }
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }

    private static func isPrintableNonSpace(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }
}
