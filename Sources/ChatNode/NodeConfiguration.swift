import ChatArchive
import ChatCommandSupport
import ChatCore
import ChatStore
import ChatTracing
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// The settings a node takes anew while it runs (`NodeConfiguration.live`).
public final class LiveSettings: Sendable {
    public struct Values: Sendable, Equatable {
        public var operators: Set<String> = []
        public var maxClients = 10_000
        public var rateLimit: Double = 10
        public var rateBurst: Double = 20
    }

    private let box = NIOLockedValueBox(Values())

    public init() {}

    public var values: Values { box.withLockedValue { $0 } }

    public func update(_ change: (inout Values) -> Void) { box.withLockedValue { change(&$0) } }
}

/// Everything a node is told at start. The executable fills it from flags and environment variables; tests build it
/// directly.
public struct NodeConfiguration: Sendable {
    public var host = "0.0.0.0"
    /// 0 picks a free port; the node reports the one it got.
    public var port = 7001
    public var httpPort = 8081
    /// One Redis or a Redis Cluster.
    public var redis = RedisDeployment.single(RedisAddress())
    /// Names the node in /who, /seen, logs and /health. Defaults to host:port.
    public var nodeID: String? = nil
    /// The address other machines reach this node's chat port at, announced in Redis for the balancer's
    /// discovery. Defaults to the listening host and port; listening on all addresses, to the first non-loopback
    /// IPv4 address of the machine (a container's own). The HTTP port is announced on the same host.
    public var advertise: String? = nil
    /// Require a PROXY protocol v1 header on every chat and HTTP connection from a trusted proxy (behind a balancer
    /// started with --send-proxy), and use the client address it carries for limits, logs and /seen. Connections
    /// from anywhere else are direct clients, and send none.
    public var proxyProtocol = false
    /// Who may send PROXY headers: loopback by default.
    public var trustedProxies = TrustedNetworks.loopback
    /// /health and /metrics, on a port of their own that the balancer does not proxy, on loopback by default.
    public var opsHost = "127.0.0.1"
    public var opsPort = 9101
    /// Host names the operations port answers besides IP addresses and localhost (DNS rebinding: `HostAllowList`).
    public var opsHostNames = HostAllowList()
    /// What SIGHUP may change while the node runs (a `--config` file reread): shared by every copy of this
    /// configuration, so the node reads the new values at their next use. The four properties below go through it.
    public let live = LiveSettings()
    /// The server operators: registered names (their keys) that operate the server once logged in with their
    /// password. Give every node the same list. Read at each login; a reload that changes it changes the sessions
    /// of the names it added or removed at once (`SessionHandler.operatorsChanged`).
    public var operators: Set<String> {
        get { live.values.operators }
        nonmutating set { live.update { $0.operators = newValue } }
    }
    /// The admin API's bearer token (`--admin-token-file`); nil: the operations port has no /admin.
    public var adminToken: String? = nil
    /// Origins whose pages may open WebSocket sessions (/ws); `*` allows any. A page's own origin needs no listing
    /// when it was served under an IP address or localhost; under a name (`https://chat.example.com`) it must be
    /// listed, so a page whose name was rebound to the node cannot open sessions from a visitor's browser.
    public var allowedOrigins: [String] = []
    /// On shutdown, how long the node keeps accepting after withdrawing from discovery, so the balancer has
    /// stopped sending it clients before its listener closes.
    public var withdrawGrace: TimeAmount = .seconds(1)
    /// Read at each connection accepted.
    public var maxClients: Int {
        get { live.values.maxClients }
        nonmutating set { live.update { $0.maxClients = newValue } }
    }
    /// Connections one client address may hold (behind the balancer, the address from the PROXY header);
    /// 0 for no limit.
    public var maxClientsPerAddress = 0
    /// How long a name (and a dead node's presence) outlives its node's last heartbeat, sent every third of it.
    public var claimTTLSeconds = 15
    /// The claims' own expiry, a safety net for when no node is left to reap: each session's records are
    /// rewritten every third of it (so rarely that idle sessions cost Redis almost nothing).
    public var nameTTLSeconds = 3600
    /// How often survivors look for dead nodes to clean up after.
    public var reapInterval: TimeAmount = .seconds(1)
    public var limits = ProtocolLimits()
    /// Messages kept per room (XADD MAXLEN ~).
    public var historyLength = 1000
    /// Where every room message is archived, past what Redis keeps (`--archive`); nil: nowhere.
    public var archive: ArchiveAddress? = nil
    /// Where traces go (`--otlp-endpoint`, an OTLP/HTTP collector); nil: nothing is traced.
    public var otlpEndpoint: OTLPEndpoint? = nil
    /// The share of messages and logins traced (`--trace-sample-ratio`, 0 to 1).
    public var traceSampleRatio: Double = 1
    /// How long the archive keeps messages (`--archive-keep-days`, `--archive-keep-room`); the archiving node
    /// removes what is older every `Archiver.Settings.retentionInterval`.
    public var archiveRetention = ChatArchive.Retention()
    /// Idle rooms' history expiry, the room cap, the room creation rate, /seen's size.
    public var storeBounds = StoreBounds()
    /// Sustained messages (lines) per second per session, and the burst allowed above it; read when a session
    /// starts.
    public var rateLimit: Double {
        get { live.values.rateLimit }
        nonmutating set { live.update { $0.rateLimit = newValue } }
    }
    public var rateBurst: Double {
        get { live.values.rateBurst }
        nonmutating set { live.update { $0.rateBurst = newValue } }
    }
    /// A client whose unsent output passes this is disconnected as a slow consumer.
    public var maxOutboundBytes = 1 << 20
    /// Event-loop threads; one per core by default.
    public var threads = System.coreCount
    /// How long a Redis command may wait for its reply before the connection is dropped and re-made.
    public var redisTimeout: TimeAmount = .seconds(3)
    /// A room message's sender is told of it only once this many replicas have it, or the timeout passed (then
    /// with an `unconfirmed` warning); nil: once the primary has it (see `ChatStore.acknowledgedMessages`).
    public var messageAcknowledgement: ReplicaAcknowledgement? = nil
    /// How long graceful shutdown waits for sessions to be released in Redis.
    public var shutdownGrace: TimeAmount = .seconds(5)
    /// A connection without a name this long after it opened is closed with `registration-timeout`.
    public var registrationTimeout: TimeAmount = .seconds(30)
    /// A client that answers pings (JSON lines, WebSocket) and has been silent this long is pinged, and closed
    /// ("ping timeout") when it is silent as long again.
    public var pingAfter: TimeAmount = .seconds(30)
    public var pingTimeout: TimeAmount = .seconds(30)
    /// On every client socket, so a vanished nc user is noticed too (at most `bound` seconds).
    public var tcpKeepAlive = TCPKeepAlive()
    /// A plain HTTP connection silent this long is closed (a WebSocket session is watched by pings instead).
    public var httpIdleTimeout: TimeAmount = .seconds(30)
    /// TLS served by the node itself, for deployments without the balancer: chat on `tlsPort`, the web page and
    /// its WebSocket on `httpsPort`, with this certificate (reloaded on SIGHUP).
    public var tls: TLSCertificates? = nil
    /// IRC clients' port (nil: none). The server name IRC clients see defaults to the node id.
    public var ircPort: Int? = nil
    public var ircServerName: String? = nil
    public var tlsPort: Int? = nil
    public var httpsPort: Int? = nil
    /// The cost of new password hashes (old hashes keep the cost they were made with).
    public var scryptCost = ScryptCost.standard
    /// Threads that hash passwords, off the event loops.
    public var passwordHashThreads = max(1, System.coreCount / 2)
    /// Password checks one client address group (an IPv6 /64) may have waiting or running at once, of the 32.
    public var passwordChecksPerAddress = 2

    public init() {}

    /// `alice,bob` -> their name keys; a name nobody could hold is a mistake worth stopping for.
    public static func operatorKeys(_ list: String) throws -> Set<String> {
        var keys = Set<String>()
        for raw in list.split(separator: ",") {
            let text = raw.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            do {
                keys.insert(try UserName(validating: text).key)
            } catch {
                throw ConfigurationError("--operators: '\(text)' is not a name anyone can have (\(error.message))")
            }
        }
        return keys
    }

    /// The token in the file, without surrounding whitespace: at least 32 characters, or the node does not start.
    public static func adminToken(file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else { throw ConfigurationError("--admin-token-file: cannot read \(file)") }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 32, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw ConfigurationError(
                "--admin-token-file: the token must be at least 32 characters without spaces (openssl rand -hex 32)")
        }
        return token
    }
}

/// A node option that cannot work, said before anything starts.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
