import NIOCore
import NIOTestUtils
import Testing

@testable import ChatNode

@Suite("Line framing")
struct LineFrameDecoderTests {
    @Test("lines split on LF with an optional CR, however the bytes are chunked")
    func framing() throws {
        let input = ByteBuffer(string: "one\r\ntwo\n\nthree\n")
        let expected: [(ByteBuffer, [InboundLine])] = [
            (input, [.line(Array("one".utf8)), .line(Array("two".utf8)), .line([]), .line(Array("three".utf8))])
        ]
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: expected) {
            LineFrameDecoder(maximumLineBytes: 16)
        }
    }

    @Test("a line past the limit is reported once and skipped to its newline")
    func tooLong() throws {
        let input = ByteBuffer(string: String(repeating: "x", count: 40) + "\nok\n")
        let expected: [(ByteBuffer, [InboundLine])] = [(input, [.tooLong, .line(Array("ok".utf8))])]
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: expected) {
            LineFrameDecoder(maximumLineBytes: 16)
        }
    }
}
