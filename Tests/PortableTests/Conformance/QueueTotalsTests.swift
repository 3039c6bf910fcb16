import Foundation
import Testing
@testable import Backends

/// Totals per queue and day (issue 17): rolled up by the maintenance pass from attempts, counted
/// once however often the pass runs, and kept after the jobs they count are archived and deleted.
@Suite struct QueueTotalsTests {
    static let day = 86_400.0

    func maintainer(_ db: TestDB, settle: Double = 60, batch: Int = 10_000) -> Maintainer {
        var settings = MaintenanceSettings()
        settings.totalsSettleSeconds = settle
        settings.totalsBatchAttempts = batch
        return Maintainer(client: db.client, settings: settings, holder: "m", logger: WorkerRuntimeTests.quiet)
    }

    struct Day: Equatable, CustomStringConvertible {
        var day: String, queue: String, succeeded: Int, failed: Int, retried: Int
        init(_ day: String, _ queue: String, _ succeeded: Int, _ failed: Int, _ retried: Int) {
            self.day = day; self.queue = queue; self.succeeded = succeeded; self.failed = failed; self.retried = retried
        }
        init(_ r: QueueTotalsRow) {
            self.init(String(Time.format(r.hour).prefix(10)), r.queue, r.succeeded, r.failed, r.retried)
        }
        var description: String { "\(day) \(queue) \(succeeded)/\(failed)/\(retried)" }
    }

    @Test(arguments: TestBackend.enabled)
    func jobsOfTwoDaysAreCountedOnceAndOutliveTheirRetention(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let m = maintainer(db)
            // Day 1, 2027-01-15 08:00Z: two successes, a job retried once then dead-lettered, one
            // dead-lettered at once in another queue.
            let a = try await db.client.add("t"), b = try await db.client.add("t")
            for _ in 0..<2 { _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"]))) }
            try await db.client.add("d", maxAttempts: 2)
            _ = try await db.client.fail(try #require(try await db.client.leaseOne(types: ["d"])))
            db.clock.advance(3600)
            _ = try await db.client.fail(try #require(try await db.client.leaseOne(types: ["d"])))
            try await db.client.add("t", queue: "other")
            _ = try await db.client.fail(try #require(try await db.client.leaseOne(queues: ["other"])), retryable: false)
            // Day 2.
            db.clock.advance(Self.day)
            let c = try await db.client.add("t")
            _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"])))
            try await db.client.add("t", queue: "other")
            _ = try await db.client.ack(try #require(try await db.client.leaseOne(queues: ["other"])))

            let before = try await db.client.totals(days: 3)
            #expect(before.daily.isEmpty && before.through == nil, "nothing is counted before a pass")
            db.clock.advance(120)
            let pass1 = try #require(try await m.pass())
            #expect(pass1.first { $0.task == "totals" }?.affected == 7, "seven attempts ended")
            let expected = [Day("2027-01-15", "default", 2, 1, 1), Day("2027-01-15", "other", 0, 1, 0),
                            Day("2027-01-16", "default", 1, 0, 0), Day("2027-01-16", "other", 1, 0, 0)]
            let first = try await db.client.totals(days: 3)
            #expect(first.daily.map(Day.init) == expected)
            #expect(first.through == db.clock.localNow.addingTimeInterval(-60), "counted up to the settle time")
            #expect(first.hourly.filter { $0.queue == "default" }.map(\.succeeded).reduce(0, +) == 3, "the last 48 hours, per hour")
            #expect(try await db.client.totals(queue: "other", days: 3).daily.map(Day.init) == expected.filter { $0.queue == "other" })

            // Again, and again after more time: nothing is counted twice.
            let pass2 = try #require(try await m.pass())
            #expect(pass2.first { $0.task == "totals" }?.affected == 0)
            db.clock.advance(3600)
            _ = try await m.pass()
            #expect(try await db.client.totals(days: 3).daily.map(Day.init) == expected)

            // Archive (day 10), prune their history (day 18), delete them (day 41): the counts stay.
            db.clock.advance(8 * Self.day)
            #expect(try #require(try await m.pass()).first { $0.task == "archive" }?.affected == 4)
            db.clock.advance(8 * Self.day)
            #expect(try #require(try await m.pass()).first { $0.task == "prune_history" }?.affected == 4)
            #expect(try await db.driver.jobHistory(a.id).attempts.isEmpty, "the attempts themselves are gone")
            db.clock.advance(23 * Self.day)
            #expect(try #require(try await m.pass()).first { $0.task == "delete_archived" }?.affected == 4)
            for id in [a.id, b.id, c.id] {
                let gone = await #expect(throws: PortableError.self) { try await db.client.job(id) }
                #expect(gone?.code == .notFound)
            }
            let after = try await db.client.totals(days: 60)
            #expect(after.daily.map(Day.init) == expected, "the totals outlive the jobs")

            // Later work adds to its own day.
            try await db.client.add("t")
            _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"])))
            db.clock.advance(120)
            _ = try await m.pass()
            let today = String(Time.format(db.clock.localNow).prefix(10))
            #expect(try await db.client.totals(days: 60).daily.map(Day.init) == expected + [Day(today, "default", 1, 0, 0)])
        }
    }

    /// Retention never deletes an attempt the rollup has not counted: with the rollup held back
    /// (a 30-day settle time), pruning waits for the watermark.
    @Test(arguments: TestBackend.enabled)
    func retentionWaitsForTheRollupWatermark(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let m = maintainer(db, settle: 30 * Self.day)
            let a = try await db.client.add("t")
            _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"])))
            db.clock.advance(8 * Self.day)
            #expect(try #require(try await m.pass()).first { $0.task == "archive" }?.affected == 1)
            db.clock.advance(8 * Self.day)  // day 16: prune would take jobs archived before day 9
            let held = try #require(try await m.pass())
            #expect(held.first { $0.task == "prune_history" }?.affected == 0, "the watermark (day -14) holds it back")
            #expect(try await db.driver.jobHistory(a.id).attempts.count == 1)
            db.clock.advance(23 * Self.day)  // day 39: the watermark reaches day 9
            let done = try #require(try await m.pass())
            #expect(done.first { $0.task == "totals" }?.affected == 1)
            #expect(done.first { $0.task == "delete_archived" }?.affected == 1, "counted, then deleted")
            #expect(try await db.client.totals(days: 45).daily.map(Day.init) == [Day("2027-01-15", "default", 1, 0, 0)])
        }
    }

    @Test func theWindowStartsAtTheWatermarkOrTheEarliestAttemptAndHoldsAtMostABatch() {
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let plan = TotalsRollupPlan(upTo: t, maxAttempts: 100, keepAfter: .distantPast)
        #expect(plan.start(watermark: nil, earliest: nil) == t, "no attempts: only the watermark is set")
        #expect(plan.end(from: t, nth: nil, first: true) == t)
        #expect(plan.start(watermark: nil, earliest: t.addingTimeInterval(-100)) == t.addingTimeInterval(-100))
        #expect(plan.start(watermark: t.addingTimeInterval(-50), earliest: t.addingTimeInterval(-100)) == t.addingTimeInterval(-50))
        let from = t.addingTimeInterval(-3600)
        #expect(plan.end(from: from, nth: nil, first: false) == t, "fewer than a batch: up to the settle time")
        #expect(plan.end(from: from, nth: t.addingTimeInterval(-1800), first: false) == t.addingTimeInterval(-1800), "a batch ends at its last attempt")
        #expect(plan.end(from: from, nth: from, first: false) == from.addingTimeInterval(0.001), "a batch of equal times still moves on")
        #expect(plan.end(from: t, nth: nil, first: false) == nil, "caught up")
        #expect(plan.end(from: t.addingTimeInterval(10), nth: nil, first: false) == nil, "a clock that went back counts nothing again")
    }

    /// A rollup far behind catches up in batches: each statement adds at most `maxAttempts`.
    @Test(arguments: TestBackend.enabled)
    func aRollupFarBehindCatchesUpInBoundedBatches(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            for i in 0..<5 {
                try await db.client.add("t")
                _ = try await db.client.ack(try #require(try await db.client.leaseOne(types: ["t"])))
                db.clock.advance(Double(i + 1) * 600)
            }
            db.clock.advance(120)
            let plan = TotalsRollupPlan(upTo: db.clock.localNow.addingTimeInterval(-60), maxAttempts: 2, keepAfter: db.clock.localNow.addingTimeInterval(-100 * Self.day))
            var steps: [Int] = []
            while true {
                let step = try await db.driver.totalsRollup(plan)
                if step.caughtUp { break }
                steps.append(step.attempts)
                #expect(steps.count < 10)
                if steps.count >= 10 { break }
            }
            #expect(steps == [2, 2, 1], "\(steps)")
            #expect(try await db.client.totals(days: 1).daily.map(Day.init) == [Day("2027-01-15", "default", 5, 0, 0)])
        }
    }
}
