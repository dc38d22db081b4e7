import ChatTracing
import Synchronization

/// One node's fan-out of one traced event: a span from the relay reading it off Redis to the last of this node's
/// loops having written it to its listeners, continuing the trace the publishing node carried in the event
/// (`RelayEnvelope.traceParent`). Each loop the event goes to says how many it wrote to; the last one ends the span.
final class FanoutTrace: Sendable {
    /// Touched by the last loop only (`remaining` orders it after the others).
    private let span: Span
    private let remaining: Atomic<Int>
    private let recipients = Atomic<Int>(0)

    init(span: Span, loops: Int) {
        self.span = span
        remaining = Atomic(loops)
    }

    /// A loop wrote the event to `count` sessions (and flushed them).
    func delivered(to count: Int) {
        recipients.add(count, ordering: .relaxed)
        guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        span.set("chat.recipients", recipients.load(ordering: .relaxed))
        span.end()
    }
}
