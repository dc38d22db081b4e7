import NIOCore

/// What a connection reads, cut into lines (without their newline), a line split across reads kept for the next.
struct LineSplitter {
    private var pending = ByteBuffer()

    mutating func lines(in buffer: inout ByteBuffer) -> [String] {
        pending.writeBuffer(&buffer)
        var lines: [String] = []
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(pending.readString(length: newline - pending.readerIndex) ?? "")
            pending.moveReaderIndex(forwardBy: 1)
        }
        pending.discardReadBytes()
        return lines
    }
}
