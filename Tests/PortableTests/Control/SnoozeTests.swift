import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Snooze (issue 15 §3): run again later without using an attempt, bounded by MAX_SNOOZES.
@Suite struct SnoozeTests {
    @Test(arguments: TestBackend.enabled)
    func aSnoozeMovesRunAtWithoutUsingAnAttempt(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add("t", maxAttempts: 2).id
            let first = try #require(try await db.client.leaseOne(types: ["t"]))
            let acks = try await db.client.complete([(first, .snoozed(seconds: 30))], types: [:])
            #expect(acks == [.applied])
            let j = try await db.client.job(id)
            #expect(j.status == .queued && j.runAt == TestDB.epoch.addingTimeInterval(30), "\(j)")
            #expect(j.attempts == 1 && j.countedAttempts == 0 && j.snoozes == 1 && j.lastErrorCode == nil)
            #expect(j.json["snoozes"] == .int(1))

            let explain = try await db.client.explain(id)
            #expect(explain.reason == .snoozed && explain.message.contains("Snoozed"), "\(explain)")
            let timeline = try await db.client.timeline(id)
            let snoozed = try #require(timeline.events.first { $0.type == "snoozed" })
            #expect(snoozed.attempt == 1 && JSON.object(snoozed.extra)["run_at"] == .string(Time.format(j.runAt)))
            #expect(!timeline.events.contains { $0.type == "retry_scheduled" || $0.type == "failed" })
            #expect(try await db.driver.jobHistory(id).attempts.first?.outcome == .snoozed)

            #expect(try await db.client.leaseOne(types: ["t"]) == nil, "not due yet")
            db.clock.advance(30)
            let second = try #require(try await db.client.leaseOne(types: ["t"]))
            #expect(second.attempts == 2)
            // max_attempts 2: had the snooze counted, this failure would dead-letter the job.
            #expect(try await db.client.fail(second) == .applied)
            let after = try await db.client.job(id)
            #expect(after.status == .queued && after.countedAttempts == 1, "\(after)")
            #expect(try await db.client.explain(id).reason == .retryScheduled, "a retry after a snooze is not SNOOZED")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func pastTheLimitTheJobIsDeadLetteredAndRetryResetsTheCount(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxSnoozes = 2
        try await withDB(backend, config: config) { db in
            let id = try await db.client.add("t").id
            for n in 1...2 {
                let j = try #require(try await db.client.leaseOne(types: ["t"]))
                #expect(try await db.client.complete([(j, .snoozed(seconds: 0))], types: [:]) == [.applied])
                #expect(try await db.client.job(id).snoozes == n)
            }
            let third = try #require(try await db.client.leaseOne(types: ["t"]))
            #expect(try await db.client.complete([(third, .snoozed(seconds: 0))], types: [:]) == [.applied])
            let dead = try await db.client.job(id)
            #expect(dead.status == .dlq && dead.dlqReasonCode == Codes.snoozeLimit && dead.lastErrorCode == Codes.snoozeLimit, "\(dead)")
            #expect(try await db.client.timeline(id).events.contains { $0.type == "dead_lettered" })

            let retried = try await db.client.retry(id)
            #expect(retried.status == .queued && retried.snoozes == 0)
            let again = try #require(try await db.client.leaseOne(types: ["t"]))
            #expect(try await db.client.complete([(again, .snoozed(seconds: 5))], types: [:]) == [.applied])
            #expect(try await db.client.job(id).status == .queued)
        }
    }

    @Test func swiftHandlersThrowASnooze() async throws {
        let job = Job(id: "0190b5b0-0000-7000-8000-000000000001", queue: "q", jobType: "t",
                      payload: "{}", runAt: TestDB.epoch, status: .running, createdAt: TestDB.epoch)
        let ctx = JobContext(job: job, workerId: "w")
        let ok = await HandlerRunner.invoke({ _ in throw JobError.snooze(seconds: 12.5) }, ctx, maxOutput: 1000)
        #expect(ok == .snoozed(seconds: 12.5))
        let bad = await HandlerRunner.invoke({ _ in throw JobError.snooze(seconds: -1) }, ctx, maxOutput: 1000)
        #expect(bad == .failure(code: Codes.badSnooze, message: "snooze seconds must be between 0 and \(Int(Limits.maxDelaySeconds))",
                                retryable: true))
    }
}

/// `--exec` handlers snooze by exiting 99 with the seconds on stdout.
@Suite(.processes) struct ExecSnoozeTests {
    @Test(arguments: TestBackend.enabled)
    func exit99WithSecondsSnoozesAndAnythingElseIsAFailure(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let snoozer = try await db.client.add("snoozer", maxAttempts: 1)
            let junk = try await db.client.add("junk", maxAttempts: 2)
            // Neither job is due again soon (a snooze of an hour; junk backs off), so the worker
            // is stopped once both first attempts are recorded.
            let worker = try CLI.Running(["work", "--database", db.url, "--queues", "default", "--poll-interval-ms", "50",
                                          "--exec", "snoozer=echo 3600; exit 99", "--exec", "junk=echo later; exit 99"])
            let done = try await eventually {
                let s = try await db.client.job(snoozer.id)
                let j = try await db.client.job(junk.id)
                return s.snoozes == 1 && j.lastErrorCode != nil
            }
            worker.signal(SIGTERM)
            let r = try await worker.wait(timeout: 30)
            #expect(done && r.status == 0, "\(r)")
            let s = try await db.client.job(snoozer.id)
            #expect(s.status == .queued && s.snoozes == 1 && s.countedAttempts == 0, "\(s)")
            #expect(s.runAt.timeIntervalSince(s.startedAt ?? s.createdAt) > 3000, "run_at moved about an hour: \(s)")
            #expect(try await db.client.explain(snoozer.id).reason == .snoozed)
            let j = try await db.client.job(junk.id)
            #expect(j.lastErrorCode == "EXEC_EXIT_99" && j.snoozes == 0 && j.countedAttempts >= 1, "\(j)")
        }
    }
}
