import Foundation
import Testing
@testable import Backends

/// The admin API over a real socket, on both backends: every endpoint, status and error code.
@Suite(.processes) struct AdminAPITests {
    func withServer(_ backend: TestBackend, env: [String: String] = [:], token: String? = nil,
                    _ body: (TestDB, AdminServerProcess) async throws -> Void) async throws {
        try await withAdminServer(backend, env: env, token: token, body)
    }

    static func job(_ type: String = "echo", queue: String = "default", payload: JSON = .object([("n", .int(1))]),
                    extra: [(String, JSON)] = []) -> JSON {
        .object([("queue", .string(queue)), ("job_type", .string(type)), ("payload_json", payload)] + extra)
    }

    @Test(arguments: TestBackend.enabled)
    func enqueueIsIdempotentByBodyOrHeader(_ backend: TestBackend) async throws {
        try await withServer(backend) { _, s in
            let first = try await s.post("/jobs", Self.job(extra: [("idempotency_key", .string("k1"))]))
            #expect(first.status == 201, "\(first)")
            #expect(first.json["created"] == .bool(true))
            let id = try #require(first.json["job_id"]?.stringValue)
            #expect(first.json["job"]?["payload"] == .object([("n", .number("1"))]))
            let again = try await s.post("/jobs", Self.job(payload: .string("other")), headers: ["Idempotency-Key": "k1"])
            #expect(again.status == 200 && again.json["created"] == .bool(false) && again.json["job_id"]?.stringValue == id, "\(again)")
            let conflict = try await s.post("/jobs", Self.job(extra: [("idempotency_key", .string("k2"))]), headers: ["Idempotency-Key": "k3"])
            #expect(conflict.status == 422 && conflict.errorCode == "INVALID_ARGUMENT", "\(conflict)")
            let same = try await s.post("/jobs", Self.job(extra: [("idempotency_key", .string("k4"))]), headers: ["Idempotency-Key": "k4"])
            #expect(same.status == 201)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func runNowEnqueuesAScheduledJob(_ backend: TestBackend) async throws {
        try await withServer(backend) { _, s in
            let add = try await s.post("/schedules", .object([("name", .string("nightly")), ("cron", .string("0 3 * * *")),
                                                             ("job_type", .string("report")), ("queue", .string("cronq")),
                                                             ("payload_json", .object([("day", .bool(true))]))]))
            #expect(add.status == 201, "\(add)")
            let run = try await s.post("/schedules/nightly/run", .object([]))
            #expect(run.status == 201 && run.json["created"] == .bool(true), "\(run)")
            let id = try #require(run.json["job_id"]?.stringValue)
            let job = try await s.get("/jobs/\(id)")
            #expect(job.json["queue"]?.stringValue == "cronq" && job.json["job_type"]?.stringValue == "report", "\(job)")
            #expect(job.json["payload"] == .object([("day", .bool(true))]))
            let missing = try await s.post("/schedules/nope/run", .object([]))
            #expect(missing.status == 404 && missing.errorCode == "NOT_FOUND", "\(missing)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aScheduleTakesATimeZoneAndRefusesAnUnknownOne(_ backend: TestBackend) async throws {
        try await withServer(backend) { _, s in
            let add = try await s.post("/schedules", .object([("name", .string("paris")), ("cron", .string("0 9 * * *")),
                                                             ("job_type", .string("report")), ("timezone", .string("Europe/Paris"))]))
            #expect(add.status == 201 && add.json["timezone"]?.stringValue == "Europe/Paris", "\(add)")
            let bad = try await s.post("/schedules", .object([("name", .string("mars")), ("cron", .string("0 9 * * *")),
                                                             ("job_type", .string("report")), ("timezone", .string("Mars/Olympus"))]))
            #expect(bad.status == 422 && (bad.json["error"]?["message"]?.stringValue ?? "").contains("unknown time zone"), "\(bad)")
            let list = try await s.get("/schedules")
            #expect(list.json["items"]?.arrayValue?.count == 1, "\(list)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aFailedStatementAnswers500WithoutSQL(_ backend: TestBackend) async throws {
        try await withServer(backend) { db, s in
            let id = try await db.client.add("t").id
            // A table gone from under the server: the statement fails in the database.
            try await db.execute("DROP TABLE job_events")
            let r = try await s.get("/jobs/\(id)/timeline")
            #expect(r.status == 500 && r.errorCode == "BACKEND_ERROR", "\(r)")
            let message = r.json["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("job_events"), "it says what failed: \(message)")
            for sqlWord in ["SELECT", "FROM ", "WHERE", "$1", "?1"] {
                #expect(!message.contains(sqlWord), "no SQL in the body: \(message)")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func inputRulesAnswer400And422(_ backend: TestBackend) async throws {
        try await withServer(backend) { _, s in
            let malformed = try await s.request("POST", "/jobs", raw: #"{"job_type": "#)
            #expect(malformed.status == 400 && malformed.errorCode == "BAD_JSON", "\(malformed)")
            let empty = try await s.request("POST", "/jobs", raw: "")
            #expect(empty.status == 400 && empty.errorCode == "BAD_JSON", "\(empty)")
            let cases: [JSON] = [
                .object([("queue", .string("q"))]),
                Self.job(extra: [("run_at", .string("2030-01-01T00:00:00Z")), ("delay_seconds", .int(5))]),
                Self.job(extra: [("run_at", .string("2030-01-01T00:00:00"))]),
                Self.job(extra: [("max_attempts", .int(0))]),
                Self.job(extra: [("priority", .string("high"))]),
                Self.job(queue: "bad queue"),
                .array([]),
            ]
            for body in cases {
                let r = try await s.post("/jobs", body)
                #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT", "\(body.compact) → \(r)")
            }
            let ignored = try await s.post("/jobs", Self.job(extra: [("unknown_field", .bool(true))]))
            #expect(ignored.status == 201, "unknown fields are ignored")
            for q in ["limit=0", "limit=1001", "offset=-1", "status=sleeping", "queue=bad%20name", "limit=x"] {
                let r = try await s.get("/jobs?\(q)")
                #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT", "\(q) → \(r)")
            }
            let notFound = try await s.get("/jobs/0190a0b0-0000-7000-8000-000000000000")
            #expect(notFound.status == 404 && notFound.errorCode == "NOT_FOUND")
            for path in ["/jobs/nope", "/jobs/nope/timeline", "/runs/nope"] {
                let malformed = try await s.get(path)
                #expect(malformed.status == 422 && malformed.errorCode == "INVALID_ARGUMENT", "\(path) → \(malformed)")
            }
            let noRoute = try await s.get("/nowhere")
            #expect(noRoute.status == 404 && noRoute.errorCode == "NOT_FOUND")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func batchesAreTakenOrRefusedWhole(_ backend: TestBackend) async throws {
        try await withServer(backend) { db, s in
            let ok = try await s.post("/jobs/batch", .object([("jobs", .array([Self.job(), Self.job(), Self.job("noop", queue: "b")]))]))
            #expect(ok.status == 201, "\(ok)")
            #expect(ok.json["items"]?.arrayValue?.count == 3)
            let bad = try await s.post("/jobs/batch", .object([("jobs", .array([Self.job(), Self.job(extra: [("max_attempts", .int(0))])]))]))
            #expect(bad.status == 422, "\(bad)")
            let tooMany = try await s.post("/jobs/batch", .object([("jobs", .array(Array(repeating: Self.job(), count: 1001)))]))
            #expect(tooMany.status == 422, "\(tooMany)")
            let none = try await s.post("/jobs/batch", .object([("jobs", .array([]))]))
            #expect(none.status == 422)
            #expect(try await db.client.jobs().total == 3, "nothing of the refused batches was stored")
            let list = try await s.get("/jobs?queue=b")
            #expect(list.json["total"] == .int(1) && list.json["total_capped"] == .bool(false))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func jobActionsAnswerWithTheirStatuses(_ backend: TestBackend) async throws {
        try await withServer(backend) { db, s in
            let id = try #require(try await s.post("/jobs", Self.job("fail_me", extra: [("max_attempts", .int(1))])).json["job_id"]?.stringValue)
            let queuedRetry = try await s.post("/jobs/\(id)/retry")
            #expect(queuedRetry.status == 409 && queuedRetry.errorCode == "CONFLICT")
            let leased = try #require(try await db.client.leaseOne(types: ["fail_me"]))
            _ = try await db.client.fail(leased)
            #expect(try await s.get("/jobs/\(id)").json["status"] == .string("dlq"))
            let dlq = try await s.get("/dlq")
            #expect(dlq.json["items"]?.arrayValue?.first?["id"]?.stringValue == id)
            let explain = try await s.get("/jobs/\(id)/explain")
            #expect(explain.status == 200 && explain.json["reason_code"] == .string("IN_DLQ"))
            let tl = try await s.get("/jobs/\(id)/timeline")
            #expect(tl.json["events"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == ["enqueued", "leased", "failed", "dead_lettered"])
            let replay = try await s.post("/jobs/\(id)/replay")
            #expect(replay.status == 201 && replay.json["job"]?["replay_of"]?.stringValue == id, "\(replay)")
            let retry = try await s.post("/jobs/\(id)/retry")
            #expect(retry.status == 200 && retry.json["status"] == .string("queued"))
            let cancel = try await s.post("/jobs/\(id)/cancel")
            #expect(cancel.status == 200 && cancel.json["status"] == .string("cancelled"))
            let again = try await s.post("/jobs/\(id)/cancel")
            #expect(again.status == 409)
            let del = try await s.request("DELETE", "/jobs/\(id)")
            #expect(del.status == 200 && del.json["deleted"] == .bool(true))
            #expect(try await s.get("/jobs/\(id)").status == 404)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func bulkActionsFilterDryRunAndCap(_ backend: TestBackend) async throws {
        try await withServer(backend) { db, s in
            for _ in 0..<5 { _ = try await s.post("/jobs", Self.job("noop", queue: "bulk")) }
            _ = try await s.post("/jobs", Self.job("noop", queue: "other"))
            let dry = try await s.post("/jobs/bulk/cancel", .object([("filter", .object([("queue", .string("bulk"))])), ("dry_run", .bool(true))]))
            #expect(dry.status == 200 && dry.json["matched"] == .int(5) && dry.json["changed"] == .int(0), "\(dry)")
            let capped = try await s.post("/jobs/bulk/cancel", .object([("filter", .object([("queue", .string("bulk"))])), ("limit", .int(3))]))
            #expect(capped.json["matched"] == .int(3) && capped.json["changed"] == .int(3) && capped.json["ids"]?.arrayValue?.count == 3)
            let retry = try await s.post("/jobs/bulk/retry", .object([("filter", .object([("queue", .string("bulk")), ("status", .string("cancelled"))]))]))
            #expect(retry.json["changed"] == .int(3), "\(retry)")
            #expect(try await db.client.jobs(JobFilter(queue: "other", status: .queued)).total == 1)
            let unknown = try await s.post("/jobs/bulk/explode", .object([]))
            #expect(unknown.status == 404)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func guardrailsAnswer413And429AndAreRecorded(_ backend: TestBackend) async throws {
        try await withServer(backend, env: ["PORTABLEQ_MAX_PAYLOAD_BYTES": "1000", "PORTABLEQ_MAX_ENQUEUE_PER_MINUTE": "3"]) { _, s in
            let big = try await s.post("/jobs", Self.job(queue: "g", payload: .string(String(repeating: "x", count: 2000))))
            #expect(big.status == 413 && big.errorCode == "PAYLOAD_TOO_LARGE", "\(big)")
            let huge = try await s.request("POST", "/jobs?queue=g", raw: "\"" + String(repeating: "y", count: 100_000) + "\"")
            #expect(huge.status == 413 && huge.errorCode == "PAYLOAD_TOO_LARGE", "the upload limit answers the same JSON: \(huge)")
            for _ in 0..<3 { #expect(try await s.post("/jobs", Self.job(queue: "g")).status == 201) }
            let limited = try await s.post("/jobs", Self.job(queue: "g"))
            #expect(limited.status == 429 && limited.errorCode == "ENQUEUE_RATE_EXCEEDED", "\(limited)")
            #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 >= 1, "Retry-After: \(limited.headers)")
            let d = try await s.get("/ingest/decisions")
            let items = d.json["items"]?.arrayValue ?? []
            let counts = Dictionary(items.map { ($0["reason_code"]?.stringValue ?? "", $0["count"]?.intValue ?? 0) }, uniquingKeysWith: +)
            #expect(counts["PAYLOAD_TOO_LARGE"] == 2 && counts["ENQUEUE_RATE_EXCEEDED"] == 1, "\(d)")
            #expect(try await s.get("/policy/decisions").json["items"] == .array([]))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func postsArePerIPRateLimitedButGetsNever(_ backend: TestBackend) async throws {
        try await withServer(backend, env: ["PORTABLEQ_HTTP_RATE_LIMIT_PER_MINUTE": "3"]) { _, s in
            for _ in 0..<3 { #expect(try await s.post("/jobs", Self.job()).status == 201) }
            let limited = try await s.post("/jobs", Self.job())
            #expect(limited.status == 429 && limited.errorCode == "RATE_LIMITED" && limited.headers["retry-after"] != nil, "\(limited)")
            for _ in 0..<10 { #expect(try await s.get("/jobs").status == 200) }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aTokenGuardsEverythingButHealthAndTheShell(_ backend: TestBackend) async throws {
        try await withServer(backend, token: "s3cret-token") { _, s in
            let none = try await s.get("/jobs", auth: false)
            #expect(none.status == 401 && none.errorCode == "UNAUTHORIZED")
            let wrong = try await s.request("GET", "/jobs", headers: ["x-api-key": "s3cret-tokeX"], auth: false)
            #expect(wrong.status == 401)
            #expect(try await s.get("/jobs").status == 200, "x-api-key")
            let bearer = try await s.request("GET", "/metrics", headers: ["Authorization": "Bearer s3cret-token"], auth: false)
            #expect(bearer.status == 200)
            #expect(try await s.get("/health", auth: false).status == 200)
            let shell = try await s.get("/", auth: false)
            #expect(shell.status == 200 && shell.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(try await s.get("/assets/app.js", auth: false).status == 200)
            #expect(try await s.request("POST", "/jobs", json: Self.job(), auth: false).status == 401)
            #expect(try await s.get("/openapi.json", auth: false).status == 401)
        }
    }

    @Test func aNonLoopbackAddressNeedsAToken() async throws {
        let dir = NSTemporaryDirectory() + "pq-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try await CLI.run(["serve", "--database", "sqlite://\(dir)/x.db", "--addr", "0.0.0.0:0"])
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains("PORTABLEQ_API_TOKEN") && r.stderr.split(separator: "\n").count == 1)
    }

    @Test(arguments: TestBackend.enabled)
    func readEndpointsAnswerTheirShapes(_ backend: TestBackend) async throws {
        try await withServer(backend) { db, s in
            _ = try await s.post("/jobs", Self.job())
            let health = try await s.get("/health")
            #expect(health.status == 200 && health.json["database"] == .string("up") && health.json["status"] == .string("ok"))
            let queues = try await s.get("/queues")
            #expect(queues.json["items"]?.arrayValue?.first?["runnable"] == .int(1))
            try await db.driver.workerUpsert(WorkerInfo(id: "w", host: "h", pid: 1, queues: nil, jobTypes: ["echo"], concurrency: 2,
                                                        leaseSeconds: 30, startedAt: Date(), lastHeartbeatAt: Date()), now: nil)
            let workers = try await s.get("/workers")
            #expect(workers.json["items"]?.arrayValue?.first?["alive"] == .bool(true), "\(workers)")
            let metrics = try await s.get("/metrics")
            #expect(metrics.json["runnable_queue_depth"] == .int(1) && metrics.json["window_seconds"] == .int(60), "\(metrics)")
            let prom = try await s.get("/metrics/prom")
            #expect(prom.status == 200 && prom.body.contains("portableq_jobs{queue=\"default\",status=\"queued\"} 1"))
            #expect(prom.headers["content-type"]?.hasPrefix("text/plain") == true)
            let doc = try await s.get("/openapi.json")
            #expect(doc.json["openapi"] == .string("3.1.0"))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theServerRidesOutAPostgresRestart(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        let pg = try await PostgresServer.start()
        do {
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            let s = try await AdminServerProcess.start(database: pg.url)
            #expect(try await s.get("/health").status == 200)
            try await pg.stop()
            let down = try await s.get("/health")
            #expect(down.status == 503 && down.json["database"] == .string("down") && down.headers["retry-after"] != nil, "\(down)")
            let jobs = try await s.get("/jobs")
            #expect(jobs.status == 503 && jobs.errorCode == "UNAVAILABLE" && jobs.headers["retry-after"] != nil, "\(jobs)")
            try await pg.startAgain()
            let back = try await eventually(timeout: 30, interval: 0.2) { try await s.get("/jobs").status == 200 }
            #expect(back, "recovers by itself")
            #expect(try await s.get("/health").status == 200)
            try await s.stop()
        } catch {
            await pg.destroy()
            throw error
        }
        await pg.destroy()
    }
}
