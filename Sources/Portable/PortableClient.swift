import Foundation

/// Bounds on per-job fields (they fit the databases' integer columns).
public enum Limits {
    public static let maxAttempts = 1_000_000
    public static let timeoutSeconds = 31_536_000
    public static let backoffBaseMs = 86_400_000
    public static let maxDelaySeconds = 1e10
}

/// Settings of the core that do not belong to a single call.
public struct PortableConfig: Sendable {
    public var defaults = PolicyDefaults()
    /// Guardrail: the largest payload (compact JSON bytes). `MAX_PAYLOAD_BYTES`.
    public var maxPayloadBytes = 1 << 20
    /// Guardrail: enqueues per queue per sliding minute, nil for unlimited. `MAX_ENQUEUE_PER_MINUTE`.
    public var maxEnqueuePerMinute: Int?
    /// Snoozes a job may take before it is dead-lettered `SNOOZE_LIMIT`. `MAX_SNOOZES`.
    public var maxSnoozes = 100
    /// Lists count exactly up to this many rows and say `total_capped` beyond.
    public var countCap = 10_000
    /// Bulk actions touch at most this many jobs per call.
    public var bulkCap = 10_000

    public init() {}
}

/// The core: enqueue, inspect and operate on jobs through any `StorageDriver`. Workers use
/// `lease`, `heartbeat`, `complete` and `reap`. Every state decision is made here.
public final class PortableClient: Sendable {
    /// The storage seam. Fronts (CLI, HTTP) go through the client's methods; drivers are the core's.
    package let driver: any StorageDriver
    public let config: PortableConfig
    public let clock: any PortableClock
    public let random: any RandomSource
    public let ids: UUIDv7
    /// This process's metrics (enqueues here; its workers' claims, outcomes and round trips).
    public let metrics: ProcessMetrics
    let flowDefinitions = FlowDefinitionCache()

    public init(driver: any StorageDriver, config: PortableConfig = PortableConfig(),
                clock: any PortableClock = SystemClock(), random: any RandomSource = SystemRandom(),
                metrics: ProcessMetrics = .shared) {
        self.driver = driver
        self.config = config
        self.clock = clock
        self.random = random
        self.ids = UUIDv7(random: random)
        self.metrics = metrics
    }

    var now: Date? { clock.now }

    // MARK: enqueue

    public func enqueue(_ job: NewJob) async throws -> EnqueueResult {
        try await enqueueMany([job])[0]
    }

    /// Enqueues a batch in one round trip, taken or refused whole (guardrails: invariant 7).
    public func enqueueMany(_ jobs: [NewJob]) async throws -> [EnqueueResult] {
        guard !jobs.isEmpty else { return [] }
        var oversized = Set<Int>()
        let rows = try jobs.enumerated().map { i, j in
            do {
                return try prepareInsert(j, sizeChecked: { oversized.insert(i) })
            } catch var e as PortableError where jobs.count > 1 {
                e.message = "job \(i + 1) of \(jobs.count): " + e.message
                throw e
            }
        }
        return try await insertGuarded(rows, oversized: oversized)
    }

    /// Applies the guardrails (after dedupe) and inserts what is not a duplicate.
    func insertGuarded(_ rows: [JobInsert], oversized: Set<Int>) async throws -> [EnqueueResult] {
        let duplicates = oversized.isEmpty && config.maxEnqueuePerMinute == nil
            ? [:] : try await applyGuardrails(rows, oversized: oversized)
        let toInsert = rows.enumerated().filter { duplicates[$0.offset] == nil }
        let outcomes = toInsert.isEmpty ? [] : try await metrics.timed(.enqueue) {
            try await driver.jobInsertMany(toInsert.map(\.element), now: now)
        }
        for o in outcomes where o.created { metrics.queue(o.job.queue).enqueued.increment() }
        var out = [EnqueueResult?](repeating: nil, count: rows.count)
        for (i, d) in duplicates { out[i] = EnqueueResult(job: d.job, created: false, duplicate: d.kind) }
        for ((i, _), o) in zip(toInsert, outcomes) {
            out[i] = EnqueueResult(job: o.job, created: o.created, duplicate: o.duplicate, replaced: o.replaced)
        }
        return out.map { $0! }
    }

    /// Validates a job and turns it into a row: names, JSON, limits, id. A payload over the limit
    /// is reported through `sizeChecked` (refused later, after dedupe), or refused at once.
    func prepareInsert(_ j: NewJob, replayOf: String? = nil, runId: String? = nil, stepSlug: String? = nil,
                       sizeChecked: (() -> Void)? = nil) throws -> JobInsert {
        try Names.check(j.queue, "queue")
        try Names.check(j.jobType, "job_type")
        let payload = try JSON.minify(j.payload)
        if payload.utf8.count > config.maxPayloadBytes {
            guard let sizeChecked else {
                throw PortableError(.payloadTooLarge,
                    "payload is \(payload.utf8.count) bytes; the limit (MAX_PAYLOAD_BYTES) is \(config.maxPayloadBytes)")
            }
            sizeChecked()
        }
        if let m = j.maxAttempts, !(1...Limits.maxAttempts).contains(m) {
            throw PortableError.invalid("max_attempts must be between 1 and \(Limits.maxAttempts)")
        }
        if let t = j.timeoutSeconds, !(1...Limits.timeoutSeconds).contains(t) {
            throw PortableError.invalid("timeout_seconds must be between 1 and \(Limits.timeoutSeconds)")
        }
        if let b = j.backoffBaseMs, !(0...Limits.backoffBaseMs).contains(b) {
            throw PortableError.invalid("the backoff base must be between 0 and \(Limits.backoffBaseMs) ms")
        }
        if j.runAt != nil, j.delaySeconds != nil { throw PortableError.invalid("give run_at or delay_seconds, not both") }
        if let d = j.delaySeconds, !(d >= 0 && d <= Limits.maxDelaySeconds) {
            throw PortableError.invalid("delay_seconds must be between 0 and \(Int(Limits.maxDelaySeconds))")
        }
        if let r = j.runAt, !(r.timeIntervalSince1970 > -62_135_596_800 && r.timeIntervalSince1970 < 253_402_300_800) {
            throw PortableError.invalid("run_at must be between years 1 and 9999")
        }
        guard (Int(Int32.min)...Int(Int32.max)).contains(j.priority) else {
            throw PortableError.invalid("priority must fit in 32 bits")
        }
        if let k = j.idempotencyKey {
            guard !k.isEmpty, k.unicodeScalars.count <= 255, !k.contains("\u{0}") else {
                throw PortableError.invalid("idempotency_key must be 1 to 255 characters without NUL")
            }
        }
        if let k = j.concurrencyKey { try KeyedClaim.checkKey(k) }
        var row = JobInsert(id: ids.next(at: clock.localNow), queue: j.queue, jobType: j.jobType, payload: payload,
                            priority: j.priority, runAt: j.runAt, delaySeconds: j.delaySeconds ?? 0,
                            maxAttempts: j.maxAttempts, timeoutSeconds: j.timeoutSeconds, backoffBaseMs: j.backoffBaseMs,
                            idempotencyKey: j.idempotencyKey, replayOf: replayOf, runId: runId, stepSlug: stepSlug)
        row.concurrencyKey = j.concurrencyKey
        row.tags = try JobTags.validated(j.tags)
        if let m = j.metadata { row.metadata = try JobMetadata.validated(m, what: "metadata") }
        if let u = j.unique {
            try u.validate()
            // The period slot is taken on this process's clock (the injected one in tests).
            row.uniqueKey = try u.key(queue: j.queue, jobType: j.jobType, payload: payload, at: clock.now ?? clock.localNow)
            row.uniqueStates = u.statesMask
            row.uniqueReplace = u.onConflict == .replace
        }
        return row
    }

    // MARK: reads

    public func job(_ id: String) async throws -> Job {
        guard UUIDv7.isValid(id) else { throw PortableError.malformedId(id, of: "job") }
        guard let j = try await driver.jobGetMany([id.lowercased()]).first else {
            throw PortableError.notFound("no job \(id)")
        }
        return j
    }

    public func jobs(_ filter: JobFilter = JobFilter(), limit: Int = 50, offset: Int = 0) async throws -> Page<Job> {
        try await page(filter, limit: limit, offset: offset) { [driver] f in try await driver.jobList(f, limit: limit, offset: offset) }
    }

    /// `jobs` as lists show them (HTTP, `jobs list --json`): a payload or output over
    /// `JobListItem.wholeUpTo` bytes is only a preview, and is not read whole from the database.
    public func jobItems(_ filter: JobFilter = JobFilter(), limit: Int = 50, offset: Int = 0) async throws -> Page<JobListItem> {
        try await page(filter, limit: limit, offset: offset) { [driver] f in try await driver.jobListPreview(f, limit: limit, offset: offset) }
    }

    private func page<T: Sendable>(_ filter: JobFilter, limit: Int, offset: Int,
                                   _ read: @Sendable (JobFilter) async throws -> [T]) async throws -> Page<T> {
        guard (1...1000).contains(limit) else { throw PortableError.invalid("limit must be between 1 and 1000") }
        guard offset >= 0 else { throw PortableError.invalid("offset must not be negative") }
        if let q = filter.queue { try Names.check(q, "queue") }
        if let t = filter.jobType { try Names.check(t, "job_type") }
        if let r = filter.dlqReason { try Names.check(r, "dlq_reason") }
        var resolved = try filter.checked()
        if filter.scheduled {
            guard filter.status == nil || filter.status == .queued else {
                throw PortableError.invalid("scheduled lists queued jobs only; drop status or use status=queued")
            }
            resolved.status = .queued
            resolved.runAfter = try await driver.clockNow(now)
        }
        let f = resolved
        async let items = read(f)
        async let total = driver.jobCount(f, cap: config.countCap + 1)
        let (i, t) = try await (items, total)
        return Page(items: i, total: min(t, config.countCap), totalCapped: t > config.countCap)
    }

    public func timeline(_ id: String) async throws -> Timeline {
        let j = try await job(id)
        let history = try await driver.jobHistory(j.id)
        return Timeline.assemble(job: j, history: history)
    }

    public func explain(_ id: String) async throws -> Explanation {
        let j = try await job(id)
        return try await explain([j])[0]
    }

    /// Explanations of `jobs`, in order, with one read of the clock, workers, job types and
    /// queue policies for all of them.
    func explain(_ jobs: [Job]) async throws -> [Explanation] {
        async let nowTask = driver.clockNow(now)
        async let workersTask = driver.workerList()
        async let typesTask = driver.jobTypeList()
        async let queueTask = driver.queuePolicyList()
        let (dbNow, workers, types, policies) = try await (nowTask, workersTask, typesTask, queueTask)
        var out: [Explanation] = []
        var running: [String: Int] = [:]
        for j in jobs {
            let policy = PolicyResolver.resolve(j, type: types.first { $0.jobType == j.jobType }, defaults: config.defaults)
            var context = ExplainContext(now: dbNow, workers: workers, policy: policy)
            if j.status == .queued, j.snoozes > 0, j.runAt > dbNow {
                context.snoozed = try await driver.jobHistory(j.id).attempts.max { $0.attempt < $1.attempt }?.outcome == .snoozed
            }
            if let q = policies.first(where: { $0.queue == j.queue }) {
                context.queuePaused = q.paused
                if let cap = q.maxRunning {
                    context.queueMaxRunning = cap
                    if running[j.queue] == nil {
                        running[j.queue] = try await driver.jobCount(JobFilter(queue: j.queue, status: .running), cap: cap + 1)
                    }
                    context.queueRunning = running[j.queue]
                }
                if let tokens = q.tokensAvailable(at: dbNow), tokens < 1 { context.queueRateLimited = true }
                if let key = j.concurrencyKey, q.hasKeyLimits, let state = try await driver.concurrencyKeyList(queue: j.queue, keys: [key]).first {
                    context.keyMaxRunning = q.maxRunningPerKey
                    context.keyRunning = state.running
                    if let rate = q.maxStartsPerSecondPerKey,
                       TokenBucket.available(rate: rate, tokens: state.tokens, at: state.tokensAt, now: dbNow) < 1 {
                        context.keyRateLimited = true
                    }
                }
            }
            out.append(Explainer.explain(j, context: context))
        }
        return out
    }

    // MARK: operator actions

    /// Puts a `dlq` or `cancelled` job back to `queued` in place: same id, attempt numbers
    /// continue, a fresh budget of `max_attempts`, backoff restarts. Other statuses: CONFLICT.
    public func retry(_ id: String) async throws -> Job {
        let j = try await job(id)
        // A step job is retried with its run, which may re-open (FlowEngine.retry).
        if j.runId != nil, j.status == .dlq || j.status == .cancelled, try await retryStep(j) { return try await job(j.id) }
        let changed: [String]
        do {
            changed = try await driver.jobRetryMany([j.id], from: [.dlq, .cancelled], event: Decide.retryEvent, now: now)
        } catch let e as PortableError where e.code == .conflict {
            // Back in queued, the job would hold its unique key beside the job that holds it now.
            throw PortableError(.conflict, "job \(id) cannot be retried: another job holds its unique key now",
                                databaseCode: e.databaseCode)
        }
        guard !changed.isEmpty else {
            let current = try await job(id)
            throw PortableError.conflict("job \(id) is \(current.status.rawValue); only dlq or cancelled jobs can be retried")
        }
        return try await job(j.id)
    }

    /// Creates a new job (no idempotency key) pointing to the original; the original is not
    /// changed. Allowed for any terminal status, archived too.
    public func replay(_ id: String) async throws -> EnqueueResult {
        let original = try await job(id)
        guard original.status.isTerminal else {
            throw PortableError.conflict("job \(id) is \(original.status.rawValue); only finished jobs can be replayed")
        }
        var new = NewJob(queue: original.queue, jobType: original.jobType, payloadJSON: original.payload,
                         priority: original.priority, maxAttempts: original.maxAttempts,
                         timeoutSeconds: original.timeoutSeconds, backoffBaseMs: original.backoffBaseMs,
                         concurrencyKey: original.concurrencyKey)
        // The replay is the same work: it keeps the original's tags and metadata (not its progress).
        new.tags = original.tags
        new.metadata = original.metadata
        var oversized = Set<Int>()
        let row = try prepareInsert(new, replayOf: original.id, sizeChecked: { oversized.insert(0) })
        return try await insertGuarded([row], oversized: oversized)[0]
    }

    /// Cancels a queued or running job. A running job's lease is cleared; its worker learns it at
    /// the next heartbeat or ack (`leaseLost`) and the attempt is recorded as `CANCELLED`.
    public func cancel(_ id: String) async throws -> Job {
        let j = try await job(id)
        // A step job is cancelled with its run (the run could not finish without it).
        if let runId = j.runId, j.status == .queued || j.status == .running,
           let r = try await driver.flowRunGet(runId), r.status == .running {
            _ = try await cancelRun(runId)
            return try await job(j.id)
        }
        guard j.status == .queued || j.status == .running else {
            throw PortableError.conflict("job \(id) is \(j.status.rawValue); only queued or running jobs can be cancelled")
        }
        let changed = try await driver.jobCancelMany([Decide.cancel(j)], now: now)
        if changed.isEmpty {
            // It moved on between the read and the write (started, finished): try once more.
            let again = try await job(id)
            guard again.status == .queued || again.status == .running else {
                throw PortableError.conflict("job \(id) is \(again.status.rawValue); only queued or running jobs can be cancelled")
            }
            guard try await !driver.jobCancelMany([Decide.cancel(again)], now: now).isEmpty else {
                throw PortableError.conflict("job \(id) changed while it was being cancelled; try again")
            }
        }
        return try await job(j.id)
    }

    /// Deletes a job that is not running, with its history.
    public func delete(_ id: String) async throws {
        let j = try await job(id)
        let deletable: [JobStatus] = [.queued, .succeeded, .dlq, .cancelled, .archived]
        guard try await !driver.jobDeleteMany([j.id], from: deletable).isEmpty else {
            let current = try await job(id)
            throw PortableError.conflict("job \(id) is \(current.status.rawValue); cancel it before deleting it")
        }
    }

    // MARK: worker side

    /// Leases up to `limit` runnable jobs of the given queues and types (nil: all).
    public func lease(queues: [String]?, jobTypes: [String]?, limit: Int, leaseSeconds: Double,
                      workerId: String) async throws -> [Job] {
        guard limit > 0 else { return [] }
        if jobTypes?.isEmpty == true || queues?.isEmpty == true { return [] }
        let req = LeaseRequest(queues: queues, jobTypes: jobTypes, limit: limit, leaseSeconds: leaseSeconds,
                               workerId: workerId, token: UUIDv7.randomToken(random))
        return try await driver.jobLease(req, now: now).sorted(by: Job.claimOrder)
    }

    /// Extends leases; returns the ids still held (a missing one was cancelled or reaped).
    public func heartbeat(_ leases: [LeaseKey], leaseSeconds: Double) async throws -> Set<String> {
        guard !leases.isEmpty else { return [] }
        return try await driver.jobLeaseExtend(leases, seconds: leaseSeconds, now: now)
    }

    /// Reports results of attempts, deciding each job's next state with the same policy
    /// resolution the reaper uses. `types` gives the job types' policies (a worker passes its own).
    public func complete(_ results: [(job: Job, result: AttemptResult)],
                         types: [String: JobTypePolicy]) async throws -> [AckResult] {
        guard !results.isEmpty else { return [] }
        let completions = results.map { r -> Completion in
            let policy = PolicyResolver.resolve(r.job, type: types[r.job.jobType], defaults: config.defaults)
            var c = Decide.completion(for: r.job, token: r.job.leaseToken ?? "", result: r.result,
                                      policy: policy, random: random, maxSnoozes: config.maxSnoozes)
            c.runId = r.job.runId
            c.stepSlug = r.job.stepSlug
            return c
        }
        let hasSteps = completions.contains { $0.runId != nil }
        return try await driver.jobCompleteMany(completions, now: now, flow: hasSteps ? flowHook : nil)
    }

    /// Acks a batch and claims the next in one round trip (policy-free queues; step jobs and
    /// restricted queues fall back to `complete` then `lease`).
    public func completeAndLease(_ results: [(job: Job, result: AttemptResult)], types: [String: JobTypePolicy],
                                 queues: [String]?, jobTypes: [String]?, limit: Int, leaseSeconds: Double,
                                 workerId: String) async throws -> (acks: [AckResult], jobs: [Job]) {
        if results.isEmpty || results.contains(where: { $0.job.runId != nil }) || limit <= 0 {
            let acks = try await complete(results, types: types)
            return (acks, try await lease(queues: queues, jobTypes: jobTypes, limit: limit, leaseSeconds: leaseSeconds, workerId: workerId))
        }
        let completions = results.map { r -> Completion in
            let policy = PolicyResolver.resolve(r.job, type: types[r.job.jobType], defaults: config.defaults)
            return Decide.completion(for: r.job, token: r.job.leaseToken ?? "", result: r.result, policy: policy,
                                     random: random, maxSnoozes: config.maxSnoozes)
        }
        let req = LeaseRequest(queues: queues, jobTypes: jobTypes, limit: limit, leaseSeconds: leaseSeconds,
                               workerId: workerId, token: UUIDv7.randomToken(random))
        let (acks, jobs) = try await driver.jobCompleteAndLease(completions, lease: req, now: now)
        return (acks, jobs.sorted(by: Job.claimOrder))
    }

    /// One pass of the reaper: expired leases are recorded as `LEASE_EXPIRED` attempts and the
    /// jobs retried or dead-lettered. Returns how many were reaped.
    @discardableResult
    public func reap(limit: Int = 500) async throws -> Int {
        let expired = try await driver.jobLeaseExpiredList(limit: limit, now: now)
        guard !expired.isEmpty else { return 0 }
        let types = try await jobTypePolicies()
        let results = try await complete(expired.map { ($0, AttemptResult.leaseExpired) }, types: types)
        return results.filter { $0 == .applied }.count
    }

    // MARK: queues, workers, metrics

    public func queues() async throws -> [QueueSummary] {
        async let counts = driver.queueCounts(now: now)
        async let policies = driver.queuePolicyList()
        return QueueSummary.from(try await counts, policies: try await policies)
    }

    /// The database's clock (the injected clock in tests): what ages and "alive" are measured against.
    public func databaseNow() async throws -> Date {
        try await driver.clockNow(now)
    }

    /// The migrations recorded in the database; nil for a database without portableq's schema.
    public func migrationsApplied() async throws -> [AppliedMigration]? {
        try await driver.migrationList()
    }

    /// Closes the database connections; the client cannot be used afterwards.
    public func close() async {
        await driver.close()
    }

    public func workers() async throws -> (workers: [WorkerInfo], now: Date) {
        async let w = driver.workerList()
        async let n = driver.clockNow(now)
        return try await (w, n)
    }

    /// The cluster-wide snapshot over the last `windowSeconds` (default 60).
    public func metrics(windowSeconds: Double = 60) async throws -> MetricsSnapshot {
        async let counts = driver.queueCounts(now: now)
        async let window = driver.attemptWindow(seconds: windowSeconds, sampleLimit: 10_000, now: now)
        async let dbNow = driver.clockNow(now)
        async let durations = driver.flowRunDurations(seconds: windowSeconds, limit: MetricsSnapshot.runDurationSampleLimit, now: now)
        var snapshot = MetricsSnapshot.build(counts: try await counts, window: try await window, windowSeconds: windowSeconds,
                                             now: try await dbNow)
        snapshot.flows = FlowFigures.from(try await durations)
        return snapshot
    }

    public func jobTypePolicies() async throws -> [String: JobTypePolicy] {
        Dictionary(try await driver.jobTypeList().map { ($0.jobType, $0) }, uniquingKeysWith: { a, _ in a })
    }
}

// MARK: bulk actions

/// A bulk action over jobs matching a filter, capped (`POST /jobs/bulk/...`, `jobs retry --filter`).
public enum BulkAction: String, Sendable, CaseIterable {
    case retry, replay, cancel

    /// The statuses the action applies to.
    var eligible: [JobStatus] {
        switch self {
        case .retry: return [.dlq, .cancelled]
        case .replay: return [.succeeded, .dlq, .cancelled, .archived]
        case .cancel: return [.queued, .running]
        }
    }
}

public struct BulkResult: Sendable, Equatable {
    /// Jobs matching the filter that the action applies to (at most the limit).
    public var matched: Int
    public var changed: Int
    /// The first 100 matched ids.
    public var ids: [String]

    public var json: JSON {
        .object([("matched", .int(matched)), ("changed", .int(changed)), ("ids", .array(ids.prefix(100).map(JSON.string)))])
    }
}

extension PortableClient {
    public func bulk(_ action: BulkAction, filter: JobFilter, dryRun: Bool, limit: Int = 1000) async throws -> BulkResult {
        guard (1...config.bulkCap).contains(limit) else {
            throw PortableError.invalid("limit must be between 1 and \(config.bulkCap)")
        }
        if let q = filter.queue { try Names.check(q, "queue") }
        if let t = filter.jobType { try Names.check(t, "job_type") }
        if let r = filter.dlqReason { try Names.check(r, "dlq_reason") }
        let filter = try filter.checked()
        let statuses = action.eligible.filter { filter.status == nil || filter.status == $0 }
        var jobs: [Job] = []
        for status in statuses where jobs.count < limit {
            var f = filter
            f.status = status
            var offset = 0
            while jobs.count < limit {
                let page = try await driver.jobList(f, limit: min(1000, limit - jobs.count), offset: offset)
                jobs += page
                offset += page.count
                if page.count < 1000 { break }
            }
        }
        let ids = jobs.map(\.id)
        guard !dryRun, !jobs.isEmpty else { return BulkResult(matched: jobs.count, changed: 0, ids: Array(ids.prefix(100))) }
        var changed = 0
        switch action {
        case .retry:
            // Step jobs one at a time with their runs (a run may re-open); the others in batches.
            var plain: [String] = []
            for j in jobs {
                guard j.runId != nil else { plain.append(j.id); continue }
                do {
                    if try await retryStep(j) { changed += 1 } else { plain.append(j.id) }
                } catch let e as PortableError where e.code == .conflict {
                    continue  // a cancelled run's job, or one that moved on: not changed
                }
            }
            for chunk in stride(from: 0, to: plain.count, by: 1000) {
                changed += try await driver.jobRetryMany(Array(plain[chunk..<min(chunk + 1000, plain.count)]), from: [.dlq, .cancelled],
                                                         event: Decide.retryEvent, now: now).count
            }
        case .cancel:
            let targets = jobs.map(Decide.cancel)
            for chunk in stride(from: 0, to: targets.count, by: 1000) {
                changed += try await driver.jobCancelMany(Array(targets[chunk..<min(chunk + 1000, targets.count)]), now: now).count
            }
        case .replay:
            var oversized = Set<Int>()
            let rows = try jobs.enumerated().map { i, o in
                try prepareInsert(NewJob(queue: o.queue, jobType: o.jobType, payloadJSON: o.payload, priority: o.priority,
                                         maxAttempts: o.maxAttempts, timeoutSeconds: o.timeoutSeconds,
                                         backoffBaseMs: o.backoffBaseMs, concurrencyKey: o.concurrencyKey), replayOf: o.id, sizeChecked: { oversized.insert(i) })
            }
            for chunk in stride(from: 0, to: rows.count, by: 1000) {
                let part = Array(rows[chunk..<min(chunk + 1000, rows.count)])
                let big = Set(oversized.filter { $0 >= chunk && $0 < chunk + 1000 }.map { $0 - chunk })
                changed += try await insertGuarded(part, oversized: big).count
            }
        }
        return BulkResult(matched: jobs.count, changed: changed, ids: Array(ids.prefix(100)))
    }
}
