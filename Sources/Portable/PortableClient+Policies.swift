import Foundation

/// Queue policies (invariant 8): pause/resume, a cluster-wide cap on running jobs, a start-rate
/// limit, purge — and the claim that obeys them.
extension PortableClient {
    public func queuePolicies() async throws -> [QueuePolicy] { try await driver.queuePolicyList() }

    public func queuePolicy(_ queue: String) async throws -> QueuePolicy {
        try Names.check(queue, "queue")
        return try await driver.queuePolicyList().first { $0.queue == queue } ?? QueuePolicy(queue: queue)
    }

    @discardableResult
    public func pause(_ queue: String) async throws -> QueuePolicy {
        var p = try await queuePolicy(queue)
        p.paused = true
        try await driver.queuePolicySet(p, now: now)
        return p
    }

    @discardableResult
    public func resume(_ queue: String) async throws -> QueuePolicy {
        var p = try await queuePolicy(queue)
        p.paused = false
        try await driver.queuePolicySet(p, now: now)
        driver.wakeups.notify(queue: queue)
        return p
    }

    /// Sets the limits: `.some(nil)` clears one, `nil` leaves it as it is.
    @discardableResult
    public func setQueueLimits(_ queue: String, maxRunning: Int??, maxStartsPerSecond: Double??) async throws -> QueuePolicy {
        var p = try await queuePolicy(queue)
        if let m = maxRunning {
            if let v = m, v < 0 { throw PortableError.invalid("max_running must not be negative") }
            p.maxRunning = m
        }
        if let r = maxStartsPerSecond {
            if let v = r, !(v > 0 && v <= 1_000_000) { throw PortableError.invalid("max_starts_per_second must be above 0 and at most 1000000") }
            p.maxStartsPerSecond = r
        }
        try await driver.queuePolicySet(p, now: now)
        return p
    }

    /// Sets the per-key limits and the payload field that keys jobs: `.some(nil)` clears one,
    /// `nil` leaves it as it is.
    @discardableResult
    public func setKeyLimits(_ queue: String, concurrencyKeyFrom: String??, maxRunningPerKey: Int??,
                             maxStartsPerSecondPerKey: Double??) async throws -> QueuePolicy {
        var p = try await queuePolicy(queue)
        if let f = concurrencyKeyFrom {
            if let v = f { try KeyedClaim.checkField(v) }
            p.concurrencyKeyFrom = f
        }
        if let m = maxRunningPerKey {
            if let v = m, v < 0 { throw PortableError.invalid("max_running_per_key must not be negative") }
            p.maxRunningPerKey = m
        }
        if let r = maxStartsPerSecondPerKey {
            if let v = r, !(v > 0 && v <= 1_000_000) {
                throw PortableError.invalid("max_starts_per_second_per_key must be above 0 and at most 1000000")
            }
            p.maxStartsPerSecondPerKey = r
        }
        try await driver.queuePolicySet(p, now: now)
        return p
    }

    /// The state of a queue's concurrency keys (running jobs, tokens).
    public func concurrencyKeys(queue: String, keys: [String]) async throws -> [KeyState] {
        try Names.check(queue, "queue")
        for k in keys { try KeyedClaim.checkKey(k) }
        return try await driver.concurrencyKeyList(queue: queue, keys: keys)
    }

    /// Deletes every job of the queue whatever its status, archive and history included
    /// (`portableq bench` removes its own queue).
    @discardableResult
    public func deleteQueue(_ queue: String) async throws -> Int {
        try Names.check(queue, "queue")
        return try await driver.queueDeleteAll(queue)
    }

    /// Deletes the queue's queued jobs (due or scheduled); running and finished ones stay.
    public func purge(_ queue: String, dryRun: Bool) async throws -> Int {
        try Names.check(queue, "queue")
        return try await driver.queuePurge(queue, dryRun: dryRun)
    }

    /// Leases like `lease(...)`, obeying queue policies: paused, capped and rate-limited queues
    /// are claimed one at a time under their own lock; the rest in one statement. Returns what
    /// the policies held back, to be recorded as policy decisions.
    public func lease(queues: [String]?, jobTypes: [String]?, limit: Int, leaseSeconds: Double, workerId: String,
                      policies: [QueuePolicy]) async throws -> (jobs: [Job], held: [DecisionTally]) {
        guard limit > 0, jobTypes?.isEmpty != true, queues?.isEmpty != true else { return ([], []) }
        var jobs: [Job] = []
        var held: [DecisionTally] = []
        for p in policies where (p.paused || p.isRestricted) && (queues?.contains(p.queue) ?? true) && jobs.count < limit {
            let req = LeaseRequest(queues: [p.queue], jobTypes: jobTypes, limit: limit - jobs.count, leaseSeconds: leaseSeconds,
                                   workerId: workerId, token: UUIDv7.randomToken(random))
            if p.hasKeyLimits {
                let (got, plan) = try await driver.jobLeaseKeyed(req, queue: p.queue, now: now, decide: KeyedClaim.decide)
                jobs += got.sorted(by: Job.claimOrder)
                held += plan.tallies(queue: p.queue)
                continue
            }
            let (got, allowance) = try await driver.jobLeaseRestricted(req, queue: p.queue, now: now) { policy, running, due, now in
                Allowance.decide(policy: policy, running: running, wanted: min(limit, due), now: now)
            }
            jobs += got.sorted(by: Job.claimOrder)
            if let reason = allowance.heldBy {
                held.append(DecisionTally(queue: p.queue, reasonCode: reason.rawValue, count: 1, message: nil))
            }
        }
        if jobs.count < limit {
            jobs += try await lease(queues: queues, jobTypes: jobTypes, limit: limit - jobs.count, leaseSeconds: leaseSeconds,
                                    workerId: workerId)
        }
        return (jobs, held)
    }
}
