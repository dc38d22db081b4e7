/// mIRC-style formatting codes: bold, italics, underline, strikethrough, monospace, reverse, reset, and colours
/// with their numbers (`\u{3}04,12`) or hex values (`\u{4}FF0000`), all of which would show as garbage anywhere
/// but an IRC client.
public enum IRCFormatting {
    public static func strip(_ text: String) -> String {
        // Nearly every text has none: no copy then.
        guard text.utf8.contains(where: { $0 < 0x20 }) else { return text }
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars[...]
        @discardableResult
        func drop(_ count: Int, while predicate: (Unicode.Scalar) -> Bool) -> Int {
            var taken = 0
            while taken < count, let next = scalars.first, predicate(next) {
                scalars.removeFirst()
                taken += 1
            }
            return taken
        }
        let digit: (Unicode.Scalar) -> Bool = { ("0"..."9").contains($0) }
        let hex: (Unicode.Scalar) -> Bool = { $0.properties.isASCIIHexDigit }
        while let scalar = scalars.popFirst() {
            switch scalar.value {
            case 0x03, 0x04:
                let isHex = scalar.value == 0x04
                // A background only follows a foreground: a bare colour code (a reset) leaves ",5" as text.
                let foreground = drop(isHex ? 6 : 2, while: isHex ? hex : digit)
                if foreground > 0, scalars.first == ",", let after = scalars.dropFirst().first,
                    isHex ? hex(after) : digit(after)
                {
                    scalars.removeFirst()
                    drop(isHex ? 6 : 2, while: isHex ? hex : digit)
                }
            case 0x02, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F:
                continue
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }
}
