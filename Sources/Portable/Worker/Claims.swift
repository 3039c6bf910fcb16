import Foundation
import Synchronization

/// How a worker takes jobs, shared by its two claim paths (the claim loop, and the ack buffer
/// claiming along with each batch it writes): slots are reserved first so the two never claim
/// more than the worker has room for; claimed jobs go to the dispatcher, which starts their
/// handlers in the worker's task group.
final class Claims: Sendable {
    let client: PortableClient
    let options: WorkerOptions
    let table: JobTable
    let stats: WorkerCounters
    private let dispatch: AsyncStream<[JobTable.Entry]>.Continuation
    private let policies = Mutex<(list: [QueuePolicy], at: Date?)>(([], nil))
    /// Throttling seen by claims, aggregated here and written with the heartbeat (never a row per poll).
    private let held = Mutex<[String: DecisionTally]>([:])

    init(client: PortableClient, options: WorkerOptions, table: JobTable, stats: WorkerCounters,
         dispatch: AsyncStream<[JobTable.Entry]>.Continuation) {
        self.client = client
        self.options = options
        self.table = table
        self.stats = stats
        self.dispatch = dispatch
    }

    // MARK: queue policies

    /// Queue policies, refreshed at most every `policyRefreshSeconds` (claims in restricted queues
    /// re-read theirs under a lock, and the unrestricted claim skips restricted queues in SQL, so a
    /// stale list never over-claims).
    func currentPolicies() async throws -> [QueuePolicy] {
        let now = client.clock.localNow
        let cached: [QueuePolicy]? = policies.withLock { p in
            p.at.map { now.timeIntervalSince($0) < options.policyRefreshSeconds } == true ? p.list : nil
        }
        if let cached { return cached }
        let fresh = try await client.queuePolicies()
        policies.withLock { $0 = (fresh, now) }
        return fresh
    }

    /// The queue was paused since its job was claimed (re-checked before a handler starts).
    func isPaused(_ queue: String) -> Bool {
        policies.withLock { $0.list.contains { $0.queue == queue && $0.paused } }
    }

    /// True when one of the worker's queues has a policy (paused, capped, rate-limited): only the
    /// claim loop claims those, one queue at a time under its lock.
    func hasRestrictedQueues() -> Bool {
        policies.withLock { p in
            p.list.contains { ($0.paused || $0.isRestricted) && (options.queues?.contains($0.queue) ?? true) }
        }
    }

    // MARK: claiming

    func reserve() -> Reservation? { table.reserve(batch: options.claimBatch) }

    /// One claim for a reservation (obeying queue policies); returns how many jobs it took.
    func claim(_ r: Reservation) async throws -> Int {
        let jobs: [Job]
        do {
            let policies = try await currentPolicies()
            let (got, heldBack) = try await client.metrics.timed(.claim) {
                try await client.lease(queues: options.queues, jobTypes: r.types, limit: r.count,
                                       leaseSeconds: options.leaseSeconds, workerId: options.id, policies: policies)
            }
            jobs = got
            tally(heldBack)
        } catch {
            table.cancel(r)
            throw error
        }
        await deliver(jobs, for: r)
        return jobs.count
    }

    /// Takes claimed jobs into slots and hands them to the dispatcher; jobs that cannot start
    /// (over a type's limit, or claimed while stopping) go back at once without an attempt.
    func deliver(_ jobs: [Job], for r: Reservation) async {
        let (start, handBack) = table.admit(jobs, for: r)
        if !start.isEmpty {
            stats.update { $0.claimed += start.count }
            for e in start { client.metrics.queue(e.job.queue).claimed.increment() }
            dispatch.yield(start)
        }
        if !handBack.isEmpty { await handBackUnstarted(handBack) }
    }

    /// Hands jobs back as if never claimed; retried through a brief outage, after which lease
    /// expiry returns them anyway.
    func handBackUnstarted(_ jobs: [Job]) async {
        let leases = jobs.map { LeaseKey(jobId: $0.id, token: $0.leaseToken ?? "") }
        var delay = 0.2
        for _ in 0..<5 {
            if (try? await client.metrics.timed(.release, { try await client.release(leases) })) != nil { break }
            try? await client.clock.sleep(seconds: delay)
            delay *= 2
        }
        stats.update { $0.released += jobs.count }
    }

    /// No more jobs reach the dispatcher (shutdown, once no claim is in flight).
    func finishDispatch() { dispatch.finish() }

    // MARK: throttling tallies

    /// Adds throttling to the next heartbeat's tallies (a claim's, or a prefetched job handed
    /// back because its queue was paused since).
    func tally(_ tallies: [DecisionTally]) {
        guard !tallies.isEmpty else { return }
        held.withLock { h in
            for t in tallies {
                let k = t.queue + "\u{0}" + t.reasonCode
                var sum = h[k] ?? DecisionTally(queue: t.queue, reasonCode: t.reasonCode, count: 0, message: nil)
                sum.count += t.count
                h[k] = sum
            }
        }
    }

    /// Writes the aggregated throttling tallies as policy decisions.
    func flushTallies() async throws {
        let tallies: [DecisionTally] = held.withLock { h in
            defer { h = [:] }
            return Array(h.values)
        }
        guard !tallies.isEmpty else { return }
        do {
            try await client.recordPolicyDecisions(tallies)
        } catch {
            tally(tallies)  // kept for the next heartbeat
            throw error
        }
    }
}
