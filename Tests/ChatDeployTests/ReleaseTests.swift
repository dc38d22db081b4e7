import ChatCore
import ChatTestSupport
import Foundation
import Testing

/// What an operator reads to know what they run and how to run it: the version in every place it is written, each
/// executable's `--version`, the release script, and the options reference (docs/options.md) against the
/// executables, and every option the docs name against the options that exist.
@Suite("Releases, versions and the options reference")
struct ReleaseTests {
    static let root = TestEnvironment.packageDirectory

    static func read(_ path: String) throws -> String { try String(contentsOfFile: root + "/" + path, encoding: .utf8) }

    @Test("the version compiled in is CHANGELOG.md's newest release and the image's label; the licence is there")
    func versionsAgree() throws {
        #expect(ChatVersion.plausible(ChatVersion.number) == ChatVersion.number)
        let released = try Self.read("CHANGELOG.md").split(separator: "\n")
            .first { $0.hasPrefix("## [") && !$0.hasPrefix("## [Unreleased]") }
        #expect(released?.hasPrefix("## [\(ChatVersion.number)] - ") == true, "\(released ?? "no release heading")")
        #expect(
            try Self.read("deploy/Dockerfile").contains("org.opencontainers.image.version=\"\(ChatVersion.number)\""))
        #expect(try Self.read("LICENSE").contains("Apache License\n                           Version 2.0"))
    }

    @Test("every executable answers --version with the release")
    func versionFlags() throws {
        for executable in ["chat-node", "chat-balancer", "chat", "chat-bench"] {
            let (status, output) = try TestEnvironment.run(
                TestEnvironment.binDirectory + "/" + executable, ["--version"])
            #expect(status == 0 && output == ChatVersion.number + "\n", "\(executable): \(output)")
        }
    }

    /// Other programs' options the docs show in their commands (redis-cli, docker compose, swift, valgrind, the
    /// project's scripts): anything else spelled `--like-this` must be an option of ours.
    static let foreignOptions: Set<String> = [
        "--appendonly", "--save", "--maxmemory", "--maxmemory-policy", "--user", "--cluster", "--cluster-from",
        "--cluster-copy",  // redis-server, redis-cli
        "--build-arg", "--force-recreate", "--no-deps", "--profile", "--scale", "--force",  // docker
        "--replicas",  // kubectl
        "--filter", "--skip-build", "--no-parallel", "--tool",  // swift test, valgrind
        "--fast", "--seconds", "--debug", "--rotate", "--no-tls",  // scripts/test.sh, fuzz.sh, *-secrets.sh
    ]

    @Test("docs/options.md is what the executables say, and every option the docs name exists")
    func optionsDocumented() throws {
        let check = try TestEnvironment.run(
            "/usr/bin/env",
            ["python3", Self.root + "/scripts/options-reference.py", "--bin", TestEnvironment.binDirectory, "--check"])
        #expect(check.status == 0, "\(check.output)")
        let reference = try Self.read("docs/options.md")
        let ours = Set(Self.options(in: reference)).union(["--help", "--version", "--experimental-dump-help"])
        #expect(ours.count > 100)
        var unknown: [String] = []
        let documents =
            try FileManager.default.contentsOfDirectory(atPath: Self.root + "/docs")
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 } + ["README.md", "CHANGELOG.md"]
        for document in documents {
            for option in Self.options(in: try Self.read(document))
            where !ours.contains(option) && !Self.foreignOptions.contains(option) {
                unknown.append("\(document): \(option)")
            }
        }
        #expect(unknown.isEmpty, "options named in the docs that no executable has: \(Set(unknown).sorted())")
        // The reference lists each node option that once had no word in the docs.
        for option in ["--host", "--irc-server-name", "--registrations-per-hour", "--log-format", "--admin-port"] {
            #expect(reference.contains("`\(option)`"))
        }
    }

    /// `--like-this` tokens: two dashes, a letter, then letters, digits and dashes, not inside a longer word.
    static func options(in text: String) -> [String] {
        // Foundation's (ICU's) expressions: Swift's own Regex has no lookbehind.
        let expression = try! NSRegularExpression(pattern: "(?<![A-Za-z0-9_-])--[a-z][a-z0-9-]*")
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }
    }

    @Test(
        "scripts/release.sh sets the version in its four places, commits and tags, a candidate before its release; it refuses what is not a release"
    )
    func releaseScript() throws {
        try TestEnvironment.startingProcess()
        let directory = TestEnvironment.temporaryDirectory("release") + "/repo"
        let git = [
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        ]
        func sh(_ command: String) throws -> (status: Int32, output: String) {
            try TestEnvironment.run("/bin/bash", ["-c", command], directory: directory, environment: git)
        }
        #expect(try TestEnvironment.run("/usr/bin/git", ["clone", "-q", Self.root, directory]).status == 0)
        // A clone of the committed tree (the script refuses uncommitted changes, so it is cut from a clone), its
        // Unreleased section emptied (as right after a release; the tree's own may list changes).
        _ = try sh(
            #"perl -0pi -e 's/## \[Unreleased\]\n.*?(?=\n## \[)/## [Unreleased]\n/s' CHANGELOG.md && git commit -qam empty"#
        )
        #expect(try sh("cat CHANGELOG.md").output.contains("## [Unreleased]\n\n## [0."))
        let empty = try sh("scripts/release.sh 99.0.0")
        #expect(empty.status != 0 && empty.output.contains("Unreleased section is empty"), "\(empty.output)")
        _ = try sh(
            "sed -i 's/^## \\[Unreleased\\]$/## [Unreleased]\\n\\n### Fixed\\n- something/' CHANGELOG.md && git commit -qam notes"
        )
        let lower = try sh("scripts/release.sh 0.0.1")
        #expect(lower.status != 0 && lower.output.contains("is not above"), "\(lower.output)")
        let cut = try sh("scripts/release.sh 99.0.0")
        #expect(cut.status == 0, "\(cut.output)")
        #expect(try sh("git tag --list v99.0.0").output == "v99.0.0\n")
        #expect(try sh("cat Sources/ChatCore/ChatVersion.swift").output.contains("number = \"99.0.0\""))
        #expect(try sh("cat deploy/Dockerfile").output.contains("image.version=\"99.0.0\""))
        #expect(
            try sh("cat deploy/kubernetes/components/release/kustomization.yaml").output.contains("newTag: \"99.0.0\""))
        let changelog = try sh("cat CHANGELOG.md").output
        #expect(changelog.contains("## [Unreleased]\n\n## [99.0.0] - ") && changelog.contains("- something"))
        // A release candidate comes before its release, not after.
        _ = try sh("sed -i 's/^## \\[Unreleased\\]$/## [Unreleased]\\n\\n- more/' CHANGELOG.md && git commit -qam more")
        let candidate = try sh("scripts/release.sh 99.0.1-rc.1")
        #expect(candidate.status == 0, "\(candidate.output)")
        _ = try sh(
            "sed -i 's/^## \\[Unreleased\\]$/## [Unreleased]\\n\\n- final/' CHANGELOG.md && git commit -qam final")
        let final = try sh("scripts/release.sh 99.0.1")
        #expect(final.status == 0, "the release after its candidate: \(final.output)")
    }
}
