import ChatCore
import NIOCore
import NIOPosix
import NIOSSL

extension Benchmark {
    /// Registers every name with `password` before a measured run of logins to them: each is claimed, registered
    /// and quit, `connectWindow` at a time. Not measured.
    static func register(
        names: [String], password: String, plan: BenchmarkPlan, on group: MultiThreadedEventLoopGroup,
        progress: @escaping @Sendable (String) -> Void
    ) async throws {
        var index = 0
        while index < names.count {
            let batch = names[index..<min(names.count, index + plan.connectWindow)]
            var done: [EventLoopFuture<Void>] = []
            for (offset, name) in batch.enumerated() {
                let target = plan.targets[(index + offset) % plan.targets.count]
                let tls = plan.tls
                let proxyHeader = plan.proxyHeader
                let channel = try await ClientBootstrap(group: group)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls {
                                try channel.pipeline.syncOperations.addHandler(
                                    try NIOSSLClientHandler(context: tls, serverHostname: nil))
                            }
                            try channel.pipeline.syncOperations.addHandler(
                                Registrar(name: name, password: password, proxyHeader: proxyHeader))
                        }
                    }
                    .connect(host: target.host, port: target.port).get()
                let registrar = try await channel.eventLoop.submit {
                    NIOLoopBound(
                        try channel.pipeline.syncOperations.handler(type: Registrar.self), eventLoop: channel.eventLoop)
                }.get()
                done.append(try await channel.eventLoop.submit { registrar.value.done.futureResult }.get())
            }
            for future in done { try await future.get() }
            index += batch.count
            progress("registered \(index)/\(names.count) names")
        }
    }
}

/// Claims a name, registers it, quits; `done` fails with the server's error if the registration is refused.
final class Registrar: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let name: String
    let password: String
    let proxyHeader: Bool
    private(set) var done: EventLoopPromise<Void>!
    private var lines = LineSplitter()
    private var registered = false

    init(name: String, password: String, proxyHeader: Bool) {
        self.name = name
        self.password = password
        self.proxyHeader = proxyHeader
    }

    func handlerAdded(context: ChannelHandlerContext) { done = context.eventLoop.makePromise() }

    func channelActive(context: ChannelHandlerContext) {
        if proxyHeader {
            let header = ProxyHeader(
                family: .tcp4, source: "127.0.0.1", sourcePort: context.channel.localAddress?.port ?? 0,
                destination: "127.0.0.1", destinationPort: context.channel.remoteAddress?.port ?? 0)
            write(header.line, context: context, newline: false)
        }
        write(#"{"op":"hello","name":"\#(name)"}"#, context: context)
        context.fireChannelActive()
    }

    private func write(_ text: String, context: ChannelHandlerContext, newline: Bool = true) {
        context.writeAndFlush(
            wrapOutboundOut(context.channel.allocator.buffer(string: text + (newline ? "\n" : ""))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        for line in lines.lines(in: &incoming) {
            if line.hasPrefix(#"{"type":"welcome""#) {
                write(#"{"op":"register","password":"\#(password)"}"#, context: context)
            } else if line.hasPrefix(#"{"type":"ok""#), !registered {
                registered = true
                write(#"{"op":"quit"}"#, context: context)
                done.succeed()
            } else if line.hasPrefix(#"{"type":"error""#) {
                done.fail(BenchmarkError("registering \(name): \(line)"))
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !registered { done.fail(BenchmarkError("registering \(name): the connection closed")) }
        context.fireChannelInactive()
    }
}
