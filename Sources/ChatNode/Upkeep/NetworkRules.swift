import ChatCore
import ChatStore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The network's bans and message of the day as this node keeps them (docs/moderation.md, "Server operators"): read
/// at start, again whenever a node says they changed (`networkChanged` on `ChatKeys.networkChannel`), and every
/// `refreshInterval` in case that word was lost (pub/sub delivers at most once). Logins and new connections are
/// checked here, in memory: a ban costs Redis nothing per login.
final class NetworkRules: Sendable {
    static let refreshInterval: TimeAmount = .seconds(30)

    private let store: ChatStore
    private let logger: Logger
    private let state = NIOLockedValueBox<(bans: NetworkBans, motd: String?)>((NetworkBans(), nil))

    init(store: ChatStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// The ban in force that keeps out this name (nil before one is given) or address, if any.
    func ban(for name: UserName?, address: String?) -> RoomBan? {
        state.withLockedValue { $0.bans }.ban(for: name, address: address, now: WallClock.now())
    }

    var motd: String? { state.withLockedValue { $0.motd } }

    /// Reads both again; on failure the copy in memory stays (a Redis outage does not lift every ban).
    func refresh() -> EventLoopFuture<Void> {
        let now = WallClock.now()
        return store.networkBans(now: now).and(store.motd()).map { bans, motd in
            self.state.withLockedValue { $0 = (NetworkBans(bans), motd) }
        }.recover { error in
            self.logger.warning(
                "could not read the network's bans and message of the day", metadata: ["error": "\(error)"])
        }
    }

    func startRefreshing(on loop: any EventLoop) -> RepeatedTask {
        loop.scheduleRepeatedAsyncTask(initialDelay: Self.refreshInterval, delay: Self.refreshInterval) { _ in
            self.refresh()
        }
    }
}
