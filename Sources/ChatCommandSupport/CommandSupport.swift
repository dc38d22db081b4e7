import ArgumentParser
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// A log handler whose level is the process's (`CommandSupport.logLevel`), read at each log call, unless the code
/// set the logger's own (`logger.logLevel = .warning`), which it keeps.
struct ProcessLevelHandler: LogHandler {
    var inner: any LogHandler
    private var ownLevel: Logger.Level?

    init(inner: any LogHandler) { self.inner = inner }

    var logLevel: Logger.Level {
        get { ownLevel ?? CommandSupport.logLevel }
        set { ownLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}

/// What both executables do before they build their service: one place, so they cannot drift apart.
public enum CommandSupport {
    /// An environment variable, treating an empty value as unset (compose files often pass `VAR: ""`).
    /// A configuration file's value stands in for a variable the environment does not set (ConfigurationFile).
    public static func environment(_ name: String) -> String? {
        realEnvironment(name) ?? ConfigurationFile.value(of: name)
    }

    /// The process's own environment variable, without a configuration file's.
    static func realEnvironment(_ name: String) -> String? {
        if ignoringEnvironment.withLockedValue({ $0 }) { return nil }
        return ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Set by `--print-config`, which shows the built-in defaults whatever the environment says.
    static let ignoringEnvironment = NIOLockedValueBox(false)

    /// A boolean environment variable: 1, true or yes (`flagWords`).
    public static func flag(_ name: String) -> Bool? {
        environment(name).map { flagWords[$0.lowercased()] == true }
    }

    /// What a flag's environment variable may say (anything else stops the start: `ConfigurationFile`).
    static let flagWords: [String: Bool] = [
        "1": true, "true": true, "yes": true, "0": false, "false": false, "no": false,
    ]

    public static let logLevels = "trace, debug, info, notice, warning, error or critical"

    /// Logs to stderr at `level`, and swift-metrics into the returned Prometheus registry. Call once, from main.
    public static func bootstrap(logLevel level: Logger.Level, format: LogFormat = .text) -> PrometheusCollectorRegistry
    {
        bootstrapLogging(level: level, format: format)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// Logs to stderr at `level`, as text or JSON lines. Call once, from main. The level is the process's
    /// (`logLevel`): a reloaded configuration changes it for every logger at once.
    public static func bootstrapLogging(level: Logger.Level, format: LogFormat) {
        logLevel = level
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = .trace  // the filtering is ProcessLevelHandler's
            return ProcessLevelHandler(inner: handler)
        }
    }

    private static let sharedLogLevel = Atomic<Int>(2)
    private static let levels = Logger.Level.allCases

    /// The level every logger of the process logs at (unless its code set one of its own).
    public static var logLevel: Logger.Level {
        get { levels[sharedLogLevel.load(ordering: .relaxed)] }
        set { sharedLogLevel.store(levels.firstIndex(of: newValue) ?? 2, ordering: .relaxed) }
    }

    /// `127.0.0.1:7001`, `[::1]:7001`: an address as people write it.
    public static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// One machine-readable line on stdout (unbuffered), for scripts and tests that start a server on port 0.
    public static func announce(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// `chat-node listening chat=127.0.0.1:7001 http=... tls=off`: every port a server may serve, bound or off.
    public static func announceListening(_ program: String, _ ports: [(name: String, address: SocketAddress?)]) {
        let line = ports.map { "\($0.name)=\($0.address.map(describe) ?? "off")" }.joined(separator: " ")
        announce("\(program) listening " + line)
    }

    /// A server's `main`: its configuration file (`--config`) read first, then the command line, which reads flags,
    /// then environment variables, then the file (ConfigurationFile).
    public static func main(_ command: any AsyncParsableCommand.Type, prefix: String) async {
        // Ignored until the handler that rereads the configuration is installed: a reload sent while the server
        // starts must not end it (systemd takes a SIGHUP death for a clean exit and does not restart).
        signal(SIGHUP, SIG_IGN)
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            // `--version` and `--help` answer even when the file named in the environment is broken.
            if !arguments.contains(where: { ["--version", "--help", "-h"].contains($0) }) {
                try ConfigurationFile.prepare(command, prefix: prefix, arguments: arguments)
            }
            var parsed = try command.parseAsRoot()
            if var asynchronous = parsed as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try parsed.run()
            }
        } catch {
            command.exit(withError: error)
        }
    }

    /// SIGHUP rereads the configuration file (when one was given): `apply` gets the options whose value changed and
    /// the arguments to parse again, takes what can change while running and returns those; the rest is logged as
    /// needing a restart. A file that cannot be read or parsed changes nothing, and says why.
    public static func reloadConfigurationOnHangup(
        logger: Logger, apply: @escaping @Sendable (_ changed: [String], _ arguments: [String]) throws -> [String]
    ) -> Hangups.Registration {
        Hangups.add {
            do {
                guard let (reread, previous) = try ConfigurationFile.reread() else {
                    return logger.info("SIGHUP: no configuration file (--config) to reread")
                }
                let applied: [String]
                do { applied = reread.changed.isEmpty ? [] : try apply(reread.changed, reread.arguments) } catch {
                    // All or nothing: the next SIGHUP compares against what runs, not against the refused file.
                    ConfigurationFile.restore(previous)
                    throw error
                }
                let restart = reread.changed.filter { !applied.contains($0) }
                var metadata: Logger.Metadata = ["config.file": "\(reread.path)"]
                metadata["config.applied"] = applied.isEmpty ? nil : "\(applied.joined(separator: ","))"
                metadata["config.needs_restart"] = restart.isEmpty ? nil : "\(restart.joined(separator: ","))"
                metadata["config.overridden"] =
                    reread.overridden.isEmpty ? nil : "\(reread.overridden.joined(separator: ","))"
                logger.notice(
                    restart.isEmpty
                        ? "configuration reloaded" : "configuration reloaded; some changes need a restart to apply",
                    metadata: metadata)
            } catch {
                logger.error(
                    "configuration not reloaded; the running one stays",
                    metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs a server until SIGTERM or SIGINT, either of which starts its graceful shutdown.
    public static func run(_ server: some Service, logger: Logger) async throws {
        let services = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
    }
}
