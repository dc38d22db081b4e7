import ChatCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOWebSocket

// Every parser that reads what a stranger sends, one harness each. A harness returns normally for any input: it
// traps only when the parser crashes, hangs or breaks a property its callers rely on (checked with `require`).
// The parsers of other modules are compiled here from their own source files (Shared/, symlinks), so the fuzzer
// needs ChatCore and SwiftNIO only, not the whole node.

/// Stops the run with what was broken: libFuzzer saves the input that did it.
func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !condition() { fatalError("property broken: \(what())") }
}

/// The input as lines, the way the line framer cuts them (LF, an optional CR before it).
func lines(_ bytes: [UInt8]) -> [String] {
    bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
        String(decoding: line.last == 13 ? line.dropLast() : line[...], as: UTF8.self)
    }
}

enum FuzzTarget: String, CaseIterable {
    case irc
    case jsonRequest = "json-request"
    case jsonEvent = "json-event"
    case text, proxy, host, names, search
    case lineFramer = "line-framer"
    case resp, prometheus, websocket
    case httpHead = "http-head"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .irc: Self.irc(bytes)
        case .jsonRequest: Self.jsonRequest(bytes)
        case .jsonEvent: for line in lines(bytes) { _ = JSONEventDecoder.decode(line) }
        case .text: Self.text(bytes)
        case .proxy: Self.proxy(bytes)
        case .host: for line in lines(bytes) { _ = HostAllowList(names: ["chat.example.com"]).allows(host: line) }
        case .names: Self.names(bytes)
        case .search: Self.search(bytes)
        case .lineFramer: Self.lineFramer(bytes)
        case .resp: Self.resp(bytes)
        case .prometheus: Self.prometheus(bytes)
        case .websocket: Self.websocket(bytes)
        case .httpHead: Self.httpHead(bytes)
        }
    }

    /// Each line parsed as IRC, and the parsed message read back the same after serializing (unless the line holds
    /// a CR, which serializing writes as a space outside tags); then the whole input fed to one IRC session,
    /// registration and all, as a client would send it.
    static func irc(_ bytes: [UInt8]) {
        var session = IRCSession(serverName: "fuzz.example")
        for line in lines(bytes) {
            guard let message = try? IRCMessage(parsing: line[...]) else { continue }
            // Without a colon where none is needed, the line is no longer than the one read, so it fits too.
            let written = message.serialized(trailingColon: false)
            let again = try? IRCMessage(parsing: written[...])
            require(
                again == message || line.utf8.contains(13),
                "\(message) serialized as \(written) reads back as \(String(describing: again))")
            let output = session.receive(message, now: 1_000)
            for reply in output.replies { _ = reply.serialized() }
        }
    }

    /// Each line as a JSON request; a request that parses encodes back to one that parses the same.
    static func jsonRequest(_ bytes: [UInt8]) {
        _ = FlatJSON.parse(bytes)
        for line in lines(bytes) {
            let parsed = JSONRequestParser.parse(line)
            guard case .success(let request) = parsed.request else { continue }
            let encoded = JSONRequestEncoder.object(request)
            let again = JSONRequestParser.parse(encoded).request
            require(again == .success(request), "\(request) encoded as \(encoded) parses as \(again)")
        }
    }

    /// A text-mode line: cleaned as the node cleans it, then parsed. Cleaning is idempotent and leaves no
    /// control character but tab.
    static func text(_ bytes: [UInt8]) {
        let cleaned = Sanitizer.clean(TelnetFilter.strip(bytes))
        require(Sanitizer.clean(cleaned) == cleaned, "cleaning \(cleaned.debugDescription) again changes it")
        require(
            !cleaned.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" || (0x7F...0x9F).contains($0.value) },
            "a control character survived: \(cleaned.debugDescription)")
        _ = try? TextCommandParser.parse(cleaned)
    }

    /// A PROXY v1 header: one that parses is written back as the same line.
    static func proxy(_ bytes: [UInt8]) {
        for line in lines(bytes) {
            guard let header = ProxyHeader(parsing: line[...]) else { continue }
            // "\r\n" is one Character: dropLast() takes it off.
            require(ProxyHeader(parsing: header.line.dropLast()) == header, "\(line) does not read back")
        }
    }

    /// Names and rooms through ICU: a valid name's display validates again to the same key.
    static func names(_ bytes: [UInt8]) {
        for line in lines(bytes) {
            if let name = try? UserName(validating: line) {
                let again = try? UserName(validating: name.display)
                require(
                    again?.key == name.key, "\(name.display.debugDescription) validates differently the second time")
                _ = name.lookAlikeKeys
            }
            _ = try? RoomName(validating: line)
        }
    }

    /// Each line as a message the archive indexes and as a search someone typed: the terms stay within the bounds
    /// PostgreSQL takes (a lexeme's length, a vector's positions), a search names no more than its cap, and each
    /// quote in a literal is doubled (an odd count would end the literal early).
    static func search(_ bytes: [UInt8]) {
        for line in lines(bytes) {
            let terms = SearchTerms.terms(of: line)
            require(terms.count <= SearchTerms.maximumPositions, "\(terms.count) positions")
            require(
                terms.allSatisfy { !$0.isEmpty && $0.utf8.count <= SearchTerms.maximumTermBytes },
                "a term is empty or too long")
            let vector = SearchTerms.vector(of: line)
            // Counted in code points, as PostgreSQL reads the literal (a character may join a quote to a letter).
            require(
                terms.allSatisfy { !$0.unicodeScalars.contains("'") && !$0.unicodeScalars.contains("\\") },
                "a quote or a backslash in a term")
            require(
                vector.unicodeScalars.filter { $0 == "'" }.count % 2 == 0,
                "unbalanced quotes in \(vector.debugDescription)")
            if let query = SearchTerms.query(line) {
                require(
                    query.unicodeScalars.filter { $0 == "'" }.count % 2 == 0,
                    "unbalanced quotes in \(query.debugDescription)")
                require(
                    query.components(separatedBy: "' ").count - 1 <= SearchTerms.maximumQueryTerms * 2,
                    "too many terms in \(query.debugDescription)")
            }
            _ = try? SearchRequest.parseText(line[...])
        }
    }

    /// The first byte cuts the rest into reads of that size (at least 1): every line the framer gives is within
    /// its limit and holds no newline, whatever the reads.
    static func lineFramer(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let step = Int(first % 97) + 1
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: 64)))
        var rest = bytes.dropFirst()[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(step)
            rest = rest.dropFirst(step)
            try? channel.writeInbound(ByteBuffer(bytes: chunk))
        }
        _ = try? channel.finish()
        while let line = try? channel.readInbound(as: InboundLine.self) {
            if case .line(let bytes) = line {
                require(
                    bytes.count <= 64 && !bytes.contains(UInt8(ascii: "\n")), "a line of \(bytes.count) bytes passed")
            }
        }
    }

    /// Redis replies through hiredis, fed in reads of the first byte's size, as a hostile or broken server might
    /// answer.
    static func resp(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let step = Int(first % 61) + 1
        let reader = HiredisReader()
        var rest = bytes.dropFirst()[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(step)
            rest = rest.dropFirst(step)
            guard (try? reader.feed(ByteBuffer(bytes: chunk))) != nil else { return }
            // nil: more bytes needed; a throw (a protocol error) ends the read, as it ends the connection.
            while let value = try? reader.next() { _ = value.string }
        }
    }

    /// A node's /metrics as the balancer's status page reads it.
    static func prometheus(_ bytes: [UInt8]) {
        let text = PrometheusText(String(decoding: bytes, as: UTF8.self))
        for sample in text.samples.prefix(8) {
            _ = text.total(String(sample.name))
            let buckets = text.buckets(String(sample.name))
            _ = PrometheusText.quantile(0.99, from: [], to: buckets)
        }
    }

    /// WebSocket frames from a client, as the node decodes and joins them.
    static func websocket(_ bytes: [UInt8]) {
        let channel = EmbeddedChannel()
        try? channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 4096)),
            NIOWebSocketFrameAggregator(
                minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: 4096),
        ])
        try? channel.writeInbound(ByteBuffer(bytes: bytes))
        while let frame = try? channel.readInbound(as: WebSocketFrame.self) { _ = frame.unmaskedData }
        _ = try? channel.finish()
    }

    /// Request heads as the node's HTTP ports parse them, pipelined.
    static func httpHead(_ bytes: [UInt8]) {
        let channel = EmbeddedChannel()
        // Without the pipelining handler every pipelined request reaches the parser's reader, not only the first.
        try? channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
        try? channel.writeInbound(ByteBuffer(bytes: bytes))
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .head(let head) = part {
                _ = HostAllowList().allows(host: head.headers.first(name: "host"))
                _ = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first
            }
        }
        _ = try? channel.finish()
    }
}
