import ChatCore
import NIOCore
import NIOWebSocket

/// Makes a WebSocket look like a line-based connection to `SessionHandler`, so a browser's session is the same
/// code as a TCP client's: the same limits, rate limit, slow-consumer rule and fan-out. Each text message in is
/// one request line; each line the session writes goes out as one text message. The WebSocket side speaks JSON
/// only: text-mode lines (the greeting sent before a client picks its mode) are not forwarded, and a message that
/// is not a JSON object is answered with a `bad-request` error without reaching the session.
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
            let bytes = payload.readBytes(length: payload.readableBytes) ?? []
            let trimmed = bytes.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
            guard trimmed.first == UInt8(ascii: "{"), !bytes.contains(UInt8(ascii: "\n")) else {
                let error = ChatError(.badRequest, "each WebSocket message must be one JSON object (see docs/protocol.md)")
                send(JSONRenderer.object(.error(error), requestID: nil, now: WallClock.now()), context: context)
                return
            }
            context.fireChannelRead(wrapInboundOut(.line(bytes)))
        case .binary:
            let error = ChatError(.badRequest, "binary messages are not part of the protocol; send JSON text")
            send(JSONRenderer.object(.error(error), requestID: nil, now: WallClock.now()), context: context)
        case .ping:
            var payload = frame.unmaskedData
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: payload.readSlice(length: payload.readableBytes) ?? ByteBuffer())
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            // Answer the close, then end the connection; the session sees it go as a client that left.
            guard !closing else { return context.close(promise: nil) }
            closing = true
            var payload = frame.unmaskedData
            let code = payload.readSlice(length: min(2, payload.readableBytes)) ?? ByteBuffer()
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }

    /// The session writes lines (one event each, sometimes several in one buffer): one message per JSON line.
    /// The write's promise goes with the last message, so the session learns when its bytes are out.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closing else {
            // Nothing may follow a close frame.
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var buffer = unwrapOutboundIn(data)
        var frames: [WebSocketFrame] = []
        while buffer.readableBytes > 0 {
            let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) ?? buffer.writerIndex
            var line = buffer.readSlice(length: end - buffer.readerIndex)!
            if buffer.readableBytes > 0 { buffer.moveReaderIndex(forwardBy: 1) }
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            guard line.readableBytesView.first == UInt8(ascii: "{") else { continue }
            frames.append(WebSocketFrame(fin: true, opcode: .text, data: line))
        }
        guard let last = frames.popLast() else {
            // Nothing for a WebSocket (the text greeting, or the session's empty write before it closes).
            promise?.succeed()
            return
        }
        for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
        context.write(wrapOutboundOut(last), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        sendCloseThenClose(.normalClosure, context: context, mode: mode, promise: promise)
    }

    /// Messages too large once their fragments are joined: the same answer as for one oversized frame.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let aggregation = error as? NIOWebSocketFrameAggregator.Error, aggregation == .accumulatedFrameSizeIsTooLarge || aggregation == .tooManyFragments {
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
            .whenComplete { _ in
                deadline.cancel()
                context.close(mode: mode, promise: promise)
            }
    }

    private func send(_ json: String, context: ChannelHandlerContext) {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(string: json))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
