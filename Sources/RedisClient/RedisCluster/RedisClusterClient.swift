import Endpoints
import Logging
import NIOConcurrencyHelpers
import NIOCore

// One file because routing, redirects and the slot map's refresh are one loop: a reply (MOVED, ASK, TRYAGAIN, a
// lost connection) decides both where the command goes next and whether the map is read again.

/// Commands and scripts on a Redis Cluster: one pipelined `RedisClient` per primary, each command sent to the
/// primary that owns its key's slot (`SlotMap`, from `CLUSTER SHARDS`). hiredis has no cluster support, so the
/// routing lives here, with hiredis still the codec under each connection.
///
/// - A reply `MOVED <slot> <host:port>` (the slot has a new owner: a reshard or a failover) sends the command there
///   and refreshes the map in the background; `ASK <slot> <host:port>` (the slot is being migrated and this key has
///   gone already) sends it there once, preceded by ASKING. At most `maximumRedirects` hops.
/// - A command for a shard whose connection is down fails with `.unavailable`, as on one Redis, and the map is
///   refreshed: after a failover the replica that took over gets the next command. A command is never sent twice
///   after a connection failed under it, since Redis may have run it.
/// - The map is also refreshed every `refreshInterval`, and at once when a shard has no primary.
public final class RedisClusterClient: Sendable {
    public let eventLoop: any EventLoop
    public let seeds: [HostPort]
    /// Credentials, database 0 and TLS for every member, from the URL the seeds came with.
    let template: RedisAddress
    private let scripts: [RedisScript]
    private let commandTimeout: TimeAmount
    private let logger: Logger
    private let onConnected: @Sendable (_ reconnected: Bool) -> Void
    private let onFlush: @Sendable (Int) -> Void
    private let state = NIOLockedValueBox(State())
    private let firstMapRead: EventLoopPromise<Void>

    static let maximumRedirects = 5
    /// TRYAGAIN: up to about a second of retries, every 25 ms.
    static let maximumTryAgains = 40
    static let tryAgainDelay = TimeAmount.milliseconds(25)
    static let refreshInterval = TimeAmount.seconds(5)
    /// Failing commands ask for a new map; while a shard is down they would ask once per round trip.
    static let minimumRefreshGap = TimeAmount.milliseconds(250)

    private struct State {
        var map: SlotMap?
        var clients: [HostPort: RedisClient] = [:]
        var refreshing: EventLoopFuture<SlotMap>?
        var lastRefresh: NIODeadline?
        var timer: RepeatedTask?
        var stopped = false
        var mapReadOnce = false
    }

    /// `onConnected` and `onFlush` are told what each member's client tells (`RedisClient`): a connection made
    /// (again) to any member, and each batch written.
    public init(
        seeds: [HostPort], template: RedisAddress, eventLoop: any EventLoop, scripts: [RedisScript] = [],
        commandTimeout: TimeAmount = .seconds(3), logger: Logger,
        onConnected: @escaping @Sendable (_ reconnected: Bool) -> Void = { _ in },
        onFlush: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.seeds = seeds
        self.template = template
        self.eventLoop = eventLoop
        self.scripts = scripts
        self.commandTimeout = commandTimeout
        self.logger = logger
        self.onConnected = onConnected
        self.onFlush = onFlush
        self.firstMapRead = eventLoop.makePromise()
    }

    /// Completes when the first reading of the slot map has ended: succeeded, or failed with the last member's
    /// error (`RedisClient.isRefusal` tells credentials refused from a cluster not up yet).
    public var firstAttempt: EventLoopFuture<Void> { firstMapRead.futureResult }

    /// Reads the slot map from the first seed that answers, then keeps it fresh.
    public func start() {
        eventLoop.execute {
            guard !self.state.withLockedValue({ $0.stopped }) else { return }
            _ = self.refresh()
            let timer = self.eventLoop.scheduleRepeatedTask(
                initialDelay: Self.refreshInterval, delay: Self.refreshInterval
            ) {
                _ in _ = self.refresh()
            }
            let stopped = self.state.withLockedValue { state in
                state.timer = timer
                return state.stopped
            }
            if stopped { timer.cancel() }
        }
    }

    public func stop() async {
        let (clients, timer) = state.withLockedValue { state in
            state.stopped = true
            defer { state.clients = [:] }
            return (Array(state.clients.values), state.timer)
        }
        timer?.cancel()
        for client in clients { await client.stop() }
    }

    /// The map, once read.
    public var slotMap: SlotMap? { state.withLockedValue { $0.map } }

    /// Whether every slot has a primary this client is connected to.
    public var isConnected: Bool {
        state.withLockedValue { state in
            guard let map = state.map, map.coversEverySlot else { return false }
            return map.shards.allSatisfy { shard in
                shard.primary.map { state.clients[$0.address]?.isConnected == true } ?? false
            }
        }
    }

    /// Sends one command to the primary owning its first key (any primary for a command without keys).
    public func send(_ command: RedisCommand) -> EventLoopFuture<RedisValue> {
        dispatch(slot: Self.slot(of: command), redirects: 0) { client, asking in
            client.send(command, scriptSource: nil, asking: asking)
        }
    }

    /// A command without keys on every primary the map names, each reply in the map's order (INFO for the status
    /// page: each shard describes only itself).
    public func sendToEveryPrimary(_ command: RedisCommand) -> EventLoopFuture<[RedisValue]> {
        let primaries = state.withLockedValue { $0.map?.shards.compactMap(\.primary?.address) } ?? []
        guard !primaries.isEmpty else {
            return eventLoop.makeFailedFuture(RedisError(.unavailable, "Redis Cluster: no slot map yet"))
        }
        let replies = primaries.map { primary in
            dispatch(slot: nil, redirects: 0, target: primary) { client, _ in client.send(command, scriptSource: nil) }
        }
        return EventLoopFuture.whenAllSucceed(replies, on: eventLoop)
    }

    /// Runs a script on the primary owning its keys' slot (its keys must share one: Redis refuses CROSSSLOT).
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) -> EventLoopFuture<RedisValue> {
        dispatch(slot: keys.first.map { HashSlot(key: $0) }, redirects: 0) { client, asking in
            client.run(script, keys: keys, arguments: arguments, asking: asking)
        }
    }

    /// Runs a script on the primary owning its keys' slot, and tells its caller once that primary's replicas have
    /// it (see `RedisClient.run(_:keys:arguments:acknowledgedBy:)`): the wait goes to the member that finally ran
    /// the script, after any redirect.
    public func run(
        _ script: RedisScript, keys: [String], arguments: [String], acknowledgedBy wanted: ReplicaAcknowledgement
    ) -> EventLoopFuture<AcknowledgedReply> {
        // The acknowledgement of the last attempt: an attempt sent elsewhere (MOVED, ASK) ran nothing.
        let lastAttempt = NIOLockedValueBox<EventLoopFuture<Int>?>(nil)
        return dispatch(slot: keys.first.map { HashSlot(key: $0) }, redirects: 0) { client, asking in
            let acknowledgement = PendingAcknowledgement(wanted: wanted, promise: client.eventLoop.makePromise())
            lastAttempt.withLockedValue { $0 = acknowledgement.promise.futureResult }
            return client.run(
                script, keys: keys, arguments: arguments, asking: asking, acknowledgement: acknowledgement)
        }
        .flatMap { reply in
            (lastAttempt.withLockedValue { $0 } ?? self.eventLoop.makeSucceededFuture(0)).map {
                AcknowledgedReply(reply: reply, replicas: $0)
            }
        }
    }

    /// The slot of a command's first key: the fourth argument of a script call with keys, none for commands that
    /// take no key, otherwise the second argument (what every command the chat sends takes first).
    static func slot(of command: RedisCommand) -> HashSlot? {
        let arguments = command.arguments
        guard let name = arguments.first?.uppercased() else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 3, let count = Int(arguments[2]), count > 0 else { return nil }
            return HashSlot(key: arguments[3])
        // WAIT too: it has no key (it waits for this connection's own writes, so it means little here).
        case "PING", "INFO", "CLUSTER", "SCRIPT", "AUTH", "HELLO", "ECHO", "TIME", "COMMAND", "CLIENT", "READONLY",
            "READWRITE", "ASKING", "DBSIZE", "FLUSHALL", "FLUSHDB", "CONFIG", "ACL", "WAIT":
            return nil
        // A subcommand, then the key.
        case "XINFO", "XGROUP", "OBJECT", "MEMORY":
            return arguments.count > 2 ? HashSlot(key: arguments[2]) : nil
        default:
            return arguments.count > 1 ? HashSlot(key: arguments[1]) : nil
        }
    }

    /// Where a command goes, and what happens to its reply: redirects followed, a refresh asked for when the
    /// cluster has changed under us.
    private func dispatch(
        slot: HashSlot?, redirects: Int, tryAgains: Int = 0, target explicit: HostPort? = nil, asking: Bool = false,
        _ operation: @escaping @Sendable (RedisClient, Bool) -> EventLoopFuture<RedisValue>
    ) -> EventLoopFuture<RedisValue> {
        let target: HostPort
        if let explicit {
            target = explicit
        } else {
            let map = state.withLockedValue { $0.map }
            guard let map else {
                // Not read yet (just started, or no seed answered): wait for one reading, once.
                guard redirects == 0 else { return unavailable("no slot map: no seed answers") }
                return refresh().flatMap { _ in self.dispatch(slot: slot, redirects: 1, operation) }
            }
            // A command without a key goes to any shard that has a primary now.
            let shard =
                slot.flatMap { map.shard(for: $0) } ?? (slot == nil ? map.shards.first { $0.primary != nil } : nil)
            guard let primary = shard?.primary else {
                _ = refresh()
                return unavailable("slot \(slot.map { "\($0)" } ?? "-") has no primary right now")
            }
            target = primary.address
        }
        guard let (client, isNew) = self.client(for: target) else { return unavailable("stopped") }
        let ready = isNew ? client.firstAttempt.map { client } : eventLoop.makeSucceededFuture(client)
        return ready.flatMap { client in operation(client, asking) }.flatMapError { error in
            guard let redis = error as? RedisError else {
                // The connection itself failed (refused, unreachable): the member may be gone.
                _ = self.refresh()
                return self.eventLoop.makeFailedFuture(error)
            }
            switch redis.code {
            case .server:
                // A command over several keys of a slot being migrated, some moved already: Redis ran nothing and
                // asks to try again once the migration has moved the rest (redis-cli moves a slot's keys in
                // batches). The same target, a moment later.
                // From the start: the keys still missing may be on the slot's owner or where it is going.
                if redis.message.hasPrefix("TRYAGAIN"), tryAgains < Self.maximumTryAgains {
                    return self.eventLoop.scheduleTask(in: Self.tryAgainDelay) {}.futureResult.flatMap {
                        self.dispatch(slot: slot, redirects: 0, tryAgains: tryAgains + 1, operation)
                    }
                }
                guard let redirect = Redirect(redis.message), redirects < Self.maximumRedirects else { break }
                if redirect.moved { _ = self.refresh() }
                // Only to members the map or the seeds name: a reply must not send our credentials elsewhere.
                guard self.isKnown(redirect.target) else {
                    _ = self.refresh()
                    return self.unavailable("redirected to \(redirect.target), which the slot map does not list")
                }
                return self.dispatch(
                    slot: slot, redirects: redirects + 1, tryAgains: tryAgains, target: redirect.target,
                    asking: !redirect.moved, operation)
            case .unavailable, .connectionClosed, .timeout:
                // Its shard may have failed over: the next command goes by a new map.
                _ = self.refresh()
            default:
                break
            }
            return self.eventLoop.makeFailedFuture(error)
        }
    }

    private func unavailable(_ why: String) -> EventLoopFuture<RedisValue> {
        eventLoop.makeFailedFuture(RedisError(.unavailable, "Redis Cluster: \(why)"))
    }

    private func isKnown(_ address: HostPort) -> Bool {
        seeds.contains(address)
            || state.withLockedValue {
                $0.map?.shards.contains { $0.nodes.contains { $0.address == address } } ?? false
            }
    }

    /// The client for one member, made and started on first use; nil once stopped.
    private func client(for address: HostPort) -> (client: RedisClient, isNew: Bool)? {
        state.withLockedValue { state in
            if let client = state.clients[address] { return (client, false) }
            guard !state.stopped else { return nil }
            let member = template.member(at: address)
            let client = RedisClient(
                address: member, eventLoop: eventLoop, scripts: scripts, commandTimeout: commandTimeout, logger: logger,
                onConnected: onConnected, onFlush: onFlush)
            state.clients[address] = client
            client.start()
            return (client, true)
        }
    }

    /// Reads `CLUSTER SHARDS` from a member that answers: the known primaries first, then the seeds. Concurrent
    /// callers share one reading.
    /// At most one reading every `minimumRefreshGap`: within it, the map in hand.
    @discardableResult
    func refresh() -> EventLoopFuture<SlotMap> {
        let now = NIODeadline.now()
        enum Start {
            case join(EventLoopFuture<SlotMap>)
            case recent(SlotMap)
            case stopped
            case read(EventLoopPromise<SlotMap>, [HostPort])
        }
        // One lock section decides and registers, so concurrent callers share one reading.
        let start = state.withLockedValue { state -> Start in
            if state.stopped { return .stopped }
            if let refreshing = state.refreshing { return .join(refreshing) }
            if let map = state.map, let last = state.lastRefresh, now - last < Self.minimumRefreshGap {
                return .recent(map)
            }
            let known = state.map?.shards.compactMap(\.primary?.address) ?? []
            let connected = known.filter { state.clients[$0]?.isConnected == true }
            var seen = Set<HostPort>()
            let promise = eventLoop.makePromise(of: SlotMap.self)
            state.refreshing = promise.futureResult
            state.lastRefresh = now
            return .read(promise, (connected + seeds + known).filter { seen.insert($0).inserted })
        }
        let promise: EventLoopPromise<SlotMap>
        let candidates: [HostPort]
        switch start {
        case .join(let refreshing): return refreshing
        case .recent(let map): return eventLoop.makeSucceededFuture(map)
        case .stopped: return eventLoop.makeFailedFuture(RedisError(.unavailable, "Redis Cluster client stopped"))
        case .read(let reading, let list): (promise, candidates) = (reading, list)
        }
        promise.futureResult.whenComplete { result in
            let (changed, stale, first) = self.state.withLockedValue { state -> (Bool, [RedisClient], Bool) in
                state.refreshing = nil
                let first = !state.mapReadOnce
                state.mapReadOnce = true
                guard case .success(let map) = result else { return (false, [], first) }
                defer { state.map = map }
                // Members neither in the map nor seeds (a dead primary, a node removed) stop reconnecting.
                let listed = Set(map.shards.flatMap { $0.nodes.map(\.address) }).union(self.seeds)
                let stale = state.clients.filter { !listed.contains($0.key) }
                for address in stale.keys { state.clients[address] = nil }
                return (state.map != map, Array(stale.values), first)
            }
            if first { self.firstMapRead.completeWith(result.map { _ in }) }
            for client in stale { Task { await client.stop() } }
            if changed, case .success(let map) = result {
                self.logger.info(
                    "redis cluster map read",
                    metadata: [
                        "redis.shards": "\(map.shards.count)",
                        "redis.primaries": "\(map.shards.compactMap(\.primary).map(\.address.description))",
                    ])
                for primary in map.shards.compactMap(\.primary) { _ = self.client(for: primary.address) }
            }
        }
        ask(candidates, promise)
        return promise.futureResult
    }

    private func ask(
        _ candidates: ArraySlice<HostPort>, _ promise: EventLoopPromise<SlotMap>, lastError: (any Error)? = nil
    ) {
        guard let address = candidates.first else {
            return promise.fail(
                lastError ?? RedisError(.unavailable, "Redis Cluster: no member answered CLUSTER SHARDS"))
        }
        guard let (client, isNew) = client(for: address) else {
            return promise.fail(RedisError(.unavailable, "Redis Cluster client stopped"))
        }
        let ready = isNew ? client.firstAttempt : eventLoop.makeSucceededVoidFuture()
        ready.flatMap { client.send(RedisCommand("CLUSTER", "SHARDS"), scriptSource: nil) }
            .flatMapThrowing { reply -> SlotMap in
                // A member that serves no slot (reset, or from another cluster) must not replace a good map.
                guard let map = SlotMap(shardsReply: reply, tls: self.template.tls),
                    map.shards.contains(where: { !$0.ranges.isEmpty })
                else {
                    throw RedisError(.protocolViolation, "CLUSTER SHARDS from \(address) is not a slot map")
                }
                return map
            }
            .whenComplete { result in
                switch result {
                case .success(let map): promise.succeed(map)
                case .failure(let error): self.ask(candidates.dropFirst(), promise, lastError: error)
                }
            }
    }

    private func ask(_ candidates: [HostPort], _ promise: EventLoopPromise<SlotMap>) { ask(candidates[...], promise) }
}

/// `MOVED 3999 127.0.0.1:6381` or `ASK 3999 127.0.0.1:6381`, as an error reply says it.
struct Redirect: Equatable {
    var moved: Bool
    var slot: Int
    var target: HostPort

    init?(_ message: String) {
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]),
            (0..<HashSlot.count).contains(slot), let target = HostPort(parsing: parts[2]), target.port != 0
        else { return nil }
        moved = parts[0] == "MOVED"
        self.slot = slot
        self.target = target
    }
}
