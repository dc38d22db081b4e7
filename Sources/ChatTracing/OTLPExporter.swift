import NIOCore
import NIOHTTP1
import NIOPosix

/// Posts one OTLP/HTTP JSON request and answers the response's status code. A connection per post: the tracer posts
/// about once a second at most, to a collector nearby, and a connection that cannot outlive its post leaves nothing
/// to keep alive or to find broken later.
enum OTLPExporter {
    /// What the collector answered: its status, how many spans a partial success refused, and how long it asked
    /// to be left alone (`Retry-After` in seconds; the tracer waits at most its `maximumBackoff`).
    struct Answer: Sendable {
        var status: UInt
        var rejectedSpans = 0
        var retryAfter: TimeAmount?
    }

    /// Fails when the collector cannot be reached, hangs up, or takes longer than `timeout`.
    static func post(
        _ body: String, to endpoint: OTLPEndpoint, userAgent: String, on eventLoop: any EventLoop,
        timeout: TimeAmount
    ) -> EventLoopFuture<Answer> {
        let answered = eventLoop.makePromise(of: Answer.self)
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

    /// `{"partialSuccess":{"rejectedSpans":"3",...}}` (an int64, so written as a string, or as a number by some):
    /// the number that is the key's value, 0 when there is none (or something else is there).
    static func rejectedSpans(in json: String) -> Int {
        guard let key = json.range(of: "\"rejectedSpans\"") else { return 0 }
        let value = json[key.upperBound...].drop { $0 == " " || $0 == ":" || $0 == "\"" }
        let digits = value.prefix { $0.isASCII && $0.isNumber }
        return Int(digits.prefix(18)) ?? 0
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
        private let answered: EventLoopPromise<Answer>
        private var answer: Answer?
        /// The response's body, read up to `maximumBodyBytes` (a partial success's counts; nothing else is read).
        private var body = ByteBuffer()
        static let maximumBodyBytes = 16 * 1024

        init(request: UnsafeRequest, answered: EventLoopPromise<Answer>) {
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
            case .head(let head):
                answer = Answer(
                    status: head.status.code,
                    retryAfter: head.headers.first(name: "Retry-After").flatMap { Int64($0) }.map {
                        .seconds(min(max($0, 0), 300))
                    })
            case .body(var part):
                if body.readableBytes < Self.maximumBodyBytes {
                    body.writeBuffer(&part)
                }
            case .end:
                if var answer {
                    answer.rejectedSpans = OTLPExporter.rejectedSpans(in: String(buffer: body))
                    answered.succeed(answer)
                }
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
