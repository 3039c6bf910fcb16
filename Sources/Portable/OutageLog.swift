import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Database outages as one process sees them: one line when an outage starts, one when it ends,
/// however many callers fail or succeed in between. A worker's parts report to it; `serve`
/// shares one between its HTTP layer, its probe (`OutageWatch`) and its built-in worker.
public final class OutageLog: Sendable {
    private struct State {
        var down = false
        /// When the database was last seen back: a call that was already under way when the
        /// database came back, or a connection that went stale during the outage, can still
        /// fail right after the first success; that is the same outage.
        var backAt: Date?
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let clock: any PortableClock
    private let whileDown: String
    /// Called when the database is back (a worker polls at once).
    private let onBack: @Sendable () -> Void
    private let metrics: ProcessMetrics
    /// Failures this soon after the database came back belong to the outage that just ended.
    public static let settleSeconds = 5.0

    /// `whileDown` ends the outage line ("database unavailable; <whileDown>").
    public init(logger: Logger, clock: any PortableClock = SystemClock(), whileDown: String = "retrying with backoff",
                metrics: ProcessMetrics = .shared, onBack: @escaping @Sendable () -> Void = {}) {
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.whileDown = whileDown
        self.onBack = onBack
    }

    public var isDown: Bool { state.withLock { $0.down } }

    /// A call failed. Unavailability is an outage (logged once); anything else is logged as an error.
    public func failed(_ error: any Error, doing what: String) {
        let e = PortableError.wrap(error)
        guard e.code == .unavailable else {
            logger.error("database call failed", metadata: ["during": .string(what), "error": .string(e.debugDescription)])
            return
        }
        let now = clock.localNow
        let first = state.withLock { s -> Bool in
            if s.down { return false }
            if let back = s.backAt, now.timeIntervalSince(back) < OutageLog.settleSeconds { return false }
            s.down = true
            return true
        }
        if first {
            metrics.outages.increment()
            logger.warning("database unavailable; \(whileDown)", metadata: ["during": .string(what), "error": .string(e.message)])
        }
    }

    /// A call succeeded.
    public func succeeded() {
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

/// Asks the database every few seconds (every second while it is down) and reports to an
/// `OutageLog`, so a process that may make no other call — `serve --no-worker` with no
/// requests, or one started during an outage — still logs when an outage starts and ends.
public struct OutageWatch: Service {
    let log: OutageLog
    let clock: any PortableClock
    let probe: @Sendable () async throws -> Void
    let interval: Double

    public init(log: OutageLog, clock: any PortableClock = SystemClock(), interval: Double = 5,
                probe: @escaping @Sendable () async throws -> Void) {
        self.log = log
        self.clock = clock
        self.interval = interval
        self.probe = probe
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await clock.sleep(seconds: log.isDown ? min(1, interval) : interval)
                do {
                    try await probe()
                    log.succeeded()
                } catch let e as PortableError where e.code == .unavailable {
                    log.failed(e, doing: "probe")
                } catch is CancellationError {
                    return
                } catch {
                    // Not an outage (a schema this binary cannot use, …): requests report it.
                }
            }
        }
    }
}
