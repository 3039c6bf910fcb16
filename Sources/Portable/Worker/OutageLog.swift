import Foundation
import Logging
import Synchronization

/// Database outages as a worker sees them: one line when one starts, one when it ends, however
/// many of the worker's parts fail or succeed in between.
final class OutageLog: Sendable {
    private struct State {
        var down = false
        /// When the database was last seen back: pooled connections that went stale during the
        /// outage fail once more right after the first success, which is the same outage.
        var backAt: Date?
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let clock: any PortableClock
    /// Called when the database is back (the worker polls at once).
    private let onBack: @Sendable () -> Void

    init(logger: Logger, clock: any PortableClock, onBack: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.clock = clock
        self.onBack = onBack
    }

    /// A call failed. Unavailability is an outage (logged once); anything else is logged as an error.
    func failed(_ error: any Error, doing what: String) {
        let e = PortableError.wrap(error)
        guard e.code == .unavailable else {
            logger.error("worker error", metadata: ["during": .string(what), "error": .string(e.debugDescription)])
            return
        }
        let now = clock.localNow
        let first = state.withLock { s -> Bool in
            if s.down { return false }
            if let back = s.backAt, now.timeIntervalSince(back) < 5 { return false }
            s.down = true
            return true
        }
        if first { logger.warning("database unavailable; retrying with backoff", metadata: ["error": .string(e.message)]) }
    }

    /// A call succeeded.
    func succeeded() {
        let now = clock.localNow
        let wasDown = state.withLock { s -> Bool in
            guard s.down else { return false }
            s.down = false
            s.backAt = now
            return true
        }
        if wasDown {
            logger.info("database is back")
            onBack()
        }
    }
}
