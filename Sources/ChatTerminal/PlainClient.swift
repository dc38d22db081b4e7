import ChatClient
import ChatCore
import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// The line mode, for scripts and when stdout is not a terminal: reads lines from stdin (messages and
/// /commands, as in text mode), prints every event as the text mode prints it, reconnects and resumes like the
/// full-screen client. Ends when stdin ends.
public final class PlainClient {
    private enum Input: Sendable {
        case connection(ConnectionEvent)
        case line(String)
        case endOfInput
    }

    private var state: ClientState
    private let connection: ChatConnection
    private let inbox: NIOLockedValueBox<[Input]>
    private let wake: DispatchSemaphore

    public init(name: String?, password: Password? = nil, host: String, port: Int, tls: ClientTLS? = nil) {
        state = ClientState(name: name, password: password)
        let inbox = NIOLockedValueBox<[Input]>([])
        let wake = DispatchSemaphore(value: 0)
        self.inbox = inbox
        self.wake = wake
        connection = ChatConnection(host: host, port: port, tls: tls, group: MultiThreadedEventLoopGroup.singleton) {
            event in
            inbox.withLockedValue { $0.append(.connection(event)) }
            wake.signal()
        }
    }

    public func run() -> Int32 {
        let inbox = self.inbox
        let wake = self.wake
        let reader = Thread {
            while let line = readLine() {
                inbox.withLockedValue { $0.append(.line(line)) }
                wake.signal()
            }
            inbox.withLockedValue { $0.append(.endOfInput) }
            wake.signal()
        }
        reader.start()
        connection.start()
        var pendingLines: [String] = []
        var quitAt: Date?
        /// Stdin ended: quit once the lines read before it are sent (or give up after a while unconnected).
        var inputEnded = false
        while quitAt.map({ Date() < $0 }) ?? true {
            _ = wake.wait(timeout: .now() + .milliseconds(100))
            send(state.tick(now: Millis(Date().timeIntervalSince1970 * 1000)))
            for input in inbox.withLockedValue({ inbox -> [Input] in
                defer { inbox.removeAll() }
                return inbox
            }) {
                switch input {
                case .connection(.opened):
                    send(state.connectionOpened())
                    if case .choosingName = state.status { say("* what is your name?") }
                case .connection(.line(let line)):
                    guard let decoded = JSONEventDecoder.decode(line) else { continue }
                    if case .welcome = decoded.event { connection.resetBackoff() }
                    let quiet = decoded.requestID == JSONWriter.quoted(Outgoing.automatic)
                    let caughtUp = resumedHistory(decoded)
                    send(state.receive(decoded, now: Millis(Date().timeIntervalSince1970 * 1000)))
                    if case .choosingName(let reason) = state.status {
                        say("! \(reason ?? "that name is not available"); type another name")
                    } else if case .needsPassword(let reason) = state.status {
                        if !pendingLines.isEmpty {
                            // A script wrote the password before it was asked for: its first line is it (never a
                            // message to anyone).
                            submit(pendingLines.removeFirst(), quitAt: &quitAt)
                        } else {
                            say("! \(reason); type the password (or pass --password-file)")
                            // Typed at a terminal, the password is not shown as it is typed.
                            StdinEcho.set(on: false)
                        }
                    } else if let caughtUp {
                        for message in caughtUp {
                            for text in TextRenderer.lines(
                                .message(message), viewer: state.confirmedName, now: decoded.time)
                            { say(text) }
                        }
                    } else if !quiet, !isTypingNotice(decoded), !isFilledGap(decoded) {
                        for text in TextRenderer.lines(decoded.event, viewer: state.confirmedName, now: decoded.time) {
                            say(text)
                        }
                    }
                    if case .connected = state.status, state.current != nil, !pendingLines.isEmpty {
                        // Lines read before we were in a room were waiting for one.
                        for line in pendingLines { submit(line, quitAt: &quitAt) }
                        pendingLines = []
                        if inputEnded {
                            // (quitAt may hold the give-up time set when stdin ended before we were in.)
                            send([Outgoing(.quit())])
                            quitAt = Date().addingTimeInterval(2)
                        }
                    }
                    if case .bye = decoded.event, quitAt != nil { quitAt = Date() }
                case .connection(.failed(let reason)):
                    say("! \(reason)")
                    StdinEcho.set(on: true)
                    connection.stop()
                    return 1
                case .connection(.lost(let reason, let retryIn)):
                    state.connectionLost(reason: reason, retryInSeconds: retryIn)
                    if case .closed(let why) = state.status {
                        say("! \(why)")
                        StdinEcho.set(on: true)
                        connection.stop()
                        return 1
                    }
                    if quitAt != nil {
                        quitAt = Date()
                    } else {
                        say("* reconnecting in \(String(format: "%.1f", retryIn)) s (\(reason))")
                    }
                case .line(let line):
                    if case .choosingName = state.status {
                        submit(line, quitAt: &quitAt)
                    } else if case .needsPassword = state.status {
                        StdinEcho.set(on: true)
                        submit(line, quitAt: &quitAt)
                    } else if case .connected = state.status, state.current != nil, pendingLines.isEmpty {
                        submit(line, quitAt: &quitAt)
                    } else {
                        pendingLines.append(line)
                    }
                case .endOfInput:
                    inputEnded = true
                    if quitAt == nil, pendingLines.isEmpty, case .connected = state.status {
                        send([Outgoing(.quit())])
                        quitAt = Date().addingTimeInterval(2)
                    } else if quitAt == nil {
                        // Still connecting (or choosing a name): the lines wait; give up if that never happens.
                        quitAt = Date().addingTimeInterval(30)
                    }
                }
            }
        }
        StdinEcho.set(on: true)
        connection.stop()
        return 0
    }

    /// A script's output is not the place for "bob is typing".
    private func isTypingNotice(_ decoded: JSONEventDecoder.Decoded) -> Bool {
        if case .typing = decoded.event { return true }
        return false
    }

    /// After a reconnect, a room's join reply carries what was missed there, and so do the pages read after it:
    /// news are those messages, not the join. Nil for anything else.
    private func resumedHistory(_ decoded: JSONEventDecoder.Decoded) -> [ChatMessage]? {
        switch decoded.event {
        case .youJoined(let room, let history, _) where state.isResuming(room): return history
        case .history(_, let messages, _) where decoded.requestID == JSONWriter.quoted(Outgoing.page): return messages
        default: return nil
        }
    }

    /// A gap of messages that are still kept is filled in by reading them; only a loss is news.
    private func isFilledGap(_ decoded: JSONEventDecoder.Decoded) -> Bool {
        if case .gap(_, _, let lost, _) = decoded.event { return !lost }
        return false
    }

    private func submit(_ line: String, quitAt: inout Date?) {
        switch state.submit(line, now: Millis(Date().timeIntervalSince1970 * 1000)) {
        case .send(let requests): send(requests)
        case .quit(let message):
            send([Outgoing(.quit(message: message))])
            quitAt = Date().addingTimeInterval(2)
        }
    }

    private func send(_ requests: [Outgoing]) {
        for request in requests { connection.send(request.json) }
    }

    /// One line, written at once (a script reading our output must not wait for a buffer to fill).
    private func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
}

/// The terminal's echo of what is typed on stdin, turned off while a password is typed (when stdin is a terminal at
/// all; a pipe has no echo).
enum StdinEcho {
    static func set(on: Bool) {
        guard isatty(STDIN_FILENO) == 1 else { return }
        var settings = termios()
        guard tcgetattr(STDIN_FILENO, &settings) == 0 else { return }
        let echo = tcflag_t(ECHO)
        if on { settings.c_lflag |= echo } else { settings.c_lflag &= ~echo }
        tcsetattr(STDIN_FILENO, TCSANOW, &settings)
    }
}
