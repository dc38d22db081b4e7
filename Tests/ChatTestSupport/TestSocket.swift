import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain blocking TCP client that speaks lines, as nc would. Reads take timeouts so a missing line fails the test
/// with what did arrive instead of hanging it.
public final class TestSocket: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var received: [String] = []
    public private(set) var isClosedByPeer = false
    public let name: String

    /// `receiveBuffer` shrinks the kernel's receive buffer (before connecting, so the window starts small), making a
    /// client that does not read back up quickly.
    public init(host: String = "127.0.0.1", port: Int, name: String = "client", receiveBuffer: Int32? = nil) throws {
        self.name = name
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket() failed: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            // Closed here, and marked so: a class whose initializer throws once every property is set still runs
            // its deinit, which closed the number a second time, by then maybe a socket another thread (an
            // in-process NIO client) had just opened (getsockname: EBADF, a crash of the whole test process).
            close()
            throw HarnessError("\(name): cannot connect to \(host):\(port) (errno \(error))")
        }
    }

    /// The client's own port, as a server sees it.
    public var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public static func canConnect(host: String = "127.0.0.1", port: Int) -> Bool {
        (try? TestSocket(host: host, port: port)).map {
            $0.close()
            return true
        } ?? false
    }

    public func send(_ line: String) throws {
        try sendRaw(Array((line + "\n").utf8))
    }

    public func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw HarnessError("\(name): send failed (errno \(errno))") }
            offset += sent
        }
    }

    /// Sends `bytes` over and over for at most `seconds` or `count` times, never blocking past the deadline (a peer
    /// that stops reading stalls it); returns how many whole or partial copies went out.
    public func sendRepeatedly(_ bytes: [UInt8], count: Int, seconds: Double) -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        var copies = 0
        var offset = 0
        while copies < count, deadline.timeIntervalSinceNow > 0 {
            var pollFD = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&pollFD, 1, 50) > 0 else { continue }
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            guard sent > 0 else {
                if errno == EAGAIN || errno == EWOULDBLOCK { continue }
                break
            }
            offset += sent
            if offset == bytes.count {
                offset = 0
                copies += 1
            }
        }
        return copies
    }

    /// The next line, or nil when none arrives within `timeout` seconds or the peer closed.
    public func readLine(timeout: Double = 5) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                if line.last == 13 { line.removeLast() }
                let text = String(decoding: line, as: UTF8.self)
                received.append(text)
                return text
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, !isClosedByPeer else { return nil }
            var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollFD, 1, Int32(remaining * 1000) + 1)
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 {
                isClosedByPeer = true
                continue
            }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    /// Everything until the peer closes (or `timeout`).
    public func readToEnd(timeout: Double = 30) -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        while !isClosedByPeer, deadline.timeIntervalSinceNow > 0 {
            var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollFD, 1, Int32(deadline.timeIntervalSinceNow * 1000) + 1) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received <= 0 { isClosedByPeer = true } else { buffer.append(contentsOf: chunk[..<received]) }
        }
        defer { buffer.removeAll() }
        return buffer
    }

    /// Exactly `count` bytes (for binary protocols such as WebSocket frames), or nil on timeout or close.
    public func readBytes(_ count: Int, timeout: Double = 5) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        while buffer.count < count {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, !isClosedByPeer else { return nil }
            var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollFD, 1, Int32(remaining * 1000) + 1) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received <= 0 {
                isClosedByPeer = true
                continue
            }
            buffer.append(contentsOf: chunk[..<received])
        }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads until a line satisfies `match`; throws with everything seen when none does in time.
    @discardableResult
    public func expectLine(timeout: Double = 5, _ description: String, where match: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var seen: [String] = []
        while let line = readLine(timeout: max(0, deadline.timeIntervalSinceNow)) {
            if match(line) { return line }
            seen.append(line)
        }
        throw HarnessError("\(name): no line \(description) within \(timeout)s; saw \(seen)")
    }

    @discardableResult
    public func expectLine(_ description: String, where match: (String) -> Bool, timeout: Double) throws -> String {
        try expectLine(timeout: timeout, description, where: match)
    }

    @discardableResult
    public func expect(_ fragment: String, timeout: Double = 5) throws -> String {
        try expectLine(timeout: timeout, "containing '\(fragment)'") { $0.contains(fragment) }
    }

    /// Every line that arrives within `timeout` seconds.
    public func drain(timeout: Double = 0.3) -> [String] {
        var lines: [String] = []
        while let line = readLine(timeout: timeout) { lines.append(line) }
        return lines
    }

    /// True when the server closes the connection within `timeout`.
    public func waitForClose(timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !isClosedByPeer, deadline.timeIntervalSinceNow > 0 {
            _ = readLine(timeout: deadline.timeIntervalSinceNow)
        }
        return isClosedByPeer
    }

    /// Half-closes: no more input from us, as `nc -N` does when its stdin ends.
    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes once: the descriptor's number is reused at once by whatever opens next in this process (a NIO
    /// socket of an in-process client, a pipe), and a second close would close that instead.
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
    private var closed = false

    deinit { close() }
}

/// A JSON-lines client on top of `TestSocket`.
extension TestSocket {
    public func sendJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try send(String(decoding: data, as: UTF8.self))
    }

    /// Reads JSON events until one satisfies `match` (lines that are not JSON, like the text greeting, are skipped).
    @discardableResult
    public func expectEvent(
        timeout: Double = 5, _ description: String, where match: ([String: Any]) -> Bool
    ) throws
        -> [String: Any]
    {
        var found: [String: Any]? = nil
        try expectLine(timeout: timeout, description) { line in
            guard let object = Self.json(line), match(object) else { return false }
            found = object
            return true
        }
        return found!
    }

    public func expectEvent(type: String, timeout: Double = 5) throws -> [String: Any] {
        try expectEvent(timeout: timeout, "of type \(type)") { $0["type"] as? String == type }
    }

    public static func json(_ line: String) -> [String: Any]? {
        guard line.hasPrefix("{") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}
