import NIOCore

/// A Lua script whose keys and arguments are declared once, by name and in order, next to the script. The Lua
/// reads them by those names (a generated first line: `local claimKey, sessionKey = KEYS[1], KEYS[2]`), and the
/// caller passes a `Parameters` value the same declaration turns into the positional KEYS and ARGV. So a caller
/// and its script cannot disagree about which position means what, and a name the Lua misspells is an error Redis
/// raises at once (a script may not read a global), not a silent nil.
public struct NamedScript<Parameters>: Sendable {
    /// What `RedisClient` loads and runs: the declared names' bindings, then the body.
    public let script: RedisScript
    private let keys: [ScriptField<Parameters>]
    private let arguments: [ScriptField<Parameters>]
    private let rest: ScriptRest<Parameters>?

    /// `rest`: a list after the declared arguments (rooms, members), bound as a Lua table under its name.
    public init(
        name: String, keys: [ScriptField<Parameters>], arguments: [ScriptField<Parameters>],
        rest: ScriptRest<Parameters>? = nil, body: String
    ) {
        self.keys = keys
        self.arguments = arguments
        self.rest = rest
        var prologue = ""
        func bind(_ fields: [ScriptField<Parameters>], from table: String) {
            guard !fields.isEmpty else { return }
            let names = fields.map(\.name).joined(separator: ", ")
            let values = fields.indices.map { "\(table)[\($0 + 1)]" }.joined(separator: ", ")
            prologue += "local \(names) = \(values)\n"
        }
        bind(keys, from: "KEYS")
        bind(arguments, from: "ARGV")
        if let rest {
            prologue +=
                "local \(rest.name) = {}\nfor i = \(arguments.count + 1), #ARGV do"
                + " \(rest.name)[#\(rest.name) + 1] = ARGV[i] end\n"
        }
        script = RedisScript(name: name, source: prologue + body)
    }

    public func keys(_ parameters: Parameters) -> [String] { keys.map { $0.encode(parameters) } }

    public func arguments(_ parameters: Parameters) -> [String] {
        arguments.map { $0.encode(parameters) } + (rest?.values(parameters) ?? [])
    }
}

/// One declared key or argument: the name the Lua reads it by, and where the caller's value is.
public struct ScriptField<Parameters>: Sendable {
    public let name: String
    let encode: @Sendable (Parameters) -> String

    public init<Value: ScriptArgument>(_ name: String, _ path: any KeyPath<Parameters, Value> & Sendable) {
        self.name = name
        encode = { $0[keyPath: path].scriptArgument }
    }
}

/// The list a script takes after its declared arguments.
public struct ScriptRest<Parameters>: Sendable {
    public let name: String
    let values: @Sendable (Parameters) -> [String]

    public init<Value: ScriptArgument>(_ name: String, _ path: any KeyPath<Parameters, [Value]> & Sendable) {
        self.name = name
        values = { $0[keyPath: path].map(\.scriptArgument) }
    }
}

/// How a value is written as a script's key or argument (Redis hands Lua strings).
public protocol ScriptArgument {
    var scriptArgument: String { get }
}

extension String: ScriptArgument {
    public var scriptArgument: String { self }
}

extension Int: ScriptArgument {
    public var scriptArgument: String { String(self) }
}

extension Int64: ScriptArgument {
    public var scriptArgument: String { String(self) }
}

/// `'1'` or `'0'`: the Lua compares with `== '1'`.
extension Bool: ScriptArgument {
    public var scriptArgument: String { self ? "1" : "0" }
}

/// `''` for none: the Lua compares with `~= ''`.
extension Optional: ScriptArgument where Wrapped: ScriptArgument {
    public var scriptArgument: String { self?.scriptArgument ?? "" }
}

extension RedisConnection {
    /// Runs a named script with its parameters (see `NamedScript`).
    public func run<Parameters>(
        _ named: NamedScript<Parameters>, _ parameters: Parameters
    ) -> EventLoopFuture<
        RedisValue
    > {
        run(named.script, keys: named.keys(parameters), arguments: named.arguments(parameters))
    }
}
