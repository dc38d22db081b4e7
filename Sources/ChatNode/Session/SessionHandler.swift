import ChatCore
import ChatRedis
import Logging
import NIOCore

/// One client connection: framing is done by `LineFrameDecoder` before it; this handler owns the session's state and
/// runs on the connection's event loop. Requests are handled one at a time in arrival order (a message typed right
/// after `/join dev` goes to dev); while one waits on Redis, further lines queue, and reading pauses once the queue
/// is long, so a flooding client is slowed by TCP rather than buffered without bound.
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case naming
        case claiming
        case active
        case closed
    }

    let node: NodeContext
    let hub: LoopHub
    let sessionID: String
    private(set) var context: ChannelHandlerContext!
    var remoteAddress = "unknown"

    var mode: ProtocolMode = .text
    private var modeChosen = false
    var phase = Phase.naming
    var user: UserName?
    var token = ""
    var since: Millis = 0
    var lastActive: Millis = 0
    var away: String?
    /// Joined rooms in the order they were joined; `current` is where plain text lines go.
    var rooms: [RoomName] = []
    var current: RoomName?
    /// Live events for rooms whose join is still fetching history; replayed after it, so history and live events
    /// arrive in order with nothing twice.
    var joining: [RoomName: [RenderedEvent]] = [:]
    var closeReason = LeaveReason.disconnected
    /// When this session last told each room it was typing: more often than `typingInterval` is not relayed.
    var lastTypingNotice: [RoomName: NIODeadline] = [:]
    static let typingInterval = TimeAmount.seconds(2)
    private var connectedAt: NIODeadline = .now()

    private var inbox = CircularBuffer<InboundLine>()
    private var busy = false
    /// The client half-closed (nc -N, a script's stdin ended): finish its lines, then close.
    private var inputClosed = false
    private var readPending = false
    private var needsFlush = false
    private var bucket: TokenBucket
    private var counted = false
    /// The address counted against --max-clients-per-address, released when the connection ends.
    private var admittedAddress: String?
    let released: EventLoopPromise<Void>

    static let maximumQueuedLines = 64

    var userKey: String? { user?.key }
    var logger: Logger { node.logger }
    var configuration: NodeConfiguration { node.configuration }
    var store: ClusterStore { node.store }

    /// How the client reached the node: TCP (line framing, maybe behind a PROXY header) or a WebSocket.
    enum Transport {
        case tcp
        case webSocket
    }

    let transport: Transport

    init(node: NodeContext, hub: LoopHub, transport: Transport = .tcp) {
        self.node = node
        self.hub = hub
        self.transport = transport
        if transport == .webSocket {
            // A WebSocket speaks JSON from the start, so even a refusal before its first message reaches it.
            mode = .json
            modeChosen = true
        }
        self.sessionID = node.makeSessionID()
        self.bucket = TokenBucket(
            ratePerSecond: node.configuration.rateLimit, burst: node.configuration.rateBurst,
            nowNanos: UInt64(NIODeadline.now().uptimeNanoseconds))
        self.released = hub.eventLoop.makePromise()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress.map(Self.describe) ?? "unknown"
        connectedAt = .now()
        let open = node.connectionCount.add(1, ordering: .relaxed).newValue
        counted = true
        node.metrics.connectionsAccepted.increment()
        node.metrics.connections.increment()
        guard open <= configuration.maxClients else {
            node.metrics.serverFull.increment()
            phase = .closed
            reply(.error(ChatError(.serverFull, "this node has its maximum of \(configuration.maxClients) clients; try again later")))
            close(reason: .disconnected)
            return
        }
        hub.register(self)
        // Behind the balancer, the greeting waits for the PROXY header, which names the real client.
        // (WebSockets come in on the HTTP port, which takes no PROXY header.)
        if !configuration.proxyProtocol || transport == .webSocket {
            admitAndGreet(ip: context.channel.remoteAddress?.ipAddress)
        }
        context.fireChannelActive()
    }

    /// The per-address limit applies to the real client, so it is checked once that address is known.
    private func admitAndGreet(ip: String?) {
        if let ip {
            guard node.admit(address: ip) else {
                phase = .closed
                reply(.error(ChatError(.tooManyConnections, "too many connections from \(ip)")))
                close(reason: .disconnected)
                return
            }
            admittedAddress = ip
        }
        reply(.greeting(server: "swift-redis-chat node \(node.nodeID)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let admittedAddress {
            node.release(address: admittedAddress)
            self.admittedAddress = nil
        }
        if counted {
            node.connectionCount.subtract(1, ordering: .relaxed)
            node.metrics.connections.decrement()
            counted = false
        }
        teardown()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .closed else { return }
        inbox.append(unwrapInboundIn(data))
        processInbox()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let proxied = event as? ProxyHeaderReceived {
            if let client = proxied.header.clientDescription { remoteAddress = client }
            // PROXY UNKNOWN is the proxy's own connection (a health probe): it speaks for no client address.
            if phase != .closed { admitAndGreet(ip: proxied.header.source?.address) }
        }
        if case .some(.inputClosed) = event as? ChannelEvent {
            inputClosed = true
            processInbox()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if inbox.count >= Self.maximumQueuedLines {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Past the high-water mark the client is not reading: drop it rather than buffer for it without end. Its
    /// room-mates are not slowed, since fan-out never waits on one socket.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, phase != .closed {
            node.metrics.slowConsumerDisconnects.increment()
            logger.warning(
                "disconnecting slow consumer",
                metadata: [
                    "session.name": "\(user?.display ?? "-")", "client.address": "\(remoteAddress)",
                    "outbound.limit": "\(configuration.maxOutboundBytes)",
                ])
            closeReason = .slowConsumer
            context.close(mode: .all, promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and broken pipes are how clients vanish; nothing to do but clean up, which channelInactive does.
        logger.debug("client connection error", metadata: ["client.address": "\(remoteAddress)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Input

    private func processInbox() {
        while !busy, phase != .closed, let line = inbox.popFirst() {
            if let pending = handle(line) {
                busy = true
                pending.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
                    self.busy = false
                    self.processInbox()
                }
            }
        }
        if inputClosed, !busy, inbox.isEmpty, phase != .closed {
            close(reason: closeReason)
        } else if readPending, inbox.count < Self.maximumQueuedLines / 2, phase != .closed {
            readPending = false
            context.read()
        }
    }

    /// Handles one line; returns a future when the request waits on Redis, nil when it is done.
    private func handle(_ line: InboundLine) -> EventLoopFuture<Void>? {
        guard case .line(let raw) = line else {
            reply(.error(ChatError(.lineTooLong, "lines are limited to \(configuration.limits.maximumLineBytes) bytes; that line was discarded")))
            return nil
        }
        let bytes = TelnetFilter.strip(raw)
        let text = Sanitizer.clean(bytes).trimmingWhitespaceForLine()
        guard !text.isEmpty else { return nil }
        if !modeChosen {
            modeChosen = true
            if text.hasPrefix("{") { mode = .json }
        }
        let request: ClientRequest
        var requestID: RequestID? = nil
        var parseError: ChatError? = nil
        switch mode {
        case .json:
            // Parsed before the rate limit, so that even a refusal carries the request's id.
            let parsed = JSONRequestParser.parse(text)
            requestID = parsed.id
            switch parsed.request {
            case .success(let value): request = value.sanitized()
            case .failure(let error):
                request = .ping
                parseError = error
            }
        case .text:
            if phase != .active, !text.hasPrefix("/") {
                request = .hello(name: text)
            } else {
                do { request = try TextCommandParser.parse(text) } catch {
                    request = .ping
                    parseError = error
                }
            }
        }
        guard bucket.tryTake(nowNanos: UInt64(NIODeadline.now().uptimeNanoseconds)) else {
            node.metrics.rateLimited.increment()
            reply(.error(ChatError(.rateLimited, "slow down: at most \(Int(configuration.rateLimit)) lines a second")), id: requestID)
            return nil
        }
        if let parseError {
            reply(.error(parseError), id: requestID)
            return nil
        }
        return dispatch(request, id: requestID)
    }

    // MARK: Output

    /// Sends a reply or notice to this client now.
    func reply(_ event: ChatEvent, id: RequestID? = nil) {
        guard context.channel.isActive else { return }
        let now = WallClock.now()
        let text: String
        switch mode {
        case .text: text = TextRenderer.render(event, viewer: user?.display, now: now)
        case .json: text = JSONRenderer.render(event, requestID: id, now: now)
        }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        flushSoon()
    }

    /// Replies produced in one event-loop tick (a packet of many lines, say) share one flush and one syscall.
    private func flushSoon() {
        guard !needsFlush else { return }
        needsFlush = true
        context.eventLoop.assumeIsolated().execute { self.flush() }
    }

    /// Called by the hub for each relayed event; returns true when something was written (flush pending).
    func deliver(_ event: RenderedEvent, allocator: ByteBufferAllocator) -> Bool {
        guard phase == .active else { return false }
        if let room = event.envelope.event.room, joining[room] != nil {
            joining[room]!.append(event)
            return false
        }
        return write(event, allocator: allocator)
    }

    func write(_ event: RenderedEvent, allocator: ByteBufferAllocator) -> Bool {
        let envelope = event.envelope
        let own = envelope.origin == sessionID
        let buffer: ByteBuffer
        switch envelope.event {
        case .message where own, .direct where own:
            // Acknowledged straight from Redis's reply to the publish (see `say` and `direct`), which also works
            // when this node's subscription is briefly down.
            return false
        case .typing where mode == .text:
            return false
        case .direct where mode == .text:
            buffer = allocator.buffer(
                string: TextRenderer.render(envelope.event, viewer: user?.display, now: WallClock.now()))
        case .message, .direct:
            buffer = event.bytes(for: mode, allocator: allocator)
        default:
            // Our own join, leave and presence notices were already answered directly.
            if own { return false }
            buffer = event.bytes(for: mode, allocator: allocator)
        }
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
        return true
    }

    func flush() {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    // MARK: Ending

    /// Closes the connection once what was written so far has gone out, or after a second if the client is not
    /// reading, so a final `bye` or error reaches a client that is listening.
    func close(reason: LeaveReason) {
        closeReason = reason
        let channel = context.channel
        let flushed = channel.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: flushed)
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        flushed.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    /// Runs once, when the connection is gone: stop listening, leave every room and free the name in Redis.
    private func teardown() {
        let wasActive = phase == .active
        phase = .closed
        hub.unregister(self)
        guard wasActive, let user else {
            released.succeed()
            return
        }
        node.metrics.sessions.decrement()
        for room in rooms { stopListening(ClusterKeys.roomChannel(room)) }
        for room in joining.keys { stopListening(ClusterKeys.roomChannel(room)) }
        joining = [:]
        stopListening(ClusterKeys.userChannel(user.key))
        let now = WallClock.now()
        let duration = NIODeadline.now() - connectedAt
        logger.info(
            "session ended",
            metadata: [
                "session.name": "\(user.display)", "client.address": "\(remoteAddress)", "node.id": "\(node.nodeID)",
                "session.exit": "\(TimeFormat.dateTime(now))", "session.reason": "\(closeReason.rawValue)",
                "session.duration": "\(TimeFormat.duration(duration.nanoseconds / 1_000_000))",
            ])
        let pending = PendingRelease(user: user, token: token, time: now, reason: closeReason, origin: sessionID)
        let node = self.node
        let released = self.released
        store.release(user, token: token, now: now, reason: closeReason, origin: sessionID).whenComplete { result in
            if case .failure(let error) = result {
                node.logger.warning(
                    "could not release a name in Redis; will retry when it is back",
                    metadata: ["session.name": "\(user.display)", "error": "\(error)"])
                node.pendingReleases.withLockedValue { $0.append(pending) }
            }
            released.succeed()
        }
    }

    func listen(_ channel: String) -> EventLoopFuture<Void> {
        hub.listen(self, to: channel)
        return node.relay.attach(channel, hub: hub)
    }

    func stopListening(_ channel: String) {
        hub.stopListening(self, to: channel)
        node.relay.detach(channel, hub: hub)
    }

    private static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

extension String {
    /// Lines lose surrounding spaces; what is inside stays verbatim.
    func trimmingWhitespaceForLine() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }
}
