import Foundation
import Testing
@testable import Backends

/// Timelines are derived from job and attempt rows; explain gives one reason code.
@Suite struct TimelineAndExplainTests {
    @Test(arguments: TestBackend.enabled)
    func timelineTellsTheWholeStory(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add(maxAttempts: 2).id
            let t0 = TestDB.epoch
            db.clock.advance(1)
            let a1 = try #require(try await db.client.leaseOne(worker: "w1"))
            db.clock.advance(2)
            _ = try await db.client.fail(a1, code: "E1")
            db.clock.advance(1)  // retry due at t0+4
            let a2 = try #require(try await db.client.leaseOne(lease: 5, worker: "w2"))
            db.clock.advance(6)
            try await db.client.reap()  // lease expired at t0+9, counted 2 of 2: dead-lettered
            db.clock.advance(10)
            _ = try await db.client.retry(id)
            let a3 = try #require(try await db.client.leaseOne(worker: "w3"))
            db.clock.advance(1)
            _ = try await db.client.ack(a3, output: #"{"done":1}"#)
            _ = a2

            let tl = try await db.client.timeline(id)
            let summary = tl.events.map { e in "\(e.type)\(e.attempt.map { "#\($0)" } ?? "")" }
            #expect(summary == [
                "enqueued",
                "leased#1", "failed#1", "retry_scheduled#1",
                "leased#2", "lease_expired#2", "dead_lettered#2",
                "retried",
                "leased#3", "succeeded#3",
            ])
            let at = tl.events.map { $0.at.timeIntervalSince(t0) }
            #expect(at == [0, 1, 3, 3, 4, 10, 10, 20, 20, 21])
            #expect(tl.events[1].workerId == "w1")
            #expect(tl.events[2].errorCode == "E1")
            #expect(JSON.object(tl.events[3].extra)["run_at"] == .string(Time.format(t0.addingTimeInterval(4))))
            #expect(tl.events[5].errorCode == Codes.leaseExpired)
            #expect(JSON.object(tl.events[6].extra)["reason_code"] == .string(Codes.maxAttemptsExceeded))
            #expect(tl.json["job"]?["status"] == .string("succeeded"))
            #expect(tl.json["job"]?["output"] == .raw(#"{"done":1}"#))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func timelineShowsTheCurrentLeaseAndCancels(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let queuedThenCancelled = try await db.client.add()
            _ = try await db.client.cancel(queuedThenCancelled.id)
            #expect(try await db.client.timeline(queuedThenCancelled.id).events.map(\.type) == ["enqueued", "cancelled"])

            let running = try await db.client.add()
            let job = try #require(try await db.client.leaseOne(worker: "busy"))
            #expect(job.id == running.id)
            let tl = try await db.client.timeline(job.id)
            #expect(tl.events.map(\.type) == ["enqueued", "leased"])
            #expect(tl.events[1].workerId == "busy" && tl.events[1].attempt == 1)
            _ = try await db.client.cancel(job.id)
            #expect(try await db.client.timeline(job.id).events.map(\.type) == ["enqueued", "leased", "cancelled"])
        }
    }

    @Test(arguments: TestBackend.enabled)
    func explainGivesTheReason(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            func reason(_ id: String) async throws -> Explanation.Reason { try await db.client.explain(id).reason }

            let scheduled = try await db.client.add(delay: 30)
            #expect(try await reason(scheduled.id) == .scheduled)

            let due = try await db.client.add("resize")
            #expect(try await reason(due.id) == .noWorkerForType)
            let explanation = try await db.client.explain(due.id)
            #expect(explanation.message.contains("resize"))

            let worker = WorkerInfo(id: "w1", host: "h", pid: 1, queues: ["default"], jobTypes: ["resize"], concurrency: 1,
                                    leaseSeconds: 30, startedAt: TestDB.epoch, lastHeartbeatAt: TestDB.epoch)
            try await db.driver.workerUpsert(worker, now: db.clock.now)
            #expect(try await reason(due.id) == .runnable)
            #expect(try await reason(scheduled.id) == .scheduled)

            let leased = try #require(try await db.client.leaseOne(types: ["resize"]))
            #expect(try await reason(leased.id) == .leased)
            _ = try await db.client.fail(leased)
            #expect(try await reason(leased.id) == .retryScheduled)

            db.clock.advance(91)  // three leases without a heartbeat: the worker counts as gone
            #expect(try await reason(leased.id) == .noWorkerForType)

            let ok = try #require(try await db.client.leaseOne(types: ["t"]))
            _ = try await db.client.ack(ok)
            #expect(try await reason(ok.id) == .succeeded)

            let dead = try await db.client.add("x", maxAttempts: 1)
            let d = try #require(try await db.client.leaseOne(types: ["x"]))
            _ = try await db.client.fail(d, code: "NOPE")
            let e = try await db.client.explain(dead.id)
            #expect(e.reason == .inDLQ)
            #expect(e.message.contains("MAX_ATTEMPTS_EXCEEDED") && e.message.contains("NOPE"))

            let c = try await db.client.add("y")
            _ = try await db.client.cancel(c.id)
            #expect(try await reason(c.id) == .cancelled)
            #expect(e.json["reason_code"] == .string("IN_DLQ"))
        }
    }
}
