/// The release every executable is built from: `--version`, IRC's VERSION and 004, the node's /health, the
/// `chat_build_info` metric, the status page. Semantic versioning: the chat's protocols (docs/protocol.md), its
/// options and its Redis keys are the public interface; a change that breaks a client, a deployment's options or a
/// rolling upgrade (nodes of both versions on one Redis) is a new major version. Cutting a release (docs/releasing.md)
/// changes this line, CHANGELOG.md's heading, the image's label and the Kubernetes image tag together; `ReleaseTests` and
/// `KubernetesTests` hold them equal.
public enum ChatVersion {
    public static let number = "0.9.0"

    /// What IRC clients are told the server runs (002, 004, 351): `name-version`, as ircd-style servers write it.
    public static let irc = "swift-redis-chat-\(number)"

    /// `text` if it reads as a version (`1.2.3`, `1.2.3-rc.1+abc`: at most 32 letters, digits, `.`, `-`, `+`), else
    /// nil: what another process says it runs is shown on a page, never trusted.
    public static func plausible(_ text: String) -> String? {
        guard (1...32).contains(text.utf8.count), text.first?.isNumber == true,
            text.unicodeScalars.allSatisfy({
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                    || ".-+".unicodeScalars.contains($0)
            })
        else { return nil }
        return text
    }
}
