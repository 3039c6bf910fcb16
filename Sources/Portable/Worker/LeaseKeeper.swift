import Foundation
import Logging

/// Lease keeping: a heartbeat every third of the lease extends the leases of running jobs (and
/// re-registers the worker and writes its throttling tallies); a job whose lease is gone
/// (cancelled or reaped) has its handler stopped. A deadline watcher records `TIMEOUT` for
/// handlers past their deadline at once and stops them; their slots stay taken until they return.
/// The two run apart, so a slow database never delays a timeout.
struct LeaseKeeper: Sendable {
    let client: PortableClient
    let options: WorkerOptions
    let table: JobTable
    let acks: AckBuffer
    let claims: Claims
    let outage: OutageLog
    let logger: Logger
    let info: WorkerInfo

    func heartbeats() async {
        let interval = max(0.05, options.leaseSeconds / 3)
        while true {
            do { try await client.clock.sleep(seconds: interval) } catch { return }
            let leases = table.runningLeases
            do {
                let held = try await client.metrics.timed(.heartbeat) {
                    try await client.heartbeat(leases, leaseSeconds: options.leaseSeconds)
                }
                try await client.registerWorker(info)
                try await claims.flushTallies()
                outage.succeeded()
                for l in leases where !held.contains(l.jobId) {
                    guard let stop = table.lose(l.jobId) else { continue }
                    logger.info("lease lost (job cancelled or reaped): stopping its handler", metadata: ["job_id": .string(l.jobId)])
                    stop.fire(.stop)
                }
            } catch {
                outage.failed(error, doing: "heartbeat")
            }
        }
    }

    /// Every 50 ms of the worker's clock: one watcher for all jobs (a sleeping timer task per job,
    /// even cancelled, stayed in memory until its deadline: about 1 KB per job for the default 300 s).
    func deadlines() async {
        while true {
            do { try await client.clock.sleep(seconds: 0.05) } catch { return }
            for t in table.takeTimedOut(now: client.clock.localNow) {
                let seconds = Int(t.deadline.timeIntervalSince(t.startedAt).rounded())
                acks.add(t.entry.job, .failure(code: Codes.timeout, message: "timed out after \(seconds) s", retryable: true),
                         startedAt: t.startedAt)
                t.entry.stop.fire(.stop)
            }
        }
    }
}
