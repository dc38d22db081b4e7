import NIOCore
import NIOSSL

/// One command waiting for its reply.
struct PendingCommand: Sendable {
    var command: RedisCommand
    var promise: EventLoopPromise<RedisValue>
}

/// Matches replies to commands in order (Redis answers in order), and drops a connection whose oldest command has
/// waited longer than `timeout`: a hung Redis must not hold every session's request forever.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisValue
    typealias OutboundIn = PendingCommand
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<(promise: EventLoopPromise<RedisValue>, sentAt: NIODeadline)>()
    private let timeout: TimeAmount
    private var watchdog: RepeatedTask?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        // The task runs on the channel's loop, where both the handler and its context live.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: .nanoseconds(timeout.nanoseconds / 2), delay: .nanoseconds(timeout.nanoseconds / 2)) {
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
        var buffer = context.channel.allocator.buffer(capacity: 64)
        pending.command.write(into: &buffer)
        waiting.append((pending.promise, .now()))
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard let (promise, _) = waiting.popFirst() else {
            context.fireErrorCaught(RedisError(.protocolViolation, "a reply with no command waiting for it"))
            return
        }
        if case .error(let message) = value {
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
        failAll(error as? RedisError ?? RedisError(tls ? .tls : .connectionClosed, "\(error)"))
        context.close(promise: nil)
    }

    private func checkTimeout(context: ChannelHandlerContext) {
        guard let oldest = waiting.first, NIODeadline.now() - oldest.sentAt > timeout else { return }
        failAll(RedisError(.timeout, "no reply from Redis within \(timeout.nanoseconds / 1_000_000) ms"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let (promise, _) = waiting.popFirst() { promise.fail(error) }
    }
}
