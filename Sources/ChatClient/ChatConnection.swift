import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What the connection tells the client, in order, from its event loop.
public enum ConnectionEvent: Sendable {
    case opened
    /// One JSON line from the server.
    case line(String)
    /// The connection closed or could not be made; another attempt follows after `retryIn` seconds.
    case lost(reason: String, retryIn: Double)
}

/// The client's TCP connection in JSON-lines mode, reconnecting by itself with jittered exponential backoff
/// (so a thousand clients of a restarted balancer do not all come back in the same millisecond).
public final class ChatConnection: Sendable {
    public let host: String
    public let port: Int
    private let group: any EventLoopGroup
    private let onEvent: @Sendable (ConnectionEvent) -> Void
    private let state = NIOLockedValueBox(State())

    private struct State {
        var channel: (any Channel)?
        var stopped = false
        var failures = 0
    }

    /// Backoff bounds: the first retry comes after about `initialDelay`, later ones double up to `maximumDelay`.
    public static let initialDelay = 0.25
    public static let maximumDelay = 8.0

    public init(host: String, port: Int, group: any EventLoopGroup, onEvent: @escaping @Sendable (ConnectionEvent) -> Void) {
        self.host = host
        self.port = port
        self.group = group
        self.onEvent = onEvent
    }

    public func start() { connect() }

    /// Writes one request line; dropped while disconnected (the client resumes after reconnecting).
    public func send(_ line: String) {
        guard let channel = state.withLockedValue({ $0.channel }) else { return }
        channel.writeAndFlush(ByteBuffer(string: line + "\n"), promise: nil)
    }

    /// Closes for good, after what was written has been flushed.
    public func stop() {
        let channel = state.withLockedValue { state -> (any Channel)? in
            state.stopped = true
            return state.channel
        }
        _ = try? channel?.close().wait()
    }

    /// The server answered: the next failure starts the backoff from the beginning.
    public func resetBackoff() { state.withLockedValue { $0.failures = 0 } }

    private func connect() {
        let lines = LineSplitter(onLine: { [onEvent] line in onEvent(.line(line)) })
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(lines) }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let stopped = self.state.withLockedValue { state -> Bool in
                        state.channel = channel
                        return state.stopped
                    }
                    if stopped { channel.close(promise: nil); return }
                    self.onEvent(.opened)
                    channel.closeFuture.whenComplete { _ in self.retry(after: "the connection closed") }
                case .failure(let error):
                    self.retry(after: "\(error)")
                }
            }
    }

    private func retry(after reason: String) {
        let delay = state.withLockedValue { state -> Double? in
            state.channel = nil
            guard !state.stopped else { return nil }
            state.failures += 1
            let ceiling = min(Self.maximumDelay, Self.initialDelay * Double(1 << min(state.failures - 1, 10)))
            return Double.random(in: ceiling / 2...ceiling)
        }
        guard let delay else { return }
        onEvent(.lost(reason: reason, retryIn: delay))
        group.next().scheduleTask(in: .milliseconds(Int64(delay * 1000))) { self.connect() }
    }
}

/// Splits the byte stream into lines; hands on the JSON ones (the server greets in text before it knows the mode).
final class LineSplitter: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let onLine: @Sendable (String) -> Void
    private let pending = NIOLockedValueBox(ByteBuffer())

    init(onLine: @escaping @Sendable (String) -> Void) { self.onLine = onLine }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        let lines = pending.withLockedValue { pending -> [String] in
            pending.writeBuffer(&incoming)
            var lines: [String] = []
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                var line = pending.readString(length: length) ?? ""
                pending.moveReaderIndex(forwardBy: 1)
                if line.hasSuffix("\r") { line.removeLast() }
                if line.hasPrefix("{") { lines.append(line) }
            }
            pending.discardReadBytes()
            return lines
        }
        for line in lines { onLine(line) }
    }
}
