import ChatCommandSupport
import ChatCore
import Endpoints
import NIOCore
import RedisClient

/// A node the balancer may send clients to: its chat endpoint, the HTTP endpoint beside it, and a name.
public struct NodeEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var chat: HostPort
    public var http: HostPort
    /// The node's IRC port, when it serves IRC (announced as `irc=HOST:PORT`).
    public var irc: HostPort?
    /// The node's operations port (/metrics), when the balancer can reach it (announced as `ops=HOST:PORT`): what
    /// the status page reads.
    public var operations: HostPort?

    public init(name: String, chat: HostPort, http: HostPort, irc: HostPort? = nil, operations: HostPort? = nil) {
        self.name = name
        self.chat = chat
        self.http = http
        self.irc = irc
        self.operations = operations
    }

    public var description: String { "\(name) (\(chat))" }

    /// `HOST:PORT`, `HOST:PORT/HTTPPORT` or `HOST:PORT/HTTPPORT/OPSPORT`; without an HTTP port, the node's default
    /// 8081 is assumed; without an operations port the status page shows the node's state but not its figures.
    public init(parsing text: String) throws(BalancerConfigurationError) {
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        // Port 0 parses as a HOST:PORT (a listener may bind it) but no node can be reached there.
        guard let first = parts.first, let chat = HostPort(parsing: first), chat.port != 0 else {
            throw BalancerConfigurationError(
                "'\(text)' is not HOST:PORT, HOST:PORT/HTTPPORT or HOST:PORT/HTTPPORT/OPSPORT")
        }
        func port(_ index: Int, _ what: String) throws(BalancerConfigurationError) -> Int? {
            guard parts.count > index else { return nil }
            guard let port = Int(parts[index]), (1...65535).contains(port) else {
                throw BalancerConfigurationError("'\(text)': the \(what) port must be 1 to 65535")
            }
            return port
        }
        let httpPort = try port(1, "HTTP") ?? 8081
        let operationsPort = try port(2, "operations")
        self.init(
            name: chat.description, chat: chat, http: HostPort(host: chat.host, port: httpPort),
            operations: operationsPort.map { HostPort(host: chat.host, port: $0) })
    }
}

public struct BalancerConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where the balancer learns its nodes.
public enum NodeSource: Sendable {
    case fixed([NodeEndpoint])
    /// Nodes announce themselves in Redis (`chat:endpoint:*`); new ones are used within a second, dead ones
    /// dropped within two.
    case redis(RedisDeployment)
}

public struct BalancerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 7000
    public var httpPort = 8080
    public var adminPort = 9000
    /// /nodes and /metrics describe the cluster: loopback unless configured otherwise.
    public var adminHost = "127.0.0.1"
    /// Host names the admin port answers besides IP addresses and localhost (DNS rebinding: `HostAllowList`).
    public var adminHostNames = HostAllowList()
    public var nodes: NodeSource = .fixed([])
    /// Open each backend connection (chat and HTTP) with a PROXY protocol v1 header naming the real client.
    public var sendProxy = false
    /// Open connections one client address may hold (HAProxy's `sc_conn_cur` limit), so one host cannot take
    /// every slot; 0 for no limit. Clients behind one NAT share an address: raise it for them.
    public var maxConnectionsPerAddress = 50
    /// New connections one client address group may open: `perSecond` sustained, `burst` at once (HAProxy's
    /// `sc_conn_rate`); a rate of 0 for no limit.
    public var connectRatePerAddress: (perSecond: Double, burst: Double) = (10, 50)
    public var maxClients = 20_000
    /// How long a backend connect may take before the next node is tried.
    public var connectTimeout: TimeAmount = .seconds(1)
    /// How often each node is probed, and how often Redis discovery is read.
    public var healthInterval: TimeAmount = .milliseconds(500)
    public var discoveryInterval: TimeAmount = .milliseconds(250)
    /// On SIGTERM, how long open connections may carry on before they are closed.
    public var drainTimeout: TimeAmount = .seconds(10)
    public var threads = System.coreCount
    /// On every client socket: a client whose host vanished is closed within `bound` seconds.
    public var tcpKeepAlive = TCPKeepAlive()
    /// TLS for clients, terminated here: chat on `tlsPort`, HTTPS and WSS on `httpsPort`, with this certificate
    /// (reloaded on SIGHUP). The nodes behind get plain TCP, as from the plain ports.
    public var tls: TLSCertificates? = nil
    public var tlsPort: Int? = nil
    /// How long a TLS client has to finish its handshake; until it has, no node connection is spent on it.
    public var tlsHandshakeTimeout: TimeAmount = .seconds(10)
    public var httpsPort: Int? = nil
    /// The plain chat and HTTP ports; turned off to serve TLS only.
    public var plainPorts = true
    /// IRC clients, spliced to the nodes' IRC ports: plain (6667) and over TLS (6697, with `tls`).
    public var ircPort: Int? = nil
    public var ircTLSPort: Int? = nil

    public init() {}
}
