// One file because a client's path through the balancer is one sequence: admission (limits, rates, network bans),
// the hold until its node is connected, the splice, and each refusal in the client's own protocol share the
// listener's counters and configuration.

import ChatCommandSupport
import ChatCore
import Endpoints
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// Accepts clients on one port and splices each to a node chosen round-robin among the healthy ones, on the
/// client's own event loop. A node that refuses or times out is marked down and the next is tried, so no client
/// sees an error while any node is up; with none up, the client gets `refusal` and is closed.
final class ProxyListener: Sendable {
    enum Side: String, Sendable {
        case chat
        case http
        /// IRC clients, to the nodes' IRC ports; refusals are IRC `ERROR` lines.
        case irc
    }

    let side: Side
    private let pool: BackendPool
    private let configuration: BalancerConfiguration
    private let metrics: BalancerMetrics
    private let logger: Logger
    private let sendProxyHeader: Bool
    let openConnections = Atomic<Int>(0)
    /// Shared by the chat and HTTP listeners: the limit is per client address, whichever port it uses.
    private let perAddress: AddressCounts
    /// Shared too: how fast one address group opens connections.
    private let connectRates: ConnectRates
    /// The network ban in force for a client address, if any (`NodeWatcher`).
    private let bannedAddress: @Sendable (String) -> RoomBan?

    init(
        side: Side, pool: BackendPool, configuration: BalancerConfiguration, metrics: BalancerMetrics,
        perAddress: AddressCounts, connectRates: ConnectRates, logger: Logger,
        bannedAddress: @escaping @Sendable (String) -> RoomBan? = { _ in nil }
    ) {
        self.side = side
        self.bannedAddress = bannedAddress
        self.perAddress = perAddress
        self.connectRates = connectRates
        self.pool = pool
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        // Both sides: a node reads the header on its chat port and on its HTTP port (for WebSocket sessions).
        self.sendProxyHeader = configuration.sendProxy
    }

    /// What a client hears when no node can take it.
    private var refusal: String {
        switch side {
        case .chat: return "! no-node-available no chat node is reachable right now; try again shortly\r\n"
        case .irc: return "ERROR :No chat node is reachable right now; try again shortly\r\n"
        case .http:
            let body = "no chat node is reachable right now\n"
            return
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + body
        }
    }

    /// With `tls`, the listener terminates TLS: each connection takes the certificate current when it was
    /// accepted, and the node gets the plaintext as from a plain port.
    func bind(
        group: any EventLoopGroup, host: String, port: Int, tls: TLSCertificates? = nil
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // A client whose host vanished is closed by the kernel, and with it its node connection, so the node
            // frees its name without waiting for anything of its own.
            .clientKeepAlive(configuration.tcpKeepAlive)
            // Nothing is read from the client until its node is connected, so no byte can be lost or reordered.
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelInitializer { client in
                // The initializer runs before the channel is active; the node is chosen once it is.
                client.eventLoop.makeCompletedFuture {
                    if let tls {
                        try client.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    try client.pipeline.syncOperations.addHandler(
                        ClientHold(handshakeTimeout: tls != nil ? self.configuration.tlsHandshakeTimeout : nil) {
                            hold in self.accepted(client, hold: hold)
                        })
                }
            }
            .bind(host: host, port: port).get()
    }

    private func accepted(_ client: any Channel, hold: ClientHold) {
        let open = openConnections.add(1, ordering: .relaxed).newValue
        metrics.accepted(side)
        // Counted by address group: an IPv6 host picks any address of its /64.
        let address = client.remoteAddress?.ipAddress.map { AddressGroup.of($0) }
        let quickly = address.map { connectRates.admit($0) } ?? true
        let admitted = quickly && (address.map { perAddress.admit($0) } ?? true)
        client.closeFuture.whenComplete { _ in
            self.openConnections.subtract(1, ordering: .relaxed)
            self.metrics.closed(self.side)
            if admitted, let address { self.perAddress.release(address) }
        }
        guard open <= configuration.maxClients else {
            metrics.refused(side)
            let full: String =
                switch side {
                case .chat: "! server-full the balancer is at its connection limit\r\n"
                case .irc: "ERROR :The balancer is at its connection limit\r\n"
                case .http: refusal
                }
            refuse(client, with: full)
            return
        }
        guard admitted else {
            metrics.refusedForAddress(side)
            refuse(client, with: quickly ? tooManyFromAddress : tooFastFromAddress)
            return
        }
        if let ip = client.remoteAddress?.ipAddress, let ban = bannedAddress(ip) {
            metrics.refusedForAddress(side)
            refuse(client, with: banned(NetworkBans.refusal(ban)))
            return
        }
        guard let handshake = hold.handshake else { return connect(client, excluding: []) }
        handshake.whenSuccess { self.connect(client, excluding: []) }
    }

    /// What a client from a banned address hears, in its protocol.
    private func banned(_ refusal: ChatError) -> String {
        switch side {
        case .chat: return "! \(refusal.code) \(refusal.message)\r\n"
        case .irc: return "ERROR :Closing Link: \(refusal.message)\r\n"
        case .http:
            let body = refusal.message + "\n"
            return
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + body
        }
    }

    /// What a client hears when its address holds its share of connections already.
    private var tooManyFromAddress: String {
        let limit = configuration.maxConnectionsPerAddress
        switch side {
        case .chat: return "! too-many-connections at most \(limit) connections from one address\r\n"
        case .irc: return "ERROR :At most \(limit) connections from one address\r\n"
        case .http:
            let body = "at most \(limit) connections from one address\n"
            return
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + body
        }
    }

    /// What a client hears when its address opened its share of new connections lately.
    private var tooFastFromAddress: String {
        let text = "too many new connections from one address; wait a moment"
        switch side {
        case .chat: return "! too-many-connections \(text)\r\n"
        case .irc: return "ERROR :\(text.prefix(1).uppercased() + text.dropFirst())\r\n"
        case .http:
            return "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nContent-Length: "
                + "\(text.utf8.count + 1)\r\nConnection: close\r\n\r\n\(text)\n"
        }
    }

    /// Each channel keeps its last receive buffer for the next read, so the initial size is memory held per
    /// idle connection, twice per client. NIO's default starts at 2 KiB; chat lines are short, and the buffer
    /// still grows (up to 64 KiB) on a connection that reads more.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)

    private func connect(_ client: any Channel, excluding failed: Set<NodeEndpoint>) {
        guard client.isActive else { return }
        guard
            let endpoint = pool.next(
                for: side.rawValue, excluding: failed, serving: { self.side != .irc || $0.irc != nil })
        else {
            metrics.noNodeAvailable(side)
            logger.warning(
                "no node available",
                metadata: [
                    "proxy.side": "\(side.rawValue)",
                    "client.address": "\(client.remoteAddress.map { "\($0)" } ?? "-")",
                ])
            refuse(client, with: refusal)
            return
        }
        let target: HostPort =
            switch side {
            case .chat: endpoint.chat
            case .http: endpoint.http
            case .irc: endpoint.irc ?? endpoint.chat
            }
        ClientBootstrap(group: client.eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.recvAllocator, value: Self.receiveBuffers)
            .connect(host: target.host, port: target.port)
            .whenComplete { result in
                switch result {
                case .success(let backend):
                    self.splice(client, to: backend, endpoint: endpoint)
                case .failure(let error):
                    self.metrics.connectFailed(self.side)
                    // A node's IRC port failing says nothing of its chat and HTTP ports (which the probes watch):
                    // the next node is tried without taking this one out of rotation. Nor does a connect that timed
                    // out (a storm fills a node's accept queue): only a refusal, nothing listening, takes it out
                    // at once; the probes judge the rest.
                    if self.side != .irc, NodeWatcher.isRefusal(error), self.pool.mark(endpoint, .down) {
                        self.logger.warning(
                            "node refused a connection; out of rotation until it answers a probe",
                            metadata: [
                                "node": "\(endpoint)", "proxy.side": "\(self.side.rawValue)", "error": "\(error)",
                            ])
                    }
                    self.connect(client, excluding: failed.union([endpoint]))
                }
            }
    }

    private func splice(_ client: any Channel, to backend: any Channel, endpoint: NodeEndpoint) {
        guard client.isActive else {
            backend.close(promise: nil)
            return
        }
        pool.connectionOpened(to: endpoint)
        backend.closeFuture.whenComplete { _ in self.pool.connectionClosed(to: endpoint) }
        do {
            if sendProxyHeader {
                let header = Self.proxyHeader(client: client.remoteAddress, server: client.localAddress)
                backend.write(ByteBuffer(string: header.line), promise: nil)
            }
            let (clientSide, backendSide) = GlueHandler.matchedPair()
            try client.pipeline.syncOperations.addHandler(clientSide)
            try backend.pipeline.syncOperations.addHandler(backendSide)
            // Whatever the client sent (and its EOF) while its node was being chosen goes first.
            let hold = try client.pipeline.syncOperations.handler(type: ClientHold.self)
            try hold.release(client.pipeline.syncOperations.context(handlerType: ClientHold.self))
            backend.flush()
            client.setOption(.autoRead, value: true).whenFailure { _ in client.close(promise: nil) }
        } catch {
            client.close(promise: nil)
            backend.close(promise: nil)
        }
    }

    /// Says why, then closes without a reset: closing a socket with unread input would send RST, and the client
    /// could lose the very line that explains. So the output is shut after the reply, the input is read and
    /// dropped, and the connection closes on the client's EOF or after a second.
    private func refuse(_ client: any Channel, with text: String) {
        let hold = try? client.pipeline.syncOperations.handler(type: ClientHold.self)
        hold?.discardInput = true
        client.writeAndFlush(ByteBuffer(string: text)).whenComplete { _ in
            client.close(mode: .output, promise: nil)
            client.setOption(.autoRead, value: true).whenComplete { _ in }
            client.eventLoop.scheduleTask(in: .seconds(1)) { client.close(promise: nil) }
        }
    }

    static func proxyHeader(client: SocketAddress?, server: SocketAddress?) -> ProxyHeader {
        guard let client, let server, let clientIP = client.ipAddress, let serverIP = server.ipAddress,
            let clientPort = client.port, let serverPort = server.port
        else { return .unknown }
        switch (client, server) {
        case (.v4, .v4):
            return ProxyHeader(
                family: .tcp4, source: clientIP, sourcePort: clientPort, destination: serverIP,
                destinationPort: serverPort)
        case (.v6, .v6):
            return ProxyHeader(
                family: .tcp6, source: clientIP, sourcePort: clientPort, destination: serverIP,
                destinationPort: serverPort)
        default:
            return .unknown
        }
    }
}

/// The first handler of every client connection (after TLS, on a TLS port). On activation it starts choosing a
/// node; until the connection is spliced it keeps what the client sent: NIO still reads on EOF with autoRead off,
/// so a client that writes and half-closes at once (`printf ... | nc -N`) would otherwise lose its bytes and its
/// EOF. `release` replays them to the handlers after it and steps aside. For a refused client it drops input
/// instead.
///
/// Behind TLS, `handshake` completes when the client's handshake is done: only then is a node connected, and a
/// client that has not finished it within `BalancerConfiguration.tlsHandshakeTimeout` is closed.
final class ClientHold: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let onActive: (ClientHold) -> Void
    /// Behind TLS: how long the handshake may take.
    private let handshakeTimeout: TimeAmount?
    private(set) var handshake: EventLoopFuture<Void>?
    private var handshakeDone: EventLoopPromise<Void>?
    private var held: [NIOAny] = []
    private var inputClosed = false
    var discardInput = false

    init(handshakeTimeout: TimeAmount? = nil, onActive: @escaping (ClientHold) -> Void) {
        self.handshakeTimeout = handshakeTimeout
        self.onActive = onActive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard handshakeTimeout != nil else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        handshakeDone = promise
        handshake = promise.futureResult
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if let promise = handshakeDone, let handshakeTimeout {
            // With autoRead off, nothing would read the client's hello: this first read starts the handshake, and
            // NIOSSL reads on by itself until it is done.
            context.read()
            let channel = context.channel
            let timeout = context.eventLoop.scheduleTask(in: handshakeTimeout) {
                promise.fail(ChannelError.inputClosed)
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in timeout.cancel() }
        }
        onActive(self)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeDone?.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !discardInput { held.append(data) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshakeDone?.succeed()
            return
        }
        if case .some(.inputClosed) = event as? ChannelEvent {
            if discardInput {
                context.close(promise: nil)
                return
            }
            inputClosed = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func release(_ context: ChannelHandlerContext) {
        for data in held { context.fireChannelRead(data) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        held.removeAll()
        if inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
