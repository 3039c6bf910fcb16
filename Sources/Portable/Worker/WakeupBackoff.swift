import Foundation

/// Keeps a fleet of idle workers from answering every notification at once (a thundering herd).
///
/// On Postgres every enqueue's NOTIFY reaches every listening process; at 100 idle workers each
/// one claims, one finds the job and 99 find nothing (measured: 3× the claims and 2.7× the
/// Postgres CPU of 4 workers, and a 200 jobs/s stream served at 18). A worker whose claim after a
/// wakeup came back empty therefore stops listening for a while: 50 ms, doubling with each further
/// empty wakeup up to `maxSeconds`, scaled by a random factor in [0.5, 1) so the fleet spreads
/// out. A notification that arrives meanwhile is not lost: the wakeup is level-triggered, so the
/// worker claims as soon as its quiet time ends. One claim that finds work resets it. The result,
/// whatever the fleet size: a failing worker claims at most about once per quiet time, and the
/// workers that are finding work answer at once (River's fetch cooldown and Oban's jittered
/// polling solve the same problem).
struct WakeupBackoff: Sendable, Equatable {
    static let baseSeconds = 0.05
    /// Never longer than the poll interval: a quiet worker is never slower than a polling one.
    let maxSeconds: Double
    /// Wakeups in a row whose claim found nothing.
    private(set) var emptyWakeups = 0

    init(pollIntervalSeconds: Double) {
        maxSeconds = max(WakeupBackoff.baseSeconds, min(0.5, pollIntervalSeconds))
    }

    /// After each claim: `took` jobs, made because a wakeup (not the poll timer) ended the wait.
    mutating func claimed(_ took: Int, afterWakeup: Bool) {
        if took > 0 { emptyWakeups = 0 } else if afterWakeup { emptyWakeups += 1 }
    }

    /// How long to stop listening before the next wait (0: listen at once). `unit` is in [0, 1).
    func quietSeconds(unit: Double) -> Double {
        guard emptyWakeups > 0 else { return 0 }
        let doubled = WakeupBackoff.baseSeconds * pow(2, Double(min(emptyWakeups - 1, 20)))
        return min(maxSeconds, doubled) * (0.5 + 0.5 * min(max(unit, 0), 1))
    }
}
