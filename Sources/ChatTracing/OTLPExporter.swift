import NIOCore
import NIOHTTP1
import NIOPosix

/// Posts one OTLP/HTTP JSON request and answers the response's status code. A connection per post: the tracer posts
/// about once a second at most, to a collector nearby, and a connection that cannot outlive its post leaves nothing
/// to keep alive or to find broken later.
enum OTLPExporter {
    /// Fails when the collector cannot be reached, hangs up, or takes longer than `timeout`.
    static func post(
        _ body: String, to endpoint: OTLPEndpoint, userAgent: String, on eventLoop: any EventLoop,
        timeout: TimeAmount
    ) -> EventLoopFuture<UInt> {
        let answered = eventLoop.makePromise(of: UInt.self)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.path)
        head.headers.add(name: "Host", value: endpoint.address.description)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.utf8.count))
        head.headers.add(name: "User-Agent", value: userAgent)
        head.headers.add(name: "Connection", value: "close")
        let request = UnsafeRequest(head: head, body: ByteBuffer(string: body))
        let connecting = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(PostHandler(request: request, answered: answered))
                }
            }
            .connect(host: endpoint.address.host, port: endpoint.address.port)
        connecting.whenFailure { answered.fail($0) }
        let deadline = eventLoop.scheduleTask(in: timeout) {
            answered.fail(ChannelError.connectTimeout(timeout))
            connecting.whenSuccess { $0.close(promise: nil) }
        }
        answered.futureResult.whenComplete { _ in deadline.cancel() }
        return answered.futureResult
    }

    /// The request, made once and written by the one channel it was made for.
    private struct UnsafeRequest: @unchecked Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
    }

    private final class PostHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private let request: UnsafeRequest
        private let answered: EventLoopPromise<UInt>
        private var status: UInt?

        init(request: UnsafeRequest, answered: EventLoopPromise<UInt>) {
            self.request = request
            self.answered = answered
        }

        func channelActive(context: ChannelHandlerContext) {
            context.write(wrapOutboundOut(.head(request.head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = head.status.code
            case .body: break  // a partial success's details: the counts say what was exported
            case .end:
                if let status { answered.succeed(status) }
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            answered.fail(ChannelError.eof)  // nothing, once answered
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            answered.fail(error)
            context.close(promise: nil)
        }
    }
}
