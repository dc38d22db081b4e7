import ChatCore
import ChatStore
import NIOCore

/// A session's beginning and end: counting and logging it, closing its connection, and giving its name and rooms
/// back in Redis.
extension SessionHandler {
    func start(_ user: UserName, at time: Millis) {
        started = true
        hub.named(self, key: user.key)
        node.metrics.sessions.increment()
        node.localSessions.withLockedValue { $0 = ($0.count + 1, max($0.peak, $0.count + 1)) }
        logger.info(
            "session started",
            metadata: [
                "session.name": "\(user.display)", "client.address": "\(remoteAddress)", "node.id": "\(node.nodeID)",
                "session.entry": "\(TimeFormat.dateTime(time))",
            ])
    }

    /// Closes the connection once what was written so far has gone out, or after a second if the client is not
    /// reading, so a final `bye` or error reaches a client that is listening. A slow consumer is closed at once.
    func closeConnection(_ reason: LeaveReason) {
        guard let context else { return }  // the connection is gone already
        let channel = context.channel
        guard reason != .slowConsumer else { return channel.close(mode: .all, promise: nil) }
        let flushed = channel.eventLoop.makePromise(of: Void.self)
        writeGathered()
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: flushed)
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        flushed.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    /// A /quit's connection closes once its session is released (its rooms told), or after a second: the bye goes
    /// out now. A release Redis delays past that is retried as any other (`NodeContext.release`).
    func closeAfterRelease(_ reason: LeaveReason) {
        writeGathered()
        flush()
        let loop = hub.eventLoop.assumeIsolated()
        let deadline = loop.scheduleTask(in: .seconds(1)) { self.closeConnection(reason) }
        released.futureResult.assumeIsolated().whenComplete { _ in
            deadline.cancel()
            self.closeConnection(reason)
        }
    }

    /// A named session is over: stop listening, log its exit, and free its name and rooms in Redis. A release
    /// that fails while Redis is away is kept and retried when it is back, so no leave notice is lost.
    func end(_ ended: EndedSession) {
        joinReplay.forgetAll()
        for room in ended.rooms { stopListening(ChatKeys.roomChannel(room)) }
        let wasStarted = started
        if started {
            started = false
            stopListening(ChatKeys.userChannel(ended.user.key))
            node.metrics.sessions.decrement()
            node.localSessions.withLockedValue { $0.count -= 1 }
            let now = WallClock.now()
            logger.info(
                "session ended",
                metadata: [
                    "session.name": "\(ended.user.display)", "client.address": "\(remoteAddress)",
                    "node.id": "\(node.nodeID)", "session.exit": "\(TimeFormat.dateTime(now))",
                    "session.reason": "\(ended.reason.rawValue)",
                    "session.duration":
                        "\(TimeFormat.duration((NIODeadline.now() - connectedAt).nanoseconds / 1_000_000))",
                ])
        }
        if wasStarted { releasing = true }
        if let renaming = ended.renaming, renaming.key != ended.user.key {
            // A name change was under way: whatever of the session the new name holds goes too.
            stopListening(ChatKeys.userChannel(renaming.key))
            _ = node.release(
                PendingRelease(
                    user: renaming, token: ended.token, time: WallClock.now(), reason: ended.reason,
                    origin: machine.sessionID, message: ended.message))
        }
        let pending = PendingRelease(
            user: ended.user, token: ended.token, time: WallClock.now(), reason: ended.reason,
            origin: machine.sessionID, message: ended.message)
        let node = self.node
        let grace = store.bounds.resumeGraceSeconds
        guard ended.holdsName, grace > 0 else {
            node.release(pending).hop(to: hub.eventLoop).assumeIsolated().whenComplete { _ in
                if wasStarted { self.reportReleased() }
            }
            return
        }
        // Held for the resume token's holder; released when the grace period passes without a resume (the
        // release does nothing to a session that was resumed: its token is no longer this one).
        store.hold(pending.user, token: pending.token, now: pending.time, origin: pending.origin).hop(to: hub.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(true): node.holdName(pending, for: .seconds(Int64(grace)), on: self.hub.eventLoop)
                case .success(false): break
                case .failure: _ = node.release(pending)
                }
                if wasStarted { self.reportReleased() }
            }
    }

    func reportReleased() {
        releasing = false
        guard !releaseReported else { return }
        releaseReported = true
        released.succeed()
    }
}
