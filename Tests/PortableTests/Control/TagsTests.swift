import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Tags, metadata and progress (issue 15 §4), and finding a job by its idempotency key (§6).
@Suite struct TagsTests {
    @Test(arguments: TestBackend.enabled)
    func tagsAndMetadataAreStoredAndFilterListsCountsAndTheArchive(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            var a = NewJob(jobType: "t", payloadJSON: "{}")
            a.tags = ["tenant:42", "env=prod", "tenant:42"]
            a.metadata = #"{"owner": "billing", "n": 1}"#
            var b = NewJob(jobType: "t", payloadJSON: "{}")
            b.tags = ["tenant:7", "env=prod"]
            let plain = NewJob(jobType: "t", payloadJSON: "{}")
            let made = try await db.client.enqueueMany([a, b, plain])
            let ja = try await db.client.job(made[0].job.id)
            #expect(ja.tags == ["tenant:42", "env=prod"], "repeats dropped, order kept")
            #expect(ja.metadata == #"{"owner":"billing","n":1}"#)
            #expect(made[0].job.tags == ja.tags && made[0].job.metadata == ja.metadata, "enqueue answers what was stored")
            #expect(ja.json["tags"] == .array([.string("tenant:42"), .string("env=prod")]))
            #expect(ja.json["metadata"]?["owner"] == .string("billing") && ja.json["progress"] == .null)
            let jp = try await db.client.job(made[2].job.id)
            #expect(jp.tags.isEmpty && jp.metadata == "{}")

            func ids(_ f: JobFilter) async throws -> Set<String> { Set(try await db.client.jobs(f).items.map(\.id)) }
            var f = JobFilter()
            f.tags = ["env=prod"]
            #expect(try await ids(f) == [made[0].job.id, made[1].job.id])
            #expect(try await db.client.jobs(f).total == 2)
            f.tags = ["env=prod", "tenant:7"]
            #expect(try await ids(f) == [made[1].job.id], "every tag must match")
            f.status = .queued
            #expect(try await ids(f) == [made[1].job.id])
            #expect(try await db.client.jobItems(f).items.map(\.job.id) == [made[1].job.id])
            f.tags = ["nobody"]
            #expect(try await ids(f).isEmpty)

            // The archive keeps tags, and the tag filter reaches it.
            let done = try #require(try await db.client.leaseOne(types: ["t"]))
            #expect(done.id == made[0].job.id && done.tags == ja.tags, "claims carry tags and metadata")
            #expect(try await db.client.ack(done) == .applied)
            db.clock.advance(60)
            let moved = try await db.driver.jobArchiveBefore(db.clock.localNow, idBelow: "ffffffff-ffff-7fff-bfff-ffffffffffff",
                                                             limit: 100, now: db.clock.now)
            #expect(moved == 1)
            let archived = try await db.client.job(done.id)
            #expect(archived.status == .archived && archived.tags == ja.tags && archived.metadata == ja.metadata, "\(archived)")
            var af = JobFilter(status: .archived)
            af.tags = ["tenant:42"]
            #expect(try await ids(af) == [done.id])
            #expect(try await db.client.jobs(af).total == 1)
            // Deleted jobs leave no tag rows behind (SQLite's side table follows its triggers).
            try await db.client.delete(made[1].job.id)
            f = JobFilter()
            f.tags = ["tenant:7"]
            #expect(try await ids(f).isEmpty)
            if let lite = db.driver as? SQLiteDriver {
                let n: Int = try await lite.read { c in try c.scalar("SELECT count(*) FROM job_tags WHERE job_id = ?1", [.text(made[1].job.id)]) }
                #expect(n == 0)
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func badTagsAndMetadataAreRefusedWithClearMessagesAndStoreNothing(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let big = #"{"x":""# + String(repeating: "y", count: JobMetadata.maxBytes) + #""}"#
            let cases: [([String], String?, String)] = [
                ((0..<17).map { "t\($0)" }, nil, "at most 16 tags, got 17"),
                ([String(repeating: "x", count: 65)], nil, "1 to 64 characters"),
                ([""], nil, "1 to 64 characters"),
                (["has space"], nil, "may only hold the characters"),
                (["a,b"], nil, "may only hold the characters"),
                (["ok"], "[1]", "metadata must be a JSON object, not an array"),
                (["ok"], "{", "metadata is not valid JSON"),
                (["ok"], big, "the limit is 65536"),
            ]
            for (tags, metadata, words) in cases {
                let message = try await Self.refusal(db, tags, metadata: metadata)
                #expect(message.contains(words), "\(words): \(message)")
            }
            // A batch is taken or refused whole.
            var good = NewJob(jobType: "bad", payloadJSON: "{}")
            good.tags = ["fine"]
            var bad = good
            bad.tags = ["not fine"]
            await #expect(throws: PortableError.self) { _ = try await db.client.enqueueMany([good, bad]) }
            let stored = try await db.client.jobs(JobFilter(jobType: "bad")).total
            #expect(stored == 0, "nothing stored")
            // Filters are checked the same way.
            var f = JobFilter()
            f.tags = ["no way"]
            await #expect(throws: PortableError.self) { _ = try await db.client.jobs(f) }
        }
    }

    /// The message of an enqueue's refusal (INVALID_ARGUMENT expected).
    static func refusal(_ db: TestDB, _ tags: [String], metadata: String?) async throws -> String {
        var j = NewJob(jobType: "bad", payloadJSON: "{}")
        j.tags = tags
        j.metadata = metadata
        do {
            _ = try await db.client.enqueue(j)
            Issue.record("accepted \(tags) \(metadata ?? "")")
            return ""
        } catch let e as PortableError {
            #expect(e.code == .invalidArgument, "\(e)")
            return e.message
        }
    }

    @Test(arguments: TestBackend.enabled)
    func bulkActionsFilterByTag(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            var jobs: [NewJob] = []
            for i in 0..<6 {
                var j = NewJob(jobType: "t", payloadJSON: "{}")
                j.tags = [i % 2 == 0 ? "batch:even" : "batch:odd"]
                jobs.append(j)
            }
            _ = try await db.client.enqueueMany(jobs)
            var f = JobFilter()
            f.tags = ["batch:even"]
            let dry = try await db.client.bulk(.cancel, filter: f, dryRun: true)
            #expect(dry.matched == 3 && dry.changed == 0)
            let r = try await db.client.bulk(.cancel, filter: f, dryRun: false)
            #expect(r.matched == 3 && r.changed == 3)
            #expect(try await db.client.jobs(JobFilter(status: .cancelled)).total == 3)
            var odd = JobFilter(status: .queued)
            odd.tags = ["batch:odd"]
            #expect(try await db.client.jobs(odd).total == 3, "other tags untouched")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theLeaseHolderRecordsProgressAndAStaleLeaseChangesNothing(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add("t", maxAttempts: 3).id
            let first = try #require(try await db.client.leaseOne(types: ["t"], lease: 10))
            let lease1 = LeaseKey(jobId: id, token: try #require(first.leaseToken))
            try await db.client.recordProgress(lease1, json: #"{"progress": 0.4, "step": "upload"}"#)
            var j = try await db.client.job(id)
            #expect(j.progress == #"{"progress":0.4,"step":"upload"}"# && j.progressAt == TestDB.epoch, "\(j)")
            #expect(j.json["progress"]?["step"] == .string("upload"))
            // Not an object, or too big: refused, the last update stays.
            for bad in ["0.5", "[1]", "nope", #"{"x":""# + String(repeating: "y", count: JobMetadata.maxBytes) + #""}"#] {
                await #expect(throws: PortableError.self) { try await db.client.recordProgress(lease1, json: bad) }
            }
            #expect(try await db.client.job(id).progress == #"{"progress":0.4,"step":"upload"}"#)

            // The lease expires, the reaper takes the job back, another worker claims it.
            db.clock.advance(11)
            #expect(try await db.client.reap() == 1)
            db.clock.advance(60)
            let second = try #require(try await db.client.leaseOne(types: ["t"]))
            #expect(second.leaseToken != first.leaseToken)
            do {
                try await db.client.recordProgress(lease1, json: #"{"progress": 0.9}"#)
                Issue.record("a stale lease wrote progress")
            } catch let e as PortableError {
                #expect(e.code == .leaseLost && e.message.contains("not running under this lease"), "\(e)")
            }
            j = try await db.client.job(id)
            #expect(j.progress == #"{"progress":0.4,"step":"upload"}"#, "the stale write changed nothing: \(j)")
            let lease2 = LeaseKey(jobId: id, token: try #require(second.leaseToken))
            try await db.client.recordProgress(lease2, json: #"{"progress": 0.1}"#)
            #expect(try await db.client.job(id).progress == #"{"progress":0.1}"#)
            // Finished: nobody holds it any more.
            #expect(try await db.client.ack(second) == .applied)
            await #expect(throws: PortableError.self) { try await db.client.recordProgress(lease2, json: "{}") }
            #expect(try await db.client.job(id).progress == #"{"progress":0.1}"#, "the latest update stays on the finished job")
            // No timeline event per update (they would bury the attempts).
            #expect(!(try await db.client.timeline(id).events.contains { $0.type.contains("progress") }))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func swiftHandlersReportProgressThroughTheirContext(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let id = try await db.client.add("steps").id
            var options = WorkerOptions(id: "progress-worker")
            options.untilEmpty = true
            options.pollIntervalSeconds = 0.02
            let worker = Worker(client: db.client, options: options, logger: WorkerRuntimeTests.quiet)
            worker.register("steps") { ctx in
                try await ctx.progress(JSON.object([("progress", .double(0.5)), ("step", .string("upload"))]))
                try await ctx.progress(["progress": 1.0])
                do {
                    try await ctx.progress(json: "[]")
                    return #""array accepted""#
                } catch let e as PortableError where e.code == .invalidArgument {
                    return #""done""#
                }
            }
            try await worker.run()
            let j = try await db.client.job(id)
            #expect(j.status == .succeeded && j.output == #""done""#, "\(j)")
            #expect(j.progress == #"{"progress":1}"# && j.progressAt != nil, "\(j)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aJobIsFoundByItsIdempotencyKey(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let a = try await db.client.enqueue(NewJob(jobType: "t", idempotencyKey: "order-1"))
            let b = try await db.client.enqueue(NewJob(queue: "other", jobType: "t", idempotencyKey: "order-1"))
            _ = try await db.client.enqueue(NewJob(jobType: "t", idempotencyKey: "order-2"))
            var f = JobFilter()
            f.idempotencyKey = "order-1"
            #expect(try await db.client.jobs(f).items.map(\.id) == [a.job.id], "without a queue: the default queue")
            f.queue = "other"
            #expect(try await db.client.jobs(f).items.map(\.id) == [b.job.id])
            #expect(try await db.client.jobs(f).total == 1)
            f.idempotencyKey = "missing"
            #expect(try await db.client.jobs(f).total == 0)
            f.idempotencyKey = ""
            await #expect(throws: PortableError.self) { _ = try await db.client.jobs(f) }
        }
    }

    /// `portableq.enqueue(...)` takes tags and metadata at the end; every older call still works.
    @Test(arguments: TestBackend.enabled)
    func theSQLEnqueueFunctionTakesTagsAndMetadata(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await withDB(backend) { db in
            let pg = try #require(db.driver as? PostgresDriver)
            let fn = "\"\(pg.url.schema)\".enqueue"
            let ids: [String] = try await pg.with { c in
                [
                    try c.query("SELECT \(fn)('q', 'sql', '{}', tags => ARRAY['tenant:9','sql','sql'], metadata => '{\"by\":\"sql\"}')").string(0, 0),
                    // Every parameter by position, as a caller of the old signature wrote it.
                    try c.query("SELECT \(fn)('q', 'sql', '{}'::json, 0, NULL, 3, 'pos-key', 60, 0)").string(0, 0),
                    try c.query("SELECT \(fn)('q', 'sql')").string(0, 0),
                ].compactMap { $0 }
            }
            #expect(ids.count == 3)
            let tagged = try await db.client.job(ids[0])
            #expect(tagged.tags == ["tenant:9", "sql"] && tagged.metadata == #"{"by":"sql"}"#, "\(tagged)")
            let old = try await db.client.job(ids[1])
            #expect(old.maxAttempts == 3 && old.idempotencyKey == "pos-key" && old.timeoutSeconds == 60 && old.tags.isEmpty)
            var f = JobFilter()
            f.tags = ["tenant:9"]
            #expect(try await db.client.jobs(f).items.map(\.id) == [ids[0]])
            for (call, words) in [
                ("tags => ARRAY['a b']", "tag a b must be 1 to 64 characters"),
                ("tags => (SELECT array_agg('t' || i) FROM generate_series(1, 17) i)", "at most 16 tags"),
                ("metadata => '[1]'", "metadata must be a JSON object"),
            ] {
                let e = await #expect(throws: PortableError.self) {
                    try await pg.with { c in _ = try c.query("SELECT \(fn)('q', 'sql', \(call))") }
                }
                #expect(e?.code == .invalidArgument && e?.message.contains(words) == true, "\(call): \(String(describing: e))")
            }
        }
    }
}
