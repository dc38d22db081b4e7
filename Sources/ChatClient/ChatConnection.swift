import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// What the connection tells the client, in order, from its event loop.
public enum ConnectionEvent: Sendable {
    case opened
    /// One JSON line from the server.
    case line(String)
    /// The connection closed or could not be made; another attempt follows after `retryIn` seconds.
    case lost(reason: String, retryIn: Double)
    /// The server cannot be trusted (its TLS certificate does not verify): no further attempt is made, since
    /// trying again would not help and falling back to plain text must never happen.
    case failed(reason: String)
}

/// TLS to the server, verified against the system's trusted certificates or the CA file given.
public struct ClientTLS: Sendable {
    let context: NIOSSLContext

    /// `caFile`: PEM certificates to trust instead of the system's (a private CA, a development certificate).
    public init(caFile: String? = nil) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) } catch {
                throw ClientTLSError(description: "cannot read the CA certificates in \(caFile): \(error)")
            }
        }
        context = try NIOSSLContext(configuration: configuration)
    }
}

public struct ClientTLSError: Error, CustomStringConvertible {
    public var description: String
}

/// The client's TCP connection in JSON-lines mode, reconnecting by itself with jittered exponential backoff
/// (so a thousand clients of a restarted balancer do not all come back in the same millisecond).
public final class ChatConnection: Sendable {
    public let host: String
    public let port: Int
    private let tls: ClientTLS?
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

    public init(
        host: String, port: Int, tls: ClientTLS? = nil, group: any EventLoopGroup,
        onEvent: @escaping @Sendable (ConnectionEvent) -> Void
    ) {
        self.host = host
        self.port = port
        self.tls = tls
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
        let tls = self.tls
        let host = self.host
        // With TLS the connection is open once the handshake is done (the certificate verified), not before.
        let watcher = TLSWatcher { [weak self] in self?.onEvent(.opened) }
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // The name to verify, and to send as SNI: a host name, not an address.
                        let name = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
                        try channel.pipeline.syncOperations.addHandlers([
                            try NIOSSLClientHandler(context: tls.context, serverHostname: name), watcher,
                        ])
                    }
                    try channel.pipeline.syncOperations.addHandler(lines)
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let stopped = self.state.withLockedValue { state -> Bool in
                        state.channel = channel
                        return state.stopped
                    }
                    if stopped {
                        channel.close(promise: nil)
                        return
                    }
                    if tls == nil { self.onEvent(.opened) }
                    channel.closeFuture.whenComplete { _ in
                        if let refusal = watcher.refusal {
                            self.state.withLockedValue {
                                $0.stopped = true
                                $0.channel = nil
                            }
                            self.onEvent(.failed(reason: refusal))
                        } else {
                            self.retry(after: "the connection closed")
                        }
                    }
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

/// Tells when the TLS handshake is done, and keeps why it failed. Only a certificate that does not verify (not
/// signed by a trusted CA, expired, or for another name) ends the connection for good (`ConnectionEvent.failed`):
/// anything else (a reset, a close without TLS's goodbye, a slow handshake) is a lost connection, retried.
final class TLSWatcher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let onReady: @Sendable () -> Void
    private let failure = NIOLockedValueBox<String?>(nil)
    private var timeout: Scheduled<Void>?
    static let handshakeTimeout: TimeAmount = .seconds(10)

    init(onReady: @escaping @Sendable () -> Void) { self.onReady = onReady }

    var refusal: String? { failure.withLockedValue { $0 } }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        timeout = context.eventLoop.scheduleTask(in: Self.handshakeTimeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            timeout?.cancel()
            onReady()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if Self.isUntrusted(error) {
            failure.withLockedValue {
                $0 = "TLS to the server failed: its certificate is not trusted here (\(error)); see --ca-file"
            }
        }
        context.close(promise: nil)
    }

    static func isUntrusted(_ error: any Error) -> Bool {
        if error is NIOSSLExtraError { return true }  // the certificate is for another name
        guard case .handshakeFailed = error as? NIOSSLError else { return false }
        return "\(error)".contains("CERTIFICATE_VERIFY_FAILED")
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
