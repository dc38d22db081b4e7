import ChatCore
import Histogram
import NIOCore

/// What one event loop's clients measured. Touched only on that loop (by its clients, then by a task submitted to
/// it at the end), which is what makes the unchecked Sendable sound.
final class LoopStats: @unchecked Sendable {
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var delivered = 0
    var errors: [String: Int] = [:]
}

/// One benchmark client: says hello in JSON mode, moves to its room, then (if it is a sender) sends paced
/// messages that carry their send time, and records the latency of every message it receives from others.
final class BenchClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase { case hello, joining, leavingLobby, ready }

    let name: String
    let room: String
    let stats: LoopStats
    let onReady: () -> Void
    /// Messages this client has sent so far, for pacing.
    var paced = 0
    private var phase = Phase.hello
    private var pending = ByteBuffer()
    private var context: ChannelHandlerContext?
    private let namePattern: [UInt8]

    /// Send a PROXY v1 header first, for nodes started with --proxy-protocol measured without a proxy in front.
    let proxyHeader: Bool

    init(name: String, room: String, stats: LoopStats, proxyHeader: Bool = false, onReady: @escaping () -> Void) {
        self.proxyHeader = proxyHeader
        self.name = name
        self.room = room
        self.stats = stats
        self.onReady = onReady
        self.namePattern = Array("\"from\":\"\(name)\"".utf8)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        if proxyHeader {
            let header = ProxyHeader(
                family: .tcp4, source: "127.0.0.1", sourcePort: context.channel.localAddress?.port ?? 0,
                destination: "127.0.0.1", destinationPort: context.channel.remoteAddress?.port ?? 0)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: header.line)), promise: nil)
        }
        send(#"{"op":"hello","name":"\#(name)"}"#)
        context.fireChannelActive()
    }

    func send(_ line: String) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: line + "\n")), promise: nil)
    }

    /// A message whose text is its send time on the monotonic clock.
    func sendTimed() {
        send(#"{"op":"say","room":"\#(room)","text":"t=\#(NIODeadline.now().uptimeNanoseconds)"}"#)
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
        if bytes.starts(with: Self.messagePrefix) {
            guard phase == .ready, !bytes.contains(subsequence: namePattern),
                let sent = Self.sendTime(in: bytes)
            else { return }
            _ = stats.latency.record(now > sent ? now - sent : 0)
            stats.delivered += 1
            return
        }
        if bytes.starts(with: Self.errorPrefix) {
            let code = String(decoding: bytes, as: UTF8.self).split(separator: "\"code\":\"").last?.split(separator: "\"").first
            stats.errors[String(code ?? "?"), default: 0] += 1
            return
        }
        switch phase {
        case .hello where bytes.starts(with: Self.joinedPrefix):
            phase = .joining
            send(#"{"op":"join","room":"\#(room)"}"#)
        case .joining where bytes.starts(with: Self.joinedPrefix):
            phase = .leavingLobby
            send(#"{"op":"leave","room":"lobby"}"#)
        case .leavingLobby where bytes.starts(with: Self.leftPrefix):
            phase = .ready
            onReady()
        default:
            break
        }
    }

    static let messagePrefix = Array(#"{"type":"message""#.utf8)
    static let errorPrefix = Array(#"{"type":"error""#.utf8)
    static let joinedPrefix = Array(#"{"type":"joined""#.utf8)
    static let leftPrefix = Array(#"{"type":"left""#.utf8)
    static let textMarker = Array(#""text":"t="#.utf8)

    static func sendTime(in bytes: ByteBufferView) -> UInt64? {
        guard let start = bytes.firstRange(of: textMarker)?.upperBound else { return nil }
        var value: UInt64 = 0
        var index = start
        while index < bytes.endIndex, let digit = bytes[index].asciiDigit {
            value = value * 10 + UInt64(digit)
            index += 1
        }
        return index > start ? value : nil
    }
}

extension UInt8 {
    var asciiDigit: UInt8? { (48...57).contains(self) ? self - 48 : nil }
}

extension ByteBufferView {
    func contains(subsequence pattern: [UInt8]) -> Bool { firstRange(of: pattern) != nil }

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
