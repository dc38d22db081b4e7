import Foundation
import NIOConcurrencyHelpers

/// SIGHUP, for every part of a server that rereads something on it (the TLS certificates, the configuration file):
/// one signal source, many handlers. Two sources for one signal would not both fire: on Linux, Dispatch reads
/// signals through a signalfd, and whichever source reads a pending signal takes it from the others.
public enum Hangups {
    /// A handler's place; `cancel()` removes it.
    public final class Registration: Sendable {
        let id: Int

        init(id: Int) { self.id = id }

        public func cancel() { Hangups.state.withLockedValue { _ = $0.handlers.removeValue(forKey: id) } }
    }

    // The source is only touched under the lock (and never after it is made but to keep it alive).
    private struct State: @unchecked Sendable {
        var handlers: [Int: @Sendable () -> Void] = [:]
        var nextID = 0
        var source: (any DispatchSourceSignal)?
    }

    private static let state = NIOLockedValueBox(State())

    /// Runs `handler` on every SIGHUP from now on, in the order handlers were added, on a Dispatch thread.
    public static func add(_ handler: @escaping @Sendable () -> Void) -> Registration {
        state.withLockedValue { state in
            if state.source == nil {
                signal(SIGHUP, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "SIGHUP"))
                source.setEventHandler {
                    let handlers = Hangups.state.withLockedValue { $0.handlers.sorted { $0.key < $1.key } }
                    for (_, handler) in handlers { handler() }
                }
                source.resume()
                state.source = source
            }
            state.nextID += 1
            state.handlers[state.nextID] = handler
            return Registration(id: state.nextID)
        }
    }
}
