import ChatCore
import Histogram
import NIOCore

/// What one event loop's clients measured. Touched only on that loop (by its clients, then by a task submitted to
/// it at the end), which is what makes the unchecked Sendable sound.
final class LoopStats: @unchecked Sendable {
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// From starting the TCP connect to the welcome (name claimed), per client.
    var login = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    var delivered = 0
    /// Own messages that came back (the server's acknowledgement that Redis stored and published them).
    var acknowledged = 0
    /// Acknowledgements that arrived before the flood's deadline: what "messages/s into Redis" counts.
    var acknowledgedInTime = 0
    var errors: [String: Int] = [:]
    /// Joins refused for now (IRC's 437: Redis failing over) and asked again a second later, as bots do.
    var joinsRetried = 0
}

/// How the benchmark clients speak: JSON lines (what programs use), text mode (what nc users see), or IRC (what
/// irssi and bots speak, to any IRC server: a node's IRC port, or ngircd as the reference).
public enum ClientMode: String, Sendable, CaseIterable {
    case json
    case text
    case irc
}

/// One benchmark client: says hello, moves to its room, then (if it is a sender) sends messages that carry their
/// send time, and records the latency of every message it receives from others.
final class BenchClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase: Equatable {
        case hello, joining
        /// Joining the shared rooms `idle0`, `idle1`...: this many are joined so far.
        case joiningExtra(Int)
        case leavingLobby, ready
    }

    struct Behavior {
        var mode = ClientMode.json
        /// Send a PROXY v1 header first, for nodes started with --proxy-protocol measured without a proxy.
        var proxyHeader = false
        /// Ready as soon as the name is claimed, staying in the lobby (the connect storm).
        var readyAtWelcome = false
        /// Time this client's own messages too: alone in a room, the echo is the only delivery there is.
        var timeOwnMessages = false
        /// Rooms each client joins besides its own (`idle0`...): for measuring what idle memberships cost.
        var extraRooms = 0
        /// A registered name's password, sent in the hello (JSON mode).
        var password: String?
    }

    let name: String
    let room: String
    let stats: LoopStats
    let behavior: Behavior
    let startedAt: UInt64
    let onReady: () -> Void
    /// Messages this client has sent so far, for pacing.
    var paced = 0
    /// While flooding: keep this many messages unacknowledged until the deadline (uptime nanoseconds).
    private var floodDeadline: UInt64 = 0
    private var phase = Phase.hello
    private var pending = ByteBuffer()
    private var context: ChannelHandlerContext?
    /// How this client's own messages are recognised: `"from":"name"` in JSON, `<name> ` in text.
    private let ownPattern: [UInt8]

    init(
        name: String, room: String, stats: LoopStats, behavior: Behavior, startedAt: UInt64,
        onReady: @escaping () -> Void
    ) {
        self.name = name
        self.room = room
        self.stats = stats
        self.behavior = behavior
        self.startedAt = startedAt
        self.onReady = onReady
        self.ownPattern = Array((behavior.mode == .json ? "\"from\":\"\(name)\"" : "<\(name)> ").utf8)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        if behavior.proxyHeader {
            let header = ProxyHeader(
                family: .tcp4, source: "127.0.0.1", sourcePort: context.channel.localAddress?.port ?? 0,
                destination: "127.0.0.1", destinationPort: context.channel.remoteAddress?.port ?? 0)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: header.line)), promise: nil)
        }
        let password = behavior.password.map { #","password":"\#($0)""# } ?? ""
        switch behavior.mode {
        case .json: send(#"{"op":"hello","name":"\#(name)"\#(password)}"#)
        case .text: send(name)
        case .irc: send("NICK \(name)\r\nUSER \(name) 0 * :bench")
        }
        context.fireChannelActive()
    }

    func send(_ line: String) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: line + "\n")), promise: nil)
    }

    /// A message whose text is its send time on the monotonic clock.
    func sendTimed() {
        let stamp = "t=\(NIODeadline.now().uptimeNanoseconds)"
        switch behavior.mode {
        case .json: send(#"{"op":"say","room":"\#(room)","text":"\#(stamp)"}"#)
        case .text: send(stamp)
        case .irc: send("PRIVMSG #\(room) :\(stamp)")
        }
    }

    /// Sends `window` messages at once and another each time one is acknowledged, until `deadline`.
    func flood(window: Int, until deadline: UInt64) {
        floodDeadline = deadline
        for _ in 0..<window { sendTimed() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        let now = NIODeadline.now().uptimeNanoseconds
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending.readSlice(length: newline - pending.readerIndex + 1)!
            handle(line, now: now)
        }
        pending.discardReadBytes()
    }

    private func handle(_ line: ByteBuffer, now: UInt64) {
        let bytes = line.readableBytesView
        if behavior.mode == .irc { return handleIRC(bytes, now: now) }
        let markers = behavior.mode == .json ? Self.json : Self.text
        if bytes.starts(with: markers.message) {
            guard phase == .ready, let sent = Self.sendTime(in: bytes) else { return }
            if bytes.firstRange(of: ownPattern) != nil {
                stats.acknowledged += 1
                if now < floodDeadline {
                    stats.acknowledgedInTime += 1
                    sendTimed()
                }
                guard behavior.timeOwnMessages else { return }
            }
            _ = stats.latency.record(now > sent ? now - sent : 0)
            stats.delivered += 1
            return
        }
        if behavior.mode == .json, bytes.starts(with: Self.ping) {
            // A receiver that never sends would be dropped as gone after a long enough run.
            send(#"{"op":"pong"}"#)
            return
        }
        if bytes.starts(with: markers.error) {
            stats.errors[Self.errorCode(bytes, mode: behavior.mode), default: 0] += 1
            return
        }
        switch phase {
        case .hello where bytes.starts(with: markers.welcome):
            // The welcome's own join of the lobby comes next; the bench room's join reply follows it.
            welcomed(now: now, join: behavior.mode == .json ? #"{"op":"join","room":"\#(room)"}"# : "/join \(room)")
        case .joining where bytes.starts(with: markers.joined) && bytes.firstRange(of: markers.joinedRoom(room)) != nil:
            phase = .leavingLobby
            send(behavior.mode == .json ? #"{"op":"leave","room":"lobby"}"# : "/leave lobby")
        case .leavingLobby where bytes.starts(with: markers.left) && behavior.extraRooms > 0:
            phase = .joiningExtra(0)
            send(behavior.mode == .json ? #"{"op":"join","room":"idle0"}"# : "/join idle0")
        case .leavingLobby where bytes.starts(with: markers.left):
            phase = .ready
            onReady()
        case .joiningExtra(let joined) where bytes.starts(with: markers.joined) && joined + 1 < behavior.extraRooms:
            phase = .joiningExtra(joined + 1)
            send(behavior.mode == .json ? #"{"op":"join","room":"idle\#(joined + 1)"}"# : "/join idle\(joined + 1)")
        case .joiningExtra where bytes.starts(with: markers.joined):
            phase = .ready
            onReady()
        default:
            break
        }
    }

    /// Named: ready now (the connect storm), or on the way to the bench room with `join`.
    private func welcomed(now: UInt64, join: String) {
        _ = stats.login.record(now > startedAt ? now - startedAt : 0)
        if behavior.readyAtWelcome {
            phase = .ready
            onReady()
        } else {
            phase = .joining
            send(join)
        }
    }

    static let ping = Array(#"{"type":"ping""#.utf8)

    /// IRC: a message is a PRIVMSG to the room (own ones come back only from a server with echo-message, which
    /// neither side of the comparison is asked for); registration is 001, then the client's own JOIN.
    private func handleIRC(_ bytes: ByteBufferView, now: UInt64) {
        if bytes.firstRange(of: Self.privmsg) != nil {
            guard phase == .ready, let sent = Self.sendTime(in: bytes) else { return }
            _ = stats.latency.record(now > sent ? now - sent : 0)
            stats.delivered += 1
            return
        }
        let words = bytes.split(separator: UInt8(ascii: " "), maxSplits: 3)
        guard let first = words.first else { return }
        // `PING :token`, or with the server as its source (`:node PING node`, what the nodes send): the same token
        // back. Unanswered, the server closes the connection after its ping timeout (a minute on the nodes).
        if first.elementsEqual("PING".utf8)
            || (words.count >= 2 && first.first == UInt8(ascii: ":")
                && words[1].elementsEqual("PING".utf8))
        {
            let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let token =
                line.range(of: " :").map { String(line[$0.upperBound...]) }
                ?? String(line.split(separator: " ").last ?? "")
            send("PONG :" + token)
            return
        }
        guard words.count >= 3 else { return }
        let command = String(decoding: words[1], as: UTF8.self)
        if command == "437", phase == .joining, let context {
            // "Cannot join right now": a moment's refusal (a Redis failover), not an answer; a bot asks again.
            stats.joinsRetried += 1
            let join = "JOIN #\(room)"
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.send(join) }
            return
        }
        if let numeric = Int(command), (400..<600).contains(numeric), numeric != 422 {
            stats.errors["irc-\(command)", default: 0] += 1
            return
        }
        switch phase {
        case .hello where command == "001":
            welcomed(now: now, join: "JOIN #\(room)")
        case .joining where command == "JOIN" && first.starts(with: Array(":\(name)!".utf8)):
            phase = .ready
            onReady()
        default:
            break
        }
    }

    static let privmsg = Array(" PRIVMSG #".utf8)

    /// The start of each line that matters, per mode.
    struct Markers: Sendable {
        var message: [UInt8]
        var error: [UInt8]
        var welcome: [UInt8]
        var joined: [UInt8]
        var left: [UInt8]
        /// How the join reply names the room: `"room":"x"` in JSON, `#x;` in text.
        var roomPrefix: String
        var roomSuffix: String
        func joinedRoom(_ room: String) -> [UInt8] { Array((roomPrefix + room + roomSuffix).utf8) }
    }

    static let json = Markers(
        message: Array(#"{"type":"message""#.utf8), error: Array(#"{"type":"error""#.utf8),
        welcome: Array(#"{"type":"welcome""#.utf8), joined: Array(#"{"type":"joined""#.utf8),
        left: Array(#"{"type":"left""#.utf8), roomPrefix: #""room":""#, roomSuffix: "\"")
    static let text = Markers(
        message: Array("[".utf8), error: Array("! ".utf8), welcome: Array("* welcome ".utf8),
        joined: Array("* you joined #".utf8), left: Array("* you left #".utf8),
        roomPrefix: "#", roomSuffix: ";")
    static let timeMarker = Array("t=".utf8)

    static func sendTime(in bytes: ByteBufferView) -> UInt64? {
        guard let start = bytes.firstRange(of: timeMarker)?.upperBound else { return nil }
        var value: UInt64 = 0
        var index = start
        while index < bytes.endIndex, let digit = bytes[index].asciiDigit {
            value = value * 10 + UInt64(digit)
            index += 1
        }
        return index > start ? value : nil
    }

    static func errorCode(_ bytes: ByteBufferView, mode: ClientMode) -> String {
        let line = String(decoding: bytes, as: UTF8.self)
        switch mode {
        case .json:
            return line.components(separatedBy: "\"code\":\"").dropFirst().first?.split(separator: "\"").first.map(
                String.init) ?? "?"
        case .text: return line.dropFirst(2).split(separator: " ").first.map(String.init) ?? "?"
        case .irc: return "irc"
        }
    }
}

extension UInt8 {
    var asciiDigit: UInt8? { (48...57).contains(self) ? self - 48 : nil }
}

extension ByteBufferView {
    func firstRange(of pattern: [UInt8]) -> Range<Int>? {
        guard !pattern.isEmpty, count >= pattern.count else { return nil }
        var index = startIndex
        let last = endIndex - pattern.count
        while index <= last {
            if self[index] == pattern[0] {
                var matched = true
                for offset in 1..<pattern.count where self[index + offset] != pattern[offset] {
                    matched = false
                    break
                }
                if matched { return index..<(index + pattern.count) }
            }
            index += 1
        }
        return nil
    }
}
