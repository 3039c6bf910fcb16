import Foundation
import Logging
import ServiceLifecycle
import Synchronization

public struct WorkerOptions: Sendable {
    public var id: String
    /// nil: every queue.
    public var queues: [String]?
    public var concurrency = 10
    /// Jobs per claim; nil = concurrency.
    public var batchSize: Int?
    public var leaseSeconds = 30.0
    /// Fallback poll when no wakeup arrives.
    public var pollIntervalSeconds = 1.0
    public var reapIntervalSeconds = 5.0
    /// The global default timeout (`JOB_TIMEOUT_SECONDS`) for jobs and types that set none.
    public var defaultTimeoutSeconds = 300
    public var shutdownSeconds = 30.0
    /// Claim every type in the worker's queues and fail those without a handler with
    /// `UNKNOWN_JOB_TYPE` (retryable).
    public var failUnknownTypes = false
    /// Stop once the worker's queues hold no queued or running job.
    public var untilEmpty = false
    public var verboseJobLogs = false
    /// Seconds between SIGTERM and SIGKILL for `--exec` process groups.
    public var killGraceSeconds = 5.0
    /// Maintenance this worker takes part in (leader only acts); nil: none.
    public var maintenance: MaintenanceSettings? = MaintenanceSettings()
    /// How long queue policies are cached between claims (claims re-check them atomically).
    public var policyRefreshSeconds = 1.0

    public init(id: String = WorkerOptions.defaultId) { self.id = id }

    public static var defaultId: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// Counts of what this worker did, for progress displays and tests.
public struct WorkerStats: Sendable, Equatable {
    public var claimed = 0
    public var succeeded = 0
    public var failed = 0
    public var released = 0
    public var leaseLost = 0
}

/// Runs handlers for claimed jobs: type-aware batched claims, batched acks, heartbeats,
/// timeouts, cancel, reaping, and the shutdown of DESIGN.md ("Worker runtime"). A
/// swift-service-lifecycle `Service`: SIGTERM/SIGINT through a `ServiceGroup` stop it gracefully.
public final class Worker: Service, Sendable {
    public let client: PortableClient
    public let options: WorkerOptions
    let logger: Logger

    private struct Running {
        var job: Job
        var task: Task<Void, Never>?
        var started = false
        /// An outcome (or a release) was already handed to the ack buffer.
        var reported = false
        /// The lease is gone (cancelled or reaped): nothing is to be acked.
        var lost = false
        var startedAt = Date()
        /// When the timeout watcher records `TIMEOUT` and cancels the handler.
        var deadline: Date?
    }

    private struct State {
        var registrations: [String: Registration] = [:]
        var running: [String: Running] = [:]
        var typeCounts: [String: Int] = [:]
        var pendingAcks: [(Job, AttemptResult, Date)] = []
        /// Outcomes handed to the ack buffer and not yet written. Past one worker's worth they
        /// hold slots: a worker whose handlers outrun its acks must not claim more (its leases
        /// would expire in the buffer, and the reaper would then fight the acks for the rows).
        var acking = 0
        var flushing = false
        var stopping = false
        var frozen = false
        var dbDown = false
        /// When the database was last seen back after an outage.
        var backAt: Date?
        var stats = WorkerStats()
        var startedAt = Date()
        var policies: [QueuePolicy] = []
        var policiesAt = Date.distantPast
        var held: [String: DecisionTally] = [:]
    }

    private let state = Mutex(State())
    private let slotFreed = AsyncSignal()
    private let acksIdle = AsyncSignal()

    public init(client: PortableClient, options: WorkerOptions, logger: Logger = Logger(label: "portableq.worker")) {
        self.client = client
        self.options = options
        self.logger = logger
    }

    // MARK: registration

    /// Registers a handler for a job type. Call before `run()`.
    public func register(_ type: String, options: HandlerOptions = HandlerOptions(), _ handler: @escaping JobHandler) {
        state.withLock { s in
            precondition(!s.frozen, "register handlers before run()")
            s.registrations[type] = Registration(type: type, options: options, handler: handler)
        }
    }

    /// Registers a handler with a typed payload; a payload that does not decode is `BAD_PAYLOAD`.
    public func register<P: Decodable & Sendable, O: Encodable & Sendable>(
        _ type: String, payload: P.Type, options: HandlerOptions = HandlerOptions(),
        _ body: @escaping @Sendable (P, JobContext) async throws -> O
    ) {
        register(type, options: options) { ctx in
            let p = try ctx.decode(P.self)
            let out = try await body(p, ctx)
            return String(decoding: try JSONEncoder().encode(out), as: UTF8.self)
        }
    }

    /// Registers a handler with a typed payload and no output.
    public func register<P: Decodable & Sendable>(
        _ type: String, payload: P.Type, options: HandlerOptions = HandlerOptions(),
        _ body: @escaping @Sendable (P, JobContext) async throws -> Void
    ) {
        register(type, options: options) { ctx in
            try await body(try ctx.decode(P.self), ctx)
            return nil
        }
    }

    public var registeredTypes: [String] { state.withLock { $0.registrations.keys.sorted() } }
    public var stats: WorkerStats { state.withLock { $0.stats } }
    public var runningCount: Int { state.withLock { $0.running.count } }

    var info: WorkerInfo {
        let (types, started) = state.withLock { s in (s.registrations.keys.sorted(), s.startedAt) }
        return WorkerInfo(id: options.id, host: ProcessInfo.processInfo.hostName,
                          pid: Int(ProcessInfo.processInfo.processIdentifier), queues: options.queues,
                          jobTypes: options.failUnknownTypes ? nil : types, concurrency: options.concurrency,
                          leaseSeconds: options.leaseSeconds, startedAt: started, lastHeartbeatAt: started)
    }

    // MARK: running

    public func run() async throws {
        await withGracefulShutdownHandler {
            await self.runUntilStopped()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Asks the worker to stop: no new claims; running jobs get `shutdownSeconds` to finish.
    public func stop() {
        let first = state.withLock { s -> Bool in
            let was = s.stopping
            s.stopping = true
            return !was
        }
        guard first else { return }
        slotFreed.fire()
        client.driver.wakeups.notify(queue: nil)
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    private func runUntilStopped() async {
        let registrations = state.withLock { s -> [Registration] in
            s.frozen = true
            s.startedAt = client.clock.localNow
            return Array(s.registrations.values)
        }
        signal(SIGPIPE, SIG_IGN)
        client.driver.wakeupListen()
        guard await startup(registrations) else { return }
        logger.info("worker started", metadata: [
            "worker_id": .string(options.id),
            "queues": .string(options.queues?.joined(separator: ",") ?? "*"),
            "types": .string(options.failUnknownTypes ? "*" : registrations.map(\.type).sorted().joined(separator: ",")),
            "concurrency": .stringConvertible(options.concurrency),
            "backend": .string(client.driver.kind.rawValue),
        ])
        let heartbeat = Task { await self.heartbeatLoop() }
        let timeouts = Task { await self.timeoutLoop() }
        let maintainer = options.maintenance.map { Maintainer(client: client, settings: $0, holder: options.id, logger: logger) }
        let reaper = Task { await maintainer?.run() }
        await withTaskCancellationHandler {
            await claimLoop()
        } onCancel: {
            self.stop()
        }
        await drain()
        heartbeat.cancel()
        timeouts.cancel()
        reaper.cancel()
        _ = await heartbeat.value
        _ = await timeouts.value
        _ = await reaper.value
        try? await flushTallies()
        try? await client.driver.workerDelete(options.id)
        let s = stats
        logger.info("worker stopped", metadata: [
            "worker_id": .string(options.id), "succeeded": .stringConvertible(s.succeeded),
            "failed": .stringConvertible(s.failed), "released": .stringConvertible(s.released),
        ])
    }

    /// Records job types and the worker; waits for the database if it is down.
    private func startup(_ regs: [Registration]) async -> Bool {
        var delay = 0.5
        while !isStopping {
            do {
                try await client.driver.jobTypeUpsertMany(regs.map(\.policy), now: client.clock.now)
                try await client.driver.workerUpsert(info, now: client.clock.now)
                markUp()
                return true
            } catch {
                markDown(error)
                await sleep(delay)
                delay = min(delay * 2, 5)
            }
        }
        return false
    }

    // MARK: claims

    private func claimLoop() async {
        let batch = max(1, options.batchSize ?? options.concurrency)
        var delay = 0.2
        while !isStopping {
            let slotGen = slotFreed.generation
            let (free, types) = capacity()
            if free == 0 || types?.isEmpty == true {
                await slotFreed.wait(after: slotGen)
                continue
            }
            let wakeGen = client.driver.wakeups.generation
            do {
                let policies = try await currentPolicies()
                let (jobs, held) = try await client.lease(queues: options.queues, jobTypes: types, limit: min(batch, free),
                                                          leaseSeconds: options.leaseSeconds, workerId: options.id,
                                                          policies: policies)
                if !held.isEmpty { tally(held) }
                markUp()
                delay = 0.2
                if !jobs.isEmpty { start(jobs) }
                if jobs.isEmpty {
                    if options.untilEmpty, try await queuesEmpty() {
                        logger.info("queues are empty: stopping (--until-empty)")
                        stop()
                        break
                    }
                    await client.driver.wakeups.wait(queues: options.queues, after: wakeGen,
                                                     timeout: options.untilEmpty ? min(0.2, options.pollIntervalSeconds) : options.pollIntervalSeconds)
                }
            } catch {
                markDown(error)
                await sleep(delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    /// Queue policies, refreshed at most every `policyRefreshSeconds` (claims in restricted
    /// queues re-read theirs under a lock, so a stale list never over-claims).
    private func currentPolicies() async throws -> [QueuePolicy] {
        let cached: [QueuePolicy]? = state.withLock { s in
            Date().timeIntervalSince(s.policiesAt) < options.policyRefreshSeconds ? s.policies : nil
        }
        if let cached { return cached }
        let fresh = try await client.driver.queuePolicyList()
        state.withLock { s in s.policies = fresh; s.policiesAt = Date() }
        return fresh
    }

    /// Throttling seen by claims, aggregated here and written with the heartbeat: never a row per poll.
    private func tally(_ held: [DecisionTally]) {
        state.withLock { s in
            for h in held {
                let k = h.queue + "\u{0}" + h.reasonCode
                var t = s.held[k] ?? DecisionTally(queue: h.queue, reasonCode: h.reasonCode, count: 0, message: nil)
                t.count += h.count
                s.held[k] = t
            }
        }
    }

    /// Writes the aggregated throttling tallies as policy decisions.
    private func flushTallies() async throws {
        let tallies: [DecisionTally] = state.withLock { s in
            let t = Array(s.held.values)
            s.held = [:]
            return t
        }
        if !tallies.isEmpty { try await client.driver.decisionRecord(.policy, tallies, now: client.clock.now) }
    }

    /// Free slots and the types that may be claimed (nil: every type).
    private func capacity() -> (Int, [String]?) {
        state.withLock { s in
            // Up to `concurrency` outcomes may wait for their ack without holding a slot, so the
            // next claim overlaps the previous batch's ack; past that, unwritten acks hold slots.
            let free = options.concurrency - s.running.count - max(0, s.acking - options.concurrency)
            if options.failUnknownTypes { return (free, nil) }
            let types = s.registrations.values.filter { r in
                guard let limit = r.options.concurrency else { return true }
                return s.typeCounts[r.type, default: 0] < limit
            }.map(\.type).sorted()
            return (free, types)
        }
    }

    private func queuesEmpty() async throws -> Bool {
        for q in options.queues.map({ $0.map(Optional.some) }) ?? [nil] {
            for status in [JobStatus.queued, .running] where try await client.driver.jobCount(JobFilter(queue: q, status: status), cap: 1) > 0 {
                return false
            }
        }
        return true
    }

    /// Takes the claimed jobs into slots and starts their handlers. Jobs over a type's own
    /// concurrency limit (possible when one claim covers several types) are handed back unclaimed.
    private func start(_ jobs: [Job]) {
        var overLimit: [LeaseKey] = []
        let accepted: [Job] = state.withLock { s in
            var out: [Job] = []
            for job in jobs {
                if let limit = s.registrations[job.jobType]?.options.concurrency, s.typeCounts[job.jobType, default: 0] >= limit {
                    overLimit.append(LeaseKey(jobId: job.id, token: job.leaseToken ?? ""))
                    continue
                }
                s.running[job.id] = Running(job: job)
                s.typeCounts[job.jobType, default: 0] += 1
                s.stats.claimed += 1
                out.append(job)
            }
            return out
        }
        if !overLimit.isEmpty {
            // Handed back at once so other workers (or this one, when a slot frees) can run them;
            // retried through a brief outage, after which lease expiry returns them anyway.
            Task {
                for attempt in 0..<5 {
                    if (try? await self.client.driver.jobReleaseMany(overLimit)) != nil { break }
                    try? await Task.sleep(nanoseconds: UInt64(200_000_000 << attempt))
                }
            }
        }
        for job in accepted {
            let task = Task { await self.execute(job) }
            state.withLock { $0.running[job.id]?.task = task }
        }
    }

    // MARK: one job

    private func execute(_ job: Job) async {
        let reg: Registration? = state.withLock { s in
            // A queue paused since the claim: hand the job back unstarted (re-checked before start).
            if s.policies.contains(where: { $0.queue == job.queue && $0.paused }) { return nil }
            guard !s.stopping, s.running[job.id] != nil else { return nil }
            s.running[job.id]?.started = true
            s.running[job.id]?.startedAt = Date()
            return s.registrations[job.jobType] ?? Worker.unknownType
        }
        guard state.withLock({ $0.running[job.id]?.started == true }) else {
            // Stopping before it started: hand it back as if never claimed.
            _ = try? await client.driver.jobReleaseMany([LeaseKey(jobId: job.id, token: job.leaseToken ?? "")])
            finish(job, countRelease: true)
            return
        }
        if options.verboseJobLogs {
            logger.info("job started", metadata: ["job_id": .string(job.id), "job_type": .string(job.jobType),
                                                  "attempt": .stringConvertible(job.attempts)])
        }
        if let reg, reg.type != Worker.unknownType.type {
            let policy = PolicyResolver.resolve(job, type: reg.policy, defaults: defaults)
            state.withLock { $0.running[job.id]?.deadline = Date().addingTimeInterval(Double(policy.timeoutSeconds)) }
            let result = await Worker.invoke(reg.handler, JobContext(job: job, workerId: options.id),
                                             maxOutput: client.config.maxPayloadBytes)
            report(job, result)  // ignored when the timeout watcher already reported TIMEOUT
        } else {
            report(job, .failure(code: Codes.unknownJobType,
                                 message: "worker \(options.id) has no handler for job type \(job.jobType)", retryable: true))
        }
        finish(job, countRelease: false)
    }

    /// Marks a started job whose type has no handler (`--fail-unknown-types`).
    static let unknownType = Registration(type: "\u{0}unknown", options: HandlerOptions(), handler: { _ in nil })

    var defaults: PolicyDefaults {
        var d = client.config.defaults
        d.timeoutSeconds = options.defaultTimeoutSeconds
        return d
    }

    /// Timeouts: every 50 ms, handlers past their deadline get `TIMEOUT` recorded at once and
    /// are cancelled; their slots stay taken until they return. One loop for all jobs: a
    /// sleeping timer task per job, even cancelled, stayed in memory until its deadline (about
    /// 1 KB per job for the default 300 s: 1.5 GB at 5,000 jobs/s).
    private func timeoutLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: 50_000_000)
            let now = Date()
            let due: [(Job, Int, Task<Void, Never>?)] = state.withLock { s in
                s.running.values.compactMap { r in
                    guard let d = r.deadline, d <= now, r.started, !r.reported, !r.lost else { return nil }
                    return (r.job, Int((d.timeIntervalSince(r.startedAt)).rounded()), r.task)
                }
            }
            for (job, seconds, task) in due {
                report(job, .failure(code: Codes.timeout, message: "timed out after \(seconds) s", retryable: true))
                task?.cancel()
            }
        }
    }

    static func invoke(_ handler: JobHandler, _ ctx: JobContext, maxOutput: Int) async -> AttemptResult {
        do {
            guard let out = try await handler(ctx) else { return .success(output: nil) }
            guard let json = try? JSON.parse(out) else {
                return .failure(code: "BAD_OUTPUT", message: "the handler's output is not JSON", retryable: false)
            }
            let compact = json.compact
            if compact.utf8.count > maxOutput {
                return .failure(code: Codes.outputTooLarge, message: "output is \(compact.utf8.count) bytes; the limit is \(maxOutput)",
                                retryable: false)
            }
            return .success(output: compact)
        } catch let e as JobError {
            return e.result
        } catch is CancellationError {
            return .failure(code: Codes.cancelled, message: "the handler was cancelled", retryable: true)
        } catch {
            return .failure(code: Codes.handlerError, message: String(describing: error), retryable: true)
        }
    }

    /// Hands an outcome to the ack buffer unless one was already reported or the lease is gone.
    private func report(_ job: Job, _ result: AttemptResult) {
        let accept: Bool = state.withLock { s in
            guard var r = s.running[job.id], !r.reported, !r.lost else { return false }
            r.reported = true
            s.running[job.id] = r
            s.pendingAcks.append((job, result, r.startedAt))
            s.acking += 1
            return true
        }
        if accept { scheduleFlush() }
    }

    private func finish(_ job: Job, countRelease: Bool) {
        state.withLock { s in
            if s.running.removeValue(forKey: job.id) != nil {
                s.typeCounts[job.jobType, default: 1] -= 1
            }
            if countRelease { s.stats.released += 1 }
        }
        slotFreed.fire()
    }

    // MARK: acks

    private func scheduleFlush() {
        let start = state.withLock { s -> Bool in
            if s.flushing { return false }
            s.flushing = true
            return true
        }
        if start { Task { await self.flushLoop() } }
    }

    /// Group commit: whatever accumulated while the previous batch was being written goes in
    /// the next one. Acks that cannot be written are retried until their lease would expire.
    private func flushLoop() async {
        var delay = 0.1
        while true {
            let batch: [(Job, AttemptResult, Date)] = state.withLock { s in
                let b = s.pendingAcks
                s.pendingAcks = []
                if b.isEmpty { s.flushing = false }
                return b
            }
            if batch.isEmpty { acksIdle.fire(); return }
            let types = state.withLock { s in s.registrations.mapValues(\.policy) }
            do {
                let results = try await client.complete(batch.map { ($0.0, $0.1) }, types: types)
                markUp()
                delay = 0.1
                recordAcks(batch, results)
                ackSettled(batch.count)
            } catch {
                markDown(error)
                let now = Date()
                let keep = batch.filter { now.timeIntervalSince($0.2) < options.leaseSeconds }
                if keep.count < batch.count {
                    logger.warning("gave up acks whose lease has expired; the reaper will retry those jobs",
                                   metadata: ["count": .stringConvertible(batch.count - keep.count)])
                }
                state.withLock { s in s.pendingAcks.insert(contentsOf: keep, at: 0) }
                ackSettled(batch.count - keep.count)
                await sleep(delay, evenWhenStopping: true)
                delay = min(delay * 2, 2)
            }
        }
    }

    /// Acks written (or given up): their slots are free.
    private func ackSettled(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.acking -= count }
        slotFreed.fire()
    }

    private func recordAcks(_ batch: [(Job, AttemptResult, Date)], _ results: [AckResult]) {
        let now = Date()
        state.withLock { s in
            for ((job, result, _), ack) in zip(batch, results) {
                if ack == .leaseLost { s.stats.leaseLost += 1; continue }
                switch result {
                case .success: s.stats.succeeded += 1
                case .released: s.stats.released += 1
                default: s.stats.failed += 1
                }
                _ = job
            }
        }
        for ((job, result, started), ack) in zip(batch, results) where ack == .applied {
            let outcome: String
            switch result {
            case .success: outcome = "succeeded"
            case .released: outcome = "released"
            case .leaseExpired: outcome = "lease_expired"
            default: outcome = "failed"
            }
            ProcessMetrics.shared.record(queue: job.queue, outcome: outcome, seconds: now.timeIntervalSince(started))
            if options.verboseJobLogs {
                var meta: Logger.Metadata = ["job_id": .string(job.id), "job_type": .string(job.jobType),
                                             "outcome": .string(outcome), "attempt": .stringConvertible(job.attempts)]
                if case .failure(let code, _, _) = result { meta["error_code"] = .string(code) }
                logger.info("job finished", metadata: meta)
            }
        }
    }

    // MARK: heartbeats and reaping

    private func heartbeatLoop() async {
        let interval = max(0.05, options.leaseSeconds / 3)
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            if Task.isCancelled { return }
            let leases: [LeaseKey] = state.withLock { s in
                s.running.values.filter { $0.started && !$0.lost && !$0.reported }
                    .map { LeaseKey(jobId: $0.job.id, token: $0.job.leaseToken ?? "") }
            }
            do {
                let held = try await client.heartbeat(leases, leaseSeconds: options.leaseSeconds)
                try await client.driver.workerUpsert(info, now: client.clock.now)
                try await flushTallies()
                markUp()
                let lost = leases.filter { !held.contains($0.jobId) }
                for l in lost { loseLease(l.jobId) }
            } catch {
                markDown(error)
            }
        }
    }

    /// The job was cancelled or reaped: stop its handler; nothing will be acked.
    private func loseLease(_ id: String) {
        let task: Task<Void, Never>? = state.withLock { s in
            guard var r = s.running[id], !r.reported else { return nil }
            r.lost = true
            s.running[id] = r
            return r.task
        }
        if let task {
            logger.info("lease lost (job cancelled or reaped): stopping its handler", metadata: ["job_id": .string(id)])
            task.cancel()
        }
    }

    // MARK: shutdown

    /// After claims stopped: wait for running handlers up to `shutdownSeconds`, then release
    /// what is left as `lease_released` attempts (not counted) and stop those handlers.
    private func drain() async {
        let deadline = Date().addingTimeInterval(options.shutdownSeconds)
        while runningCount > 0 && Date() < deadline {
            let gen = slotFreed.generation
            if runningCount == 0 { break }
            await withTaskGroup(of: Void.self) { g in
                g.addTask { await self.slotFreed.wait(after: gen) }
                g.addTask { try? await Task.sleep(nanoseconds: 200_000_000) }
                await g.next()
                g.cancelAll()
                self.slotFreed.fire()
            }
        }
        let leftovers: [(Job, Task<Void, Never>?)] = state.withLock { s in
            var out: [(Job, Task<Void, Never>?)] = []
            for (id, r) in s.running where r.started && !r.reported && !r.lost {
                s.running[id]?.reported = true
                s.pendingAcks.append((r.job, .released, r.startedAt))
                s.acking += 1
                out.append((r.job, r.task))
            }
            return out
        }
        if !leftovers.isEmpty {
            logger.warning("shutdown timeout: releasing running jobs", metadata: ["count": .stringConvertible(leftovers.count)])
            scheduleFlush()
            for (_, task) in leftovers { task?.cancel() }
            // --exec groups get SIGTERM, then SIGKILL after the grace period.
            let hardDeadline = Date().addingTimeInterval(options.killGraceSeconds + 2)
            while runningCount > 0 && Date() < hardDeadline { await sleep(0.05, evenWhenStopping: true) }
        }
        // Let the last acks reach the database (bounded: an outage must not hang shutdown).
        let ackDeadline = Date().addingTimeInterval(max(2, options.leaseSeconds))
        while state.withLock({ $0.flushing || !$0.pendingAcks.isEmpty }) && Date() < ackDeadline {
            await sleep(0.02, evenWhenStopping: true)
        }
    }

    // MARK: outages

    private func markDown(_ error: any Error) {
        let e = PortableError.wrap(error)
        let first = state.withLock { s -> Bool in
            let was = s.dbDown
            if e.code == .unavailable { s.dbDown = true }
            // Pooled connections that went stale during the outage fail once more after the
            // first success: within seconds of coming back, that is the same outage.
            let flap = s.backAt.map { Date().timeIntervalSince($0) < 5 } ?? false
            return !was && !flap
        }
        if e.code == .unavailable {
            if first { logger.warning("database unavailable; retrying with backoff", metadata: ["error": .string(e.message)]) }
        } else {
            logger.error("worker error", metadata: ["error": .string(e.description)])
        }
    }

    private func markUp() {
        let wasDown = state.withLock { s -> Bool in
            let was = s.dbDown
            s.dbDown = false
            if was { s.backAt = Date() }
            return was
        }
        if wasDown {
            logger.info("database is back")
            client.driver.wakeups.notify(queue: nil)
        }
    }

    private func sleep(_ seconds: Double, evenWhenStopping: Bool = false) async {
        if evenWhenStopping {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            return
        }
        // Wakes early on stop (stop() notifies the wakeups).
        await client.driver.wakeups.wait(queues: [], after: client.driver.wakeups.generation, timeout: seconds)
    }
}
