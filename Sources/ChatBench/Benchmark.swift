import Foundation
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One benchmark run: `clients` clients over `rooms` rooms, `senders` of them sending `rate` messages a second in
/// total for `duration`, every receiver timing every message from others.
public struct BenchmarkPlan: Sendable {
    public var targets: [(host: String, port: Int)]
    public var clients: Int
    public var rooms: Int
    public var senders: Int
    public var rate: Double
    public var duration: Double
    /// How long to keep reading after the last message is sent, for the ones in flight.
    public var drain: Double = 2
    public var threads = System.coreCount
    /// Processes to measure: label and pid.
    public var processes: [(String, Int32)] = []
    /// Open each connection with a PROXY v1 header (straight to nodes that require one).
    public var proxyHeader = false

    public init(targets: [(host: String, port: Int)], clients: Int, rooms: Int, senders: Int, rate: Double, duration: Double) {
        self.targets = targets
        self.clients = clients
        self.rooms = rooms
        self.senders = senders
        self.rate = rate
        self.duration = duration
    }
}

public struct BenchmarkResult: Sendable {
    public var connectSeconds: Double
    public var sent: Int
    public var expected: Int
    public var delivered: Int
    public var sendSeconds: Double
    public var latency: Histogram<UInt64>
    public var errors: [String: Int]
    public var processes: [(String, cpuSeconds: Double, peakResidentKiB: Int, residentKiB: Int)]

    public var deliveriesPerSecond: Double { Double(delivered) / sendSeconds }

    public func milliseconds(_ percentile: Double) -> Double {
        Double(latency.valueAtPercentile(percentile)) / 1_000_000
    }
}

public enum Benchmark {
    public static func run(_ plan: BenchmarkPlan, progress: @escaping @Sendable (String) -> Void) async throws -> BenchmarkResult {
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
        let ready = NIOLockedValueBox(0)
        let run = UInt32.random(in: 0...UInt32.max) % 100_000

        // Connect every client; each becomes ready once it is in its room.
        let connectStart = Date()
        var channels: [any Channel] = []
        var handlers: [NIOLoopBound<BenchClient>] = []
        for index in 0..<plan.clients {
            let target = plan.targets[index % plan.targets.count]
            let room = "bench\(index % plan.rooms)"
            let name = "b\(run)-\(index)"
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let loopStats = stats[statsByLoop[ObjectIdentifier(channel.eventLoop)]!]
                        let handler = BenchClient(name: name, room: room, stats: loopStats, proxyHeader: plan.proxyHeader) {
                            ready.withLockedValue { $0 += 1 }
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: target.host, port: target.port).get()
            channels.append(channel)
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: BenchClient.self), eventLoop: channel.eventLoop)
            }.get()
            handlers.append(handler)
            if index % 500 == 499 { progress("connected \(index + 1)/\(plan.clients)") }
        }
        while ready.withLockedValue({ $0 }) < plan.clients {
            guard Date().timeIntervalSince(connectStart) < 120 else {
                throw BenchmarkError("only \(ready.withLockedValue { $0 }) of \(plan.clients) clients got into their rooms in 120 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let connectSeconds = Date().timeIntervalSince(connectStart)
        progress("all \(plan.clients) clients named and in their rooms after \(String(format: "%.2f", connectSeconds)) s")
        try await Task.sleep(for: .milliseconds(500))
        for loop in loops { try await loop.submit { stats[statsByLoop[ObjectIdentifier(loop)]!].latency.reset() }.get() }

        // Send: each sender gets rate/senders messages a second, paced on its own event loop.
        let before = plan.processes.map { ($0.0, ProcessSample(pid: $0.1)) }
        let senders = Array(handlers.prefix(plan.senders))
        let perSender = plan.rate / Double(max(1, senders.count))
        let sent = NIOLockedValueBox(0)
        let start = NIODeadline.now()
        let end = start + .nanoseconds(Int64(plan.duration * 1e9))
        var tasks: [RepeatedTask] = []
        for sender in senders {
            let tick = TimeAmount.milliseconds(max(1, Int64(1000 / max(perSender, 1))))
            tasks.append(
                sender.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64.random(in: 0...Int64(max(1, 1000 / max(perSender, 1))))), delay: tick) { task in
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
        try await Task.sleep(for: .nanoseconds(Int64(plan.duration * 1e9)))
        for task in tasks { task.cancel() }
        let sendSeconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        try await Task.sleep(for: .nanoseconds(Int64(plan.drain * 1e9)))
        let after = plan.processes.map { ($0.0, ProcessSample(pid: $0.1)) }

        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var delivered = 0
        var errors: [String: Int] = [:]
        for loop in loops {
            let (histogram, count, loopErrors) = try await loop.submit {
                let mine = stats[statsByLoop[ObjectIdentifier(loop)]!]
                return (mine.latency, mine.delivered, mine.errors)
            }.get()
            latency.add(histogram)
            delivered += count
            errors.merge(loopErrors, uniquingKeysWith: +)
        }
        for channel in channels { channel.close(promise: nil) }

        let members = plan.clients / plan.rooms
        let totalSent = sent.withLockedValue { $0 }
        // Senders are spread over the rooms like everyone else; each message reaches its room but the sender.
        let expected = totalSent * (members - 1)
        let processes = zip(before, after).compactMap { pair -> (String, Double, Int, Int)? in
            guard let first = pair.0.1, let last = pair.1.1 else { return nil }
            return (pair.0.0, last.cpuSeconds - first.cpuSeconds, last.peakResidentKiB, last.residentKiB)
        }
        return BenchmarkResult(
            connectSeconds: connectSeconds, sent: totalSent, expected: expected, delivered: delivered,
            sendSeconds: sendSeconds, latency: latency, errors: errors, processes: processes)
    }
}

public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
