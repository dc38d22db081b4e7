import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// TCP keepalive for client sockets, so a client whose host vanished without a FIN (power lost, a laptop asleep,
/// a mobile network gone) is noticed by the kernel and its connection closed: people on nc or telnet need not
/// answer anything. The node and the balancer both set it on every client socket.
public struct TCPKeepAlive: Sendable, Equatable, CustomStringConvertible {
    /// Silence before the first probe, seconds between probes, and unanswered probes before the connection drops.
    public var idle: Int
    public var interval: Int
    public var count: Int

    public init(idle: Int = 30, interval: Int = 10, count: Int = 3) {
        self.idle = idle
        self.interval = interval
        self.count = count
    }

    /// `IDLE,INTERVAL,COUNT` in seconds, e.g. `30,10,3`; nil when malformed.
    public init?(parsing text: String) {
        let numbers = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 3, let idle = numbers[0], let interval = numbers[1], let count = numbers[2],
            idle >= 1, interval >= 1, count >= 1
        else { return nil }
        self.init(idle: idle, interval: interval, count: count)
    }

    /// At most this long after its host vanished, a silent connection is closed.
    public var bound: Int { idle + interval * count }

    public var description: String { "\(idle),\(interval),\(count)" }
}

extension ServerBootstrap {
    /// Keepalive on every accepted socket, with the kernel's timers set to `keepAlive`'s.
    public func clientKeepAlive(_ keepAlive: TCPKeepAlive) -> ServerBootstrap {
        self.childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.tcpOption(.init(rawValue: TCP_KEEPIDLE)), value: SocketOptionValue(keepAlive.idle))
            .childChannelOption(
                .tcpOption(.init(rawValue: TCP_KEEPINTVL)), value: SocketOptionValue(keepAlive.interval)
            )
            .childChannelOption(.tcpOption(.init(rawValue: TCP_KEEPCNT)), value: SocketOptionValue(keepAlive.count))
    }
}
