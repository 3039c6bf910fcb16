import Foundation
import Testing
@testable import Backends

/// `/metrics/prom` of `serve`: cluster series for every known queue, zeros included, that agree
/// with the JSON `/metrics` of the same moment; the probes need no token.
@Suite(.processes) struct MetricsExpositionTests {
    @Test(arguments: TestBackend.enabled)
    func aQueueWhoseJobsAllSucceededKeepsItsSeries(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let job = try await db.client.add("t", queue: "done-q")
            let leased = try await db.client.leaseOne(queues: ["done-q"])
            #expect(leased?.id == job.id)
            if let leased { #expect(try await db.client.ack(leased) == .applied) }
            _ = try await db.client.pause("idle-q")
            let prom = try await s.get("/metrics/prom")
            #expect(prom.status == 200 && prom.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            let e = try Exposition(prom.body)
            for status in ["queued", "scheduled", "running", "dlq"] {
                #expect(e.value("portableq_jobs", ["queue": "done-q", "status": status]) == 0, "\(status)")
                #expect(e.value("portableq_jobs", ["queue": "idle-q", "status": status]) == 0, "a queue with only a policy: \(status)")
            }
            #expect(e.value("portableq_oldest_runnable_age_seconds", ["queue": "done-q"]) == 0)
            #expect((e.value("portableq_queue_jobs_per_second", ["queue": "done-q"]) ?? 0) > 0)
            #expect(e.value("portableq_queue_retry_ratio", ["queue": "done-q"]) == 0)
            #expect(e.value("portableq_workers", ["queue": "done-q"]) == 0, "serve --no-worker: nobody serves it")
            #expect(e.value("portableq_queue_run_seconds", ["queue": "done-q", "quantile": "0.99"]) != nil)
            #expect(e.value("portableq_queue_run_seconds", ["queue": "idle-q", "quantile": "0.5"])?.isNaN == true,
                    "no attempts: NaN, not a made-up zero")
        }
    }

    /// The known-queue registry: a queue whose only job succeeded, was archived and had its
    /// history pruned has no live job, no recent attempt and no policy, yet a freshly started
    /// `serve` (and `metrics --prom`) still shows its zero series.
    @Test(arguments: TestBackend.enabled)
    func anArchivedQueueKeepsItsZeroSeriesThroughARestart(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("t", queue: "drained-q")
            guard let leased = try await db.client.leaseOne(queues: ["drained-q"]) else {
                Issue.record("job \(job.id) was not leased"); return
            }
            #expect(try await db.client.ack(leased) == .applied)
            let later = Date().addingTimeInterval(60)
            #expect(try await db.driver.jobArchiveBefore(later, idBelow: "ffffffff-ffff-ffff-ffff-ffffffffffff", limit: 10, now: nil) == 1)
            #expect(try await db.driver.historyPruneBefore(later, limit: 10, now: nil) == 1, "its attempts are gone too")
            #expect(try await db.client.job(job.id).status == .archived)

            let first = try await AdminServerProcess.start(database: db.url)
            do {
                Self.expectZeroSeries(try Exposition(try await first.get("/metrics/prom").body), "first serve")
            } catch { try? await first.stop(); throw error }
            try await first.stop()
            let second = try await AdminServerProcess.start(database: db.url)
            do {
                Self.expectZeroSeries(try Exposition(try await second.get("/metrics/prom").body), "restarted serve")
            } catch { try? await second.stop(); throw error }
            try await second.stop()
            let cli = try await CLI.run(["metrics", "--prom", "--database", db.url])
            #expect(cli.status == 0, "\(cli)")
            Self.expectZeroSeries(try Exposition(cli.stdout), "metrics --prom")
        }
    }

    static func expectZeroSeries(_ e: Exposition, _ what: String) {
        for status in ["queued", "scheduled", "running", "dlq"] {
            #expect(e.value("portableq_jobs", ["queue": "drained-q", "status": status]) == 0, "\(what): \(status)")
        }
        #expect(e.value("portableq_oldest_runnable_age_seconds", ["queue": "drained-q"]) == 0, "\(what)")
        #expect(e.value("portableq_queue_jobs_per_second", ["queue": "drained-q"]) == 0, "\(what)")
        #expect(e.value("portableq_queue_retry_ratio", ["queue": "drained-q"]) == 0, "\(what)")
        #expect(e.value("portableq_workers", ["queue": "drained-q"]) == 0, "\(what)")
        #expect(e.value("portableq_queue_run_seconds", ["queue": "drained-q", "quantile": "0.5"])?.isNaN == true, "\(what)")
    }

    @Test(arguments: TestBackend.enabled)
    func clusterSeriesMatchTheJSONSnapshot(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            for i in 0..<3 { try await db.client.add("t", queue: "a", payload: #"{"i":\#(i)}"#) }
            try await db.client.add("t", queue: "b")
            if let j = try await db.client.leaseOne(queues: ["b"]) { _ = try await db.client.fail(j, retryable: true) }
            if let j = try await db.client.leaseOne(queues: ["a"]) { _ = try await db.client.ack(j) }
            try await db.driver.workerUpsert(WorkerInfo(id: "w-a", host: "h", pid: 1, queues: ["a"], jobTypes: ["t"], concurrency: 1,
                                                        leaseSeconds: 30, startedAt: Date(), lastHeartbeatAt: Date()), now: nil)
            let json = try await s.get("/metrics").json
            let e = try Exposition(try await s.get("/metrics/prom").body)
            let queues = json["queues"]?.arrayValue ?? []
            #expect(queues.count == 2)
            for q in queues {
                guard let name = q["queue"]?.stringValue else { Issue.record("no queue name in \(q)"); continue }
                let l = ["queue": name]
                #expect(e.value("portableq_jobs", ["queue": name, "status": "queued"]) == q["runnable_queue_depth"]?.doubleValue, "\(name)")
                #expect(e.value("portableq_jobs", ["queue": name, "status": "dlq"]) == q["dlq_size"]?.doubleValue, "\(name)")
                let jps = e.value("portableq_queue_jobs_per_second", l) ?? -1
                #expect(abs(jps - (q["jobs_per_sec"]?.doubleValue ?? -2)) < 0.01, "\(name)")
                let retry = e.value("portableq_queue_retry_ratio", l) ?? -1
                #expect(abs(retry - (q["retry_rate"]?.doubleValue ?? -2)) < 0.0001, "\(name)")
                let p50 = e.value("portableq_queue_run_seconds", ["queue": name, "quantile": "0.5"])
                let jsonP50 = q["run_time_ms"]?["p50"]?.doubleValue
                #expect(jsonP50 == nil ? p50?.isNaN == true : p50 == jsonP50.map { $0 / 1000 }, "\(name)")
            }
            #expect(e.value("portableq_queue_retry_ratio", ["queue": "b"]) == 1)
            #expect(e.value("portableq_workers", ["queue": "a"]) == 1 && e.value("portableq_workers", ["queue": "b"]) == 0)
            #expect(e.value("portableq_workers_by_type", ["job_type": "t"]) == 1)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func probesNeedNoTokenAndMetricsDo(_ backend: TestBackend) async throws {
        try await withAdminServer(backend, token: "s3cret-token") { _, s in
            let live = try await s.get("/health/live", auth: false)
            #expect(live.status == 200 && live.json["status"] == .string("ok"), "\(live)")
            let ready = try await s.get("/health/ready", auth: false)
            #expect(ready.status == 200 && ready.json["database"] == .string("up") && ready.json["schema"] == .string("current"), "\(ready)")
            #expect(try await s.get("/metrics/prom", auth: false).status == 401)
            #expect(try await s.get("/metrics/prom").status == 200)
        }
    }
}
