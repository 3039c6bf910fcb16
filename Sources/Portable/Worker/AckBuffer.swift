import Foundation
import Logging
import Synchronization

/// The ack buffer: outcomes of attempts, written in batches (group commit: whatever arrives while
/// one batch is being written goes in the next). When the worker has free slots, the same round
/// trip claims the next jobs (`completeAndLease`), so a busy worker pays one round trip per batch
/// for both. Acks that cannot be written (an outage) are retried until their lease would have
/// expired; the reaper then retries those jobs.
final class AckBuffer: Sendable {
    struct Outcome: Sendable {
        let job: Job
        let result: AttemptResult
        let startedAt: Date
        let reportedAt: Date
    }

    private struct State {
        var pending: [Outcome] = []
        var writing = 0
        var closed = false
    }

    private let state = Mutex(State())
    private let arrived = AsyncSignal()
    /// Fires whenever the buffer has nothing pending and nothing being written.
    let drained = AsyncSignal()

    let client: PortableClient
    let options: WorkerOptions
    let table: JobTable
    let claims: Claims
    let outage: OutageLog
    let stats: WorkerCounters
    let types: [String: JobTypePolicy]
    let logger: Logger

    init(client: PortableClient, options: WorkerOptions, table: JobTable, claims: Claims, outage: OutageLog,
         stats: WorkerCounters, types: [String: JobTypePolicy], logger: Logger) {
        self.client = client
        self.options = options
        self.table = table
        self.claims = claims
        self.outage = outage
        self.stats = stats
        self.types = types
        self.logger = logger
    }

    func add(_ job: Job, _ result: AttemptResult, startedAt: Date) {
        let o = Outcome(job: job, result: result, startedAt: startedAt, reportedAt: client.clock.localNow)
        state.withLock { $0.pending.append(o) }
        client.metrics.ackBufferDepth.increment()
        arrived.fire()
    }

    /// Outcomes are waiting or being written (the ack path will claim for free slots).
    var isBusy: Bool { state.withLock { !$0.pending.isEmpty || $0.writing > 0 } }

    /// Nothing pending and nothing being written.
    var isDrained: Bool { state.withLock { $0.pending.isEmpty && $0.writing == 0 } }

    /// After the last outcome: `run` returns once everything is written (or given up).
    func close() {
        state.withLock { $0.closed = true }
        arrived.fire()
    }

    /// Two writers share the buffer: while one batch is in the database, the next one (the
    /// outcomes of the jobs claimed with an earlier batch) can be on its way, so a worker with
    /// more slots than one claim keeps two round trips in flight.
    func run() async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<AckBuffer.writers { group.addTask { await self.writerLoop() } }
        }
    }

    static let writers = 2

    private func writerLoop() async {
        var backoff = 0.1
        while true {
            let gen = arrived.generation
            if state.withLock({ !$0.pending.isEmpty }) { await linger() }
            let batch: [Outcome] = state.withLock { s in
                let b = s.pending
                s.pending = []
                if !b.isEmpty { s.writing += 1 }
                return b
            }
            if batch.isEmpty {
                if isDrained { drained.fire() }
                if state.withLock({ $0.closed }) || Task.isCancelled { return }
                await arrived.wait(after: gen)
                continue
            }
            if await write(batch) {
                backoff = 0.1
            } else {
                if Task.isCancelled { return }
                try? await client.clock.sleep(seconds: backoff)
                backoff = min(backoff * 2, 2)
            }
        }
    }

    /// Waits, at most `ackLingerSeconds`, until no handler holds a slot any more (every job
    /// claimed with the last batch has finished) or a full batch is waiting.
    private func linger() async {
        let (table, clock, seconds) = (table, client.clock, options.ackLingerSeconds)
        let full: @Sendable () -> Bool = { self.readyToWrite }
        if full() { return }
        await firstOf([
            {
                while !Task.isCancelled {
                    let gen = table.changed.generation
                    if full() { return }
                    await table.changed.wait(after: gen)
                }
            },
            { try? await clock.sleep(seconds: seconds) },
        ])
    }

    private var readyToWrite: Bool {
        state.withLock { $0.closed || $0.pending.count >= options.claimBatch } || table.count == 0
    }

    /// Writes one batch, claiming along when there is room. False when the database failed.
    private func write(_ batch: [Outcome]) async -> Bool {
        let claim = await reservationForClaimingAlong()
        do {
            let results = batch.map { ($0.job, $0.result) }
            let acks: [AckResult]
            if let claim {
                let (a, jobs) = try await client.metrics.timed(.ackAndClaim) {
                    try await client.completeAndLease(
                        results, types: types, queues: options.queues, jobTypes: claim.types, limit: claim.count,
                        leaseSeconds: options.leaseSeconds, workerId: options.id)
                }
                acks = a
                await claims.deliver(jobs, for: claim)
            } else {
                acks = try await client.metrics.timed(.ack) { try await client.complete(results, types: types) }
            }
            outage.succeeded()
            stats.update { s in
                s.ackBatches += 1
                if claim != nil { s.ackBatchesThatClaimed += 1 }
            }
            record(batch, acks)
            client.metrics.ackBufferDepth.decrement(by: Double(batch.count))
            state.withLock { $0.writing -= 1 }
            table.acksSettled(batch.count)
            if isDrained { drained.fire() }
            return true
        } catch {
            if let claim { table.cancel(claim) }
            outage.failed(error, doing: "ack")
            // A lease runs at least two thirds of its length past the last heartbeat before the report.
            let now = client.clock.localNow
            let keep = batch.filter { now.timeIntervalSince($0.reportedAt) < options.leaseSeconds * 2 / 3 }
            if keep.count < batch.count {
                logger.warning("gave up acks whose lease has expired; the reaper will retry those jobs",
                               metadata: ["count": .stringConvertible(batch.count - keep.count)])
            }
            state.withLock { s in
                s.pending.insert(contentsOf: keep, at: 0)
                s.writing -= 1
            }
            table.acksSettled(batch.count - keep.count)
            client.metrics.ackBufferDepth.decrement(by: Double(batch.count - keep.count))
            return false
        }
    }

    /// Slots for the claim that rides along with an ack, when the worker has room and is not
    /// stopping. Queues with a policy are the claim loop's (claimed under their own lock).
    private func reservationForClaimingAlong() async -> Reservation? {
        guard !table.isStopping else { return nil }
        _ = try? await claims.currentPolicies()
        guard !claims.hasRestrictedQueues() else { return nil }
        return claims.reserve()
    }

    private func record(_ batch: [Outcome], _ acks: [AckResult]) {
        stats.update { s in
            for (o, ack) in zip(batch, acks) {
                if ack == .leaseLost { s.leaseLost += 1; continue }
                switch o.result {
                case .success: s.succeeded += 1
                case .released: s.released += 1
                case .snoozed: s.snoozed += 1
                default: s.failed += 1
                }
            }
        }
        for (o, ack) in zip(batch, acks) where ack == .applied {
            let outcome = AckBuffer.outcomeName(o.result)
            client.metrics.completed(queue: o.job.queue, outcome: outcome)
            if options.verboseJobLogs {
                var meta: Logger.Metadata = ["job_id": .string(o.job.id), "queue": .string(o.job.queue),
                                             "job_type": .string(o.job.jobType), "outcome": .string(outcome),
                                             "attempt": .stringConvertible(o.job.attempts),
                                             "duration_ms": .stringConvertible(Int((o.reportedAt.timeIntervalSince(o.startedAt) * 1000).rounded()))]
                if case .failure(let code, _, _) = o.result { meta["error_code"] = .string(code) }
                logger.info("job finished", metadata: meta)
            }
        }
    }

    static func outcomeName(_ r: AttemptResult) -> String {
        switch r {
        case .success: return "succeeded"
        case .released: return "released"
        case .snoozed: return "snoozed"
        case .leaseExpired: return "lease_expired"
        case .failure, .badPayload: return "failed"
        }
    }
}
