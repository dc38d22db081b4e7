import ChatArchive
import ChatCommandSupport
import ChatCore
import ChatStore
import ChatTracing
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// What every session on every loop shares: the node's identity, its Redis store and relay, limits, metrics.
final class NodeContext: Sendable {
    let configuration: NodeConfiguration
    let nodeID: String
    let store: ChatStore
    let relay: Relay
    let metrics: NodeMetrics
    let logger: Logger
    let connectionCount = Atomic<Int>(0)
    /// Named sessions on this node and the most there have been at once, for LUSERS.
    let localSessions = NIOLockedValueBox<(count: Int, peak: Int)>((0, 0))
    /// The cluster's counts (LUSERS), read from Redis at most every 2 s for the whole node: a read is two commands
    /// per node of the cluster and a write, and any session may ask ten times a second.
    private let countsRead = NIOLockedValueBox<(at: NIODeadline, counts: EventLoopFuture<ServerCounts>)?>(nil)

    func clusterCounts(on loop: any EventLoop) -> EventLoopFuture<ServerCounts> {
        let local = localSessions.withLockedValue { $0 }
        let now = NIODeadline.now()
        let read = countsRead.withLockedValue { cached -> EventLoopFuture<ServerCounts> in
            if let cached, now - cached.at < .seconds(2) { return cached.counts }
            let counts = store.counts(local: local.count, localPeak: local.peak)
            cached = (now, counts)
            return counts
        }
        return read.hop(to: loop).map { counts in
            var current = counts
            current.local = local.count
            current.localPeak = local.peak
            return current
        }
    }
    private let sessionCounter = Atomic<Int>(0)
    /// Open connections per client address, for --max-clients-per-address.
    private let perAddress: AddressCounts

    /// Counts a connection from `address`; false (and nothing counted) past the per-address limit.
    func admit(address: String) -> Bool { perAddress.admit(address) }

    func release(address: String) { perAddress.release(address) }

    /// Releases that failed because Redis was away; retried as soon as it is back, so no leave notice is lost.
    let pendingReleases = NIOLockedValueBox<[PendingRelease]>([])
    /// Names held for their reconnecting owners, by claim token, until their grace period ends.
    private let heldNames = NIOLockedValueBox<[String: PendingRelease]>([:])
    let hasher: PasswordHasher
    /// Refused foreign-origin WebSocket requests: a stranger can send thousands a second.
    let foreignOriginLog = LogThrottle()
    /// Store operations Redis refused (a failing script fails for every session at once).
    let unexpectedStoreErrorLog = LogThrottle()
    /// History read from the store is checked like relayed events; names found valid are remembered node-wide.
    let historyCheck = NIOLockedValueBox(RelayCheck())
    /// `/rooms` (IRC's LIST), read from the store at most every few seconds for the whole node.
    let roomList: RoomListCache
    /// Member lists (IRC's NAMES and WHO, the first `who` page), read once for everyone on the node asking at once.
    let memberListings: MemberListings
    /// The network's bans and message of the day, kept in memory.
    let network: NetworkRules
    /// Every room message past what Redis keeps (`--archive`): history reads on in it, search reads it.
    let archive: ChatArchive?
    /// Traces of messages and logins (`--otlp-endpoint`), or nil: then nothing is traced.
    let tracer: Tracer?

    init(
        configuration: NodeConfiguration, nodeID: String, store: ChatStore, relay: Relay, metrics: NodeMetrics,
        logger: Logger, archive: ChatArchive? = nil, tracer: Tracer? = nil
    ) {
        self.configuration = configuration
        self.archive = archive
        self.tracer = tracer
        self.nodeID = nodeID
        self.store = store
        self.relay = relay
        self.metrics = metrics
        self.logger = logger
        self.perAddress = AddressCounts(limit: configuration.maxClientsPerAddress)
        self.roomList = RoomListCache(store: store)
        self.memberListings = MemberListings(store: store)
        self.network = NetworkRules(store: store, logger: logger)
        self.hasher = PasswordHasher(
            cost: configuration.scryptCost, threads: configuration.passwordHashThreads,
            maximumPendingPerAddress: configuration.passwordChecksPerAddress)
    }

    /// Gives a session's name and rooms back in Redis; a release that fails while Redis is away is kept and retried
    /// when it is back, so no leave notice is lost.
    func release(_ pending: PendingRelease) -> EventLoopFuture<Void> {
        store.release(
            pending.user, token: pending.token, now: pending.time, reason: pending.reason, origin: pending.origin,
            message: pending.message
        )
        .recover { error in
            self.logger.warning(
                "could not release a name in Redis; will retry when it is back",
                metadata: ["session.name": "\(pending.user.display)", "error": "\(error)"])
            self.pendingReleases.withLockedValue { $0.append(pending) }
        }
    }

    /// Releases the held name after `grace`, unless the node releases every held name first (shutdown).
    func holdName(_ pending: PendingRelease, for grace: TimeAmount, on eventLoop: any EventLoop) {
        heldNames.withLockedValue { $0[pending.token] = pending }
        eventLoop.scheduleTask(in: grace) {
            guard let due = self.heldNames.withLockedValue({ $0.removeValue(forKey: pending.token) }) else { return }
            _ = self.release(due)
        }
    }

    /// On shutdown: nobody will be here when their grace periods end, so the held names go now.
    func releaseHeldNames(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let held = heldNames.withLockedValue { names in
            defer { names.removeAll() }
            return Array(names.values)
        }
        return EventLoopFuture.andAllComplete(held.map(release), on: eventLoop)
    }

    /// A server operator's action (by a session or the admin API), in the node's log; the store writes the audit
    /// log.
    /// Logs a server operator's action, once done; a room closed loses its history everywhere, so the archive's
    /// goes too (in the background, a batch at a time).
    func logOperatorAction(_ action: OperatorAction, by: String) {
        guard action.auditName != nil else { return }  // reads are not actions
        if case .closeRoom(let room, _) = action, let archive {
            let logger = self.logger
            Task {
                do {
                    let removed = try await archive.forgetRoom(room.value)
                    logger.notice(
                        "archive: a closed room's messages removed",
                        metadata: ["room": "\(room)", "archive.removed": "\(removed)"])
                } catch {
                    logger.error(
                        "archive: a closed room's messages could not be removed; remove them by hand",
                        metadata: ["room": "\(room)", "error": "\(ChatArchive.describe(error))"])
                }
            }
        }
        logger.notice(
            "server operator action",
            metadata: [
                "operator.actor": "\(by)", "operator.action": "\(action.auditName ?? "read")",
                "operator.target": "\(action.auditTarget)",
            ])
    }

    /// Unique across the cluster and over time: the incarnation plus a counter.
    func makeSessionID() -> String {
        "\(store.incarnation)/\(sessionCounter.add(1, ordering: .relaxed).newValue)"
    }
}

struct PendingRelease: Sendable {
    var user: UserName
    var token: String
    var time: Millis
    var reason: LeaveReason
    var origin: String
    /// What the user said on quitting.
    var message: String? = nil
}
