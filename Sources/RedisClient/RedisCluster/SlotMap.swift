import Endpoints

/// Which shard of a Redis Cluster serves each hash slot, read from `CLUSTER SHARDS` (Redis 7): per shard its slot
/// ranges, its primary and its replicas. The client keeps one and asks for a new one when a reply says MOVED, when
/// a connection to a shard fails, or when a shard pushes `sunsubscribe` (a slot moved).
public struct SlotMap: Equatable, Sendable {
    public struct Node: Hashable, Sendable, CustomStringConvertible {
        public var id: String
        public var address: HostPort
        public var isPrimary: Bool
        /// `online`; `failed` and `loading` nodes are kept in the map but not used.
        public var isHealthy: Bool

        public var description: String { "\(address) (\(isPrimary ? "primary" : "replica"))" }
    }

    public struct Shard: Equatable, Sendable {
        public var ranges: [ClosedRange<Int>]
        public var nodes: [Node]

        public var primary: Node? { nodes.first { $0.isPrimary && $0.isHealthy } }
        public var replicas: [Node] { nodes.filter { !$0.isPrimary && $0.isHealthy } }
    }

    public private(set) var shards: [Shard]
    /// Slot -> index in `shards`, or -1 where no shard claims the slot (a cluster being set up or resharded).
    private var owners: [Int16]

    /// Shards in slot order and each shard's nodes primary first, then by id: members list them in orders of their
    /// own, and two readings of an unchanged cluster must compare equal.
    public init(shards: [Shard]) {
        let shards = shards.map { shard in
            var shard = shard
            shard.nodes.sort { ($0.isPrimary ? 0 : 1, $0.id) < ($1.isPrimary ? 0 : 1, $1.id) }
            shard.ranges.sort { $0.lowerBound < $1.lowerBound }
            return shard
        }.sorted {
            ($0.ranges.first?.lowerBound ?? Int.max, $0.nodes.first?.id ?? "")
                < ($1.ranges.first?.lowerBound ?? Int.max, $1.nodes.first?.id ?? "")
        }
        self.shards = shards
        owners = Array(repeating: -1, count: HashSlot.count)
        for (index, shard) in shards.enumerated() {
            for range in shard.ranges where range.lowerBound >= 0 && range.upperBound < HashSlot.count {
                for slot in range { owners[slot] = Int16(index) }
            }
        }
    }

    /// The shard serving `slot`, if any.
    public func shard(for slot: HashSlot) -> Shard? {
        let index = Int(owners[slot.value])
        return index >= 0 ? shards[index] : nil
    }

    /// Whether every slot has a shard with a healthy primary: the cluster can take every command.
    public var coversEverySlot: Bool {
        owners.allSatisfy { $0 >= 0 && shards[Int($0)].primary != nil }
    }

    /// Parses `CLUSTER SHARDS`: an array of shards, each a flat map with `slots` (start, end, start, end, ...) and
    /// `nodes` (each a flat map: `id`, `port` or `tls-port`, `ip`, `endpoint`, `role`, `health`, ...). Nil when
    /// the reply is not of that shape. `tls`: use the nodes' `tls-port`.
    public init?(shardsReply reply: RedisValue, tls: Bool = false) {
        // At most one shard per slot, and slot ranges that add up to no more than every slot once: anything else is
        // not a cluster's answer, and would cost a walk over billions of slots.
        guard let entries = reply.array, entries.count <= HashSlot.count else { return nil }
        var shards: [Shard] = []
        var claimed = 0
        for entry in entries {
            guard let fields = Self.map(entry), let slots = fields["slots"]?.array, let nodes = fields["nodes"]?.array,
                slots.count % 2 == 0
            else { return nil }
            var ranges: [ClosedRange<Int>] = []
            var index = 0
            while index < slots.count {
                guard let start = slots[index].int, let end = slots[index + 1].int, start <= end, start >= 0,
                    end < HashSlot.count
                else { return nil }
                ranges.append(Int(start)...Int(end))
                claimed += Int(end - start) + 1
                guard claimed <= HashSlot.count else { return nil }
                index += 2
            }
            var members: [Node] = []
            for node in nodes {
                guard let fields = Self.map(node), let id = fields["id"]?.string,
                    let port = (tls ? fields["tls-port"] : fields["port"])?.int, (1...65535).contains(port)
                else { return nil }
                // `endpoint` is what the cluster wants clients to use (an IP by default); "?" means unknown.
                let endpoint = fields["endpoint"]?.string
                guard let host = (endpoint.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 }) ?? fields["ip"]?.string,
                    !host.isEmpty
                else { return nil }
                members.append(
                    Node(
                        id: id, address: HostPort(host: host, port: Int(port)),
                        isPrimary: fields["role"]?.string == "master", isHealthy: fields["health"]?.string == "online"))
            }
            shards.append(Shard(ranges: ranges, nodes: members))
        }
        self.init(shards: shards)
    }

    /// A RESP2 map: an array of alternating names and values.
    private static func map(_ value: RedisValue) -> [String: RedisValue]? {
        guard let items = value.array, items.count % 2 == 0 else { return nil }
        var fields: [String: RedisValue] = [:]
        var index = 0
        while index < items.count {
            guard let name = items[index].string else { return nil }
            fields[name] = items[index + 1]
            index += 2
        }
        return fields
    }

    public static func == (lhs: SlotMap, rhs: SlotMap) -> Bool { lhs.shards == rhs.shards }
}

extension RedisAddress {
    /// The same user, password and TLS settings for another member of a cluster (which has only database 0).
    func member(at address: HostPort) -> RedisAddress {
        var member = self
        member.host = address.host
        member.port = address.port
        member.database = 0
        return member
    }
}
