import ChatCore
import Foundation
import Logging
import NIOConcurrencyHelpers

/// `--log-format json`: one JSON object a line on stderr, for a log pipeline (Loki, Elasticsearch, CloudWatch,
/// `jq`). The fields are flat, as Go's slog and most collectors write them: `time` (RFC 3339, UTC, milliseconds),
/// `level`, `logger` (the executable), `message`, `source` (the module), then the metadata's keys as they are
/// (`node`, `listen.chat`, `error`...); a metadata key that is one of those five is written `metadata.<key>`.
/// Nested metadata (lists, dictionaries) stays JSON. Lines are written whole, under a lock, so threads never
/// interleave inside one.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    static let reserved: Set<String> = ["time", "level", "logger", "message", "source"]
    private static let lock = NIOLock()

    /// `write`: where a finished line goes (stderr unless a test catches it).
    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        // A closed or full stderr loses the line rather than the process (FileHandle.write(_:) traps on errors).
        lock.withLock { try? FileHandle.standardError.write(contentsOf: Data(line.utf8)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        write(
            Self.line(
                time: Date(), level: event.level, label: label, message: "\(event.message)", source: event.source,
                metadata: merged))
    }

    /// One line, newline included.
    static func line(
        time: Date, level: Logger.Level, label: String, message: String, source: String, metadata: Logger.Metadata
    ) -> String {
        var json = JSONWriter(capacity: 200)
        json.field("time", Self.timestamp(time))
        json.field("level", level.rawValue)
        json.field("logger", label)
        json.field("message", message)
        json.field("source", source)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            json.field(reserved.contains(key) ? "metadata." + key : key, rawJSON: Self.json(value))
        }
        return json.finish(line: true)
    }

    private static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return JSONWriter.quoted(text)
        case .stringConvertible(let convertible): return JSONWriter.quoted(convertible.description)
        case .array(let values): return "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            var object = JSONWriter()
            for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
                object.field(key, rawJSON: json(value))
            }
            return object.finish()
        }
    }

    /// `2026-12-07T07:12:03.123Z`, without a formatter (they are slow, and not shared across threads safely).
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(milliseconds % 1000)
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }
}

/// `--log-format`: what a person reads in a terminal, or what a log pipeline parses.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json
}
