import NIOCore

/// What a write asks of the replicas before its caller is told it is kept: that `replicas` of them have it, waited
/// for at most `timeout` (Redis's `WAIT`). Replication is asynchronous: without this, a write the primary answered
/// is lost if the primary dies before a replica received it.
public struct ReplicaAcknowledgement: Sendable, Equatable {
    public var replicas: Int
    public var timeout: TimeAmount

    public init(replicas: Int, timeout: TimeAmount) {
        self.replicas = replicas
        self.timeout = timeout
    }
}

/// A write's reply, and how many replicas were known to have it when the caller was told: at least the number
/// asked for, or fewer when the wait timed out or the connection was lost first. Then only the primary is known to
/// have it, and a failover now may lose it.
public struct AcknowledgedReply: Sendable {
    public var reply: RedisValue
    public var replicas: Int

    public func isAcknowledged(by wanted: ReplicaAcknowledgement) -> Bool { replicas >= wanted.replicas }
}

/// An acknowledged write's part of its pending command: what it asked for, and where the count goes. The count is
/// always given (0 when there is none to give), so nobody waits on a promise that is never completed.
struct PendingAcknowledgement: Sendable {
    var wanted: ReplicaAcknowledgement
    var promise: EventLoopPromise<Int>

    func unacknowledged() { promise.succeed(0) }
}

/// Group commit of `WAIT` on one connection. `WAIT` counts the replicas that have every write this connection made
/// before it, so one `WAIT` covers any number of writes, and while one is out every write answered meanwhile waits
/// for the next: one replica round trip per batch, however many messages the batch holds. A write joins a `WAIT`
/// only once its reply has come, so the `WAIT` is certain to follow it on the same connection (a script retried
/// as EVAL after NOSCRIPT runs later than it was first sent; a reconnect starts a new connection, and a new
/// handler, whose `WAIT` would count nothing of the old one's writes).
///
/// Redis runs nothing behind a blocked `WAIT` on its connection, so while replicas are missing every batch would
/// hold the writes behind it for the whole timeout: messages would reach their rooms late, not only be
/// acknowledged late. So once a `WAIT` comes back short, writes are told at once that no replica is known to have
/// them, and a short `WAIT` (a probe, covering the write that sends it) looks again at most once a second; the
/// first probe that finds the replicas ends that.
struct ReplicaWaits {
    /// Answered writes no `WAIT` sent yet covers.
    private var answered: [PendingAcknowledgement] = []
    /// The writes the `WAIT` now out covers, if one is out.
    private var covered: [PendingAcknowledgement]?
    /// How long the `WAIT` now out may hold its connection without a reply (zero when none is out): the
    /// connection's watchdog allows it on top of the command timeout.
    private(set) var outstandingTimeout: TimeAmount = .zero
    /// Whether the last `WAIT` came back short, and when the last probe was sent.
    private var short = false
    private var lastProbe: NIODeadline = .distantPast

    static let probeInterval: TimeAmount = .seconds(1)
    static let probeTimeout: TimeAmount = .milliseconds(10)

    /// A write was answered: the `WAIT` to send now, if there is one to send.
    mutating func writeAnswered(_ acknowledgement: PendingAcknowledgement, now: NIODeadline) -> RedisCommand? {
        guard short else {
            answered.append(acknowledgement)
            return nextWait()
        }
        guard covered == nil, now - lastProbe >= Self.probeInterval else {
            acknowledgement.unacknowledged()
            return nil
        }
        lastProbe = now
        return wait(covering: [acknowledgement], timeout: Self.probeTimeout)
    }

    /// The `WAIT` that was out was answered (`replicas` of them; 0 when it failed): tells its writes, and gives the
    /// next `WAIT` to send if writes were answered meanwhile.
    mutating func waitAnswered(replicas: Int, now: NIODeadline) -> RedisCommand? {
        let wanted = (covered ?? []).map(\.wanted.replicas).max() ?? 0
        for acknowledgement in covered ?? [] { acknowledgement.promise.succeed(replicas) }
        covered = nil
        outstandingTimeout = .zero
        if replicas < wanted, !short {
            short = true
            lastProbe = now
        } else if replicas >= wanted {
            short = false
        }
        if short {
            for acknowledgement in answered { acknowledgement.unacknowledged() }
            answered = []
            return nil
        }
        return nextWait()
    }

    /// The connection is gone: nothing it wrote can be counted on any more.
    mutating func abandon() {
        for acknowledgement in (covered ?? []) + answered { acknowledgement.unacknowledged() }
        covered = nil
        answered = []
        outstandingTimeout = .zero
    }

    private mutating func nextWait() -> RedisCommand? {
        guard covered == nil, !answered.isEmpty else { return nil }
        let timeout = answered.map(\.wanted.timeout).max() ?? Self.probeTimeout
        defer { answered = [] }
        return wait(covering: answered, timeout: timeout)
    }

    private mutating func wait(covering writes: [PendingAcknowledgement], timeout: TimeAmount) -> RedisCommand {
        let replicas = writes.map(\.wanted.replicas).max() ?? 1
        covered = writes
        outstandingTimeout = timeout
        // WAIT's timeout 0 would wait for ever.
        let milliseconds = max(1, timeout.nanoseconds / 1_000_000)
        return RedisCommand(["WAIT", String(replicas), String(milliseconds)])
    }
}
