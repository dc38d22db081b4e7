import Endpoints
import NIOCore
import NIOPosix
import NIOSSL

/// A Redis run by Sentinel: the sentinels (`redis-sentinel://[user:password@]host:port,host:port/service`) name
/// the service's current primary, which changes on a failover. `RedisClient` and `RedisSubscriber` ask them before
/// every connection (`primary(on:)`), so a connection lost with a failed primary comes back to the one promoted;
/// a client that finds itself on a replica (`ROLE`, or a `READONLY` reply: a primary demoted under it) drops the
/// connection and asks again.
public struct RedisSentinel: Sendable, Equatable, CustomStringConvertible {
    public var sentinels: [HostPort]
    /// The name the sentinels monitor the primary under (`sentinel monitor <service> ...`).
    public var service: String
    /// The credentials, database and TLS settings of the primary; the sentinels are sent the same credentials,
    /// and a sentinel without a password that refuses them is asked anyway.
    public var template: RedisAddress

    public init(sentinels: [HostPort], service: String, template: RedisAddress) {
        self.sentinels = sentinels
        self.service = service
        self.template = template
    }

    public var description: String {
        "\(template.tls ? "rediss" : "redis")-sentinel://\(template.username.map { "\($0)@" } ?? "")"
            + sentinels.map(\.description).joined(separator: ",") + "/\(service)"
    }

    /// What a refusal says when every sentinel answered and none monitors the service: a wrong URL, which waiting
    /// will not mend (`RedisClient.isRefusal`).
    static let unknownServicePrefix = "ERR no sentinel monitors"

    /// The primary's address with the template's credentials, from the first sentinel that names one, asking them
    /// in turn from `startingAt` (modulo their number): a client whose last attempt failed starts at another, since
    /// a sentinel that lost touch with the others keeps naming the old primary.
    func primary(
        on eventLoop: any EventLoop, timeout: TimeAmount, startingAt start: Int = 0
    ) -> EventLoopFuture<RedisAddress> {
        let first = start % sentinels.count
        let order = sentinels[first...] + sentinels[..<first]
        return ask(order, on: eventLoop, timeout: timeout, lastError: nil, unknown: 0).map { primary in
            var address = template
            address.host = primary.host
            address.port = primary.port
            return address
        }
    }

    private func ask(
        _ remaining: ArraySlice<HostPort>, on eventLoop: any EventLoop, timeout: TimeAmount, lastError: (any Error)?,
        unknown: Int
    ) -> EventLoopFuture<HostPort> {
        guard let sentinel = remaining.first else {
            if unknown == sentinels.count {
                return eventLoop.makeFailedFuture(
                    RedisError(.server, "\(Self.unknownServicePrefix) a primary named '\(service)' (\(self))"))
            }
            return eventLoop.makeFailedFuture(
                lastError ?? RedisError(.unavailable, "no sentinel of \(self) named a primary"))
        }
        return query(sentinel, on: eventLoop, timeout: timeout).flatMapError { error in
            let isUnknown = (error as? RedisError)?.message.hasPrefix(Self.unknownServiceReply) == true
            return ask(
                remaining.dropFirst(), on: eventLoop, timeout: timeout, lastError: error,
                unknown: unknown + (isUnknown ? 1 : 0))
        }
    }

    private static let unknownServiceReply = "sentinel knows no primary named"

    /// One short connection: AUTH (its refusal ignored: the sentinel may have no password), then
    /// `SENTINEL GET-MASTER-ADDR-BY-NAME`.
    private func query(
        _ sentinel: HostPort, on eventLoop: any EventLoop, timeout: TimeAmount
    ) -> EventLoopFuture<HostPort> {
        let tls: NIOSSLContext?
        do { tls = try template.tlsContext() } catch { return eventLoop.makeFailedFuture(error) }
        let service = self.service
        let authentication = template.authentication
        return RedisAddress(host: sentinel.host, port: sentinel.port)
            .connect(on: eventLoop, tls: tls, connectTimeout: .seconds(1)) { RedisCommandHandler(timeout: timeout) }
            .flatMap { channel in
                func send(_ arguments: [String]) -> EventLoopFuture<RedisValue> {
                    let promise = channel.eventLoop.makePromise(of: RedisValue.self)
                    channel.write(PendingCommand(command: RedisCommand(arguments), promise: promise), promise: nil)
                    return promise.futureResult
                }
                if let authentication { _ = send(authentication) }
                let reply = send(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", service])
                channel.flush()
                return reply.flatMapThrowing { reply -> HostPort in
                    let fields = reply.array?.compactMap(\.string) ?? []
                    guard fields.count == 2, let port = Int(fields[1]), (1...65535).contains(port), !fields[0].isEmpty
                    else {
                        throw RedisError(.unavailable, "\(Self.unknownServiceReply) \(service) (\(sentinel))")
                    }
                    return HostPort(host: fields[0], port: port)
                }.always { _ in channel.close(promise: nil) }
            }
    }
}
