import ChatCore
import Foundation
import Testing

/// The relay's hand-written JSON reader against Foundation's, on what nodes write and on what they never would.
@Suite("Flat JSON")
struct FlatJSONTests {
    /// What JSONDecoder, which the relay used before, makes of the same bytes, in FlatJSON's terms (nil where it
    /// refuses them).
    struct Reference: Decodable {
        let value: FlatJSON.Value
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                value = .null
            } else if let flag = try? container.decode(Bool.self) {
                value = .bool(flag)
            } else if let integer = try? container.decode(Int64.self) {
                value = .number(Double(integer), integer: integer)
            } else if let double = try? container.decode(Double.self) {
                value = .number(
                    double, integer: double.rounded() == double && abs(double) < 9.2e18 ? Int64(double) : nil)
            } else if let string = try? container.decode(String.self) {
                value = .string(string)
            } else {
                value = .nested
            }
        }
    }

    static func reference(_ text: String) -> [String: FlatJSON.Value]? {
        (try? JSONDecoder().decode([String: Reference].self, from: Data(text.utf8)))?.mapValues(\.value)
    }

    /// JSON as nodes write it, and JSON they never would but which is still JSON.
    static let valid: [String] = [
        #"{"k":"msg","room":"dev","from":"bob","text":"hi","ts":1795998476360,"sid":"a/1"}"#,
        #"{ "k" : "leave" , "ts" : 5 , "msg" : null }"#,
        #"{"text":"quote \" backslash \\ slash \/ controls \b\f\n\r\t"}"#,
        #"{"text":"\u00e9\u4f60\ud83d\ude00 escaped"}"#,
        #"{"text":"émile 你好 😀 raw"}"#,
        #"{"ts":1.7959984763600e+12,"a":-0.5,"b":0,"c":-12,"d":1E3}"#,
        #"{"flag":true,"other":false,"nested":{"a":[1,2,{"b":"]}"}]},"list":[]}"#,
        #"{"k":"a","k":"b"}"#,
        #"{}"#,
    ]

    /// Not JSON (or JSON only to a lenient reader): refused.
    static let invalid: [String] = [
        #"{"k":"msg""#, #"{"k":}"#, #"{"k":"a",}"#, #"{k:"a"}"#, #"["k"]"#, #"{"k":"a"} trailing"#,
        #"{"n":01}"#, #"{"n":1.}"#, #"{"n":-}"#, #"{"n":.5}"#, #"{"t":tru}"#, "{\"c\":\"raw \u{1} control\"}",
        #"{"e":"\x"}"#, #"{"u":"\u12"}"#, "",
    ]

    @Test("reads JSON as JSONDecoder does, and refuses what is not JSON")
    func matchesFoundation() {
        for text in Self.valid {
            let ours = FlatJSON.parse(Array(text.utf8))
            let theirs = Self.reference(text)
            #expect(ours != nil && theirs != nil, "\(text)")
            guard let ours, let theirs else { continue }
            #expect(ours == theirs, "\(text)")
        }
        for text in Self.invalid { #expect(FlatJSON.parse(Array(text.utf8)) == nil, "\(text)") }
        let lone = FlatJSON.parse(Array(#"{"t":"a\ud800b"}"#.utf8))
        #expect(lone == ["t": .string("a\u{FFFD}b")], "a lone surrogate is U+FFFD")
    }

    @Test("garbage and deep nesting are refused without a crash")
    func garbage() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                [
                    UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: ":"), UInt8(ascii: "\\"),
                    UInt8(ascii: "u"), UInt8(ascii: "1"), UInt8(ascii: "["), 0xFF, 0x00, UInt8(ascii: "e"),
                ].randomElement(using: &generator)!
            }
            _ = FlatJSON.parse(bytes)
        }
        #expect(FlatJSON.parse(Array(("{\"a\":" + String(repeating: "[", count: 10_000)).utf8)) == nil)
    }
}
