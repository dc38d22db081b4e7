import NIOConcurrencyHelpers

/// The nodes and their state, shared by every event loop: round-robin choice over the healthy ones, and the
/// counters /nodes and /metrics report.
public final class BackendPool: Sendable {
    public enum State: String, Sendable {
        case up
        /// Refused a connection or failed its probe; tried again by the next probe.
        case down
        /// Withdrew from discovery to shut down: gets no new clients.
        case draining
    }

    public struct Snapshot: Sendable {
        public var endpoint: NodeEndpoint
        public var state: State
        public var routed: Int
        public var connected: Int
    }

    private struct Entry {
        var endpoint: NodeEndpoint
        var state: State = .up
        var routed = 0
        var connected = 0
        /// Not in the latest discovery read. Kept while its probes pass: after a Redis restart every announcement
        /// is gone for a moment, and healthy nodes must not vanish with them.
        var missing = false
        /// Probes in a row that got no greeting in time.
        var silentProbes = 0

        /// Out of rotation only because it accepted probes and did not greet: busy or frozen, but there.
        var isOutForSilence: Bool { state == .down && silentProbes >= BackendPool.silentProbesToFall }
    }

    private struct Pool {
        var entries: [NodeEndpoint: Entry] = [:]
        /// Stable order for round-robin: by name, then address.
        var order: [NodeEndpoint] = []
        /// One round-robin position per kind of traffic, so HTTP requests do not skew where chat clients land.
        var cursors: [String: Int] = [:]
    }

    private let pool = NIOLockedValueBox(Pool())

    public init(_ endpoints: [NodeEndpoint] = []) {
        replace(with: endpoints)
    }

    /// The next healthy node after the last one chosen for this kind of traffic, skipping `excluded` (nodes that
    /// just failed this client).
    /// `serving`: whether a node serves this traffic at all (IRC only where a node announced its IRC port).
    func next(
        for traffic: String, excluding excluded: Set<NodeEndpoint> = [],
        serving: (NodeEndpoint) -> Bool = { _ in true }
    ) -> NodeEndpoint? {
        pool.withLockedValue { pool in
            guard !pool.order.isEmpty else { return nil }
            let cursor = pool.cursors[traffic, default: 0]
            // Healthy nodes first. With none, nodes out only for greeting late (busy, maybe with a storm, not gone)
            // rather than refusing the client: a slow login beats none.
            for acceptable in [{ (entry: Entry) in entry.state == .up }, { $0.isOutForSilence }] {
                for offset in 0..<pool.order.count {
                    let index = (cursor + offset) % pool.order.count
                    let endpoint = pool.order[index]
                    guard let entry = pool.entries[endpoint], acceptable(entry), !excluded.contains(endpoint),
                        serving(endpoint)
                    else { continue }
                    pool.cursors[traffic] = index + 1
                    return endpoint
                }
            }
            return nil
        }
    }

    /// Sets the nodes exactly (a fixed list).
    func replace(with endpoints: [NodeEndpoint]) {
        pool.withLockedValue { pool in
            let wanted = Set(endpoints)
            pool.entries = pool.entries.filter { wanted.contains($0.key) }
            for endpoint in endpoints where pool.entries[endpoint] == nil {
                pool.entries[endpoint] = Entry(endpoint: endpoint)
            }
            Self.reorder(&pool)
        }
    }

    /// Applies a discovery read: announced nodes are added (or come back), draining ones stop getting clients, and
    /// the rest are marked missing, to be dropped when a probe fails. Returns the nodes added and those draining
    /// for the first time.
    func discovered(
        announced: [NodeEndpoint], draining: [NodeEndpoint]
    ) -> (added: [NodeEndpoint], drained: [NodeEndpoint]) {
        pool.withLockedValue { pool in
            var added: [NodeEndpoint] = []
            var drained: [NodeEndpoint] = []
            let seen = Set(announced).union(draining)
            for key in pool.entries.keys { pool.entries[key]?.missing = !seen.contains(key) }
            for endpoint in announced {
                if pool.entries[endpoint] == nil {
                    pool.entries[endpoint] = Entry(endpoint: endpoint)
                    added.append(endpoint)
                } else if pool.entries[endpoint]?.state == .draining {
                    pool.entries[endpoint]?.state = .up  // restarted at the same address
                }
            }
            for endpoint in draining where pool.entries[endpoint] != nil && pool.entries[endpoint]?.state != .draining {
                pool.entries[endpoint]?.state = .draining
                drained.append(endpoint)
            }
            Self.reorder(&pool)
            return (added, drained)
        }
    }

    /// What one probe found.
    public enum Probe: Sendable {
        /// The node greeted in time.
        case answered
        /// The connection could not be made (refused, unreachable, timed out): the process or its host is gone.
        case refused
        /// Accepted, but no greeting within the interval: frozen, or only busy (a connect storm fills its loops).
        case silent
    }

    /// Silent probes in a row that take a node out of rotation (HAProxy's `fall 3`): a node busy admitting a storm
    /// answers late for a moment, and taking it out would pour the storm onto the others.
    static let silentProbesToFall = 3

    /// Records a probe. A refused probe takes a node out of rotation at once, silent ones after
    /// `silentProbesToFall` in a row; a failed probe forgets a node discovery no longer lists. Returns what changed,
    /// for the log.
    func probed(_ endpoint: NodeEndpoint, _ probe: Probe) -> (changed: Bool, forgotten: Bool) {
        pool.withLockedValue { pool in
            guard var entry = pool.entries[endpoint] else { return (false, false) }
            let alive: Bool
            switch probe {
            case .answered:
                entry.silentProbes = 0
                alive = true
            case .refused:
                entry.silentProbes = 0
                alive = false
            case .silent:
                entry.silentProbes += 1
                // A draining node gets no new clients either way, and must not become a busy node to fall back on.
                alive =
                    entry.state == .draining
                    || (entry.state != .down && entry.silentProbes < Self.silentProbesToFall)
            }
            if !alive, entry.missing {
                pool.entries[endpoint] = nil
                Self.reorder(&pool)
                return (true, true)
            }
            let state: State = alive ? (entry.state == .draining ? .draining : .up) : .down
            let changed = state != entry.state
            entry.state = state
            pool.entries[endpoint] = entry
            return (changed, false)
        }
    }

    private static func reorder(_ pool: inout Pool) {
        pool.order = pool.entries.keys.sorted { ($0.name, $0.chat.description) < ($1.name, $1.chat.description) }
    }

    var endpoints: [NodeEndpoint] { pool.withLockedValue { $0.order } }

    /// Returns true when the state changed.
    @discardableResult
    func mark(_ endpoint: NodeEndpoint, _ state: State) -> Bool {
        pool.withLockedValue { pool in
            guard let old = pool.entries[endpoint]?.state, old != state else { return false }
            pool.entries[endpoint]?.state = state
            return true
        }
    }

    func connectionOpened(to endpoint: NodeEndpoint) {
        pool.withLockedValue { pool in
            pool.entries[endpoint]?.routed += 1
            pool.entries[endpoint]?.connected += 1
        }
    }

    func connectionClosed(to endpoint: NodeEndpoint) {
        pool.withLockedValue { pool in
            if let connected = pool.entries[endpoint]?.connected, connected > 0 {
                pool.entries[endpoint]?.connected = connected - 1
            }
        }
    }

    public var snapshot: [Snapshot] {
        pool.withLockedValue { pool in
            pool.order.compactMap { endpoint in
                pool.entries[endpoint].map {
                    Snapshot(endpoint: endpoint, state: $0.state, routed: $0.routed, connected: $0.connected)
                }
            }
        }
    }
}
