import Foundation
import Testing
@testable import Backends

/// The query-plan guard: the hot and the dashboard queries must stay on the partial indexes
/// whose size is the backlog, never the history, so a plan regression fails CI rather than
/// showing up at a million rows.
///
/// Each query is the exact SQL and parameters the driver sends. On PostgreSQL it is planned as
/// the worst case a long-lived prepared statement can get, the generic plan
/// (`plan_cache_mode = force_generic_plan`), with sequential scans priced out so that only "no
/// index fits" shows a scan of `jobs`. On SQLite, `EXPLAIN QUERY PLAN` must search `jobs` with
/// an index, never scan it.
@Suite struct QueryPlanTests {
    /// What each query may use. Any of the listed indexes is fine; a full scan of `jobs`, or the
    /// primary key (which walks the whole history), is not.
    struct Case {
        let name: String
        let indexes: [String]
        let postgres: (sql: String, params: [String?])
        let sqlite: (sql: String, params: [SQLValue])
    }

    static let claimIndexes = ["jobs_claim_idx", "jobs_queued_idx"]

    static func cases() -> [Case] {
        func lease(_ queues: [String]?, _ types: [String]? = nil) -> LeaseRequest {
            LeaseRequest(queues: queues, jobTypes: types, limit: 100, leaseSeconds: 30, workerId: "w",
                         token: "0190f5d2-0000-7000-8000-000000000001")
        }
        var out: [Case] = []
        for (name, q) in [("claim one queue", lease(["default"])), ("claim two queues", lease(["default", "other"])),
                          ("claim every queue", lease(nil)), ("claim one queue by type", lease(["default"], ["t"]))] {
            let pg = PostgresDriver.leaseStatement(q, now: nil)
            let lite = SQLiteDriver.leaseStatement(q, nowMs: 1_800_000_000_000, queues: q.queues ?? ["default", "other"])
            out.append(Case(name: name, indexes: claimIndexes, postgres: pg, sqlite: lite))
        }
        let listIndexes: [JobStatus: [String]] = [
            .queued: ["jobs_queued_idx", "jobs_claim_idx"], .dlq: ["jobs_dlq_idx"],
            .cancelled: ["jobs_cancelled_idx"], .running: ["jobs_lease_idx"],
        ]
        for (status, indexes) in listIndexes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            for queue in [nil, "default"] as [String?] {
                let f = JobFilter(queue: queue, status: status)
                let (_, pw, pp) = PostgresDriver.filterSQL(f)
                let (_, lw, lp, _) = SQLiteDriver.filterSQL(f)
                let label = "\(status.rawValue)\(queue.map { " in " + $0 } ?? "")"
                out.append(Case(name: "list \(label)", indexes: indexes,
                                postgres: (PostgresSQL.jobList(archive: false, where: pw, limit: pp.count + 1, offset: pp.count + 2),
                                           pp + ["50", "0"]),
                                sqlite: (SQLiteSQL.jobList(archive: false, where: lw), lp + [.int(50), .int(0)])))
                out.append(Case(name: "list with previews \(label)", indexes: indexes,
                                postgres: (PostgresSQL.jobListPreview(archive: false, where: pw, limit: pp.count + 1, offset: pp.count + 2),
                                           pp + ["50", "0"]),
                                sqlite: (SQLiteSQL.jobListPreview(archive: false, where: lw), lp + [.int(50), .int(0)])))
                out.append(Case(name: "count \(label)", indexes: indexes,
                                postgres: (PostgresSQL.jobCount(archive: false, where: pw, limit: pp.count + 1), pp + ["10000"]),
                                sqlite: (SQLiteSQL.jobCount(archive: false, where: lw), lp + [.int(10_000)])))
            }
        }
        out.append(Case(name: "expired leases", indexes: ["jobs_lease_idx"],
                        postgres: (PostgresSQL.jobLeaseExpiredList, [nil, "100"]),
                        sqlite: (SQLiteSQL.jobLeaseExpiredList, [.int(1_800_000_000_000), .int(100)])))
        out.append(Case(name: "queues with queued jobs", indexes: claimIndexes,
                        postgres: (PostgresSQL.queuesWithQueued, []), sqlite: (SQLiteSQL.queuesWithQueued, [])))
        out.append(Case(name: "queue counts, queued", indexes: claimIndexes,
                        postgres: (PostgresSQL.queueCountsQueued, [nil, "default", "10000"]),
                        sqlite: (SQLiteSQL.queueCountsQueued, [.int(1_800_000_000_000), .text("default"), .int(10_000)])))
        out.append(Case(name: "queue counts, running", indexes: ["jobs_lease_idx"],
                        postgres: (PostgresSQL.queueCountsRunning, ["10000"]), sqlite: (SQLiteSQL.queueCountsRunning, [.int(10_000)])))
        // Unique jobs (issue 15 §1): finding a key's live holder stays on the partial unique index.
        out.append(Case(name: "unique key holders", indexes: ["jobs_unique_idx"],
                        postgres: (PostgresSQL.uniqueOwners, ["{u1:a,u1:b}"]),
                        sqlite: (SQLiteSQL.uniqueOwners, [.text(#"["u1:a","u1:b"]"#)])))
        out.append(Case(name: "unique key holder", indexes: ["jobs_unique_idx"],
                        postgres: (PostgresSQL.uniqueOwners, ["{u1:a}"]), sqlite: (SQLiteSQL.uniqueOwner, [.text("u1:a")])))
        // Per-key limits (issue 15 §2): the keyed claim reads the key indexes (and the claim
        // index's head for jobs without a key), never a key's backlog.
        let keyIndexes = ["jobs_key_claim_idx", "jobs_key_running_idx", "jobs_claim_idx"]
        out.append(Case(name: "keyed claim candidates", indexes: keyIndexes,
                        postgres: (PostgresSQL.keyCandidates(byType: false), [nil, "default", "50", "1"]),
                        sqlite: (SQLiteSQL.keysQueued, [.text("default")])))
        out.append(Case(name: "keyed claim candidates by type", indexes: keyIndexes,
                        postgres: (PostgresSQL.keyCandidates(byType: true), [nil, "default", "50", "1", "{t}"]),
                        sqlite: (SQLiteSQL.keyJobs(byType: true), [.text("default"), .text("A"), .int(1_800_000_000_000), .int(50), .text(#"["t"]"#)])))
        out.append(Case(name: "keyed claim, jobs without a key", indexes: keyIndexes,
                        postgres: (PostgresSQL.keyList, ["default", "{A,B}"]),
                        sqlite: (SQLiteSQL.headWithoutKey(byType: false), [.text("default"), .null, .int(1_800_000_000_000), .int(50), .null])))
        // Tags (issue 15 §4): a tag filter walks the tag index (GIN on Postgres, job_tags' key on
        // SQLite), whatever else the filter says, and fetches the few jobs it finds by id.
        for (label, status) in [("any status", nil), ("queued", JobStatus.queued), ("archived", .archived)] as [(String, JobStatus?)] {
            var f = JobFilter(status: status)
            f.tags = ["tenant:1"]
            let (archive, pw, pp) = PostgresDriver.filterSQL(f)
            let (_, lw, lp, lx) = SQLiteDriver.filterSQL(f)
            let index = archive ? "jobs_archive_tags_idx" : "jobs_tags_idx"
            out.append(Case(name: "list by tag, \(label)", indexes: [index, "job_tags_pkey"],
                            postgres: (PostgresSQL.jobList(archive: archive, where: pw, limit: pp.count + 1, offset: pp.count + 2),
                                       pp + ["50", "0"]),
                            sqlite: (SQLiteSQL.jobList(archive: archive, where: lw), lp + [.int(50), .int(0)] + lx)))
            out.append(Case(name: "count by tag, \(label)", indexes: [index, "job_tags_pkey"],
                            postgres: (PostgresSQL.jobCount(archive: archive, where: pw, limit: pp.count + 1), pp + ["10000"]),
                            sqlite: (SQLiteSQL.jobCount(archive: archive, where: lw), lp + [.int(10_000), .null] + lx)))
        }
        // Finding a job by its idempotency key (§6) goes through job_keys' primary key.
        var byKey = JobFilter(queue: "default")
        byKey.idempotencyKey = "k"
        let (_, kw, kp) = PostgresDriver.filterSQL(byKey)
        let (_, klw, klp, klx) = SQLiteDriver.filterSQL(byKey)
        out.append(Case(name: "list by idempotency key", indexes: ["job_keys_pkey", "sqlite_autoindex_job_keys_1"],
                        postgres: (PostgresSQL.jobList(archive: false, where: kw, limit: kp.count + 1, offset: kp.count + 2), kp + ["50", "0"]),
                        sqlite: (SQLiteSQL.jobList(archive: false, where: klw), klp + [.int(50), .int(0)] + klx)))
        out.append(Case(name: "queue counts, dlq", indexes: ["jobs_dlq_idx"],
                        postgres: (PostgresSQL.queueCountsDLQ, ["10000"]), sqlite: (SQLiteSQL.queueCountsDLQ, [.int(10_000)])))
        return out
    }

    @Test(arguments: TestBackend.enabled)
    func hotAndDashboardQueriesUsePartialIndexes(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            // A small table shaped like a real one: a long succeeded history, a backlog in two
            // queues, a few dead and cancelled jobs. The planner sees its statistics.
            let jobs = (0..<3000).map { i in NewJob(queue: i % 2 == 0 ? "default" : "other", jobType: "t", payloadJSON: "{}") }
            for chunk in stride(from: 0, to: jobs.count, by: 500) {
                _ = try await db.client.enqueueMany(Array(jobs[chunk..<min(chunk + 500, jobs.count)]))
            }
            let cases = Self.cases()
            #expect(cases.count >= 20)
            if let pg = db.driver as? PostgresDriver {
                let plans = try await pg.with { c in
                    try c.exec("""
                        UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id IN (SELECT id FROM jobs ORDER BY id LIMIT 2800);
                        UPDATE jobs SET status = 'dlq', finished_at = now() WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 10);
                        ANALYZE jobs
                        """)
                    return try c.transaction {
                        try c.exec("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off")
                        return try cases.enumerated().map { i, k in
                            // A named prepared statement, explained with its parameters: the
                            // plan every later execution of that statement would use.
                            try c.exec("PREPARE plan_guard_\(i) AS \(k.postgres.sql)")
                            // EXPLAIN EXECUTE takes no bind parameters: the values go in as literals.
                            let args = k.postgres.params.map { v in
                                v.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL"
                            }.joined(separator: ", ")
                            let r = try c.query("EXPLAIN EXECUTE plan_guard_\(i)\(args.isEmpty ? "" : "(\(args))")")
                            try c.exec("DEALLOCATE plan_guard_\(i)")
                            return (0..<r.rows).compactMap { r.string($0, 0) }.joined(separator: "\n")
                        }
                    }
                }
                for (k, plan) in zip(cases, plans) {
                    #expect(!plan.contains("Seq Scan on jobs"), "\(k.name) scans jobs:\n\(plan)")
                    // The primary key may fetch the rows picked (Index Cond: id = ...), never be walked.
                    let lines = plan.split(separator: "\n").map(String.init)
                    let walks = lines.indices.filter { i in
                        lines[i].contains("using jobs_pkey") && !(i + 1 < lines.count && lines[i + 1].contains("Index Cond: (id ="))
                    }
                    #expect(walks.isEmpty, "\(k.name) walks the primary key (the whole history):\n\(plan)")
                    #expect(k.indexes.contains { plan.contains($0) }, "\(k.name) uses none of \(k.indexes):\n\(plan)")
                }
            } else if let lite = db.driver as? SQLiteDriver {
                let plans = try await lite.read { c in
                    try cases.map { k in
                        try c.query("EXPLAIN QUERY PLAN " + k.sqlite.sql, k.sqlite.params) { $0.text(3) ?? "" }
                    }
                }
                for (k, lines) in zip(cases, plans) {
                    // Lookups of single rows by primary key (the claim's UPDATE ... WHERE id IN)
                    // are fine; every other read of jobs must go through a partial index.
                    let onJobs = lines.filter { l in
                        ["SCAN jobs", "SEARCH jobs", "SCAN j ", "SEARCH j "].contains { l.hasPrefix($0) } && !l.hasSuffix("(id=?)")
                    }
                    let plan = lines.joined(separator: "\n")
                    if k.indexes.contains(where: { $0.hasPrefix("job_tags") || $0.hasPrefix("job_keys") }) {
                        // A side table's key drives the read; jobs are only fetched by id.
                        #expect(lines.contains { $0.hasPrefix("SEARCH job_tags") || $0.hasPrefix("SEARCH job_keys") },
                                "\(k.name) does not walk the side table's key:\n\(plan)")
                        #expect(onJobs.isEmpty, "\(k.name) reads jobs other than by id:\n\(plan)")
                        continue
                    }
                    #expect(!onJobs.isEmpty, "\(k.name): no step reads jobs?\n\(plan)")
                    #expect(onJobs.allSatisfy { l in k.indexes.contains { l.contains("INDEX \($0)") } },
                            "\(k.name) reads jobs without any of \(k.indexes):\n\(plan)")
                }
            } else {
                Issue.record("unknown driver \(type(of: db.driver))")
            }
        }
    }
}

/// A claim's work must not grow with the backlog. On Postgres: rows the claim read from `jobs`
/// (EXPLAIN ANALYZE of the generic plan, with fresh statistics and nothing priced out) at 2,000
/// and at 12,000 queued jobs, most in one queue as a real backlog often is. On SQLite: no
/// select of the claim both walks the claim index and sorts. Either way, a claim that sorts the
/// backlog or hashes the table fails here.
@Suite struct ClaimWorkTests {
    static let claims: [(name: String, queues: [String]?, types: [String]?)] = [
        ("one queue", ["default"], nil), ("two queues", ["default", "other"], nil),
        ("every queue", nil, nil), ("one queue by type", ["default"], ["t"]),
    ]

    @Sendable static func request(_ k: (name: String, queues: [String]?, types: [String]?)) -> LeaseRequest {
        LeaseRequest(queues: k.queues, jobTypes: k.types, limit: 50, leaseSeconds: 30, workerId: "w",
                     token: UUIDv7.randomToken(SystemRandom()))
    }

    @Test(arguments: TestBackend.enabled)
    func claimWorkDoesNotGrowWithTheBacklog(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            func seed(_ n: Int) async throws {
                let jobs = (0..<n).map { i in NewJob(queue: i % 10 == 0 ? "other" : "default", jobType: "t", payloadJSON: "{}") }
                for chunk in stride(from: 0, to: n, by: 1000) {
                    _ = try await db.client.enqueueMany(Array(jobs[chunk..<min(chunk + 1000, n)]))
                }
            }
            let now = db.clock.now ?? Date()
            func work() async throws -> [Int] {
                if let pg = db.driver as? PostgresDriver {
                    return try await pg.with { c in
                        try c.exec("ANALYZE jobs")
                        return try Self.claims.enumerated().map { i, k in
                            let (sql, params) = PostgresDriver.leaseStatement(Self.request(k), now: now)
                            return try c.transaction {
                                try c.exec("SET LOCAL plan_cache_mode = force_generic_plan")
                                try c.exec("PREPARE claim_work_\(i) AS \(sql)")
                                let args = params.map { v in v.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL" }
                                let r = try c.query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE claim_work_\(i)(\(args.joined(separator: ", ")))")
                                try c.exec("DEALLOCATE claim_work_\(i)")
                                let plan = (0..<r.rows).compactMap { r.string($0, 0) }
                                if ProcessInfo.processInfo.environment["PORTABLEQ_SHOW_PLANS"] != nil { print(plan.joined(separator: "\n")) }
                                // Rows read from jobs: rows × loops of every node on it.
                                return plan.filter { $0.contains(" on jobs") }.reduce(0) { sum, line in
                                    guard let m = line.firstMatch(of: /rows=(\d+) loops=(\d+)/) else { return sum }
                                    return sum + Int(m.1)! * Int(m.2)!
                                }
                            }
                        }
                    }
                } else if let lite = db.driver as? SQLiteDriver {
                    // SQLite does not count rows read; its plan says where it sorts. No select
                    // that walks the claim index may also sort: that sorts the backlog. (The
                    // merge of several queues' walks sorts, one level up, their few rows.)
                    let plans = try await lite.read { c in
                        try Self.claims.map { k in
                            let req = Self.request(k)
                            let queues = try req.queues ?? c.query(SQLiteSQL.queuesWithQueued, []) { $0.text(0) ?? "" }
                            let (sql, params) = SQLiteDriver.leaseStatement(req, nowMs: Time.millis(now), queues: queues)
                            return try c.query("EXPLAIN QUERY PLAN " + sql, params) { (try $0.int(1) ?? 0, $0.text(3) ?? "") }
                        }
                    }
                    for (k, plan) in zip(Self.claims, plans) {
                        let sorted = Dictionary(grouping: plan, by: \.0).values.filter { select in
                            select.contains { $0.1.contains("jobs_claim_idx") } && select.contains { $0.1.contains("TEMP B-TREE") }
                        }
                        #expect(sorted.isEmpty, "\(k.name) sorts what it reads from the claim index:\n\(plan.map(\.1).joined(separator: "\n"))")
                    }
                    return Self.claims.map { _ in 1 }
                }
                Issue.record("unknown driver \(type(of: db.driver))")
                return []
            }
            try await seed(2000)
            let small = try await work()
            try await seed(10_000)
            let large = try await work()
            if ProcessInfo.processInfo.environment["PORTABLEQ_SHOW_PLANS"] != nil { print("CLAIM WORK \(backend): \(small) → \(large)") }
            #expect(small.count == Self.claims.count && large.count == Self.claims.count)
            for (i, k) in Self.claims.enumerated() where i < min(small.count, large.count) {
                #expect(small[i] > 0 && large[i] <= small[i] * 3 / 2, "\(k.name): \(small[i]) at 2,000 queued, \(large[i]) at 12,000")
            }
        }
    }
}

/// Queue counts are bounded: a queue past `QueueCount.cap` queued jobs reports the cap as a
/// lower bound (`counts_capped`), and other queues stay exact.
@Suite struct QueueCountTests {
    @Test(arguments: TestBackend.enabled)
    func countsStopAtTheCapAndSaySo(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let big = QueueCount.cap + 25
            for start in stride(from: 0, to: big, by: 1000) {
                _ = try await db.client.enqueueMany((start..<min(start + 1000, big)).map { _ in NewJob(queue: "big", jobType: "t") })
            }
            _ = try await db.client.enqueueMany([NewJob(queue: "small", jobType: "t"), NewJob(queue: "small", jobType: "t"),
                                                NewJob(queue: "small", jobType: "t", delaySeconds: 60)])
            let queues = try await db.client.queues()
            let b = try #require(queues.first { $0.queue == "big" })
            let s = try #require(queues.first { $0.queue == "small" })
            #expect(b.countsCapped && b.runnable == QueueCount.cap, "stopped at the cap: \(b)")
            #expect(!s.countsCapped && s.runnable == 2 && s.scheduled == 1, "a small queue stays exact: \(s)")
            #expect(b.oldestRunnableAt != nil)
            guard case .object(let fields) = b.json(now: TestDB.epoch) else { Issue.record("queue JSON is not an object"); return }
            #expect(fields.contains { $0.0 == "counts_capped" && $0.1 == .bool(true) })
        }
    }
}
