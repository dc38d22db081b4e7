import ChatCore
import ChatStore
import NIOCore

/// The sessions served by one event loop, indexed by the Redis channels they listen on. Only ever touched on its
/// own loop, so it needs no locks; the relay hands it whole batches.
final class LoopHub: @unchecked Sendable {
    let eventLoop: any EventLoop
    let index: Int
    private let metrics: NodeMetrics
    private let allocator = ByteBufferAllocator()
    private var listeners: [String: [ObjectIdentifier: SessionHandler]] = [:]
    private var sessions: [ObjectIdentifier: SessionHandler] = [:]
    private var byUser: [String: SessionHandler] = [:]
    /// Rooms this loop's sessions published in lately (`PublishUpkeep`); used on this loop only.
    var roomUpkeep = RoomUpkeepSchedule()
    /// Names as shown -> their keys (their own and their look-alikes'), for sessions that block people: a name's
    /// keys take a Unicode analysis, made once per loop per name (up to `keyCacheLimit`, then started afresh).
    private var nameKeys: [String: [String]] = [:]
    static let keyCacheLimit = 20_000

    func keys(of name: String) -> [String] {
        eventLoop.assertInEventLoop()
        if let known = nameKeys[name] { return known }
        let keys = (try? UserName(validating: name)).map { [$0.key] + $0.lookAlikeKeys.sorted() } ?? []
        if nameKeys.count >= Self.keyCacheLimit { nameKeys.removeAll(keepingCapacity: true) }
        nameKeys[name] = keys
        return keys
    }

    init(eventLoop: any EventLoop, index: Int, metrics: NodeMetrics) {
        self.eventLoop = eventLoop
        self.index = index
        self.metrics = metrics
    }

    var allSessions: [SessionHandler] {
        eventLoop.assertInEventLoop()
        return Array(sessions.values)
    }

    func register(_ session: SessionHandler) {
        eventLoop.assertInEventLoop()
        sessions[ObjectIdentifier(session)] = session
    }

    func unregister(_ session: SessionHandler) {
        eventLoop.assertInEventLoop()
        sessions[ObjectIdentifier(session)] = nil
        if let key = session.userKey, byUser[key] === session { byUser[key] = nil }
    }

    /// `previous`: the name the session had before a name change, no longer its.
    func named(_ session: SessionHandler, key: String, previous: String? = nil) {
        eventLoop.assertInEventLoop()
        if let previous, byUser[previous] === session { byUser[previous] = nil }
        byUser[key] = session
    }

    func session(forUser key: String) -> SessionHandler? {
        eventLoop.assertInEventLoop()
        return byUser[key]
    }

    func listen(_ session: SessionHandler, to channel: String) {
        eventLoop.assertInEventLoop()
        listeners[channel, default: [:]][ObjectIdentifier(session)] = session
    }

    func stopListening(_ session: SessionHandler, to channel: String) {
        eventLoop.assertInEventLoop()
        listeners[channel]?[ObjectIdentifier(session)] = nil
        if listeners[channel]?.isEmpty == true { listeners[channel] = nil }
    }

    /// Every second, each session checks its timers (registration timeout, pings): one timer per loop rather than
    /// one per connection.
    func startTicking() -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            for session in self.sessions.values { session.tick() }
        }
    }

    /// Writes each event to every local listener of its channel, then flushes each touched session once. A
    /// session is listed once, by the write that made its flush due (see `SessionHandler.deliver`).
    /// Each event that reached someone here counts once in the fan-out latency, measured after the flushes. A batch
    /// is one read off Redis (`Relay.deliver`), so its events share one receive time: no list of them is kept.
    func deliver(_ batch: [RenderedEvent]) {
        eventLoop.assertInEventLoop()
        var touched: [SessionHandler] = []
        var written: Int64 = 0
        var shown = 0
        // Traced events and how many sessions each reached, told once the flushes are done.
        var traced: [(FanoutTrace, Int)] = []
        defer { for (fanout, count) in traced { fanout.delivered(to: count) } }
        for event in batch {
            // Everyone here hears the network's channel (each session decides what it shows).
            guard let members = event.channel == ChatKeys.networkChannel ? sessions : listeners[event.channel] else {
                if let fanout = event.fanout { traced.append((fanout, 0)) }
                continue
            }
            let writtenBefore = written
            for session in members.values {
                switch session.deliver(event, allocator: allocator) {
                case .notWritten: continue
                case .written: break
                case .flushDue: touched.append(session)
                }
                written += 1
            }
            if written > writtenBefore { shown += 1 }
            if let fanout = event.fanout { traced.append((fanout, Int(written - writtenBefore))) }
        }
        for session in touched { session.flush() }
        guard written > 0, let received = batch.first?.received else { return }
        metrics.messagesOut.increment(by: written)
        let latency = (NIODeadline.now() - received).nanoseconds
        let histogram = metrics.fanoutLatency[min(index, metrics.fanoutLatency.count - 1)]
        for _ in 0..<shown { histogram.recordNanoseconds(latency) }
    }
}
