import ChatTestSupport
import Foundation
import Testing

/// There is no Docker engine here, but the compose file is still checked: Debian's docker-compose validates and
/// expands it, and the result must have the services and ports the docs promise.
@Suite("docker-compose.yml")
struct ComposeFileTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    func config(_ arguments: [String] = [], file: String = "docker-compose.yml") throws -> String {
        // First: the fast run installs no docker-compose, and skips this test rather than failing it.
        try TestEnvironment.startingProcess()
        guard let compose = TestEnvironment.findExecutable("docker-compose") else {
            throw HarnessError(
                "docker-compose is not installed; install Debian's 'docker-compose' package (scripts/test.sh does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: compose)
        process.arguments =
            [
                "--project-directory", Self.repositoryRoot.path, "-f",
                Self.repositoryRoot.appendingPathComponent(file).path, "config",
            ] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("docker-compose config failed: \(problems)") }
        return text
    }

    @Test("it is valid and has redis, a scalable node and the balancer, plus Prometheus and Grafana in a profile")
    func services() throws {
        // Debian's docker-compose lists every service here, profiles or not; `up` starts a profile's only with it.
        #expect(
            try config(["--services"]).split(separator: "\n").sorted()
                == ["balancer", "grafana", "node", "postgres", "prometheus", "redis"])
        let sections = Self.services(in: try config())
        for name in ["prometheus", "grafana"] {
            let section = sections[name] ?? ""
            #expect(section.contains("profiles:") && section.contains("- monitoring"), "\(name) only with the profile")
            #expect(!section.contains("published: 9090") && !section.contains("published: 3000"), "loopback only")
        }
        #expect(sections["prometheus"]?.contains("127.0.0.1:9090:9090") == true)
        #expect(sections["grafana"]?.contains("127.0.0.1:3000:3000") == true)
        #expect(sections["grafana"]?.contains("/etc/grafana/provisioning") == true)
        #expect(
            sections["node"]?.contains("CHAT_OPS_HOST: 0.0.0.0") == true,
            "the status page and Prometheus reach /metrics")
        for file in [
            "deploy/prometheus/prometheus.yml", "deploy/grafana/provisioning/datasources/prometheus.yml",
            "deploy/grafana/provisioning/dashboards/chat.yml", "deploy/grafana/dashboards/chat-cluster.json",
        ] {
            #expect(
                FileManager.default.fileExists(atPath: Self.repositoryRoot.appendingPathComponent(file).path), "\(file)"
            )
        }
    }

    @Test("only the balancer publishes ports: 7000 and 8080 to clients, 9000 on loopback")
    func ports() throws {
        let expanded = try config()
        let sections = Self.services(in: expanded)
        #expect(sections["node"]?.contains("ports:") == false, "a node with host ports cannot scale")
        #expect(sections["node"]?.contains("container_name") == false)
        #expect(sections["redis"]?.contains("ports:") == false)
        let balancer = sections["balancer"] ?? ""
        #expect(balancer.contains("published: 7000"))
        #expect(balancer.contains("published: 8080"))
        #expect(balancer.contains("127.0.0.1:9000:9000"))
    }

    @Test("nodes find Redis and speak PROXY to the balancer; both wait for a healthy Redis")
    func wiring() throws {
        let sections = Self.services(in: try config())
        let node = sections["node"] ?? ""
        let balancer = sections["balancer"] ?? ""
        #expect(node.contains("CHAT_REDIS_URL: redis://redis:6379"))
        #expect(node.contains("CHAT_PROXY_PROTOCOL: '1'"))
        #expect(node.contains("replicas: 3"))
        #expect(balancer.contains("BALANCER_REDIS_URL: redis://redis:6379"))
        #expect(balancer.contains("BALANCER_SEND_PROXY: '1'"))
        for service in [node, balancer] {
            #expect(service.contains("condition: service_healthy"))
            #expect(service.contains("restart: unless-stopped"))
            #expect(service.contains("image: swift-redis-chat:latest"))
        }
        // Built once, by the node service; the balancer starts after the nodes and uses that image.
        #expect(node.contains("dockerfile: deploy/Dockerfile"))
        #expect(!balancer.contains("build:"))
        #expect(balancer.contains("node:"))
        #expect(sections["redis"]?.contains("healthcheck:") == true)
        // The archive: PostgreSQL with its password a secret and its data a volume; the nodes get its URL without
        // the password (chat-redis-auth adds it from the secret) and do not wait for it (they chat without it).
        let postgres = sections["postgres"] ?? ""
        #expect(postgres.contains("POSTGRES_PASSWORD_FILE: /run/secrets/postgres-password"))
        #expect(postgres.contains("postgres-data:/var/lib/postgresql/data") && postgres.contains("healthcheck:"))
        #expect(!postgres.contains("ports:"), "PostgreSQL is for the nodes only")
        #expect(node.contains("CHAT_ARCHIVE: postgres://chat@postgres:5432/chat?sslmode=disable"))
        #expect(node.contains("ARCHIVE_PASSWORD_FILE: /run/secrets/postgres-password"))
        #expect(!node.contains("postgres:\n        condition"))
        #expect(
            sections["redis"]?.contains("--maxmemory-policy") == true
                && sections["redis"]?.contains("noeviction") == true,
            "Redis memory is bounded and never evicts the chat's keys")
    }

    /// A resource bundle missing from the image is a crash at start (SwiftPM's `Bundle.module`) or a page that is
    /// not there; nothing else would notice before someone runs the image.
    @Test("the image copies every resource bundle Package.swift declares next to the binaries")
    func resourceBundlesInImage() throws {
        let package = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let dockerfile = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("deploy/Dockerfile"), encoding: .utf8)
        // Each target is `name: "X",` ... up to the next `.target(`/`.executableTarget(`; those with `resources:`.
        let targets = package.components(separatedBy: ".target(").dropFirst()
        var bundles: [String] = []
        for target in targets where target.contains("resources:") {
            guard let nameLine = target.split(separator: "\n").first(where: { $0.contains("name:") }),
                let name = nameLine.split(separator: "\"").dropFirst().first
            else { continue }
            bundles.append("swift-redis-chat_\(name).resources")
        }
        #expect(bundles.sorted() == ["swift-redis-chat_ChatBalancer.resources", "swift-redis-chat_ChatNode.resources"])
        for bundle in bundles { #expect(dockerfile.contains("/\(bundle)\" /staging/"), "\(bundle) is not copied") }
    }

    @Test("every environment variable in the compose file is documented in docs/deploy.md")
    func documented() throws {
        let compose = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        let docs = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("docs/deploy.md"), encoding: .utf8)
        let variables = compose.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("CHAT_") || trimmed.hasPrefix("BALANCER_"), let colon = trimmed.firstIndex(of: ":")
            else { return nil }
            return String(trimmed[..<colon])
        }
        #expect(variables.count >= 10)
        for variable in variables { #expect(docs.contains("`\(variable)`"), "\(variable) is not in docs/deploy.md") }
    }

    @Test(
        "docker-compose.redis-cluster.yml: six Redis members joined once into three primaries and three replicas, the same nodes and balancer on them"
    )
    func redisClusterFile() throws {
        let file = "docker-compose.redis-cluster.yml"
        let members = (1...6).map { "redis-\($0)" }
        #expect(
            try config(["--services"], file: file).split(separator: "\n").map(String.init).sorted()
                == (["balancer", "node", "postgres", "redis-cluster-init"] + members).sorted())
        let sections = Self.services(in: try config(file: file))
        for member in members {
            let section = sections[member] ?? ""
            #expect(!section.contains("ports:"), "\(member) publishes no port")
            #expect(
                section.contains("--cluster-enabled") && section.contains("noeviction")
                    && section.contains("--appendonly"))
            #expect(section.contains("REDIS_CLUSTER: '1'") && section.contains("REDIS_ANNOUNCE_HOSTNAME: \(member)"))
            #expect(section.contains("healthcheck:") && section.contains("redis-replication-password"))
        }
        let initializer = sections["redis-cluster-init"] ?? ""
        #expect(
            initializer.contains("--cluster-replicas 1") && initializer.contains("cluster_state:ok"),
            "creates the cluster once")
        #expect(members.allSatisfy { initializer.contains("\($0):\n        condition: service_healthy") })
        // The node and the balancer are docker-compose.yml's but for the Redis URL and what they wait for.
        let single = Self.services(in: try config())
        for service in ["node", "balancer"] {
            let onCluster = sections[service] ?? ""
            #expect(
                onCluster.contains(
                    "REDIS_URL: redis-cluster://redis-1:6379,redis-2:6379,redis-3:6379,redis-4:6379,redis-5:6379,redis-6:6379"
                ))
            #expect(onCluster.contains("redis-cluster-init:\n        condition: service_completed_successfully"))
            #expect(
                Self.withoutRedis(onCluster) == Self.withoutRedis(single[service] ?? ""),
                "\(service) drifted from docker-compose.yml")
        }
        #expect(
            (sections["balancer"] ?? "").contains("127.0.0.1:9000:9000"), "the admin port on loopback only, as before")
    }

    /// A service's lines without its Redis URL and its depends_on block: what the two compose files may differ in.
    static func withoutRedis(_ section: String) -> [Substring] {
        var lines: [Substring] = []
        var skipping: Int?
        for line in section.split(separator: "\n") {
            let indent = line.prefix { $0 == " " }.count
            if let depth = skipping, indent > depth { continue }
            skipping = nil
            if line.trimmingCharacters(in: .whitespaces) == "depends_on:" {
                skipping = indent
                continue
            }
            if line.contains("REDIS_URL:") { continue }
            lines.append(line)
        }
        return lines
    }

    /// Splits `docker-compose config` output into each service's block of lines.
    static func services(in expanded: String) -> [String: String] {
        var result: [String: String] = [:]
        var current: String?
        var inServices = false
        for line in expanded.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "services:" {
                inServices = true
                continue
            }
            if inServices, !line.hasPrefix(" "), !line.isEmpty {
                inServices = false
                current = nil
            }
            guard inServices else { continue }
            if line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                continue
            }
            if let current { result[current, default: ""] += line + "\n" }
        }
        return result
    }
}
