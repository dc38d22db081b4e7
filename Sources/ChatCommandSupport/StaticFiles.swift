import Foundation
import NIOCore

/// A page shipped as a SwiftPM resource bundle (the node's web client, the balancer's status page): read once, from
/// the bundle SwiftPM puts beside the executable (`.build/<config>/`, and where deploy/Dockerfile copies it), and
/// served with one security policy. Looked up by hand rather than through `Bundle.module`, which ends the process
/// when its bundle is missing: a server without its page must still serve everything else.
public struct StaticFiles: Sendable {
    public struct File: Sendable {
        public var body: ByteBuffer
        public var contentType: String

        public init(body: ByteBuffer, contentType: String) {
            self.body = body
            self.contentType = contentType
        }
    }

    /// Scripts, styles and images only from this origin (nothing inline), no plugins, no framing; fetches and
    /// WebSockets to this origin.
    public static let securityHeaders: [(String, String)] = [
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                + "manifest-src 'self'; "
                + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ]

    /// By path: `/name` for each file found, and `/` for `index.html`.
    public let files: [String: File]

    /// `target`: the SwiftPM target whose resources these are; `directory`: the folder it copies (`.copy(...)`).
    public init(target: String, directory: String, names: [String]) {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
            .appendingPathComponent("swift-redis-chat_\(target).resources").appendingPathComponent(directory)
        var files: [String: File] = [:]
        for name in names {
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)) else { continue }
            files["/" + name] = File(body: ByteBuffer(bytes: data), contentType: Self.contentType(of: name))
        }
        files["/"] = files["/index.html"]
        // Browsers ask for /favicon.ico whatever the page links: the small icon (a PNG, which they all read).
        files["/favicon.ico"] = files["/icon-32.png"]
        self.files = files
    }

    public func file(at path: String) -> File? { files[path] }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "png": "image/png"
        case "webmanifest": "application/manifest+json"
        default: "application/octet-stream"
        }
    }
}
