import CHiredis
import NIOCore

/// Parses RESP with hiredis's reader. One instance per connection; it keeps partial replies between reads.
/// A final class owns the `redisReader` and frees it in `deinit`; no pointer escapes it.
final class HiredisReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else {
            fatalError("hiredis could not allocate a reader (out of memory)")
        }
        ArrayLimit.install(on: reader)
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    func feed(_ buffer: ByteBuffer) throws(RedisError) {
        let status = buffer.withUnsafeReadableBytes { bytes in
            bytes.isEmpty
                ? REDIS_OK
                : redisReaderFeed(reader, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        guard status == REDIS_OK else { throw RedisError(.protocolViolation, "hiredis refused input") }
    }

    /// The next complete reply, or nil when more bytes are needed.
    func next() throws(RedisError) -> RedisValue? {
        var raw: UnsafeMutableRawPointer? = nil
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            let message = withUnsafeBytes(of: reader.pointee.errstr) { bytes in
                String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw RedisError(.protocolViolation, message)
        }
        guard let raw else { return nil }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let value = reply.pointee
        func text() -> String {
            guard let str = value.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: str, count: value.len), as: UTF8.self)
        }
        switch value.type {
        case REDIS_REPLY_STRING:
            guard let str = value.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: value.len)))
        case REDIS_REPLY_STATUS: return .simple(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(value.integer)
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { convert(elements[$0]!) })
        default: return .null
        }
    }
}

/// No RESP array may declare more than `maximumElements`: hiredis allocates an array's pointers as soon as it
/// reads the header, so `*1555555555` from a broken or hostile server (or anything between the node and a Redis
/// without TLS) made a node ask for 12 GB at once (found by the `resp` fuzz target; Fuzz/Regressions/resp).
/// hiredis 1.x has such a limit (`maxelements`); 0.14, Debian bookworm's, does not, so its array constructor is
/// wrapped. Past the limit the constructor fails, the reader reports "out of memory", and the connection is made
/// again. Set up once, before any reader exists; read-only after.
enum ArrayLimit {
    static let maximumElements: Int32 = 1 << 20

    typealias CreateArray = @convention(c) (UnsafePointer<redisReadTask>?, Int32) -> UnsafeMutableRawPointer?

    /// hiredis's own functions, and a copy whose array constructor checks the count first.
    private nonisolated(unsafe) static var original: CreateArray?
    private nonisolated(unsafe) static var guarded: UnsafeMutablePointer<redisReplyObjectFunctions>?
    private static let setUp: Void = {
        guard let probe = redisReaderCreate() else { return }
        defer { redisReaderFree(probe) }
        guard let defaults = probe.pointee.fn else { return }
        original = defaults.pointee.createArray
        let functions = UnsafeMutablePointer<redisReplyObjectFunctions>.allocate(capacity: 1)
        functions.initialize(to: defaults.pointee)
        functions.pointee.createArray = { task, elements in
            guard elements >= 0, elements <= ArrayLimit.maximumElements, let create = ArrayLimit.original else {
                return nil
            }
            return create(task, elements)
        }
        guarded = functions
    }()

    static func install(on reader: UnsafeMutablePointer<redisReader>) {
        _ = setUp
        if let guarded { reader.pointee.fn = guarded }
    }
}

/// Frames Redis replies on a NIO channel.
final class RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RedisValue
    private let reader = HiredisReader()

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if buffer.readableBytes > 0 {
            try reader.feed(buffer)
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        }
        while let value = try reader.next() {
            context.fireChannelRead(wrapInboundOut(value))
        }
        return .needMoreData
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// A command as its arguments; hiredis formats them with `redisFormatCommandArgv`, so any bytes are safe.
public struct RedisCommand: Sendable, Equatable {
    public var arguments: [String]

    public init(_ arguments: [String]) { self.arguments = arguments }
    public init(_ arguments: String...) { self.arguments = arguments }

    /// Buffers a connection reuses for every command it encodes, so an encoding allocates nothing but hiredis's
    /// own output.
    struct Scratch {
        var bytes: [UInt8] = []
        var lengths: [Int] = []
        var argv: [UnsafePointer<CChar>?] = []
    }

    /// Appends the RESP encoding of this command.
    func write(into buffer: inout ByteBuffer) {
        var scratch = Scratch()
        write(into: &buffer, scratch: &scratch)
    }

    func write(into buffer: inout ByteBuffer, scratch: inout Scratch) {
        scratch.bytes.removeAll(keepingCapacity: true)
        scratch.lengths.removeAll(keepingCapacity: true)
        for argument in arguments {
            scratch.bytes.append(contentsOf: argument.utf8)
            scratch.lengths.append(argument.utf8.count)
        }
        scratch.bytes.append(0)  // so the buffer is never empty and always has a base address
        let count = Int32(arguments.count)
        scratch.bytes.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!)
            scratch.argv.removeAll(keepingCapacity: true)
            var offset = 0
            for length in scratch.lengths {
                scratch.argv.append(base.advanced(by: offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            var formatted: UnsafeMutablePointer<CChar>? = nil
            let written = scratch.argv.withUnsafeMutableBufferPointer { argv in
                scratch.lengths.withUnsafeBufferPointer { lengths in
                    redisFormatCommandArgv(&formatted, count, argv.baseAddress, lengths.baseAddress)
                }
            }
            guard written > 0, let formatted else { fatalError("hiredis could not format a command (out of memory)") }
            buffer.writeBytes(UnsafeRawBufferPointer(start: formatted, count: Int(written)))
            redisFreeCommand(formatted)
        }
    }
}
