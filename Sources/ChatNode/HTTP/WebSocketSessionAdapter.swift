import ChatCore
import NIOCore
import NIOWebSocket

/// The WebSocket framing under a `SessionHandler` in `WebSocketMode`, so a browser's session is the same code as a
/// TCP client's: the same limits, rate limit, slow-consumer rule and fan-out. Each text message in is one frame for
/// the session; each buffer the session writes (one rendered event) goes out as one text message. Pings, closes
/// and binary messages are answered here, in WebSocket terms.
final class WebSocketSessionAdapter: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = InboundLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            var payload = frame.unmaskedData
            context.fireChannelRead(wrapInboundOut(.line(payload.readBytes(length: payload.readableBytes) ?? [])))
        case .binary:
            let error = ChatError(.badRequest, "binary messages are not part of the protocol; send JSON text")
            send(JSONRenderer.object(.error(error), requestID: nil, now: WallClock.now()), context: context)
        case .ping:
            var payload = frame.unmaskedData
            let pong = WebSocketFrame(
                fin: true, opcode: .pong, data: payload.readSlice(length: payload.readableBytes) ?? ByteBuffer())
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            // Answer the close, then end the connection; the session sees it go as a client that left.
            guard !closing else { return context.close(promise: nil) }
            closing = true
            var payload = frame.unmaskedData
            let code = payload.readSlice(length: min(2, payload.readableBytes)) ?? ByteBuffer()
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        default:
            break
        }
    }

    /// One buffer from the session is one event: one text message. The empty write the session makes before it
    /// closes (to learn when its bytes are out) carries no message.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closing else {
            // Nothing may follow a close frame.
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let buffer = unwrapOutboundIn(data)
        guard buffer.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        sendCloseThenClose(.normalClosure, context: context, mode: mode, promise: promise)
    }

    /// Messages too large once their fragments are joined: the same answer as for one oversized frame.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let aggregation = error as? NIOWebSocketFrameAggregator.Error,
            aggregation == .accumulatedFrameSizeIsTooLarge || aggregation == .tooManyFragments
        {
            sendCloseThenClose(.messageTooLarge, context: context, mode: .all, promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    /// Says goodbye in WebSocket terms, then closes. A client that is not reading (the slow-consumer case, or a
    /// full socket) would never let the close frame out: then it is closed at once, or after a second at most.
    private func sendCloseThenClose(
        _ code: WebSocketErrorCode, context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?
    ) {
        guard !closing, mode == .all, context.channel.isWritable else {
            closing = true
            return context.close(mode: mode, promise: promise)
        }
        closing = true
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.write(webSocketErrorCode: code)
        let channel = context.channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
            .assumeIsolated().whenComplete { _ in
                deadline.cancel()
                context.close(mode: mode, promise: promise)
            }
    }

    private func send(_ json: String, context: ChannelHandlerContext) {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(string: json))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
