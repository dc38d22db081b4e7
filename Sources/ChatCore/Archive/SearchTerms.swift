/// How the archive's search sees text, for every script alike: what a message is indexed under, and what a search
/// asks for, written as PostgreSQL `tsvector` and `tsquery` literals so that PostgreSQL's own parser and
/// dictionaries (which split words by the server's locale and stem English) never touch it.
///
/// - Text is NFKC case folded (`UnicodeSecurity.fold`): `Straße`, `STRASSE` and `ｓｔｒａｓｓｅ` are one word, as are
///   Cyrillic `ПРИВЕТ` and `привет`.
/// - A word is a run of letters, digits and the marks on them; anything else separates words. `don't` is `don` and
///   `t`, which a phrase search finds again as the phrase it was.
/// - Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) have no words to split, so
///   each run of them is indexed as its overlapping pairs of characters (bigrams, as Lucene's CJK analyzer does):
///   `東京タワー` is `東京 京タ タワ ワー`, and a search for `京タワ` is the phrase `京タ タワ`, found wherever those
///   characters stand together. A lone character is indexed as itself, and searched as a prefix of the pairs.
///
/// Each word (or pair) takes one position, so phrases (`"like this"`, adjacent positions) work across scripts.
public enum SearchTerms {
    /// A word longer than this is cut: PostgreSQL refuses lexemes over 2 KB, and nobody searches for such a word.
    public static let maximumTermBytes = 120
    /// tsvector positions stop at 16,383; a message is far shorter, but the bound holds whatever it is given.
    public static let maximumPositions = 16_383
    /// A search names at most this many words or pairs: each one is an index lookup.
    public static let maximumQueryTerms = 24
    /// And is at most this long, before it is split.
    public static let maximumQueryBytes = 400

    /// The terms of `text` in order (a term's position is its index plus one). Only word characters' code points
    /// are ever in a term: a character (a grapheme) may join a letter with anything after it (U+0D4E, a prepended
    /// letter, joins a quote that follows), so each is filtered code point by code point, never taken whole.
    public static func terms(of text: String) -> [String] {
        var terms: [String] = []
        var word = ""
        var run: [Character] = []
        func endWord() {
            if !word.isEmpty { terms.append(cut(word)) }
            word = ""
        }
        func endRun() {
            if run.count == 1 {
                terms.append(String(run[0]))
            } else if run.count > 1 {
                for index in 0..<(run.count - 1) { terms.append(String(run[index]) + String(run[index + 1])) }
            }
            run = []
        }
        for character in UnicodeSecurity.fold(text) {
            var kept = String.UnicodeScalarView()
            kept.append(contentsOf: character.unicodeScalars.filter(isWordCharacter))
            guard let first = kept.first else {
                endWord()
                endRun()
                continue
            }
            if isUnspacedScript(first) {
                endWord()
                run.append(Character(String(kept)))
            } else {
                endRun()
                word.unicodeScalars.append(contentsOf: kept)
            }
            if terms.count >= maximumPositions { break }
        }
        endWord()
        endRun()
        return Array(terms.prefix(maximumPositions))
    }

    /// `text` as a tsvector literal: every term with its positions (`'hello':1 'world':2,4`).
    public static func vector(of text: String) -> String {
        var positions: [String: [Int]] = [:]
        var order: [String] = []
        for (index, term) in terms(of: text).enumerated() {
            if positions[term] == nil { order.append(term) }
            positions[term, default: []].append(index + 1)
        }
        return order.map { term in
            quoted(term) + ":" + positions[term, default: []].map(String.init).joined(separator: ",")
        }.joined(separator: " ")
    }

    /// What a person typed, as a tsquery literal: every word must be there (AND); `"quoted words"` must stand
    /// together, in that order; a word ending in `*` matches every word it begins. Nil when it names nothing to
    /// search for (only punctuation, say).
    public static func query(_ typed: String) -> String? {
        var parts: [String] = []
        var count = 0
        let text = Substring(
            typed.utf8.count > maximumQueryBytes ? Sanitizer.prefix(typed, bytes: maximumQueryBytes) : typed)
        // Quoted stretches are phrases; what lies between them, one phrase per word (a word of an unspaced script
        // is a phrase of its pairs).
        for (index, stretch) in text.split(separator: "\"", omittingEmptySubsequences: false).enumerated() {
            let chunks = index % 2 == 1 ? [stretch] : stretch.split(whereSeparator: \.isWhitespace)
            for chunk in chunks {
                let prefix = chunk.hasSuffix("*")
                var terms = self.terms(of: String(chunk))
                guard !terms.isEmpty, count < maximumQueryTerms else { continue }
                terms = Array(terms.prefix(maximumQueryTerms - count))
                count += terms.count
                // A lone character of an unspaced script is searched as the start of its pairs (and itself).
                let lone =
                    terms.count == 1 && terms[0].count == 1
                    && terms[0].unicodeScalars.first.map(isUnspacedScript) == true
                var written = terms.map(quoted)
                // A prefix of one letter matches most of the index: at least two.
                if (prefix && terms[terms.count - 1].count >= 2) || lone { written[written.count - 1] += ":*" }
                parts.append(written.count == 1 ? written[0] : "(" + written.joined(separator: " <-> ") + ")")
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: " & ")
    }

    static func cut(_ word: String) -> String {
        word.utf8.count <= maximumTermBytes ? word : Sanitizer.prefix(word, bytes: maximumTermBytes)
    }

    /// A lexeme in quotes, as both literals write one: a quote doubled, a backslash escaped (words hold neither,
    /// but the literal is right whatever it is given).
    public static func quoted(_ term: String) -> String {
        // Code point by code point, as PostgreSQL reads the literal: a quote joined to a letter in one character is
        // still a quote to it.
        var written = String.UnicodeScalarView()
        written.append("'")
        for scalar in term.unicodeScalars {
            if scalar == "'" || scalar == "\\" { written.append(scalar) }
            written.append(scalar)
        }
        written.append("'")
        return String(written)
    }

    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// Han, Hiragana, Katakana (and their marks of iteration and length), Thai, Lao, Khmer, Myanmar.
    static func isUnspacedScript(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x2E80...0x2FDF, 0x3005...0x3007, 0x3021...0x3029, 0x3031...0x3035, 0x3038...0x303C,
            0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xFF66...0xFF9F,
            0x20000...0x3134F:
            return true
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF, 0xAA60...0xAA7F:
            return true
        default:
            return false
        }
    }
}
