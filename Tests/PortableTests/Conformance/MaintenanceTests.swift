import Foundation
import Testing
@testable import Backends

/// Invariant 9 and retention: one leader acts; archive, delete, prune and expire move exactly
/// the rows past their age, with the clock set; schedules fire each slot once.
@Suite struct MaintenanceTests {
    static let day = 86_400.0

    func maintainer(_ db: TestDB, _ holder: String, driver: (any StorageDriver)? = nil) -> Maintainer {
        let client = driver.map { PortableClient(driver: $0, clock: db.clock) } ?? db.client
        return Maintainer(client: client, settings: MaintenanceSettings(), holder: holder, logger: WorkerRuntimeTests.quiet)
    }

    @Test(arguments: TestBackend.enabled)
    func theLeaderLeaseHasOneHolder(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let a = try await db.driver.leaderAcquire(name: "m", holder: "a", seconds: 15, now: db.clock.now)
            let b = try await db.driver.leaderAcquire(name: "m", holder: "b", seconds: 15, now: db.clock.now)
            #expect(a.isMine && !b.isMine && b.holder == "a")
            db.clock.advance(10)
            #expect(try await db.driver.leaderAcquire(name: "m", holder: "a", seconds: 15, now: db.clock.now).isMine, "renewed")
            db.clock.advance(14)
            #expect(try await !db.driver.leaderAcquire(name: "m", holder: "b", seconds: 15, now: db.clock.now).isMine)
            db.clock.advance(2)
            let taken = try await db.driver.leaderAcquire(name: "m", holder: "b", seconds: 15, now: db.clock.now)
            #expect(taken.isMine && taken.expiresAt == db.clock.localNow.addingTimeInterval(15), "expired: b takes it")
            try await db.driver.leaderRelease(name: "m", holder: "b")
            #expect(try await db.driver.leaderAcquire(name: "m", holder: "a", seconds: 15, now: db.clock.now).isMine)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func twoMaintainersAtOnceOnlyOneActs(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let other = try db.openAnother()
            let a = maintainer(db, "maint-a"), b = maintainer(db, "maint-b", driver: other)
            async let ra = a.pass()
            async let rb = b.pass()
            let (x, y) = try await (ra, rb)
            #expect((x == nil) != (y == nil), "exactly one acted")
            let runs = try await db.driver.maintenanceList(limit: 100)
            #expect(!runs.isEmpty)
            #expect(Set(runs.map(\.holder)).count == 1, "every recorded run is the leader's")
            #expect(Set(runs.map(\.task)) == ["reap", "schedules", "totals", "archive", "delete_archived", "prune_history", "expire"])
            await other.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func retentionMovesExactlyTheRowsPastTheirAge(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let m = maintainer(db, "m")
            let old = try await db.client.add("t", key: "old-key")
            let old2 = try await db.client.add("t")
            let queued = try await db.client.add("q_only")
            let dead = try await db.client.add("d", maxAttempts: 1)
            for _ in 0..<2 { _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"]))) }
            _ = try await db.client.fail(try #require(try await db.client.leaseOne(types: ["d"])))
            try await db.driver.decisionRecord(.ingest, [DecisionTally(queue: "default", reasonCode: "PAYLOAD_TOO_LARGE", count: 1, message: nil)],
                                               now: db.clock.now)
            db.clock.advance(6 * Self.day)
            let recent = try await db.client.add("t")
            _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"])))

            db.clock.advance(2 * Self.day)  // day 8: archive succeeded before day 1
            let pass1 = try #require(try await m.pass())
            #expect(pass1.first { $0.task == "archive" }?.affected == 2)
            #expect(pass1.first { $0.task == "expire" }?.affected ?? 0 >= 1, "the day-0 decision is past 7 days")
            let a = try await db.client.job(old.id)
            #expect(a.status == .archived && a.archivedAt == db.clock.localNow, "readable by id")
            #expect(try await db.client.job(recent.id).status == .succeeded, "finished on day 6: stays")
            #expect(try await db.client.job(queued.id).status == .queued)
            #expect(try await db.client.job(dead.id).status == .dlq, "only succeeded jobs are archived")
            #expect(try await db.client.timeline(old.id).events.last?.type == "archived")
            #expect(try await db.client.jobs(JobFilter(status: .archived)).total == 2)
            let dup = try await db.client.enqueue(NewJob(jobType: "t", idempotencyKey: "old-key"))
            #expect(!dup.created && dup.job.id == old.id, "an archived job keeps its key")
            #expect(try await db.client.decisions(.ingest).total == 0)

            db.clock.advance(8 * Self.day)  // day 16: prune history of jobs archived before day 9; archive `recent`
            let pass2 = try #require(try await m.pass())
            #expect(pass2.first { $0.task == "prune_history" }?.affected == 2)
            #expect(pass2.first { $0.task == "archive" }?.affected == 1)
            #expect(try await db.driver.jobHistory(old.id).attempts.isEmpty)
            #expect(try await db.driver.jobHistory(recent.id).attempts.count == 1, "archived on day 16: history kept")
            #expect(try await db.client.job(old2.id).status == .archived)

            db.clock.advance(23 * Self.day)  // day 39: delete jobs archived before day 9
            let pass3 = try #require(try await m.pass())
            #expect(pass3.first { $0.task == "delete_archived" }?.affected == 2)
            let gone = await #expect(throws: PortableError.self) { try await db.client.job(old.id) }
            #expect(gone?.code == .notFound)
            #expect(try await db.client.job(recent.id).status == .archived)
            #expect(try await db.client.enqueue(NewJob(jobType: "t", idempotencyKey: "old-key")).created, "the key went with the job")
            let runs = try await db.driver.maintenanceList(limit: 100)
            #expect(runs.count == 7, "the runs of days 8 and 16 expired with the decisions (retention 7 days)")
            #expect(runs.allSatisfy { $0.holder == "m" && $0.finishedAt >= $0.startedAt && $0.startedAt == db.clock.localNow })
        }
    }

    @Test func cronSlots() throws {
        let t = Time.parse("2027-01-15T08:03:00Z")!
        let every5 = try Cron("*/5 * * * *")
        #expect(every5.slots(after: t, upTo: t.addingTimeInterval(900), limit: 10).map(Time.format)
            == ["2027-01-15T08:05:00.000Z", "2027-01-15T08:10:00.000Z", "2027-01-15T08:15:00.000Z"])
        #expect(try Cron("@daily").next(after: t).map(Time.format) == "2027-01-16T00:00:00.000Z")
        #expect(try Cron("30 9 * * mon-fri").next(after: t).map(Time.format) == "2027-01-15T09:30:00.000Z")
        #expect(try Cron("0 0 29 2 *").next(after: t).map(Time.format) == "2028-02-29T00:00:00.000Z")
        #expect(try Cron("0 12 1 * sun").next(after: t).map(Time.format) == "2027-01-17T12:00:00.000Z", "either day field")
        for bad in ["* * * *", "60 * * * *", "*/0 * * * *", "a b c d e", "5-1 * * * *"] {
            #expect(throws: PortableError.self) { try Cron(bad) }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aScheduleFiresEachSlotOnceAcrossALeaderChange(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            // The test clock starts at 2027-01-15T08:00:00Z.
            try await db.client.addSchedule(Schedule(name: "report", cron: "*/5 * * * *", jobType: "report", payload: #"{"k":1}"#))
            let other = try db.openAnother()
            let a = maintainer(db, "a"), b = maintainer(db, "b", driver: other)
            db.clock.advance(11 * 60)
            #expect(try await a.tick()?.first { $0.task == "schedules" }?.affected == 2, "08:05 and 08:10")
            #expect(try await b.tick() == nil, "a leads")
            db.clock.advance(20)  // a's lease (15 s) lapses: a crashed
            #expect(try await b.tick() != nil, "b took over")
            // a enqueued 08:15 just before dying, without recording it.
            db.clock.set(Time.parse("2027-01-15T08:15:00Z")!)
            _ = try await a.client.enqueue(NewJob(jobType: "report", payloadJSON: #"{"k":1}"#,
                                                  idempotencyKey: Schedule.key(name: "report", slot: db.clock.localNow)))
            db.clock.set(Time.parse("2027-01-15T08:26:00Z")!)
            _ = try await b.tick()
            let jobs = try await db.client.jobs(JobFilter(jobType: "report")).items
            let keys = jobs.compactMap(\.idempotencyKey).sorted()
            #expect(keys == ["08:05", "08:10", "08:15", "08:20", "08:25"].map { "cron:report:2027-01-15T\($0):00.000Z" })
            #expect(jobs.allSatisfy { $0.payload == #"{"k":1}"# })
            let s = try await db.client.schedules()
            #expect(s.first?.lastSlotAt == Time.parse("2027-01-15T08:25:00Z"))
            await other.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func runNowEnqueuesOneJobAndLeavesTheSlotsAlone(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.addSchedule(Schedule(name: "report", cron: "*/5 * * * *", queue: "reports", jobType: "report",
                                                     payload: #"{"k":1}"#, priority: 3, maxAttempts: 4))
            let first = try await db.client.runScheduleNow("report")
            let second = try await db.client.runScheduleNow("report")
            #expect(first.created && second.created && first.job.id != second.job.id, "each call is a new job")
            let jobs = try await db.client.jobs(JobFilter(jobType: "report")).items
            #expect(Set(jobs.map(\.id)) == [first.job.id, second.job.id])
            for j in jobs {
                #expect(j.queue == "reports" && j.payload == #"{"k":1}"# && j.priority == 3 && j.maxAttempts == 4 && j.status == .queued)
                #expect(j.idempotencyKey == nil, "not a slot: the 08:05 slot still fires")
            }
            #expect(try await db.client.schedules().first?.lastSlotAt == nil)
            db.clock.advance(6 * 60)
            #expect(try await maintainer(db, "a").tick()?.first { $0.task == "schedules" }?.affected == 1, "08:05 as usual")
            await #expect(throws: PortableError.self) { try await db.client.runScheduleNow("nope") }
            do { _ = try await db.client.runScheduleNow("nope") } catch let e as PortableError { #expect(e.code == .notFound) }
        }
    }
}
