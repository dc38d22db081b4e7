import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

/// Makes spans and exports them over OTLP/HTTP (JSON) in batches, off every request's path: a span ended goes into
/// a bounded queue, and the tracer's own thread encodes and posts the queue about once a second, a batch at a time.
/// A collector that refuses for a while (it restarts, it is overloaded: HTTP 429, 502, 503, 504, or no connection)
/// gets the batch again later, after a growing pause; meanwhile spans wait in the queue, and once it is full new
/// ones are dropped and counted, never waited for, so tracing can slow nothing down but itself.
///
/// Why not swift-otel: it brings gRPC and protobuf, about seven minutes more of every build on the test machines,
/// for one exporter; the node's requests run on event loops with futures, not in tasks, so spans are passed by hand
/// rather than through swift-distributed-tracing's task-local context. The JSON encoding of OTLP is small, and the
/// tests check it with OpenTelemetry's own protobuf definitions.
public final class Tracer: Sendable {
    public struct Settings: Sendable {
        public var endpoint: OTLPEndpoint
        /// The share of requests that start a trace (0 to 1). A span continuing a trace from another node is made
        /// whenever that trace was sampled where it began.
        public var sampleRatio: Double = 1
        /// OTLP's `service.name`, `service.version` and `service.instance.id`.
        public var serviceName: String
        public var serviceVersion: String
        public var instanceID: String
        /// Spans waiting for export; past this, new ones are dropped (and counted).
        public var maximumQueued = 4096
        public var batchSize = 512
        public var interval: TimeAmount = .seconds(1)
        /// One post, connection included.
        public var timeout: TimeAmount = .seconds(10)
        /// The longest pause after refusals, and how long a shutdown waits for the queue to go out.
        public var maximumBackoff: TimeAmount = .seconds(30)
        public var shutdownTimeout: TimeAmount = .seconds(5)

        public init(
            endpoint: OTLPEndpoint, sampleRatio: Double = 1, serviceName: String, serviceVersion: String,
            instanceID: String
        ) {
            self.endpoint = endpoint
            self.sampleRatio = sampleRatio
            self.serviceName = serviceName
            self.serviceVersion = serviceVersion
            self.instanceID = instanceID
        }
    }

    /// What the tracer reports as it goes (the node turns them into its metrics).
    public struct Counts: Sendable {
        public var exported: @Sendable (Int) -> Void = { _ in }
        public var dropped: @Sendable (Int) -> Void = { _ in }
        public var failedExports: @Sendable () -> Void = {}
        public init() {}
    }

    public let settings: Settings
    private let counts: Counts
    private let logger: Logger
    private let resource: OTLPEncoding.Resource
    /// The tracer's own thread: encoding a batch takes milliseconds, which no chat event loop should wait for.
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var eventLoop: any EventLoop { group.next() }
    private let state = NIOLockedValueBox(State())
    /// Ids and sampling draws: a SplitMix64 sequence seeded once from the system's generator. Trace ids must be
    /// unique, not secret, and a system call per message would cost more than the rest of its span.
    private let randomState = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    private struct State {
        var queue: [Span] = []
        var exporting = false
        /// Refusals in a row, and until when posting waits because of them.
        var refusals = 0
        var pausedUntil: NIODeadline?
        var timer: RepeatedTask?
        /// Set by `shutdown`: completed once the queue is out, or a post failed, or its time is up.
        var drained: EventLoopPromise<Void>?
    }

    public init(settings: Settings, counts: Counts = Counts(), logger: Logger) {
        self.settings = settings
        self.counts = counts
        self.logger = logger
        resource = OTLPEncoding.Resource(
            attributes: [
                ("service.name", .string(settings.serviceName)), ("service.version", .string(settings.serviceVersion)),
                ("service.instance.id", .string(settings.instanceID)),
            ],
            scopeName: "swift-redis-chat", scopeVersion: settings.serviceVersion)
    }

    private func random() -> UInt64 {
        var mixed = randomState.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A span beginning a trace, for the share of calls `sampleRatio` asks for; nil for the rest.
    public func startTrace(_ name: String, kind: SpanKind, at time: UInt64 = Span.now()) -> Span? {
        guard settings.sampleRatio >= 1 || Double(random() >> 11) * 0x1p-53 < settings.sampleRatio else {
            return nil
        }
        let context = SpanContext(traceHigh: random(), traceLow: random() | 1, spanID: random() | 1)
        return Span(name: name, kind: kind, context: context, parentSpanID: nil, startTime: time, tracer: self)
    }

    /// A span inside the trace `parent` belongs to (on this node or, through a `traceparent`, another).
    public func startSpan(_ name: String, kind: SpanKind, parent: SpanContext, at time: UInt64 = Span.now()) -> Span {
        var context = parent
        context.spanID = random() | 1
        return Span(
            name: name, kind: kind, context: context, parentSpanID: parent.spanID, startTime: time, tracer: self)
    }

    func finished(_ span: Span) {
        let (queued, kick) = state.withLockedValue { state -> (Bool, Bool) in
            guard state.queue.count < settings.maximumQueued, state.drained == nil else { return (false, false) }
            state.queue.append(span)
            // A full batch goes at once rather than at the next tick.
            return (true, state.queue.count == settings.batchSize && !state.exporting && state.pausedUntil == nil)
        }
        // Dropped when full (the collector is away or slower than this node), or ended after the shutdown.
        if !queued { counts.dropped(1) }
        if kick { eventLoop.execute { self.exportQueued() } }
    }

    /// Exports every `interval` until `shutdown`.
    public func start() {
        let timer = eventLoop.scheduleRepeatedTask(initialDelay: settings.interval, delay: settings.interval) { _ in
            self.exportQueued()
        }
        state.withLockedValue { $0.timer = timer }
    }

    /// Stops the timer and posts what is queued (after a post under way), waiting at most `shutdownTimeout`; spans
    /// ended after this are dropped. Then the tracer's thread ends. A second call returns at once (the tracer's loop
    /// may be gone, and nothing scheduled on it would run).
    public func shutdown() async {
        let loop = eventLoop
        let drained = state.withLockedValue { state -> EventLoopPromise<Void>? in
            guard state.drained == nil else { return nil }
            let drained = loop.makePromise(of: Void.self)
            state.timer?.cancel()
            state.drained = drained
            state.pausedUntil = nil  // a last try, whatever the refusals before
            return drained
        }
        guard let drained else { return }
        let deadline = loop.scheduleTask(in: settings.shutdownTimeout) { drained.succeed(()) }
        loop.execute { self.exportQueued() }
        try? await drained.futureResult.get()
        deadline.cancel()
        let left = state.withLockedValue { state in
            defer { state.queue.removeAll() }
            return state.queue.count
        }
        if left > 0 {
            counts.dropped(left)
            logger.warning(
                "traces: spans left unexported at shutdown", metadata: ["otlp.spans": "\(left)"])
        }
        try? await group.shutdownGracefully()
    }

    /// Posts the queue a batch at a time, one post in flight at most, until it is empty or a post fails. On the
    /// tracer's loop.
    private func exportQueued() {
        let now = NIODeadline.now()
        let (batch, drained) = state.withLockedValue { state -> ([Span], EventLoopPromise<Void>?) in
            if let until = state.pausedUntil, until > now { return ([], nil) }
            state.pausedUntil = nil
            guard !state.exporting else { return ([], nil) }
            guard !state.queue.isEmpty else { return ([], state.drained) }
            state.exporting = true
            let batch = Array(state.queue.prefix(settings.batchSize))
            state.queue.removeFirst(batch.count)
            return (batch, nil)
        }
        drained?.succeed(())
        guard !batch.isEmpty else { return }
        let body = OTLPEncoding.request(batch, resource: resource)
        OTLPExporter.post(
            body, to: settings.endpoint, userAgent: "swift-redis-chat/\(settings.serviceVersion)", on: eventLoop,
            timeout: settings.timeout
        ).whenComplete { result in
            self.posted(batch, result)
        }
    }

    private func posted(_ batch: [Span], _ result: Result<OTLPExporter.Answer, any Error>) {
        let problem: String?
        var retryable = true
        var retryAfter: TimeAmount?
        switch result {
        case .success(let answer) where (200..<300).contains(answer.status):
            problem = nil
            // A partial success names the spans the collector refused: they are not exported.
            let rejected = min(answer.rejectedSpans, batch.count)
            if rejected > 0 { counts.dropped(rejected) }
            counts.exported(batch.count - rejected)
        case .success(let answer):
            problem = "the collector answered HTTP \(answer.status)"
            retryable = [429, 502, 503, 504].contains(answer.status)
            retryAfter = answer.retryAfter
        case .failure(let error):
            problem = "\(error)"
        }
        let (wasFailing, next, drained) = state.withLockedValue { state -> (Bool, Bool, EventLoopPromise<Void>?) in
            state.exporting = false
            let wasFailing = state.refusals > 0
            guard problem != nil else {
                state.refusals = 0
                return (wasFailing, !state.queue.isEmpty, state.queue.isEmpty ? state.drained : nil)
            }
            state.refusals += 1
            // Shutting down, a failure ends the export: the time left is not spent on a collector that is away.
            if let drained = state.drained { return (wasFailing, false, drained) }
            if retryable {
                // Back to the front of the queue, as much as there is room for; a growing pause before the next try.
                let room = max(0, settings.maximumQueued - state.queue.count)
                state.queue.insert(contentsOf: batch.prefix(room), at: 0)
                if batch.count > room { counts.dropped(batch.count - room) }
                let pause = min(
                    settings.maximumBackoff.nanoseconds,
                    settings.interval.nanoseconds << min(state.refusals - 1, 16))
                let asked = min(retryAfter ?? .nanoseconds(0), settings.maximumBackoff)
                state.pausedUntil = .now() + max(asked, .nanoseconds(pause))
            } else {
                counts.dropped(batch.count)
            }
            return (wasFailing, false, nil)
        }
        if let problem {
            counts.failedExports()
            if drained != nil { counts.dropped(batch.count) }
            if !wasFailing {
                logger.warning(
                    "traces: cannot export spans; keeping them for a while, then dropping them, until the collector answers",
                    metadata: ["otlp.endpoint": "\(settings.endpoint)", "error": "\(problem)"])
            }
        } else if wasFailing {
            logger.notice("traces: exporting again", metadata: ["otlp.endpoint": "\(settings.endpoint)"])
        }
        drained?.succeed(())
        if next { exportQueued() }
    }
}
