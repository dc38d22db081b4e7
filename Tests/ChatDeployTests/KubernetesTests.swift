import ChatCore
import ChatTestSupport
import Foundation
import Testing
import Yams

/// deploy/kubernetes, without a Kubernetes cluster: kustomize renders each kustomization as `kubectl apply -k` would,
/// kubernetes-validate (the API's own OpenAPI schemas, strict: no unknown field) accepts every object, and what the
/// manifests promise is in them: probes on /livez and /readyz, graceful termination, a PodDisruptionBudget, the
/// balancer behind a LoadBalancer that keeps clients' addresses, the release's image. The configuration file in the
/// manifests is one a real node starts with.
@Suite("Kubernetes manifests", .serialized)
struct KubernetesTests {
    static let root = TestEnvironment.packageDirectory

    func tool(_ name: String, _ install: String) throws -> String {
        try TestEnvironment.startingProcess()
        guard let path = TestEnvironment.findExecutable(name) else {
            throw HarnessError("\(name) is not installed: \(install)")
        }
        return path
    }

    /// `kubectl kustomize DIRECTORY`, checked by kubernetes-validate at two Kubernetes versions, as objects.
    func render(_ directory: String) throws -> [[String: Any]] {
        let kubectl = try tool("kubectl", "install kubectl from Kubernetes' repository (docs/deploy.md)")
        let rendered = try TestEnvironment.run(kubectl, ["kustomize", Self.root + "/" + directory])
        #expect(rendered.status == 0, "\(rendered.output)")
        try validate(rendered.output, name: directory)
        return try Yams.load_all(yaml: rendered.output).compactMap { $0 as? [String: Any] }
    }

    func validate(_ yaml: String, name: String) throws {
        let validator = try tool(
            "kubernetes-validate", "pip install kubernetes-validate (scripts/install-deps.sh --tests does)")
        let file = TestEnvironment.temporaryDirectory("kubernetes") + "/objects.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        // The oldest Kubernetes still supported upstream when this was written, and the validator's newest.
        for version in ["1.29.0", nil] {
            let checked = try TestEnvironment.run(
                validator, ["--strict", "--quiet"] + (version.map { ["-k", $0] } ?? []) + [file])
            #expect(checked.status == 0, "\(name) against \(version ?? "the newest"): \(checked.output)")
        }
    }

    static func object(_ objects: [[String: Any]], _ kind: String, _ name: String) -> [String: Any]? {
        objects.first {
            $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name
        }
    }

    static func container(_ deployment: [String: Any]?) -> [String: Any]? {
        let spec = (deployment?["spec"] as? [String: Any])?["template"] as? [String: Any]
        return ((spec?["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first
    }

    static func environment(_ container: [String: Any]?) -> [String: String] {
        Dictionary(
            ((container?["env"] as? [[String: Any]]) ?? []).compactMap { entry in
                (entry["name"] as? String).map { ($0, entry["value"] as? String ?? "(from elsewhere)") }
            }, uniquingKeysWith: { first, _ in first })
    }

    /// Every pod template's (and the StatefulSet's) containers and init containers, with the object's name.
    static func podTemplates(
        _ objects: [[String: Any]]
    ) -> [(name: String, labels: [String: String], containers: [[String: Any]])] {
        objects.compactMap { object in
            guard ["Deployment", "StatefulSet"].contains(object["kind"] as? String ?? ""),
                let template = (object["spec"] as? [String: Any])?["template"] as? [String: Any]
            else { return nil }
            let labels = (template["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
            let spec = template["spec"] as? [String: Any]
            let containers =
                (spec?["containers"] as? [[String: Any]] ?? []) + (spec?["initContainers"] as? [[String: Any]] ?? [])
            return ((object["metadata"] as? [String: Any])?["name"] as? String ?? "?", labels, containers)
        }
    }

    /// What kubernetes-validate cannot see: every image of the chat's is the release's, and every NetworkPolicy's
    /// `from` admits at least one of the pods rendered beside it (a label that never reached the pods would lock
    /// the chat out of Redis, and pass every schema).
    static func checkWiring(_ objects: [[String: Any]]) {
        let templates = podTemplates(objects)
        for template in templates {
            for container in template.containers {
                let image = container["image"] as? String ?? ""
                if image.hasPrefix("swift-redis-chat") {
                    #expect(image == "swift-redis-chat:\(ChatVersion.number)", "\(template.name): \(image)")
                }
            }
        }
        // Kubernetes' service links would give every pod CHAT_PORT=tcp://... from the Service `chat`, which a
        // node refuses (an option's variable it cannot read): every pod turns them off.
        for object in objects where ["Deployment", "StatefulSet"].contains(object["kind"] as? String ?? "") {
            let template = (object["spec"] as? [String: Any])?["template"] as? [String: Any]
            let spec = template?["spec"] as? [String: Any]
            #expect(
                spec?["enableServiceLinks"] as? Bool == false,
                "\((object["metadata"] as? [String: Any])?["name"] ?? "?"): service links on")
        }
        for policy in objects where policy["kind"] as? String == "NetworkPolicy" {
            let rules = (policy["spec"] as? [String: Any])?["ingress"] as? [[String: Any]] ?? []
            for rule in rules {
                for peer in rule["from"] as? [[String: Any]] ?? [] {
                    guard let wanted = (peer["podSelector"] as? [String: Any])?["matchLabels"] as? [String: String]
                    else { continue }
                    let admitted = templates.filter { template in
                        wanted.allSatisfy { template.labels[$0.key] == $0.value }
                    }
                    #expect(!admitted.isEmpty, "a NetworkPolicy admits no pod: \(wanted)")
                }
            }
        }
    }

    static func probePath(_ container: [String: Any]?, _ probe: String) -> String? {
        ((container?[probe] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String
    }

    @Test("the default kustomization renders, every object passes the API's schema, and it is what the docs promise")
    func defaultKustomization() throws {
        let objects = try render("deploy/kubernetes")
        Self.checkWiring(objects)
        #expect(objects.allSatisfy { ($0["metadata"] as? [String: Any])?["namespace"] as? String ?? "chat" == "chat" })
        for name in ["chat-node", "chat-balancer"] {
            let deployment = Self.object(objects, "Deployment", name)
            let container = Self.container(deployment)
            #expect(Self.probePath(container, "readinessProbe") == "/readyz", "\(name)")
            #expect(Self.probePath(container, "livenessProbe") == "/livez", "\(name)")
            #expect(container?["image"] as? String == "swift-redis-chat:\(ChatVersion.number)", "\(name)")
            let pod =
                ((deployment?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
            #expect((pod?["terminationGracePeriodSeconds"] as? Int ?? 0) >= 15, "\(name): time to drain")
            #expect(Self.object(objects, "PodDisruptionBudget", name) != nil)
            #expect(
                (container?["command"] as? [String])?.first == "chat-redis-auth", "\(name): the password from a file")
        }
        let service = Self.object(objects, "Service", "chat")?["spec"] as? [String: Any]
        #expect(service?["type"] as? String == "LoadBalancer")
        #expect(
            service?["externalTrafficPolicy"] as? String == "Local", "clients' own addresses, for per-address limits")
        #expect(Self.object(objects, "StatefulSet", "redis") != nil)
        #expect(Self.object(objects, "NetworkPolicy", "chat-node") != nil, "only balancers send PROXY headers")
        let node = Self.environment(Self.container(Self.object(objects, "Deployment", "chat-node")))
        #expect(node["CHAT_REDIS_URL"] == "redis://redis:6379" && node["CHAT_CONFIG"] != nil)
    }

    @Test(
        "the external Redis example renders and validates, with its addresses, the archive and Prometheus's annotations"
    )
    func externalExample() throws {
        let objects = try render("deploy/kubernetes/examples/external-redis")
        Self.checkWiring(objects)
        #expect(Self.object(objects, "StatefulSet", "redis") == nil)
        let deployment = Self.object(objects, "Deployment", "chat-node")
        let node = Self.environment(Self.container(deployment))
        #expect(node["CHAT_REDIS_URL"]?.hasPrefix("redis-cluster://") == true, "\(node)")
        #expect(
            ((Self.container(deployment)?["env"] as? [[String: Any]]) ?? []).filter {
                $0["name"] as? String == "CHAT_ARCHIVE"
            }
            .count == 1, "the example's archive address replaces the component's, by name")
        #expect(node["CHAT_ARCHIVE"]?.hasPrefix("postgres://chat@postgres.data.svc") == true, "\(node)")
        #expect(node["ARCHIVE_PASSWORD_FILE"] != nil)
        let balancer = Self.environment(Self.container(Self.object(objects, "Deployment", "chat-balancer")))
        #expect(balancer["BALANCER_REDIS_URL"]?.hasPrefix("redis-cluster://") == true)
        let annotations =
            ((deployment?["spec"] as? [String: Any])?["template"] as? [String: Any]).flatMap {
                ($0["metadata"] as? [String: Any])?["annotations"] as? [String: String]
            } ?? [:]
        #expect(annotations["prometheus.io/scrape"] == "true" && annotations["prometheus.io/port"] == "9101")
    }

    @Test("scripts/kubernetes-secrets.sh writes the three secrets the manifests name, and they validate")
    func secrets() throws {
        try TestEnvironment.startingProcess()
        let directory = TestEnvironment.temporaryDirectory("kubernetes-secrets")
        let made = try TestEnvironment.run(
            "/bin/bash", ["-c", "scripts/kubernetes-secrets.sh 2>/dev/null"], directory: Self.root,
            environment: ["SECRETS_DIR": directory + "/secrets"])
        #expect(made.status == 0)
        try validate(made.output, name: "the secrets")
        let secrets = try Yams.load_all(yaml: made.output).compactMap { $0 as? [String: Any] }
        let names = secrets.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(names == ["chat-redis-passwords", "chat-tls", "chat-postgres"])
        // --no-tls leaves the certificate to whoever manages it (cert-manager).
        let withoutTLS = try TestEnvironment.run(
            "/bin/bash", ["-c", "scripts/kubernetes-secrets.sh --no-tls 2>/dev/null"], directory: Self.root,
            environment: ["SECRETS_DIR": directory + "/secrets"])
        #expect(withoutTLS.status == 0 && !withoutTLS.output.contains("chat-tls"))
        let passwords = (secrets.first?["data"] as? [String: String]) ?? [:]
        let node = passwords["redis-node-password"].flatMap { Data(base64Encoded: $0) }.map {
            String(decoding: $0, as: UTF8.self)
        }
        let file = try String(contentsOfFile: directory + "/secrets/redis-node-password", encoding: .utf8)
        #expect(
            node == file.trimmingCharacters(in: .newlines), "the password the compose files hold, without its newline")
    }

    @Test("the node's configuration file in the manifests is one a real node starts with")
    func manifestConfigurationStarts() throws {
        let redis = try RedisServer()
        let directory = TestEnvironment.temporaryDirectory("kubernetes-config")
        // The test's own flags (ports, host, Redis) win over the file; the rest of it, proxy protocol and JSON logs
        // among them, is the node's.
        let node = try NodeProcess(
            id: "k1", redis: redis, logDirectory: directory,
            extraArguments: ["--config", Self.root + "/deploy/kubernetes/base/chat-node.yaml", "--irc-port", "0"])
        #expect(try HTTPGet.get(port: node.opsPort, path: "/readyz").status == 200)
        #expect(node.process.stderr().contains("\"message\":\"listening\""), "JSON logs, as the file asks")
        let balancer = TestEnvironment.binDirectory + "/chat-balancer"
        let keys = try TestEnvironment.run(
            balancer, ["--config", Self.root + "/deploy/kubernetes/base/chat-balancer.yaml", "--print-config"])
        #expect(keys.status == 0, "every key an option of the balancer's: \(keys.output.prefix(300))")
    }
}
