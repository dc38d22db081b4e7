import NIOCore

/// One line from a client, or the news that a line was too long.
enum InboundLine: Equatable {
    case line([UInt8])
    /// The line passed the limit; what came of it so far was dropped and the rest is skipped up to its newline.
    case tooLong
}

/// Splits the byte stream into lines (LF, with an optional CR before it). Memory per connection is bounded by
/// `maximumLineBytes`: past it the line is reported as too long and discarded, and the connection carries on.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundLine
    let maximumLineBytes: Int
    private var discarding = false

    init(maximumLineBytes: Int) { self.maximumLineBytes = maximumLineBytes }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > maximumLineBytes {
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                if !discarding {
                    discarding = true
                    context.fireChannelRead(wrapInboundOut(.tooLong))
                }
            }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        if discarding {
            discarding = false
            buffer.moveReaderIndex(forwardBy: length + 1)
            return .continue
        }
        if length > maximumLineBytes {
            buffer.moveReaderIndex(forwardBy: length + 1)
            context.fireChannelRead(wrapInboundOut(.tooLong))
            return .continue
        }
        var bytes = buffer.readBytes(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        context.fireChannelRead(wrapInboundOut(.line(bytes)))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A last line without a newline still counts when the client half-closes.
        if buffer.readableBytes > 0, !discarding, let bytes = buffer.readBytes(length: buffer.readableBytes) {
            context.fireChannelRead(wrapInboundOut(.line(bytes.last == 13 ? bytes.dropLast() : bytes)))
        }
        return .needMoreData
    }
}
