import ChatCore
import ChatStore
import NIOConcurrencyHelpers
import NIOCore

/// A room's member list (IRC's NAMES and WHO, and every other client's first `who` page), read from the store once
/// for every session on this node that asks at about the same time. Each listing costs the store one lookup per
/// member listed, up to `MemberListing.maximumListed`: in a connect storm (a node died and its thousands of clients
/// come back here at once) every IRC JOIN asks for its room's NAMES, and a thousand joins to a thousand-member room
/// were a million lookups. Here each room and listing has one reading under way at a time and one waiting.
///
/// A listing is never older than the request: a request shares only a reading that starts after it arrived, so
/// NAMES after one's own JOIN always lists oneself. While a room's reading is under way, requests for it wait for
/// the next one, which starts when that one ends and serves all of them.
final class MemberListings: Sendable {
    private struct Key: Hashable {
        var room: RoomName
        var everyone: Bool
    }

    /// What one request does: wait for a reading, or read (and serve whoever queues meanwhile).
    private enum Turn {
        case wait(EventLoopFuture<MemberPage>)
        case read(EventLoopPromise<MemberPage>)
    }

    private let store: ChatStore
    /// Rooms with a reading under way, each with the promise of the next reading if requests are waiting for one.
    private let underWay = NIOLockedValueBox<[Key: EventLoopPromise<MemberPage>?]>([:])

    init(store: ChatStore) {
        self.store = store
    }

    /// The listing for `who(room, listing)`: shared for IRC's everyone and for the first page; later pages (a
    /// cursor one client was given) are read for that client alone.
    func who(_ room: RoomName, listing: MemberListing) -> EventLoopFuture<MemberPage> {
        let key: Key
        switch listing {
        case .everyone: key = Key(room: room, everyone: true)
        case .page(after: nil): key = Key(room: room, everyone: false)
        case .page: return store.who(room, listing: listing, now: WallClock.now())
        }
        let turn = underWay.withLockedValue { underWay -> Turn in
            guard let waiting = underWay[key] else {
                underWay[key] = .some(nil)
                return .read(store.eventLoop.makePromise())
            }
            if let next = waiting { return .wait(next.futureResult) }
            let next = store.eventLoop.makePromise(of: MemberPage.self)
            underWay[key] = next
            return .wait(next.futureResult)
        }
        switch turn {
        case .wait(let reading):
            return reading
        case .read(let promise):
            read(key, listing: listing, into: promise)
            return promise.futureResult
        }
    }

    /// Reads outside the lock (a reading that fails at once, Redis away, completes inline), then starts the next
    /// reading if requests queued for one meanwhile.
    private func read(_ key: Key, listing: MemberListing, into promise: EventLoopPromise<MemberPage>) {
        store.who(key.room, listing: listing, now: WallClock.now()).cascade(to: promise)
        promise.futureResult.whenComplete { _ in
            let next = self.underWay.withLockedValue { underWay -> EventLoopPromise<MemberPage>? in
                guard let next = underWay[key] ?? nil else {
                    underWay[key] = nil
                    return nil
                }
                underWay[key] = .some(nil)
                return next
            }
            if let next { self.read(key, listing: listing, into: next) }
        }
    }
}
