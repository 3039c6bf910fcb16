import Foundation
import Logging

/// The shutdown of DESIGN.md ("Worker runtime"), once the worker starts stopping: no more claims;
/// claimed-but-unstarted jobs go back at once (no attempt); running handlers get
/// `shutdownSeconds` to finish; what still runs then is released as a `lease_released` attempt
/// (not counted against `max_attempts`) and its handler stopped — `--exec` groups get SIGTERM,
/// then SIGKILL after the grace period. Swift handlers stop cooperatively: one that ignores
/// cancellation keeps the worker's `run()` from returning until it does (its job is already
/// handed back), as in River and swift-jobs.
struct Shutdown: Sendable {
    let client: PortableClient
    let options: WorkerOptions
    let table: JobTable
    let acks: AckBuffer
    let claims: Claims
    let logger: Logger

    func run() async {
        let clock = client.clock
        // Claims in flight land first (their jobs are handed back by `deliver`); then no job can
        // reach the dispatcher any more.
        await waitUntil(clock.localNow.addingTimeInterval(max(5, options.leaseSeconds))) { table.claimsInFlight == 0 }
        claims.finishDispatch()
        await waitUntil(clock.localNow.addingTimeInterval(options.shutdownSeconds)) { table.count == 0 }
        let leftovers = table.takeLeftovers()
        guard !leftovers.isEmpty else { return }
        logger.warning("shutdown timeout: releasing running jobs", metadata: ["count": .stringConvertible(leftovers.count)])
        for l in leftovers {
            acks.add(l.entry.job, .released, startedAt: l.startedAt)
            l.entry.stop.fire(.stop)
        }
        await waitUntil(clock.localNow.addingTimeInterval(options.killGraceSeconds + 2)) { table.count == 0 }
    }

    /// Waits for `done` (re-checked whenever the job table changes) until `deadline` on the
    /// worker's clock. Task cancellation ends the wait at once.
    private func waitUntil(_ deadline: Date, _ done: @Sendable () -> Bool) async {
        let (changed, clock) = (table.changed, client.clock)
        while !Task.isCancelled {
            let gen = changed.generation
            if done() { return }
            let left = deadline.timeIntervalSince(clock.localNow)
            if left <= 0 { return }
            await firstOf([
                { await changed.wait(after: gen) },
                { try? await clock.sleep(seconds: left) },
            ])
        }
    }
}
