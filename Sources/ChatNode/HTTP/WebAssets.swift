import Foundation
import NIOCore

/// The web client's files, shipped in the package as resources (Sources/ChatNode/Web) and read once: no build
/// step, nothing fetched from elsewhere at run time.
enum WebAssets {
    struct Asset: Sendable {
        var body: ByteBuffer
        var contentType: String
    }

    /// Scripts only from this origin (none inline), no plugins, no framing; WebSocket to this origin.
    static let securityHeaders: [(String, String)] = [
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ]

    private static let files: [String: Asset] = {
        var files: [String: Asset] = [:]
        for (name, type) in [("index.html", "text/html; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8")] {
            let parts = name.split(separator: ".")
            guard let url = Bundle.module.url(forResource: String(parts[0]), withExtension: String(parts[1]), subdirectory: "Web"),
                let data = try? Data(contentsOf: url)
            else { continue }
            files["/" + name] = Asset(body: ByteBuffer(bytes: data), contentType: type)
        }
        files["/"] = files["/index.html"]
        return files
    }()

    static func asset(for path: String) -> Asset? { files[path] }
}
