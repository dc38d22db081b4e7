import ChatCommandSupport
import ChatCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The node's listening sockets: chat (text and JSON lines), the public HTTP port (the web client and its
/// WebSocket sessions), the operations port (/health, /metrics), and, with a certificate, chat over TLS and HTTPS.
/// Bound together, closed together; if one cannot be bound, those already bound are closed and the error says
/// which address failed.
struct NodeListeners {
    let chat: any Channel
    let http: any Channel
    let operations: any Channel
    var tlsChat: (any Channel)? = nil
    var https: (any Channel)? = nil
    var irc: (any Channel)? = nil

    struct BindFailure: Error, CustomStringConvertible {
        var what: String
        var address: String
        var underlying: any Error
        var description: String { "cannot listen for \(what) on \(address): \(underlying)" }
    }

    static func bind(
        group: any EventLoopGroup, node: NodeContext, hubByLoop: [ObjectIdentifier: LoopHub],
        settings: NodeHTTPServer.Settings
    ) async throws -> NodeListeners {
        let configuration = node.configuration
        let chat = try await attempt("chat clients", configuration.host, configuration.port) {
            try await bindChat(group: group, node: node, hubByLoop: hubByLoop)
        }
        let http: any Channel
        do {
            http = try await attempt("HTTP", configuration.host, configuration.httpPort) {
                try await NodeHTTPServer.bindPublic(
                    host: configuration.host, port: configuration.httpPort, group: group, node: node,
                    hubByLoop: hubByLoop, settings: settings)
            }
        } catch {
            try? await chat.close()
            throw error
        }
        do {
            let operations = try await attempt(
                "operations (/health, /metrics)", configuration.opsHost, configuration.opsPort
            ) {
                try await NodeHTTPServer.bindOperations(
                    host: configuration.opsHost, port: configuration.opsPort, group: group, node: node,
                    settings: settings)
            }
            var listeners = NodeListeners(chat: chat, http: http, operations: operations)
            if let port = configuration.ircPort {
                listeners.irc = try await attempt("IRC clients", configuration.host, port) {
                    try await bindChat(group: group, node: node, hubByLoop: hubByLoop, port: port, irc: true)
                }
            }
            if let tls = configuration.tls, let port = configuration.tlsPort {
                listeners.tlsChat = try await attempt("chat clients over TLS", configuration.host, port) {
                    try await bindChat(group: group, node: node, hubByLoop: hubByLoop, port: port, tls: tls)
                }
            }
            if let tls = configuration.tls, let port = configuration.httpsPort {
                listeners.https = try await attempt("HTTPS", configuration.host, port) {
                    try await NodeHTTPServer.bindPublic(
                        host: configuration.host, port: port, group: group, node: node, hubByLoop: hubByLoop,
                        settings: settings, tls: tls)
                }
            }
            return listeners
        } catch {
            try? await chat.close()
            try? await http.close()
            throw error
        }
    }

    private static func attempt(
        _ what: String, _ host: String, _ port: Int, _ body: () async throws -> any Channel
    )
        async throws -> any Channel
    {
        do { return try await body() } catch {
            throw BindFailure(what: what, address: "\(host):\(port)", underlying: error)
        }
    }

    /// Behind a balancer (`--proxy-protocol`), a connection from a trusted proxy starts with a PROXY header naming
    /// its client; any other connection is a direct client and is taken at its own address.
    /// With `tls`, each connection takes the certificate current when it was accepted; such clients connect
    /// directly (a balancer would terminate TLS itself), so no PROXY header is expected.
    private static func bindChat(
        group: any EventLoopGroup, node: NodeContext, hubByLoop: [ObjectIdentifier: LoopHub], port: Int? = nil,
        tls: TLSCertificates? = nil, irc: Bool = false
    ) async throws -> any Channel {
        let configuration = node.configuration
        let maxOutbound = configuration.maxOutboundBytes
        // An IRC line is 512 bytes, plus up to 8191 of tags.
        let maxLine = irc ? 8703 : configuration.limits.maximumLineBytes
        let serverName = configuration.ircServerName ?? node.nodeID
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .clientKeepAlive(configuration.tcpKeepAlive)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: maxOutbound / 2, high: maxOutbound))
            // A channel keeps its last receive buffer for the next read: NIO's 2 KiB default start is memory held
            // by every idle client. Chat lines are short; the buffer still grows for one that reads more.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let hub = hubByLoop[ObjectIdentifier(channel.eventLoop)]!
                    let proxied =
                        tls == nil && configuration.proxyProtocol
                        && channel.remoteAddress?.ipAddress.map(configuration.trustedProxies.contains) == true
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    if proxied {
                        try channel.pipeline.syncOperations.addHandler(ProxyHeaderDecoder(logger: node.logger))
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: maxLine)),
                        SessionHandler(
                            node: node, hub: hub, mode: irc ? IRCMode(serverName: serverName) : nil,
                            expectsProxyHeader: proxied),
                    ])
                }
            }
            .bind(host: configuration.host, port: port ?? configuration.port).get()
    }

    func close() async {
        try? await chat.close()
        try? await http.close()
        try? await operations.close()
        try? await tlsChat?.close()
        try? await https?.close()
        try? await irc?.close()
    }
}
