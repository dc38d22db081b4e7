import ChatCore
import ChatRedis
import NIOCore
import Synchronization

/// Joins Redis pub/sub to the event loops. It keeps, per channel, how many sessions on each loop listen; subscribes
/// when the first local listener arrives and unsubscribes when the last one leaves. Each batch read from Redis is
/// decoded once and crosses to each interested loop once.
final class Relay: @unchecked Sendable {
    let subscriber: RedisSubscriber
    private let hubs: [LoopHub]
    /// channel -> hub index -> listeners. Lives on the subscriber's loop.
    private var routes: [String: [Int: Int]] = [:]
    private let channelCount = Atomic<Int>(0)
    private let roomCount = Atomic<Int>(0)

    var eventLoop: any EventLoop { subscriber.eventLoop }
    /// Channels (rooms and users) this node is subscribed to, for /health.
    var subscribedChannels: Int { channelCount.load(ordering: .relaxed) }
    /// Rooms with members on this node, for /health.
    var localRooms: Int { roomCount.load(ordering: .relaxed) }

    init(subscriber: RedisSubscriber, hubs: [LoopHub]) {
        self.subscriber = subscriber
        self.hubs = hubs
        subscriber.onMessages = { [unowned self] messages in self.deliver(messages) }
    }

    /// Completes once Redis confirms the subscription, so nothing published afterwards can be missed.
    /// On failure the caller must still `detach`.
    func attach(_ channel: String, hub: LoopHub) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            if self.routes[channel] == nil { self.counted(channel, by: 1) }
            self.routes[channel, default: [:]][hub.index, default: 0] += 1
            return self.subscriber.subscribe(channel)
        }
    }

    func detach(_ channel: String, hub: LoopHub) {
        eventLoop.execute {
            guard var perHub = self.routes[channel], let count = perHub[hub.index] else { return }
            perHub[hub.index] = count > 1 ? count - 1 : nil
            if perHub.isEmpty {
                self.routes[channel] = nil
                self.subscriber.unsubscribe(channel)
                self.counted(channel, by: -1)
            } else {
                self.routes[channel] = perHub
            }
        }
    }

    private func counted(_ channel: String, by change: Int) {
        channelCount.add(change, ordering: .relaxed)
        if channel.hasPrefix(ClusterKeys.roomChannelPrefix) { roomCount.add(change, ordering: .relaxed) }
    }

    private func deliver(_ messages: [PubSubMessage]) {
        let now = WallClock.now()
        var perHub: [Int: [RenderedEvent]] = [:]
        for message in messages {
            guard let targets = routes[message.channel],
                let envelope = RelayCodec.decode(message.payload)
            else { continue }
            // One RenderedEvent per loop: its render cache is then only ever touched by that loop.
            for hubIndex in targets.keys {
                perHub[hubIndex, default: []].append(
                    RenderedEvent(channel: message.channel, envelope: envelope, now: now))
            }
        }
        for (hubIndex, batch) in perHub {
            let hub = hubs[hubIndex]
            let sendable = UnsafeTransfer(batch)
            hub.eventLoop.execute { hub.deliver(sendable.value) }
        }
    }
}

/// Hands a batch to exactly one other event loop. Safe because after the hand-off only that loop touches it: each
/// batch and each RenderedEvent in it is made for one hub alone.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
