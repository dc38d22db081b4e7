/// Which `Host` headers an HTTP port answers, against DNS rebinding: a hostile page whose name is made to point at
/// 127.0.0.1 (or at a private address) is same-origin with whatever answers there, so an operator's browser would
/// read the status page or /health for it, and its own Origin would equal its Host at /ws. A rebinding page always
/// arrives under its own name, never an IP address: so an IP literal, `localhost`, and the names a deployment lists
/// are answered, and other names are not (Syncthing's GUI host check and Vite's `allowedHosts` work the same way).
public struct HostAllowList: Sendable, Equatable {
    /// Lower-cased host names, without port.
    public let names: Set<String>

    public init(names: [String] = []) {
        self.names = Set(names.map { Self.normalized($0) }.filter { !$0.isEmpty })
    }

    /// `chat.example.com,status.example.com`, as the options take it.
    public init(parsing text: String) {
        self.init(names: text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
    }

    /// Whether a request with this `Host` header is answered. A request without one (HTTP/1.0, a probe) is: no
    /// browser sends a request without Host.
    public func allows(host header: String?) -> Bool {
        guard let header else { return true }
        let host = Self.hostname(of: header)
        if host.isEmpty { return false }
        if host == "localhost" || host.hasSuffix(".localhost") || Self.isAddressLiteral(host) { return true }
        return names.contains(host)
    }

    /// `Example.COM:8080` -> `example.com`; `[::1]:9000` -> `::1`; a trailing dot goes.
    static func hostname(of header: String) -> String {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { return "" }
            return String(trimmed[trimmed.index(after: trimmed.startIndex)..<close]).lowercased()
        }
        let host =
            trimmed.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return normalized(host)
    }

    private static func normalized(_ name: String) -> String {
        var host = name.lowercased()
        while host.hasSuffix(".") { host.removeLast() }
        return host
    }

    private static func isAddressLiteral(_ host: String) -> Bool {
        TrustedNetworks.bytes(of: host) != nil
    }
}
