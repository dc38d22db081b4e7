import ChatArchive
import ChatCore
import ChatStore
import Foundation
import Logging
import NIOCore

/// Copies every room's messages from its Redis stream into the archive (`--archive`), and their edits and deletes
/// after them. docs/architecture.md, "The archive", says why it reads the streams instead of each node writing
/// what its clients send: the stream is what Redis acknowledged, in the order everyone saw, so reading it loses
/// nothing a node's death would, and needs nothing to agree on.
///
/// Every node with `--archive` runs one; one of them at a time archives, the holder of a lease in Redis (renewed
/// every pass, a claim TTL to live), so a killed archiver's work passes to another node within seconds. Every node, leader
/// or not, tells the archiver which rooms it published to (`ArchiveMarks`, a tick at a time); the leader takes those
/// rooms, reads each stream after the archive's cursor, and writes the entries and the new cursors in one
/// transaction. A mark can be lost (a node killed before its tick, an archiver killed after taking it): a sweep
/// over every room with history, at the start of each lease and every minute after, finds what the marks missed.
/// PostgreSQL down: the pass fails and is tried again each second; Redis keeps the streams meanwhile, so nothing
/// is lost while they still hold it, and what was trimmed before it was read is logged and counted as a gap.
final class Archiver: Sendable {
    struct Settings: Sendable {
        var tick: TimeAmount = .milliseconds(200)
        var leaseMilliseconds = 10_000
        var sweepInterval: TimeAmount = .seconds(60)
        /// Rooms read in one pass, and entries read of each: a pass writes at most their product.
        var roomsPerPass = 64
        var entriesPerRoom = 500
        var sweepChunk = 500
        var retention = ChatArchive.Retention()
        var retentionInterval: TimeAmount = .hours(1)
    }

    let store: ChatStore
    let archive: ChatArchive
    let marks: ArchiveMarks
    let metrics: NodeMetrics.ArchiveMetrics
    let logger: Logger
    let settings: Settings
    private let token = String(UInt64.random(in: 0...UInt64.max), radix: 16)

    init(
        store: ChatStore, archive: ChatArchive, marks: ArchiveMarks, metrics: NodeMetrics.ArchiveMetrics,
        logger: Logger, settings: Settings = Settings()
    ) {
        self.store = store
        self.archive = archive
        self.marks = marks
        self.metrics = metrics
        self.logger = logger
        self.settings = settings
    }

    /// What the leader knows between passes; dropped when it loses the lease (another node moved the cursors).
    struct LeaderState {
        /// By stream: a room's name, or `@` and a user key for a user's direct log (`directStream`).
        var cursors: [String: StreamID] = [:]
        var pending: Set<String> = []
        /// Users with direct messages to archive, and their marks as read (`ChatStore.directArchiveMarks`).
        var pendingDirects: [String: String] = [:]
        /// Users whose logs were read while their marks were younger than `directsSettled`, at that mark: read
        /// again (to remove the mark) once it is old enough, not every pass meanwhile.
        var readYoung: [String: String] = [:]
        /// Marks made before this (the marks' clock, milliseconds) may be removed once their logs are archived.
        var directsSettled: Int64 = 0
        var nextSweep = ContinuousClock.now
        var sweepOffset = 0
        var nextRetention = ContinuousClock.now
    }

    /// Runs until the task is cancelled.
    func run() async {
        var schema: Int?
        var leader: LeaderState?
        var failures = 0
        // While writes fail, the lag is the time since the last one that worked: the gauge must grow in an
        // outage, not keep the last good value.
        var lastWritten = ContinuousClock.now
        while !Task.isCancelled {
            await tellMarks()
            if schema == nil {
                do {
                    schema = try await archive.migrate()
                    logger.info(
                        "archive ready", metadata: ["archive": "\(archive.address)", "archive.schema": "\(schema!)"])
                } catch let error as SchemaTooNew {
                    logger.critical("archive not written", metadata: ["error": "\(error)"])
                    return
                } catch {
                    failures += 1
                    if failures == 1 || failures % 30 == 0 {
                        logger.error(
                            "archive unreachable; retrying every second",
                            metadata: ["archive": "\(archive.address)", "error": "\(ChatArchive.describe(error))"])
                    }
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
            }
            let holds =
                (try? await store.holdArchiverLease(token: token, milliseconds: settings.leaseMilliseconds).get())
                ?? false
            if holds != (leader != nil) {
                logger.info(holds ? "archiving: this node holds the archiver's lease" : "archiving: lease lost")
                leader = holds ? LeaderState() : nil
                metrics.leader.set(to: holds ? 1.0 : 0.0)
            }
            var more = false
            if var state = leader {
                do {
                    more = try await pass(&state)
                    lastWritten = ContinuousClock.now
                    if !more, ContinuousClock.now >= state.nextRetention, !settings.retention.keepsForever {
                        state.nextRetention =
                            ContinuousClock.now + .nanoseconds(settings.retentionInterval.nanoseconds)
                        let removed = try await archive.applyRetention(settings.retention)
                        if removed > 0 {
                            logger.info(
                                "archive retention: old messages removed", metadata: ["archive.removed": "\(removed)"])
                        }
                    }
                    failures = 0
                } catch {
                    failures += 1
                    metrics.writeFailures.increment()
                    // Read the cursors again from the archive: one that failed over to a replica behind it, or was
                    // restored, or lost its last commits, is behind the cursors kept here, and the rooms must be
                    // read again from where it really is (the writes are idempotent).
                    state.cursors.removeAll()
                    let since = ContinuousClock.now - lastWritten
                    metrics.lag.set(to: Double(since.components.seconds) + Double(since.components.attoseconds) / 1e18)
                    if failures == 1 || failures % 30 == 0 {
                        logger.error(
                            "archive write failed; retrying", metadata: ["error": "\(ChatArchive.describe(error))"])
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
                leader = state
            }
            if !more { try? await Task.sleep(for: .nanoseconds(settings.tick.nanoseconds)) }
        }
        await tellMarks()
        if leader != nil { _ = try? await store.releaseArchiverLease(token: token).get() }
    }

    private func tellMarks() async {
        // Marks that could not be told are kept for the next tick: for a direct log, nothing else would find it.
        let noted = marks.take()
        do { try await store.markForArchive(noted.rooms).get() } catch {
            for room in noted.rooms { marks.note(RoomName(trusted: room)) }
        }
        do { try await store.markDirectsForArchive(noted.users).get() } catch {
            for user in noted.users { marks.noteDirect(to: user) }
        }
    }

    /// The archive's name for a user's direct log: no room name starts with `@`.
    static func directStream(_ user: String) -> String { "@" + user }

    /// One pass: sweep when due, take the marks, archive a share of the pending rooms. Returns whether rooms are
    /// still pending (then the next pass comes at once).
    private func pass(_ state: inout LeaderState) async throws -> Bool {
        if ContinuousClock.now >= state.nextSweep {
            let rooms = try await store.archiveSweep(offset: state.sweepOffset, count: settings.sweepChunk).get()
            state.pending.formUnion(rooms.map(\.value))
            if rooms.count < settings.sweepChunk {
                state.sweepOffset = 0
                state.nextSweep = ContinuousClock.now + .nanoseconds(settings.sweepInterval.nanoseconds)
            } else {
                state.sweepOffset += rooms.count
            }
        }
        let marked = try await store.takeArchiveMarks(count: settings.roomsPerPass * 4).get()
        state.pending.formUnion(marked.map(\.value))
        if state.pendingDirects.count < settings.roomsPerPass { try await takeDirectMarks(&state) }
        guard !state.pending.isEmpty || !state.pendingDirects.isEmpty else { return false }
        let rooms = Array(state.pending.prefix(settings.roomsPerPass))
        let users = Array(state.pendingDirects.keys.prefix(settings.roomsPerPass))
        let unknown = (rooms + users.map(Self.directStream)).filter { state.cursors[$0] == nil }
        if !unknown.isEmpty {
            let known = try await archive.cursors(unknown)
            for stream in unknown { state.cursors[stream] = known[stream] ?? .zero }
        }
        let eventLoop = store.eventLoop
        let pages = try await EventLoopFuture.whenAllSucceed(
            rooms.map { room in
                store.archivePage(
                    RoomName(trusted: room), after: state.cursors[room] ?? .zero, count: settings.entriesPerRoom)
            }, on: eventLoop
        ).get()
        let directPages = try await EventLoopFuture.whenAllSucceed(
            users.map { user in
                store.directArchivePage(
                    to: user, after: state.cursors[Self.directStream(user)] ?? .zero, count: settings.entriesPerRoom)
            }, on: eventLoop
        ).get()
        var batch = ArchiveBatch()
        let fullDirects = add(directPages, of: users, to: &batch, state: state)
        var full: Set<String> = []
        for (room, page) in zip(rooms, pages) {
            let cursor = state.cursors[room] ?? .zero
            if let lostBefore = page.lostBefore {
                batch.gaps.append(ArchiveBatch.Gap(room: room, after: cursor, resumedAt: lostBefore))
            }
            for entry in page.entries { batch.add(entry: entry.payload, id: entry.id, room: room) }
            if let last = page.entries.last { batch.cursors[room] = last.id }
            if page.entries.count >= settings.entriesPerRoom { full.insert(room) }
        }
        try await archive.write(batch)
        for (room, cursor) in batch.cursors { state.cursors[room] = cursor }
        for room in rooms where !full.contains(room) { state.pending.remove(room) }
        try await settle(directPages, of: users, full: fullDirects, state: &state)
        if !batch.isEmpty { metrics.writes.increment() }
        metrics.messages.increment(by: Int64(batch.messages.count + batch.directs.count))
        metrics.changes.increment(by: Int64(batch.edits.count + batch.deletions.count))
        if let oldest = (batch.messages.map(\.time) + batch.directs.map(\.time)).min() {
            metrics.lag.set(to: Double(max(0, WallClock.now() - oldest)) / 1000)
        } else if state.pending.count <= rooms.count, state.pendingDirects.count <= users.count {
            metrics.lag.set(to: 0.0)
        }
        for gap in batch.gaps {
            metrics.gaps.increment()
            logger.error(
                "archive gap: messages the archive could not get (a stream trimmed past its cursor, a direct log full)",
                metadata: [
                    "archive.stream": "\(gap.room)", "archive.cursor": "\(gap.after)",
                    "stream.first": "\(gap.resumedAt)", "archive.lost": "\(gap.lost.map(String.init) ?? "unknown")",
                ])
        }
        return !state.pending.isEmpty || !state.pendingDirects.isEmpty
    }
}
