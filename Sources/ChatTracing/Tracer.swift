import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Makes spans and exports them over OTLP/HTTP (JSON) in batches, off every request's path: a span ended goes into
/// a bounded queue, and one event loop posts the queue's spans about once a second, a batch at a time. When the
/// collector is slow or away the queue fills and further spans are dropped and counted, never waited for, so tracing
/// can slow nothing down but itself.
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
        public var timeout: TimeAmount = .seconds(10)

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
    private let state = NIOLockedValueBox(State())

    private struct State {
        var queue: [Span] = []
        var exporting = false
        var failing = false
        var timer: RepeatedTask?
        var eventLoop: (any EventLoop)?
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

    /// A span beginning a trace, for the share of calls `sampleRatio` asks for; nil for the rest.
    public func startTrace(_ name: String, kind: SpanKind, at time: UInt64 = Span.now()) -> Span? {
        guard settings.sampleRatio >= 1 || Double.random(in: 0..<1) < settings.sampleRatio else { return nil }
        var random = SystemRandomNumberGenerator()
        let context = SpanContext(
            traceHigh: random.next(), traceLow: random.next() | 1, spanID: random.next() | 1)
        return Span(name: name, kind: kind, context: context, parentSpanID: nil, startTime: time, tracer: self)
    }

    /// A span inside the trace `parent` belongs to (on this node or, through a `traceparent`, another).
    public func startSpan(_ name: String, kind: SpanKind, parent: SpanContext, at time: UInt64 = Span.now()) -> Span {
        var random = SystemRandomNumberGenerator()
        var context = parent
        context.spanID = random.next() | 1
        return Span(
            name: name, kind: kind, context: context, parentSpanID: parent.spanID, startTime: time, tracer: self)
    }

    func finished(_ span: Span) {
        let (queued, kick) = state.withLockedValue { state -> (Bool, (any EventLoop)?) in
            guard state.queue.count < settings.maximumQueued else { return (false, nil) }
            state.queue.append(span)
            // A full batch goes at once rather than at the next tick.
            return (true, state.queue.count == settings.batchSize && !state.exporting ? state.eventLoop : nil)
        }
        // Dropped when full: the collector is away or slower than this node.
        if !queued { counts.dropped(1) }
        kick?.execute { self.exportQueued() }
    }

    /// Exports every `interval` on `eventLoop` until `shutdown`.
    public func start(on eventLoop: any EventLoop) {
        let timer = eventLoop.scheduleRepeatedTask(initialDelay: settings.interval, delay: settings.interval) { _ in
            self.exportQueued()
        }
        state.withLockedValue {
            $0.timer = timer
            $0.eventLoop = eventLoop
        }
    }

    /// Stops the timer and exports what is queued, waiting at most `timeout` for it.
    public func shutdown() async {
        let (timer, loop) = state.withLockedValue { ($0.timer, $0.eventLoop) }
        timer?.cancel()
        guard let loop else { return }
        let done = loop.makePromise(of: Void.self)
        loop.execute { self.exportQueued(then: done) }
        try? await done.futureResult.get()
    }

    /// Posts the queue a batch at a time, one post in flight at most, until it is empty or a post fails.
    private func exportQueued(then done: EventLoopPromise<Void>? = nil) {
        let batch = state.withLockedValue { state -> [Span] in
            guard !state.exporting, !state.queue.isEmpty else { return [] }
            state.exporting = true
            let batch = Array(state.queue.prefix(settings.batchSize))
            state.queue.removeFirst(batch.count)
            return batch
        }
        guard let loop = state.withLockedValue({ $0.eventLoop }), !batch.isEmpty else {
            done?.succeed(())
            return
        }
        let body = OTLPEncoding.request(batch, resource: resource)
        OTLPExporter.post(
            body, to: settings.endpoint, userAgent: "swift-redis-chat/\(settings.serviceVersion)", on: loop,
            timeout: settings.timeout
        ).whenComplete { result in
            let problem: String?
            switch result {
            case .success(let status) where (200..<300).contains(status): problem = nil
            case .success(let status): problem = "the collector answered HTTP \(status)"
            case .failure(let error): problem = "\(error)"
            }
            self.reported(batch.count, problem: problem)
            let more = self.state.withLockedValue { state in
                state.exporting = false
                return problem == nil && !state.queue.isEmpty
            }
            if more {
                self.exportQueued(then: done)
            } else {
                done?.succeed(())
            }
        }
    }

    /// Counts a post, and logs a change between exporting and failing (not every failure: a collector away for an
    /// hour would write a line a second).
    private func reported(_ spans: Int, problem: String?) {
        let wasFailing = state.withLockedValue { state in
            defer { state.failing = problem != nil }
            return state.failing
        }
        if let problem {
            counts.failedExports()
            counts.dropped(spans)
            if !wasFailing {
                logger.warning(
                    "traces: cannot export spans; dropping them until the collector answers",
                    metadata: ["otlp.endpoint": "\(settings.endpoint)", "error": "\(problem)"])
            }
        } else {
            counts.exported(spans)
            if wasFailing {
                logger.notice("traces: exporting again", metadata: ["otlp.endpoint": "\(settings.endpoint)"])
            }
        }
    }
}
