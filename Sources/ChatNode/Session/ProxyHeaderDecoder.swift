import ChatCore
import Logging
import NIOCore

/// Sent up the pipeline once a connection's PROXY header has been read.
struct ProxyHeaderReceived {
    var header: ProxyHeader
}

/// Requires a PROXY protocol v1 header as the first bytes of every connection (HAProxy's `accept-proxy`), for
/// nodes behind the balancer. A connection without a valid header within 107 bytes or 5 seconds is closed: a
/// node that trusts the header must not accept connections that could forge it by omission. After the header it
/// steps out of the pipeline and passes on whatever followed it.
final class ProxyHeaderDecoder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var buffered: ByteBuffer?
    private var deadline: Scheduled<Void>?
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .seconds(5)) {
            let (decoder, context) = bound.value
            decoder.reject(context: context, reason: "no PROXY header within 5 s")
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var buffered {
            buffered.writeBuffer(&input)
            input = buffered
        }
        let view = input.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if input.readableBytes >= ProxyHeader.maximumLength {
                reject(context: context, reason: "no PROXY header in the first 107 bytes")
            } else {
                buffered = input
            }
            return
        }
        let lineLength = newline - input.readerIndex + 1
        guard lineLength <= ProxyHeader.maximumLength, lineLength >= 2,
            view[newline - 1] == UInt8(ascii: "\r"),
            let text = input.readString(length: lineLength - 2),
            let header = ProxyHeader(parsing: Substring(text))
        else {
            reject(context: context, reason: "invalid PROXY header")
            return
        }
        input.moveReaderIndex(forwardBy: 2)
        buffered = nil
        deadline?.cancel()
        context.fireUserInboundEventTriggered(ProxyHeaderReceived(header: header))
        if input.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(input)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func reject(context: ChannelHandlerContext, reason: String) {
        guard context.channel.isActive else { return }
        logger.warning(
            "rejected a connection without a valid PROXY header",
            metadata: [
                "client.address": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")",
                "reason": "\(reason)",
            ])
        buffered = nil
        context.close(promise: nil)
    }
}

/// Remembers the client a PROXY header named, for a session that starts later on the same connection (a WebSocket
/// upgraded from HTTP: the header came before the HTTP request).
final class ClientAddressHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private(set) var header: ProxyHeader?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let received = event as? ProxyHeaderReceived { header = received.header }
        context.fireUserInboundEventTriggered(event)
    }
}
