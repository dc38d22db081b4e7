import Foundation
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// What both executables do before they build their service: one place, so they cannot drift apart.
public enum CommandSupport {
    /// An environment variable, treating an empty value as unset (compose files often pass `VAR: ""`).
    public static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A boolean environment variable: 1, true or yes.
    public static func flag(_ name: String) -> Bool? {
        environment(name).map { ["1", "true", "yes"].contains($0.lowercased()) }
    }

    public static let logLevels = "trace, debug, info, notice, warning, error or critical"

    /// Logs to stderr at `level`, and swift-metrics into the returned Prometheus registry. Call once, from main.
    public static func bootstrap(logLevel level: Logger.Level, format: LogFormat = .text) -> PrometheusCollectorRegistry
    {
        bootstrapLogging(level: level, format: format)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// Logs to stderr at `level`, as text or JSON lines. Call once, from main.
    public static func bootstrapLogging(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
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

    /// Runs a server until SIGTERM or SIGINT, either of which starts its graceful shutdown.
    public static func run(_ server: some Service, logger: Logger) async throws {
        let services = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
    }
}
