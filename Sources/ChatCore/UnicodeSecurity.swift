import CICU

/// Unicode's identifier security (UTS #39 and UAX #31) for names and rooms, through ICU's spoof checker, so that
/// nobody can pose as somebody else with a name that looks the same: `admin` plus an invisible joiner, Cyrillic
/// `аlice` beside Latin `alice`, fullwidth `ａｄｍｉｎ`, a name of Hangul fillers that shows as a blank.
///
/// - `fold`: NFKC case folding, the identity of a text regardless of case and compatibility forms (ｆｕｌｌ is full,
///   ς is σ).
/// - `skeleton`: UTS #39's skeleton of the fold, folded again: two texts with one skeleton look alike whatever
///   their case (`сосоа` in Cyrillic is `cocoa`, `r00t` is `root`). Folding first keeps `Admin` and `admin` one
///   name; it also hides that a capital I looks like a small l, which `lookAlikes` adds back for reserved names.
/// - `problem`: what makes a text unfit as an identifier: invisible (default-ignorable) code points, or a mix of
///   scripts beyond ICU's moderately restrictive level (Latin with Cyrillic, say; Latin with Han is fine).
public enum UnicodeSecurity {
    public static func fold(_ text: String) -> String {
        transform(text, chat_icu_fold) ?? text.lowercased()
    }

    public static func skeleton(_ text: String) -> String {
        let folded = fold(text)
        return fold(transform(folded, chat_icu_skeleton) ?? folded)
    }

    /// Every form `text` may be mistaken for: its skeleton, and the skeleton of its letters as typed (where a
    /// capital I still looks like a small l: `ADMlN`).
    public static func lookAlikes(_ text: String) -> Set<String> {
        [skeleton(text), fold(transform(text, chat_icu_skeleton) ?? text)]
    }

    public enum Problem: Equatable, Sendable {
        /// A code point that shows as nothing (U+034F, variation selectors, the Hangul filler...).
        case invisible
        /// Letters of scripts that are not used together, the usual way to make a look-alike.
        case mixedScripts
    }

    public static func problem(_ text: String) -> Problem? {
        // U+3164 HANGUL FILLER shows as a blank but is a letter to Unicode; its siblings are default-ignorable.
        if text.unicodeScalars.contains(where: {
            $0.properties.isDefaultIgnorableCodePoint || $0 == "\u{3164}" || $0 == "\u{FFA0}"
        }) {
            return .invisible
        }
        let utf16 = Array(text.utf16)
        let verdict = utf16.withUnsafeBufferPointer { chat_icu_check($0.baseAddress, Int32($0.count)) }
        guard verdict > 0 else { return nil }
        if verdict & CHAT_ICU_INVISIBLE != 0 { return .invisible }
        return .mixedScripts
    }

    /// Runs one of the C functions that write UTF-16 into a buffer, growing the buffer once if it was too small.
    private static func transform(
        _ text: String, _ function: (UnsafePointer<UInt16>?, Int32, UnsafeMutablePointer<UInt16>?, Int32) -> Int32
    ) -> String? {
        let source = Array(text.utf16)
        var capacity = max(16, source.count * 2)
        for _ in 0..<2 {
            var destination = [UInt16](repeating: 0, count: capacity)
            let length = source.withUnsafeBufferPointer { input in
                destination.withUnsafeMutableBufferPointer { output in
                    function(input.baseAddress, Int32(input.count), output.baseAddress, Int32(output.count))
                }
            }
            guard length >= 0 else { return nil }
            guard Int(length) <= capacity else {
                capacity = Int(length) + 1
                continue
            }
            return String(decoding: destination.prefix(Int(length)), as: UTF16.self)
        }
        return nil
    }
}
