/// Where a key (or a shard channel) lives in a Redis Cluster: CRC16 (XMODEM) of its hash tag, modulo 16384, as
/// Redis computes it (cluster.c `keyHashSlot`). The hash tag is what lies between the first `{` and the first `}`
/// after it, when that is not empty; otherwise the whole key. Keys that share a tag share a slot, so a script may
/// touch them together: that is how a room's history, topic and channel stay on one shard.
public struct HashSlot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let count = 16384

    public let value: Int

    public init?(_ value: Int) {
        guard (0..<Self.count).contains(value) else { return nil }
        self.value = value
    }

    public init(key: some StringProtocol) {
        var utf8 = Array(key.utf8)
        if let open = utf8.firstIndex(of: UInt8(ascii: "{")),
            let close = utf8[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            utf8 = Array(utf8[(open + 1)..<close])
        }
        value = Int(Self.crc16(utf8) & 0x3FFF)
    }

    public static func < (lhs: HashSlot, rhs: HashSlot) -> Bool { lhs.value < rhs.value }
    public var description: String { String(value) }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection, as in Redis's crc16.c.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
