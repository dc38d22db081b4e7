/// A node's /metrics, read back: Prometheus's text exposition format (version 0.0.4), the subset the nodes write.
/// Lines are `name value` or `name{label="value",...} value`; comments and anything malformed are skipped, since a
/// status page must show what it can of a node rather than nothing.
struct PrometheusText {
    struct Sample: Equatable {
        var name: Substring
        var labels: [Substring: Substring]
        var value: Double
    }

    private(set) var samples: [Sample] = []

    /// At most this many lines are read: a node's output is a few hundred.
    static let maximumLines = 20_000

    init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(Self.maximumLines) {
            if line.first == "#" { continue }
            if let sample = Self.parse(line) { samples.append(sample) }
        }
    }

    /// The sum over every series of `name` (all label values), or nil when there is none.
    func total(_ name: String) -> Double? {
        var sum: Double?
        for sample in samples where sample.name == name { sum = (sum ?? 0) + sample.value }
        return sum
    }

    /// Label `label` of the first series of `name` (an info metric's, such as `chat_build_info{version="..."}`).
    func label(_ label: Substring, of name: String) -> Substring? {
        samples.first { $0.name == name }?.labels[label]
    }

    /// Bounds kept per histogram: the nodes' have 15; a node answering with thousands is not read further.
    static let maximumBuckets = 64

    /// The cumulative buckets of histogram `name`, by upper bound, ascending (+Inf last); series with other labels
    /// (one per event loop) add up. Bounds must be finite numbers or `+Inf` (NaN keys would make every insert
    /// probe every earlier one).
    func buckets(_ name: String) -> [(bound: Double, count: Double)] {
        let bucketName = name + "_bucket"
        var buckets: [Double: Double] = [:]
        for sample in samples where sample.name == bucketName && sample.value.isFinite {
            guard let le = sample.labels["le"] else { continue }
            let bound = le == "+Inf" ? Double.infinity : Double(le)
            guard let bound, bound == .infinity || bound.isFinite else { continue }
            if buckets[bound] == nil, buckets.count >= Self.maximumBuckets { return [] }
            buckets[bound, default: 0] += sample.value
        }
        return buckets.sorted { $0.key < $1.key }.map { (bound: $0.key, count: $0.value) }
    }

    private static func parse(_ line: Substring) -> Sample? {
        var labels: [Substring: Substring] = [:]
        let name: Substring
        let rest: Substring
        if let brace = line.firstIndex(of: "{") {
            name = line[..<brace]
            guard let close = line.lastIndex(of: "}"), close > brace else { return nil }
            guard let parsed = parseLabels(line[line.index(after: brace)..<close]) else { return nil }
            labels = parsed
            rest = line[line.index(after: close)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
            return nil
        }
        // The value, then an optional timestamp.
        guard let valueText = rest.split(separator: " ").first, let value = parseValue(valueText) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// `a="x",b="y"`, with `\"`, `\\` and `\n` escapes in values.
    private static func parseLabels(_ text: Substring) -> [Substring: Substring]? {
        var labels: [Substring: Substring] = [:]
        var index = text.startIndex
        while index < text.endIndex {
            guard let equals = text[index...].firstIndex(of: "=") else { return nil }
            let key = text[index..<equals].drop(while: { $0 == "," || $0 == " " })
            var cursor = text.index(after: equals)
            guard cursor < text.endIndex, text[cursor] == "\"" else { return nil }
            cursor = text.index(after: cursor)
            let start = cursor
            var escaped = false
            while cursor < text.endIndex {
                let character = text[cursor]
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    break
                }
                cursor = text.index(after: cursor)
            }
            guard cursor < text.endIndex else { return nil }
            labels[key] = text[start..<cursor]
            index = text.index(after: cursor)
        }
        return labels
    }
}

extension PrometheusText {
    /// The `q` quantile of the observations between two readings of a cumulative histogram (`earlier` may be
    /// empty: since the start), interpolated linearly within its bucket as Prometheus's `histogram_quantile` does;
    /// nil when nothing was observed in between.
    static func quantile(
        _ q: Double, from earlier: [(bound: Double, count: Double)], to later: [(bound: Double, count: Double)]
    ) -> Double? {
        // A restarted node counts from zero again: its readings since the restart are the window.
        let restarted = (later.last?.count ?? 0) < (earlier.last?.count ?? 0)
        let before = restarted ? [:] : Dictionary(earlier.map { ($0.bound, $0.count) }, uniquingKeysWith: +)
        let window = later.map { (bound: $0.bound, count: max(0, $0.count - (before[$0.bound] ?? 0))) }
        guard let total = window.last?.count, total > 0 else { return nil }
        let rank = q * total
        var lowerBound = 0.0
        var lowerCount = 0.0
        for bucket in window {
            if bucket.count >= rank {
                // Past the last finite bound there is nothing to interpolate towards: Prometheus answers with
                // that bound.
                guard bucket.bound.isFinite else { return lowerBound }
                let inBucket = bucket.count - lowerCount
                guard inBucket > 0 else { return bucket.bound }
                return lowerBound + (bucket.bound - lowerBound) * (rank - lowerCount) / inBucket
            }
            lowerBound = bucket.bound
            lowerCount = bucket.count
        }
        return lowerBound
    }
}
