import CNcurses

#if canImport(Glibc)
import Glibc
#endif

/// Set from signal handlers, read by the main loop: the only state a handler may touch.
nonisolated(unsafe) var terminationRequested: sig_atomic_t = 0
nonisolated(unsafe) var terminalActive: sig_atomic_t = 0

/// The terminal in curses mode, and the promise to give it back as found on every way out: a normal exit, a
/// termination signal (the main loop ends), or a crash signal (the handler restores it before dying).
enum Terminal {
    /// Color pairs used by the screen.
    enum Color: Int16 {
        case own = 1
        case direct
        case mention
        case error
        case online
        case bar
    }

    /// Wide characters need a UTF-8 locale; fall back to C.UTF-8 when the environment's is not one.
    static func prepareLocale() {
        setlocale(LC_ALL, "")
        if let codeset = nl_langinfo(nl_item(CODESET)), String(cString: codeset) != "UTF-8" {
            setlocale(LC_ALL, "C.UTF-8")
        }
    }

    static func start() {
        prepareLocale()
        installSignalHandlers()
        initscr()
        terminalActive = 1
        raw()  // Ctrl-C, Ctrl-Z and Ctrl-S arrive as keys: the client decides what they do
        noecho()
        nonl()
        keypad(chat_stdscr(), true)
        wtimeout(chat_stdscr(), 50)
        if has_colors() {
            start_color()
            use_default_colors()
            init_pair(Color.own.rawValue, Int16(COLOR_CYAN), -1)
            init_pair(Color.direct.rawValue, Int16(COLOR_MAGENTA), -1)
            init_pair(Color.mention.rawValue, Int16(COLOR_YELLOW), -1)
            init_pair(Color.error.rawValue, Int16(COLOR_RED), -1)
            init_pair(Color.online.rawValue, Int16(COLOR_GREEN), -1)
            init_pair(Color.bar.rawValue, Int16(COLOR_WHITE), Int16(COLOR_BLUE))
        }
    }

    static func end() {
        guard terminalActive != 0 else { return }
        terminalActive = 0
        endwin()
    }

    static func installSignalHandlers() {
        for quitting in [SIGTERM, SIGHUP, SIGINT] {
            signal(quitting) { _ in terminationRequested = 1 }
        }
        // A crash must not leave the terminal raw and without echo: restore it, then die of the same signal.
        for crash in [SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGTRAP] {
            signal(crash) { number in
                if terminalActive != 0 { endwin() }
                signal(number, SIG_DFL)
                raise(number)
            }
        }
        atexit { if terminalActive != 0 { endwin() } }
    }

    static func attribute(_ color: Color) -> Int32 { has_colors() ? chat_color_pair(color.rawValue) : 0 }
}
