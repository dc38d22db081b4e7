import Foundation

/// A minimal WebSocket client over a plain socket (RFC 6455: the upgrade request, masked frames out, frames in),
/// so the tests check the bytes a browser would send and get, without a WebSocket library in between.
public final class TestWebSocket: @unchecked Sendable {
    public let socket: TestSocket
    /// The status line and headers of the server's answer to the upgrade.
    public private(set) var responseStatus = 0
    public private(set) var closeCode: UInt16?

    /// Connects and asks for the upgrade; `origin` as a browser would send it (nil: as a program would).
    public init(host: String = "127.0.0.1", port: Int, path: String = "/ws", origin: String? = nil) throws {
        socket = try TestSocket(host: host, port: port, name: "websocket")
        var request =
            "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let origin { request += "Origin: \(origin)\r\n" }
        try socket.sendRaw(Array((request + "\r\n").utf8))
        guard let status = socket.readLine(timeout: 5) else { throw HarnessError("no answer to the WebSocket upgrade") }
        responseStatus = Int(status.split(separator: " ").dropFirst().first ?? "") ?? 0
        while let header = socket.readLine(timeout: 5), !header.isEmpty {}
    }

    public var isOpen: Bool { responseStatus == 101 }

    /// Sends one frame, masked as a client must. `opcode` 1 is text, 2 binary, 8 close, 9 ping.
    public func send(opcode: UInt8 = 1, _ payload: [UInt8], final: Bool = true) throws {
        var frame: [UInt8] = [(final ? 0x80 : 0) | opcode]
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        switch payload.count {
        case 0..<126: frame.append(0x80 | UInt8(payload.count))
        case 126...0xFFFF: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try socket.sendRaw(frame)
    }

    public func sendText(_ text: String) throws { try send(Array(text.utf8)) }

    public func sendJSON(_ object: [String: Any]) throws {
        try send(Array(try JSONSerialization.data(withJSONObject: object)))
    }

    /// The next text message, or nil on timeout or when the server closed (`closeCode` then says how).
    public func receiveText(timeout: Double = 5) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while let header = socket.readBytes(2, timeout: max(0, deadline.timeIntervalSinceNow)) {
            var length = Int(header[1] & 0x7F)
            if length == 126, let extended = socket.readBytes(2) { length = Int(extended[0]) << 8 | Int(extended[1]) }
            if length == 127, let extended = socket.readBytes(8) { length = extended.reduce(0) { $0 << 8 | Int($1) } }
            guard let payload = socket.readBytes(length, timeout: 5) else { return nil }
            switch header[0] & 0x0F {
            case 1: return String(decoding: payload, as: UTF8.self)
            case 8:
                closeCode = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 0
                return nil
            default: continue
            }
        }
        return nil
    }

    /// Reads messages until one is a JSON event that satisfies `match`; throws with what came otherwise.
    @discardableResult
    public func expectEvent(
        _ description: String, timeout: Double = 5, where match: ([String: Any]) -> Bool
    ) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var seen: [String] = []
        while let text = receiveText(timeout: max(0, deadline.timeIntervalSinceNow)) {
            seen.append(text)
            if let object = TestSocket.json(text), match(object) { return object }
        }
        throw HarnessError(
            "websocket: no \(description) within \(timeout) s; saw \(seen), close code \(closeCode.map(String.init) ?? "none")"
        )
    }

    public func expectEvent(type: String, timeout: Double = 5) throws -> [String: Any] {
        try expectEvent("event of type \(type)", timeout: timeout) { $0["type"] as? String == type }
    }

    /// Waits for the server to close the connection; true when it did.
    public func waitForClose(timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while closeCode == nil, !socket.isClosedByPeer, deadline.timeIntervalSinceNow > 0 {
            _ = receiveText(timeout: max(0, deadline.timeIntervalSinceNow))
        }
        return closeCode != nil || socket.isClosedByPeer
    }
}
