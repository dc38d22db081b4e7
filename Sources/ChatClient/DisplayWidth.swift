#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's wcwidth: POSIX declares it only under _XOPEN_SOURCE, which Glibc's Swift module is not
/// built with, so it is declared here.
@_silgen_name("wcwidth")
private func systemWCWidth(_ character: wchar_t) -> Int32

/// How many terminal columns text takes: East Asian wide characters and emoji take two, combining marks none.
/// Uses the C library's wcwidth, which needs a UTF-8 locale (`Terminal.prepareLocale()`); the emoji rule for
/// clusters (a variation selector or a joiner makes the cluster one wide glyph) is what terminals do.
public enum DisplayWidth {
    /// wcwidth answers -1 for every non-ASCII character in the C locale: make sure the character type is UTF-8.
    private static let utf8Locale: Bool = {
        if let codeset = nl_langinfo(nl_item(CODESET)), String(cString: codeset) == "UTF-8" { return true }
        return setlocale(LC_CTYPE, "C.UTF-8") != nil
    }()

    public static func of(_ character: Character) -> Int {
        _ = utf8Locale
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if scalars.contains(where: { $0.value == 0xFE0F || $0.value == 0x200D }) { return 2 }
        if first.properties.isEmojiPresentation { return 2 }
        let width = systemWCWidth(wchar_t(bitPattern: first.value))
        return width < 0 ? 1 : Int(width)
    }

    public static func of(_ text: some StringProtocol) -> Int {
        text.reduce(0) { $0 + of($1) }
    }

    /// The longest prefix of `text` that fits in `columns`.
    public static func prefix(of text: some StringProtocol, fitting columns: Int) -> Substring {
        let text = Substring(text)
        var used = 0
        var end = text.startIndex
        for index in text.indices {
            let width = of(text[index])
            if used + width > columns { break }
            used += width
            end = text.index(after: index)
        }
        return text[..<end]
    }

    /// Wraps text into lines of at most `columns` columns: at spaces where it can, inside a word only when the
    /// word alone is wider than a line. Never loses a character.
    public static func wrap(_ text: String, columns: Int) -> [String] {
        let columns = max(1, columns)
        var lines: [String] = []
        var line = ""
        var lineWidth = 0
        for word in words(text) {
            let width = of(word)
            if lineWidth + width <= columns {
                line += word
                lineWidth += width
                continue
            }
            // The word does not fit: close the line (without its trailing spaces), then place the word.
            if !line.isEmpty {
                lines.append(String(line.reversed().drop { $0 == " " }.reversed()))
                line = ""
                lineWidth = 0
            }
            var rest = Substring(word.drop { $0 == " " })
            while DisplayWidth.of(rest) > columns {
                var piece = prefix(of: rest, fitting: columns)
                if piece.isEmpty { piece = rest.prefix(1) }  // a wide character in a one-column pane
                lines.append(String(piece))
                rest = rest[piece.endIndex...]
            }
            line = String(rest)
            lineWidth = of(rest)
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// Words with their trailing spaces: "a  b" gives "a  " and "b".
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inSpaces = false
        for character in text {
            if character == " " {
                inSpaces = true
                current.append(character)
            } else {
                if inSpaces {
                    words.append(current)
                    current = ""
                    inSpaces = false
                }
                current.append(character)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
