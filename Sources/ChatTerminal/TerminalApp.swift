import CNcurses
import ChatClient
import ChatCore
import Foundation
import NIOConcurrencyHelpers
import NIOPosix

// One file because the full-screen client is one ncurses screen: its drawing, keys and connection events share
// the screen's state (sizes, scrollback, the editor) and run on one thread; the logic it shows is ClientState's.

/// The full-screen client: a room bar, the message pane, the people pane, a status line and the input line.
/// Everything happens on the main thread: connection events are queued by the event loop and applied between
/// keystrokes, so the state needs no lock.
public final class TerminalApp {
    private var state: ClientState
    private var editor = LineEditor()
    private let connection: ChatConnection
    private let inbox: NIOLockedValueBox<[ConnectionEvent]>
    private let server: String
    /// Rows scrolled up from the newest, per room.
    private var scrollBack: [RoomName: Int] = [:]
    /// The last draw showed the oldest line the room holds (scrolled to the top, or it all fits).
    private var atTop = false
    private var lastRefresh = Date()
    private var quitting = false

    public init(name: String?, password: Password? = nil, host: String, port: Int, tls: ClientTLS? = nil) {
        state = ClientState(name: name, password: password)
        server = "\(host):\(port)"
        let inbox = NIOLockedValueBox<[ConnectionEvent]>([])
        self.inbox = inbox
        connection = ChatConnection(host: host, port: port, tls: tls, group: MultiThreadedEventLoopGroup.singleton) {
            event in
            inbox.withLockedValue { $0.append(event) }
        }
    }

    public func run() -> Int32 {
        Terminal.start()
        defer { Terminal.end() }
        connection.start()
        var dirty = true
        var immediateFailures = 0
        var lastDraw = Date()
        while !quitting && terminationRequested == 0 {
            if applyInbox() { dirty = true }
            send(state.tick(now: Millis(Date().timeIntervalSince1970 * 1000)))
            if Date().timeIntervalSince(lastRefresh) > 30 {
                lastRefresh = Date()
                send(state.refreshRequests())
            }
            // Redraw at least twice a second, so "is typing" and the reconnect countdown stay current.
            if dirty || Date().timeIntervalSince(lastDraw) > 0.5 {
                draw()
                lastDraw = Date()
            }
            var key: wint_t = 0
            let waitStarted = DispatchTime.now().uptimeNanoseconds
            let kind = wget_wch(chat_stdscr(), &key)
            dirty = kind != ERR
            // A read that fails at once, again and again, means the terminal is gone (its window closed
            // without a SIGHUP reaching us): quit rather than spin.
            if kind == ERR && DispatchTime.now().uptimeNanoseconds - waitStarted < 5_000_000 {
                immediateFailures += 1
                if immediateFailures > 200 { break }
            } else {
                immediateFailures = 0
            }
            if kind == KEY_CODE_YES {
                handleKey(Int32(key))
            } else if kind == OK {
                handleCharacter(UInt32(key))
            }
        }
        if !quitting { send([Outgoing(.quit())]) }
        connection.stop()
        return 0
    }

    private func applyInbox() -> Bool {
        let events = inbox.withLockedValue { events -> [ConnectionEvent] in
            defer { events.removeAll() }
            return events
        }
        for event in events {
            switch event {
            case .opened:
                send(state.connectionOpened())
            case .line(let line):
                guard let decoded = JSONEventDecoder.decode(line) else { continue }
                if case .welcome = decoded.event { connection.resetBackoff() }
                send(state.receive(decoded, now: Millis(Date().timeIntervalSince1970 * 1000)))
            case .lost(let reason, let retryIn):
                state.connectionLost(reason: reason, retryInSeconds: retryIn)
                if case .closed = state.status { connection.stop() }
            case .failed(let reason):
                state.closed(reason)
            }
        }
        return !events.isEmpty
    }

    private func send(_ requests: [Outgoing]) {
        for request in requests { connection.send(request.json) }
    }

    // MARK: Keys

    private func handleKey(_ key: Int32) {
        let room = state.current
        switch key {
        case KEY_RESIZE: break  // ncurses has updated the size; the next draw re-flows everything
        case KEY_LEFT: editor.left()
        case KEY_RIGHT: editor.right()
        case KEY_HOME: editor.home()
        case KEY_END: editor.end()
        case KEY_UP: editor.historyUp()
        case KEY_DOWN: editor.historyDown()
        case KEY_BACKSPACE: editor.backspace()
        case KEY_DC: editor.deleteForward()
        case KEY_ENTER: submit()
        case KEY_PPAGE:
            guard let room else { break }
            // Already at the top of what is here: the page before it, from the server (and its archive).
            if atTop { send(state.olderHistory(of: room)) }
            scrollBack[room, default: 0] += max(1, messageRows - 2)
        case KEY_NPAGE: if let room { scrollBack[room] = max(0, (scrollBack[room] ?? 0) - max(1, messageRows - 2)) }
        default: break
        }
    }

    private func handleCharacter(_ code: UInt32) {
        switch code {
        case 10, 13: submit()
        case 8, 127: editor.backspace()
        case 9: complete()
        case 1: editor.home()
        case 5: editor.end()
        case 2: editor.left()
        case 6: editor.right()
        case 21: editor.deleteToStart()
        case 23: editor.deleteWordBackward()
        case 3: quit()
        case 4: if editor.isEmpty { quit() } else { editor.deleteForward() }
        case 14: state.selectRoom(offset: 1)
        case 16: state.selectRoom(offset: -1)
        case 12: clearok(chat_stdscr(), true)
        case 0..<32, 27: break
        default:
            if let scalar = Unicode.Scalar(code) {
                editor.insert(scalar: scalar)
                send(state.inputChanged(editor.text, now: Millis(Date().timeIntervalSince1970 * 1000)))
            }
        }
    }

    private func quit(saying message: String? = nil) {
        send([Outgoing(.quit(message: message))])
        quitting = true
    }

    private func submit() {
        let line = editor.submit(remember: !state.isSecret(editor.text))
        if let room = state.current { scrollBack[room] = 0 }
        switch state.submit(line, now: Millis(Date().timeIntervalSince1970 * 1000)) {
        case .send(let requests): send(requests)
        case .quit(let message): quit(saying: message)
        }
    }

    private func complete() {
        guard
            let result = Completion.complete(
                editor.text, cursor: editor.cursor, names: state.knownNames, rooms: state.rooms.map(\.value))
        else {
            beep()
            return
        }
        editor.replace(with: result.line, cursorAt: result.cursor)
    }

    // MARK: Drawing

    private var rows: Int { Int(chat_lines()) }
    private var columns: Int { Int(chat_columns()) }
    private var messageRows: Int { max(1, rows - 3) }
    private var peopleWidth: Int { columns >= 70 ? 22 : 0 }

    private func draw() {
        erase()
        guard rows >= 5, columns >= 20 else {
            put(0, 0, "terminal too small", width: columns)
            refresh()
            return
        }
        drawRoomBar()
        let messageWidth = columns - (peopleWidth > 0 ? peopleWidth + 1 : 0)
        drawMessages(width: messageWidth)
        if peopleWidth > 0 { drawPeople(at: messageWidth) }
        drawStatus()
        drawInput()
        refresh()
    }

    private func put(_ row: Int, _ column: Int, _ text: String, width: Int, attributes: Int32 = 0) {
        guard width > 0 else { return }
        if attributes != 0 { attron(attributes) }
        mvaddstr(Int32(row), Int32(column), String(DisplayWidth.prefix(of: text, fitting: width)))
        if attributes != 0 { attroff(attributes) }
    }

    /// A full-width bar: filled with spaces so its background spans the line.
    private func bar(_ row: Int, _ text: String, attributes: Int32) {
        let shown = String(DisplayWidth.prefix(of: text, fitting: columns))
        put(
            row, 0, shown + String(repeating: " ", count: max(0, columns - DisplayWidth.of(shown))), width: columns,
            attributes: attributes)
    }

    private func drawRoomBar() {
        let barAttributes = chat_attr_reverse()
        bar(0, "", attributes: barAttributes)
        var column = 0
        for room in state.rooms {
            let unread = state.views[room]?.unread ?? 0
            let label = " #\(room.value)\(unread > 0 ? " (\(unread))" : "") "
            let width = DisplayWidth.of(label)
            guard column + width <= columns else { break }
            let isCurrent = room == state.current
            put(
                0, column, label, width: width,
                attributes: isCurrent ? chat_attr_bold() : barAttributes | (unread > 0 ? chat_attr_bold() : 0))
            column += width + 1
        }
        // The current room's topic, in what is left of the bar.
        if let topic = state.currentView?.topic, column + 4 < columns {
            put(0, column, "| \(topic.text)", width: columns - column, attributes: barAttributes)
        }
    }

    /// Local time of day, HH:MM: the terminal is the user's, so its clock is theirs.
    private static func clock(_ millis: Millis) -> String {
        var seconds = time_t(millis / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return String(format: "%02d:%02d", parts.tm_hour, parts.tm_min)
    }

    /// One timeline line as screen rows of at most `width` columns, with its attributes. Continuations are
    /// indented under the text so the time column stays clear.
    private func render(_ line: TimelineLine, width: Int) -> [(String, Int32)] {
        let time = Self.clock(line.time) + " "
        let text: String
        var attributes: Int32 = 0
        switch line.kind {
        case .message(let own, let mentionsMe):
            text = "<\(line.from ?? "?")> \(line.text)"
            if own { attributes = Terminal.attribute(.own) | chat_attr_bold() }
            if mentionsMe { attributes = Terminal.attribute(.mention) | chat_attr_bold() }
        case .action(let own):
            text = "* \(line.from ?? "?") \(line.text)"
            if own { attributes = Terminal.attribute(.own) }
        case .direct(let outgoing):
            text = outgoing ? "[DM] \(line.text)" : "[DM] \(line.from ?? "?"): \(line.text)"
            attributes = Terminal.attribute(.direct) | chat_attr_bold()
        case .notice:
            text = "-- \(line.text)"
            attributes = chat_attr_dim()
        case .info:
            text = line.text
        case .error:
            text = "! \(line.text)"
            attributes = Terminal.attribute(.error)
        }
        let indent = DisplayWidth.of(time)
        let wrapped = DisplayWidth.wrap(text, columns: max(1, width - indent))
        return wrapped.enumerated().map { index, part in
            ((index == 0 ? time : String(repeating: " ", count: indent)) + part, attributes)
        }
    }

    private func drawMessages(width: Int) {
        let lines: [TimelineLine]
        if let view = state.currentView { lines = view.lines } else { lines = state.serverLines }
        let wanted = messageRows + (state.current.flatMap { scrollBack[$0] } ?? 0)
        // Render from the newest back, only as far as the screen (and the scroll) reaches.
        var screenRows: [(String, Int32)] = []
        var rendered = 0
        for line in lines.reversed() {
            screenRows.insert(contentsOf: render(line, width: width), at: 0)
            rendered += 1
            if screenRows.count >= wanted { break }
        }
        var offset = state.current.flatMap { scrollBack[$0] } ?? 0
        offset = min(offset, max(0, screenRows.count - messageRows))
        atTop = rendered == lines.count && offset >= screenRows.count - messageRows
        if let room = state.current { scrollBack[room] = offset }
        let end = screenRows.count - offset
        let visible = screenRows[max(0, end - messageRows)..<end]
        // Newest at the bottom, like every chat.
        var row = 1 + messageRows - visible.count
        for (text, attributes) in visible {
            put(row, 0, text, width: width, attributes: attributes)
            row += 1
        }
        if offset > 0 {
            put(
                messageRows, max(0, width - 24), " -- more below (PgDn) -- ", width: 25, attributes: chat_attr_reverse()
            )
        }
    }

    private func drawPeople(at column: Int) {
        for row in 1...messageRows { put(row, column, "│", width: 1, attributes: chat_attr_dim()) }
        let members = state.currentView?.sortedMembers ?? []
        put(1, column + 2, "People (\(members.count))", width: peopleWidth - 2, attributes: chat_attr_bold())
        for (index, member) in members.prefix(messageRows - 1).enumerated() {
            let row = 2 + index
            // Operators and voice as IRC shows them: @ and +.
            let shown = String(member.roles.prefixes.prefix(1)) + member.name
            switch member.presence {
            case .online:
                put(row, column + 2, "● ", width: 2, attributes: Terminal.attribute(.online))
                put(row, column + 4, shown, width: peopleWidth - 4)
            case .away:
                put(row, column + 2, "○ \(shown) (away)", width: peopleWidth - 2, attributes: chat_attr_dim())
            }
        }
    }

    private func drawStatus() {
        let who = state.confirmedName ?? state.name ?? "?"
        let connection: String
        switch state.status {
        case .connecting: connection = "connecting to \(server)..."
        case .choosingName: connection = "choosing a name"
        case .needsPassword: connection = "logging in"
        case .connected(let node):
            connection = state.isResuming ? "resuming on \(node)..." : "connected to \(node) via \(server)"
        case .reconnecting(let reason, let retry):
            connection = "reconnecting in \(String(format: "%.1f", retry)) s (\(reason))"
        case .closed(let reason): connection = "closed: \(reason)"
        }
        let now = Millis(Date().timeIntervalSince1970 * 1000)
        let typists = state.current.map { state.typingNames(in: $0, now: now) } ?? []
        let typing =
            switch typists.count {
            case 0: ""
            case 1: "\(typists[0]) is typing... | "
            default: "\(typists.prefix(3).joined(separator: ", ")) are typing... | "
            }
        bar(
            rows - 2, " \(who) | \(connection) | \(typing)Tab completes, PgUp/PgDn scroll, Ctrl-N/P rooms, /help",
            attributes: chat_attr_reverse())
    }

    private func drawInput() {
        var prompt = "> "
        var hidden = false
        if case .choosingName(let reason) = state.status {
            prompt = (reason.map { "\($0). " } ?? "") + "Your name: "
        } else if case .needsPassword(let reason) = state.status {
            prompt = "\(reason). Password: "
            hidden = true
        }
        let promptShown = String(DisplayWidth.prefix(of: prompt, fitting: columns / 2))
        let promptWidth = DisplayWidth.of(promptShown)
        var view = editor.view(columns: columns - promptWidth)
        // A password shows as one star per character, never as itself.
        if hidden { view.text = String(repeating: "*", count: view.text.count) }
        put(rows - 1, 0, promptShown, width: promptWidth, attributes: chat_attr_bold())
        put(rows - 1, promptWidth, view.text, width: columns - promptWidth)
        move(Int32(rows - 1), Int32(promptWidth + view.cursorColumn))
    }
}
