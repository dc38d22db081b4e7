import Endpoints
import NIOCore
import NIOPosix

/// A person in a soak, whatever protocol it speaks; each lives on its event loop, and is called there.
protocol SoakClient: AnyObject, Sendable {
    var name: String { get }
    var rooms: [String] { get }
    var eventLoop: any EventLoop { get }
    var reconnects: Int { get }
    func start()
    /// Sends the next message, if connected and in every room.
    func speak()
    func stopSending()
    /// Says goodbye and stays away.
    func stop()
    func received(_ line: String)
    func disconnected()
}

extension SoakClient {
    /// A connection to `target` whose lines, and whose end, come back to this person.
    func openConnection(to target: HostPort) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(3))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SoakLineHandler(client: self))
                }
            }
            .connect(host: target.host, port: target.port)
    }
}

/// Lines in, to the person; the end of the connection, to the person.
final class SoakLineHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let client: any SoakClient
    private var lines = LineSplitter()

    init(client: any SoakClient) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        for line in lines.lines(in: &buffer) { client.received(line) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.disconnected()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
