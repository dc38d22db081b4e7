import ArgumentParser
import ChatClient
import ChatCore
import ChatTerminal
import Endpoints
import Foundation

/// `chat`: the terminal client. Full-screen (ncurses) on a terminal; a line mode for scripts otherwise.
@main
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat in a terminal with everyone on the cluster.",
        discussion: "Keys: Enter sends, Tab completes names, #rooms and /commands, Up/Down recall sent lines, "
            + "PgUp/PgDn scroll, Ctrl-N/Ctrl-P switch rooms, Ctrl-C or /quit leaves.",
        version: ChatVersion.number)

    @Option(help: "Your name (asked for when missing or taken).")
    var name: String?

    @Option(help: "HOST:PORT of the balancer or a node. [CHAT_SERVER]")
    var server = ProcessInfo.processInfo.environment["CHAT_SERVER"] ?? "localhost:7000"

    @Flag(help: "Line mode: read stdin, print events as text lines (the default when stdout is not a terminal).")
    var plain = false

    @Flag(help: "Connect with TLS (the balancer's --tls-port), verifying the server's certificate.")
    var tls = false

    @Option(
        name: .customLong("ca-file"),
        help: "PEM certificates to trust instead of the system's (with --tls), e.g. a development CA.")
    var caFile: String?

    @Option(
        name: .customLong("password-file"),
        help: "A file whose first line is your registered name's password (asked for when missing).")
    var passwordFile: String?

    func run() throws {
        guard let endpoint = HostPort(parsing: server) else {
            throw ValidationError("--server: '\(server)' is not HOST:PORT")
        }
        var password: Password?
        if let passwordFile {
            guard let contents = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ValidationError("--password-file: cannot read '\(passwordFile)'")
            }
            let line = contents.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            do {
                password = try Password(given: String(line).trimmingCharacters(in: CharacterSet(charactersIn: "\r")))
            } catch { throw ValidationError("--password-file: \(error.message)") }
        }
        guard tls || caFile == nil else { throw ValidationError("--ca-file goes with --tls") }
        var clientTLS: ClientTLS?
        if tls {
            do { clientTLS = try ClientTLS(caFile: caFile) } catch { throw ValidationError("\(error)") }
        }
        let status: Int32
        if plain || isatty(STDOUT_FILENO) == 0 || isatty(STDIN_FILENO) == 0 {
            status = PlainClient(
                name: name, password: password, host: endpoint.host, port: endpoint.port, tls: clientTLS
            ).run()
        } else {
            status = TerminalApp(
                name: name, password: password, host: endpoint.host, port: endpoint.port, tls: clientTLS
            ).run()
        }
        throw ExitCode(status)
    }
}
