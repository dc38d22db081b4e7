import ArgumentParser
import Logging
import NIOCore

/// The environment variables a server's options fall back to: `CHAT_…` for the node, `BALANCER_…` for the balancer.
public protocol EnvironmentPrefix {
    static var prefix: String { get }
}

/// The options both servers take, declared once (`@OptionGroup var server: ServerOptions<…>`): TLS ports and
/// certificates, event-loop threads, the log level, TCP keepalive, and the CA file for `rediss://`. Each falls back to
/// its environment variable, `<prefix>_TLS_PORT` and so on, when the flag is absent.
public struct ServerOptions<Environment: EnvironmentPrefix>: ParsableArguments {
    @Option(
        name: .customLong("tls-port"),
        help: "Chat port over TLS (needs --tls-cert and --tls-key). [\(Environment.prefix)_TLS_PORT]")
    var tlsPortOption: Int?

    @Option(
        name: .customLong("https-port"),
        help:
            "HTTPS (and WSS) port for the web client (needs --tls-cert and --tls-key). [\(Environment.prefix)_HTTPS_PORT]"
    )
    var httpsPortOption: Int?

    @Option(
        name: .customLong("tls-cert"),
        help: "PEM certificate chain, server first; reread on SIGHUP. [\(Environment.prefix)_TLS_CERT]")
    var tlsCertOption: String?

    @Option(
        name: .customLong("tls-key"),
        help: "PEM private key of the certificate; reread on SIGHUP. [\(Environment.prefix)_TLS_KEY]")
    var tlsKeyOption: String?

    @Option(
        name: .customLong("redis-ca-file"),
        help: "PEM certificates to trust for rediss:// instead of the system's. [\(Environment.prefix)_REDIS_CA_FILE]")
    var redisCAFileOption: String?

    @Option(
        name: .customLong("tcp-keepalive"),
        help: "TCP keepalive on client sockets: IDLE,INTERVAL,COUNT seconds. [\(Environment.prefix)_TCP_KEEPALIVE]")
    var tcpKeepAliveText = Self.env("TCP_KEEPALIVE") ?? TCPKeepAlive().description

    // No default value: it would be this machine's core count in the docs (docs/options.md is generated).
    @Option(
        name: .customLong("threads"),
        help: "Event-loop threads (default: one per core). [\(Environment.prefix)_THREADS]")
    var threadsOption: Int?
    public var threads: Int { threadsOption ?? Self.env("THREADS").flatMap(Int.init) ?? System.coreCount }

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, notice, warning, error or critical. [\(Environment.prefix)_LOG_LEVEL]")
    var logLevelText = Self.env("LOG_LEVEL") ?? "info"

    @Option(
        name: .customLong("log-format"),
        help: "text (for people) or json (a JSON object a line, for a log pipeline). [\(Environment.prefix)_LOG_FORMAT]"
    )
    var logFormatText = Self.env("LOG_FORMAT") ?? LogFormat.text.rawValue

    // Read before the command line is parsed (ConfigurationFile.prepare); declared so --help lists it and SIGHUP
    // knows the file to reread.
    @Option(
        name: .customLong("config"),
        help:
            "A YAML file of options, keyed by their long names; environment variables and flags win over it. [\(Environment.prefix)_CONFIG]"
    )
    var configOption: String?
    public var configFile: String? { configOption ?? Self.env("CONFIG") }

    @Flag(
        name: .customLong("print-config"),
        help: "Print a configuration file with every option, its help and its default, and exit.")
    public var printConfig = false

    public init() {}

    // Optional options take their environment variable when the flag is absent (a default would make them
    // non-optional).
    public var tlsPort: Int? { tlsPortOption ?? Self.env("TLS_PORT").flatMap(Int.init) }
    public var httpsPort: Int? { httpsPortOption ?? Self.env("HTTPS_PORT").flatMap(Int.init) }
    public var redisCAFile: String? { redisCAFileOption ?? Self.env("REDIS_CA_FILE") }
    public var tcpKeepAlive: TCPKeepAlive { TCPKeepAlive(parsing: tcpKeepAliveText) ?? TCPKeepAlive() }
    public var logLevel: Logger.Level { Logger.Level(rawValue: logLevelText) ?? .info }
    public var logFormat: LogFormat { LogFormat(rawValue: logFormatText) ?? .text }

    /// The certificates for the TLS ports, read now; nil when no TLS port is asked for. `alsoFor`: a server's own
    /// further TLS port (the balancer's IRC one). A certificate that cannot be read stops the start: better than
    /// serving without the TLS asked for.
    public func certificates(alsoFor otherTLSPort: Int? = nil) throws -> TLSCertificates? {
        do {
            return try TLSCertificates.fromOptions(
                tlsPort: tlsPort ?? otherTLSPort, httpsPort: httpsPort,
                certificate: tlsCertOption ?? Self.env("TLS_CERT"),
                key: tlsKeyOption ?? Self.env("TLS_KEY"))
        } catch { throw ValidationError("\(error)") }
    }

    public func validate() throws {
        guard Logger.Level(rawValue: logLevelText) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard LogFormat(rawValue: logFormatText) != nil else {
            throw ValidationError("--log-format must be text or json (got '\(logFormatText)')")
        }
        guard TCPKeepAlive(parsing: tcpKeepAliveText) != nil else {
            throw ValidationError(
                "--tcp-keepalive must be IDLE,INTERVAL,COUNT, each at least 1 (got '\(tcpKeepAliveText)')")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    static func env(_ name: String) -> String? { CommandSupport.environment(Environment.prefix + "_" + name) }
}

extension CommandSupport {
    /// Refuses a port outside 0...65535 (0 picks a free one), naming its option; nil is a port not asked for.
    public static func checkPorts(_ ports: [(option: String, port: Int?)]) throws {
        for (option, port) in ports {
            if let port, !(0...65535).contains(port) { throw ValidationError("\(option) must be 0 to 65535") }
        }
    }
}
