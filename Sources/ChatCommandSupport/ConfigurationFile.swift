import ArgumentParser
import ChatCore
import Foundation
import NIOConcurrencyHelpers
import Yams

/// `--config FILE`: a server's options in a YAML file, keyed by their long names (`rate-limit: 20`). A flag on the
/// command line wins over the environment, and the environment over the file: the file answers for the environment
/// variables that are not set (each option already falls back to one, `[CHAT_RATE_LIMIT]` in its help; the file is
/// read before the command line is parsed, and the process's environment itself is never written). So there is one way an option is read, whatever it came from, and the precedence is
/// the one containers expect (a file baked into an image, an environment variable from the orchestrator for one
/// deployment, a flag for one run). The options are known from swift-argument-parser's own description of the
/// command (`_dumpHelp`, what `--experimental-dump-help` prints): a key that is not an option is an error, not
/// silently ignored, and `--print-config` writes every option with its help and default from the same source.
public enum ConfigurationFile {
    /// An option as the command declares it.
    struct Setting: Equatable {
        var key: String
        var environment: String
        var isFlag: Bool
        var help: String
        var defaultValue: String?
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    /// The file read at start, for SIGHUP to reread.
    struct Loaded {
        var path: String
        var settings: [Setting]
        var arguments: [String]
        /// What the file sets, by environment variable: `CommandSupport.environment` answers from it for a variable
        /// the real environment does not set. Never written into the process's environment (setenv while other
        /// threads read it, as glibc's time functions do, is undefined behaviour).
        var values: [String: String]
    }

    private static let loaded = NIOLockedValueBox<Loaded?>(nil)

    /// The file's value for an environment variable, when a file was given.
    static func value(of variable: String) -> String? { loaded.withLockedValue { $0?.values[variable] } }

    /// Reads the file `--config FILE` (or `<PREFIX>_CONFIG`) names, if any, so that it answers for the environment
    /// variables the environment does not set. Call first thing in main, before the command line is parsed.
    /// The environment's own values are checked as a file's are first (`checkEnvironment`).
    public static func prepare(_ command: any ParsableCommand.Type, prefix: String, arguments: [String]) throws {
        let settings = settings(of: command)
        // --print-config shows the defaults whatever the environment says, so it has nothing to refuse there.
        if !arguments.contains("--print-config") { try checkEnvironment(settings, arguments: arguments) }
        guard let path = path(in: arguments) ?? CommandSupport.environment(prefix + "_CONFIG") else { return }
        let values = Dictionary(try values(path: path, settings: settings), uniquingKeysWith: { _, last in last })
        loaded.withLockedValue { $0 = Loaded(path: path, settings: settings, arguments: arguments, values: values) }
    }

    /// What rereading the file changed.
    public struct Reread: Sendable {
        /// The file read at start.
        public var path: String
        /// Options whose value in the file changed and now count: parse the command line again (`arguments`, as at
        /// start) to see them.
        public var changed: [String]
        /// Options changed in the file that a flag or an environment variable sets, which win over it.
        public var overridden: [String]
        public var arguments: [String]
    }

    /// Reads the file given at start again (SIGHUP): nil when there was none. Nothing changes when the file cannot
    /// be read or has an error. The file's new values count at once (so parsing the command line again sees them):
    /// `restore(_:)` with the returned `previous` puts the old ones back when the new ones are refused.
    public static func reread() throws -> (reread: Reread, previous: [String: String])? {
        guard let current = loaded.withLockedValue({ $0 }) else { return nil }
        let fresh = Dictionary(
            try values(path: current.path, settings: current.settings), uniquingKeysWith: { _, last in last })
        var result = Reread(path: current.path, changed: [], overridden: [], arguments: current.arguments)
        for setting in current.settings {
            let variable = setting.environment
            guard current.values[variable] != fresh[variable] else { continue }
            let setOutside = CommandSupport.realEnvironment(variable) != nil
            if setOutside || isGiven(setting, in: current.arguments) {
                if fresh[variable] != nil { result.overridden.append(setting.key) }
            } else {
                result.changed.append(setting.key)
            }
        }
        loaded.withLockedValue { $0?.values = fresh }
        return (result, current.values)
    }

    /// Whether the command line gives the option (`--key VALUE`, `--key=VALUE`, a flag's `--key`): it wins over the
    /// environment and the file.
    static func isGiven(_ setting: Setting, in arguments: [String]) -> Bool {
        arguments.contains { $0 == "--\(setting.key)" || $0.hasPrefix("--\(setting.key)=") }
    }

    /// The file's values as they were before a reread whose values were refused.
    public static func restore(_ previous: [String: String]) { loaded.withLockedValue { $0?.values = previous } }

    /// `--config FILE` or `--config=FILE` among the arguments.
    static func path(in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    /// The file's settings as environment variables and values. A scalar is taken as written (`10`, `"a b"`); a
    /// list is joined with commas (`operators: [alice, bob]`); `true`/`false` set a flag.
    static func values(path: String, settings: [Setting]) throws -> [(String, String)] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Problem(description: "--config: cannot read \(path): \(error.localizedDescription)")
        }
        return try values(yaml: text, source: path, settings: settings)
    }

    static func values(yaml text: String, source: String, settings: [Setting]) throws -> [(String, String)] {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw Problem(description: "\(source) is not YAML: \(Self.describe(error))")
        }
        guard let root else { return [] }  // an empty file, or comments only
        guard let mapping = root.mapping else {
            throw Problem(description: "\(source): expected option: value lines, one an option")
        }
        let byKey = Dictionary(settings.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var values: [(String, String)] = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? "?"
            let line = keyNode.mark.map { ":\($0.line)" } ?? ""
            guard let setting = byKey[key] else {
                throw Problem(
                    description:
                        "\(source)\(line): '\(key)' is not an option that a file can set (--print-config lists them)")
            }
            switch valueNode {
            case .scalar(let scalar):
                // `key:` with nothing after it, as --print-config writes an option without a default: not set.
                if scalar.style == .plain, ["", "~", "null"].contains(scalar.string) { continue }
                if setting.isFlag {
                    guard let on = ["true": "1", "yes": "1", "false": "0", "no": "0"][scalar.string.lowercased()]
                    else { throw Problem(description: "\(source)\(line): \(key) is true or false") }
                    values.append((setting.environment, on))
                } else {
                    guard checkNumber(scalar.string, for: setting) else {
                        throw Problem(description: "\(source)\(line): \(key) is a number (got '\(scalar.string)')")
                    }
                    values.append((setting.environment, scalar.string))
                }
            case .sequence(let sequence) where !setting.isFlag:
                let items = sequence.map { $0.scalar?.string }
                guard items.allSatisfy({ $0 != nil }) else {
                    throw Problem(description: "\(source)\(line): \(key) is a list of plain values")
                }
                values.append((setting.environment, items.compactMap { $0 }.joined(separator: ",")))
            default:
                throw Problem(description: "\(source)\(line): \(key) takes a value, not a nested block")
            }
        }
        return values
    }

    /// Where and what, never the line itself: libyaml's messages quote the source, which may hold a password.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? YamlError else { return "unreadable" }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)" + (context.map { " (\($0.text))" } ?? "")
        case .reader(let problem, let offset, _, _):
            return problem + (offset.map { " at byte \($0)" } ?? "")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "line \(context.mark.line): a key given twice (\(duplicates.joined(separator: ", ")))"
        default:
            return "unreadable"
        }
    }

    /// Whole-number options with no default, whose type the default cannot tell (a port that is off unless given,
    /// a count that follows another option's): named here, the same in both servers.
    static let wholeNumbersWithoutDefault: Set<String> = [
        "tls-port", "https-port", "irc-port", "irc-tls-port", "threads", "resume-grace",
    ]

    /// The environment's values are held to what a file's are: a number option's variable holds a number, a flag's
    /// 1, true or yes (or 0, false or no). The options read their variables leniently (`Int.init`, `flag`), so a typo
    /// (`CHAT_MAX_CLIENTS=5k`, `BALANCER_NO_PLAIN=on`) would be taken for no value, and the default (a limit off, a
    /// plain port open) used without a word.
    /// A variable whose option the command line gives is not read, so not checked (a flag wins over it).
    static func checkEnvironment(_ settings: [Setting], arguments: [String]) throws {
        for setting in settings {
            guard let value = CommandSupport.realEnvironment(setting.environment), !isGiven(setting, in: arguments)
            else { continue }
            let shown = value.count > 40 ? String(value.prefix(40)) + "..." : value
            if setting.isFlag {
                guard CommandSupport.flagWords[value.lowercased()] != nil else {
                    throw Problem(
                        description:
                            "\(setting.environment) is 1, true or yes, or 0, false or no (--\(setting.key); got '\(shown)')"
                    )
                }
            } else if !checkNumber(value, for: setting) {
                throw Problem(
                    description: "\(setting.environment) is a number (--\(setting.key); got '\(shown)')")
            }
        }
    }

    /// A value of a number option must be a number (`10_000` or `10k` would otherwise be read as no value, and the
    /// default taken without a word): an option whose default is a whole number takes whole numbers, one whose
    /// default is a decimal takes finite decimals.
    static func checkNumber(_ text: String, for setting: Setting) -> Bool {
        guard let defaultValue = setting.defaultValue else {
            return !wholeNumbersWithoutDefault.contains(setting.key) || Int(text) != nil
        }
        if Int(defaultValue) != nil { return Int(text) != nil }
        if Double(defaultValue) != nil { return Double(text)?.isFinite == true }
        return true
    }

    /// The options that have an environment variable (the help's `[NAME]` or `[NAME=1]`), which is every option a
    /// file can set.
    static func settings(of command: any ParsableCommand.Type) -> [Setting] {
        struct Dump: Decodable { var command: Command }
        struct Command: Decodable { var arguments: [Argument]? }
        struct Argument: Decodable {
            var kind: String
            var names: [Name]?
            var abstract: String?
            var defaultValue: String?
        }
        struct Name: Decodable {
            var kind: String
            var name: String
        }
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(command._dumpHelp().utf8)) else { return [] }
        return (dump.command.arguments ?? []).compactMap { argument in
            guard let key = argument.names?.first(where: { $0.kind == "long" })?.name,
                let abstract = argument.abstract, abstract.hasSuffix("]"),
                let open = abstract.lastIndex(of: "[")
            else { return nil }
            var variable = String(abstract[abstract.index(after: open)..<abstract.index(before: abstract.endIndex)])
            if variable.hasSuffix("=1") { variable.removeLast(2) }
            guard !variable.isEmpty, variable.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }),
                !variable.hasSuffix("_CONFIG")
            else { return nil }
            return Setting(
                key: key, environment: variable, isFlag: argument.kind == "flag",
                help: abstract[..<open].trimmingCharacters(in: .whitespaces), defaultValue: argument.defaultValue)
        }
    }

    /// `--print-config`: every option a file can set, each with its help, at its built-in default and commented
    /// out. Neither the environment's values nor a file's are shown: the defaults are read with both set aside.
    public static func defaultFile(_ command: any ParsableCommand.Type, program: String, prefix: String) -> String {
        CommandSupport.ignoringEnvironment.withLockedValue { $0 = true }
        loaded.withLockedValue { $0 = nil }
        var text = """
            # \(program) \(ChatVersion.number): every option at its default. Uncomment what you change, then start
            # `\(program) --config THIS-FILE` (or set \(prefix)_CONFIG). Keys are the options' long names
            # (docs/options.md); an environment variable or a flag given as well wins over the file. SIGHUP rereads
            # the file: what can change while running does, the rest is logged as needing a restart.

            """
        for setting in settings(of: command) {
            text += "\n"
            for line in wrap(setting.help + " [\(setting.environment)]", width: 100) { text += "# \(line)\n" }
            text += "#\(setting.key):\(setting.isFlag ? " false" : setting.defaultValue.map { " " + yaml($0) } ?? "")\n"
        }
        return text
    }

    /// A value as YAML: numbers plain, anything else double-quoted (JSON's quoting is YAML's too).
    static func yaml(_ value: String) -> String {
        Double(value) != nil && !value.contains(where: { $0.isLetter }) ? value : JSONWriter.quoted(value)
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
