import ChatCore
import Foundation

/// Wall-clock time for what people see and Redis stores. Rate limits and timeouts use NIO's monotonic clock instead.
enum WallClock {
    static func now() -> Millis { Millis((Date().timeIntervalSince1970 * 1000).rounded()) }
}
