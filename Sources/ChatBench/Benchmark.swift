import ChatCore
import Endpoints
import Foundation
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// What a run measures.
public enum Scenario: String, Sendable, CaseIterable, Codable {
    /// Clients in rooms, paced senders, every receiver timing every message from others.
    case chat
    /// Clients connect and claim names as fast as the cluster lets them; logins/s and memory per client.
    case connectStorm = "connect-storm"
    /// Every client keeps a window of messages unacknowledged: how many messages/s the nodes get into Redis.
    case flood
}

/// One benchmark run: `clients` clients over `rooms` rooms, `senders` of them sending `rate` messages a second in
/// total for `duration`, every receiver timing every message from others.
public struct BenchmarkPlan: Sendable {
    public var scenario = Scenario.chat
    public var mode = ClientMode.json
    public var targets: [HostPort]
    public var clients: Int
    public var rooms: Int
    public var senders: Int
    public var rate: Double
    public var duration: Double
    /// How long to keep reading after the last message is sent, for the ones in flight.
    public var drain: Double = 2
    public var threads = System.coreCount
    /// Clients whose login (connect, hello, welcome, joins) may be under way at once.
    public var connectWindow = 256
    /// Unacknowledged messages per client in the flood.
    public var floodWindow = 8
    /// Processes to measure: label and pid.
    public var processes: [(String, Int32)] = []
    /// Open each connection with a PROXY v1 header (straight to nodes that require one).
    public var proxyHeader = false
    /// Seconds to keep the clients connected after measuring, to look at the processes meanwhile.
    public var hold: Double = 0
    /// Rooms each client joins besides its own (shared by all): idle memberships, for the keep-alive's cost.
    public var extraRooms = 0
    /// Connect over TLS with this client context (the balancer's TLS port).
    public var tls: NIOSSLContext? = nil
    /// Log in to registered names with this password (JSON mode). With `registerFirst`, every client's name is
    /// registered with it first (a pass before the measured one).
    public var password: String? = nil
    public var registerFirst = false

    public init(targets: [HostPort], clients: Int, rooms: Int, senders: Int, rate: Double, duration: Double) {
        self.targets = targets
        self.clients = clients
        self.rooms = rooms
        self.senders = senders
        self.rate = rate
        self.duration = duration
    }
}

/// CPU and memory of one measured process over a run.
public struct ProcessUsage: Sendable, Codable {
    public var label: String
    /// CPU seconds used while messages were sent (chat, flood) or while clients connected (connect storm).
    public var cpuSeconds: Double
    public var peakResidentKiB: Int
    public var residentKiB: Int
    /// Resident memory before the clients connected: what the clients added is `residentKiB` minus this.
    public var residentBeforeKiB: Int
}

public struct BenchmarkResult: Sendable {
    public var connectSeconds: Double
    public var sent: Int
    public var expected: Int
    public var delivered: Int
    public var sendSeconds: Double
    /// Messages acknowledged (stored and published by Redis) per second of the flood.
    public var acceptedPerSecond: Double
    public var latency: Histogram<UInt64>
    public var login: Histogram<UInt64>
    public var errors: [String: Int]
    /// Joins refused for a moment (IRC's 437, a Redis failover) and asked again.
    public var joinsRetried = 0
    public var processes: [ProcessUsage]

    public var deliveriesPerSecond: Double { sendSeconds > 0 ? Double(delivered) / sendSeconds : 0 }

    public func milliseconds(_ percentile: Double) -> Double {
        Double(latency.valueAtPercentile(percentile)) / 1_000_000
    }
}

public enum Benchmark {
    public static func run(
        _ plan: BenchmarkPlan, progress: @escaping @Sendable (String) -> Void
    ) async throws -> BenchmarkResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: plan.threads)
        do {
            let result = try await run(plan, on: group, progress: progress)
            try? await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(
        _ plan: BenchmarkPlan, on group: MultiThreadedEventLoopGroup, progress: @escaping @Sendable (String) -> Void
    ) async throws -> BenchmarkResult {
        let loops = Array(group.makeIterator())
        let stats = loops.map { _ in LoopStats() }
        let statsByLoop = Dictionary(uniqueKeysWithValues: zip(loops.map { ObjectIdentifier($0) }, stats.indices))
        let statsOf: @Sendable (any EventLoop) -> LoopStats = { loop in stats[statsByLoop[ObjectIdentifier(loop)]!] }
        let ready = NIOLockedValueBox(0)
        let run = UInt32.random(in: 0...UInt32.max) % 100_000
        let members = plan.clients / plan.rooms
        let behavior = {
            var behavior = BenchClient.Behavior()
            behavior.mode = plan.mode
            behavior.proxyHeader = plan.proxyHeader
            behavior.readyAtWelcome = plan.scenario == .connectStorm
            behavior.timeOwnMessages = plan.scenario == .chat && members == 1
            behavior.extraRooms = plan.extraRooms
            behavior.password = plan.password
            return behavior
        }()
        if plan.registerFirst, let password = plan.password {
            try await Self.register(
                names: (0..<plan.clients).map { "b\(run)-\($0)" }, password: password, plan: plan, on: group,
                progress: progress)
        }

        // Connect every client, at most `connectWindow` logins under way at once; each client is ready once it is
        // named and in its room.
        let beforeConnect = plan.processes.map { ($0.0, ProcessSample(pid: $0.1)) }
        let connectStart = Date()
        var channels: [any Channel] = []
        var handlers: [NIOLoopBound<BenchClient>] = []
        for index in 0..<plan.clients {
            while index - ready.withLockedValue({ $0 }) >= plan.connectWindow {
                try checkConnectDeadline(connectStart, ready: ready.withLockedValue { $0 }, of: plan.clients)
                try await Task.sleep(for: .milliseconds(1))
            }
            let target = plan.targets[index % plan.targets.count]
            let room = "bench\(index % plan.rooms)"
            let name = "b\(run)-\(index)"
            let startedAt = NIODeadline.now().uptimeNanoseconds
            let tls = plan.tls
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tls, serverHostname: nil))
                        }
                        let handler = BenchClient(
                            name: name, room: room, stats: statsOf(channel.eventLoop), behavior: behavior,
                            startedAt: startedAt
                        ) { ready.withLockedValue { $0 += 1 } }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: target.host, port: target.port).get()
            channels.append(channel)
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: BenchClient.self), eventLoop: channel.eventLoop)
            }.get()
            handlers.append(handler)
            if index % 1000 == 999 {
                progress("connecting: \(index + 1)/\(plan.clients) started, \(ready.withLockedValue { $0 }) ready")
            }
        }
        while ready.withLockedValue({ $0 }) < plan.clients {
            try checkConnectDeadline(connectStart, ready: ready.withLockedValue { $0 }, of: plan.clients)
            try await Task.sleep(for: .milliseconds(5))
        }
        let connectSeconds = Date().timeIntervalSince(connectStart)
        progress(
            "all \(plan.clients) clients named\(plan.scenario == .connectStorm ? "" : " and in their rooms") after \(String(format: "%.2f", connectSeconds)) s"
        )

        var before = beforeConnect
        var sent = 0
        /// Messages each sender sent and the members each reached (nil: every room holds `members`).
        var expectedPerMessage: [(sent: Int, reach: Int)]? = nil
        var sendSeconds = 0.0
        if plan.scenario == .connectStorm {
            // Let allocations settle (and the nodes' keep-alives run) before reading what the clients cost.
            try await Task.sleep(for: .seconds(1))
        } else {
            try await Task.sleep(for: .milliseconds(500))
            for loop in loops { try await loop.submit { statsOf(loop).latency.reset() }.get() }
            before = plan.processes.map { ($0.0, ProcessSample(pid: $0.1)) }
            (sent, sendSeconds) = try await send(
                plan, handlers: handlers, loops: loops, stats: statsOf, progress: progress)
            if plan.scenario == .chat, !behavior.timeOwnMessages {
                // Client i is in room i % rooms, so when the clients do not divide evenly the first rooms hold one
                // more: each sender's messages reach its own room's others.
                expectedPerMessage = []
                for (index, sender) in handlers.prefix(plan.senders).enumerated() {
                    let paced = try await sender.eventLoop.submit { sender.value.paced }.get()
                    let room = index % plan.rooms
                    let size = plan.clients / plan.rooms + (room < plan.clients % plan.rooms ? 1 : 0)
                    expectedPerMessage?.append((sent: paced, reach: size - 1))
                }
            }
            try await Task.sleep(for: .nanoseconds(Int64(plan.drain * 1e9)))
        }
        let after = plan.processes.map { ($0.0, ProcessSample(pid: $0.1)) }

        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var login = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        var delivered = 0
        var acknowledged = 0
        var acknowledgedInTime = 0
        var errors: [String: Int] = [:]
        var joinsRetried = 0
        for loop in loops {
            let mine = try await loop.submit {
                () -> (Histogram<UInt64>, Histogram<UInt64>, Int, Int, Int, [String: Int], Int) in
                let loopStats = statsOf(loop)
                return (
                    loopStats.latency, loopStats.login, loopStats.delivered, loopStats.acknowledged,
                    loopStats.acknowledgedInTime, loopStats.errors, loopStats.joinsRetried
                )
            }.get()
            joinsRetried += mine.6
            latency.add(mine.0)
            login.add(mine.1)
            delivered += mine.2
            acknowledged += mine.3
            acknowledgedInTime += mine.4
            errors.merge(mine.5, uniquingKeysWith: +)
        }
        if plan.hold > 0 {
            progress("measured; holding the clients connected for \(plan.hold) s")
            try await Task.sleep(for: .nanoseconds(Int64(plan.hold * 1e9)))
        }
        for channel in channels { channel.close(promise: nil) }

        // In the flood every acknowledged message counts as sent; its room has members - 1 others to reach.
        if plan.scenario == .flood { sent = acknowledged }
        let processes = zip(zip(beforeConnect, before), after).compactMap { pair -> ProcessUsage? in
            guard let initial = pair.0.0.1, let first = pair.0.1.1, let last = pair.1.1 else { return nil }
            return ProcessUsage(
                label: pair.1.0, cpuSeconds: last.cpuSeconds - first.cpuSeconds, peakResidentKiB: last.peakResidentKiB,
                residentKiB: last.residentKiB, residentBeforeKiB: initial.residentKiB)
        }
        var result = BenchmarkResult(
            connectSeconds: connectSeconds, sent: sent,
            expected: expectedPerMessage.map { $0.reduce(0) { $0 + $1.sent * $1.reach } }
                ?? sent * (behavior.timeOwnMessages ? 1 : members - 1),
            delivered: delivered,
            sendSeconds: sendSeconds,
            acceptedPerSecond: plan.scenario == .flood ? Double(acknowledgedInTime) / plan.duration : 0,
            latency: latency, login: login, errors: errors, processes: processes)
        result.joinsRetried = joinsRetried
        return result
    }

    private static func checkConnectDeadline(_ start: Date, ready: Int, of clients: Int) throws {
        guard Date().timeIntervalSince(start) < 180 else {
            throw BenchmarkError("only \(ready) of \(clients) clients got named and into their rooms in 180 s")
        }
    }

    /// The sending phase of the chat and flood scenarios; returns how many messages were sent (the flood counts
    /// its acknowledgements instead) and how long sending took.
    private static func send(
        _ plan: BenchmarkPlan, handlers: [NIOLoopBound<BenchClient>], loops: [any EventLoop],
        stats: @escaping @Sendable (any EventLoop) -> LoopStats, progress: @escaping @Sendable (String) -> Void
    ) async throws -> (Int, Double) {
        let sent = NIOLockedValueBox(0)
        let start = NIODeadline.now()
        let end = start + .nanoseconds(Int64(plan.duration * 1e9))
        var tasks: [RepeatedTask] = []
        switch plan.scenario {
        case .flood:
            for client in handlers {
                client.eventLoop.execute { client.value.flood(window: plan.floodWindow, until: end.uptimeNanoseconds) }
            }
            progress("flooding: every client keeps \(plan.floodWindow) messages unacknowledged for \(plan.duration) s")
        case .chat, .connectStorm:
            // Each sender gets rate/senders messages a second, paced on its own event loop.
            let senders = Array(handlers.prefix(plan.senders))
            let perSender = plan.rate / Double(max(1, senders.count))
            let tick = TimeAmount.milliseconds(max(1, Int64(1000 / max(perSender, 1))))
            for sender in senders {
                let firstTick = TimeAmount.milliseconds(Int64.random(in: 0...Int64(max(1, 1000 / max(perSender, 1)))))
                tasks.append(
                    sender.eventLoop.scheduleRepeatedTask(initialDelay: firstTick, delay: tick) { task in
                        let now = NIODeadline.now()
                        guard now < end else { return task.cancel() }
                        let due = Int(Double((now - start).nanoseconds) / 1e9 * perSender) + 1
                        let count = max(0, due - sender.value.paced)
                        for _ in 0..<count { sender.value.sendTimed() }
                        sender.value.paced += count
                        if count > 0 { sent.withLockedValue { $0 += count } }
                    })
            }
            progress("sending \(Int(plan.rate)) messages/s from \(senders.count) senders for \(plan.duration) s")
        }
        // Progress once a second: what has been sent and delivered so far.
        var second = 0
        while NIODeadline.now() < end {
            try await Task.sleep(
                for: .milliseconds(min(1000, max(1, (end - NIODeadline.now()).nanoseconds / 1_000_000))))
            second += 1
            var delivered = 0
            var acknowledged = 0
            for loop in loops {
                let counts = try await loop.submit { (stats(loop).delivered, stats(loop).acknowledged) }.get()
                delivered += counts.0
                acknowledged += counts.1
            }
            let sentSoFar = plan.scenario == .flood ? acknowledged : sent.withLockedValue { $0 }
            progress(
                "\(second) s: \(sentSoFar) messages \(plan.scenario == .flood ? "accepted" : "sent"), \(delivered) delivered"
            )
        }
        for task in tasks { task.cancel() }
        return (sent.withLockedValue { $0 }, Double((NIODeadline.now() - start).nanoseconds) / 1e9)
    }
}

public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
