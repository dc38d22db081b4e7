#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a span stands for, as OTLP numbers them (`Span.SpanKind`).
public enum SpanKind: Int, Sendable {
    case `internal` = 1
    case server = 2
    case client = 3
    case producer = 4
    case consumer = 5
}

/// An attribute's value: the OTLP `AnyValue`s the node writes.
public enum SpanValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
}

/// One timed step of a trace. A span is made by `Tracer.startSpan` (nil when the request is not sampled, so an
/// untraced request costs one branch), filled in by the code that owns it, and handed to its tracer by `end()`.
/// Not locked: one piece of code owns a span at a time, and hands it on through a future or an event loop's queue,
/// which order the accesses; `end()` is the last one.
public final class Span: @unchecked Sendable {
    public let name: String
    public let kind: SpanKind
    public let context: SpanContext
    public let parentSpanID: UInt64?
    /// Unix time in nanoseconds, as OTLP carries it.
    public let startTime: UInt64
    public private(set) var endTime: UInt64 = 0
    public private(set) var attributes: [(key: String, value: SpanValue)] = []
    /// Set by `fail`: the span's status is then an error with this message.
    public private(set) var failure: String?
    private let tracer: Tracer?
    private var ended = false

    init(
        name: String, kind: SpanKind, context: SpanContext, parentSpanID: UInt64?, startTime: UInt64,
        tracer: Tracer?
    ) {
        self.name = name
        self.kind = kind
        self.context = context
        self.parentSpanID = parentSpanID
        self.startTime = startTime
        self.tracer = tracer
    }

    public func set(_ key: String, _ value: String) { attributes.append((key, .string(value))) }
    public func set(_ key: String, _ value: Int) { attributes.append((key, .int(Int64(value)))) }
    public func set(_ key: String, _ value: Bool) { attributes.append((key, .bool(value))) }

    /// Marks the span as failed (OTLP status ERROR), saying why.
    public func fail(_ message: String) { failure = message }

    /// Ends the span now (or at `time`, Unix nanoseconds) and hands it to its tracer to export; a second call does
    /// nothing.
    public func end(at time: UInt64 = Span.now()) {
        guard !ended else { return }
        ended = true
        endTime = max(time, startTime)
        tracer?.finished(self)
    }

    /// The wall clock in Unix nanoseconds: what OTLP's timestamps are, so spans from several machines line up.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
