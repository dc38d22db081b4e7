/// Registering one's nick from an IRC client, both ways IRC users know: IRCv3 `draft/account-registration`
/// (`REGISTER <account> <email> <password>`, answered `REGISTER SUCCESS` or `FAIL REGISTER ...`) and NickServ
/// (`PRIVMSG NickServ :REGISTER <password>`, `NS REGISTER <password>`, answered in NOTICEs from `NickServ`). Both are
/// the chat's `/register`: the nick becomes a registered name, logged in to from then on with its password (SASL
/// PLAIN or PASS at connect, which is where passwords are checked here: NickServ's IDENTIFY says so).
extension IRCRenderer {
    /// The service's prefix: no session holds the name (it is reserved), so nobody can pose as it.
    public static let nickServ = "NickServ!NickServ@services"

    /// A line to NickServ: the request it makes, or what NickServ answers at once.
    public static func nickServRequest(_ text: String) -> (request: ClientRequest?, answer: String?) {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch words.first?.uppercased() {
        case "REGISTER" where words.count >= 2:
            // `REGISTER <password> [email]`: the email is not kept (nothing here sends mail).
            do {
                return (.register(try Password(new: words[1])), nil)
            } catch {
                return (nil, "Registration failed: \(error.message)")
            }
        case "IDENTIFY", "LOGIN":
            return (
                nil,
                "Passwords are checked when you connect here: log in with SASL PLAIN, or PASS <password> before NICK"
            )
        default:
            return (nil, "NickServ: REGISTER <password> registers your current nick (then log in with SASL or PASS)")
        }
    }

    /// A reply to a registration by REGISTER (`accountRegistration`) or NickServ.
    static func accountRegistrationLines(_ event: ChatEvent, purpose: Purpose?, view: IRCView) -> [IRCMessage] {
        let me = view.nick
        func notice(_ text: String) -> IRCMessage {
            IRCMessage(source: nickServ, command: "NOTICE", parameters: [me, text])
        }
        switch (event, purpose) {
        case (.ok, .nickServ):
            return [notice("Account created"), loggedIn(view)]
        case (.ok, _):
            return [
                IRCMessage(
                    source: view.serverName, command: "REGISTER", parameters: ["SUCCESS", me, "Account created"]),
                loggedIn(view),
            ]
        case (.error(let error), .nickServ):
            return [notice("Registration failed: \(error.message)")]
        case (.error(let error), _):
            let code =
                switch error.code {
                // The password was checked before the request: the store's refusal is a name registered already.
                case .alreadyRegistered, .nameTaken, .badRequest: "ACCOUNT_EXISTS"
                default: "TEMPORARILY_UNAVAILABLE"
                }
            return [
                IRCMessage(source: view.serverName, command: "FAIL", parameters: ["REGISTER", code, me, error.message])
            ]
        default:
            return []
        }
    }

    /// RPL_LOGGEDIN: the account is the nick.
    private static func loggedIn(_ view: IRCView) -> IRCMessage {
        IRCMessage(
            source: view.serverName, command: "900",
            parameters: [view.nick, mask(view.nick), view.nick, "You are now logged in as \(view.nick)"])
    }
}
