/// A RESP2 reply, converted from hiredis's `redisReply` as soon as it is read so no C pointer outlives the decoder.
public enum RedisValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisValue])

    public var string: String? {
        switch self {
        case .simple(let text): return text
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk, .simple: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .null }
}

/// Why a Redis call did not produce a value.
public struct RedisError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Not connected right now; the client is reconnecting in the background.
        case unavailable
        /// The connection closed before the reply came.
        case connectionClosed
        /// Redis answered with an error reply.
        case server
        /// Bytes that are not RESP, or a reply of an unexpected shape.
        case protocolViolation
        /// No reply within the command timeout; the connection is dropped and re-made.
        case timeout
        /// TLS to Redis failed: its certificate is not trusted (or not for this host), or it speaks no TLS.
        case tls
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
