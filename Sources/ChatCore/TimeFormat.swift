/// UTC time and duration formatting without Foundation's formatters, which are slow and locale-dependent.
public enum TimeFormat {
    /// `08:21:52`
    public static func clock(_ millis: Millis) -> String {
        let seconds = floorDiv(millis, 1000)
        let ofDay = seconds - floorDiv(seconds, 86_400) * 86_400
        return "\(pad(ofDay / 3600)):\(pad(ofDay % 3600 / 60)):\(pad(ofDay % 60))"
    }

    /// `2026-11-21 08:21:52 UTC`
    public static func dateTime(_ millis: Millis) -> String {
        let seconds = floorDiv(millis, 1000)
        let (year, month, day) = civilDate(daysSinceEpoch: floorDiv(seconds, 86_400))
        return "\(year)-\(pad(month))-\(pad(day)) \(clock(millis)) UTC"
    }

    /// `2026-11-21T08:21:52.123Z`: ISO 8601 with milliseconds, as IRCv3's server-time tag wants it.
    public static func iso8601(_ millis: Millis) -> String {
        let seconds = floorDiv(millis, 1000)
        let (year, month, day) = civilDate(daysSinceEpoch: floorDiv(seconds, 86_400))
        let fraction = millis - seconds * 1000
        let milliseconds = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return "\(year)-\(pad(month))-\(pad(day))T\(clock(millis)).\(milliseconds)Z"
    }

    /// The milliseconds of an ISO 8601 UTC time as `iso8601` writes it (`2026-11-21T08:21:52.123Z`; the fraction may
    /// have any number of digits or be absent), or nil: what IRCv3 `timestamp=` references carry.
    public static func millis(iso8601 text: String) -> Millis? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let separators = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        guard separators.allSatisfy({ bytes[$0.0] == UInt8(ascii: Unicode.Scalar($0.1)!) }),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction: Int64 = 0
        if bytes[19] == UInt8(ascii: ".") {
            let digits = bytes[20..<(bytes.count - 1)]
            guard !digits.isEmpty, digits.count <= 9, let value = number(20..<(bytes.count - 1)) else { return nil }
            fraction = value
            for _ in 0..<(3 - min(3, digits.count)) { fraction *= 10 }
            for _ in 0..<max(0, digits.count - 3) { fraction /= 10 }
        } else if bytes.count != 20 {
            return nil
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + fraction
    }

    /// Howard Hinnant's days-from-civil: the inverse of `civilDate`.
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// `1h 2m 3s`, `45s`, `3d 4h`: the two largest units, enough for people.
    public static func duration(_ millis: Millis) -> String {
        let total = max(0, millis / 1000)
        let units: [(Int64, String)] = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        var parts: [String] = []
        var rest = total
        for (size, name) in units where rest >= size || (size == 1 && parts.isEmpty) {
            parts.append("\(rest / size)\(name)")
            rest %= size
            if parts.count == 2 { break }
        }
        return parts.joined(separator: " ")
    }

    private static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
