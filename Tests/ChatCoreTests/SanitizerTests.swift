import ChatCore
import Testing

extension SanitizerTests {
    @Test("IRC formatting codes stay only when asked for, each of them")
    func ircFormatting() {
        let text = "\u{2}b\u{3}4x\u{4}\u{f}\u{11}\u{16}\u{1d}\u{1e}\u{1f}!"
        #expect(Sanitizer.clean(text) == "b4x!")
        #expect(Sanitizer.clean(text, keepingIRCFormatting: true) == text)
        #expect(Sanitizer.clean("\u{1b}[31m\u{7}", keepingIRCFormatting: true) == "")
    }
}

@Suite("Sanitizing untrusted text")
struct SanitizerTests {
    @Test(
        "escape sequences and controls are removed whole",
        arguments: [
            ("plain text", "plain text"),
            ("\u{1b}[31mred\u{1b}[0m", "red"),
            ("a\u{1b}[2J\u{1b}[Hb", "ab"),
            ("title\u{1b}]0;pwned\u{07}!", "title!"),
            ("osc-st\u{1b}]8;;http://x\u{1b}\\link", "osc-stlink"),
            ("bell\u{07}", "bell"),
            ("nul\u{0}byte", "nulbyte"),
            ("c1\u{9b}31mcsi", "c1csi"),
            ("del\u{7f}", "del"),
            ("tab\tstop", "tab stop"),
            ("esc at end\u{1b}", "esc at end"),
            ("keep ünïcödé and 😀", "keep ünïcödé and 😀"),
        ])
    func cleans(_ input: String, _ expected: String) {
        #expect(Sanitizer.clean(input) == expected)
    }

    @Test("invalid UTF-8 becomes U+FFFD")
    func invalidUTF8() {
        #expect(Sanitizer.clean([0x61, 0xC3, 0x28, 0x62]) == "a\u{FFFD}(b")
        #expect(Sanitizer.clean([0xFF, 0xFE]) == "\u{FFFD}\u{FFFD}")
    }

    @Test("telnet negotiation is stripped from the bytes")
    func telnet() {
        let iac: UInt8 = 255
        #expect(TelnetFilter.strip([iac, 251, 1] + Array("hi".utf8)) == Array("hi".utf8))  // IAC WILL ECHO
        #expect(
            TelnetFilter.strip(Array("a".utf8) + [iac, 250, 24, 0, 1, iac, 240] + Array("b".utf8)) == Array("ab".utf8))
        #expect(TelnetFilter.strip([iac, 244] + Array("x".utf8)) == Array("x".utf8))  // IAC IP
        #expect(TelnetFilter.strip(Array("untouched".utf8)) == Array("untouched".utf8))
    }

    @Test("JSON requests are cleaned field by field (escapes arrive decoded)")
    func requests() {
        let request = ClientRequest.say(room: "lo\u{1b}[0mbby", text: "x\u{1b}[31my", isAction: false).sanitized()
        #expect(request == .say(room: "lobby", text: "xy", isAction: false))
    }
}

@Suite("Rate limiting")
struct TokenBucketTests {
    @Test("a burst is admitted, then the rate")
    func burstThenRate() {
        let second: UInt64 = 1_000_000_000
        var bucket = TokenBucket(ratePerSecond: 2, burst: 3, nowNanos: 0)
        var burst: [Bool] = []
        for _ in 0..<5 { burst.append(bucket.tryTake(nowNanos: 0)) }
        #expect(burst == [true, true, true, false, false])
        let refilledOne = bucket.tryTake(nowNanos: second / 2)
        let refilledOnlyOne = bucket.tryTake(nowNanos: second / 2)
        #expect(refilledOne)
        #expect(!refilledOnlyOne)
        // Refills never exceed the burst.
        var refilled: [Bool] = []
        for _ in 0..<5 { refilled.append(bucket.tryTake(nowNanos: 100 * second)) }
        #expect(refilled == [true, true, true, false, false])
    }

    @Test("bidirectional controls are removed, so no text shows reversed past its end (Trojan Source)")
    func bidi() {
        #expect(Sanitizer.clean("hello bob \u{202E}reversed?") == "hello bob reversed?")
        #expect(Sanitizer.clean("\u{2066}a\u{2069}\u{200F}b\u{061C}") == "ab")
        #expect(Sanitizer.clean("שלום alice") == "שלום alice", "right-to-left letters themselves stay")
    }
}
