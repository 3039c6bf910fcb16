import Foundation

/// What a worker asks of the core besides claims and acks: registration, wakeups, hand-backs.
extension PortableClient {
    public var backend: BackendKind { driver.kind }
    /// The most database connections this process may hold through this client.
    public var connectionBudget: Int { driver.connectionBudget }

    /// Wakes idle workers of this process when jobs are enqueued (and, on Postgres after
    /// `listenForWakeups()`, when any process enqueues).
    public var wakeups: JobWakeups { driver.wakeups }

    /// Starts listening for other processes' enqueues (Postgres LISTEN); SQLite polls instead.
    public func listenForWakeups() { driver.wakeupListen() }

    /// Records the policies of the types a worker serves (`job_types`).
    public func registerJobTypes(_ policies: [JobTypePolicy]) async throws {
        try await driver.jobTypeUpsertMany(policies, now: now)
    }

    /// Registers a worker, or records its heartbeat.
    public func registerWorker(_ info: WorkerInfo) async throws {
        try await driver.workerUpsert(info, now: now)
    }

    public func unregisterWorker(_ id: String) async throws {
        try await driver.workerDelete(id)
    }

    /// Hands claimed jobs back to the queue as if never claimed (no attempt recorded).
    @discardableResult
    public func release(_ leases: [LeaseKey]) async throws -> Int {
        guard !leases.isEmpty else { return 0 }
        return try await driver.jobReleaseMany(leases)
    }

    /// Adds throttling seen by claims to the policy decisions.
    public func recordPolicyDecisions(_ tallies: [DecisionTally]) async throws {
        try await driver.decisionRecord(.policy, tallies, now: now)
    }

    /// Live jobs by queue and status, in one snapshot, each count capped (`QueueCount.cap`).
    public func queueCounts() async throws -> [QueueCount] {
        try await driver.queueCounts(now: now)
    }
}
