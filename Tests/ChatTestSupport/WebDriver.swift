import Foundation

/// A real headless Chromium driven through chromedriver's W3C WebDriver HTTP API (Debian's chromium and
/// chromium-driver): open a page, find elements, type, click, read text, run a script, take a screenshot.
public final class WebDriver: @unchecked Sendable {
    private let driver: TestProcess
    private let port: Int
    private var session = ""

    /// `extraArguments`: more Chromium flags (a test CA's key pin for https, say).
    public init(logDirectory: String, width: Int = 1200, height: Int = 800, extraArguments: [String] = []) throws {
        port = try TestEnvironment.freePort()
        driver = try TestProcess(
            executable: "/usr/bin/chromedriver", arguments: ["--port=\(port)"], logDirectory: logDirectory,
            name: "chromedriver")
        guard eventually(timeout: 20, { (try? self.call("GET", "/status")) != nil }) else {
            throw HarnessError("chromedriver did not start: \(driver.stderr())")
        }
        let options: [String: Any] = [
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=\(width),\(height)",
            ]
                + extraArguments,
        ]
        let created = try call(
            "POST", "/session",
            [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome", "goog:chromeOptions": options, "goog:loggingPrefs": ["browser": "ALL"],
                    ]
                ]
            ])
        guard let id = (created as? [String: Any])?["sessionId"] as? String else {
            throw HarnessError("no WebDriver session: \(created)")
        }
        session = "/session/\(id)"
    }

    deinit {
        _ = try? call("DELETE", session)
        // The browser went with its session. chromedriver ignores SIGTERM (each teardown waited 5 s for it, 50 s of
        // the test command), so it is killed.
        driver.signal(SIGKILL)
        driver.waitForExit(timeout: 5)
    }

    public func open(_ url: String) throws { _ = try call("POST", session + "/url", ["url": url]) }

    /// The first element matching `css`, waiting up to `timeout` for it.
    public func element(_ css: String, timeout: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let found = try? call("POST", session + "/element", ["using": "css selector", "value": css])
                as? [String: Any],
                let id = found.values.first as? String
            {
                return id
            }
            guard Date() < deadline else { throw HarnessError("no element \(css) within \(timeout) s") }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    public func type(_ text: String, into css: String) throws {
        _ = try call("POST", session + "/element/\(try element(css))/value", ["text": text])
    }

    public func click(_ css: String) throws {
        _ = try call("POST", session + "/element/\(try element(css))/click", [:])
    }

    /// The chat page (opened already): picks `name` and waits until it is welcomed.
    public func logIn(as name: String) throws {
        try type(name, into: "#name")
        try click("#login button[type=submit]")
        try waitForText("#status") { $0.contains("\(name) on node") }
    }

    /// Types a line into the chat page's input and sends it, as a person does.
    public func say(_ line: String) throws {
        try type(line, into: "#input")
        try click("#compose button[type=submit]")
    }

    public func text(_ css: String) throws -> String {
        (try call("GET", session + "/element/\(try element(css))/text") as? String) ?? ""
    }

    /// Runs `script` (a function body) in the page and returns its result.
    public func execute(_ script: String) throws -> Any {
        try call("POST", session + "/execute/sync", ["script": script, "args": []])
    }

    /// Polls `css`'s text until `match` holds; throws with the last text.
    @discardableResult
    public func waitForText(_ css: String, timeout: Double = 10, _ match: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = (try? text(css)) ?? ""
            if match(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessError("\(css) never matched within \(timeout) s; its text was: \(last)")
    }

    /// What the page logged (errors included), for a failing test's message.
    public func consoleLog() -> String {
        let entries = (try? call("POST", session + "/se/log", ["type": "browser"])) as? [[String: Any]] ?? []
        return entries.map { "\($0["level"] ?? ""): \($0["message"] ?? "")" }.joined(separator: "\n")
    }

    /// Makes the page see the system's dark (or light) preference, as a phone set to dark mode does.
    public func prefersColorScheme(_ scheme: String) throws {
        _ = try call(
            "POST", session + "/goog/cdp/execute",
            [
                "cmd": "Emulation.setEmulatedMedia",
                "params": ["features": [["name": "prefers-color-scheme", "value": scheme]]],
            ])
    }

    public func resize(width: Int, height: Int) throws {
        _ = try call("POST", session + "/window/rect", ["width": width, "height": height])
    }

    public func screenshot(to path: String) throws {
        guard let encoded = try call("GET", session + "/screenshot") as? String, let png = Data(base64Encoded: encoded)
        else {
            throw HarnessError("no screenshot")
        }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: path))
    }

    /// One WebDriver command; returns its `value`, throws its error. Plain HTTP/1.1 over a socket: Foundation's
    /// URLSession on Linux fails against chromedriver ("Failed writing header").
    @discardableResult
    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let socket = try TestSocket(port: port, name: "webdriver")
        defer { socket.close() }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if body != nil { request += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        try socket.sendRaw(Array((request + "\r\n").utf8) + Array(payload))
        // Read by the headers: chromedriver keeps the connection open whatever the request says.
        var headers: [String] = []
        while let line = socket.readLine(timeout: 60), !line.isEmpty { headers.append(line.lowercased()) }
        var content: [UInt8] = []
        if let length = headers.first(where: { $0.hasPrefix("content-length:") }).flatMap({
            Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces))
        }) {
            content = socket.readBytes(length, timeout: 60) ?? []
        } else if headers.contains("transfer-encoding: chunked") {
            while let sizeLine = socket.readLine(timeout: 60),
                let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16), size > 0
            {
                content += socket.readBytes(size, timeout: 60) ?? []
                _ = socket.readLine(timeout: 60)
            }
        }
        let object =
            try JSONSerialization.jsonObject(with: Data(content), options: [.fragmentsAllowed]) as? [String: Any]
        let value = object?["value"] ?? NSNull()
        if let failure = value as? [String: Any], let error = failure["error"] as? String {
            throw HarnessError("WebDriver \(method) \(path): \(error): \(failure["message"] ?? "")")
        }
        return value
    }
}
