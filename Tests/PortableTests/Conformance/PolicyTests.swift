import Foundation
import Testing
@testable import Backends

/// Invariant 8: pause, a cluster-wide cap and a token-bucket start rate, obeyed by every claim.
@Suite struct PolicyTests {
    func lease(_ db: TestDB, _ limit: Int = 10, client: PortableClient? = nil) async throws -> (jobs: [Job], held: [DecisionTally]) {
        let c = client ?? db.client
        let policies = try await c.queuePolicies()
        return try await c.lease(queues: nil, jobTypes: nil, limit: limit, leaseSeconds: 30, workerId: "w", policies: policies)
    }

    @Test func theTokenBucketDecision() {
        let t0 = Date(timeIntervalSince1970: 1000)
        var p = QueuePolicy(queue: "q", maxStartsPerSecond: 2.5)
        #expect(p.burst == 3)
        #expect(Allowance.decide(policy: p, running: 0, wanted: 10, now: t0) == Allowance(count: 3, heldBy: .queueRateLimited, tokensAfter: 0))
        p.tokens = 0; p.tokensAt = t0
        #expect(Allowance.decide(policy: p, running: 0, wanted: 10, now: t0.addingTimeInterval(0.39)).count == 0)
        #expect(Allowance.decide(policy: p, running: 0, wanted: 10, now: t0.addingTimeInterval(0.4)).count == 1)
        #expect(Allowance.decide(policy: p, running: 0, wanted: 10, now: t0.addingTimeInterval(100)).count == 3, "capped at the burst")
        #expect(QueuePolicy(queue: "q", maxStartsPerSecond: 0.2).burst == 1)
        let capped = QueuePolicy(queue: "q", maxRunning: 3)
        #expect(Allowance.decide(policy: capped, running: 2, wanted: 5, now: t0) == Allowance(count: 1, heldBy: .queueAtConcurrencyLimit, tokensAfter: nil))
        #expect(Allowance.decide(policy: capped, running: 0, wanted: 2, now: t0).heldBy == nil)
    }

    @Test(arguments: TestBackend.enabled)
    func aPausedQueueStartsNothingAndExplainSaysSo(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let job = try await db.client.add(queue: "p")
            let other = try await db.client.add(queue: "free")
            try await db.client.pause("p")
            let (jobs, held) = try await lease(db)
            #expect(jobs.map(\.id) == [other.id], "only the other queue's job")
            #expect(held == [DecisionTally(queue: "p", reasonCode: "QUEUE_PAUSED", count: 1, message: nil)])
            try await db.driver.workerUpsert(WorkerInfo(id: "w", host: "h", pid: 1, queues: nil, jobTypes: nil, concurrency: 1,
                                                        leaseSeconds: 30, startedAt: TestDB.epoch, lastHeartbeatAt: TestDB.epoch), now: db.clock.now)
            #expect(try await db.client.explain(job.id).reason == .queuePaused)
            try await db.client.resume("p")
            #expect(try await lease(db).jobs.map(\.id) == [job.id])
            let q = try await db.client.queues().first { $0.queue == "p" }
            #expect(q?.policy?.paused == false && q?.running == 1)
        }
    }

    /// A pause is a throttle like the others: it is recorded when it holds a due job back, and
    /// only then (an empty paused queue is not throttled at every poll).
    @Test(arguments: TestBackend.enabled)
    func aPauseRecordsDecisionsOnlyWhenItHoldsJobsBack(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.pause("p")
            #expect(try await lease(db).held == [], "nothing due, nothing held")
            _ = try await db.client.add(queue: "p", delay: 60)
            #expect(try await lease(db).held == [], "a scheduled job is not held by the pause")
            _ = try await db.client.add(queue: "p")
            #expect(try await lease(db).held == [DecisionTally(queue: "p", reasonCode: "QUEUE_PAUSED", count: 1, message: nil)])
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theCapCountsRunningJobsOfEveryWorker(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            _ = try await db.client.enqueueMany((0..<6).map { _ in NewJob(queue: "c", jobType: "t") })
            try await db.client.setQueueLimits("c", maxRunning: .some(2), maxStartsPerSecond: nil)
            let other = PortableClient(driver: try db.openAnother(), clock: db.clock)
            let a = try await lease(db)
            let b = try await lease(db, client: other)
            #expect(a.jobs.count == 2 && b.jobs.isEmpty)
            #expect(b.held.map(\.reasonCode) == ["QUEUE_AT_CONCURRENCY_LIMIT"])
            let waiting = try await db.client.jobs(JobFilter(queue: "c", status: .queued)).items.first!
            try await db.driver.workerUpsert(WorkerInfo(id: "w", host: "h", pid: 1, queues: nil, jobTypes: nil, concurrency: 1,
                                                        leaseSeconds: 30, startedAt: TestDB.epoch, lastHeartbeatAt: TestDB.epoch), now: db.clock.now)
            #expect(try await db.client.explain(waiting.id).reason == .queueAtConcurrencyLimit)
            _ = try await db.client.ack(a.jobs[0])
            #expect(try await lease(db, client: other).jobs.count == 1, "a finished job frees its place")
            await other.driver.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theStartRateIsATokenBucketOnTheInjectedClock(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            _ = try await db.client.enqueueMany((0..<20).map { _ in NewJob(queue: "r", jobType: "t") })
            try await db.client.setQueueLimits("r", maxRunning: nil, maxStartsPerSecond: .some(2))
            #expect(try await lease(db).jobs.count == 2, "a full bucket: burst = ceil(2) = 2")
            let held = try await lease(db)
            #expect(held.jobs.isEmpty && held.held.map(\.reasonCode) == ["QUEUE_RATE_LIMITED"])
            db.clock.advance(0.49)
            #expect(try await lease(db).jobs.isEmpty)
            db.clock.advance(0.01)
            #expect(try await lease(db).jobs.count == 1, "one token after 0.5 s")
            db.clock.advance(60)
            #expect(try await lease(db).jobs.count == 2, "never more than the burst")
            try await db.client.setQueueLimits("r", maxRunning: nil, maxStartsPerSecond: .some(nil))
            #expect(try await lease(db).jobs.count == 10, "no limit once cleared")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func purgeDeletesQueuedJobsOnly(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            _ = try await db.client.enqueueMany((0..<3).map { _ in NewJob(queue: "x", jobType: "t") })
            try await db.client.add(queue: "x", delay: 3600)
            try await db.client.add(queue: "y")
            let running = try #require(try await db.client.leaseOne(queues: ["x"]))
            #expect(try await db.client.purge("x", dryRun: true) == 3)
            #expect(try await db.client.purge("x", dryRun: false) == 3)
            #expect(try await db.client.jobs(JobFilter(queue: "x")).items.map(\.id) == [running.id])
            #expect(try await db.client.jobs(JobFilter(queue: "y")).total == 1)
        }
    }
}
