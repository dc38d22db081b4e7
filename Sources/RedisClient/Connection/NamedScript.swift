import NIOCore

/// A Lua script whose keys and arguments are declared once, by name and in order, next to the script. The Lua
/// reads them by those names (a generated first line: `local claimKey, sessionKey = KEYS[1], KEYS[2]`), and the
/// caller passes a `Parameters` value the same declaration turns into the positional KEYS and ARGV. So a caller
/// and its script cannot disagree about which position means what, and a name the Lua misspells is an error Redis
/// raises when the line runs (a script may not read an undeclared global), not a silent nil. The generated line
/// comes first, so the line numbers in Redis's script errors (`user_script:N`) count it.
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
        let names = keys.map(\.name) + arguments.map(\.name) + (rest.map { [$0.name] } ?? [])
        // A declaration is code: a name twice, or one that hides what the Lua needs, is the programmer's mistake,
        // caught when the scripts are first made (every test that touches Redis makes them).
        precondition(Set(names).count == names.count, "script \(name) declares a name twice: \(names)")
        for declared in names {
            precondition(
                Self.isLuaName(declared) && !Self.reserved.contains(declared),
                "script \(name): '\(declared)' is not a Lua name of its own")
        }
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

    /// Lua's keywords and the globals Redis gives a script: a declared name may be none of them.
    static var reserved: Set<String> {
        [
            "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in", "local",
            "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", "KEYS", "ARGV", "redis",
            "cjson", "cmsgpack", "bit", "struct", "table", "string", "math", "tonumber", "tostring", "type", "pairs",
            "ipairs", "next", "select", "unpack", "error", "pcall", "assert", "setmetatable", "getmetatable",
        ]
    }

    static func isLuaName(_ name: String) -> Bool {
        guard let first = name.utf8.first,
            first == UInt8(ascii: "_") || (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7A
        else { return false }
        return name.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A || (0x30...0x39).contains(byte)
        }
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

    /// Runs a named script, telling its caller once replicas have its writes (see `ReplicaAcknowledgement`).
    public func run<Parameters>(
        _ named: NamedScript<Parameters>, _ parameters: Parameters, acknowledgedBy wanted: ReplicaAcknowledgement
    ) -> EventLoopFuture<AcknowledgedReply> {
        run(
            named.script, keys: named.keys(parameters), arguments: named.arguments(parameters), acknowledgedBy: wanted)
    }
}
