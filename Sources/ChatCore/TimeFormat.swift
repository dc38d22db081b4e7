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
