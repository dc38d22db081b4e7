import Endpoints

/// Where spans are posted: an OTLP/HTTP collector, as `OTEL_EXPORTER_OTLP_ENDPOINT` names it. A base address
/// (`http://collector:4318`) gets the traces path (`/v1/traces`) appended; an address already ending in it is used as
/// it is. Plain HTTP only: the collector is meant to run beside the node (the OpenTelemetry Collector as an agent or
/// sidecar), and it carries spans on from there over whatever the backend wants.
public struct OTLPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var address: HostPort
    public var path: String

    public init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var path = String(rest.dropFirst(authority.count))
        guard !path.contains("?"), !path.contains("#"), !authority.isEmpty, !authority.contains("@") else {
            return nil
        }
        // A port is optional: the OTLP/HTTP one. The host must parse either way.
        let address =
            HostPort(parsing: authority)
            ?? (authority.hasSuffix("]") || !authority.contains(":") ? HostPort(parsing: authority + ":4318") : nil)
        guard let address, (1...65_535).contains(address.port),
            !address.host.contains(":") || authority.hasPrefix("[")
        else { return nil }
        while path.hasSuffix("/") { path.removeLast() }
        if !path.hasSuffix("/v1/traces") { path += "/v1/traces" }
        self.address = address
        self.path = path
    }

    public var description: String { "http://\(address)\(path)" }
}
