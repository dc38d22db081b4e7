import ChatCore
import ChatStore
import Logging
import NIOCore

/// Keeps this node's part of the shared state true in Redis:
/// - every third of the claim TTL, the incarnation heartbeat (one key, however many sessions: idle sessions cost
///   Redis O(nodes));
/// - every third of the names' long TTL, a keep-alive for every session (a session whose claim is gone or taken
///   is told `name-lost` and closed);
/// - every reap interval, cleanup after dead incarnations (their users leave their rooms with "connection lost");
/// - after Redis comes back, the same state again, re-taking claims that Redis lost, and releases that failed.
final class PresenceKeeper: Sendable {
    private let node: NodeContext
    private let hubs: [LoopHub]
    private let eventLoop: any EventLoop

    init(node: NodeContext, hubs: [LoopHub], eventLoop: any EventLoop) {
        self.node = node
        self.hubs = hubs
        self.eventLoop = eventLoop
    }

    /// The node's heartbeat every third of the claim TTL (what keeps its users' names and rooms alive: one key per
    /// node, whatever its number of sessions); each session's own records only every third of the names' long
    /// TTL, their safety net.
    func start() -> [RepeatedTask] {
        let configuration = node.configuration
        let beatEvery = TimeAmount.milliseconds(Int64(configuration.claimTTLSeconds) * 1000 / 3)
        let beat = eventLoop.scheduleRepeatedTask(initialDelay: beatEvery, delay: beatEvery) { _ in
            self.heartbeat()
        }
        let refreshEvery = TimeAmount.milliseconds(Int64(node.store.nameTTLSeconds) * 1000 / 3)
        let refresh = eventLoop.scheduleRepeatedTask(initialDelay: refreshEvery, delay: refreshEvery) { _ in
            self.refresh(restore: false)
        }
        let reap = eventLoop.scheduleRepeatedTask(
            initialDelay: configuration.reapInterval, delay: configuration.reapInterval
        ) { _ in self.reap() }
        let ping = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            self.measureRoundTrip()
        }
        return [beat, refresh, reap, ping]
    }

    /// A PING on the command connection, timed: what operators watch as this node's Redis round trip. It queues
    /// behind whatever the node's sessions sent, which is the point: it is the wait they see.
    /// While Redis is unreachable the figure is NaN (a gap in a graph, "unknown" on the status page) rather than the
    /// last good one; a PING that fails counts the time it took to fail.
    private func measureRoundTrip() {
        let redis = node.store.redis
        guard redis.isConnected else { return node.metrics.redisRoundTrip.set(Double.nan) }
        let started = NIODeadline.now()
        redis.send("PING").whenComplete { _ in
            let elapsed = NIODeadline.now() - started
            self.node.metrics.redisRoundTrip.set(Double(elapsed.nanoseconds) / 1e9)
        }
    }

    /// Called whenever the command connection is (re)made.
    func redisConnected(reconnected: Bool) {
        heartbeat()
        guard reconnected else { return }
        node.metrics.redisReconnects.increment()
        node.metrics.redisLastReconnect.set(Double(WallClock.now()) / 1000)
        refresh(restore: true)
    }

    /// One batch, and at once the next while more remain.
    private func reap() {
        guard node.store.redis.isConnected else { return }
        node.store.reap(now: WallClock.now()).hop(to: eventLoop).whenSuccess { cleaned, more in
            if cleaned > 0 {
                self.node.metrics.usersReaped.increment(by: Int64(cleaned))
                self.node.logger.info("cleaned up after a dead node", metadata: ["reaped.users": "\(cleaned)"])
            }
            if more { self.reap() }
        }
    }

    /// The heartbeat, and releases that failed while Redis was away.
    private func heartbeat() {
        let store = node.store
        guard store.redis.isConnected else { return }
        _ = store.heartbeat(now: WallClock.now())
        let releases = node.pendingReleases.withLockedValue { pending in
            defer { pending.removeAll() }
            return pending
        }
        for release in releases { _ = node.release(release) }
    }

    /// Every session's records, rewritten: rarely (a safety net), and in full when Redis comes back after losing
    /// them (`restore`: claims that are gone are taken again).
    private func refresh(restore: Bool) {
        let store = node.store
        guard store.redis.isConnected else { return }
        for hub in hubs {
            hub.eventLoop.execute {
                for session in hub.allSessions {
                    guard let record = session.record else { continue }
                    // The very session whose record this was: a lookup by name could find a newer session of the
                    // same person on this loop (a resume), and leave this stale one running.
                    let handOff = UnsafeTransfer(session)
                    store.keepAlive(record, restore: restore).hop(to: hub.eventLoop).whenSuccess { alive in
                        let session = handOff.value
                        // A name changed meanwhile: the old name's claim is gone on purpose.
                        guard !alive, session.machine.active?.token == record.token,
                            session.machine.active?.user.key == record.user.key
                        else { return }
                        self.node.metrics.namesLost.increment()
                        session.nameLost(token: record.token)
                    }
                }
            }
        }
    }
}

extension SessionHandler {
    /// What Redis should hold for this session; nil until it has a name.
    var record: SessionRecord? {
        guard let session = machine.active else { return nil }
        return SessionRecord(
            user: session.user, token: session.token, since: session.since, lastActive: session.lastActive,
            away: session.away, rooms: session.listedRooms, address: remoteAddress, connection: machine.sessionID)
    }

    func nameLost(token: String) {
        logger.warning("name claim lost", metadata: ["session.name": "\(machine.userName?.display ?? "-")"])
        apply(machine.nameLost(token: token))
    }
}
