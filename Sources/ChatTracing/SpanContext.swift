/// A span's place in its trace: the trace's id and the span's own, as W3C Trace Context carries them between
/// processes (`traceparent: 00-<trace id>-<span id>-<flags>`). Only sampled spans exist here (an unsampled request
/// makes no span at all), so a context this node writes always says sampled, and one read that does not is ignored.
public struct SpanContext: Sendable, Equatable {
    public var traceHigh: UInt64
    public var traceLow: UInt64
    public var spanID: UInt64

    public init(traceHigh: UInt64, traceLow: UInt64, spanID: UInt64) {
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.spanID = spanID
    }

    /// The trace id as OTLP/JSON and `traceparent` write it: 32 lower-case hex digits.
    public var traceID: String { Self.hex(traceHigh) + Self.hex(traceLow) }
    public var spanIDText: String { Self.hex(spanID) }

    /// `00-<trace id>-<span id>-01`: version 0, sampled.
    public var traceparent: String { "00-\(traceID)-\(spanIDText)-01" }

    /// Reads a `traceparent` as the W3C recommendation writes it: lower-case hex, no all-zero id, the sampled flag
    /// set. A later version is read by its first 55 characters, as the recommendation asks (what follows them must
    /// start with `-`); version ff is invalid. Anything else is nil, so a payload from elsewhere cannot make this
    /// node trace it.
    public init?(traceparent text: some StringProtocol) {
        let bytes = Array(text.utf8.prefix(56))
        guard bytes.count >= 55, let version = Self.number(bytes[0..<2]), version != 0xff,
            version == 0 ? bytes.count == 55 : (bytes.count == 55 || bytes[55] == UInt8(ascii: "-")),
            bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            let high = Self.number(bytes[3..<19]), let low = Self.number(bytes[19..<35]),
            let span = Self.number(bytes[36..<52]), let flags = Self.number(bytes[53..<55]),
            high != 0 || low != 0, span != 0, flags & 1 == 1
        else { return nil }
        self.init(traceHigh: high, traceLow: low, spanID: span)
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(digit - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return value
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
