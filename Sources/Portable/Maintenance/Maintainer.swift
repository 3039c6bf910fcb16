import Foundation
import Logging

public struct MaintenanceSettings: Sendable {
    public var reapIntervalSeconds = 5.0
    public var intervalSeconds = 60.0
    public var archiveSucceededAfterDays = 7.0
    public var deleteArchivedAfterDays = 30.0
    public var pruneHistoryAfterDays = 7.0
    public var decisionsRetentionDays = 7.0
    /// Rows per statement: deletes and moves never hold long locks.
    public var batchSize = 1000
    /// Statements per task per pass; the rest waits for the next pass.
    public var maxBatchesPerPass = 50
    /// Missed schedule slots enqueued at most, per schedule and pass.
    public var maxCatchUpSlots = 100
    /// Attempts are rolled up into totals once they are this old: a Postgres ack stamps
    /// `finished_at` with its transaction's start, so one may commit a little after that time.
    public var totalsSettleSeconds = 60.0
    /// Attempts added per rollup statement at most (`maxBatchesPerPass` statements per pass).
    public var totalsBatchAttempts = 10_000

    public init() {}

    public init(_ s: Settings) {
        reapIntervalSeconds = Double(s.reapIntervalMs) / 1000
        intervalSeconds = s.maintenanceIntervalSecs
        archiveSucceededAfterDays = s.archiveSucceededAfterDays
        deleteArchivedAfterDays = s.deleteArchivedAfterDays
        pruneHistoryAfterDays = s.pruneHistoryAfterDays
        decisionsRetentionDays = s.decisionsRetentionDays
        totalsSettleSeconds = s.totalsSettleSecs
    }

    /// The leader lease outlives a few missed ticks, so a slow tick does not hand it over.
    var leaseSeconds: Double { max(15, 3 * reapIntervalSeconds) }
}

/// Maintenance (invariant 9): reaping, recurring jobs, archiving, deleting, pruning, expiring.
/// Every worker runs one; only the holder of the `maintenance` leader lease acts, and every run
/// it makes is recorded. Each task is a bounded loop of batched statements.
public final class Maintainer: Sendable {
    public static let leaseName = "maintenance"
    public let client: PortableClient
    public let settings: MaintenanceSettings
    public let holder: String
    let logger: Logger

    public init(client: PortableClient, settings: MaintenanceSettings, holder: String,
                logger: Logger = Logger(label: "portableq.maintenance")) {
        self.client = client
        self.settings = settings
        self.holder = holder
        self.logger = logger
    }

    var driver: any StorageDriver { client.driver }

    /// Takes or renews the lease; true while this maintainer is the leader.
    public func lead() async throws -> LeaderLease {
        try await driver.leaderAcquire(name: Maintainer.leaseName, holder: holder, seconds: settings.leaseSeconds, now: client.clock.now)
    }

    public func resign() async {
        try? await driver.leaderRelease(name: Maintainer.leaseName, holder: holder)
    }

    /// One short tick (every `REAP_INTERVAL_MS`): reap expired leases and enqueue due schedule
    /// slots, if leader. Runs that did something are recorded.
    @discardableResult
    public func tick() async throws -> [MaintenanceRun]? {
        guard try await lead().isMine else { return nil }
        var runs: [MaintenanceRun] = []
        runs.append(try await timed("reap") { (try await self.client.reap(limit: self.settings.batchSize), nil) })
        runs.append(try await timed("schedules") { try await self.enqueueDueSchedules() })
        let did = runs.filter { $0.affected > 0 }
        try await driver.maintenanceRecord(did)
        return did
    }

    /// One full pass (every `MAINTENANCE_INTERVAL_SECS`, and `portableq maintain --once`):
    /// the tick's tasks plus archive, delete, prune and expire. Every task's run is recorded.
    /// Returns nil when another maintainer holds the lease.
    @discardableResult
    public func pass() async throws -> [MaintenanceRun]? {
        guard try await lead().isMine else { return nil }
        let now = try await driver.clockNow(client.clock.now)
        let day = 86_400.0
        var runs: [MaintenanceRun] = []
        runs.append(try await timed("reap") { (try await self.client.reap(limit: self.settings.batchSize), nil) })
        runs.append(try await timed("schedules") { try await self.enqueueDueSchedules() })
        // Totals first: retention below never deletes an attempt the rollup has not counted.
        var through: Date?
        runs.append(try await timed("totals") {
            let (n, mark) = try await self.rollUpTotals(now: now)
            through = mark
            return (n, mark.map { "attempts finished before \(Time.format($0))" })
        })
        let archiveCut = now.addingTimeInterval(-settings.archiveSucceededAfterDays * day)
        runs.append(try await timed("archive") {
            // Jobs created after the cut cannot have finished before it: the UUIDv7 bound keeps the scan short.
            let bound = UUIDv7.lowerBound(for: archiveCut)
            return (try await self.batches { try await self.driver.jobArchiveBefore(archiveCut, idBelow: bound, limit: $0, now: self.client.clock.now) },
                    "succeeded before \(Time.format(archiveCut))")
        })
        // An archived job's attempts finished before it was archived: cuts at or before the
        // watermark delete only attempts already in the totals (see QueueTotalsRow).
        let counted = through ?? now.addingTimeInterval(-3650 * day)  // (no watermark: only a first rollup that failed)
        let deleteCut = min(now.addingTimeInterval(-settings.deleteArchivedAfterDays * day), counted)
        runs.append(try await timed("delete_archived") {
            (try await self.batches { try await self.driver.archiveDeleteBefore(deleteCut, limit: $0) }, "archived before \(Time.format(deleteCut))")
        })
        let pruneCut = min(now.addingTimeInterval(-settings.pruneHistoryAfterDays * day), counted)
        runs.append(try await timed("prune_history") {
            (try await self.batches { try await self.driver.historyPruneBefore(pruneCut, limit: $0, now: self.client.clock.now) },
             "history of jobs archived before \(Time.format(pruneCut))")
        })
        let expireCut = now.addingTimeInterval(-settings.decisionsRetentionDays * day)
        runs.append(try await timed("expire") {
            (try await self.driver.expireBefore(expireCut), "decisions, runs and gone workers before \(Time.format(expireCut))")
        })
        try await driver.maintenanceRecord(runs)
        return runs
    }

    /// What `maintain --once` did: a pass, or nothing because another maintainer holds the lease
    /// (it runs maintenance; running a second one beside it would only contend).
    public enum OnceOutcome: Sendable {
        case ran([MaintenanceRun])
        case leftTo(holder: String)
    }

    /// One pass if this maintainer can take the lease (released afterwards), else who holds it.
    public func once() async throws -> OnceOutcome {
        let lease = try await lead()
        guard lease.isMine else { return .leftTo(holder: lease.holder) }
        let runs: [MaintenanceRun]?
        do {
            runs = try await pass()
        } catch {
            await resign()
            throw error
        }
        await resign()
        // pass() renews the lease just taken: it is lost only if the lease expired in between.
        guard let runs else { throw PortableError(.unavailable, "lost the maintenance lease before the pass began; try again") }
        return .ran(runs)
    }

    /// Rolls attempts into the per-queue totals up to `now` minus the settle time, one bounded
    /// window per statement. Returns the attempts counted and the watermark after it.
    func rollUpTotals(now: Date) async throws -> (Int, Date?) {
        let plan = TotalsRollupPlan(upTo: now.addingTimeInterval(-settings.totalsSettleSeconds),
                                    maxAttempts: settings.totalsBatchAttempts,
                                    keepAfter: now.addingTimeInterval(-Double(TotalsReport.maxDays + 1) * 86_400))
        var counted = 0
        var through: Date?
        for _ in 0..<settings.maxBatchesPerPass {
            let step = try await driver.totalsRollup(plan)
            counted += step.attempts
            through = step.through
            if step.caughtUp || (step.through ?? plan.upTo) >= plan.upTo { break }
        }
        return (counted, through)
    }

    /// Repeats a bounded statement until it does less than a full batch (or the pass cap).
    func batches(_ step: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        for _ in 0..<settings.maxBatchesPerPass {
            let n = try await step(settings.batchSize)
            total += n
            if n < settings.batchSize { break }
        }
        return total
    }

    func timed(_ task: String, _ body: () async throws -> (Int, String?)) async throws -> MaintenanceRun {
        let start = client.clock.localNow
        let wall = Date()
        let (n, details) = try await body()
        let finished = start.addingTimeInterval(Date().timeIntervalSince(wall))
        return MaintenanceRun(holder: holder, task: task, startedAt: start, finishedAt: finished, affected: n, details: details)
    }

    /// Enqueues every due slot of every schedule with the key `cron:<name>:<slot>` (so a slot
    /// enqueued by a previous leader is a no-op), then records the last slot.
    func enqueueDueSchedules() async throws -> (Int, String?) {
        let schedules = try await driver.scheduleList()
        guard !schedules.isEmpty else { return (0, nil) }
        let now = try await driver.clockNow(client.clock.now)
        var created = 0
        for s in schedules {
            guard let cron = try? Cron(s.cron, timeZone: s.timezone) else { continue }
            let from = s.lastSlotAt ?? s.createdAt ?? now
            let slots = cron.slots(after: from, upTo: now, limit: settings.maxCatchUpSlots)
            guard !slots.isEmpty else { continue }
            let jobs = slots.map { slot in
                NewJob(queue: s.queue, jobType: s.jobType, payloadJSON: s.payload, priority: s.priority,
                       maxAttempts: s.maxAttempts, timeoutSeconds: s.timeoutSeconds,
                       idempotencyKey: Schedule.key(name: s.name, slot: slot))
            }
            do {
                created += try await client.enqueueMany(jobs).filter(\.created).count
                try await driver.scheduleAdvance(s.name, to: slots.last!)
            } catch let e as PortableError where e.code == .enqueueRateExceeded || e.code == .payloadTooLarge {
                logger.warning("schedule refused by a guardrail; will try again", metadata: ["schedule": .string(s.name), "error": .string(e.message)])
            }
        }
        return (created, nil)
    }

    /// Runs until cancelled: a tick every `reapIntervalSeconds`, a full pass every
    /// `intervalSeconds` (the first soon after start).
    public func run() async {
        var nextPass = Date().addingTimeInterval(min(settings.intervalSeconds, 2))
        var wasLeader = false
        while !Task.isCancelled {
            do {
                let runs: [MaintenanceRun]?
                if Date() >= nextPass {
                    runs = try await pass()
                    nextPass = Date().addingTimeInterval(settings.intervalSeconds)
                } else {
                    runs = try await tick()
                }
                let leader = runs != nil
                if leader != wasLeader {
                    logger.info(leader ? "took the maintenance lease" : "another worker holds the maintenance lease",
                                metadata: ["holder": .string(holder)])
                    wasLeader = leader
                }
                for r in runs ?? [] where r.affected > 0 {
                    logger.info("maintenance", metadata: ["task": .string(r.task), "affected": .stringConvertible(r.affected),
                                                          "ms": .stringConvertible(Time.millis(r.finishedAt) - Time.millis(r.startedAt))])
                }
            } catch {
                let e = PortableError.wrap(error)
                if e.code != .unavailable { logger.error("maintenance failed", metadata: ["error": .string(e.debugDescription)]) }
            }
            try? await Task.sleep(nanoseconds: UInt64(settings.reapIntervalSeconds * 1e9))
        }
        if wasLeader { await resign() }
    }
}

extension UUIDv7 {
    /// The smallest UUIDv7 of the millisecond `date`: every id made at or after it compares greater.
    public static func lowerBound(for date: Date) -> String {
        let ms = UInt64(max(0, Time.millis(date)))
        var b = [UInt8](repeating: 0, count: 16)
        for k in 0..<6 { b[k] = UInt8((ms >> (8 * (5 - k))) & 0xFF) }
        b[6] = 0x70
        b[8] = 0x80
        return format(b)
    }
}
