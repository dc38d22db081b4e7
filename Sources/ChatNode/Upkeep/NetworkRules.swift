import ChatCore
import ChatStore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The network's bans and message of the day as this node keeps them (docs/moderation.md, "Server operators"): read
/// at start, again whenever a node says they changed (`networkChanged` on `ChatKeys.networkChannel`), when that
/// channel is subscribed again after an outage, and every `refreshInterval` in case a word was lost (pub/sub
/// delivers at most once). Logins are checked here, in memory: a ban costs Redis nothing per login. Bans that a
/// read finds new are handed to `onNewBans`, which checks the node's sessions against them, so a ban disconnects
/// its matches however the node learnt of it.
final class NetworkRules: Sendable {
    /// A ban with its mask parsed once, for checking many sessions.
    typealias ParsedBan = (ban: RoomBan, mask: BanMask)

    static let refreshInterval: TimeAmount = .seconds(30)

    private let store: ChatStore
    private let logger: Logger
    private let state = NIOLockedValueBox<(bans: NetworkBans, motd: String?)>((NetworkBans(), nil))
    /// Set once at start, before the first read.
    private let newBans = NIOLockedValueBox<(@Sendable ([ParsedBan]) -> Void)?>(nil)

    func onNewBans(_ handler: @escaping @Sendable ([ParsedBan]) -> Void) { newBans.withLockedValue { $0 = handler } }

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
            let known = self.state.withLockedValue { state in
                defer { state = (NetworkBans(bans), motd) }
                return Set(state.bans.bans.map { "\($0.mask) \($0.time)" })
            }
            let added = bans.filter { !known.contains("\($0.mask) \($0.time)") }.compactMap { ban in
                (try? BanMask(parsing: ban.mask)).map { (ban, $0) }
            }
            if !added.isEmpty { self.newBans.withLockedValue { $0 }?(added) }
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
