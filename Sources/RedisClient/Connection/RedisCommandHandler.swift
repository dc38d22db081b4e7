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
    /// For a write whose caller waits for replicas to have it (see `ReplicaWaits`).
    var acknowledgement: PendingAcknowledgement? = nil

    /// Fails the command, and gives its acknowledgement, if it asked for one, no replicas.
    func fail(_ error: any Error) {
        promise.fail(error)
        acknowledgement?.unacknowledged()
    }
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

    /// A command sent and not yet answered. `promise` is nil for the handler's own `WAIT` (see `ReplicaWaits`).
    private struct Waiting {
        var promise: EventLoopPromise<RedisValue>?
        var fallback: RetryAsEval?
        var acknowledgement: PendingAcknowledgement?
    }
    private var waiting = CircularBuffer<Waiting>()
    private var replicaWaits = ReplicaWaits()
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
            pending.command,
            Waiting(
                promise: pending.promise,
                fallback: pending.scriptSource.map { RetryAsEval(evalsha: pending.command, source: $0) },
                acknowledgement: pending.acknowledgement),
            context: context, writePromise: promise)
    }

    private func send(
        _ command: RedisCommand, _ entry: Waiting, context: ChannelHandlerContext,
        writePromise: EventLoopPromise<Void>?
    ) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        command.write(into: &buffer, scratch: &scratch)
        if waiting.isEmpty { silence.heard() }
        waiting.append(entry)
        context.write(wrapOutboundOut(buffer), promise: writePromise)
    }

    /// Sends this connection's next `WAIT`, if there is one to send.
    private func sendWait(_ wait: RedisCommand?, context: ChannelHandlerContext) {
        guard let wait else { return }
        send(wait, Waiting(), context: context, writePromise: nil)
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        silence.heard()
        guard let entry = waiting.popFirst() else {
            context.fireErrorCaught(RedisError(.protocolViolation, "a reply with no command waiting for it"))
            return
        }
        guard let promise = entry.promise else {
            // This handler's WAIT: an error (an ACL user without WAIT, say) counts no replica.
            return sendWait(replicaWaits.waitAnswered(replicas: Int(value.int ?? 0), now: .now()), context: context)
        }
        if case .error(let message) = value {
            if let fallback = entry.fallback, message.hasPrefix("NOSCRIPT") {
                send(
                    fallback.eval, Waiting(promise: promise, acknowledgement: entry.acknowledgement), context: context,
                    writePromise: nil)
                context.flush()
                return
            }
            promise.fail(RedisError(.server, message))
            entry.acknowledgement?.unacknowledged()
        } else {
            promise.succeed(value)
            if let acknowledgement = entry.acknowledgement {
                sendWait(replicaWaits.writeAnswered(acknowledgement, now: .now()), context: context)
            }
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
        // A WAIT of ours holds the connection silent for up to its own timeout: that silence is Redis's answer.
        let allowed = timeout + replicaWaits.outstandingTimeout
        guard !waiting.isEmpty, silent > allowed else { return }
        let reason =
            "no reply from Redis for \(allowed.nanoseconds / 1_000_000) ms while \(waiting.count) commands waited"
        closing(reason)
        failAll(RedisError(.timeout, reason))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let entry = waiting.popFirst() {
            entry.promise?.fail(error)
            entry.acknowledgement?.unacknowledged()
        }
        replicaWaits.abandon()
    }
}
