import ChatCore
import ChatStore
import ChatTracing
import NIOCore

/// The spans a session makes (`--otlp-endpoint`): a trace per room or direct message (the session's request, then
/// its publish to Redis, whose `traceparent` travels with the message so every node's fan-out joins the trace) and
/// per login (the claim; a registered name's password check). Other requests are not traced. Without a tracer, or
/// for a request the sample leaves out, nothing is made.
extension SessionHandler {
    /// The span for the request behind `operation`, when it is one that is traced and sampled.
    func requestSpan(for operation: StoreOperation) -> Span? {
        guard let tracer = node.tracer else { return nil }
        let span: Span?
        switch operation {
        case .publish(let message):
            span = tracer.startTrace("chat.message", kind: .server)
            span?.set("chat.room", message.room.value)
        case .sendDirect(_, let target):
            span = tracer.startTrace("chat.direct", kind: .server)
            span?.set("chat.to", target.display)
        case .claim(let name, let login, _):
            span = tracer.startTrace("chat.login", kind: .server)
            span?.set("chat.user", name.display)
            span?.set(
                "chat.login.method", login.resume != nil ? "resume" : login.password != nil ? "password" : "guest")
        case .checkPassword(let name, _):
            span = tracer.startTrace("chat.login.password", kind: .server)
            span?.set("chat.user", name.display)
        default:
            return nil
        }
        if let user = machine.view.userName { span?.set("chat.user", user.display) }
        span?.set("chat.protocol", protocolName)
        if let clientIP { span?.set("client.address", clientIP) }
        return span
    }

    /// The publish to Redis inside a request's span: its context is what the message carries to the nodes.
    /// Named as the chat's own steps (`chat.message.publish`, `chat.direct.publish`) rather than OpenTelemetry's
    /// `{operation} {destination}`: a room's channel is one destination per room, too many names for a backend.
    func publishSpan(in request: Span?, channel: String) -> Span? {
        guard let request, let tracer = node.tracer else { return nil }
        let span = tracer.startSpan(request.name + ".publish", kind: .producer, parent: request.context)
        span.set("messaging.system", "redis")
        span.set("messaging.operation.type", "send")
        span.set("messaging.operation.name", "publish")
        span.set("messaging.destination.name", channel)
        return span
    }

    /// Ends a request's span with what the store answered.
    func finish(_ span: Span, _ result: Result<StoreReply, any Error>) {
        switch result {
        case .success(.published(let id, let confirmed, _)):
            span.set("chat.message.id", id.description)
            if !confirmed { span.set("chat.message.unconfirmed", true) }
        case .success(.claimed(let outcome)):
            span.set("chat.login.outcome", Self.describe(outcome))
        case .success(.delivered(let delivered)):
            span.set("chat.delivered", delivered)
        case .success(.directSent):
            span.set("chat.delivered", true)
        case .success: break
        case .failure(let error):
            span.fail((error as? ChatError)?.message ?? "\(error)")
        }
        span.end()
    }

    private static func describe(_ outcome: ClaimOutcome) -> String {
        switch outcome {
        case .granted(_, _, _, let resumed, _): resumed ? "resumed" : "granted"
        case .held: "held"
        case .passwordRequired: "password-required"
        case .wrongPassword: "wrong-password"
        case .locked: "locked"
        case .crowded: "crowded"
        }
    }
}

extension EventLoopFuture {
    /// Ends `span`, when there is one, as this completes (a failure marks it failed).
    func ended(_ span: Span?) -> EventLoopFuture<Value> {
        guard let span else { return self }
        whenComplete { result in
            if case .failure(let error) = result { span.fail("\(error)") }
            span.end()
        }
        return self
    }
}
