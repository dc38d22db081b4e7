import ChatCommandSupport
import ChatCore
import Crypto
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import _CryptoExtras

/// scrypt's cost: N = 2^logN rounds, block size r, parallelism p. Memory is 128·N·r bytes per hash.
public struct ScryptCost: Equatable, Sendable, CustomStringConvertible {
    public var logN: Int
    public var r: Int
    public var p: Int

    /// One of OWASP's equivalent recommendations (N=2^15, r=8, p=3): 32 MiB per hash, which keeps two hashes at
    /// once (one per core) well inside a small node's memory.
    public static let standard = ScryptCost(logN: 15, r: 8, p: 3)

    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// `ln=15,r=8,p=3`, as in the stored hashes (the PHC string format).
    public init?(_ text: some StringProtocol) {
        var values: [String: Int] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let value = Int(pair[1]), value > 0 else { return nil }
            values[String(pair[0])] = value
        }
        guard let logN = values["ln"], let r = values["r"], let p = values["p"], values.count == 3,
            (1...24).contains(logN), (1...64).contains(r), (1...64).contains(p)
        else { return nil }
        self.init(logN: logN, r: r, p: p)
    }

    public var description: String { "ln=\(logN),r=\(r),p=\(p)" }

    /// Bytes one hash needs (128·N·r), and its work (N·r·p, in 128-byte block mixes).
    var memory: Int { 128 << logN * r }
    var work: Int { (1 << logN) * r * p }
}

/// Hashes and checks passwords with scrypt, off the event loops, on a small thread pool of its own: a flood of
/// logins with wrong passwords queues here, never in front of anybody's chat. The queue is bounded: past
/// `maximumPending` hashes waiting or running, a login is refused at once (`rate-limited`), so the flood costs
/// at most that many hashes' memory. One client address group may hold only `maximumPendingPerAddress` of those
/// places, so a single host cannot fill the queue and keep everybody else from logging in.
///
/// Stored hashes are PHC strings, `$scrypt$ln=15,r=8,p=3$<salt>$<hash>` (base64 without padding), so the cost of
/// new hashes can be raised later and old ones still check with the cost they were made with.
final class PasswordHasher: Sendable {
    let cost: ScryptCost
    let maximumPending: Int
    let maximumPendingPerAddress: Int
    private let pool: NIOThreadPool
    private let pending = Atomic<Int>(0)
    private let perAddress: AddressCounts

    init(cost: ScryptCost, threads: Int, maximumPending: Int = 32, maximumPendingPerAddress: Int = 2) {
        self.cost = cost
        self.maximumPending = maximumPending
        self.maximumPendingPerAddress = maximumPendingPerAddress
        self.perAddress = AddressCounts(limit: maximumPendingPerAddress)
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    func shutdown() {
        pool.shutdownGracefully { _ in }
    }

    /// A new stored hash for `password`; `address` is the client's address group ('' when unknown).
    func hash(_ password: Password, on eventLoop: any EventLoop, for address: String) -> EventLoopFuture<String> {
        let cost = self.cost
        return offload(on: eventLoop, for: address) {
            var salt = [UInt8](repeating: 0, count: 16)
            var generator = SystemRandomNumberGenerator()
            for index in salt.indices { salt[index] = generator.next() }
            let derived = try Self.derive(password, salt: salt, cost: cost)
            return "$scrypt$\(cost)$\(Self.base64(salt))$\(Self.base64(derived))"
        }
    }

    /// Whether `password` is the one `stored` was made from. A stored string this node cannot read checks false, as
    /// does one whose cost is far above this node's (more than 4 times its memory or work): a hash written into
    /// Redis by someone else must not make one check take gigabytes.
    func verify(
        _ password: Password, against stored: String, on eventLoop: any EventLoop, for address: String
    ) -> EventLoopFuture<Bool> {
        let limit = self.cost
        return offload(on: eventLoop, for: address) {
            let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
            guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt", let cost = ScryptCost(parts[2]),
                cost.memory <= 4 * limit.memory, cost.work <= 4 * limit.work,
                let salt = Self.unbase64(parts[3]), let expected = Self.unbase64(parts[4]),
                (16...64).contains(expected.count)
            else { return false }
            let derived = try Self.derive(password, salt: salt, cost: cost, length: expected.count)
            // Constant time: how much of a guess matched must not show in how long the answer took.
            return zip(derived, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    private func offload<Value: Sendable>(
        on eventLoop: any EventLoop, for address: String, _ work: @escaping @Sendable () throws -> Value
    ) -> EventLoopFuture<Value> {
        let busy = ChatError(.rateLimited, "this node is busy checking passwords; try again in a few seconds")
        // '' is an unknown address: counted together, which keeps them from taking more than their share too.
        guard perAddress.admit(address) else {
            return eventLoop.makeFailedFuture(
                ChatError(.rateLimited, "your address has password checks running already; wait for them"))
        }
        guard pending.add(1, ordering: .relaxed).newValue <= maximumPending else {
            pending.subtract(1, ordering: .relaxed)
            perAddress.release(address)
            return eventLoop.makeFailedFuture(busy)
        }
        return pool.runIfActive(eventLoop: eventLoop, work).always { _ in
            self.pending.subtract(1, ordering: .relaxed)
            self.perAddress.release(address)
        }
    }

    private static func derive(
        _ password: Password, salt: [UInt8], cost: ScryptCost, length: Int = 32
    ) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.text.utf8), salt: salt, outputByteCount: length, rounds: 1 << cost.logN,
            blockSize: cost.r, parallelism: cost.p)
        return key.withUnsafeBytes { Array($0) }
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func unbase64(_ text: some StringProtocol) -> [UInt8]? {
        var padded = String(text)
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map(Array.init)
    }
}

/// Resume tokens: 192 random bits, URL-safe base64, handed to the client in `welcome`; Redis keeps only their
/// SHA-256, so whoever reads Redis cannot resume anybody's session.
enum ResumeTokens {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
