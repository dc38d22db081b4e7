import ChatCore
import Endpoints
import NIOCore
import NIOHTTP1
import NIOPosix

/// One GET of a node's /metrics over a fresh connection, bounded in time and size: a node that hangs, trickles or
/// answers with megabytes costs the status page one failed reading, never the balancer's memory or a loop.
enum MetricsScrape {
    /// A node's /metrics is a few KiB.
    static let maximumBytes = 256 << 10

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func fetch(
        _ endpoint: HostPort, path: String = "/metrics", on eventLoop: any EventLoop, timeout: TimeAmount
    )
        -> EventLoopFuture<String>
    {
        let result = eventLoop.makePromise(of: String.self)
        let timer = eventLoop.scheduleTask(in: timeout) {
            result.fail(Failure(description: "no answer within \(Double(timeout.nanoseconds) / 1e9) s"))
        }
        result.futureResult.whenComplete { _ in timer.cancel() }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        Reader(host: endpoint.description, path: path, result: result))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .whenComplete { connected in
                switch connected {
                case .success(let channel):
                    result.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure(let error):
                    result.fail(Failure(description: describe(error)))
                }
            }
        return result.futureResult
    }

    /// A short reason for the page: "connection refused" rather than the socket call that saw it.
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        for (needle, reason) in [
            ("Connection refused", "connection refused"), ("connectTimeout", "connect timed out"),
            ("No route to host", "no route to host"), ("Network is unreachable", "network unreachable"),
            ("Connection reset", "connection reset"),
        ] where text.contains(needle) {
            return reason
        }
        return String(text.prefix(160))
    }

    private final class Reader: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private let host: String
        private let path: String
        private let result: EventLoopPromise<String>
        private var status: HTTPResponseStatus?
        private var body = ByteBuffer()

        init(host: String, path: String, result: EventLoopPromise<String>) {
            self.host = host
            self.path = path
            self.result = result
        }

        func channelActive(context: ChannelHandlerContext) {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            head.headers.add(name: "Host", value: host)
            head.headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = head.status
            case .body(var part):
                guard body.readableBytes + part.readableBytes <= MetricsScrape.maximumBytes else {
                    result.fail(Failure(description: "answer larger than \(MetricsScrape.maximumBytes) bytes"))
                    context.close(promise: nil)
                    return
                }
                body.writeBuffer(&part)
            case .end:
                if status == .ok {
                    result.succeed(String(buffer: body))
                } else {
                    result.fail(Failure(description: "answered \(status.map { "\($0.code)" } ?? "nothing")"))
                }
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            result.fail(Failure(description: "closed before answering"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            result.fail(Failure(description: MetricsScrape.describe(error)))
            context.close(promise: nil)
        }
    }
}
