/// A small, allocation-light JSON object writer for the events the node sends thousands of times a second.
/// Foundation's encoders are general and slow; these objects are flat and known.
public struct JSONWriter {
    public private(set) var text: String
    private var first = true

    /// `capacity`: the bytes the object is expected to take, so that writing it does not grow the string.
    public init(capacity: Int = 160) {
        text = ""
        text.reserveCapacity(capacity)
        text += "{"
    }

    public mutating func field(_ key: String, _ value: String) {
        key_(key)
        Self.appendQuoted(value, to: &text)
    }

    public mutating func field(_ key: String, _ value: Int64) {
        key_(key)
        text += String(value)
    }

    public mutating func field(_ key: String, _ value: Int) { field(key, Int64(value)) }

    public mutating func field(_ key: String, _ value: Bool) {
        key_(key)
        text += value ? "true" : "false"
    }

    /// A number; JSON has no infinity or NaN, so those are written as null.
    public mutating func field(_ key: String, _ value: Double) {
        key_(key)
        text += value.isFinite ? "\(value)" : "null"
    }

    /// The value, or null where it is not known.
    public mutating func field(_ key: String, _ value: Double?) {
        guard let value else { return field(key, rawJSON: "null") }
        field(key, value)
    }

    public mutating func field(_ key: String, _ value: Int?) {
        guard let value else { return field(key, rawJSON: "null") }
        field(key, Int64(value))
    }

    public mutating func field(_ key: String, _ value: String?) {
        guard let value else { return field(key, rawJSON: "null") }
        field(key, value)
    }

    /// A value that is already JSON (a nested object or array, or a request id).
    public mutating func field(_ key: String, rawJSON: String) {
        key_(key)
        text += rawJSON
    }

    public mutating func array(_ key: String, _ elements: [String]) {
        key_(key)
        text += "["
        text += elements.joined(separator: ",")
        text += "]"
    }

    /// The object; `line`: followed by a newline, as JSON lines are sent.
    public consuming func finish(line: Bool = false) -> String {
        text += line ? "}\n" : "}"
        return text
    }

    private mutating func key_(_ key: String) {
        if first { first = false } else { text += "," }
        Self.appendQuoted(key, to: &text)
        text += ":"
    }

    public static func quoted(_ value: String) -> String {
        var out = ""
        appendQuoted(value, to: &out)
        return out
    }

    static func appendQuoted(_ value: String, to out: inout String) {
        out += "\""
        let needsEscaping = value.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        if !needsEscaping {
            out += value
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
