/// Makes untrusted client text safe to show on somebody else's terminal.
///
/// Invalid UTF-8 becomes U+FFFD. ANSI escape sequences (CSI, OSC, and two-byte ESC forms) are removed whole, so no
/// client can move another's cursor, retitle a window or recolour a screen; every other C0 and C1 control character
/// and DEL is removed too. A tab becomes a space. Bidirectional controls (embeddings, overrides, isolates, marks)
/// are removed, so no text can show reversed past its own end (Trojan Source) in a terminal or a page. Telnet negotiation is removed earlier, from the bytes (`TelnetFilter`).
public enum Sanitizer {
    public static func clean(_ bytes: [UInt8]) -> String {
        clean(String(decoding: bytes, as: UTF8.self))
    }

    /// Printable ASCII has nothing to remove: most lines are that, and every message is cleaned twice (its line,
    /// then its JSON-unescaped text), so they skip the scalar walk.
    @inline(__always)
    static func isPrintableASCII(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }
    }

    /// `keepingIRCFormatting`: mIRC formatting codes (bold, colours...) stay, for text an IRC client wrote: IRC
    /// clients show them, and every other client's renderer removes them (see `IRCFormatting.strip`).
    public static func clean(_ text: String, keepingIRCFormatting: Bool = false) -> String {
        if isPrintableASCII(text) { return text }
        var output = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let scalar = pending {
                pending = nil
                return scalar
            }
            return scalars.next()
        }
        while let scalar = next() {
            switch scalar.value {
            case 0x1B:  // ESC: drop the whole sequence it starts
                guard let introducer = next() else { break }
                switch introducer.value {
                case 0x5B: skipControlSequence(&scalars)  // ESC [ ... final byte
                case 0x5D, 0x50, 0x58, 0x5E, 0x5F: skipStringSequence(&scalars)  // OSC, DCS, SOS, PM, APC
                default: break  // ESC + one character (e.g. ESC c, ESC 7)
                }
            case 0x9B: skipControlSequence(&scalars)  // C1 CSI
            case 0x9D, 0x90, 0x98, 0x9E, 0x9F: skipStringSequence(&scalars)
            case 0x09: output.append(" ")
            case 0x02, 0x03, 0x04, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F:
                // (A `where` on this case would guard only its last value.)
                if keepingIRCFormatting { output.append(scalar) }
            case 0x00...0x1F, 0x7F...0x9F: continue
            case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: continue
            default: output.append(scalar)
            }
        }
        return String(output)
    }

    /// CSI: parameter and intermediate bytes, then one final byte in 0x40...0x7E.
    private static func skipControlSequence(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            if (0x40...0x7E).contains(scalar.value) { return }
            if !(0x20...0x3F).contains(scalar.value) { return }  // malformed: stop at the first foreign byte
        }
    }

    /// OSC and friends run until BEL, ST (ESC \) or C1 ST.
    private static func skipStringSequence(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            switch scalar.value {
            case 0x07, 0x9C: return
            case 0x1B:
                _ = scalars.next()
                return
            default: continue
            }
        }
    }

    /// The longest start of `text` of at most `bytes` UTF-8 bytes, cut between characters.
    public static func prefix(_ text: String, bytes: Int) -> String {
        guard text.utf8.count > bytes else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            guard used + size <= bytes else { break }
            result.append(character)
            used += size
        }
        return result
    }
}

/// Removes telnet negotiation (IAC sequences) from a line's bytes. 0xFF never occurs in valid UTF-8, so text is
/// never touched; a telnet client's option requests are silently ignored, which telnet accepts as "won't".
public enum TelnetFilter {
    static let iac: UInt8 = 255
    static let subnegotiationBegin: UInt8 = 250
    static let subnegotiationEnd: UInt8 = 240

    public static func strip(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(iac) else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == iac, index + 1 < bytes.count else {
                if byte != iac { output.append(byte) }
                index += 1
                continue
            }
            let command = bytes[index + 1]
            switch command {
            case iac:  // escaped 0xFF data byte: not text either
                index += 2
            case subnegotiationBegin:  // IAC SB ... IAC SE
                index += 2
                while index < bytes.count,
                    !(bytes[index] == iac && index + 1 < bytes.count
                        && bytes[index + 1] == subnegotiationEnd)
                {
                    index += 1
                }
                index += 2
            case 251...254:  // WILL, WONT, DO, DONT + option
                index += 3
            default:  // two-byte commands (NOP, AYT, ...)
                index += 2
            }
        }
        return output
    }
}
