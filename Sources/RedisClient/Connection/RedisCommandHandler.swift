import NIOCore
import NIOSSL

/// One command waiting for its reply.
struct PendingCommand: Sendable {
    var command: RedisCommand
    var promise: EventLoopPromise<RedisValue>
    /// For an EVALSHA, the script's source: when Redis answers NOSCRIPT (it restarted, or flushed its scripts)
    /// the same command goes again as EVAL with the source, for the same promise. Done here rather than in a
    /// future's error handler because every message runs a script: one future and closure fewer per message.
    var scriptSource: String? = nil
}

/// An EVALSHA that becomes an EVAL with the script's source if Redis no longer has the script.
struct RetryAsEval {
    var evalsha: RedisCommand
    var source: String

    var eval: RedisCommand {
        var arguments = evalsha.arguments
        arguments[0] = "EVAL"
        arguments[1] = source
        return RedisCommand(arguments)
    }
}

/// Matches replies to commands in order (Redis answers in order), and drops a connection on which Redis has answered
/// nothing for `timeout` while commands waited: a hung Redis must not hold every session's request forever. A busy
/// one that keeps answering is alive, however deep the queue of commands behind its answers (a connect storm puts
/// thousands of claims and joins there at once, and each may wait its turn longer than `timeout`).
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisValue
    typealias OutboundIn = PendingCommand
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<(promise: EventLoopPromise<RedisValue>, fallback: RetryAsEval?)>()
    /// Since the last sign of life while commands waited: the last reply, or the sending of the first command
    /// waiting (counted only while this loop was free to read, see `SilenceClock`).
    private var silence: SilenceClock
    /// Reused by every command's encoding (see `RedisCommand.write`).
    private var scratch = RedisCommand.Scratch()
    private let timeout: TimeAmount
    private var watchdog: RepeatedTask?

    /// Told why this side closed the connection (a timeout, an error), for the reconnect's log line.
    private let closing: @Sendable (String) -> Void

    init(timeout: TimeAmount, closing: @escaping @Sendable (String) -> Void = { _ in }) {
        self.timeout = timeout
        self.closing = closing
        self.silence = SilenceClock(tick: .nanoseconds(timeout.nanoseconds / 2))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // The task runs on the channel's loop, where both the handler and its context live.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        silence = SilenceClock(tick: silence.tick)
        watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: silence.tick, delay: silence.tick) {
            _ in
            bound.value.handler.checkTimeout(context: bound.value.context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watchdog?.cancel()
        failAll(RedisError(.connectionClosed, "connection closed"))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pending = unwrapOutboundIn(data)
        send(
            pending.command, promise: pending.promise, scriptSource: pending.scriptSource, context: context,
            writePromise: promise)
    }

    private func send(
        _ command: RedisCommand, promise: EventLoopPromise<RedisValue>, scriptSource: String?,
        context: ChannelHandlerContext, writePromise: EventLoopPromise<Void>?
    ) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        command.write(into: &buffer, scratch: &scratch)
        if waiting.isEmpty { silence.heard() }
        waiting.append((promise, scriptSource.map { RetryAsEval(evalsha: command, source: $0) }))
        context.write(wrapOutboundOut(buffer), promise: writePromise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        silence.heard()
        guard let (promise, fallback) = waiting.popFirst() else {
            context.fireErrorCaught(RedisError(.protocolViolation, "a reply with no command waiting for it"))
            return
        }
        if case .error(let message) = value {
            if let fallback, message.hasPrefix("NOSCRIPT") {
                send(fallback.eval, promise: promise, scriptSource: nil, context: context, writePromise: nil)
                context.flush()
                return
            }
            promise.fail(RedisError(.server, message))
        } else {
            promise.succeed(value)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let tls = error is NIOSSLError || error is BoringSSLError
        closing("\(error)")
        failAll(error as? RedisError ?? RedisError(tls ? .tls : .connectionClosed, "\(error)"))
        context.close(promise: nil)
    }

    private func checkTimeout(context: ChannelHandlerContext) {
        // Every tick reads the clock, waiting or not, so that a late tick is never mistaken for silence.
        let silent = silence.silence()
        guard !waiting.isEmpty, silent > timeout else { return }
        let reason =
            "no reply from Redis for \(timeout.nanoseconds / 1_000_000) ms while \(waiting.count) commands waited"
        closing(reason)
        failAll(RedisError(.timeout, reason))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let (promise, _) = waiting.popFirst() { promise.fail(error) }
    }
}
