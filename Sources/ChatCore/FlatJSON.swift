/// A reader for the flat JSON objects nodes write to each other through Redis (`RelayCodec`): one object whose
/// values are strings, numbers, booleans or null; a nested object or array (a newer node's field) is skipped.
///
/// Written over the bytes because it runs for every event every node reads from Redis: Foundation's JSONDecoder
/// was 13% of a node's CPU in the flood benchmark (docs/benchmarks.md). What it accepts is JSON (RFC 8259) for
/// such objects, and stricter than JSONDecoder where it is lenient (a trailing comma, `01`, raw control
/// characters); anything else, truncated or malformed, is nil, never a crash. Invalid UTF-8 inside a string, and a
/// lone surrogate escape (which JSONDecoder refuses), become U+FFFD, as everywhere else in the chat.
public enum FlatJSON {
    public enum Value: Equatable, Sendable {
        case string(String)
        /// A number, and its exact integer value when it has one that fits in 64 bits.
        case number(Double, integer: Int64?)
        case bool(Bool)
        case null
        /// An object or array, skipped.
        case nested
    }

    /// The object's fields (a repeated key keeps its first value, as JSONDecoder does), or nil.
    public static func parse(_ bytes: some Collection<UInt8>) -> [String: Value]? {
        if let fields = bytes.withContiguousStorageIfAvailable({ buffer in parse(buffer: buffer) }) { return fields }
        return Array(bytes).withUnsafeBufferPointer { parse(buffer: $0) }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> [String: Value]? {
        var reader = Reader(bytes: buffer)
        return reader.object()
    }

    /// Nesting skipped at most this deep: a payload of ten thousand `[` is refused, not recursed into.
    static let maximumDepth = 32

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func object() -> [String: Value]? {
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            // Sized for the relay's and the requests' objects up front: growing it allocated three times a parse.
            var fields: [String: Value] = Dictionary(minimumCapacity: 12)
            skipSpace()
            if !take(UInt8(ascii: "}")) {
                while true {
                    skipSpace()
                    guard take(UInt8(ascii: "\"")), let key = string() else { return nil }
                    skipSpace()
                    guard take(UInt8(ascii: ":")) else { return nil }
                    skipSpace()
                    guard let value = value() else { return nil }
                    if fields[key] == nil { fields[key] = value }
                    skipSpace()
                    if take(UInt8(ascii: ",")) { continue }
                    guard take(UInt8(ascii: "}")) else { return nil }
                    break
                }
            }
            skipSpace()
            return index == bytes.count ? fields : nil
        }

        mutating func value() -> Value? {
            guard let byte = current else { return nil }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            case UInt8(ascii: "{"), UInt8(ascii: "["): return skipNested() ? .nested : nil
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return nil
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// After the opening quote; leaves the index after the closing one.
        mutating func string() -> String? {
            let start = index
            // Most strings have no escapes: one pass to the closing quote, one decode.
            while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                guard byte >= 0x20 else { return nil }  // control characters must be escaped
                index += 1
            }
            guard let stop = current else { return nil }
            if stop == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            var utf8 = Array(bytes[start..<index])
            var scalars = String.UnicodeScalarView()
            func flushBytes() {
                if !utf8.isEmpty { scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars) }
                utf8.removeAll(keepingCapacity: true)
            }
            while let byte = current {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flushBytes()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    guard let escaped = current else { return nil }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let unit = hex4() else { return nil }
                        flushBytes()
                        scalars.append(scalar(startingWith: unit))
                    default: return nil
                    }
                case 0..<0x20:
                    return nil
                default:
                    utf8.append(byte)
                }
            }
            return nil
        }

        /// A `\u` escape's scalar: a surrogate pair when one follows, U+FFFD for a lone surrogate.
        mutating func scalar(startingWith unit: UInt16) -> Unicode.Scalar {
            if (0xD800..<0xDC00).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                bytes[index + 1] == UInt8(ascii: "u")
            {
                let saved = index
                index += 2
                if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                    let value = 0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(low - 0xDC00)
                    return Unicode.Scalar(value) ?? "\u{FFFD}"
                }
                index = saved
            }
            return Unicode.Scalar(UInt32(unit)) ?? "\u{FFFD}"
        }

        mutating func hex4() -> UInt16? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() -> Value? {
            let start = index
            _ = take(UInt8(ascii: "-"))
            func digits() -> Int {
                var count = 0
                while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    index += 1
                    count += 1
                }
                return count
            }
            let integerStart = index
            let integerDigits = digits()
            guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0")) else {
                return nil
            }
            var isInteger = true
            if take(UInt8(ascii: ".")) {
                isInteger = false
                guard digits() > 0 else { return nil }
            }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                isInteger = false
                _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
                guard digits() > 0 else { return nil }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let double = Double(text) else { return nil }
            if isInteger { return .number(double, integer: Int64(text)) }
            // 1.7e12 is an integer too, when it is exactly one.
            let exact = double.rounded() == double && abs(double) < 9.2e18 ? Int64(double) : nil
            return .number(double, integer: exact)
        }

        /// An object or array, skipped to its end (strings inside it read as strings, so brackets in them count
        /// for nothing).
        mutating func skipNested() -> Bool {
            var depth = 0
            while let byte = current {
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    guard depth <= FlatJSON.maximumDepth else { return false }
                    index += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    index += 1
                    if depth == 0 { return true }
                case UInt8(ascii: "\""):
                    index += 1
                    guard string() != nil else { return false }
                default:
                    index += 1
                }
            }
            return false
        }
    }
}
