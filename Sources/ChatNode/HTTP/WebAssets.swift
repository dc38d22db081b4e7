import ChatCommandSupport

/// The web client's files, shipped in the package as resources (Sources/ChatNode/Web) and read once: no build
/// step, nothing fetched from elsewhere at run time.
enum WebAssets {
    static let securityHeaders = StaticFiles.securityHeaders

    private static let files = StaticFiles(
        target: "ChatNode", directory: "Web",
        names: [
            "index.html", "app.js", "app.css", "manifest.webmanifest", "icon-32.png", "icon-192.png", "icon-512.png",
        ])

    static func asset(for path: String) -> StaticFiles.File? { files.file(at: path) }
}
