import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Per-key concurrency and rate limits with fair claims (issue 15 §2).
@Suite struct ConcurrencyKeyTests {
    func lease(_ db: TestDB, _ limit: Int = 10, client: PortableClient? = nil) async throws -> (jobs: [Job], held: [DecisionTally]) {
        let c = client ?? db.client
        return try await c.lease(queues: nil, jobTypes: nil, limit: limit, leaseSeconds: 30, workerId: "w",
                                 policies: try await c.queuePolicies())
    }

    func liveWorker(_ db: TestDB) async throws {
        try await db.driver.workerUpsert(WorkerInfo(id: "w", host: "h", pid: 1, queues: nil, jobTypes: nil, concurrency: 1,
                                                    leaseSeconds: 30, startedAt: TestDB.epoch, lastHeartbeatAt: TestDB.epoch), now: db.clock.now)
    }

    func enqueue(_ db: TestDB, queue: String = "k", key: String?, count: Int, priority: Int = 0) async throws -> [Job] {
        var out: [Job] = []
        for start in stride(from: 0, to: count, by: 1000) {
            let batch = (start..<min(count, start + 1000)).map { _ in
                NewJob(queue: queue, jobType: "t", priority: priority, concurrencyKey: key)
            }
            out += try await db.client.enqueueMany(batch).map(\.job)
        }
        return out
    }

    func running(_ db: TestDB, _ key: String, queue: String = "k") async throws -> Int {
        try #require(try await db.client.concurrencyKeys(queue: queue, keys: [key]).first).running
    }

    @Test func theKeyedDecisionTakesKeysInTurnWithinTheBestPriority() {
        let t0 = Date(timeIntervalSince1970: 1000)
        func c(_ id: String, _ key: String?, _ prio: Int = 0, _ at: Double = 0) -> KeyedCandidate {
            KeyedCandidate(id: id, key: key, priority: prio, runAt: t0.addingTimeInterval(at))
        }
        let p = QueuePolicy(queue: "q", maxRunningPerKey: 2)
        // A's jobs are older, yet B and the keyless job take their turns.
        let view = KeyedClaimView(policy: p, running: 0, wanted: 4, now: t0,
                                  candidates: [c("a1", "A", 0, 1), c("a2", "A", 0, 2), c("b1", "B", 0, 5), c("n1", nil, 0, 6)],
                                  keys: ["A": KeyState(queue: "q", key: "A", running: 0), "B": KeyState(queue: "q", key: "B", running: 1)])
        let plan = KeyedClaim.decide(view)
        #expect(plan.ids == ["a1", "b1", "n1", "a2"], "\(plan)")
        #expect(plan.keysHeld.isEmpty)
        // A higher priority goes first even when it is one key's.
        let prio = KeyedClaim.decide(KeyedClaimView(policy: QueuePolicy(queue: "q", maxRunningPerKey: 5), running: 0, wanted: 3, now: t0,
            candidates: [c("a1", "A", 5), c("a2", "A", 5), c("b1", "B", 0), c("b2", "B", 0)], keys: [:]))
        #expect(prio.ids == ["a1", "a2", "b1"])
        // A key at its cap holds its job; a capped queue takes tokens only for what starts.
        let held = KeyedClaim.decide(KeyedClaimView(policy: QueuePolicy(queue: "q", maxStartsPerSecond: 3, maxRunningPerKey: 1),
            running: 0, wanted: 5, now: t0, candidates: [c("a1", "A"), c("b1", "B")],
            keys: ["A": KeyState(queue: "q", key: "A", running: 1)]))
        #expect(held.ids == ["b1"] && held.keysHeld == ["A": .keyAtConcurrencyLimit])
        #expect(held.allowance.tokensAfter == 2, "one queue token for the one job that starts")
        #expect(held.tallies(queue: "q") == [DecisionTally(queue: "q", reasonCode: "KEY_AT_CONCURRENCY_LIMIT", count: 1, message: "key \"A\"")])
        // The key's bucket: burst 1 at 0.5/s.
        let rated = QueuePolicy(queue: "q", maxStartsPerSecondPerKey: 0.5)
        let r = KeyedClaim.decide(KeyedClaimView(policy: rated, running: 0, wanted: 5, now: t0,
            candidates: [c("a1", "A"), c("a2", "A", 0, 1)], keys: [:]))
        #expect(r.ids == ["a1"] && r.keysHeld == ["A": .keyRateLimited] && r.keyTokens == ["A": 0])
    }

    @Test(arguments: TestBackend.enabled)
    func aKeyAtItsCapNeverBlocksOtherKeys(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: nil, maxRunningPerKey: .some(1), maxStartsPerSecondPerKey: nil)
            let a = try await enqueue(db, key: "A", count: 3)
            _ = try await enqueue(db, key: "B", count: 2)
            let plain = try await enqueue(db, key: nil, count: 1)
            let first = try await lease(db)
            #expect(first.jobs.count == 3, "one of A, one of B and the job without a key: \(first.jobs.map(\.concurrencyKey))")
            #expect(Set(first.jobs.map { $0.concurrencyKey ?? "-" }) == ["A", "B", "-"])
            #expect(first.jobs.contains { $0.id == plain[0].id })
            #expect(first.held.map(\.reasonCode) == ["KEY_AT_CONCURRENCY_LIMIT"], "\(first.held)")
            let runningA = try await running(db, "A"), runningB = try await running(db, "B")
            #expect(runningA == 1 && runningB == 1)

            let other = PortableClient(driver: try db.openAnother(), clock: db.clock)
            let second = try await lease(db, client: other)
            #expect(second.jobs.isEmpty, "the cap is cluster-wide")
            try await liveWorker(db)
            let waiting = try #require(a.first { id in !first.jobs.contains { $0.id == id.id } })
            let e = try await db.client.explain(waiting.id)
            #expect(e.reason == .keyAtConcurrencyLimit && e.message.contains("\"A\""), "\(e)")
            #expect(JSON.object(e.details)["concurrency_key"] == .string("A"))

            let startedA = try #require(first.jobs.first { $0.concurrencyKey == "A" })
            #expect(try await db.client.ack(startedA) == .applied)
            #expect(try await lease(db, client: other).jobs.map(\.concurrencyKey) == ["A"], "a finished job frees its key's place")
            await other.driver.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aGivenKeyBeatsADerivedOneAndTheKeyNeverChanges(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: .some("tenant"), maxRunningPerKey: nil, maxStartsPerSecondPerKey: nil)
            let rs = try await db.client.enqueueMany([
                NewJob(queue: "k", jobType: "t", payloadJSON: #"{"tenant":"acme"}"#),
                NewJob(queue: "k", jobType: "t", payloadJSON: #"{"tenant":"acme"}"#, concurrencyKey: "given"),
                NewJob(queue: "k", jobType: "t", payloadJSON: #"{"tenant":42}"#),
                NewJob(queue: "k", jobType: "t", payloadJSON: #"{"tenant":{"id":1}}"#),
                NewJob(queue: "k", jobType: "t", payloadJSON: #"{"tenant":""}"#),
                NewJob(queue: "k", jobType: "t", payloadJSON: #"{"other":"x"}"#),
                NewJob(queue: "elsewhere", jobType: "t", payloadJSON: #"{"tenant":"acme"}"#),
            ])
            #expect(rs.map(\.job.concurrencyKey) == ["acme", "given", "42", nil, nil, nil, nil])
            var stored: [Job] = []
            for r in rs { stored.append(try await db.client.job(r.job.id)) }
            #expect(stored.map(\.concurrencyKey) == ["acme", "given", "42", nil, nil, nil, nil], "as stored")
            #expect(rs[0].job.json["concurrency_key"] == .string("acme"))
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: .some("other"), maxRunningPerKey: nil, maxStartsPerSecondPerKey: nil)
            #expect(try await db.client.job(rs[0].job.id).concurrencyKey == "acme", "a policy change does not re-key jobs")
            let bad = await #expect(throws: PortableError.self) {
                try await db.client.enqueue(NewJob(queue: "k", jobType: "t", concurrencyKey: ""))
            }
            #expect(bad?.code == .invalidArgument)
            let badField = await #expect(throws: PortableError.self) {
                try await db.client.setKeyLimits("k", concurrencyKeyFrom: .some("a.b\""), maxRunningPerKey: nil, maxStartsPerSecondPerKey: nil)
            }
            #expect(badField?.code == .invalidArgument)
        }
    }

    /// The key's bucket holds only its key, and a job held back by its key takes no queue token.
    @Test(arguments: TestBackend.enabled)
    func theKeyRateLimitHoldsOnlyItsKeyAndTakesNoQueueToken(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.setQueueLimits("k", maxRunning: nil, maxStartsPerSecond: .some(3))
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: nil, maxRunningPerKey: nil, maxStartsPerSecondPerKey: .some(1))
            _ = try await enqueue(db, key: "A", count: 3)
            let first = try await lease(db)
            #expect(first.jobs.map(\.concurrencyKey) == ["A"])
            #expect(first.held.map(\.reasonCode) == ["KEY_RATE_LIMITED"])
            let waiting = try #require(try await db.client.jobs(JobFilter(queue: "k", status: .queued)).items.first)
            try await liveWorker(db)
            #expect(try await db.client.explain(waiting.id).reason == .keyRateLimited)
            #expect(try await db.client.queuePolicy("k").tokens == 2, "A's held jobs took no queue token")
            _ = try await enqueue(db, key: "B", count: 3)
            #expect(try await lease(db).jobs.map(\.concurrencyKey) == ["B"], "B has its own bucket")
            db.clock.advance(1)
            #expect(Set(try await lease(db).jobs.map { $0.concurrencyKey ?? "" }) == ["A", "B"])
        }
    }

    @Test(arguments: TestBackend.enabled)
    func explainGivesTheQueuesReasonBeforeTheKeys(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.setQueueLimits("k", maxRunning: .some(1), maxStartsPerSecond: nil)
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: nil, maxRunningPerKey: .some(1), maxStartsPerSecondPerKey: nil)
            _ = try await enqueue(db, key: "A", count: 2)
            #expect(try await lease(db).jobs.count == 1)
            try await liveWorker(db)
            let waiting = try #require(try await db.client.jobs(JobFilter(queue: "k", status: .queued)).items.first)
            #expect(try await db.client.explain(waiting.id).reason == .queueAtConcurrencyLimit)
        }
    }

    /// Every path out of running gives the key its place back.
    @Test(arguments: TestBackend.enabled)
    func theRunningCountReturnsToZeroAfterEveryPathOutOfRunning(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: nil, maxRunningPerKey: .some(1), maxStartsPerSecondPerKey: nil)
            func start() async throws -> Job {
                _ = try await enqueue(db, key: "K", count: 1)
                let j = try #require(try await lease(db, 1).jobs.first)
                #expect(try await running(db, "K") == 1)
                return j
            }
            func settle(_ what: String) async throws {
                #expect(try await running(db, "K") == 0, "after \(what)")
                try await db.execute("DELETE FROM jobs WHERE status = 'queued'")
            }
            #expect(try await db.client.ack(try await start()) == .applied)
            try await settle("ack")
            #expect(try await db.client.fail(try await start()) == .applied)
            try await settle("a retryable failure")
            #expect(try await db.client.fail(try await start(), retryable: false) == .applied)
            try await settle("dead-lettering")
            #expect(try await db.client.complete([(try await start(), .snoozed(seconds: 5))], types: [:]) == [.applied])
            try await settle("snooze")
            let cancelled = try await start()
            _ = try await db.client.cancel(cancelled.id)
            try await settle("cancel")
            let released = try await start()
            #expect(try await db.client.release([LeaseKey(jobId: released.id, token: released.leaseToken ?? "")]) == 1)
            try await settle("release")
            _ = try await start()
            db.clock.advance(31)
            #expect(try await db.client.reap() == 1)
            try await settle("lease expiry")
            let deleted = try await start()
            try await db.execute("DELETE FROM jobs WHERE id = '\(deleted.id)'")
            try await settle("delete")
        }
    }

    /// One tenant with thousands of queued jobs cannot starve one with ten.
    @Test(arguments: TestBackend.enabled)
    func aBigBacklogOfOneKeyDoesNotStarveAnother(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.setKeyLimits("k", concurrencyKeyFrom: nil, maxRunningPerKey: .some(10_000), maxStartsPerSecondPerKey: nil)
            _ = try await enqueue(db, key: "A", count: 5000)
            db.clock.advance(1)
            let b = Set(try await enqueue(db, key: "B", count: 10).map(\.id))
            var startedB = 0
            for _ in 0..<2 {
                let batch = try await lease(db, 10).jobs
                #expect(batch.count == 10)
                startedB += batch.filter { b.contains($0.id) }.count
            }
            #expect(startedB == 10, "B's ten jobs start within the first two batches of ten, beside A's 5000")
        }
    }
}
