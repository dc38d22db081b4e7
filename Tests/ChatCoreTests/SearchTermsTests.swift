import ChatCore
import Testing

@Suite("Search terms: how the archive indexes and searches text, in every script")
struct SearchTermsTests {
    @Test("words are folded (case, compatibility forms) and split at anything but letters, digits and marks")
    func words() {
        #expect(
            SearchTerms.terms(of: "Hello, WORLD! ｆｕｌｌ-width don't") == ["hello", "world", "full", "width", "don", "t"])
        #expect(SearchTerms.terms(of: "ПРИВЕТ, мир") == ["привет", "мир"])
        #expect(SearchTerms.terms(of: "Straße") == SearchTerms.terms(of: "STRASSE"))
        #expect(SearchTerms.terms(of: "!!! ... ???").isEmpty)
    }

    @Test("scripts without spaces are indexed as overlapping pairs; a lone character as itself")
    func unspaced() {
        #expect(SearchTerms.terms(of: "東京タワー") == ["東京", "京タ", "タワ", "ワー"])
        #expect(SearchTerms.terms(of: "in 東京 now") == ["in", "東京", "now"])
        #expect(SearchTerms.terms(of: "猫 cat") == ["猫", "cat"])
        #expect(SearchTerms.terms(of: "iPhone東京") == ["iphone", "東京"])
    }

    @Test("the tsvector literal lists each term once with all its positions")
    func vector() {
        #expect(SearchTerms.vector(of: "to be or not to be") == "'to':1,5 'be':2,6 'or':3 'not':4")
        #expect(SearchTerms.vector(of: "") == "")
    }

    @Test("queries: words are ANDed, quotes make phrases, * a prefix, a lone unspaced character a prefix")
    func queries() {
        #expect(SearchTerms.query("Hello world") == "'hello' & 'world'")
        #expect(SearchTerms.query("\"hello world\" again") == "('hello' <-> 'world') & 'again'")
        #expect(SearchTerms.query("deploy*") == "'deploy':*")
        #expect(SearchTerms.query("a*") == "'a'", "a one-letter prefix is a word")
        #expect(SearchTerms.query("京タワ") == "('京タ' <-> 'タワ')")
        #expect(SearchTerms.query("東") == "'東':*")
        #expect(SearchTerms.query("don't") == "('don' <-> 't')")
        #expect(SearchTerms.query("  ?! ") == nil)
        #expect(SearchTerms.query("\"unclosed phrase") == "('unclosed' <-> 'phrase')")
    }

    @Test("hostile input stays bounded: long words cut, many words capped, quotes in a term escaped")
    func bounded() {
        let long = String(repeating: "a", count: 5000)
        #expect(SearchTerms.terms(of: long).first?.utf8.count == SearchTerms.maximumTermBytes)
        let many = (0..<100).map { "w\($0)" }.joined(separator: " ")
        let query = SearchTerms.query(many) ?? ""
        #expect(query.components(separatedBy: " & ").count == SearchTerms.maximumQueryTerms)
        #expect(SearchTerms.quoted("it's \\ odd") == "'it''s \\\\ odd'")
        // U+0D4E joins whatever follows it into one character: its quote must neither hide in a term nor go
        // undoubled (an unclosed literal would fail the archive's whole batch).
        for hostile in ["x\u{0D4E}'", "x\u{0D4E}\\", "\u{0D4E}'\u{0D4E}'abc"] {
            #expect(
                SearchTerms.terms(of: hostile).allSatisfy {
                    !$0.unicodeScalars.contains("'") && !$0.unicodeScalars.contains("\\")
                })
            let quotes = SearchTerms.vector(of: hostile).unicodeScalars.filter { $0 == "'" }.count
            #expect(quotes % 2 == 0, "\(SearchTerms.vector(of: hostile).debugDescription)")
        }
    }
}
