import NIOConcurrencyHelpers

/// Open connections per client address, against a limit: one host cannot take every slot (HAProxy's
/// `sc_conn_cur`). Shared by every event loop of a server, so behind a lock; a limit of 0 counts nothing.
public final class AddressCounts: Sendable {
    public let limit: Int
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    public init(limit: Int) { self.limit = limit }

    /// Counts a connection from `address`; false (and nothing counted) when the address is at its limit.
    public func admit(_ address: String) -> Bool {
        guard limit > 0 else { return true }
        return counts.withLockedValue { counts in
            guard counts[address, default: 0] < limit else { return false }
            counts[address, default: 0] += 1
            return true
        }
    }

    /// Forgets one connection that `admit` counted.
    public func release(_ address: String) {
        guard limit > 0 else { return }
        counts.withLockedValue { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}
