import Foundation

/// Redis, chat nodes behind the PROXY protocol, and the balancer discovering them through Redis: all real processes.
public final class BalancedCluster: @unchecked Sendable {
    public let cluster: TestCluster
    public let balancer: BalancerProcess

    public init(nodes: Int = 3, nodeArguments: [String] = [], balancerArguments: [String] = []) throws {
        cluster = try TestCluster(nodes: nodes, nodeArguments: ["--proxy-protocol"] + nodeArguments)
        balancer = try BalancerProcess(
            arguments: ["--redis", cluster.redis.url, "--send-proxy"] + balancerArguments,
            logDirectory: cluster.logDirectory)
        let names = Set(cluster.nodes.map(\.id))
        guard
            eventually(
                timeout: 5, { (try? Set(self.balancer.nodes().filter { $0.value.state == "up" }.keys)) == names })
        else { throw HarnessError("the balancer never saw every node: \((try? balancer.nodes()) ?? [:])") }
    }
}
