import ChatCore
import NIOCore

/// One relayed event on its way to the sessions of one event loop. Each mode renders it the first time a session
/// of that mode needs it, and every member then gets the same ByteBuffer.
final class RenderedEvent: RelayedEvent {
    /// The renderings worth sharing, one slot each.
    enum Slot: Int, CaseIterable {
        case text
        case jsonLine
    }

    let channel: String
    let envelope: RelayEnvelope
    /// When the relay received it: the time shown for events that carry none of their own.
    let now: Millis
    /// When the relay read it off Redis: where the fan-out latency (`chat_fanout_latency_seconds`) starts.
    let received: NIODeadline
    /// This node's fan-out span, when the event is traced (shared by the event's copies for each loop).
    let fanout: FanoutTrace?
    private var rendered: [ByteBuffer?] = Array(repeating: nil, count: Slot.allCases.count)
    /// IRC renderings, by the set of capabilities that shape them (see `IRCMode`): a handful of variants at most.
    /// An entry holding nil is an event those clients are not shown.
    private var renderedForIRC: [Int: ByteBuffer?] = [:]

    init(
        channel: String, envelope: RelayEnvelope, now: Millis, received: NIODeadline, fanout: FanoutTrace? = nil
    ) {
        self.fanout = fanout
        self.channel = channel
        self.envelope = envelope
        self.now = now
        self.received = received
    }

    func cached(_ slot: Slot, render: () -> String) -> ByteBuffer {
        if let bytes = rendered[slot.rawValue] { return bytes }
        let bytes = ByteBuffer(string: render())
        rendered[slot.rawValue] = bytes
        return bytes
    }

    func cachedForIRC(_ variant: Int, render: () -> String?) -> ByteBuffer? {
        if let bytes = renderedForIRC[variant] { return bytes }
        let bytes = render().map { ByteBuffer(string: $0) }
        renderedForIRC[variant] = bytes
        return bytes
    }
}
