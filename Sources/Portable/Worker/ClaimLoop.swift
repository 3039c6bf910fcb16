import Foundation
import Logging

/// The claim loop: claims up to the free slots whenever the worker has room and the ack buffer is
/// not already claiming for it; when a claim comes back empty, waits for a wakeup (an enqueue in
/// this process, NOTIFY on Postgres), the poll interval, or stop. With `--until-empty` it stops
/// the worker once the worker is idle and its queues hold no queued or running job.
struct ClaimLoop: Sendable {
    let claims: Claims
    let acks: AckBuffer
    let table: JobTable
    let outage: OutageLog
    let options: WorkerOptions
    let client: PortableClient
    let logger: Logger
    /// Called when `--until-empty` finds nothing left.
    let stopWorker: @Sendable () -> Void

    func run() async {
        var backoff = 0.2
        var saidWaiting = false
        var quiet = WakeupBackoff(pollIntervalSeconds: options.pollIntervalSeconds)
        var woken = false
        while !Task.isCancelled {
            // Generations first, then the state they guard: a change in between wakes the wait.
            let stopGen = table.stopped.generation
            if table.isStopping { return }
            let slotGen = table.changed.generation
            let wakeGen = client.wakeups.generation
            // A busy worker claims along with each ack batch (one round trip for both); queues with
            // a policy are claimed here only, one at a time under their lock. Waiting for the
            // buffer to drain (not for each freed slot) keeps a busy loop from waking per job.
            let drainGen = acks.drained.generation
            if table.hasUnwrittenAcks && !claims.hasRestrictedQueues() {
                let (drained, stopped, clock) = (acks.drained, table.stopped, client.clock)
                await firstOf([
                    { await drained.wait(after: drainGen) },
                    { await stopped.wait(after: stopGen) },
                    { try? await clock.sleep(seconds: 0.1) },  // re-checks policies now and then
                ])
                continue
            }
            guard let r = claims.reserve() else {
                await table.changed.wait(after: slotGen)
                continue
            }
            do {
                let took = try await claims.claim(r)
                claims.stats.update { $0.claimRoundTrips += 1 }
                outage.succeeded()
                backoff = 0.2
                quiet.claimed(took, afterWakeup: woken)
                woken = false
                if took > 0 { continue }
                if options.untilEmpty, table.isIdle {
                    let left = try await whatIsLeft()
                    if left.isEmpty {
                        logger.info("queues are empty: stopping (--until-empty)")
                        stopWorker()
                        return
                    }
                    if left.onlyScheduled, !saidWaiting {
                        // Retries back off through run_at: waiting is right, but say so once.
                        saidWaiting = true
                        logger.info("waiting for jobs scheduled ahead (--until-empty)", metadata: [
                            "scheduled": .stringConvertible(left.scheduled),
                            "next_due": .string(left.nextDue.map { Time.format($0) } ?? "-")])
                    }
                }
                let quietFor = quiet.quietSeconds(unit: client.random.unit())
                if quietFor > 0 {
                    claims.stats.update { $0.quietWaits += 1 }
                    await pause(quietFor, stopGen: stopGen)
                }
                woken = await waitForWork(after: wakeGen, stopGen: stopGen)
            } catch {
                outage.failed(error, doing: "claim")
                await pause(backoff, stopGen: stopGen)
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// Until jobs arrive (a wakeup), the poll interval passes, or the worker stops. True when a
    /// wakeup ended it.
    private func waitForWork(after wakeGen: UInt64, stopGen: UInt64) async -> Bool {
        // `--until-empty` polls faster: it must notice retries that come due and jobs other workers finish.
        let poll = options.untilEmpty ? min(0.2, options.pollIntervalSeconds) : options.pollIntervalSeconds
        let queues = options.queues
        let (wakeups, stopped, clock) = (client.wakeups, table.stopped, client.clock)
        return await firstOf([
            { await wakeups.wait(queues: queues, after: wakeGen, timeout: nil) },
            { await stopped.wait(after: stopGen) },
            { try? await clock.sleep(seconds: poll) },
        ]) == 0
    }

    /// Backoff after a failed claim, cut short by stop.
    private func pause(_ seconds: Double, stopGen: UInt64) async {
        let (stopped, clock) = (table.stopped, client.clock)
        await firstOf([
            { await stopped.wait(after: stopGen) },
            { try? await clock.sleep(seconds: seconds) },
        ])
    }

    /// What keeps `--until-empty` from stopping: queued (whatever their `run_at`) and running jobs.
    struct Left {
        var running = 0
        var due = 0
        var scheduled = 0
        var nextDue: Date?
        var isEmpty: Bool { running == 0 && due == 0 && scheduled == 0 }
        var onlyScheduled: Bool { running == 0 && due == 0 && scheduled > 0 }
    }

    /// One snapshot of the worker's queues. Read only when this worker is idle, so no claim or
    /// ack of its own is in flight.
    private func whatIsLeft() async throws -> Left {
        var left = Left()
        for c in try await client.queueCounts() where c.count > 0 && (options.queues?.contains(c.queue) ?? true) {
            switch c.status {
            case .running: left.running += c.count
            case .queued where c.due: left.due += c.count
            case .queued:
                left.scheduled += c.count
                if let at = c.oldestRunAt, left.nextDue.map({ at < $0 }) ?? true { left.nextDue = at }
            default: break
            }
        }
        return left
    }
}
