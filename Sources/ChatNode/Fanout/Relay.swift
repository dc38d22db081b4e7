import ChatCore
import ChatStore
import ChatTracing
import Logging
import NIOCore
import RedisClient
import Synchronization

/// Joins Redis pub/sub to the event loops. It keeps, per channel, how many sessions on each loop listen; subscribes
/// when the first local listener arrives and unsubscribes when the last one leaves. Each batch read from Redis is
/// decoded once and crosses to each interested loop once.
///
/// Pub/sub delivers at most once: whatever a room published while this node's subscription was down is not
/// re-sent. So when a room is subscribed again after a reconnect, the relay reads what it missed from the room's
/// history stream (after the last id it delivered) and delivers that first, holding back live messages meanwhile;
/// message ids make any overlap drop out. A room that had nothing come live since its subscription catches up from
/// its stream's newest id when it was subscribed (read beside the SUBSCRIBE, before any member's join reads the
/// history); a member's join already showed some of that, and drops it (`JoinReplay`'s floor).
final class Relay: @unchecked Sendable {
    let subscriber: any RedisPubSub
    private let hubs: [LoopHub]
    private let store: ChatStore
    private let limits: ProtocolLimits
    /// channel -> hub index -> listeners. Everything below lives on the subscriber's loop.
    private var routes: [String: [Int: Int]] = [:]
    /// The newest message id delivered per room channel.
    private var lastDelivered: [String: StreamID] = [:]
    /// Per room channel, its stream's newest id before the subscription: where a catch-up starts when nothing was
    /// delivered yet. Being read while `baselineReads` holds the read.
    private var baselines: [String: StreamID] = [:]
    private var baselineReads: [String: EventLoopFuture<Void>] = [:]
    /// Live events held back while a room catches up after a reconnect.
    private var catchingUp: [String: [RelayEnvelope]] = [:]
    /// Which catch-up is the room's current one: a read that finishes after its room was left (and maybe joined
    /// again) is dropped. And rooms resubscribed again while catching up, to catch up once more after.
    private var catchUpNumbers: [String: Int] = [:]
    private var nextCatchUp = 0
    private var catchUpAgain = Set<String>()
    private let channelCount = Atomic<Int>(0)
    private let roomCount = Atomic<Int>(0)
    /// Events read from Redis that no node would publish are dropped (see `RelayCheck`).
    private var check = RelayCheck()
    private var dropped = 0
    private let logger: Logger
    private let metrics: NodeMetrics
    /// Continues the traces events carry (`--otlp-endpoint`): a fan-out span per traced event.
    private let tracer: Tracer?
    /// Called (on the subscriber's loop) when a node says the network's bans or message of the day changed.
    var onNetworkChanged: (@Sendable () -> Void)?

    var eventLoop: any EventLoop { subscriber.eventLoop }
    /// Channels (rooms and users) this node is subscribed to, for /health.
    var subscribedChannels: Int { channelCount.load(ordering: .relaxed) }
    /// Rooms with members on this node, for /health.
    var localRooms: Int { roomCount.load(ordering: .relaxed) }

    init(
        subscriber: any RedisPubSub, hubs: [LoopHub], store: ChatStore, limits: ProtocolLimits, logger: Logger,
        metrics: NodeMetrics, tracer: Tracer? = nil
    ) {
        self.tracer = tracer
        self.logger = logger
        self.metrics = metrics
        self.subscriber = subscriber
        self.hubs = hubs
        self.store = store
        self.limits = limits
        subscriber.onMessages = { [unowned self] messages in self.received(messages) }
        subscriber.onResubscribed = { [unowned self] channel in
            // What the network's channel said during the outage is read back from the store.
            if channel == ChatKeys.networkChannel { self.onNetworkChanged?() }
            self.catchUp(channel)
        }
    }

    /// Completes once every event published before now has been handed to the loops of the sessions it is for
    /// (each loop runs its hand-offs in order, so a reply hopped there after this is written after them).
    func barrier() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.subscriber.barrier() }
    }

    /// Completes once Redis confirms the subscription, so nothing published afterwards can be missed, and the
    /// room's catch-up point is known. On failure the caller must still `detach`.
    func attach(_ channel: String, hub: LoopHub) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            if self.routes[channel] == nil { self.counted(channel, by: 1) }
            self.routes[channel, default: [:]][hub.index, default: 0] += 1
            return self.subscriber.subscribe(channel).and(self.readBaseline(channel)).map { _ in }
        }
    }

    /// Reads the room's newest id once per subscription, at the same time as the SUBSCRIBE (so a join waits for
    /// no extra round trip); every attach waits for it, so it is older than what any member's join then reads.
    private func readBaseline(_ channel: String) -> EventLoopFuture<Void> {
        guard let room = ChatKeys.room(ofChannel: channel), baselines[channel] == nil else {
            return eventLoop.makeSucceededVoidFuture()
        }
        if let reading = baselineReads[channel] { return reading }
        let reading = store.newestID(in: room).hop(to: eventLoop).map { newest in
            // A subscription ended meanwhile is given none (one started again since shares this read: older is
            // safe, the members' join floors drop what they have).
            if self.routes[channel] != nil, self.baselines[channel] == nil { self.baselines[channel] = newest }
        }
        baselineReads[channel] = reading
        reading.whenComplete { _ in self.baselineReads[channel] = nil }
        return reading
    }

    func detach(_ channel: String, hub: LoopHub) {
        eventLoop.execute {
            guard var perHub = self.routes[channel], let count = perHub[hub.index] else { return }
            perHub[hub.index] = count > 1 ? count - 1 : nil
            if perHub.isEmpty {
                self.routes[channel] = nil
                self.lastDelivered[channel] = nil
                self.baselines[channel] = nil
                self.catchingUp[channel] = nil
                self.catchUpNumbers[channel] = nil
                self.catchUpAgain.remove(channel)
                self.subscriber.unsubscribe(channel)
                self.counted(channel, by: -1)
            } else {
                self.routes[channel] = perHub
            }
        }
    }

    private func counted(_ channel: String, by change: Int) {
        channelCount.add(change, ordering: .relaxed)
        if channel.hasPrefix(ChatKeys.roomChannelPrefix) { roomCount.add(change, ordering: .relaxed) }
    }

    private func received(_ messages: [PubSubMessage]) {
        var batch: [(String, RelayEnvelope)] = []
        batch.reserveCapacity(messages.count)
        for message in messages {
            guard routes[message.channel] != nil, let envelope = RelayCodec.decode(message.payload),
                accepts(envelope, on: message.channel)
            else { continue }
            if catchingUp[message.channel] != nil {
                catchingUp[message.channel]!.append(envelope)
            } else {
                batch.append((message.channel, envelope))
            }
        }
        deliver(batch)
    }

    /// Whether an event read from Redis may be shown; a forged one is dropped, counted, and logged (the first, then
    /// every thousandth, so a flood of them cannot flood the log).
    private func accepts(_ envelope: RelayEnvelope, on channel: String) -> Bool {
        // The network's channel carries its own two kinds, and nothing else does: every session hears it.
        let networkKind: Bool
        switch envelope.event {
        case .announcement, .networkChanged: networkKind = true
        default: networkKind = false
        }
        let problem =
            networkKind != (channel == ChatKeys.networkChannel)
            ? "an event on the wrong channel" : check.problem(envelope.event, in: ChatKeys.room(ofChannel: channel))
        guard let problem else {
            if case .networkChanged = envelope.event { onNetworkChanged?() }
            return true
        }
        dropped += 1
        metrics.relayedEventsDropped.increment()
        if dropped % 1000 == 1 {
            logger.warning(
                "dropped an event from Redis that no node would publish",
                metadata: ["redis.channel": "\(channel)", "problem": "\(problem)", "dropped.total": "\(dropped)"])
        }
        return false
    }

    private func deliver(_ batch: [(channel: String, envelope: RelayEnvelope)]) {
        let now = WallClock.now()
        let received = NIODeadline.now()
        var perHub: [Int: [RenderedEvent]] = [:]
        for (channel, envelope) in batch {
            guard let targets = routes[channel], isNew(envelope, on: channel) else { continue }
            let fanout = fanoutTrace(of: envelope, on: channel, loops: targets.count)
            // One RenderedEvent per loop: its render cache is then only ever touched by that loop.
            for hubIndex in targets.keys {
                perHub[hubIndex, default: []].append(
                    RenderedEvent(channel: channel, envelope: envelope, now: now, received: received, fanout: fanout))
            }
        }
        for (hubIndex, events) in perHub {
            let hub = hubs[hubIndex]
            let handOff = UnsafeTransfer(events)
            hub.eventLoop.execute { hub.deliver(handOff.value) }
        }
    }

    /// This node's span of a traced event's fan-out, continuing the publisher's trace; nil for an untraced event (or
    /// when this node does not trace).
    private func fanoutTrace(of envelope: RelayEnvelope, on channel: String, loops: Int) -> FanoutTrace? {
        guard let tracer, let carried = envelope.traceParent, let parent = SpanContext(traceparent: carried) else {
            return nil
        }
        let direct = if case .direct = envelope.event { true } else { false }
        let span = tracer.startSpan(
            direct ? "chat.direct.fanout" : "chat.message.fanout", kind: .consumer, parent: parent)
        span.set("messaging.system", "redis")
        span.set("messaging.operation.type", "process")
        span.set("messaging.operation.name", "deliver")
        span.set("messaging.destination.name", channel)
        if let id = envelope.streamID { span.set("chat.message.id", id.description) }
        return FanoutTrace(span: span, loops: loops)
    }

    /// Drops a message, or a change to one, already delivered (the overlap between a catch-up and live delivery)
    /// and remembers the newest id.
    private func isNew(_ envelope: RelayEnvelope, on channel: String) -> Bool {
        guard let id = envelope.streamID else { return true }
        if let last = lastDelivered[channel], id <= last { return false }
        lastDelivered[channel] = id
        return true
    }

    private func catchUp(_ channel: String) {
        guard let room = ChatKeys.room(ofChannel: channel), let last = lastDelivered[channel] ?? baselines[channel]
        else { return }
        // Dropped again while reading what it missed: the read may have started before this outage's messages.
        guard catchingUp[channel] == nil else {
            catchUpAgain.insert(channel)
            return
        }
        catchingUp[channel] = []
        nextCatchUp += 1
        catchUpNumbers[channel] = nextCatchUp
        readMissed(room, after: last, channel: channel, number: nextCatchUp, attempt: 1)
    }

    /// The command connection may come back a little after the subscription: retry for about two seconds. At most
    /// one page of what was missed is delivered (a burst of thousands would push every member past the outbound
    /// limit); when more was missed, or some of it is gone from the stream, or it could not be read, the members
    /// are told with a `gap` event, and their clients read the rest with `history` themselves.
    private func readMissed(_ room: RoomName, after last: StreamID, channel: String, number: Int, attempt: Int) {
        let paging = HistoryPaging(messages: limits.historyPageMessages, bytes: limits.historyPageBytes)
        store.page(room, after: last, limit: paging.readCount(limits.historyPageMessages), bytes: paging.bytes).hop(
            to: eventLoop
        )
        .whenComplete { result in
            guard self.catchUpNumbers[channel] == number else { return }  // the room was left meanwhile
            if case .failure = result, attempt < 10 {
                self.eventLoop.scheduleTask(in: .milliseconds(200)) {
                    self.readMissed(room, after: last, channel: channel, number: number, attempt: attempt + 1)
                }
                return
            }
            var missed: [RelayEnvelope] = []
            var notice: ChatEvent?
            switch result {
            case .success(let stored):
                let (page, more) = paging.page(
                    stored.messages, wanted: self.limits.historyPageMessages, direction: .forward)
                // The page's messages and the changes among them (up to its last message, or all when it is the
                // last page): what a reader of the stream had seen, in its order.
                let end = more ? page.last?.id : nil
                missed = stored.envelopes.filter { envelope in
                    guard let end else { return true }
                    return (envelope.streamID ?? .zero) <= end
                }.filter { self.accepts($0, on: channel) }
                let lost =
                    (stored.maxDeleted.map { $0 > last } ?? false) || (stored.keptFrom.map { $0 > last } ?? false)
                if more || lost {
                    notice = .gap(room: room, after: page.last?.id ?? last, lost: lost, oldest: stored.keptFrom)
                }
            case .failure:
                notice = .gap(room: room, after: last, lost: false, oldest: nil)
            }
            let held = self.catchingUp.removeValue(forKey: channel) ?? []
            self.catchUpNumbers[channel] = nil
            let told = notice.map { [(channel, RelayEnvelope(event: $0))] } ?? []
            self.deliver(missed.map { (channel, $0) } + told + held.map { (channel, $0) })
            if self.catchUpAgain.remove(channel) != nil { self.catchUp(channel) }
        }
    }
}

/// Hands a batch to exactly one other event loop. Safe because after the hand-off only that loop touches it: each
/// batch and each RenderedEvent in it is made for one hub alone.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
