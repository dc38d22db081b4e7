import ChatCore
import ChatStore
import Logging
import NIOCore

// One file because the shell's channel events, input queue and action loop share its state (the inbox, the
// pending actions, the writes gathered for the next flush) and its re-entrancy rules; the store, lifecycle and
// identity steps that need none of that are in the `SessionHandler+*.swift` files.

/// The shell around one client's `SessionMachine`, on the connection's event loop: it admits the connection, queues
/// frames (pausing reads when the queue is long, so a flooding client is slowed by TCP rather than buffered without
/// bound), feeds each to the machine through the protocol mode, and carries the machine's actions out. The store
/// operations are run in `SessionHandler+Store.swift`. Framing is done before it (`LineFrameDecoder`, or
/// `WebSocketSessionAdapter`), and every buffer it writes is one rendered event.
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let node: NodeContext
    let hub: LoopHub
    var machine: SessionMachine
    private var mode: any SessionMode
    /// TCP clients choose text or JSON with their first line; a WebSocket speaks JSON from the start.
    private var modeChosen: Bool
    private let expectsProxyHeader: Bool
    /// Let go in `handlerRemoved`: the context holds this handler, so keeping it after would keep every session that
    /// ever was (the soak found a node growing by each one). Store replies that come later find it gone, and write
    /// nothing.
    private(set) var context: ChannelHandlerContext?
    /// Buffers for what is rendered for this client (the channel's allocator is this same default one).
    private let allocator = ByteBufferAllocator()
    var remoteAddress = "unknown"
    /// The client's IP (from the PROXY header behind a balancer): what per-address limits count.
    var clientIP: String?
    var connectedAt = NIODeadline.now()

    private var inbox = CircularBuffer<InboundLine>()
    /// Requests parsed from frames (a mode may make several of one frame, IRC's `JOIN #a,#b`) or following from
    /// events, taken one at a time as the machine is ready; and lines the mode answered by itself, which pay the
    /// rate like requests, in their turn.
    private var requests = CircularBuffer<PendingInput>()
    /// A request waits for the rate limit's next token (`SessionAction.retry`).
    private var rateWaiting = false
    private var processing = false
    private var pendingActions = CircularBuffer<SessionAction>()
    private var applying = false
    /// The client half-closed (nc -N, a script's stdin ended): finish its lines, then close.
    private var inputClosed = false
    private var readPending = false
    /// The rate debt of the address was asked for (`inheritRateDebt`).
    var debtAsked = false
    private var needsFlush = false
    /// Bytes emitted since the last flush, not yet written (see `emit`).
    private var unwritten: ByteBuffer?
    private var coalescesWrites = true
    /// The mode, when events sent to its clients ask for more (IRC).
    private var followUps: (any FollowsUpEvents)?
    private var counted = false
    var started = false

    /// The protocol the client speaks, as traces name it.
    var protocolName: String {
        switch mode {
        case is IRCMode: "irc"
        case is WebSocketMode: "websocket"
        case is JSONLinesMode: "json"
        default: "text"
        }
    }
    /// The address counted against --max-clients-per-address, released when the connection ends.
    private var admittedAddress: String?
    /// Live events held back while a join reads its room's history, and the history's last message after.
    var joinReplay = JoinReplay<RenderedEvent>()
    /// A name whose password this connection has checked already (IRC's SASL), with the stored hash it matched:
    /// the claim that follows uses it instead of checking again.
    var checkedLogin: (key: String, hash: String)?
    /// The person's own preferences (blocks, refusing guests' direct messages), read at login.
    var preferences = ChatStore.Preferences()
    /// The name's keys (its own and its look-alikes') and the address's bits, as network bans match them: worked
    /// out at the first ban checked against the session (not at login: look-alikes take ICU, and logins are many),
    /// then kept, so later bans cost no Unicode analysis.
    var banIdentity: (keys: [String], addressBits: String)?
    /// When this session's messages last marked it active in Redis (`PublishUpkeep`).
    var activeMarks = ActiveMarkSchedule()
    /// Completed once the connection is gone and its session released in Redis (graceful shutdown waits on it).
    let released: EventLoopPromise<Void>
    var releaseReported = false
    /// A named session's release is under way (`end`) and has not completed: a /quit's connection waits for it.
    var releasing = false

    static let maximumQueuedFrames = 64

    var logger: Logger { node.logger }
    var configuration: NodeConfiguration { node.configuration }
    var store: ChatStore { node.store }
    var userKey: String? { machine.view.userName?.key }

    init(node: NodeContext, hub: LoopHub, mode: (any SessionMode)? = nil, expectsProxyHeader: Bool = false) {
        self.node = node
        self.hub = hub
        self.mode = mode ?? TextMode()
        self.modeChosen = mode != nil
        self.expectsProxyHeader = expectsProxyHeader
        let configuration = node.configuration
        let live = configuration.live.values  // one reading: the rate and its burst from the same configuration
        var settings = SessionMachine.Settings(
            limits: configuration.limits, rateLimit: live.rateLimit, rateBurst: live.rateBurst,
            nodeID: node.nodeID)
        settings.registrationTimeoutNanos = UInt64(configuration.registrationTimeout.nanoseconds)
        settings.pingAfterNanos = UInt64(configuration.pingAfter.nanoseconds)
        settings.pingTimeoutNanos = UInt64(configuration.pingTimeout.nanoseconds)
        settings.holdsNamesOnDrop = configuration.storeBounds.resumeGraceSeconds > 0
        settings.searchable = configuration.archive != nil
        self.machine = SessionMachine(settings: settings, sessionID: node.makeSessionID(), now: Self.clock())
        self.released = hub.eventLoop.makePromise()
        adopt(self.mode)
        node.metrics.sessionObjects.increment()
    }

    deinit {
        node.metrics.sessionObjects.decrement()
        // A connection that never became active (its registration failed, the loop was shutting down) never
        // reported; NIO traps on a promise left unfulfilled.
        if !releaseReported { released.succeed() }
    }

    static func clock() -> SessionClock {
        SessionClock(wall: WallClock.now(), uptimeNanos: NIODeadline.now().uptimeNanoseconds)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
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
            refuse(
                ChatError(
                    .serverFull, "this node has its maximum of \(configuration.maxClients) clients; try again later"))
            return
        }
        hub.register(self)
        // Behind the balancer, the greeting waits for the PROXY header, which names the real client. A WebSocket
        // had its header before its HTTP request; the connection remembers it.
        if let proxied = try? context.pipeline.syncOperations.handler(type: ClientAddressHandler.self),
            let header = proxied.header
        {
            if let client = header.clientDescription { remoteAddress = client }
            admitAndGreet(ip: header.source?.address)
        } else if !expectsProxyHeader {
            admitAndGreet(ip: context.channel.remoteAddress?.ipAddress)
        }
        context.fireChannelActive()
    }

    /// The per-address limit applies to the real client, so it is checked once that address is known.
    private func admitAndGreet(ip: String?) {
        clientIP = ip
        if let ip {
            // Counted by address group: an IPv6 host picks any address of its /64.
            let group = AddressGroup.of(ip)
            guard node.admit(address: group) else {
                return refuse(ChatError(.tooManyConnections, "too many connections from \(ip)"))
            }
            admittedAddress = group
        }
        send(.greeting(server: "swift-redis-chat node \(node.nodeID)"), id: nil)
    }

    private func refuse(_ error: ChatError) {
        send(.error(error), id: nil)
        apply(machine.close(.disconnected))
    }

    func channelInactive(context: ChannelHandlerContext) {
        leaveRateDebt()
        if let admittedAddress {
            node.release(address: admittedAddress)
            self.admittedAddress = nil
        }
        if counted {
            node.connectionCount.subtract(1, ordering: .relaxed)
            node.metrics.connections.decrement()
            counted = false
        }
        hub.unregister(self)
        let hadSession = started
        apply(machine.connectionClosed())
        // A session ended before its connection closed (a /quit) reports once its release completes.
        if !hadSession, !releasing { reportReleased() }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !machine.isClosing else { return }
        machine.heard(now: Self.clock())
        inbox.append(unwrapInboundIn(data))
        processInbox()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let proxied = event as? ProxyHeaderReceived {
            if let client = proxied.header.clientDescription { remoteAddress = client }
            // PROXY UNKNOWN is the proxy's own connection (a health probe): it speaks for no client address.
            if !machine.isClosing { admitAndGreet(ip: proxied.header.source?.address) }
        }
        if case .some(.inputClosed) = event as? ChannelEvent {
            inputClosed = true
            processInbox()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if inbox.count >= Self.maximumQueuedFrames {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Past the high-water mark the client is not reading: drop it rather than buffer for it without end. Its
    /// room-mates are not slowed, since fan-out never waits on one socket.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, !machine.isClosing {
            node.metrics.slowConsumerDisconnects.increment()
            logger.warning(
                "disconnecting slow consumer",
                metadata: [
                    "session.name": "\(machine.userName?.display ?? "-")", "client.address": "\(remoteAddress)",
                    "outbound.limit": "\(configuration.maxOutboundBytes)",
                ])
            apply(machine.close(.slowConsumer))
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and broken pipes are how clients vanish; nothing to do but clean up, which channelInactive does.
        logger.debug("client connection error", metadata: ["client.address": "\(remoteAddress)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Input

    func processInbox() {
        // Re-entered from a store result that completed inline: the loop below is still running and carries on.
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !machine.isWaiting, !machine.isClosing, !rateWaiting {
            if let pending = requests.popFirst() {
                let wait: UInt64
                switch pending {
                case .request(let request):
                    let actions = machine.receive(
                        request.request, id: request.id, now: Self.clock(), charged: request.charged)
                    if case .retry(let nanoseconds)? = actions.first {
                        wait = nanoseconds
                    } else {
                        wait = 0
                        apply(actions)
                    }
                case .joinedElsewhere(let room):
                    wait = 0
                    apply(machine.joinedElsewhere(room))
                case .answered(let replies):
                    wait = machine.chargeAnswered(now: Self.clock())
                    if wait == 0 {
                        for reply in replies { emit(reply) }
                        if !replies.isEmpty { flushSoon() }
                    }
                }
                if wait > 0 {
                    // Over the rate: this goes first once a token is there; reading waits meanwhile.
                    requests.prepend(pending)
                    rateWaiting = true
                    hub.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(wait))) {
                        self.rateWaiting = false
                        self.processInbox()
                    }
                    break
                }
            } else if let frame = inbox.popFirst() {
                handle(frame)
            } else {
                break
            }
        }
        if machine.isClosing { return }
        if inputClosed, !machine.isWaiting, inbox.isEmpty, requests.isEmpty {
            apply(machine.close(.disconnected))
        } else if readPending, inbox.count < Self.maximumQueuedFrames / 2 {
            readPending = false
            context?.read()
        }
    }

    private func handle(_ frame: InboundLine) {
        guard case .line(let bytes) = frame else { return apply(machine.frameTooLong()) }
        if !modeChosen {
            guard let chosen = LineModes.chosen(byFirstLine: bytes) else { return }
            mode = chosen
            modeChosen = true
            adopt(chosen)
        }
        let stage: SessionStage =
            machine.awaitsPassword ? .awaitingPassword : machine.userName != nil ? .named : .unnamed
        let input = mode.input(bytes, stage: stage, allocator: allocator)
        guard !input.requests.isEmpty else {
            // Answered (or dropped) by the mode itself: IRC's PING, CAP, MODE queries, VERSION, a CTCP query...
            requests.append(.answered(input.replies))
            return
        }
        for reply in input.replies { emit(reply) }
        if !input.replies.isEmpty { flushSoon() }
        requests.append(contentsOf: input.requests.map { .request($0) })
    }

    /// What the protocol decides about the session: pings, waiting over the rate, holding names on a drop.
    private func adopt(_ mode: any SessionMode) {
        let traits = mode.traits
        machine.answersPings = traits.answersPings
        machine.waitsWhenLimited = traits.waitsWhenLimited
        machine.holdsNamesOnDrop = machine.holdsNamesOnDrop && traits.resumes
        coalescesWrites = traits.coalescesWrites
        followUps = mode as? any FollowsUpEvents
    }

    /// The hub's timer, every second: registration timeout and pings.
    func tick() {
        apply(machine.tick(now: Self.clock()))
    }

    // MARK: Actions

    /// Carries out actions in order. A store result can arrive while actions are being carried out (a command that
    /// fails at once while Redis is down completes inline); its actions then wait their turn behind the current
    /// ones, so replies keep the order the machine gave them.
    func apply(_ actions: [SessionAction]) {
        pendingActions.append(contentsOf: actions)
        guard !applying else { return }
        applying = true
        defer { applying = false }
        while let action = pendingActions.popFirst() {
            switch action {
            case .send(let event, let id): send(event, id: id)
            case .perform(let operation, let id): perform(operation, id: id)
            case .stopListening(let room):
                joinReplay.forget(room)
                stopListening(ChatKeys.roomChannel(room))
            case .replayHeld(let room, let after):
                let held = joinReplay.replay(room, after: after)
                for event in held {
                    // Held before the blocks were looked at: looked at now.
                    if !preferences.blocked.isEmpty {
                        if isBlocked(event.envelope.event) { continue }
                        if let stripped = withoutBlockedText(event.envelope.event) {
                            send(stripped, id: nil)
                            continue
                        }
                    }
                    _ = write(event, allocator: allocator)
                }
                flush()
                // A kick that came while the join was under way: the room is the session's now, and it is out of it.
                for event in held { apply(kickActions(event)) }
            case .started(let user, let time): start(user, at: time)
            case .close(let reason) where reason == .quit && releasing: closeAfterRelease(reason)
            case .close(let reason): closeConnection(reason)
            case .retry: break  // handled where requests are taken (processInbox)
            case .end(let ended): end(ended)
            }
        }
    }

    func send(_ event: ChatEvent, id: RequestID?) {
        // A change replayed with a page (a resume's) is a relayed event the relay did not filter: filtered here.
        if case .messageChanged = event, !preferences.blocked.isEmpty, isBlocked(event) { return }
        let event = preferences.blocked.isEmpty ? event : withoutBlocked(event)
        if case .error(let error) = event {
            if error.code == .rateLimited { node.metrics.rateLimited.increment() }
            if error.code == .nameTaken { node.metrics.claimFailures.increment() }
        }
        // Before anything else queued: IRC's NAMES belongs right after its JOIN, before the next channel's.
        if let followUps {
            for request in followUps.followUp(after: event, requestID: id).reversed() {
                requests.prepend(.request(request))
            }
        }
        guard context?.channel.isActive == true,
            let buffer = mode.render(
                event, requestID: id, viewer: machine.view.userName?.display, now: WallClock.now(),
                allocator: allocator)
        else { return }
        emit(buffer)
        flushSoon()
    }

    /// Queues bytes for the client. On a byte stream, everything until the next flush becomes one buffer, written
    /// once: a room's fan-out is then one NIO write and one iovec per client per flush, however many messages it
    /// carries, instead of one per message (a copy of a few dozen bytes is far cheaper than a write). The first
    /// buffer goes as it is, shared with the other members; only a second one copies.
    private func emit(_ buffer: ByteBuffer) {
        guard coalescesWrites else { return context?.write(wrapOutboundOut(buffer), promise: nil) ?? () }
        guard var pending = unwritten else {
            unwritten = buffer
            return
        }
        unwritten = nil
        // Past a few KiB (a burst, a catch-up) the copy stops paying for itself and would be memory of this
        // client's own: what is gathered goes to the channel, where its bytes count towards the slow-consumer
        // mark, and gathering starts again.
        if pending.readableBytes + buffer.readableBytes > Self.gatheringLimit {
            context?.write(wrapOutboundOut(pending), promise: nil)
            unwritten = buffer
            return
        }
        pending.writeImmutableBuffer(buffer)
        unwritten = pending
    }

    static let gatheringLimit = 16 * 1024

    /// Hands what `emit` gathered to the channel.
    func writeGathered() {
        guard let pending = unwritten else { return }
        unwritten = nil
        context?.write(wrapOutboundOut(pending), promise: nil)
    }

    /// Replies produced in one event-loop tick (a packet of many lines, say) share one flush and one syscall.
    private func flushSoon() {
        guard !needsFlush else { return }
        needsFlush = true
        hub.eventLoop.assumeIsolated().execute { self.flush() }
    }

    enum Delivery {
        case notWritten
        case written
        /// Written, and the first write since the last flush: the hub flushes the session after its batch.
        case flushDue
    }

    /// Called by the hub for each relayed event.
    func deliver(_ event: RenderedEvent, allocator: ByteBufferAllocator) -> Delivery {
        switch event.envelope.event {
        case .resumedElsewhere(_, let connection, let why):
            apply(machine.resumedElsewhere(origin: event.envelope.origin, connection: connection, why: why))
            return .notWritten
        case .joinedElsewhere(let room):
            // Joined after the hub's walk (a join listens to a channel), in turn with the client's requests.
            guard event.envelope.origin != machine.sessionID else { return .notWritten }
            hub.eventLoop.assumeIsolated().execute {
                self.requests.append(.joinedElsewhere(room))
                self.processInbox()
            }
            return .notWritten
        case .leftElsewhere(let room):
            guard event.envelope.origin != machine.sessionID else { return .notWritten }
            hub.eventLoop.assumeIsolated().execute { self.apply(self.machine.leftElsewhere(room, message: nil)) }
            return .notWritten
        case .readMarker(let marker) where event.envelope.origin != machine.sessionID:
            machine.readElsewhere(marker)
        case .removed(let name, let by, let reason, _):
            // Closed after the hub's walk, as a kick is.
            hub.eventLoop.assumeIsolated().execute {
                self.apply(self.machine.removed(name: name, by: by, reason: reason))
            }
            return .notWritten
        case .networkChanged:
            return .notWritten  // the node reads the bans again and checks its sessions (`NetworkRules`)
        case .announcement(_, _, _, let operatorsOnly):
            guard machine.view.userName != nil, !operatorsOnly || machine.view.isServerOperator else {
                return .notWritten
            }
        default:
            break
        }
        if !preferences.blocked.isEmpty {
            // Someone blocked who changes their name stays blocked under the new one, for this session (the list
            // kept in Redis names the old one, as a reconnect under another name would escape it).
            if case .renamed(_, let from, let to, _) = event.envelope.event, isBlocked(sender: from),
                let renamed = try? UserName(validating: to)
            {
                preferences.blocked[renamed.key] = to
            }
            if isBlocked(event.envelope.event) { return .notWritten }
        }
        // Routed first: one's own events are skipped and a joining room's held, whatever is stripped from them.
        guard joinReplay.admits(event, route: machine.relay.route(event.envelope)) else { return .notWritten }
        if !preferences.blocked.isEmpty, let stripped = withoutBlockedText(event.envelope.event) {
            send(stripped, id: nil)
            return .notWritten
        }
        switch event.envelope.event {
        case .kicked, .roomClosed:
            // Out of the room once the kick is written: not now, while the hub walks the room's listeners.
            hub.eventLoop.assumeIsolated().execute { self.apply(self.kickActions(event)) }
        case .left(let room, let name, .left, _, let message) where isOwnName(name):
            // Another connection of this person left the room (this one's own leave was skipped as its own): out
            // of it here too, told as one's own leave, after the hub's walk.
            hub.eventLoop.assumeIsolated().execute { self.apply(self.machine.leftElsewhere(room, message: message)) }
            return .notWritten
        default:
            break
        }
        let flushWasDue = needsFlush
        guard write(event, allocator: allocator) else { return .notWritten }
        return flushWasDue ? .written : .flushDue
    }

    /// What a relayed kick means for this session: out of the room when it names this session's person; and a
    /// room's closing, out of it whoever they are.
    private func kickActions(_ event: RenderedEvent) -> [SessionAction] {
        switch event.envelope.event {
        case .kicked(let room, let name, _, _, _): return machine.kicked(from: room, name: name)
        case .roomClosed(let room, _, _, _): return machine.roomClosed(room)
        default: return []
        }
    }

    /// History with the texts of people this person blocks replaced (as Discord shows "blocked message"): the
    /// messages stay, so every page keeps its first and last ids, which clients read on from.
    private func withoutBlocked(_ event: ChatEvent) -> ChatEvent {
        func hidden(_ messages: [ChatMessage]) -> [ChatMessage] {
            messages.map { message in
                var shown = message
                // A reply quoting a blocked person shows whom it answers, not what they said.
                if let quoted = message.annotationsIfAny?.replyTo, let from = quoted.from, isBlocked(sender: from) {
                    shown.annotations.replyTo?.snippet = Self.blockedText
                }
                guard isBlocked(sender: message.from) else { return shown }
                shown.text = Self.blockedText
                shown.isAction = false
                shown.annotations = MessageAnnotations()
                return shown
            }
        }
        switch event {
        case .youJoined(let room, let history, let more):
            return .youJoined(room: room, history: hidden(history), more: more)
        case .history(let room, let messages, let more):
            return .history(room: room, messages: hidden(messages), more: more)
        case .searchResults(var results):
            // What a blocked person sent shows as history shows it (their direct messages since the block never
            // reached the recipient, nor the archive; those from before it are hidden alike).
            results.found = results.found.map { hit in
                switch hit {
                case .message(let message): return .message(hidden([message])[0])
                case .direct(var direct, let sent):
                    guard isBlocked(sender: direct.from) else { return hit }
                    direct.text = Self.blockedText
                    direct.isAction = false
                    return .direct(direct, sent: sent)
                }
            }
            return .searchResults(results)
        default:
            return event
        }
    }

    static let blockedText = "(a message from someone you block)"

    /// Whether the event is something a person this person blocks said or did to them: a message (in a room or
    /// direct), typing, an invitation.
    func isBlocked(_ event: ChatEvent) -> Bool {
        switch event {
        case .message(let message): return isBlocked(sender: message.from)
        case .direct(let direct): return isBlocked(sender: direct.from)
        case .typing(_, let name, _): return isBlocked(sender: name)
        case .tagMessage(let message): return isBlocked(sender: message.from)
        // Their reactions and edits; a delete still takes the message away, whoever did it.
        case .messageChanged(let change): return change.kind != .deleted && isBlocked(sender: change.by)
        case .invited(_, let by, _): return isBlocked(sender: by)
        default: return false
        }
    }

    /// A blocked person's leave or away notice without what they said in it; nil when there is nothing to remove.
    func withoutBlockedText(_ event: ChatEvent) -> ChatEvent? {
        switch event {
        case .left(let room, let name, let reason, let time, .some) where isBlocked(sender: name):
            return .left(room: room, name: name, reason: reason, time: time, message: nil)
        case .presence(let room, let name, .away(let text), let time) where !text.isEmpty && isBlocked(sender: name):
            return .presence(room: room, name: name, presence: .away(""), time: time)
        // Someone else's reply to, or reaction on, what a blocked person said: whose it was, not their words.
        case .message(var message):
            guard let quoted = message.annotationsIfAny?.replyTo?.from, isBlocked(sender: quoted) else { return nil }
            message.annotations.replyTo?.snippet = Self.blockedText
            return .message(message)
        case .messageChanged(var change):
            guard let author = change.targetFrom, change.targetSnippet != nil, isBlocked(sender: author) else {
                return nil
            }
            change.targetSnippet = nil
            return .messageChanged(change)
        default:
            return nil
        }
    }

    /// Whether a name as shown is, or looks like, one this person blocks (the loop's cache of names' keys spares the
    /// Unicode analysis for names seen before).
    func isBlocked(sender: String) -> Bool {
        hub.keys(of: sender).contains { preferences.blocked[$0] != nil }
    }

    /// Whether a name as shown is this session's person's (as another of their connections shows it).
    func isOwnName(_ name: String) -> Bool {
        guard let user = machine.view.userName else { return false }
        return name == user.display || hub.keys(of: name).first == user.key
    }

    /// Network bans just added: when one matches this session's person or address, they are disconnected. The
    /// name's keys and the address's bits are worked out at the first ban, then kept (`banIdentity`).
    func checkNetworkBans(_ bans: [NetworkRules.ParsedBan]) {
        guard let user = machine.view.userName else { return }
        let identity =
            banIdentity ?? ([user.key] + user.lookAlikeKeys.sorted(), BanMask.addressBits(ofClient: clientIP))
        banIdentity = identity
        let now = WallClock.now()
        guard
            let (ban, _) = bans.first(where: { entry in
                (entry.ban.until.map { $0 > now } ?? true)
                    && entry.mask.matches(
                        keys: identity.keys, addressBits: identity.addressBits, host: IRCRenderer.host(of: user.display)
                    )
            })
        else { return }
        let why = "banned from the network" + (ban.reason.map { ": \($0)" } ?? "")
        apply(machine.removed(name: user.display, by: ban.by, reason: why))
    }

    private func write(_ event: RenderedEvent, allocator: ByteBufferAllocator) -> Bool {
        guard let buffer = mode.render(relayed: event, viewer: machine.relay.displayName, allocator: allocator)
        else { return false }
        emit(buffer)
        needsFlush = true
        return true
    }

    func flush() {
        guard needsFlush else { return }
        needsFlush = false
        writeGathered()
        context?.flush()
    }

    private static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
