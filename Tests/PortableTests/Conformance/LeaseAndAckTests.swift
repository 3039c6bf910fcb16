import Foundation
import Testing
@testable import Backends

/// Invariant 1 (exclusive leases; applied / duplicate / leaseLost) and invariant 2 (reaping).
@Suite struct LeaseAndAckTests {
    @Test(arguments: TestBackend.enabled)
    func concurrentClaimsNeverShareAJob(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            _ = try await db.client.enqueueMany((0..<40).map { _ in NewJob(jobType: "t") })
            let other = PortableClient(driver: try db.openAnother(), clock: db.clock)
            async let a = db.client.lease(queues: ["default"], jobTypes: nil, limit: 25, leaseSeconds: 30, workerId: "a")
            async let b = other.lease(queues: ["default"], jobTypes: nil, limit: 25, leaseSeconds: 30, workerId: "b")
            let (ja, jb) = try await (a, b)
            await other.driver.close()
            let ids = ja.map(\.id) + jb.map(\.id)
            #expect(ids.count == 40)
            #expect(Set(ids).count == 40)
            #expect(ja.allSatisfy { $0.workerId == "a" && $0.status == .running && $0.attempts == 1 })
            #expect(jb.allSatisfy { $0.workerId == "b" })
        }
    }

    @Test(arguments: TestBackend.enabled)
    func leaseSetsExpiryFromTheInjectedClock(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let job = try #require(try await db.client.leaseOne(lease: 30))
            #expect(job.startedAt == TestDB.epoch)
            #expect(job.leaseExpiresAt == TestDB.epoch.addingTimeInterval(30))
            #expect(job.leaseToken != nil)
            #expect(try await db.client.leaseOne() == nil, "a leased job is not offered again")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func repeatedAckIsDuplicate(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let job = try #require(try await db.client.leaseOne())
            #expect(try await db.client.ack(job, output: #"{"ok":true}"#) == .applied)
            #expect(try await db.client.ack(job, output: #"{"ok":true}"#) == .duplicate)
            let stored = try await db.client.job(job.id)
            #expect(stored.status == .succeeded)
            #expect(stored.output == #"{"ok":true}"#)
            #expect(try await db.driver.jobHistory(job.id).attempts.count == 1)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func repeatedFailureIsDuplicateButAckAfterFailIsLeaseLost(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let job = try #require(try await db.client.leaseOne())
            #expect(try await db.client.fail(job) == .applied)
            #expect(try await db.client.fail(job) == .duplicate)
            #expect(try await db.client.ack(job) == .leaseLost, "a different outcome with a spent token changes nothing")
            let stored = try await db.client.job(job.id)
            #expect(stored.status == .queued)
            #expect(stored.attempts == 1)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func staleTokenAckChangesNothing(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let first = try #require(try await db.client.leaseOne(lease: 10, worker: "slow"))
            db.clock.advance(11)
            #expect(try await db.client.reap() == 1)
            db.clock.advance(1)  // backoff with no jitter: 1 s
            let second = try #require(try await db.client.leaseOne(worker: "fast"))
            #expect(second.id == first.id)
            #expect(second.attempts == 2)
            #expect(try await db.client.ack(first) == .leaseLost)
            #expect(try await db.client.heartbeat([LeaseKey(jobId: first.id, token: first.leaseToken!)], leaseSeconds: 30).isEmpty)
            let now = try await db.client.job(first.id)
            #expect(now.status == .running && now.workerId == "fast" && now.leaseToken == second.leaseToken)
            #expect(try await db.client.ack(second) == .applied)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func expiredLeaseIsReapedAsLeaseExpired(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add(maxAttempts: 2)
            let job = try #require(try await db.client.leaseOne(lease: 30, worker: "crashed"))
            db.clock.advance(29)
            #expect(try await db.client.reap() == 0, "not expired yet")
            db.clock.advance(2)
            #expect(try await db.client.reap() == 1)
            let after = try await db.client.job(job.id)
            #expect(after.status == .queued)
            #expect(after.lastErrorCode == Codes.leaseExpired)
            #expect(after.runAt == TestDB.epoch.addingTimeInterval(31 + 1))
            let attempts = try await db.driver.jobHistory(job.id).attempts
            #expect(attempts.map(\.outcome) == [.leaseExpired])
            #expect(attempts[0].workerId == "crashed")
            #expect(attempts[0].decision == .retry)

            // The second expiry exhausts max_attempts = 2.
            db.clock.advance(1)
            _ = try #require(try await db.client.leaseOne(lease: 5))
            db.clock.advance(6)
            #expect(try await db.client.reap() == 1)
            let dead = try await db.client.job(job.id)
            #expect(dead.status == .dlq)
            #expect(dead.dlqReasonCode == Codes.maxAttemptsExceeded)
            #expect(dead.lastErrorCode == Codes.leaseExpired)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func heartbeatExtendsTheLease(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let job = try #require(try await db.client.leaseOne(lease: 30))
            db.clock.advance(20)
            let held = try await db.client.heartbeat([LeaseKey(jobId: job.id, token: job.leaseToken!)], leaseSeconds: 30)
            #expect(held == [job.id])
            #expect(try await db.client.job(job.id).leaseExpiresAt == TestDB.epoch.addingTimeInterval(50))
            db.clock.advance(20)
            #expect(try await db.client.reap() == 0)
            #expect(try await db.client.ack(job) == .applied)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func releasedAttemptDoesNotCountAgainstMaxAttempts(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add(maxAttempts: 1)
            let job = try #require(try await db.client.leaseOne())
            #expect(try await db.client.complete([(job, .released)], types: [:]) == [.applied])
            let back = try await db.client.job(job.id)
            #expect(back.status == .queued)
            #expect(back.runAt == TestDB.epoch)
            let again = try #require(try await db.client.leaseOne())
            #expect(again.attempts == 2)
            #expect(try await db.client.fail(again) == .applied)
            #expect(try await db.client.job(job.id).status == .dlq, "one counted attempt of max 1")
            let outcomes = try await db.driver.jobHistory(job.id).attempts.map(\.outcome)
            #expect(outcomes == [.released, .failed])
        }
    }

    @Test(arguments: TestBackend.enabled)
    func batchedAckAnswersPerJob(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            _ = try await db.client.enqueueMany((0..<5).map { _ in NewJob(jobType: "t") })
            let jobs = try await db.client.lease(queues: nil, jobTypes: nil, limit: 5, leaseSeconds: 30, workerId: "w")
            #expect(jobs.count == 5)
            #expect(try await db.client.ack(jobs[0]) == .applied)
            var stale = jobs[1]
            stale.leaseToken = UUIDv7.randomToken(SystemRandom())
            let results = try await db.client.complete([
                (jobs[0], .success(output: nil)),
                (stale, .success(output: nil)),
                (jobs[2], .success(output: "1")),
                (jobs[3], .failure(code: "X", message: nil, retryable: true)),
                (jobs[4], .badPayload(message: "no")),
            ], types: [:])
            #expect(results == [.duplicate, .leaseLost, .applied, .applied, .applied])
            #expect(try await db.client.job(jobs[1].id).status == .running)
            #expect(try await db.client.job(jobs[4].id).dlqReasonCode == Codes.badPayload)
        }
    }
}

extension LeaseAndAckTests {
    @Test(arguments: TestBackend.enabled)
    func ackAndNextClaimInOneRoundTrip(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            _ = try await db.client.enqueueMany((0..<5).map { _ in NewJob(jobType: "t") })
            let first = try await db.client.lease(queues: ["default"], jobTypes: ["t"], limit: 2, leaseSeconds: 30, workerId: "w")
            var stale = first[1]
            stale.leaseToken = UUIDv7.randomToken(SystemRandom())
            let (acks, next) = try await db.client.completeAndLease([(first[0], .success(output: "1")), (stale, .success(output: nil))],
                                                                    types: [:], queues: ["default"], jobTypes: ["t"], limit: 10,
                                                                    leaseSeconds: 30, workerId: "w")
            #expect(acks == [.applied, .leaseLost])
            #expect(next.count == 3, "the acked and the still-running job are not claimed again")
            #expect(Set(next.map(\.id)).isDisjoint(with: first.map(\.id)))
            #expect(try await db.client.job(first[0].id).status == .succeeded)
            #expect(try await db.driver.jobHistory(first[0].id).attempts.count == 1)
            let (again, none) = try await db.client.completeAndLease(next.map { ($0, .failure(code: "X", message: nil, retryable: true)) },
                                                                     types: [:], queues: ["default"], jobTypes: ["t"], limit: 10,
                                                                     leaseSeconds: 30, workerId: "w")
            #expect(again == [.applied, .applied, .applied])
            #expect(none.isEmpty, "retries are scheduled ahead, not due in the same statement")
        }
    }
}
