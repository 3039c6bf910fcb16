import Foundation
import Testing
@testable import Backends

/// `copy`: SQLite → backend → SQLite keeps jobs, attempts and timelines identical.
@Suite struct CopyTests {
    /// A varied history: succeeded, retried, dead-lettered, replayed, cancelled, archived, keyed,
    /// scheduled, with a policy and a schedule.
    func seed(_ db: TestDB) async throws -> [String] {
        var ids: [String] = []
        let c = db.client
        ids.append(try await c.add("ok", payload: #"{"n":1,"s":"ü \"quoted\""}"#, key: "key-1").id)
        ids.append(try await c.add("flaky", maxAttempts: 3).id)
        ids.append(try await c.add("dead", queue: "other", maxAttempts: 1).id)
        ids.append(try await c.add("later", delay: 3600).id)
        ids.append(try await c.add("gone").id)
        _ = try await c.ack(try #require(try await c.leaseOne(types: ["ok"])), output: #"{"done":true}"#)
        _ = try await c.fail(try #require(try await c.leaseOne(types: ["flaky"])), code: "E1")
        db.clock.advance(2)
        _ = try await c.ack(try #require(try await c.leaseOne(types: ["flaky"])))
        _ = try await c.fail(try #require(try await c.leaseOne(types: ["dead"], queues: ["other"])), code: "NOPE")
        ids.append(try await c.replay(ids[2]).job.id)
        _ = try await c.cancel(ids[4])
        try await c.pause("other")
        try await c.addSchedule(Schedule(name: "nightly", cron: "@daily", jobType: "report"))
        db.clock.advance(8 * 86_400)
        let m = Maintainer(client: c, settings: MaintenanceSettings(), holder: "seed", logger: WorkerRuntimeTests.quiet)
        _ = try await m.pass()  // archives the day-0 successes
        await m.resign()
        #expect(try await c.job(ids[0]).status == .archived)
        return ids
    }

    func snapshot(_ client: PortableClient, _ ids: [String]) async throws -> [JSON] {
        var out: [JSON] = []
        for id in ids { out.append(try await client.timeline(id).json) }
        return out
    }

    @Test(arguments: TestBackend.enabled)
    func aRoundTripKeepsEverything(_ backend: TestBackend) async throws {
        try await withDB(.sqlite) { src in
            let ids = try await seed(src)
            let before = try await snapshot(src.client, ids)
            try await withDB(backend) { mid in
                let r1 = try await Copier.copy(from: src.driver, to: mid.driver, queue: nil, append: false)
                #expect(r1.read[.jobsArchive] == 2 && r1.inserted[.jobs] == r1.read[.jobs])
                try await withDB(.sqlite) { back in
                    _ = try await Copier.copy(from: mid.driver, to: back.driver, queue: nil, append: false)
                    #expect(try await snapshot(mid.client, ids) == before, "identical after the first hop")
                    #expect(try await snapshot(back.client, ids) == before, "identical after the round trip")
                    #expect(try await back.client.queuePolicy("other").paused)
                    #expect(try await back.client.schedules().map(\.name) == ["nightly"])
                    let dup = try await back.client.enqueue(NewJob(jobType: "ok", idempotencyKey: "key-1"))
                    #expect(!dup.created && dup.job.id == ids[0], "keys came along")

                    // A second copy into a non-empty target is refused and writes nothing.
                    let count = try await back.client.jobs().total
                    let e = await #expect(throws: PortableError.self) {
                        try await Copier.copy(from: mid.driver, to: back.driver, queue: nil, append: false)
                    }
                    #expect(e?.code == .conflict)
                    #expect(try await back.client.jobs().total == count)
                    // --append skips what exists.
                    let r3 = try await Copier.copy(from: mid.driver, to: back.driver, queue: nil, append: true)
                    #expect(r3.inserted[.jobs] == 0 && r3.inserted[.attempts] == 0 && r3.read[.jobs] ?? 0 > 0)
                }
            }
            #expect(try await snapshot(src.client, ids) == before, "the source is untouched")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func copyRefusesWhileJobsAreRunningAndCopiesOneQueue(_ backend: TestBackend) async throws {
        try await withDB(backend) { src in
            try await src.client.add("a", queue: "q1")
            try await src.client.add("b", queue: "q2")
            let running = try #require(try await src.client.leaseOne(types: ["a"], queues: ["q1"]))
            try await withDB(.sqlite) { dst in
                let e = await #expect(throws: PortableError.self) {
                    try await Copier.copy(from: src.driver, to: dst.driver, queue: "q1", append: false)
                }
                #expect(e?.code == .conflict && e?.message.contains("running") == true)
                #expect(try await dst.client.jobs().total == 0)
                let r = try await Copier.copy(from: src.driver, to: dst.driver, queue: "q2", append: false)
                #expect(r.read[.jobs] == 1)
                #expect(try await dst.client.jobs().items.map(\.queue) == ["q2"])
                _ = try await src.client.ack(running)
            }
        }
    }

    /// Every job's timeline in a database, by id (archived jobs included).
    func timelines(_ client: PortableClient, _ ids: [String]) async throws -> [String: JSON] {
        var out: [String: JSON] = [:]
        for id in ids { out[id] = try await client.timeline(id).json }
        return out
    }

    /// Copies `from` into `to` twice, the second time with --append: the second copy inserts
    /// nothing, and every timeline in the target stays exactly as the first copy left it.
    func copyTwice(from: TestDB, to: TestDB, ids: [String], between: (TestDB) async throws -> Void = { _ in }) async throws {
        _ = try await Copier.copy(from: from.driver, to: to.driver, queue: nil, append: false)
        try await between(to)
        let before = try await timelines(to.client, ids)
        let again = try await Copier.copy(from: from.driver, to: to.driver, queue: nil, append: true)
        for table in [CopyTable.jobs, .jobsArchive, .attempts, .jobEvents, .jobKeys] {
            #expect(again.inserted[table] ?? 0 == 0, "\(from.backend)→\(to.backend): the second copy inserted \(again.inserted[table] ?? 0) \(table.rawValue) rows")
        }
        let after = try await timelines(to.client, ids)
        for id in ids where after[id] != before[id] {
            Issue.record("\(from.backend)→\(to.backend): the timeline of \(id) changed:\n\(before[id]?.compact ?? "nil")\n\(after[id]?.compact ?? "nil")")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aSecondIdenticalCopyChangesNothing(_ backend: TestBackend) async throws {
        try await withDB(.sqlite) { src in
            var ids = try await seed(src)
            // A retried job (a `retried` event) and a job that succeeds late enough to be archived
            // in the target only, after the first copy.
            _ = try await src.client.retry(ids[2])
            let late = try await src.client.add("late")
            _ = try await src.client.ack(try #require(try await src.client.leaseOne(types: ["late"])))
            ids.append(late.id)
            try await withDB(backend) { mid in
                // SQLite → backend; then the target archives and prunes before the second copy.
                try await copyTwice(from: src, to: mid, ids: ids) { target in
                    target.clock.advance(16 * 86_400)
                    let m = Maintainer(client: target.client, settings: MaintenanceSettings(), holder: "target",
                                       logger: WorkerRuntimeTests.quiet)
                    _ = try await m.pass()
                    await m.resign()
                    #expect(try await target.client.job(late.id).status == .archived)
                }
                // backend → SQLite.
                try await withDB(.sqlite) { back in
                    try await copyTwice(from: mid, to: back, ids: ids)
                }
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func appendSkipsAJobWhoseKeyTheTargetGaveAnotherJob(_ backend: TestBackend) async throws {
        try await withDB(.sqlite) { src in
            let theirs = try await src.client.add("welcome", key: "welcome:42")
            _ = try await src.client.fail(try #require(try await src.client.leaseOne(types: ["welcome"])))
            try await withDB(backend, realClock: true) { dst in  // its own ids
                let ours = try await dst.client.add("welcome", key: "welcome:42")
                try #require(ours.id != theirs.id)
                let r = try await Copier.copy(from: src.driver, to: dst.driver, queue: nil, append: true)
                #expect(r.inserted[.jobs] == 0 && r.inserted[.attempts] == 0 && r.inserted[.jobKeys] == 0, "\(r.json.compact)")
                #expect(try await dst.client.jobs().items.map(\.id) == [ours.id])
                let e = await #expect(throws: PortableError.self) { try await dst.client.job(theirs.id) }
                #expect(e?.code == .notFound)
                let dup = try await dst.client.enqueue(NewJob(jobType: "welcome", idempotencyKey: "welcome:42"))
                #expect(!dup.created && dup.job.id == ours.id)
            }
        }
    }
}
