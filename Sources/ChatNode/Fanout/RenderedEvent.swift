import ChatCore
import NIOCore

/// One relayed event on its way to the sessions of one event loop. Each protocol mode's bytes are rendered the
/// first time a session of that mode needs them and then shared: every member gets the same ByteBuffer.
final class RenderedEvent {
    let channel: String
    let envelope: RelayEnvelope
    private let now: Millis
    private var text: ByteBuffer?
    private var json: ByteBuffer?

    init(channel: String, envelope: RelayEnvelope, now: Millis) {
        self.channel = channel
        self.envelope = envelope
        self.now = now
    }

    func bytes(for mode: ProtocolMode, allocator: ByteBufferAllocator) -> ByteBuffer {
        switch mode {
        case .text:
            if let text { return text }
            let rendered = allocator.buffer(string: TextRenderer.render(envelope.event, viewer: nil, now: now))
            text = rendered
            return rendered
        case .json:
            if let json { return json }
            let rendered = allocator.buffer(string: JSONRenderer.render(envelope.event, now: now))
            json = rendered
            return rendered
        }
    }
}

/// How a client chose to talk, by its first line.
enum ProtocolMode {
    case text
    case json
}
