import Foundation
import Testing
@testable import Backends

/// Invariant 4 (backoff, DLQ reasons), retry in place, replay (invariant 6) and cancel.
@Suite struct RetryTests {
    /// Fails the job's current attempt once it is due; returns the job as stored afterwards.
    func failOnce(_ db: TestDB, code: String = "BOOM", retryable: Bool = true,
                  types: [String: JobTypePolicy] = [:]) async throws -> Job {
        let job = try #require(try await db.client.leaseOne())
        #expect(try await db.client.fail(job, code: code, retryable: retryable, types: types) == .applied)
        return try await db.client.job(job.id)
    }

    @Test(arguments: TestBackend.enabled)
    func backoffDoublesFromOneSecondUntilDeadLettered(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add(maxAttempts: 5).id
            var delays: [Double] = []
            for _ in 0..<4 {
                let before = db.clock.localNow
                let after = try await failOnce(db)
                #expect(after.status == .queued)
                delays.append(after.runAt.timeIntervalSince(before))
                db.clock.set(after.runAt)
            }
            #expect(delays == [1, 2, 4, 8])
            let dead = try await failOnce(db, code: "STILL_BROKEN")
            #expect(dead.id == id)
            #expect(dead.status == .dlq)
            #expect(dead.dlqReasonCode == Codes.maxAttemptsExceeded)
            #expect(dead.lastErrorCode == "STILL_BROKEN")
            #expect(dead.attempts == 5)
            #expect(dead.finishedAt == db.clock.localNow)
        }
    }

    @Test(arguments: [0.0, 0.999999])
    func jitterStaysWithinTwentyPercent(_ unit: Double) {
        let b = Backoff(baseMs: 1000, maxMs: 3_600_000, jitter: 0.2)
        let d = b.delaySeconds(afterAttempt: 3, unit: unit)
        #expect(d >= 3.2 - 1e-6 && d <= 4.8 + 1e-6)
        #expect(b.delaySeconds(afterAttempt: 30, unit: 0.5) == 3600, "capped at one hour")
    }

    @Test(arguments: TestBackend.enabled)
    func jitterComesFromTheInjectedRandomSource(_ backend: TestBackend) async throws {
        try await withDB(backend, random: SeededRandom(fixedUnit: 0.0)) { db in
            try await db.client.add()
            let after = try await failOnce(db)
            #expect(after.runAt == TestDB.epoch.addingTimeInterval(0.8), "1 s − 20 %")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func policyResolvesJobThenTypeThenDefault(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let types = ["t": JobTypePolicy(jobType: "t", maxAttempts: 2, backoffBaseMs: 10_000)]
            try await db.client.add()
            let first = try await failOnce(db, types: types)
            #expect(first.runAt == TestDB.epoch.addingTimeInterval(10), "type's base backoff")
            db.clock.set(first.runAt)
            #expect(try await failOnce(db, types: types).status == .dlq, "type's max_attempts")

            try await db.client.add(maxAttempts: 3)
            db.clock.advance(100)
            let job = try await failOnce(db, types: types)
            db.clock.set(job.runAt)
            #expect(try await failOnce(db, types: types).status == .queued, "job's max_attempts wins over the type's")

            let resolved = PolicyResolver.resolve(job, type: nil, defaults: PolicyDefaults())
            #expect(resolved.maxAttempts == 3 && resolved.timeoutSeconds == 300 && resolved.backoff.baseMs == 1000)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func nonRetryableFailureIsDeadLetteredAtOnce(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add(maxAttempts: 5)
            let dead = try await failOnce(db, code: "CARD_DECLINED", retryable: false)
            #expect(dead.status == .dlq)
            #expect(dead.dlqReasonCode == Codes.nonRetryable)
            #expect(dead.lastErrorCode == "CARD_DECLINED")
            #expect(dead.attempts == 1)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func badPayloadIsNeverRetried(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let job = try #require(try await db.client.leaseOne())
            #expect(try await db.client.complete([(job, .badPayload(message: "missing field"))], types: [:]) == [.applied])
            let dead = try await db.client.job(job.id)
            #expect(dead.status == .dlq && dead.dlqReasonCode == Codes.badPayload && dead.lastErrorCode == Codes.badPayload)
            #expect(dead.lastErrorMessage == "missing field")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func retryInPlaceKeepsIdAndGivesAFreshBudget(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add(maxAttempts: 2).id
            var j = try await failOnce(db)
            db.clock.set(j.runAt)
            j = try await failOnce(db)
            #expect(j.status == .dlq)
            db.clock.advance(60)
            let retried = try await db.client.retry(id)
            #expect(retried.id == id)
            #expect(retried.status == .queued)
            #expect(retried.runAt == db.clock.localNow)
            #expect(retried.dlqReasonCode == nil)
            #expect(retried.attempts == 2)

            let third = try #require(try await db.client.leaseOne())
            #expect(third.attempts == 3, "attempt numbers continue")
            #expect(try await db.client.fail(third) == .applied)
            let afterThird = try await db.client.job(id)
            #expect(afterThird.status == .queued, "a fresh budget of max_attempts")
            #expect(afterThird.runAt == db.clock.localNow.addingTimeInterval(1), "backoff restarts at 1 s")
            db.clock.set(afterThird.runAt)
            #expect(try await failOnce(db).status == .dlq)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func retryOfALiveJobIsAConflict(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add().id
            let error = await #expect(throws: PortableError.self) { try await db.client.retry(id) }
            #expect(error?.code == .conflict)
            let missing = await #expect(throws: PortableError.self) { try await db.client.retry("0190a0b0-0000-7000-8000-000000000000") }
            #expect(missing?.code == .notFound)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func replayCreatesALinkedJobAndLeavesTheOriginal(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let original = try await db.client.add(payload: #"{"n":1}"#, maxAttempts: 1, key: "k1")
            _ = try await failOnce(db)
            let before = try await db.client.job(original.id)
            db.clock.advance(5)
            let replay = try await db.client.replay(original.id)
            #expect(replay.created)
            #expect(replay.job.id != original.id)
            #expect(replay.job.replayOf == original.id)
            #expect(replay.job.idempotencyKey == nil)
            #expect(replay.job.payload == #"{"n":1}"#)
            #expect(replay.job.status == .queued)
            #expect(replay.job.maxAttempts == 1)
            #expect(try await db.client.job(original.id) == before, "the original's row is not changed")

            let tl = try await db.client.timeline(original.id)
            let replayed = try #require(tl.events.last)
            #expect(replayed.type == "replayed_as")
            #expect(JSON.object(replayed.extra)["job_id"] == .string(replay.job.id))
            let newTl = try await db.client.timeline(replay.job.id)
            #expect(newTl.events.map(\.type) == ["enqueued", "replay_of"])

            let live = await #expect(throws: PortableError.self) { try await db.client.replay(replay.job.id) }
            #expect(live?.code == .conflict, "a queued job cannot be replayed")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func cancelOfARunningJobTakesItsLease(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add()
            let job = try #require(try await db.client.leaseOne(worker: "w9"))
            db.clock.advance(3)
            let cancelled = try await db.client.cancel(job.id)
            #expect(cancelled.status == .cancelled)
            #expect(cancelled.leaseToken == nil)
            #expect(cancelled.finishedAt == db.clock.localNow)
            #expect(try await db.client.heartbeat([LeaseKey(jobId: job.id, token: job.leaseToken!)], leaseSeconds: 30).isEmpty)
            #expect(try await db.client.ack(job) == .leaseLost)
            let attempts = try await db.driver.jobHistory(job.id).attempts
            #expect(attempts.count == 1)
            #expect(attempts[0].outcome == .cancelled && attempts[0].errorCode == Codes.cancelled && attempts[0].workerId == "w9")
            #expect(attempts[0].latencyMs == 3000)
            #expect(try await db.client.job(job.id).status == .cancelled)

            let again = await #expect(throws: PortableError.self) { try await db.client.cancel(job.id) }
            #expect(again?.code == .conflict)

            // A cancelled job can be retried in place.
            let back = try await db.client.retry(job.id)
            #expect(back.status == .queued)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func cancelOfAQueuedJobAndDelete(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let job = try await db.client.add()
            #expect(try await db.client.cancel(job.id).status == .cancelled)
            #expect(try await db.client.leaseOne() == nil)
            try await db.client.delete(job.id)
            let gone = await #expect(throws: PortableError.self) { try await db.client.job(job.id) }
            #expect(gone?.code == .notFound)

            try await db.client.add()
            let running = try #require(try await db.client.leaseOne())
            let refused = await #expect(throws: PortableError.self) { try await db.client.delete(running.id) }
            #expect(refused?.code == .conflict)
        }
    }
}
